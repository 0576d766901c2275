/*
 * libuml: a small kernel as a userspace library.
 *
 * An application boots a machine once (uml_boot): that maps the machine's
 * memory, sets up the page allocator, slab caches and the root filesystem, and
 * returns. Every process forked afterwards that wants to run kernel services
 * attaches as a CPU of the same machine (uml_attach). They then share one
 * filesystem, one allocator and one set of locks.
 *
 * The filesystem can be exported over NFSv3 (uml_nfs_*): read-only it lets a
 * monitor watch the application; writable, files become knobs that the
 * application validates (uml_file_hooks) and watches (uml_gen_*).
 *
 * Unless said otherwise calls return 0 or a negative errno.
 */
#ifndef UML_H
#define UML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UML_MEMORY_DEFAULT (8UL << 20)
#define UML_MEMORY_MIN	   (1UL << 20)

#define UML_MEMORY_MAX (4ULL << 30)

/*
 * Parse a memory size for uml_boot_params.memory: bytes, or a number with a
 * K, M or G suffix (an optional B after it). Returns 0, or -EINVAL when @s is
 * not such a size or is outside UML_MEMORY_MIN .. UML_MEMORY_MAX.
 */
int uml_parse_memory(const char *s, size_t *bytes);
/*
 * The same for any size up to UML_MEMORY_MAX, 0 included (uml_fs_scratch_limit):
 * 0, or -EINVAL.
 */
int uml_parse_size(const char *s, size_t *bytes);

struct uml_boot_params {
	size_t memory; /* bytes of machine memory; 0: UML_MEMORY_DEFAULT */
	void *address; /* preferred address of the arena; NULL: the library's choice */
};

/*
 * Boot a machine in this process: map its memory, initialize mm and the root
 * filesystem. Returns 0, -EINVAL (memory below UML_MEMORY_MIN), -ENOMEM,
 * -EALREADY (this process already has a machine).
 */
int uml_boot(const struct uml_boot_params *p);

/*
 * Use the machine whose arena is at @base, booted by this process before it
 * reloaded the library (httpd reloads its modules on restart; the arena
 * stays). Returns 0 or -EINVAL when @base holds no machine.
 */
int uml_adopt(void *base);
/* Arena address of this process's machine, to pass to uml_adopt() later; NULL without one. */
void *uml_machine_base(void);

/*
 * Attach the calling process (forked after uml_boot) as a CPU. Returns the CPU
 * number (>= 0), or -EBUSY when all CPUs are taken.
 */
int uml_attach(void);
/* Give up this process's CPU (nothing to do when it has none). */
void uml_detach(void);
/*
 * Free the CPUs of processes that died without detaching, and give back the
 * memory their threads held in allocator caches. Returns how many CPUs.
 * Cheap; meant to be called periodically by the process that booted.
 */
int uml_reap(void);
/* The pid attached as CPU @cpu, 0 if none. */
uint32_t uml_cpu_pid(int cpu);
/*
 * Whether process @pid may still be running: false once it is known to have
 * exited (a zombie not yet waited for counts as exited), e.g. for a CPU's pid
 * whose process died without detaching.
 */
bool uml_task_alive(uint32_t pid);
#define UML_MAX_CPUS 256

/*
 * Named shared objects: a process that re-finds the machine (after fork or
 * uml_adopt) finds its shared state by name. uml_root_set returns 0 (a name
 * set again takes the new pointer), -ENODEV without a machine,
 * -ENAMETOOLONG, or -ENOSPC when every slot is taken; uml_root_get returns
 * NULL when @name is not set.
 */
int uml_root_set(const char *name, void *ptr);
void *uml_root_get(const char *name);

/* --- memory --- */

/*
 * Shared memory from the machine: NULL when exhausted (or without a
 * machine). Safe in any CPU. uml_free(NULL) does nothing.
 */
void *uml_alloc(size_t size);
void *uml_zalloc(size_t size);
void uml_free(void *p);

/*
 * Object caches: many objects of one size, faster than uml_alloc and with
 * no per-object overhead. Each thread keeps a few free objects of every cache
 * at hand, so most calls take no lock; a thread's cached objects go back to
 * the machine when it exits, or at uml_reap() when its process died.
 */
typedef struct uml_cache uml_cache_t;
/*
 * NULL when out of memory, or @size is 0 or above 16 KiB, or @align is not a
 * power of two <= 4096.
 */
uml_cache_t *uml_cache_create(const char *name, size_t size, size_t align);
/* An object, or NULL when the machine's memory is exhausted. */
void *uml_cache_alloc(uml_cache_t *c);
void uml_cache_free(uml_cache_t *c, void *obj);
/* 0, or -EBUSY while objects of @c are still allocated (in any thread). */
int uml_cache_destroy(uml_cache_t *c);

/* --- locks and semaphores (cross-process, robust to a holder killed by SIGKILL) --- */

/*
 * Sleeping locks and semaphores for any thread of any process of the
 * machine, kernel threads included (a kernel thread that waits lets the other
 * threads of its CPU run).
 */
typedef struct uml_lock uml_lock_t;
/* A new lock in machine memory, NULL when out of memory. */
uml_lock_t *uml_lock_new(void);
/*
 * Returns 0, or -EOWNERDEAD when the lock was taken over from a process that
 * died holding it (found within about 100 ms): the lock is held either way;
 * check what it guards.
 */
int uml_lock(uml_lock_t *l);
void uml_unlock(uml_lock_t *l);

typedef struct uml_sem uml_sem_t;
/* A counting semaphore holding @count units, NULL when out of memory. */
uml_sem_t *uml_sem_new(long count);
void uml_sem_down(uml_sem_t *s);
/* 0, or -ETIMEDOUT after @timeout_ms. */
int uml_sem_down_timeout(uml_sem_t *s, int timeout_ms);
void uml_sem_up(uml_sem_t *s);

/* --- kernel threads --- */

/*
 * Kernel threads run on a CPU: a host thread that called uml_cpu_init and
 * then runs them in uml_cpu_run. They switch without entering the host
 * kernel and stay on the CPU that created them.
 */
/* Make the calling host thread a CPU: 0, -EALREADY (it is one), -ENODEV (no machine), -ENOMEM. */
int uml_cpu_init(void);
/*
 * Run this CPU's kernel threads until uml_cpu_stop; with @drain, until none
 * is left too. 0, or -EPERM when the caller is not a CPU.
 */
