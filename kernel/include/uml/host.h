/*
 * kernel/host: the only code that makes system calls. Everything above this layer
 * asks the host for memory, sleeping, time and task liveness through these calls.
 */
#ifndef UML_HOST_H
#define UML_HOST_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

/*
 * Map @size bytes of memory shared with every process forked afterwards. The
 * mapping is placed at @hint when that range is free (so a machine image can
 * be re-found at the same address), elsewhere otherwise.
 * Returns the address, or NULL with errno set.
 */
void *host_map_shared(size_t size, void *hint);
void host_unmap(void *addr, size_t size);

/*
 * Sleep while *@word == @expect, at most @timeout_ns (< 0: no limit). The word
 * lives in shared memory, so a wake from any process reaches the sleeper.
 * Returns 0 when woken or the value differed, -ETIMEDOUT, or -EINTR.
 */
int host_futex_wait(_Atomic uint32_t *word, uint32_t expect, int64_t timeout_ns);
/* Wake up to @n sleepers on @word (INT32_MAX: all). */
/* Wake up to @n threads asleep on @word; returns how many woke (0 on error). */
int host_futex_wake(_Atomic uint32_t *word, int n);

/* Host thread id: unique among live tasks of this host, so usable as a lock owner. */
uint32_t host_tid(void);
uint32_t host_pid(void);
/*
 * Whether the task @tid (a process or a thread) still runs: false once it
 * has exited, also while it is a zombie that its parent has not reaped yet,
 * since a zombie holds no lock and runs no CPU any more.
 */
bool host_task_alive(uint32_t tid);

uint64_t host_mono_ns(void);
/* Wall-clock time as seconds and nanoseconds. */
void host_wall(int64_t *sec, uint32_t *nsec);
/* Fill @buf with @len bytes of host randomness (never fails; falls back to time). */
void host_random(void *buf, size_t len);
/* The same for secrets: 0, or a negative errno; never a guessable fallback. */
int host_random_strict(void *buf, size_t len);
void host_cpu_relax(void);
/* Let other host threads run. */
void host_yield(void);
/*
 * For states the kernel cannot go on from (a corrupted heap, an inverted lock
 * order): print the message and a newline on stderr and abort the process.
 */
