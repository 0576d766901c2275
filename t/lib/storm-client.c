/*
 * The NFS client of the kill storm (83_killstorm.t): one libnfs client that
 * churns files in a directory of its own, and maybe writes a knob, while
 * the test kills the server's children under it; then removes everything
 * it made.
 *
 *   storm-client -t SECONDS -d DIR [-k KNOB:MIN:MAX] [-s SEED] 'nfs://host/?nfsport=P&mountport=P'
 *
 * Until the time is up it picks: create or replace one of four files in
 * DIR (several WRITEs, then COMMIT), rename one over another, remove one,
 * read one, list DIR, or (with -k) write a value to /config/KNOB the way
 * `echo N >` does. It keeps no model of the files: the soak (t/soak) checks
 * content; this client checks that the server keeps answering.
 *
 * A connection the server closes (its child was killed) is a "drop", not a
 * failure: the client connects again and carries on (after a failure too).
 * It never destroys the dropped context: libnfs 4.0 may crash in nfs_destroy_context after a
 * connection was reset under it (t/soak/soak-client.c does, under kills), and
 * this process is short-lived. A call not answered within 10 s, or any other
 * error than a missing or existing name, is a failure. At the end it removes
 * its four files and DIR, and DIR's parent once it is empty (the last client
 * to end removes it), retrying through drops for up to 30 s.
 *
 * Output: failures on stderr (the first 10), then one line on stdout:
 *   storm-client DIR: N ops, D dropped, F failed, R reconnects; removed|NOT removed
 * Exit status 0 when nothing failed and everything was removed, 1 otherwise,
 * 2 for a usage error.
 */
#define _GNU_SOURCE /* POLLRDHUP */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nfsc/libnfs.h>

#define FILES		 4
#define FILE_MAX	 (32 * 1024)
#define CHUNK_MAX	 (8 * 1024)
#define RPC_TIMEOUT_MS	 10000 /* a call unanswered this long: the server is stuck */
#define CONNECT_WINDOW_S 30
#define FAILURES_SHOWN	 10

static struct {
	const char *url, *dir, *knob;
	int64_t lo, hi;
	int seconds;
	uint64_t seed;
} opt;

static struct nfs_context *nfs;
static uint64_t rng;
static unsigned long ops, drops, failures, reconnects;
static unsigned char buf[FILE_MAX];

static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545F4914F6CDD1DULL;
}