int uml_cpu_run(bool drain);
/* Stop being a CPU, once no kernel thread of it is left: 0, -EBUSY or -EPERM. */
int uml_cpu_exit(void);
/*
 * Make a CPU return from uml_cpu_run: the calling thread's own when it is one
 * (from one of its kernel threads), else every CPU of this process.
 */
void uml_cpu_stop(void);
/*
 * On a CPU (after uml_cpu_init): start a kernel thread that waits until @fd
 * (an eventfd, a pipe, a signalfd) is readable, then calls @before(@arg),
 * when not NULL, to stop what runs there (uml_nfs_stop, interrupting
 * threads), and stops the CPU: uml_cpu_run returns once its threads end.
 * Returns 0, -EPERM off a CPU, or -ENOMEM.
 */
int uml_cpu_stop_on_fd(int fd, void (*before)(void *arg), void *arg);

typedef struct uml_thread uml_thread_t;
/*
 * Start @fn(@arg) as a kernel thread of the calling CPU. With @t NULL the
 * thread is detached; otherwise uml_thread_join must collect it. Returns 0,
 * -EPERM (not on a CPU), -ENOMEM.
 */
int uml_thread_create(uml_thread_t **t, const char *name, int (*fn)(void *), void *arg);
/*
 * Like uml_thread_create with a stack of @stack_kib KiB (16 to 256, rounded
 * up to a power of two; the lowest 4 KiB is a guard page). The default is 64.
 */
int uml_thread_create_stack(uml_thread_t **t, const char *name, unsigned stack_kib,
			    int (*fn)(void *), void *arg);
/*
 * Wait for @t; its return value in *@ret (may be NULL). 0, -EINVAL (@t was
 * created detached, or is already joined), -EPERM (not on a CPU).
 */
int uml_thread_join(uml_thread_t *t, int *ret);
/* The calling kernel thread, NULL on a plain host thread. */
uml_thread_t *uml_thread_self(void);
void uml_thread_yield(void);
/* 0, or -EINTR when the thread was interrupted. */
int uml_thread_sleep_ms(unsigned ms);
/*
 * Wait until @fd is readable (or writable with @write) or @timeout_ms
 * passes (< 0: no limit). Returns the ready epoll events, -ETIMEDOUT or
 * -EINTR.
 */
int uml_thread_wait_fd(int fd, bool write, int timeout_ms);
/*
 * Ask @t to finish: the wait it is in and every later uml_thread_sleep_ms,
 * uml_thread_wait_fd and uml_gen_wait of @t return -EINTR. Locks and
 * semaphores are not interrupted. Callable from any thread of any process
 * while @t has not exited.
 */
void uml_thread_interrupt(uml_thread_t *t);

/*
 * Generation counters: a word in machine memory that writers bump and
 * watchers sleep on. No polling: a bump wakes every sleeper in every CPU,
 * for a system call or two whatever their number. A plain host thread
 * sleeps on a futex; a kernel thread sleeps on its CPU, so the other
 * threads of its CPU keep running. Zeroed memory is a valid counter.
 */
typedef struct {
	uint64_t opaque[5]; /* the kernel's counter; read it with uml_gen_read */
} uml_gen_t;
/* The counter's value now. */
uint32_t uml_gen_read(uml_gen_t *g);
/* Increment and wake every watcher; returns the new value. */
uint32_t uml_gen_bump(uml_gen_t *g);
/*
 * Increment and wake at most @n of the plain host threads asleep on @g (one
 * per slot a queue gained, say); kernel threads asleep on it all wake.
 */
uint32_t uml_gen_bump_n(uml_gen_t *g, int n);
/*
 * Hold the wake-ups of this thread's bumps until the matching
 * uml_gen_defer_end (they nest): the counters move at once, their sleepers
 * wake at the end. For a thread that holds a lock or has a reply to send
 * first. A thread that dies deferring leaves its sleepers asleep until the
 * next bump, or until uml_reap finds it dead.
 */
void uml_gen_defer_begin(void);
void uml_gen_defer_end(void);
/*
 * Sleep until @g differs from @seen or @timeout_ms passes (< 0: forever).
 * Returns 0 when it differs, -ETIMEDOUT, or -EINTR.
 */
int uml_gen_wait(uml_gen_t *g, uint32_t seen, int timeout_ms);

/* --- filesystem --- */

/*
 * Make directory @path and any missing parent (@mode 0: 0755). 0 when it
 * exists already; -ENOTDIR (a file is in the way), -EINVAL (not an absolute
 * path), -ENAMETOOLONG, -ENOSPC/-ENOMEM (the machine is full), -ENODEV
 * (no machine).
 */
int uml_mkdir_p(const char *path, unsigned mode);
/*
 * Create or replace a file's content (no hooks run); missing parent
 * directories are made. 0, or the errors of uml_mkdir_p, and -EISDIR when
 * @path is a directory.
 */
int uml_put_file(const char *path, unsigned mode, const void *data, size_t len);
/*
 * Make @data/@len the whole content of existing file @path in one change,
 * as an NFS client's write would: a file with hooks (uml_file_hooks) has
 * it validated and committed, and its validate sees @who (may be NULL) as
 * the writer. Returns 0, or the refusal's negative errno with the reason in
 * @why (may be NULL); -ENOENT without such a file.
 */
struct uml_client;
int uml_replace_file(const char *path, const void *data, size_t len, const struct uml_client *who,
		     char *why, size_t whylen);
/* Read up to @size bytes; returns the length read or a negative errno. */
long uml_get_file(const char *path, void *buf, size_t size);

struct uml_client {
	const char *addr; /* "127.0.0.1:871" or NULL for local callers */
	uint32_t uid, gid;
};

