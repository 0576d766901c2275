/*
 * The NFS client of the crash and disk-full tests (t/module/69_crash.t,
 * t/module/69_full.t): it writes with stable writes only and says, one line
 * at a time, which writes the server acknowledged, so that the test can ask
 * after a crash whether every acknowledged write is still there.
 *
 *   crash-client [-c] [-b FIRST] [-n FILES] [-k KNOB:MIN:MAX] [-t SECONDS] [-d DIR] URL
 *   crash-client -r [-n FILES] [-k KNOB] [-d DIR] URL
 *   crash-client -f SIZE [-d DIR] URL
 *
 * URL: 'nfs://host/?nfsport=P&mountport=P'. DIR defaults to /crash.
 *
 * Stream (the default): for i = FIRST, FIRST + 1, ...: write "i\n" at offset
 * 0 of DIR/f<i % FILES> (FILES 50), and when i is a multiple of 10 write
 * MIN + (i / 10) % (MAX - MIN + 1) to /config/KNOB the way `echo N >` does.
 * The files are opened once and never truncated: i only grows, so each value
 * covers the one before and a file always holds one whole value. A write is
 * stable before it is acknowledged: FILE_SYNC (the files are opened O_SYNC,
 * which libnfs turns into stable = FILE_SYNC), or with -c UNSTABLE followed
 * by COMMIT (nfs_fsync). After each acknowledgement one line, flushed at once:
 *   ACK PATH VALUE
 * The first write that fails (the server died under it) ends the client:
 *   FAIL PATH VALUE: ERROR      exit 1
 * as does a failure before the first value (making DIR, opening a file):
 *   FAIL PATH open: ERROR       exit 1
 * and the time limit (-t, default 30 s):
 *   DONE NEXT-VALUE             exit 0
 * Every call gives up after 5 s, and libnfs does not reconnect: a client whose
 * server is gone ends instead of waiting.
 *
 * Read back (-r): what each file of the stream and the knob hold, one line each:
 *   HAS PATH "CONTENT"  (C escapes: \n, \\, \", \xNN)  or  NONE PATH
 * exit 0; on any other error ERR PATH: ERROR, exit 1.
 *
 * Fill (-f SIZE): create DIR/f0, f1, ... of SIZE bytes each (O_SYNC: one
 * FILE_SYNC write per wsize) until one fails; byte j of DIR/f<n> is line
 * j / 64 of the file, each line "NNNNNN KKKKKK " (n, the line number k) then
 * 49 times the letter 'a' + (n + k) % 26 and a newline. After each file:
 *   ACK PATH SIZE
 * then, for the failure:
 *   NOSPC PATH create|write: ERROR   exit 0 (the server said NFS3ERR_NOSPC)
 *   FAIL PATH create|write: ERROR    exit 1 (anything else)
 * The server's reason decides: libnfs's text for a refused WRITE names the
 * NFS status ("NFS3ERR_NOSPC"), taken in the callback of the asynchronous
 * call (libnfs 4.0's nfs_pwrite says EFAULT whatever the reason, and prints
 * the reply's first bytes as its text).
 *
 * Exit status 2 for a usage error or no connection at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nfsc/libnfs.h>

#define FILES_MAX      1000
#define RPC_TIMEOUT_MS 5000
#define LINE	       64

static struct {
	const char *url, *dir, *knob;
	int64_t lo, hi, first;
	unsigned files, seconds;
	size_t fill;
	bool commit, read_back, ranged;
} opt = {.dir = "/crash", .files = 50, .seconds = 30};

static struct nfs_context *nfs;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: crash-client [-c] [-b first] [-n files] [-k knob:min:max] [-t seconds] "
		"[-d dir] URL\n"
		"       crash-client -r [-n files] [-k knob] [-d dir] URL\n"
		"       crash-client -f size [-d dir] URL\n");
	exit(2);
}

/* Mounted, without reconnection, every call bounded; exits 2 when it can't. */
static void connect_server(void)
{
	struct nfs_url *url;

	nfs = nfs_init_context();
	if (!nfs) {
		fprintf(stderr, "crash-client: no libnfs context\n");
		exit(2);
	}
	url = nfs_parse_url_dir(nfs, opt.url);
	if (!url) {
		fprintf(stderr, "crash-client: bad url %s: %s\n", opt.url, nfs_get_error(nfs));
		exit(2);
	}
	nfs_set_autoreconnect(nfs, 0);
	nfs_set_timeout(nfs, RPC_TIMEOUT_MS);
	nfs_set_dircache(nfs, 0);
	if (nfs_mount(nfs, url->server, url->path) < 0) {
		fprintf(stderr, "crash-client: mount %s: %s\n", opt.url, nfs_get_error(nfs));
		exit(2);
	}
	nfs_destroy_url(url);
}

