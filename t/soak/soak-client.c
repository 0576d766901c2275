/*
 * soak-client: many NFSv3 clients at once against one server, each on its own
 * libnfs context and TCP connection, for a bounded time. Every byte a client
 * writes is read back and compared, so a lost or torn write is a failure.
 *
 *   soak-client [options] 'nfs://127.0.0.1/?nfsport=P&mountport=P'
 *
 *   -c N        clients (threads), default 64
 *   -t SECONDS  how long they run, default 20; then each removes its files
 *   -d DIR      their scratch directory in the export, default /soak
 *   -m MIN:MAX  MaxRequestWorkers values the knob owner writes (default 64:128);
 *               keep MIN above the HTTP load's concurrency, so that admission
 *               never queues or refuses a request because of us
 *   -b MIN:MAX  ListenBacklog values (default 64:1024; the initial value must
 *               be inside, for the readers' range check)
 *   -a N        spread the clients over N source addresses, 127.0.0.1 to
 *               127.0.0.N (default 1): the server bounds the connections of
 *               one client address, as it should, and 64 clients are meant
 *               to stand for several hosts, not one
 *   -k          no knob writes (readers only)
 *   -s SEED     seed of the clients' choices (default: the time)
 *   -v          print every failure (default: the first 20)
 *
 * Each client owns DIR/cNN and four files in it, and keeps a model of their
 * content. In a loop it picks: write a whole file (O_TRUNC, several WRITEs),
 * write at an offset (holes too), truncate, rename one file over another,
 * remove, list the directory, read a /status file or a knob; after every
 * change it reads the file back and compares it with the model, byte for
 * byte. Clients 0, 1 and 2 also own one knob each (MaxRequestWorkers,
 * ListenBacklog, Accepting): they write valid values, the way `echo N >` does
 * and the way an editor's rename does, read them back, and write invalid
 * ones that must be refused with EINVAL and leave the value as it was. Nobody
 * else writes knobs, so the owner knows the exact value in force; the others
 * check that what they read is in range, or empty (the window between the
 * truncate and the write of `echo N >`, as the README says).
 *
 * Connections: a connect or MOUNT that fails is retried for up to 30 s and is
 * a failure only if every retry fails; the retries are counted ("connects
 * refused"). A connection lost mid-session (the server closed it: EOF or
 * reset) is a failure ("dropped"): the client reconnects, forgets its files
 * (the lost call may or may not have been applied) and carries on, so one
 * drop does not hide everything after it.
 *
 * Output: failures on stderr as they happen, then per-kind counts and one
 * summary line on stdout:
 *   soak-client: 64 clients, 180 s: N ops, F failures; ...
 * Exit status 0 when nothing failed, 1 otherwise, 2 for a usage error.
 */
#define _GNU_SOURCE /* POLLRDHUP */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <nfsc/libnfs.h>

#define MAX_CLIENTS	 1024
#define SLOTS		 4
#define FILE_MAX	 (48 * 1024) /* "tens of KB": several WRITE and READ calls each */
#define CHUNK_MAX	 (16 * 1024)
#define RPC_TIMEOUT_MS	 60000 /* a call with no reply in this long is a failure */
#define CONNECT_WINDOW_S 30    /* how long a client keeps retrying to connect */
#define FAIL_SHOWN	 20

enum kind {
	K_CONNECT,	/* mount: a failure only when every retry failed */
	K_CREATE,	/* open O_CREAT|O_TRUNC, WRITEs, close */
	K_WRITE_AT,	/* WRITE at an offset, maybe past the end */
	K_TRUNCATE,	/* SETATTR size, shrinking or growing */
	K_RENAME,	/* one scratch file over another */
	K_REMOVE,	/* unlink */
	K_VERIFY,	/* stat + read back, compared with the model */
	K_READDIR,	/* the client's directory against the model */
	K_STATUS,	/* read a /status file */
	K_KNOB_READ,	/* read a knob, value in range */
	K_KNOB_SET,	/* valid knob write, read back exactly */
	K_KNOB_INVALID, /* invalid knob write: EINVAL, value unchanged */
	K_CLEANUP,	/* at the end: files and directory removed */
	K_DROPPED,	/* connection lost mid-session (not an operation of its own) */
	K_COUNT
};

static const char *const kind_name[K_COUNT] = {
    "connect", "create", "write_at",  "truncate", "rename",	  "remove",  "verify",
    "readdir", "status", "knob_read", "knob_set", "knob_invalid", "cleanup", "dropped",
};

enum knob { KNOB_MRW, KNOB_BACKLOG, KNOB_ACCEPTING, KNOB_COUNT };

static const char *const knob_file[KNOB_COUNT] = {
    "/config/MaxRequestWorkers",
    "/config/ListenBacklog",
    "/config/Accepting",
};