struct uml_file_hooks {
	/*
	 * The file's content would become @data/@len (a write, truncate or a
	 * rename onto it). Return 0 to accept, or -EINVAL/-ERANGE/... to refuse
	 * (the client gets the matching NFS error and the content stays). Write
	 * a reason into @why (@whylen bytes). Called with the filesystem locked:
	 * don't call uml_* filesystem functions from here.
	 */
	int (*validate)(void *arg, const char *data, size_t len, const struct uml_client *who,
			char *why, size_t whylen);
	/* The content is now @data/@len. Same locking as validate. */
	void (*commit)(void *arg, const char *data, size_t len);
	/* Generated files: write the current content into @buf; return its length. */
	size_t (*render)(void *arg, char *buf, size_t size);
	/*
	 * The filesystem refused a change of the file on its own, whatever
	 * validate would say: content longer than 4096 bytes (a write at a far
	 * offset; -EINVAL), no memory left to store a value validate accepted
	 * (-ENOSPC), a change of its mode or owner (-EPERM). @err is what the
	 * client gets, @reason says why; @data/@len is what the client sent
	 * (the bytes written, at most 4096; the value that found no room; empty
	 * for a truncate or a change of attributes). For reports: the refusal
	 * stands. NULL: a UML_FILE_READONLY file's validate hears of the
	 * attempt instead. Same locking as validate.
	 */
	void (*refused)(void *arg, const char *data, size_t len, int err, const char *reason,
			const struct uml_client *who);
	void *arg;
};

#define UML_FILE_PINNED	  0x1 /* clients can't remove or rename it away */
#define UML_FILE_READONLY 0x2 /* clients can't write or truncate it */
#define UML_DIR_NOCREATE  0x4 /* clients can't add entries to this directory */

/*
 * Attach hooks to @path for this process (each process that serves the
 * filesystem must attach its own; they are inherited by fork). NULL detaches.
 * Any number of files may be hooked. Returns 0, -ENODEV before boot or
 * attach, -ENOENT, -EINVAL (not a regular file) or -ENOMEM.
 */
int uml_file_hooks(const char *path, const struct uml_file_hooks *h);
/*
 * Detach every hook this process attached, leaving the files marked hooked:
 * other processes keep theirs, and this one refuses client writes to them
 * until it attaches hooks again. For a module about to be unloaded (httpd's
 * graceful restart), so that its hooks' copies do not outlive it.
 */
void uml_file_hooks_release_all(void);
/*
 * Set @path's UML_FILE_* / UML_DIR_NOCREATE flags (they replace the ones it
 * had). 0, -ENOENT, -ENODEV (no machine).
 */
int uml_file_flags(const char *path, unsigned flags);

/*
 * Cap the memory that clients' files may hold: the data, symlinks, directory
 * entries and inodes of what NFS clients create, and the entries they make by
 * link or rename. Past it their writes and creates fail with NFS3ERR_NOSPC,
 * as they do whatever the cap, past their first sixteenth of the machine,
 * while less than 5/16 of it is free (the quarter new NFS connections need,
 * and room for some), while the files
 * the application builds (uml_put_file, uml_mkdir_p) and hooked files have
 * the rest: knobs and status keep working when clients have filled theirs.
 * FSSTAT shows clients the room left. Their files may also take at most
 * half of the machine's inodes. @bytes 0: the default, half of the
 * machine's memory. A cap below what clients hold already refuses growth
 * until they remove enough. Returns 0, -EINVAL when @bytes is more than the
 * machine's memory, -ENODEV without a machine.
 */
int uml_fs_scratch_limit(size_t bytes);

/* --- the state image: a tree that outlives the process --- */

#define UML_STATE_CREATE       0x1 /* make the image when the file does not exist */
#define UML_STATE_READONLY     0x2 /* load and check only, write nothing (a checker) */
#define UML_STATE_SIZE_MIN     (1UL << 20)
#define UML_STATE_SIZE_DEFAULT (16UL << 20)

/*
 * Keep the filesystem in the image file @path: what the image holds is
 * loaded now -- files, directories, contents, owners, times, and the
 * numbers their NFS handles carry, so a client's handles stay valid across
 * restarts -- and every change made from now on to the root and to what is
 * created after this call is written to it; files the application built
 * before the call (generated status) stay in memory only. A change an NFS
 * reply calls stable is on the host file's disk before the reply; the
 * image loads after a crash at any instant. With UML_STATE_CREATE a missing
 * file is made, @size bytes (0: UML_STATE_SIZE_DEFAULT, at least
 * UML_STATE_SIZE_MIN), allocated at once; it holds about half its size in
 * live data. An image is never rewritten when it can't be loaded.
 * Call it once, after uml_boot and before serving. Returns 0, or a
 * negative errno with a sentence in @msg: -ENOENT, -EACCES, -ENOSPC (the
 * file or its directory), -EBUSY (another process has the image open),
 * -EINVAL (not a state image), -EPROTONOSUPPORT (another version),
 * -EUCLEAN (corrupt), -EFBIG (truncated), -EALREADY (one is open), -ENOSPC
 * (the machine's memory can't hold it), -ENODEV (no machine). After a
 * failure past the superblock the tree may hold part of what the image
 * held: a program should stop rather than serve it.
 */
int uml_state_open(const char *path, size_t size, unsigned flags, char *msg, size_t msglen);
/*
 * Before booting: would uml_state_open(@path, @size, UML_STATE_CREATE) get
 * past the file and its superblock (the log is checked by the open
 * itself)? A missing file needs a writable directory with room for it. For
 * a program that wants to refuse a bad image before it forks or detaches.
 * 0, or the open's error and sentence.
 */
int uml_state_probe(const char *path, size_t size, char *msg, size_t msglen);
/* Whether an image is open (a graceful restart finds it open); its path in @path. */
bool uml_state_active(char *path, size_t size);

struct uml_state_stat {
	char path[256];
	uint64_t size;	       /* bytes of the image file */
	uint64_t log_size;     /* of it, the circular log */
	uint64_t used;	       /* log bytes from the newest checkpoint on */
	uint64_t live;	       /* what a checkpoint of the tree takes, at most */
	uint64_t free;	       /* room for growth before writes fail with ENOSPC */
	uint64_t position;     /* the log's tail (a stream position) */
	uint64_t checkpoint;   /* where the newest checkpoint starts */
	uint64_t checkpoints;  /* written since the image was opened */
	int64_t checkpoint_at; /* wall seconds of the newest, 0 if none since open */
	uint64_t records;      /* changes (and checkpoint records) written since open */
	uint64_t flushes;      /* syncs of the file */
	uint64_t syncs;	       /* stable changes; syncs / flushes: changes per flush */
	uint64_t inodes;       /* files and directories in the image */
	uint64_t replayed;     /* records replayed at open */
	uint64_t torn;	       /* bytes of an unfinished write discarded at open */
	int err;	       /* the device's error; the image takes no changes since */
};
/* 0, or -ENODEV without an image. */
int uml_state_stat(struct uml_state_stat *st);
/* Write a checkpoint now (the log then starts over): 0 or a negative errno. */
int uml_state_checkpoint(void);
/*
 * Small named values kept in the image beside the tree, at most 256 bytes
 * each (an application's own bookkeeping: mod_umlconf keeps the httpd.conf
 * value each knob had). get returns the value's length (copied
 * NUL-terminated into @buf) or -ENOENT; set stores it durably, and an
 * empty @value removes it. -ENODEV without an image.
 */