/* libnfs's account of the last failure, taken when it happened (see write_all). */
static char reason[256];

static const char *error_text(struct nfs_context *ctx)
{
	const char *e = nfs_get_error(ctx);

	return e ? e : "";
}

static int note(int rc)
{
	if (rc < 0)
		snprintf(reason, sizeof(reason), "%s", error_text(nfs));
	return rc;
}

static const char *why(int rc)
{
	static char text[512];

	snprintf(text, sizeof(text), "%s (%s)", strerror(-rc), reason);
	return text;
}

/* One asynchronous call in flight and its result. */
struct call {
	bool done;
	int rc;
	char before[256]; /* libnfs's error text before the call */
};

static void write_done(int err, struct nfs_context *ctx, void *data, void *private_data)
{
	struct call *c = private_data;

	(void)data;
	c->rc = err;
	/* Taken here: libnfs 4.0's sync API writes over it (and then says only EFAULT). */
	if (err < 0 && strcmp(error_text(ctx), c->before) != 0)
		snprintf(reason, sizeof(reason), "%s", error_text(ctx));
	else if (err < 0)
		snprintf(reason, sizeof(reason), "libnfs gave no reason: the connection was lost?");
	c->done = true;
}

/* Serve the context until @c is done or RPC_TIMEOUT_MS pass: 0, or -errno. */
static int wait_call(struct call *c)
{
	double end = now() + RPC_TIMEOUT_MS / 1000.0;

	while (!c->done) {
		struct pollfd p = {.fd = nfs_get_fd(nfs), .events = (short)nfs_which_events(nfs)};
		int n = poll(&p, 1, 100);

		if (n < 0 && errno != EINTR)
			return -errno;
		/* revents 0 every 100 ms: libnfs checks its own timeouts then. */
		if (nfs_service(nfs, n > 0 ? p.revents : 0) < 0 && !c->done)
			return note(-ECONNRESET);
		if (!c->done && now() > end) {
			snprintf(reason, sizeof(reason), "no reply in %d ms", RPC_TIMEOUT_MS);
			return -ETIMEDOUT;
		}
	}
	return 0;
}

/*
 * All of @len bytes at @off: 0 or -errno, the server's reason in reason[].
 * The asynchronous call, because libnfs 4.0's nfs_pwrite loses the reason of
 * a refused WRITE (it says EFAULT, and its error text is the reply's bytes).
 */
static int write_all(struct nfsfh *fh, uint64_t off, const char *data, size_t len)
{
	size_t done = 0;

	while (done < len) {
		struct call c = {0};
		int rc;

		snprintf(c.before, sizeof(c.before), "%s", error_text(nfs));
		rc = nfs_pwrite_async(nfs, fh, off + done, len - done, data + done, write_done, &c);

		rc = rc == 0 ? wait_call(&c) : note(rc);
		if (rc == 0)
			rc = c.rc == 0 ? -EIO : c.rc;
		if (rc < 0)
			return rc;
		done += (size_t)rc;
	}
	return 0;
}