static size_t rnd_below(size_t n)
{
	return n ? (size_t)(rnd() % n) : 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fail(const char *fmt, ...)
{
	va_list ap;

	if (failures++ >= FAILURES_SHOWN)
		return;
	fprintf(stderr, "storm-client %s: ", opt.dir);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Did the server close our connection (gone, hung up, or EOF)? */
static bool conn_lost(void)
{
	int fd = nfs ? nfs_get_fd(nfs) : -1;
	struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};

	if (fd < 0)
		return true;
	if (poll(&p, 1, 0) < 0)
		return false;
	return (p.revents & (POLLHUP | POLLERR | POLLRDHUP | POLLNVAL)) != 0;
}

/* A fresh context, connected and mounted, retried for CONNECT_WINDOW_S. 0 or -errno. */
static int connect_server(void)
{
	double start = now();
	int rc = -EIO;

	for (;;) {
		struct nfs_url *url;

		/* The previous context is dropped, not destroyed (see the top). */
		nfs = nfs_init_context();
		if (!nfs)
			return -ENOMEM;
		url = nfs_parse_url_dir(nfs, opt.url);
		if (!url) {
			fprintf(stderr, "storm-client: bad url %s: %s\n", opt.url,
				nfs_get_error(nfs));
			exit(2);
		}
		nfs_set_autoreconnect(nfs, 0);
		nfs_set_timeout(nfs, RPC_TIMEOUT_MS);
		nfs_set_dircache(nfs, 0);
		rc = nfs_mount(nfs, url->server, url->path);
		nfs_destroy_url(url);
		if (rc == 0)
			return 0;
		nfs = NULL;
		if (now() - start >= CONNECT_WINDOW_S)
			return rc;
		usleep((useconds_t)(100000 + rnd_below(200000)));
	}
}

/*
 * After a call returned @rc: 0 when it succeeded or only met a name that
 * is (not) there, 1 when the connection was lost (counted, and a new one
 * made), -1 when it failed.
 */
static int judge(int rc, const char *what, const char *path)
{
	bool lost;

	if (rc >= 0 || rc == -ENOENT || rc == -EEXIST || rc == -ENOTEMPTY)
		return 0;
	lost = conn_lost();
	if (lost)
		drops++;
	else
		fail("%s %s: %s (%s)", what, path, strerror(-rc), nfs_get_error(nfs));
	/* Either way on a new connection: a call that timed out may still be queued. */
	reconnects++;
	if (connect_server() < 0) {
		fail("no connection for %d s after %s %s", CONNECT_WINDOW_S,
		     lost ? "a drop during" : "a failed", what);
		return -1;
	}
	return lost ? 1 : -1;
}

static void file_path(char *p, size_t size, size_t i)
{
	snprintf(p, size, "%s/f%zu", opt.dir, i);
}

static int put(const char *path, int flags, const unsigned char *data, size_t len)
{
	struct nfsfh *fh;
	size_t off = 0;
	int rc, rc2;

	rc = nfs_open(nfs, path, flags, &fh);
	if (rc < 0)
		return rc;
	while (off < len) {
		size_t n = 1 + rnd_below(CHUNK_MAX);
		int w;

		if (n > len - off)
			n = len - off;
		w = nfs_pwrite(nfs, fh, off, n, (void *)(data + off));
		if (w <= 0) {
			rc = w < 0 ? w : -EIO;
			break;
		}
		off += (size_t)w;
	}
	rc2 = nfs_close(nfs, fh); /* COMMIT */
	return rc < 0 ? rc : rc2;
}

static int get(const char *path)
{
	struct nfsfh *fh;
	int rc, n;

	rc = nfs_open(nfs, path, O_RDONLY, &fh);
	if (rc < 0)
		return rc;
	n = nfs_pread(nfs, fh, 0, sizeof(buf), buf);
	rc = nfs_close(nfs, fh);
	return n < 0 ? n : rc;
}

static int list(const char *path)
{
	struct nfsdir *d;
	int rc = nfs_opendir(nfs, path, &d);

	if (rc < 0)
		return rc;
	while (nfs_readdir(nfs, d))
		;
	nfs_closedir(nfs, d);
	return 0;
}

static void step(void)
{
	char a[512], b[512], text[32];
	size_t r = rnd_below(100), i = rnd_below(FILES), j = (i + 1 + rnd_below(FILES - 1)) % FILES;
	int rc;

	file_path(a, sizeof(a), i);
	file_path(b, sizeof(b), j);
	ops++;
	if (opt.knob && r < 10) {
		int64_t v = opt.lo + (int64_t)rnd_below((size_t)(opt.hi - opt.lo + 1));

		snprintf(a, sizeof(a), "/config/%s", opt.knob);
		snprintf(text, sizeof(text), "%" PRId64 "\n", v);
		judge(put(a, O_WRONLY | O_TRUNC, (unsigned char *)text, strlen(text)), "knob write",
		      a);
	} else if (r < 50) {
		size_t len = rnd_below(FILE_MAX + 1);

		for (size_t k = 0; k < len; k++)
			buf[k] = (unsigned char)(rnd() >> 56);
		rc = put(a, O_WRONLY | O_CREAT | O_TRUNC, buf, len);
		judge(rc, "write", a);
	} else if (r < 65) {
		judge(nfs_rename(nfs, a, b), "rename", a);
	} else if (r < 85) {
		judge(nfs_unlink(nfs, a), "remove", a);
	} else if (r < 95) {
		judge(get(a), "read", a);
	} else {
		judge(list(opt.dir), "list", opt.dir);
	}
}

/* Remove the files, DIR and DIR's parent if empty. True when DIR is gone. */
static bool cleanup(void)
{
	double start = now();
	char p[512], parent[512];
	char *slash;

	snprintf(parent, sizeof(parent), "%s", opt.dir);
	slash = strrchr(parent, '/');
	if (slash)
		*slash = '\0';
	while (now() - start < CONNECT_WINDOW_S) {
		int again = 0, rc;

		for (size_t i = 0; i < FILES && !again; i++) {
			file_path(p, sizeof(p), i);
			again = judge(nfs_unlink(nfs, p), "cleanup: remove", p);
			if (again < 0)
				return false;
		}
		if (again)
			continue;
		rc = nfs_rmdir(nfs, opt.dir);
		if (rc == -ENOTEMPTY) {
			fail("cleanup: %s is not empty after its files were removed", opt.dir);
			return false;
		}
		again = judge(rc, "cleanup: rmdir", opt.dir);
		if (again)
			continue;
		if (parent[0])
			judge(nfs_rmdir(nfs, parent), "cleanup: rmdir", parent);
		return true;
	}
	fail("cleanup: not done in %d s", CONNECT_WINDOW_S);
	return false;
}

static void usage(void)
{
	fprintf(stderr, "usage: storm-client -t seconds -d dir [-k knob:min:max] [-s seed] "
			"'nfs://host/?nfsport=P&mountport=P'\n");
	exit(2);
}

int main(int argc, char **argv)
{
	char parent[512], *slash;
	double end;
	bool removed = false;
	int o, rc;

	opt.seed = (uint64_t)time(NULL);
	while ((o = getopt(argc, argv, "t:d:k:s:")) != -1) {
		switch (o) {
		case 't':
			opt.seconds = atoi(optarg);
			break;
		case 'd':
			opt.dir = optarg;
			break;
		case 'k': {
			char *c1 = strchr(optarg, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

			if (!c2)
				usage();
			*c1 = '\0';
			opt.knob = optarg;
			opt.lo = strtoll(c1 + 1, NULL, 10);
			opt.hi = strtoll(c2 + 1, NULL, 10);
			if (opt.lo > opt.hi)
				usage();
			break;
		}
		case 's':
			opt.seed = strtoull(optarg, NULL, 0);
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1 || opt.seconds < 1 || !opt.dir || opt.dir[0] != '/')
		usage();
	opt.url = argv[optind];
	rng = (opt.seed + 1) * 0x9E3779B97F4A7C15ULL;
	if (!rng)
		rng = 1;

	rc = connect_server();
	if (rc < 0) {
		fail("no connection in %d s: %s", CONNECT_WINDOW_S, strerror(-rc));
		goto out;
	}
	snprintf(parent, sizeof(parent), "%s", opt.dir);
	slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		while ((rc = judge(nfs_mkdir(nfs, parent), "mkdir", parent)) > 0)
			;
		if (rc < 0)
			goto out;
	}
	while ((rc = judge(nfs_mkdir(nfs, opt.dir), "mkdir", opt.dir)) > 0)
		;
	if (rc < 0)
		goto out;
	end = now() + opt.seconds;
	while (now() < end && nfs)
		step();
	if (nfs)
		removed = cleanup();
out:
	printf("storm-client %s: %lu ops, %lu dropped, %lu failed, %lu reconnects; %s\n", opt.dir,
	       ops, drops, failures, reconnects, removed ? "removed" : "NOT removed");
	return failures || !removed ? 1 : 0;
}