int uml_state_note_get(const char *key, char *buf, size_t size);
int uml_state_note_set(const char *key, const char *value);
/* Make every change durable, unstable NFS writes too (a clean stop). */
int uml_state_sync(void);

/* --- the machine's own network --- */

/*
 * An interface of the machine on the host's TAP device @tap (made by the
 * host's admin, e.g. `ip tuntap add mode tap multi_queue`), with address
 * @cidr ("10.0.0.2/24") and an optional on-link @gateway (NULL: none). The
 * machine then answers ARP and ping there, and serves what listens on it
 * (uml_nfs_listen_net). Once per machine and name: -EEXIST after. 0, or
 * -EINVAL (a bad address, prefix or gateway), -ENOSPC (too many), -ENODEV;
 * on failure a message in @err.
 */
int uml_net_if_add(const char *tap, const char *cidr, const char *gateway, char *err,
		   size_t errlen);
/* The interfaces a machine may have. */
#define UML_NET_IFS_MAX 4
/*
 * Make the machine's stack with at most @buffers bytes of packet buffers
 * (0: 4 MiB), before the first uml_net_if_add, which makes it with the
 * default otherwise; once made, later calls change nothing. 0, -ENODEV
 * (no machine), -ENOMEM.
 */
int uml_net_init(size_t buffers);
/*
 * What uml_net_if_add would say of its arguments, without a machine (for
 * a configuration's parser): 0, or -EINVAL with the bad word in @err.
 */
int uml_net_if_check(const char *tap, const char *cidr, const char *gateway, char *err,
		     size_t errlen);
/*
 * The same with IPv6 besides: a global address @cidr6 ("fd00::2/64"; NULL:
 * the link-local address alone, which every interface has, made from its
 * MAC) and an optional @gateway6, link-local or within @cidr6's prefix.
 * The interface's IPv4 address stays required.
 */
int uml_net_if_add6(const char *tap, const char *cidr, const char *gateway, const char *cidr6,
		    const char *gateway6, char *err, size_t errlen);
int uml_net_if_check6(const char *tap, const char *cidr, const char *gateway, const char *cidr6,
		      const char *gateway6, char *err, size_t errlen);
typedef struct uml_net_queue uml_net_queue_t;
/*
 * On a CPU: open this process's queue of @tap and start its receive thread
 * here. Each process that is to take frames opens its own (a CPU each, and
 * the host spreads flows across them). 0, -ENOENT (no such interface),
 * -EPERM (not a CPU), or the TAP's errno (-EBUSY: no more queues).
 */
int uml_net_if_start(const char *tap, uml_net_queue_t **q);
/* From a thread of the same CPU: stop the receive thread and close the queue. */
void uml_net_if_stop(uml_net_queue_t *q);
/*
 * The index of interface @tap (1 up, in the order they were added): the
 * zone of its IPv6 link-local addresses, for sockaddr_in6's sin6_scope_id
 * (see the sockets below). -ENOENT: no such interface.
 */
int uml_net_if_index(const char *tap);
/* The stack's counters and interfaces as "name value" lines; the length the text needs. */
size_t uml_net_status(char *buf, size_t size);
/*
 * The TCP sockets as Linux's /proc/net/tcp shows them (a header line, then
 * listeners and connections; Linux's state numbers), and the counters as
 * its /proc/net/snmp (Ip:, Icmp:, Tcp:, Udp:, each a line of names and a
 * line of values). Cut to @size, terminated when @size > 0; the length the
 * whole text needs, as snprintf. Without a network: the table's header
 * alone, and an empty snmp.
 */
size_t uml_net_tcp_table(char *buf, size_t size);
/* The IPv6 sockets (and those on ::, of both families) as Linux's /proc/net/tcp6. */
size_t uml_net_tcp6_table(char *buf, size_t size);
size_t uml_net_snmp(char *buf, size_t size);
/* The IPv6 counters kept, as Linux's /proc/net/snmp6 ("Ip6ReasmOKs  3" a line); empty without one.
 */
size_t uml_net_snmp6(char *buf, size_t size);
/*
 * TCP's event counters kept, as Linux's /proc/net/netstat's TcpExt pair (a
 * line of names, a line of values: SyncookiesSent, TCPTimeouts, ...); empty
 * without one.
 */
size_t uml_net_netstat(char *buf, size_t size);

/* --- sockets on the machine's own network --- */

/*
 * BSD sockets on the machine's stack (uml_net_if_add, uml_net_if_start),
 * for kernel threads and plain host threads alike. A descriptor is a small
 * int of this process (not a host fd: pass it to these calls only); the
 * socket lives in the machine and is closed by uml_reap if the process
 * dies. An AF_INET socket takes and gives struct sockaddr_in, an AF_INET6
 * socket struct sockaddr_in6 -- both families, as Linux's by default: its
 * IPv4 peers are v4-mapped, ::ffff:a.b.c.d, and :: binds every address of
 * either; an address of the other family says -EAFNOSUPPORT (an IPv6 one
 * needs uml_net_if_add6). A link-local peer (fe80::/10) is in a zone:
 * sin6_scope_id names its interface (uml_net_if_index); 0 is allowed while
 * the machine has one IPv6 interface, else -EINVAL (which link?), and an
 * index with no IPv6 interface is -ENODEV. The calls give it back for
 * every link-local address (accept, recvfrom, getpeername, getsockname),
 * and a connection stays on the interface it was made on. Errors are
 * negative errnos, never errno: -EBADF
 * (not a descriptor), -EFAULT (a NULL or short address), -EAFNOSUPPORT,
 * -EOPNOTSUPP (a call the type has not: listen on UDP), and each call's own.
 * Blocking calls wait without spinning, and a kernel thread that waits
 * lets the others of its CPU run.
 */
