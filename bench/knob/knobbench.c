/*
 * knobbench: how long a MaxRequestWorkers change takes to be in force in
 * every httpd child, two ways.
 *
 * -m nfs (mod_umlconf): write the knob over NFSv3 with libnfs (one WRITE,
 *   FILE_SYNC), take CLOCK_REALTIME when the reply is back, then read
 *   /status/generation and poll /status/children (lines "CPU PID GENERATION
 *   APPLIED_NS", '#' header) until -C children show that generation.
 *   apply latency = max(APPLIED_NS) - reply time. It can be negative: the
 *   children may apply before the reply has reached the client. The time
 *   from sending the WRITE to the last child applying is also reported;
 *   that one is always positive. Before each knob write, the same bytes are
 *   written (FILE_SYNC) to a plain file of the same export (-p, created if
 *   missing): the WRITE round trip of a file nothing watches, for the ratio.
 *   Each timed WRITE follows an untimed GETATTR of its file.
 *
 * -m graceful (the classic way, no module): rewrite an Include file that sets
 *   MaxRequestWorkers, run the graceful command (apache2 -f CONF -k
 *   graceful), and poll /proc/PARENT/task/PARENT/children until every child
 *   that existed before is gone and -C new children are up. Reported time is
 *   from starting the command to that moment.
 *
 * -m set (for bench/run): write -a VALUE to the knob -k once.
 * -m cat (for bench/run): print the file -k.
 *
 * Output is one key=value line per run so bench/run can parse it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nfsc/libnfs.h>

#define MAX_CHILDREN 512
#define STATUS_BUF   65536 /* one READ: /status files are rendered per READ */

struct kb_cfg {
	const char *mode;
	const char *url;      /* nfs mode: nfs://host/?nfsport=P&mountport=P */
	const char *knob;     /* nfs mode: path of the knob in the export */
	const char *plain;    /* nfs mode: a plain file in the export, for the peer WRITE */
	const char *incfile;  /* graceful mode: Include file to rewrite */
	const char *graceful; /* graceful mode: command (sh -c) */
	int parent;	      /* graceful mode: httpd parent pid */
	int children;
	int iters;
	int value_a, value_b; /* alternated so every write is a change */
	double timeout_s;
	double gap_s; /* pause between iterations */
};

static struct kb_cfg cfg;

static int64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static void print_stats(const char *name, int64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_i64);
	printf(" %s_p50_us=%.1f %s_p99_us=%.1f %s_max_us=%.1f", name, v[n / 2] / 1e3, name,
	       v[(int)((double)n * 0.99)] / 1e3, name, v[n - 1] / 1e3);
}

/* Read a whole small file through an open handle; returns length or -errno. */
static int nfs_slurp(struct nfs_context *nfs, struct nfsfh *fh, char *buf, size_t cap)
{
	int rc = nfs_pread(nfs, fh, 0, cap - 1, buf);

	if (rc < 0)
		return rc;
	buf[rc] = '\0';
	return rc;
}

/*
 * Parse /status/children: count the children at generation >= gen and the
 * latest APPLIED_NS among them. Returns how many are at gen, or -1 while any
 * listed child is still behind. A child whose watcher has not made its
 * first round yet (APPLIED_NS 0) counts as behind.
 */
static int parse_children(const char *text, uint64_t gen, int64_t *max_applied)
{
	const char *p = text;
	int at_gen = 0, behind = 0;

	*max_applied = 0;
	while (*p) {
		const char *eol = strchr(p, '\n');
		unsigned long long g;
		long long applied;
		int cpu, pid;

		if (*p != '#' && sscanf(p, "%d %d %llu %lld", &cpu, &pid, &g, &applied) == 4 &&
		    g >= gen && applied > 0) {
			at_gen++;
			if (applied > *max_applied)
				*max_applied = applied;
		} else if (*p != '#' && *p != '\n') {
			behind++;
		}
		if (!eol)
			break;
		p = eol + 1;
	}
	return behind ? -1 : at_gen;
}

/*
 * One WRITE of @val to @fh (@path for errors), its send and reply times on
 * CLOCK_REALTIME, the clock of applied_ns. An untimed GETATTR goes first:
 * after the pause between rounds the first call also pays for waking the
 * server's idle CPU, and the plain and the knob WRITE must be on equal terms.
 */