/* Stable: FILE_SYNC already (O_SYNC), or with -c the COMMIT that makes it so. */
static int write_stable(struct nfsfh *fh, const char *data, size_t len)
{
	int rc = write_all(fh, 0, data, len);

	if (rc == 0 && opt.commit)
		rc = note(nfs_fsync(nfs, fh));
	return rc;
}

static int sync_flag(void)
{
	return opt.commit ? 0 : O_SYNC;
}

static void ack(const char *path, int64_t value)
{
	printf("ACK %s %" PRId64 "\n", path, value);
	fflush(stdout);
}

/* @value < 0: it failed before writing (making DIR, opening a file). */
static void __attribute__((noreturn)) failed(const char *path, int64_t value, int rc)
{
	if (value < 0)
		printf("FAIL %s open: %s\n", path, why(rc));
	else
		printf("FAIL %s %" PRId64 ": %s\n", path, value, why(rc));
	exit(1);
}

static int knob_write(const char *path, int64_t value)
{
	struct nfsfh *fh;
	char text[32];
	int rc, len = snprintf(text, sizeof(text), "%" PRId64 "\n", value);

	rc = note(nfs_open(nfs, path, O_WRONLY | O_TRUNC | sync_flag(), &fh));
	if (rc < 0)
		return rc;
	rc = write_stable(fh, text, (size_t)len);
	if (rc == 0)
		ack(path, value);
	/* Already stable: a failed close (its COMMIT) takes nothing back. */
	nfs_close(nfs, fh);
	return rc;
}

static int stream(void)
{
	static struct nfsfh *fh[FILES_MAX];
	static char path[FILES_MAX][256];
	char knob[256], text[32];
	double end = now() + opt.seconds;
	int64_t i;
	int rc;

	rc = note(nfs_mkdir(nfs, opt.dir));
	if (rc < 0 && rc != -EEXIST)
		failed(opt.dir, -1, rc);
	for (unsigned f = 0; f < opt.files; f++) {
		snprintf(path[f], sizeof(path[f]), "%s/f%u", opt.dir, f);
		rc = note(nfs_open2(nfs, path[f], O_WRONLY | O_CREAT | sync_flag(), 0644, &fh[f]));
		if (rc < 0)
			failed(path[f], -1, rc);
	}
	snprintf(knob, sizeof(knob), "/config/%s", opt.knob ? opt.knob : "");
	for (i = opt.first; now() < end; i++) {
		unsigned f = (unsigned)(i % opt.files);
		int len = snprintf(text, sizeof(text), "%" PRId64 "\n", i);

		rc = write_stable(fh[f], text, (size_t)len);
		if (rc < 0)
			failed(path[f], i, rc);
		ack(path[f], i);
		if (opt.knob && i % 10 == 0) {
			int64_t v = opt.lo + (i / 10) % (opt.hi - opt.lo + 1);

			rc = knob_write(knob, v);
			if (rc < 0)
				failed(knob, v, rc);
		}
	}
	printf("DONE %" PRId64 "\n", i);
	return 0;
}

/* One line of -r: HAS PATH "CONTENT", NONE PATH, or ERR (then false). */
static bool show(const char *path)
{
	struct nfsfh *fh;
	unsigned char buf[256];
	int rc, n;

	rc = note(nfs_open(nfs, path, O_RDONLY, &fh));
	if (rc == -ENOENT) {
		printf("NONE %s\n", path);
		return true;
	}
	if (rc < 0) {
		printf("ERR %s: %s\n", path, why(rc));
		return false;
	}
	n = note(nfs_pread(nfs, fh, 0, sizeof(buf), buf));
	nfs_close(nfs, fh);
	if (n < 0) {
		printf("ERR %s: %s\n", path, why(n));
		return false;
	}
	printf("HAS %s \"", path);
	for (int k = 0; k < n; k++) {
		if (buf[k] == '\n')
			fputs("\\n", stdout);
		else if (buf[k] == '\\' || buf[k] == '"')
			printf("\\%c", buf[k]);
		else if (buf[k] < 0x20 || buf[k] > 0x7e)
			printf("\\x%02x", buf[k]);
		else
			putchar(buf[k]);
	}
	puts("\"");
	return true;
}