struct sockaddr;
#define UML_SOCK_NONBLOCK 0x1 /* uml_socket, uml_accept: calls never wait (-EAGAIN) */
#define UML_MSG_DONTWAIT  0x1 /* uml_send/recv: this call does not wait */
/*
 * A socket: @domain AF_INET or AF_INET6, @type SOCK_STREAM (TCP) or
 * SOCK_DGRAM (UDP).
 * Its descriptor (>= 0), -EINVAL, -EMFILE (65536 open), -ENOMEM, -ENODEV
 * (no network: uml_net_if_add first).
 */
int uml_socket(int domain, int type, unsigned flags);
/* Port 0: an ephemeral one; 0.0.0.0 or ::, every address. -EADDRINUSE, -EADDRNOTAVAIL. */
int uml_bind(int fd, const struct sockaddr *addr, unsigned addrlen);
/* TCP: at most @backlog (1..1024) connections waiting; binds an ephemeral port if unbound. */
int uml_listen(int fd, int backlog);
/*
 * TCP: the next connection's descriptor (@flags: UML_SOCK_NONBLOCK for
 * it), its peer in @addr (may be NULL; *@addrlen in and out). -EAGAIN
 * (none, non-blocking or UML_SO_RCVTIMEO passed), -EINVAL (not listening).
 */
int uml_accept(int fd, struct sockaddr *addr, unsigned *addrlen, unsigned flags);
/*
 * TCP: the handshake, waiting at most @timeout_ms (< 0: no limit); 0,
 * -ECONNREFUSED, -ETIMEDOUT (given up), -ENETUNREACH, -EISCONN, -EINTR. A
 * non-blocking socket says -EINPROGRESS; uml_poll's UML_POLLOUT tells when
 * it is over, and uml_getsockopt(UML_SO_ERROR) how (0 or the -errno).
 * UDP: the default destination of uml_send and the only sender heard;
 * an address of family AF_UNSPEC dissolves that. TCP: AF_UNSPEC aborts as
 * Linux's tcp_disconnect (a RST to a synchronized peer, the queues
 * dropped, UML_SO_ERROR -ECONNRESET; a listener stops listening) and
 * leaves the socket closed, to connect or bind and listen again; 0.
 */
int uml_connect(int fd, const struct sockaddr *addr, unsigned addrlen, int timeout_ms);
/*
 * Bytes sent (TCP: queued; a blocking send waits until all are), or
 * -EAGAIN, -EPIPE (shut down, or reset: -ECONNRESET once first), -ENOTCONN,
 * -ENOBUFS (the stack's buffers are spent), -EMSGSIZE (UDP, over 65507),
 * -EDESTADDRREQ (UDP without a destination), -EINTR.
 */
ssize_t uml_send(int fd, const void *buf, size_t len, unsigned flags);
ssize_t uml_sendto(int fd, const void *buf, size_t len, unsigned flags, const struct sockaddr *to,
		   unsigned tolen);
/*
 * Bytes received (UDP: one datagram, cut to @len), 0 at the peer's FIN or
 * after uml_shutdown(SHUT_RD), -EAGAIN, -ECONNRESET, -ENOTCONN, -EINTR.
 * @from (may be NULL) gets the sender.
 */
ssize_t uml_recv(int fd, void *buf, size_t len, unsigned flags);
ssize_t uml_recvfrom(int fd, void *buf, size_t len, unsigned flags, struct sockaddr *from,
		     unsigned *fromlen);
/* TCP: @how SHUT_RD, SHUT_WR (a FIN after what is queued) or SHUT_RDWR. -ENOTCONN. */
int uml_shutdown(int fd, int how);
/* The descriptor is free at once; the connection ends gracefully once no call holds it. */
int uml_close(int fd);
/* The local address, and the peer's (-ENOTCONN without one). */
int uml_getsockname(int fd, struct sockaddr *addr, unsigned *addrlen);
int uml_getpeername(int fd, struct sockaddr *addr, unsigned *addrlen);
enum uml_sockopt {
	UML_SO_NODELAY,	  /* TCP: 1 turns Nagle off */
	UML_SO_KEEPALIVE, /* TCP: probes after this many idle seconds, 0: off */
	UML_SO_SNDBUF,	  /* TCP: bytes, 4096..16 MiB, before connect or listen */
	UML_SO_RCVBUF,
	UML_SO_RCVTIMEO, /* ms a blocking receive or accept waits at most (< 0: no limit) */
	UML_SO_SNDTIMEO, /* ms a blocking send waits at most */
	UML_SO_ERROR,	 /* get only: what ended the connection (a -errno, once), else 0 */
	UML_SO_NONBLOCK, /* the descriptor's UML_SOCK_NONBLOCK */
};
/* -ENOPROTOOPT (an option the type has not), -EINVAL (a bad value). */
int uml_setsockopt(int fd, enum uml_sockopt opt, int value);
int uml_getsockopt(int fd, enum uml_sockopt opt, int *value);

/* poll(2)'s bits, with its values. */
#define UML_POLLIN   0x01 /* data, the peer's FIN, a connection to accept, or an end */
#define UML_POLLOUT  0x04 /* room to send; a non-blocking connect is over */
#define UML_POLLERR  0x08 /* an error the next call (or UML_SO_ERROR) reports */
#define UML_POLLHUP  0x10 /* the connection is over */
#define UML_POLLNVAL 0x20 /* not a descriptor */
struct uml_pollfd {
	int fd; /* < 0: skipped */
	short events, revents;
};
/*
 * Wait until one of @fds is ready for its events (UML_POLLERR and
 * UML_POLLHUP always count), or @timeout_ms passes (0: not at all, < 0: no
 * limit), as poll(2), level-triggered. The number of entries with
 * revents, 0 at the timeout, -EINTR (a kernel thread interrupted),
 * -EINVAL (more than 65536), -ENOMEM. A wait costs one hook per socket
 * for the call, and a socket's event wakes only its own pollers.
 */
int uml_poll(struct uml_pollfd *fds, unsigned nfds, int timeout_ms);