/* The /status files; "errors" may be empty, the others never are. */
static const char *const status_files[] = {
    "/status/requests_in_flight",
    "/status/queued",
    "/status/rejected",
    "/status/workers",
    "/status/listeners",
    "/status/generation",
    "/status/children",
    "/status/errors",
    "/status/nfs",
    "/status/mm/buddyinfo",
    "/status/mm/slabinfo",
    "/status/mm/meminfo",
    "/status/sched/cpus",
    "/status/sched/summary",
};

/* Read-only after main has parsed the options. */
static struct {
	const char *url;
	const char *dir;
	int clients;
	int seconds;
	int sources;
	int64_t lo[KNOB_COUNT], hi[KNOB_COUNT];
	bool knob_writes;
	bool verbose;
	uint64_t seed;
	struct timespec end;
} opt = {
    .dir = "/soak",
    .clients = 64,
    .seconds = 20,
    .sources = 1,
    .lo = {64, 64, 1},
    .hi = {128, 1024, 1},
    .knob_writes = true,
};

static atomic_ulong fails_printed;
static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;

/* A scratch file as its client believes it is. */
struct slot {
	bool exists;
	size_t len;
	unsigned char data[FILE_MAX];
};

/* One client: everything here belongs to its thread alone. */
struct client {
	int id;
	pthread_t thread;
	struct nfs_context *nfs;
	uint64_t rng;
	char dir[256];
	int knob; /* the knob this client owns, or -1 */
	int64_t knob_value;
	unsigned long seq;
	bool dirty; /* a failure: the model may not match the server any more */
	unsigned long ops[K_COUNT], fails[K_COUNT];
	unsigned long connects_refused, reconnects;
	unsigned long long written, verified;
	unsigned char buf[FILE_MAX + 4096];
	struct slot slot[SLOTS];
};

/*
 * Source addresses. libnfs opens its sockets itself and cannot bind them, so
 * this program's bind and connect stand in for libc's (the executable's
 * definitions come first for the libraries it loads, as with LD_PRELOAD; cf.
 * t/lib/src-addr.c) and bind each socket of a client thread to that
 * client's address. Zero: the thread's sockets are left alone.
 */
static __thread in_addr_t thread_src;

static bool src_wanted(const struct sockaddr *sa, struct sockaddr_in *sin)
{
	if (!thread_src || !sa || sa->sa_family != AF_INET)
		return false;
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = thread_src;
	return true;
}

int bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	static int (*real)(int, const struct sockaddr *, socklen_t);
	struct sockaddr_in sin;

	if (!real)
		real = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "bind");
	/* The port asked for stays (libnfs takes a reserved one as root). */
	if (len >= sizeof(sin) && src_wanted(sa, &sin)) {
		sin.sin_port = ((const struct sockaddr_in *)sa)->sin_port;
		return real(fd, (struct sockaddr *)&sin, sizeof(sin));
	}
	return real(fd, sa, len);
}

int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	static int (*real)(int, const struct sockaddr *, socklen_t);
	struct sockaddr_in me = {0}, cur;
	socklen_t cl = sizeof(cur);

	if (!real)
		real =
		    (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
	/* Not bound yet (port 0): bind to the source address, any port. */
	if (src_wanted(sa, &me) && getsockname(fd, (struct sockaddr *)&cur, &cl) == 0 &&
	    cur.sin_family == AF_INET && cur.sin_port == 0)
		bind(fd, (struct sockaddr *)&me, sizeof(me));
	return real(fd, sa, len);
}

static uint64_t rnd(struct client *c)
{
	/* xorshift64*: cheap, and a client's choices replay from its seed */
	c->rng ^= c->rng >> 12;
	c->rng ^= c->rng << 25;
	c->rng ^= c->rng >> 27;
	return c->rng * 0x2545F4914F6CDD1DULL;
}

static size_t rnd_below(struct client *c, size_t n)
{
	return n ? (size_t)(rnd(c) % n) : 0;
}

static void rnd_fill(struct client *c, unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(rnd(c) >> 56);
}

/* Mostly small files, some of tens of KB: the sizes monitors and editors make. */
static size_t rnd_size(struct client *c)
{
	size_t r = rnd_below(c, 100);

	if (r < 50)
		return rnd_below(c, 4096 + 1);
	if (r < 85)
		return rnd_below(c, 16384 + 1);
	return rnd_below(c, FILE_MAX + 1);
}

static bool time_up(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > opt.end.tv_sec ||
	       (now.tv_sec == opt.end.tv_sec && now.tv_nsec >= opt.end.tv_nsec);
}