static int timed_write(struct nfs_context *nfs, struct nfsfh *fh, const char *path, const char *val,
		       int len, int64_t *sent, int64_t *replied)
{
	struct nfs_stat_64 st;

	if (nfs_fstat64(nfs, fh, &st) < 0) {
		fprintf(stderr, "knobbench: getattr %s: %s\n", path, nfs_get_error(nfs));
		return -1;
	}
	*sent = realtime_ns();
	if (nfs_pwrite(nfs, fh, 0, (uint64_t)len, val) != len) {
		fprintf(stderr, "knobbench: write %s: %s\n", path, nfs_get_error(nfs));
		return -1;
	}
	*replied = realtime_ns();
	return 0;
}

/* The peer file, created if missing, opened like the knob (O_SYNC: FILE_SYNC writes). */
static int open_plain(struct nfs_context *nfs, struct nfsfh **fh)
{
	struct nfsfh *created;

	if (nfs_open(nfs, cfg.plain, O_WRONLY | O_SYNC, fh) == 0)
		return 0;
	if (nfs_creat(nfs, cfg.plain, 0644, &created) < 0)
		return -1;
	nfs_close(nfs, created);
	return nfs_open(nfs, cfg.plain, O_WRONLY | O_SYNC, fh);
}

static int run_nfs(void)
{
	struct nfs_context *nfs;
	struct nfs_url *url;
	struct nfsfh *knob = NULL, *genf = NULL, *kids = NULL, *plain = NULL;
	int64_t *from_reply, *from_send, *rtt, *plain_rtt;
	char *buf, val[32];
	int i, n = 0, rc = 1, polls = 0;

	from_reply = calloc((size_t)cfg.iters, sizeof(int64_t));
	from_send = calloc((size_t)cfg.iters, sizeof(int64_t));
	rtt = calloc((size_t)cfg.iters, sizeof(int64_t));
	plain_rtt = calloc((size_t)cfg.iters, sizeof(int64_t));
	buf = malloc(STATUS_BUF);
	nfs = nfs_init_context();
	if (!from_reply || !from_send || !rtt || !plain_rtt || !buf || !nfs)
		return 1;
	nfs_set_timeout(nfs, 10000);
	url = nfs_parse_url_dir(nfs, cfg.url);
	if (!url || nfs_mount(nfs, url->server, url->path) < 0) {
		fprintf(stderr, "knobbench: mount %s: %s\n", cfg.url, nfs_get_error(nfs));
		goto out;
	}
	if (nfs_open(nfs, cfg.knob, O_WRONLY | O_SYNC, &knob) < 0 ||
	    nfs_open(nfs, "/status/generation", O_RDONLY, &genf) < 0 ||
	    nfs_open(nfs, "/status/children", O_RDONLY, &kids) < 0) {
		fprintf(stderr, "knobbench: open: %s\n", nfs_get_error(nfs));
		goto out;
	}
	if (open_plain(nfs, &plain) < 0) {
		fprintf(stderr, "knobbench: create %s: %s\n", cfg.plain, nfs_get_error(nfs));
		goto out;
	}

	/* Wait until every child's watcher runs, so the first write is like the rest. */
	for (i = 0;; i++) {
		int64_t ignored;

		if (nfs_slurp(nfs, kids, buf, STATUS_BUF) < 0) {
			fprintf(stderr, "knobbench: read /status/children: %s\n",
				nfs_get_error(nfs));
			goto out;
		}
		if (parse_children(buf, 0, &ignored) >= cfg.children)
			break;
		if (i * 0.01 > cfg.timeout_s) {
			fprintf(stderr,
				"knobbench: fewer than %d children in /status/children:\n%s",
				cfg.children, buf);
			goto out;
		}
		sleep_s(0.01);
	}

	for (i = 0; i < cfg.iters; i++) {
		int64_t t_send, t_reply, t_mono_reply, t_plain, t_plain_done, max_applied = 0;
		unsigned long long gen;
		int len, at_gen = 0;

		len = snprintf(val, sizeof(val), "%d\n", (i & 1) ? cfg.value_b : cfg.value_a);
		if (timed_write(nfs, plain, cfg.plain, val, len, &t_plain, &t_plain_done) < 0 ||
		    timed_write(nfs, knob, cfg.knob, val, len, &t_send, &t_reply) < 0)
			goto out;
		plain_rtt[n] = t_plain_done - t_plain;
		t_mono_reply = mono_ns();
		/* Nobody else writes knobs during the run: this is our generation. */
		if (nfs_slurp(nfs, genf, buf, STATUS_BUF) < 0 || sscanf(buf, "%llu", &gen) != 1) {
			fprintf(stderr, "knobbench: read /status/generation: %s\n",
				nfs_get_error(nfs));
			goto out;
		}
		for (;;) {
			if (nfs_slurp(nfs, kids, buf, STATUS_BUF) < 0) {
				fprintf(stderr, "knobbench: read /status/children: %s\n",
					nfs_get_error(nfs));
				goto out;
			}
			polls++;
			at_gen = parse_children(buf, gen, &max_applied);
			if (at_gen >= cfg.children)
				break;
			if ((double)(mono_ns() - t_mono_reply) / 1e9 > cfg.timeout_s) {
				fprintf(stderr,
					"knobbench: only %d of %d children at generation %llu "
					"after %.1fs:\n%s",
					at_gen, cfg.children, gen, cfg.timeout_s, buf);
				goto out;
			}
		}
		from_reply[n] = max_applied - t_reply;
		from_send[n] = max_applied - t_send;
		rtt[n] = t_reply - t_send;
		n++;
		sleep_s(cfg.gap_s);
	}
	printf("mode=nfs children=%d iters=%d", cfg.children, n);
	print_stats("apply_from_reply", from_reply, n);
	print_stats("apply_from_send", from_send, n);
	print_stats("write_rtt", rtt, n);
	print_stats("plain_rtt", plain_rtt, n);
	printf(" polls_per_iter=%.1f\n", (double)polls / n);
	rc = 0;
out:
	if (knob)
		nfs_close(nfs, knob);
	if (genf)
		nfs_close(nfs, genf);
	if (kids)
		nfs_close(nfs, kids);
	if (plain)
		nfs_close(nfs, plain);
	if (url)
		nfs_destroy_url(url);
	nfs_destroy_context(nfs);
	free(buf);
	free(from_reply);
	free(from_send);
	free(rtt);
	free(plain_rtt);
	return rc;
}