/*
 * Poll sets, as epoll(7): a set remembers the sockets it watches, and a
 * socket's event puts it on the set's ready list, so a wait costs what is
 * ready, not what is watched (uml_poll's is O(N) per call). A set is a
 * descriptor of the sockets' table, freed by uml_close; closing a socket
 * takes it out of every set; a dead process's sets are freed by uml_reap.
 * Level-triggered, or with UML_POLLET edge-triggered: reported once per
 * event that finds the socket not ready before.
 */
#define UML_POLLET	    0x8000u /* in uml_pollset_ctl's events */
#define UML_POLLSET_ADD	    1
#define UML_POLLSET_MOD	    2
#define UML_POLLSET_DEL	    3
#define UML_POLLSET_WATCHES 262144 /* sockets watched by a process's sets at most */
struct uml_pollevent {
	uint32_t events; /* the UML_POLL* bits that are ready */
	uint64_t data;	 /* what uml_pollset_ctl gave */
};
/* A new set's descriptor; -EMFILE, -ENOMEM, -ENODEV (no stack). */
int uml_pollset_create(void);
/*
 * Watch socket @fd for @events (UML_POLLIN, UML_POLLOUT, UML_POLLET;
 * UML_POLLERR and UML_POLLHUP always count), reporting @data with them
 * (UML_POLLSET_ADD), change that (MOD), or stop (DEL). 0, -EBADF, -EINVAL
 * (@set is no set, @fd is @set, unknown bits or op), -ENOTSOCK (@fd is a
 * set), -EEXIST (ADD twice), -ENOENT (MOD or DEL of what is not watched),
 * -ENOSPC (UML_POLLSET_WATCHES reached), -ENOMEM.
 */
int uml_pollset_ctl(int set, int op, int fd, uint32_t events, uint64_t data);
/*
 * Up to @max ready sockets into @ev, waiting at most @timeout_ms (0: not
 * at all, < 0: no limit); those left over for @max come first next time.
 * The number reported, 0 at the timeout, -EBADF, -EINVAL (no set, @max
 * 0), -EFAULT, -EINTR (a kernel thread interrupted).
 */
int uml_pollset_wait(int set, struct uml_pollevent *ev, unsigned max, int timeout_ms);

/* --- NFS --- */

struct uml_nfs_listener {
	int tcp_fd, udp_fd; /* -1 for a transport not listened on */
	/* On the machine's own network (uml_nfs_listen_net); NULL: none. */
	void *net_tcp, *net_udp;
	/* Its rpcbind there (UML_NFS_RPCBIND); NULL: none. */
	void *net_rpcb_tcp, *net_rpcb_udp;
};
#define UML_NFS_TCP	0x1
#define UML_NFS_UDP	0x2
#define UML_NFS_RPCBIND 0x4 /* uml_nfs_listen_net only: see there */
/*
 * Bind the NFS/MOUNT port for @protos (UML_NFS_TCP, UML_NFS_UDP or both).
 * @host is numeric. UDP is for old clients only: a datagram's source
 * address is whatever its sender wrote, so over UDP the export lists trust a
 * claim that nobody checked (TCP's handshake checks it). Returns 0, -EINVAL
 * or the bind's errno.
 */
int uml_nfs_listen(const char *host, int port, unsigned protos, struct uml_nfs_listener *l);
/*
 * The same on the machine's own network (uml_net_if_add): @addr is one of
 * its addresses, IPv4 or IPv6 (uml_net_if_add6), or "0.0.0.0" for all its
 * IPv4 ones, or "::" for all of both families; the fds are set to -1. A
 * server started with this listener serves clients of the machine's own
 * interfaces, whatever the host's network; the export lists see an IPv6
 * client as AF_INET6 and an IPv4 one as AF_INET. With UML_NFS_RPCBIND
 * in @protos the machine also answers rpcbind (RFC 1833 versions 2 to 4)
 * on port 111 of @addr, TCP and UDP, for this listener's programs: the
 * machine is a host of its own there, so that clients which know only its
 * address (mount with no options, rpcinfo) find MOUNT and NFS. It answers
 * the clients the export lists admit, and takes no registrations. 0,
 * -EINVAL, -EADDRINUSE, -EADDRNOTAVAIL (not an address of the machine),
 * -ENOMEM, -ENODEV (no machine).
 */
int uml_nfs_listen_net(const char *addr, int port, unsigned protos, struct uml_nfs_listener *l);
/*
 * Close what uml_nfs_listen or uml_nfs_listen_net opened, once no server
 * uses it. Sockets on the machine's network live in the machine, not in
 * the process: a server that stops listening closes them here.
 */
void uml_nfs_unlisten(struct uml_nfs_listener *l);
/* Replace the export table with nothing; then add exports one by one. Cannot fail. */
void uml_nfs_exports_clear(void);
#define UML_NFS_RW     0x1 /* read-write; else read-only */
#define UML_NFS_SECURE 0x2 /* only from privileged source ports (< 1024), as nfsd's "secure" */
/*
 * Export directory @path with UML_NFS_* @flags to @clients (addresses, CIDR
 * prefixes, or "*"). A host listed by no export is refused before it costs
 * anything. 0, or -EINVAL (a bad path, client or flag), -ENOENT (@path is
 * not in the tree), -ENOSPC (the table is full), -ENODEV (no machine); on
 * failure a message is written to @err.
 */
int uml_nfs_export(const char *path, unsigned flags, const char *const *clients, size_t n,
		   char *err, size_t errlen);
/*
 * Whether uml_nfs_export would take @spec as a client: "*", an IPv4 or IPv6
 * address, or one with a "/prefix" (at most 32 or 128), in at most 47
 * bytes, nothing around it. For configuration-time errors; needs no
 * machine. Returns 0 or -EINVAL.
 */
int uml_nfs_client_valid(const char *spec);
/*
 * File handles carry a MAC keyed by a secret of the installation, so that
 * they cannot be forged or guessed. Without a key file the secret is made
 * at boot, and handles do not outlive a full restart. With one, the secret
 * is read from @path, or made and written there (mode 0600) when the file
 * does not exist, so handles stay valid across restarts while handles of
 * another installation are not. Call it in the booting process, before
 * serving. Returns 0, or a negative errno with a message in @err.
 */
int uml_nfs_key_file(const char *path, char *err, size_t errlen);
/*
 * Serve NFS on the calling host thread until @stop_fd is readable: the
 * thread becomes a CPU whose kernel threads accept connections and serve
 * each on a thread of its own, and stops being one on return. Call it from
 * an attached process; the CPUs of several processes can serve the same
 * listener. 0 once stopped, or -ENODEV (no machine), -EPERM (called from a
 * kernel thread), -EBUSY, -ENOMEM.
 */