void host_panic(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
/* The same message on stderr, in one write, and carry on. */
void host_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * The number a kernel log line starts with, as mod_umlconf's UMLCONF_LOGNO:
 * one call site each, listed in doc/log-messages.md (make check-lognos).
 */
#define UML_LOGNO(n) "uml(" #n "): "

/*
 * Fault injection (debug build, -DMM_DEBUG): the kernel calls host_fault_point
 * at every instant a death is worth testing (taking and releasing a lock);
 * after host_fault_arm(@n), the @n-th such call of this process kills it
 * with SIGKILL, as an admin's kill -9 would. host_fault_arm(0) disarms;
 * host_fault_count() tells how many points this process has passed, so a
 * test can sweep every one. The environment variable UML_FAULT_AT=n arms
 * a process at its first point. In other builds the calls cost nothing.
 */
#ifdef MM_DEBUG
void host_fault_arm(uint64_t n);
uint64_t host_fault_count(void);
void host_fault_point_slow(void);
extern __thread uint64_t host_fault_left;
static inline void host_fault_point(void)
{
	if (__builtin_expect(host_fault_left != 0, 0))
		host_fault_point_slow();
}
/*
 * The other half of the question: what a reaper does to a process that is
 * alive. After host_fault_arm_pause(@n), the @n-th point only makes a stop
 * due; the next spin_unlock that leaves the thread holding no ranked lock
 * stops the whole process with SIGSTOP (host_fault_pause_now), so that a
 * test can run the reaper, then SIGCONT it and see it finish unharmed.
 */
void host_fault_arm_pause(uint64_t n);
extern __thread bool host_fault_pause_due;
void host_fault_pause_now(void);
#else
static inline void host_fault_point(void)
{
}
#endif

/*
 * Bumped in the child at every fork. Per-thread caches of host facts (tid,
 * the thread's allocator slot) compare it to tell that they were inherited
 * from the parent and must be refreshed.
 */
extern _Atomic uint32_t host_fork_gen;
static inline uint32_t host_fork_generation(void)
{
	return __atomic_load_n((uint32_t *)&host_fork_gen, __ATOMIC_RELAXED);
}
/* Call once per process before relying on host_fork_generation(). */
void host_fork_watch(void);

/* Make [addr, addr+len) inaccessible (@none) or read-write again, in this process. */
int host_protect(void *addr, size_t len, bool none);
void host_sleep_ns(uint64_t ns);

/*
 * An epoll set. Event pointers are handed back as given. Callers speak in
 * HOST_POLL* bits; only poll.c knows they are epoll's (it translates them).
 */
#define HOST_POLLIN	   0x01u /* readable, or a connection to accept */
#define HOST_POLLOUT	   0x02u /* writable */
#define HOST_POLLERR	   0x04u /* reported only */
#define HOST_POLLHUP	   0x08u /* reported only */
#define HOST_POLLET	   0x10u /* edge-triggered (host_poll_add) */
#define HOST_POLLEXCLUSIVE 0x20u /* wake one of the sets sharing @fd (host_poll_add) */
#define HOST_POLLRDHUP	   0x40u /* the peer shut its side down */
int host_poll_create(void);
/* Arm @fd for one report of @events (HOST_POLLIN/HOST_POLLOUT) to @ptr. */
int host_poll_arm(int epfd, int fd, uint32_t events, void *ptr);
/* Register @fd for @events as given (HOST_POLLEXCLUSIVE, HOST_POLLET...) until forgotten. */
int host_poll_add(int epfd, int fd, uint32_t events, void *ptr);
int host_poll_forget(int epfd, int fd);
struct host_poll_event {
	uint32_t events;
	void *ptr;
};
/* Wait up to @timeout_ms (< 0: forever) for at most @n events. Returns the count. */
int host_poll_wait(int epfd, struct host_poll_event *ev, int n, int timeout_ms);
/*
 * Wait with poll(2) up to @timeout_ms (< 0: forever) until @fd is ready for
 * @events (HOST_POLLIN/HOST_POLLOUT), for a host thread (a kernel thread
 * waits with kthread_wait_fd). Returns the ready events (HOST_POLLERR and
 * HOST_POLLHUP among them), -ETIMEDOUT or -EINTR.
 */
int host_wait_fd(int fd, uint32_t events, int timeout_ms);

/*
 * Doorbells: a datagram socket named @name in the abstract namespace, so any
 * process can ring it and the owner's epoll set sees it.
 */
int host_doorbell_open(const char *name);
void host_doorbell_ring(const char *name);
void host_doorbell_drain(int fd);
void host_close(int fd);

/*
 * The broadcast: one eventfd made at boot and inherited by every process
 * forked after it, in every CPU's epoll set edge-triggered. Nobody reads it:
 * each ring is an edge in every set that holds it, whatever their number,
 * for one system call. Its id (the kernel's eventfd-id, unique while it is
 * open) tells a process that the fd number it inherited is still that file.
 */
int host_bcast_open(uint64_t *id);
/* The eventfd-id of @fd; -EBADF, or -ENOENT when @fd is not an eventfd. */
int host_bcast_id(int fd, uint64_t *id);
void host_bcast_ring(int fd);

/*
 * Sockets (net.c). Every socket is non-blocking and close-on-exec; calls
 * return a count or fd, or a negative errno (-EAGAIN when it would block).
 */
/* A socket bound to @sa: listening with @backlog when @stream, else datagram. */
int host_listen(const struct sockaddr *sa, socklen_t len, bool stream, int backlog);
int host_sockname(int fd, struct sockaddr_storage *ss, socklen_t *len);
/*
 * A TCP connection to @sa, TCP_NODELAY set, started and not waited for:
 * the fd is writable once it is made, and host_sock_error says how it went.
 */
int host_connect(const struct sockaddr *sa, socklen_t len);
/* A socket's pending error (SO_ERROR): 0, or a negative errno (-ECONNREFUSED...). */
int host_sock_error(int fd);
/* Accept one connection (TCP_NODELAY set) and its peer's address. */
int host_accept(int fd, struct sockaddr_storage *peer, socklen_t *len);
ssize_t host_recv(int fd, void *buf, size_t len); /* 0: the peer closed */
ssize_t host_send(int fd, const void *buf, size_t len);
ssize_t host_recvfrom(int fd, void *buf, size_t len, struct sockaddr_storage *peer,
		      socklen_t *plen);
ssize_t host_sendto(int fd, const void *buf, size_t len, const struct sockaddr_storage *peer,
		    socklen_t plen);
/*
 * Host files (file.c), never followed through a symlink. host_file_read
 * reads a whole regular file of at most @size bytes (-EFBIG if larger) and
 * gives its permission bits. host_file_create makes a new file (-EEXIST if
 * there is one) with @mode, writes and syncs it; a failed one is removed.
 */
int host_file_read(const char *path, void *buf, size_t size, size_t *len, uint32_t *mode);
int host_file_create(const char *path, const void *buf, size_t len, uint32_t mode);

/*
 * Device files (file.c): the host files that back block devices.
 * host_dev_open opens @path read-write (read-only with @readonly), never
 * through a symlink, and takes an advisory lock on it -- exclusive, or
 * shared when @readonly -- that every process forked afterwards shares, so
 * two machines never write one image (-EBUSY when another holds it). With
 * @create a missing file is made with @size bytes, allocated on the host's
 * disk now so that a full disk shows here and not under a later write
 * (*@created says so; a half-made file is removed). Returns the fd, or a
 * negative errno: -ENOENT, -EACCES, -ENOSPC, -EBUSY, -EINVAL (not a
 * regular file). *@cur is the file's size.
 */
int host_dev_open(const char *path, bool readonly, bool create, uint64_t size, uint64_t *cur,
		  bool *created);
/*
 * Whether a new file may be made beside @path: its directory exists and is
 * writable (0 or a negative errno); *@free gets the bytes its filesystem
 * has free for us.
 */
int host_dir_writable(const char *path, uint64_t *free);
/* The host's identity of the file behind @fd: -EBADF when @fd is not open. */
int host_dev_identity(int fd, uint64_t *dev, uint64_t *ino);
/* All @len bytes at @off, or a negative errno (-EIO for a short read: past the end). */
int host_pread(int fd, void *buf, size_t len, uint64_t off);
/* All @len bytes at @off, or a negative errno (-ENOSPC, -EIO). */
int host_pwrite(int fd, const void *buf, size_t len, uint64_t off);
/* Make what was written to @fd durable: 0 or a negative errno. */
int host_fdatasync(int fd);
/*
 * Power loss, for tests of what survives it: after host_io_crash(@n, @tear)
 * the next @n host_pwrite calls of this process happen, the one after
 * writes only its first @tear bytes, and from then on writes and syncs
 * do nothing and report success, as a disk that lost power mid-write
 * would leave things. host_io_writes counts this process's host_pwrite calls.
 */
void host_io_crash(uint64_t n, size_t tear);
uint64_t host_io_writes(void);

/*
 * TAP queues (tap.c): the machine's Ethernet wire (kernel/net/inet).
 * host_tap_open attaches one more queue to the TAP device @name, making the
 * device when it does not exist (it then lasts while a queue is open):
 * IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE, the fd non-blocking and
 * close-on-exec. @flags HOST_TAP_VNET: every frame read and written has a
 * virtio-net header of HOST_TAP_VNET_HLEN bytes in front (the legacy
 * struct virtio_net_hdr, fields in the host's byte order), and the host
 * may pass partial checksums and TCP segments of up to 64 KiB both ways
 * (TUNSETOFFLOAD CSUM, TSO4; IPv6 segments come cut). The flags are the device's: the last
 * queue attached sets them for all, so all must ask alike. *@ifname (may
 * be NULL) gets the name the host gave. Returns the fd, or -EINVAL (a name
 * of HOST_IFNAMSIZ bytes or more, or a kernel that refuses the offloads),
 * -ENOENT (no /dev/net/tun), -EPERM (neither CAP_NET_ADMIN nor the
 * device's owner), -EBUSY (@name is a device of another kind or without
 * multi-queue), or another negative errno.
 */
#define HOST_IFNAMSIZ	   16
#define HOST_TAP_VNET	   1u
#define HOST_TAP_VNET_HLEN 10
int host_tap_open(const char *name, unsigned flags, char ifname[HOST_IFNAMSIZ]);
/*
 * One whole frame (Ethernet header first, no FCS) into @buf: its length,
 * 0 never, -EAGAIN when none waits, -EIO when the device is down on the
 * host's side, another negative errno. A frame longer than @len is not
 * given whole (the host cuts or refuses it): read with @len above the
 * device's MTU + 14 and drop what fills the buffer.
 */
ssize_t host_tap_read(int fd, void *buf, size_t len);
/*
 * Send one frame: @len (all of it), -EAGAIN when the queue is full (the
 * frame is not sent), -EIO when the device is down, -EINVAL for a frame
 * the host refuses (shorter than an Ethernet header, longer than its MTU
 * allows), another negative errno.
 */
ssize_t host_tap_write(int fd, const void *buf, size_t len);
/* As host_tap_read and host_tap_write, a frame in @n pieces (a vnet header, then the frame). */
ssize_t host_tap_readv(int fd, const struct iovec *iov, int n);
ssize_t host_tap_writev(int fd, const struct iovec *iov, int n);

/* @size bytes of this process's memory, backed only as touched; NULL on failure. */
void *host_map_private(size_t size);

#endif