/* -m set and -m cat: one write or one read of -k, for scripts. */
static int run_once(bool write)
{
	struct nfs_context *nfs = nfs_init_context();
	struct nfs_url *url = NULL;
	struct nfsfh *fh = NULL;
	char buf[STATUS_BUF];
	int rc = 1, len;

	if (!nfs)
		return 1;
	url = nfs_parse_url_dir(nfs, cfg.url);
	if (!url || nfs_mount(nfs, url->server, url->path) < 0 ||
	    nfs_open(nfs, cfg.knob, write ? O_WRONLY | O_SYNC : O_RDONLY, &fh) < 0) {
		fprintf(stderr, "knobbench: %s: %s\n", cfg.knob, nfs_get_error(nfs));
		goto out;
	}
	if (write) {
		/* As `echo N >` does: truncate, then write. */
		len = snprintf(buf, sizeof(buf), "%d\n", cfg.value_a);
		if (nfs_ftruncate(nfs, fh, 0) < 0 ||
		    nfs_pwrite(nfs, fh, 0, (uint64_t)len, buf) != len) {
			fprintf(stderr, "knobbench: write %s: %s\n", cfg.knob, nfs_get_error(nfs));
			goto out;
		}
	} else {
		if (nfs_slurp(nfs, fh, buf, sizeof(buf)) < 0) {
			fprintf(stderr, "knobbench: read %s: %s\n", cfg.knob, nfs_get_error(nfs));
			goto out;
		}
		fputs(buf, stdout);
	}
	rc = 0;
out:
	if (fh)
		nfs_close(nfs, fh);
	if (url)
		nfs_destroy_url(url);
	nfs_destroy_context(nfs);
	return rc;
}

/* PIDs of the parent's children; returns count or -errno. */
static int list_children(int parent, int *pids, int cap)
{
	char path[64], buf[8192];
	char *p, *end;
	ssize_t len;
	int fd, n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", parent, parent);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len < 0)
		return -errno;
	buf[len] = '\0';
	for (p = buf; n < cap; p = end) {
		long v = strtol(p, &end, 10);

		if (end == p)
			break;
		pids[n++] = (int)v;
	}
	return n;
}

static int contains(const int *set, int n, int pid)
{
	for (int i = 0; i < n; i++)
		if (set[i] == pid)
			return 1;
	return 0;
}

static int write_include(int value)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", cfg.incfile);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "MaxRequestWorkers %d\n", value);
	if (fclose(f) != 0 || rename(tmp, cfg.incfile) != 0)
		return -errno;
	return 0;
}