int uml_nfs_serve(const struct uml_nfs_listener *l, int stop_fd);
/*
 * The same as kernel threads of the calling CPU, next to the application's
 * own, until uml_nfs_stop (called on that CPU, e.g. from one of its kernel
 * threads). The threads finish on their own after the stop. 0 and *@srv, or
 * -ENODEV, -EPERM (not on a CPU), -ENOMEM.
 */
typedef struct uml_nfs_server uml_nfs_server_t;
int uml_nfs_start(const struct uml_nfs_listener *l, uml_nfs_server_t **srv);
void uml_nfs_stop(uml_nfs_server_t *srv);

/*
 * Register the NFS service's programs (NFS 3, MOUNT 1 and 3, NLM 4 and
 * NSM 1) with the host's rpcbind, at the address and port of @l's
 * sockets, so that clients that know only the host name find them. rpcbind
 * keeps one address per program, version and transport: an entry that is
 * ours already is kept, one whose server no longer answers is taken over,
 * and one a live server holds (knfsd, nfs-ganesha) is left to it unless
 * @flags has UML_NFS_REGISTER_FORCE. NSM ("status") is the exception:
 * the host's rpc.statd keeps its entry, quietly, whatever @flags say. Call it as root (rpcbind
 * takes registrations from its local socket), after uml_nfs_listen, and again whenever rpcbind may
 * have restarted: it changes only what is not right. Returns 0 when every entry is ours, -EBUSY
 * when live servers hold some (the rest are ours), -EACCES when rpcbind refused some, -ENOENT when
 * no rpcbind runs, -ETIMEDOUT or -EPROTO when it did not answer sensibly, -EINVAL for bad
 * arguments; @msg (may be NULL) gets one line saying what became of each entry, for a log.
 */
#define UML_NFS_REGISTER_FORCE 0x1
int uml_nfs_register(const struct uml_nfs_listener *l, unsigned flags, char *msg, size_t msglen);
/*
 * Withdraw the entries uml_nfs_register made that are still at our
 * address; entries another server holds by now are left alone. Returns 0,
 * -ENOENT (no rpcbind), -EACCES (rpcbind refused) or -ETIMEDOUT/-EPROTO;
 * @msg as above.
 */
int uml_nfs_unregister(const struct uml_nfs_listener *l, char *msg, size_t msglen);

struct uml_nfs_stats {
	uint64_t calls, errors, garbage, connections;
	/*
	 * Connections closed at once: their client already holds its share of
	 * a child's connections, or no room is left that a bigger holder could give.
	 */
	uint64_t refused;
	uint64_t unlisted; /* connections and datagrams of hosts no export lists, closed unread */
};
/* The service's counters since boot, summed over every process. */
void uml_nfs_stats(struct uml_nfs_stats *st);

/*
 * NFS clients' locks (NLM v4 and NSM v1 on the NFS port, so clients mount
 * without "nolock"). Locks are kept in memory only, and NLM clients do not
 * renew them, so they have a lease: a lock whose client address has made no
 * lock call for @seconds is broken when another owner asks for what it
 * holds -- lazily, on that conflict only, never while its client is
 * active. 0 means never. The default is 600. Returns 0, or -EINVAL before
 * uml_boot, -ENOMEM or -EIO when the service state cannot be set up.
 */
int uml_nfs_lock_lease(unsigned seconds);

struct uml_nfs_lock_stats {
	uint64_t held; /* byte-range locks held now (a merged or split range counts as one each) */
	uint64_t shares;  /* share reservations (DOS share modes) held now */
	uint64_t hosts;	  /* client addresses holding either */
	uint64_t granted; /* LOCK, NM_LOCK and SHARE answered GRANTED */
	uint64_t denied;  /* answered DENIED: another owner holds a conflicting range */
	uint64_t blocked; /* answered BLOCKED: the same, for a blocking request (it polls) */
	/* Answered DENIED_NOLOCKS: a client's 256 entries, 4096 in all, 64 hosts, or memory. */
	uint64_t nolocks;
	uint64_t refused;      /* answered STALE_FH, ROFS, FBIG or FAILED (bad handle, export) */
	uint64_t notify_freed; /* entries freed by FREE_ALL and SM_NOTIFY of their client */
	uint64_t lease_broken; /* entries of silent clients broken by a conflicting request */
	uint64_t repairs;      /* times the table was taken over from a killed holder */
};
/* All zero before the service is set up. */
void uml_nfs_lock_stats(struct uml_nfs_lock_stats *st);

/* --- imports: a remote NFS export copied into the tree --- */

/*
 * Import @url (nfs://host[:port]/export[?mountport=N&uid=N&gid=N&timeo=MS&
 * retrans=N]) at @path, a directory made for it that NFS clients of the
 * machine can read but not change. Its files are a copy of the export's,
 * kept by the machine's own NFS client: one process's importer thread polls
 * the server (every interval, one READDIRPLUS per directory; only changed
 * files are read), and local reads never wait for the server. While the
 * server is away the copy keeps the last good content and the import is
 * stale (uml_import_stat): a call waits 500 ms and is sent twice unless the
 * URL's timeo= and retrans= say otherwise. @options: comma-separated interval=MS (1000),
 * maxfile=BYTES (65536), maxentries=N (1024), depth=N (8), uid=N, gid=N.
 * A host name is resolved now. Call it once for the machine, before the
 * processes that start importers fork. Returns the import's index, or
 * -EINVAL (the reason in @why), -ENOSPC (four imports already), -ENODEV.
 */
int uml_mount_nfs(const char *url, const char *path, const char *options, char *why, size_t whylen);
/*
 * Start this process's importer threads, one per import, on its CPU (call
 * it from an attached process with a CPU, as for uml_thread_create): the
 * processes that start them share each import, one polling at a time, and
 * when that one dies another takes over within an interval. After a pass
 * @fn (may be NULL) runs in the polling process on
 * its importer thread: once per changed or removed file with its path
 * under the import's directory ("config/MaxRequestWorkers"), then once with
 * @rel NULL -- that last call comes after every pass, changed or not, so
 * that staleness can be acted on. Returns how many threads started, or a
 * negative errno.
 */