static int read_back(void)
{
	char path[512];
	bool ok = true;

	for (unsigned f = 0; f < opt.files; f++) {
		snprintf(path, sizeof(path), "%s/f%u", opt.dir, f);
		ok = show(path) && ok;
	}
	if (opt.knob) {
		snprintf(path, sizeof(path), "/config/%s", opt.knob);
		ok = show(path) && ok;
	}
	return ok ? 0 : 1;
}

static void fill_content(char *buf, size_t size, unsigned n)
{
	char line[LINE + 1];

	for (size_t off = 0; off < size; off += LINE) {
		unsigned k = (unsigned)(off / LINE);
		int len = snprintf(line, sizeof(line), "%06u %06u ", n, k);

		memset(line + len, 'a' + (n + k) % 26, LINE - 1 - (size_t)len);
		line[LINE - 1] = '\n';
		memcpy(buf + off, line, size - off < LINE ? size - off : LINE);
	}
}

static int fill(void)
{
	char path[512], *buf = malloc(opt.fill);
	const char *what;
	struct nfsfh *fh;
	int rc;

	if (!buf)
		return 2;
	rc = note(nfs_mkdir(nfs, opt.dir));
	if (rc < 0 && rc != -EEXIST) {
		printf("FAIL %s mkdir: %s\n", opt.dir, why(rc));
		return 1;
	}
	for (unsigned n = 0;; n++) {
		snprintf(path, sizeof(path), "%s/f%u", opt.dir, n);
		fill_content(buf, opt.fill, n);
		what = "create";
		rc = note(nfs_create(nfs, path, O_EXCL | O_SYNC, 0644, &fh));
		if (rc == 0) {
			what = "write";
			rc = write_all(fh, 0, buf, opt.fill);
			nfs_close(nfs, fh);
		}
		if (rc < 0)
			break;
		ack(path, (int64_t)opt.fill);
	}
	free(buf);
	if (rc == -ENOSPC || strstr(reason, "NFS3ERR_NOSPC")) {
		printf("NOSPC %s %s: %s\n", path, what, why(rc));
		return 0;
	}
	printf("FAIL %s %s: %s\n", path, what, why(rc));
	return 1;
}

int main(int argc, char **argv)
{
	int o;

	while ((o = getopt(argc, argv, "cb:n:k:t:d:rf:")) != -1) {
		switch (o) {
		case 'c':
			opt.commit = true;
			break;
		case 'b':
			opt.first = strtoll(optarg, NULL, 10);
			break;
		case 'n':
			opt.files = (unsigned)atoi(optarg);
			break;
		case 'k': {
			char *c1 = strchr(optarg, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

			opt.knob = optarg;
			if (!c1)
				break;
			if (!c2)
				usage();
			*c1 = '\0';
			opt.lo = strtoll(c1 + 1, NULL, 10);
			opt.hi = strtoll(c2 + 1, NULL, 10);
			opt.ranged = opt.lo <= opt.hi;
			break;
		}
		case 't':
			opt.seconds = (unsigned)atoi(optarg);
			break;
		case 'd':
			opt.dir = optarg;
			break;
		case 'r':
			opt.read_back = true;
			break;
		case 'f':
			opt.fill = strtoull(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1 || opt.files < 1 || opt.files > FILES_MAX || opt.dir[0] != '/' ||
	    opt.first < 0 || (opt.knob && !opt.read_back && !opt.fill && !opt.ranged))
		usage();
	opt.url = argv[optind];
	connect_server();
	if (opt.read_back)
		return read_back();
	if (opt.fill)
		return fill();
	return stream();
}