static int run_graceful(void)
{
	static int old[MAX_CHILDREN], cur[MAX_CHILDREN];
	int64_t *took, *cmd_took;
	int i, n = 0;

	took = calloc((size_t)cfg.iters, sizeof(int64_t));
	cmd_took = calloc((size_t)cfg.iters, sizeof(int64_t));
	if (!took || !cmd_took)
		return 1;
	for (i = 0; i < cfg.iters; i++) {
		int64_t t0, t_cmd;
		int nold, ncur, j, fresh;

		nold = list_children(cfg.parent, old, MAX_CHILDREN);
		if (nold < 0) {
			fprintf(stderr, "knobbench: parent %d: %s\n", cfg.parent, strerror(-nold));
			return 1;
		}
		if (write_include((i & 1) ? cfg.value_b : cfg.value_a) < 0) {
			fprintf(stderr, "knobbench: write %s: %s\n", cfg.incfile, strerror(errno));
			return 1;
		}
		t0 = mono_ns();
		if (system(cfg.graceful) != 0) {
			fprintf(stderr, "knobbench: '%s' failed\n", cfg.graceful);
			return 1;
		}
		t_cmd = mono_ns();
		for (;;) {
			ncur = list_children(cfg.parent, cur, MAX_CHILDREN);
			if (ncur < 0) {
				fprintf(stderr, "knobbench: parent %d gone\n", cfg.parent);
				return 1;
			}
			for (fresh = 0, j = 0; j < ncur; j++)
				fresh += !contains(old, nold, cur[j]);
			/* done when only new children remain and all of them are up */
			if (fresh == ncur && fresh >= cfg.children)
				break;
			if ((double)(mono_ns() - t0) / 1e9 > cfg.timeout_s) {
				fprintf(stderr, "knobbench: %d/%d new children after %.1fs\n",
					fresh, cfg.children, cfg.timeout_s);
				return 1;
			}
			sleep_s(0.0005);
		}
		took[n] = mono_ns() - t0;
		cmd_took[n] = t_cmd - t0;
		n++;
		sleep_s(cfg.gap_s);
	}
	printf("mode=graceful children=%d iters=%d", cfg.children, n);
	print_stats("graceful", took, n);
	print_stats("graceful_cmd", cmd_took, n);
	printf("\n");
	free(took);
	free(cmd_took);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: knobbench -m nfs -u URL [-k /config/MaxRequestWorkers] [-p "
		"/knobbench.plain] -C "
		"CHILDREN [-n ITERS]\n"
		"       knobbench -m graceful -P PARENTPID -I INCLUDEFILE -x 'GRACEFUL CMD' -C "
		"CHILDREN [-n ITERS]\n"
		"       common: [-a VALUE] [-b VALUE] [-T TIMEOUT_S] [-g GAP_S]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int c;

	cfg.knob = "/config/MaxRequestWorkers";
	cfg.plain = "/knobbench.plain";
	cfg.iters = 100;
	cfg.value_a = 150;
	cfg.value_b = 149;
	cfg.timeout_s = 10;
	cfg.gap_s = 0.01;
	while ((c = getopt(argc, argv, "m:u:k:p:I:x:P:C:n:a:b:T:g:")) != -1) {
		switch (c) {
		case 'm':
			cfg.mode = optarg;
			break;
		case 'u':
			cfg.url = optarg;
			break;
		case 'k':
			cfg.knob = optarg;
			break;
		case 'p':
			cfg.plain = optarg;
			break;
		case 'I':
			cfg.incfile = optarg;
			break;
		case 'x':
			cfg.graceful = optarg;
			break;
		case 'P':
			cfg.parent = atoi(optarg);
			break;
		case 'C':
			cfg.children = atoi(optarg);
			break;
		case 'n':
			cfg.iters = atoi(optarg);
			break;
		case 'a':
			cfg.value_a = atoi(optarg);
			break;
		case 'b':
			cfg.value_b = atoi(optarg);
			break;
		case 'T':
			cfg.timeout_s = atof(optarg);
			break;
		case 'g':
			cfg.gap_s = atof(optarg);
			break;
		default:
			usage();
		}
	}
	if (cfg.mode && cfg.url && (!strcmp(cfg.mode, "set") || !strcmp(cfg.mode, "cat")))
		return run_once(!strcmp(cfg.mode, "set"));
	if (!cfg.mode || cfg.children < 1 || cfg.children > MAX_CHILDREN || cfg.iters < 1 ||
	    cfg.iters > 100000)
		usage();
	if (!strcmp(cfg.mode, "nfs") && cfg.url)
		return run_nfs();
	if (!strcmp(cfg.mode, "graceful") && cfg.parent > 0 && cfg.incfile && cfg.graceful)
		return run_graceful();
	usage();
	return 2;
}