typedef void (*uml_import_fn)(void *arg, int idx, const char *rel);
int uml_import_start(uml_import_fn fn, void *arg);
/* Ask this process's importer threads to end (they let the lease go). */
void uml_import_stop(void);

#define UML_IMPORT_NEW	 0 /* no pass yet */
#define UML_IMPORT_OK	 1 /* the last pass reached the server */
#define UML_IMPORT_STALE 2 /* the server is away; the copy is the last good one */
struct uml_import_stat {
	char url[256];
	char path[128];
	unsigned state; /* UML_IMPORT_* */
	unsigned interval_ms;
	uint64_t last_ok_ns;	 /* CLOCK_REALTIME of the last pass that reached the server */
	uint64_t stale_since_ns; /* first failure since; 0 when OK */
	uint64_t changed_ns;	 /* when the copy last changed */
	uint64_t version;	 /* passes that changed the copy */
	uint64_t passes, rpcs;
	uint64_t newest_mtime_ns; /* newest mtime among the remote files */
	unsigned files, dirs, skipped;
	unsigned holder_pid; /* the process polling now, 0: none */
	char error[200];     /* the last failure or bound hit, "" if none */
};
/* How many imports there are; the state of import @idx (0 or -ENOENT). */
int uml_import_count(void);
int uml_import_stat(int idx, struct uml_import_stat *st);

/*
 * One file of a remote export, with the machine's own NFS client: @url
 * names the export as for uml_mount_nfs, @path a file under it
 * ("config/MaxRequestWorkers"). Each call mounts, walks the path, does its
 * work and unmounts; it blocks its caller (a kernel thread's CPU runs its
 * other threads meanwhile). uml_nfs_get reads the file into @buf and
 * returns its length, -EFBIG when it holds more than @size bytes.
 * uml_nfs_put makes the file hold @data/@len: created (mode 0644) when
 * missing, else truncated and written, with FILE_SYNC writes. Both return
 * a negative errno on failure: -ENOENT, -EACCES, -ECONNREFUSED,
 * -ETIMEDOUT, -EINVAL (a bad URL or path), ...
 */
long uml_nfs_get(const char *url, const char *path, void *buf, size_t size);
int uml_nfs_put(const char *url, const char *path, const void *data, size_t len);

/*
 * A remote export kept mounted, for a program that comes back to the same
 * files again and again (a monitor reading status and writing knobs every
 * second). The handles of the paths it uses are looked up once and kept; a
 * stale one is looked up again. Calls block their caller like uml_nfs_get;
 * a session is used by one thread at a time. Unless the URL says timeo=
 * and retrans=, a call waits 500 ms and is sent twice, so a dead server
 * costs a caller 1.5 s, not a minute.
 *
 * uml_nfs_session_open mounts @url's export: 0 and *@s, or -EINVAL (a bad
 * URL or host name; the reason in @why), -ECONNREFUSED, -ETIMEDOUT,
 * -EACCES (the server refused the mount), -ENOENT (no such export),
 * -EPROTO (the answer was not ONC RPC or MOUNT), -ENOMEM.
 */
typedef struct uml_nfs_session uml_nfs_session_t;
int uml_nfs_session_open(const char *url, uml_nfs_session_t **s, char *why, size_t whylen);
/*
 * The file @path (relative to the export's root) into @buf: its length, or
 * -EFBIG when it holds more than @size bytes, -ENOENT, -EACCES, -EISDIR,
 * -ESTALE (the export's root is gone: open the session again), -ETIMEDOUT,
 * -ECONNREFUSED, -EPROTO, ...
 */
long uml_nfs_session_read(uml_nfs_session_t *s, const char *path, void *buf, size_t size);
/*
 * Make the existing file @path hold @data/@len, as `echo > file` does: a
 * truncation (SETATTR) and one FILE_SYNC WRITE. 0, or the server's refusal
 * (-EINVAL, -ERANGE, -EACCES, -EROFS, ...) or the transport's errno. The
 * file is never created: a name that does not exist is -ENOENT.
 */
int uml_nfs_session_write(uml_nfs_session_t *s, const char *path, const void *data, size_t len);
/* RPCs the session has had answered, retransmissions not counted. */
uint64_t uml_nfs_session_calls(uml_nfs_session_t *s);
/*
 * Unmount and free. After a transport failure (a server that went away) it
 * does not wait for the server's UMNT answer.
 */
void uml_nfs_session_close(uml_nfs_session_t *s);

/* What a CPU (a host thread running kernel threads) is doing. */
struct uml_sched_stats {
	uint32_t pid;	       /* its process */
	uint32_t threads;      /* kernel threads alive */
	uint32_t runnable;     /* of them, waiting in the run queue */
	uint32_t timers;       /* of them, asleep with a deadline */
	uint64_t switches;     /* context switches since it started */
	uint64_t remote_wakes; /* threads woken from another CPU or process */
	uint64_t io_wakes;     /* wake-ups reported by epoll */
};
/* CPU @cpu (0..UML_MAX_CPUS-1): 0, or -ENOENT when no live thread runs it. */
int uml_sched_stats(int cpu, struct uml_sched_stats *st);
/*
 * A header line, then one line per CPU: cpu pid threads runnable timers
 * switches remote_wakes io_wakes.
 */
size_t uml_sched_status(char *buf, size_t size);

/*
 * /proc-style text about memory (buddyinfo, slabinfo, meminfo) into @buf,
 * NUL-terminated; each returns the length written.
 */
size_t uml_mm_buddyinfo(char *buf, size_t size);
size_t uml_mm_slabinfo(char *buf, size_t size);
size_t uml_mm_meminfo(char *buf, size_t size);

/*
 * Check the machine: the page allocator's free lists and every slab and
 * thread cache, the filesystem tree against its inodes and pages, the CPUs
 * and the waiters of host threads. Writes "ok" or "FAIL <n>" on the first
 * line, then what each part found, "FAIL ..." lines for each problem, into
 * @buf (at most @size bytes, NUL-terminated when there is room). Returns the
 * length the whole text needs. Takes each part's lock in turn: a few
 * milliseconds on a large machine, for a monitor to run now and then. May be
 * called from a file's render hook (it then audits the tree under the lock
 * the hook runs with).
 */
size_t uml_check(char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