static void fail(struct client *c, enum kind k, const char *fmt, ...)
{
	va_list ap;

	c->fails[k]++;
	c->dirty = true;
	if (!opt.verbose && atomic_fetch_add(&fails_printed, 1) >= FAIL_SHOWN)
		return;
	pthread_mutex_lock(&print_lock);
	fprintf(stderr, "soak-client: client %d: %s: ", c->id, kind_name[k]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	pthread_mutex_unlock(&print_lock);
}

static const char *err_text(struct client *c, int rc)
{
	static __thread char text[512];

	snprintf(text, sizeof(text), "%s (%s)", strerror(-rc), c->nfs ? nfs_get_error(c->nfs) : "");
	return text;
}

/*
 * Did the server close our connection? libnfs 4.0 reports a lost connection
 * with whatever error the call in flight gets, so look at the socket itself:
 * gone, hung up, or readable with nothing to read (EOF).
 */
static bool conn_lost(struct client *c)
{
	int fd = nfs_get_fd(c->nfs);
	struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};

	if (fd < 0)
		return true;
	if (poll(&p, 1, 0) < 0)
		return false;
	return (p.revents & (POLLHUP | POLLERR | POLLRDHUP | POLLNVAL)) != 0;
}

static void disconnect(struct client *c)
{
	if (c->nfs)
		nfs_destroy_context(c->nfs);
	c->nfs = NULL;
}

/*
 * Connect and MOUNT, retrying for CONNECT_WINDOW_S: a server that refuses a
 * connection (a bound on connections per client, no stack free yet) may take
 * the next one. Returns 0, or a negative errno when every attempt failed.
 */
static int connect_client(struct client *c)
{
	struct timespec start, now;
	int rc = -EIO, attempt = 0;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct nfs_url *url;

		c->nfs = nfs_init_context();
		if (!c->nfs)
			return -ENOMEM;
		url = nfs_parse_url_dir(c->nfs, opt.url);
		if (!url) {
			fprintf(stderr, "soak-client: bad url %s: %s\n", opt.url,
				nfs_get_error(c->nfs));
			exit(2);
		}
		/* Our own reconnect and resync, not libnfs' replay of the lost call. */
		nfs_set_autoreconnect(c->nfs, 0);
		nfs_set_timeout(c->nfs, RPC_TIMEOUT_MS);
		/* Every lookup and listing goes to the server. */
		nfs_set_dircache(c->nfs, 0);
		c->ops[K_CONNECT]++;
		rc = nfs_mount(c->nfs, url->server, url->path);
		nfs_destroy_url(url);
		if (rc == 0)
			return 0;
		c->connects_refused++;
		if (attempt++ < 3 || opt.verbose) {
			pthread_mutex_lock(&print_lock);
			fprintf(stderr,
				"soak-client: client %d: connect attempt %d: %s (retrying)\n",
				c->id, attempt, err_text(c, rc));
			pthread_mutex_unlock(&print_lock);
		}
		disconnect(c);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= CONNECT_WINDOW_S)
			break;
		usleep((useconds_t)(100000 + rnd_below(c, 400000)));
	}
	fail(c, K_CONNECT, "no connection in %d s (%d attempts): %s", CONNECT_WINDOW_S, attempt,
	     strerror(-rc));
	return rc;
}

static void slot_path(const struct client *c, int s, char *buf, size_t size)
{
	snprintf(buf, size, "%s/f%d", c->dir, s);
}

static int write_all(struct client *c, struct nfsfh *fh, uint64_t off, const unsigned char *p,
		     size_t len)
{
	size_t done = 0;

	while (done < len) {
		int n = nfs_pwrite(c->nfs, fh, off + done, len - done, (void *)(p + done));

		if (n < 0)
			return n;
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	c->written += len;
	return 0;
}

/*
 * Read at most @cap bytes of @path into c->buf, in READs of CHUNK_MAX: a
 * small file (a knob, a status file) in one READ, which the server answers
 * from one version of it. Returns the length or -errno.
 */
static int read_file(struct client *c, const char *path, size_t cap)
{
	struct nfsfh *fh;
	size_t got = 0;
	int rc;

	rc = nfs_open(c->nfs, path, O_RDONLY, &fh);
	if (rc < 0)
		return rc;
	while (got < cap) {
		size_t want = cap - got < CHUNK_MAX ? cap - got : CHUNK_MAX;
		int n = nfs_pread(c->nfs, fh, got, want, c->buf + got);

		if (n < 0) {
			nfs_close(c->nfs, fh);
			return n;
		}
		got += (size_t)n;
		/*
		 * Short means the end: asking again could return a later
		 * version's tail, and a knob "74\n" would read "74\n\n".
		 */
		if ((size_t)n < want)
			break;
	}
	nfs_close(c->nfs, fh);
	return (int)got;
}

/* The file on the server is exactly what the model says, or absent if it should be. */
static int verify(struct client *c, int s)
{
	struct slot *sl = &c->slot[s];
	struct nfs_stat_64 st;
	char path[300];
	int rc, n;

	slot_path(c, s, path, sizeof(path));
	c->ops[K_VERIFY]++;
	rc = nfs_stat64(c->nfs, path, &st);
	if (!sl->exists) {
		if (rc == -ENOENT)
			return 0;
		if (rc < 0)
			return rc;
		fail(c, K_VERIFY, "%s exists (size %" PRIu64 ") but was removed or renamed away",
		     path, (uint64_t)st.nfs_size);
		return 0;
	}
	if (rc < 0)
		return rc;
	if (st.nfs_size != sl->len) {
		fail(c, K_VERIFY, "%s has size %" PRIu64 ", expected %zu", path,
		     (uint64_t)st.nfs_size, sl->len);
		return 0;
	}
	/* Ask for more than there should be: a longer file must show. */
	n = read_file(c, path, sl->len + 4096);
	if (n < 0)
		return n;
	if ((size_t)n != sl->len) {
		fail(c, K_VERIFY, "%s: read %d bytes, expected %zu", path, n, sl->len);
		return 0;
	}
	if (memcmp(c->buf, sl->data, sl->len) != 0) {
		size_t i = 0;

		while (c->buf[i] == sl->data[i])
			i++;
		fail(c, K_VERIFY,
		     "%s: byte %zu of %zu is 0x%02x, expected 0x%02x (lost or torn write)", path, i,
		     sl->len, c->buf[i], sl->data[i]);
		return 0;
	}
	c->verified += sl->len;
	return 0;
}

/* Replace the whole file, in several WRITEs of random sizes. */
static int op_create(struct client *c, int s)
{
	struct slot *sl = &c->slot[s];
	size_t len = rnd_size(c), off = 0;
	struct nfsfh *fh;
	char path[300];
	int rc;

	slot_path(c, s, path, sizeof(path));
	c->ops[K_CREATE]++;
	rnd_fill(c, sl->data, len);
	rc = nfs_open(c->nfs, path, O_WRONLY | O_CREAT | O_TRUNC, &fh);
	if (rc < 0)
		return rc;
	/* From here the file is being replaced: the model says so whatever happens. */
	sl->exists = true;
	sl->len = 0;
	while (off < len) {
		size_t n = 1 + rnd_below(c, CHUNK_MAX);

		if (n > len - off)
			n = len - off;
		rc = write_all(c, fh, off, sl->data + off, n);
		if (rc < 0) {
			nfs_close(c->nfs, fh);
			return rc;
		}
		off += n;
		sl->len = off;
	}
	/* close sends COMMIT: its error is the write's error */
	return nfs_close(c->nfs, fh);
}

static int op_write_at(struct client *c, int s)
{
	struct slot *sl = &c->slot[s];
	size_t off = rnd_below(c, sl->len + 4096 + 1);
	size_t n = 1 + rnd_below(c, CHUNK_MAX);
	unsigned char chunk[CHUNK_MAX];
	struct nfsfh *fh;
	char path[300];
	int rc, rc2;

	if (off >= FILE_MAX)
		off = FILE_MAX - 1;
	if (n > FILE_MAX - off)
		n = FILE_MAX - off;
	slot_path(c, s, path, sizeof(path));
	c->ops[K_WRITE_AT]++;
	rnd_fill(c, chunk, n);
	rc = nfs_open(c->nfs, path, O_WRONLY, &fh);
	if (rc < 0)
		return rc;
	rc = write_all(c, fh, off, chunk, n);
	rc2 = nfs_close(c->nfs, fh);
	if (rc < 0 || rc2 < 0)
		return rc < 0 ? rc : rc2;
	/* A write past the end leaves a hole that reads as zeros. */
	if (off > sl->len)
		memset(sl->data + sl->len, 0, off - sl->len);
	memcpy(sl->data + off, chunk, n);
	if (off + n > sl->len)
		sl->len = off + n;
	return 0;
}

static int op_truncate(struct client *c, int s)
{
	struct slot *sl = &c->slot[s];
	size_t len = rnd_below(c, sl->len + 8192 + 1);
	char path[300];
	int rc;

	if (len > FILE_MAX)
		len = FILE_MAX;
	slot_path(c, s, path, sizeof(path));
	c->ops[K_TRUNCATE]++;
	rc = nfs_truncate(c->nfs, path, len);
	if (rc < 0)
		return rc;
	if (len > sl->len)
		memset(sl->data + sl->len, 0, len - sl->len);
	sl->len = len;
	return 0;
}

/* Rename file @s over file @d (which may or may not exist). */
static int op_rename(struct client *c, int s, int d)
{
	char from[300], to[300];
	int rc;

	slot_path(c, s, from, sizeof(from));
	slot_path(c, d, to, sizeof(to));
	c->ops[K_RENAME]++;
	rc = nfs_rename(c->nfs, from, to);
	if (rc < 0)
		return rc;
	c->slot[d].exists = true;
	c->slot[d].len = c->slot[s].len;
	memcpy(c->slot[d].data, c->slot[s].data, c->slot[s].len);
	c->slot[s].exists = false;
	return 0;
}

static int op_remove(struct client *c, int s)
{
	char path[300];
	int rc;

	slot_path(c, s, path, sizeof(path));
	c->ops[K_REMOVE]++;
	rc = nfs_unlink(c->nfs, path);
	if (rc < 0)
		return rc;
	c->slot[s].exists = false;
	return 0;
}

/* The directory lists exactly the files that exist in the model. */
static int op_readdir(struct client *c)
{
	bool seen[SLOTS] = {false};
	struct nfsdirent *e;
	struct nfsdir *d;
	int rc, s;

	c->ops[K_READDIR]++;
	rc = nfs_opendir(c->nfs, c->dir, &d);
	if (rc < 0)
		return rc;
	while ((e = nfs_readdir(c->nfs, d))) {
		if (!strcmp(e->name, ".") || !strcmp(e->name, ".."))
			continue;
		if (e->name[0] == 'f' && e->name[1] >= '0' && e->name[1] < '0' + SLOTS &&
		    !e->name[2]) {
			seen[e->name[1] - '0'] = true;
			continue;
		}
		fail(c, K_READDIR, "%s lists a stranger: %s", c->dir, e->name);
	}
	nfs_closedir(c->nfs, d);
	for (s = 0; s < SLOTS; s++)
		if (seen[s] != c->slot[s].exists)
			fail(c, K_READDIR, "%s: f%d %s", c->dir, s,
			     seen[s] ? "is listed but was removed" : "is missing from the listing");
	return 0;
}

/* "N\n": the value, or -1 for anything else. An empty file is -2. */
static int64_t parse_value(const unsigned char *p, int len)
{
	int64_t v = 0;
	int i;

	if (len == 0)
		return -2;
	if (len < 2 || p[len - 1] != '\n')
		return -1;
	for (i = 0; i < len - 1; i++) {
		if (p[i] < '0' || p[i] > '9' || v > INT64_MAX / 10 - 10)
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

static int op_status(struct client *c)
{
	const char *path = status_files[rnd_below(c, sizeof(status_files) / sizeof(*status_files))];
	int n;

	c->ops[K_STATUS]++;
	n = read_file(c, path, FILE_MAX);
	if (n < 0)
		return n;
	if (n == 0 && strcmp(path, "/status/errors") != 0)
		fail(c, K_STATUS, "%s is empty", path);
	/* The HTTP load must never meet admission: nothing is ever rejected. */
	if (!strcmp(path, "/status/rejected") && parse_value(c->buf, n) != 0)
		fail(c, K_STATUS, "%s reads \"%.*s\", expected 0", path, n > 20 ? 20 : n, c->buf);
	return 0;
}

/*
 * Any client: a knob holds a value its owner may have written (or the
 * initial one, which the ranges include), or nothing during an `echo N >`.
 */
static int op_knob_read(struct client *c)
{
	int k = (int)rnd_below(c, KNOB_COUNT), n;
	int64_t v;

	c->ops[K_KNOB_READ]++;
	n = read_file(c, knob_file[k], 64);
	if (n < 0)
		return n;
	v = parse_value(c->buf, n);
	if (v == -2 || (v >= opt.lo[k] && v <= opt.hi[k]))
		return 0;
	fail(c, K_KNOB_READ, "%s reads \"%.*s\", not a value in %" PRId64 "..%" PRId64,
	     knob_file[k], n > 40 ? 40 : n, c->buf, opt.lo[k], opt.hi[k]);
	return 0;
}

/*
 * Write @text to the knob the way `echo N >` does (open O_TRUNC, WRITE,
 * COMMIT) or, with @rename, the way an editor does (a temporary in /config
 * renamed over the knob). Returns 0 or the error the client saw.
 */
static int knob_put(struct client *c, enum kind k, const char *text, bool rename)
{
	const char *knob = knob_file[c->knob];
	char tmp[128];
	struct nfsfh *fh;
	int rc, rc2;

	if (!rename) {
		rc = nfs_open(c->nfs, knob, O_WRONLY | O_TRUNC, &fh);
		if (rc < 0)
			return rc;
		rc = write_all(c, fh, 0, (const unsigned char *)text, strlen(text));
		rc2 = nfs_close(c->nfs, fh);
		return rc < 0 ? rc : rc2;
	}
	snprintf(tmp, sizeof(tmp), "/config/.soak%d.tmp", c->id);
	rc = nfs_open(c->nfs, tmp, O_WRONLY | O_CREAT | O_TRUNC, &fh);
	if (rc < 0)
		return rc;
	rc = write_all(c, fh, 0, (const unsigned char *)text, strlen(text));
	rc2 = nfs_close(c->nfs, fh);
	if (rc == 0 && rc2 == 0)
		rc = nfs_rename(c->nfs, tmp, knob);
	else
		rc = rc < 0 ? rc : rc2;
	/* A refused rename leaves the temporary behind, as with any editor. */
	if (rc < 0 && !conn_lost(c) && (rc2 = nfs_unlink(c->nfs, tmp)) < 0)
		fail(c, k, "removing %s after a refused rename: %s", tmp, err_text(c, rc2));
	return rc;
}

/* The knob holds exactly the value its owner last put in force. */
static int knob_check(struct client *c, enum kind k, const char *after)
{
	int n = read_file(c, knob_file[c->knob], 64);
	int64_t v;

	if (n < 0)
		return n;
	v = parse_value(c->buf, n);
	if (v != c->knob_value)
		fail(c, k, "%s reads \"%.*s\" after %s, expected %" PRId64, knob_file[c->knob],
		     n > 40 ? 40 : n, c->buf, after, c->knob_value);
	return 0;
}

static int op_knob_set(struct client *c)
{
	int k = c->knob;
	int64_t v = opt.lo[k] + (int64_t)rnd_below(c, (size_t)(opt.hi[k] - opt.lo[k] + 1));
	bool rename = rnd_below(c, 2);
	char text[32], what[64];
	int rc;

	c->ops[K_KNOB_SET]++;
	snprintf(text, sizeof(text), "%" PRId64 "\n", v);
	rc = knob_put(c, K_KNOB_SET, text, rename);
	if (rc < 0)
		return rc;
	c->knob_value = v;
	snprintf(what, sizeof(what), "writing %" PRId64 " (%s)", v, rename ? "rename" : "write");
	return knob_check(c, K_KNOB_SET, what);
}

/* Did the server record our refused value (a unique tag) in /status/errors? */
static int errors_has(struct client *c, const char *tag)
{
	int n = read_file(c, "/status/errors", FILE_MAX);

	if (n < 0)
		return n;
	c->buf[n] = '\0';
	return strstr((const char *)c->buf, tag) != NULL;
}

static int op_knob_invalid(struct client *c)
{
	static const char *const too_long = "111111111111111111111111111111111111111111\n";
	bool rename = rnd_below(c, 2);
	char text[80], tag[40], what[120];
	int rc, pick = (int)rnd_below(c, 4);

	c->ops[K_KNOB_INVALID]++;
	tag[0] = '\0';
	switch (pick) {
	case 0: /* not a number; unique, so we can find it in /status/errors */
		snprintf(tag, sizeof(tag), "soak%dx%lu", c->id, ++c->seq);
		snprintf(text, sizeof(text), "%s\n", tag);
		break;
	case 1: /* above the range */
		snprintf(text, sizeof(text), "%" PRId64 "\n",
			 c->knob == KNOB_ACCEPTING ? 2 : (int64_t)99999999);
		break;
	case 2: /* below it */
		snprintf(text, sizeof(text), "%s\n", c->knob == KNOB_ACCEPTING ? "-1" : "0");
		break;
	default:
		snprintf(text, sizeof(text), "%s", too_long);
		break;
	}
	rc = knob_put(c, K_KNOB_INVALID, text, rename);
	snprintf(what, sizeof(what), "the invalid \"%.*s\" (%s)", (int)strcspn(text, "\n"), text,
		 rename ? "rename" : "write");
	if (rc == 0) {
		fail(c, K_KNOB_INVALID, "%s was accepted", what);
		return 0;
	}
	if (conn_lost(c))
		return rc;
	/*
	 * NFS3ERR_INVAL. libnfs 4.0 hands a refused WRITE to its caller as
	 * EFAULT with an empty message (see tools/nfs-put.c), a refused RENAME
	 * as EINVAL; the tagged values are looked up in /status/errors, where
	 * the server puts each refusal with its reason.
	 */
	if (rc != -EINVAL && !(rc == -EFAULT && !rename))
		fail(c, K_KNOB_INVALID, "%s failed with %s, expected EINVAL", what,
		     err_text(c, rc));
	if (tag[0]) {
		int found = errors_has(c, tag);

		if (found < 0)
			return found;
		if (!found)
			fail(c, K_KNOB_INVALID, "%s is not in /status/errors", what);
	}
	return knob_check(c, K_KNOB_INVALID, what);
}

/*
 * The owner's knob as it is now. A lost `echo N >` may have left the knob
 * truncated: it reads empty until the server puts the old value back.
 */
static int knob_load(struct client *c)
{
	for (int tries = 0; tries < 50; tries++) {
		int n = read_file(c, knob_file[c->knob], 64);

		if (n < 0)
			return n;
		c->knob_value = parse_value(c->buf, n);
		if (c->knob_value >= 0)
			return 0;
		usleep(100000);
	}
	return -EIO;
}

/*
 * After a failure, what the failed call did is unknown and the model may be
 * wrong: start again from no files (removing whatever is there) on a new
 * connection, so that one failure is reported once and not at every later
 * read of the same file.
 */
static int resync(struct client *c)
{
	char path[300];
	int rc;

	disconnect(c);
	c->reconnects++;
	rc = connect_client(c);
	if (rc < 0)
		return rc;
	for (int s = 0; s < SLOTS; s++) {
		slot_path(c, s, path, sizeof(path));
		rc = nfs_unlink(c->nfs, path);
		if (rc < 0 && rc != -ENOENT) {
			fail(c, K_CLEANUP, "starting afresh: unlink %s: %s", path, err_text(c, rc));
			return rc;
		}
		c->slot[s].exists = false;
	}
	if (c->knob >= 0) {
		snprintf(path, sizeof(path), "/config/.soak%d.tmp", c->id);
		nfs_unlink(c->nfs, path);
		rc = knob_load(c);
		if (rc < 0) {
			fail(c, K_KNOB_READ, "starting afresh: %s: %s", knob_file[c->knob],
			     err_text(c, rc));
			return rc;
		}
	}
	c->dirty = false;
	return 0;
}

/* One step: mostly scratch files, sometimes status and knobs. 0 or -errno; *k says what failed. */
static int step(struct client *c, enum kind *k)
{
	int s = (int)rnd_below(c, SLOTS), r = (int)rnd_below(c, 100), rc;
	struct slot *sl = &c->slot[s];

	if (c->knob >= 0 && r < 5) {
		*k = rnd_below(c, 5) ? K_KNOB_SET : K_KNOB_INVALID;
		return *k == K_KNOB_SET ? op_knob_set(c) : op_knob_invalid(c);
	}
	if (r < 20) {
		*k = K_STATUS;
		return op_status(c);
	}
	if (r < 25) {
		*k = K_KNOB_READ;
		return op_knob_read(c);
	}
	if (r < 30) {
		*k = K_READDIR;
		return op_readdir(c);
	}
	if (r < 40) {
		*k = K_VERIFY;
		return verify(c, s);
	}
	if (!sl->exists || r < 60) {
		*k = K_CREATE;
		rc = op_create(c, s);
	} else if (r < 75) {
		*k = K_WRITE_AT;
		rc = op_write_at(c, s);
	} else if (r < 85) {
		*k = K_TRUNCATE;
		rc = op_truncate(c, s);
	} else if (r < 93) {
		int d = (s + 1 + (int)rnd_below(c, SLOTS - 1)) % SLOTS;

		*k = K_RENAME;
		rc = op_rename(c, s, d);
		if (rc == 0)
			rc = verify(c, d);
	} else {
		*k = K_REMOVE;
		rc = op_remove(c, s);
	}
	/* Every change is read back at once, and the file it came from too. */
	if (rc == 0) {
		*k = K_VERIFY;
		rc = verify(c, s);
	}
	return rc;
}

static void cleanup(struct client *c)
{
	char path[300];
	int rc;

	for (int s = 0; s < SLOTS; s++) {
		if (!c->slot[s].exists)
			continue;
		slot_path(c, s, path, sizeof(path));
		c->ops[K_CLEANUP]++;
		rc = nfs_unlink(c->nfs, path);
		if (rc < 0)
			fail(c, K_CLEANUP, "unlink %s: %s", path, err_text(c, rc));
		else
			c->slot[s].exists = false;
	}
	c->ops[K_CLEANUP]++;
	rc = nfs_rmdir(c->nfs, c->dir);
	if (rc < 0)
		fail(c, K_CLEANUP, "rmdir %s: %s", c->dir, err_text(c, rc));
}

static void *client_main(void *arg)
{
	struct client *c = arg;
	enum kind k;
	int rc;

	thread_src = htonl(INADDR_LOOPBACK + (in_addr_t)(c->id % opt.sources));
	if (connect_client(c) < 0)
		return NULL;
	rc = nfs_mkdir(c->nfs, c->dir);
	if (rc < 0 && rc != -EEXIST) {
		fail(c, K_CREATE, "mkdir %s: %s", c->dir, err_text(c, rc));
		goto out;
	}
	if (c->knob >= 0 && (rc = knob_load(c)) < 0) {
		fail(c, K_KNOB_READ, "%s: %s", knob_file[c->knob], err_text(c, rc));
		goto out;
	}
	while (!time_up()) {
		k = K_VERIFY;
		rc = step(c, &k);
		if (rc < 0 && conn_lost(c))
			fail(c, K_DROPPED, "the server closed the connection during %s: %s",
			     kind_name[k], err_text(c, rc));
		else if (rc < 0)
			fail(c, k, "%s", err_text(c, rc));
		if (c->dirty && resync(c) < 0)
			goto out;
	}
	/* All files verified once more, then removed: the memory must come back. */
	for (int s = 0; s < SLOTS; s++) {
		rc = verify(c, s);
		if (rc < 0)
			fail(c, K_VERIFY, "final: %s", err_text(c, rc));
	}
	cleanup(c);
out:
	disconnect(c);
	return NULL;
}

static int parse_range(const char *s, int64_t *lo, int64_t *hi)
{
	char *end;

	*lo = strtoll(s, &end, 10);
	if (*end != ':')
		return -EINVAL;
	*hi = strtoll(end + 1, &end, 10);
	return *end || *lo > *hi || *lo < 0 ? -EINVAL : 0;
}

/* Make (@make) or remove the clients' parent directory. Returns 0 or -errno. */
static int parent_dir(bool make)
{
	struct nfs_context *nfs = nfs_init_context();
	struct nfs_url *url = nfs ? nfs_parse_url_dir(nfs, opt.url) : NULL;
	int rc = url ? nfs_mount(nfs, url->server, url->path) : -EINVAL;

	if (rc == 0)
		rc = make ? nfs_mkdir(nfs, opt.dir) : nfs_rmdir(nfs, opt.dir);
	if (rc == -EEXIST && make)
		rc = 0;
	if (rc < 0)
		fprintf(stderr, "soak-client: %s %s on %s: %s (%s)\n", make ? "mkdir" : "rmdir",
			opt.dir, opt.url, strerror(-rc), nfs ? nfs_get_error(nfs) : "");
	if (url)
		nfs_destroy_url(url);
	if (nfs)
		nfs_destroy_context(nfs);
	return rc;
}

static void usage(void)
{
	fprintf(stderr, "usage: soak-client [-c clients] [-t seconds] [-d dir] [-m min:max] "
			"[-b min:max] [-a addresses] [-k] [-s seed] [-v] "
			"'nfs://host/?nfsport=P&mountport=P'\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct client *clients;
	unsigned long ops[K_COUNT] = {0}, fails[K_COUNT] = {0};
	unsigned long total_ops = 0, total_fails = 0, refused = 0, reconnects = 0;
	unsigned long long written = 0, verified = 0;
	int o, i, k;

	opt.seed = (uint64_t)time(NULL);
	while ((o = getopt(argc, argv, "a:c:t:d:m:b:ks:v")) != -1) {
		switch (o) {
		case 'a':
			opt.sources = atoi(optarg);
			break;
		case 'c':
			opt.clients = atoi(optarg);
			break;
		case 't':
			opt.seconds = atoi(optarg);
			break;
		case 'd':
			opt.dir = optarg;
			break;
		case 'm':
			if (parse_range(optarg, &opt.lo[KNOB_MRW], &opt.hi[KNOB_MRW]) < 0)
				usage();
			break;
		case 'b':
			if (parse_range(optarg, &opt.lo[KNOB_BACKLOG], &opt.hi[KNOB_BACKLOG]) < 0)
				usage();
			break;
		case 'k':
			opt.knob_writes = false;
			break;
		case 's':
			opt.seed = strtoull(optarg, NULL, 0);
			break;
		case 'v':
			opt.verbose = true;
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1 || opt.clients < 1 || opt.clients > MAX_CLIENTS || opt.seconds < 1 ||
	    opt.sources < 1 || opt.sources > 254)
		usage();
	opt.url = argv[optind];
	clock_gettime(CLOCK_MONOTONIC, &opt.end);
	opt.end.tv_sec += opt.seconds;

	/* The shared parent directory first; the clients make their own in it. */
	if (parent_dir(true) < 0)
		return 1;

	clients = calloc((size_t)opt.clients, sizeof(*clients));
	if (!clients)
		return 1;
	for (i = 0; i < opt.clients; i++) {
		struct client *c = &clients[i];

		c->id = i;
		c->rng =
		    (opt.seed + 1) * 0x9E3779B97F4A7C15ULL + (uint64_t)i * 0xBF58476D1CE4E5B9ULL;
		if (!c->rng)
			c->rng = 1;
		snprintf(c->dir, sizeof(c->dir), "%s/c%02d", opt.dir, i);
		c->knob = opt.knob_writes && i < KNOB_COUNT ? i : -1;
		if (pthread_create(&c->thread, NULL, client_main, c) != 0) {
			fprintf(stderr, "soak-client: pthread_create: %s\n", strerror(errno));
			return 1;
		}
	}
	for (i = 0; i < opt.clients; i++)
		pthread_join(clients[i].thread, NULL);

	for (i = 0; i < opt.clients; i++) {
		for (k = 0; k < K_COUNT; k++) {
			ops[k] += clients[i].ops[k];
			fails[k] += clients[i].fails[k];
		}
		refused += clients[i].connects_refused;
		reconnects += clients[i].reconnects;
		written += clients[i].written;
		verified += clients[i].verified;
	}
	/* Removed too: the tree is back to what it was. */
	if (parent_dir(false) < 0)
		fails[K_CLEANUP]++;
	for (k = 0; k < K_COUNT; k++) {
		if (k == K_DROPPED)
			printf("  %-13s %13s  failed %lu\n", kind_name[k], "", fails[k]);
		else
			printf("  %-13s ops %9lu  failed %lu\n", kind_name[k], ops[k], fails[k]);
		if (k != K_CONNECT)
			total_ops += ops[k];
		total_fails += fails[k];
	}
	printf(
	    "soak-client: %d clients from %d address%s, %d s: %lu ops, %lu failures; connects %lu, "
	    "connects refused %lu (retried), dropped %lu, reconnects %lu; "
	    "%.1f MiB written, %.1f MiB verified; seed %" PRIu64 "\n",
	    opt.clients, opt.sources, opt.sources > 1 ? "es" : "", opt.seconds, total_ops,
	    total_fails, ops[K_CONNECT], refused, fails[K_DROPPED], reconnects, written / 1048576.0,
	    verified / 1048576.0, opt.seed);
	return total_fails ? 1 : 0;
}
