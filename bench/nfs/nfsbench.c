/*
 * nfsbench: NFSv3 ops/s and latency of one procedure, measured with libnfs.
 *
 * N threads, each with its own nfs_context (so its own TCP connection),
 * mount the export, open one file once, then issue one procedure in a
 * closed loop: GETATTR (nfs_fstat64), READ (nfs_pread) or WRITE
 * (nfs_pwrite on an O_SYNC handle, so stable_how is FILE_SYNC). The file is
 * opened before the clock starts, so each timed call is exactly one RPC: a
 * path-based call would add LOOKUPs, because libnfs has no lookup cache.
 *
 * Phases: every thread mounts and opens, then all wait on a barrier; the
 * first -W seconds are warm-up (not recorded), the next -t seconds are
 * measured. Ops/s counts the calls that completed inside the measured
 * window; p50/p99 come from all of their latencies. With -S PID the
 * utime+stime of the server and its descendant processes over the window
 * is divided by the op count.
 *
 * Output is one line of key=value pairs so bench/run can parse it.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nfsc/libnfs.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

struct bench_op {
	const char *name;
	int open_flags; /* how the file is opened before the clock starts */
	/* one RPC on the open handle; buf holds -s bytes; returns 0 or -errno */
	int (*call)(struct nfs_context *nfs, struct nfsfh *fh, char *buf);
};

enum phase { PHASE_WARMUP, PHASE_MEASURE, PHASE_STOP };

struct bench_cfg {
	const char *url;  /* nfs://host/export?nfsport=P&mountport=P */
	const char *file; /* path inside the export */
	const struct bench_op *op;
	int clients;
	double warmup_s;
	double measure_s;
	unsigned int size; /* READ count */
	const char *value; /* WRITE payload */
	int server_pid;
};

struct bench_thread {
	pthread_t tid;
	int idx;
	uint32_t *lat_ns; /* latencies of measured ops */
	size_t n, cap;
	uint64_t errors;
	int setup_err;
	char errmsg[256];
};

static struct bench_cfg cfg;
static pthread_barrier_t start_barrier;
static _Atomic int phase = PHASE_WARMUP;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int lat_push(struct bench_thread *t, uint64_t ns)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 65536;
		uint32_t *p = realloc(t->lat_ns, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		t->lat_ns = p;
		t->cap = cap;
	}
	t->lat_ns[t->n++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
	return 0;
}

/* Each timed call is exactly one RPC on the handle opened before the clock starts. */
static int op_getattr(struct nfs_context *nfs, struct nfsfh *fh, char *buf)
{
	struct nfs_stat_64 st;

	(void)buf;
	return nfs_fstat64(nfs, fh, &st);
}

static int op_read(struct nfs_context *nfs, struct nfsfh *fh, char *buf)
{
	int rc = nfs_pread(nfs, fh, 0, cfg.size, buf);

	return rc < 0 ? rc : 0;
}

static int op_write(struct nfs_context *nfs, struct nfsfh *fh, char *buf)
{
	int rc;

	(void)buf;
	rc = nfs_pwrite(nfs, fh, 0, strlen(cfg.value), cfg.value);
	return rc < 0 ? rc : 0;
}

static const struct bench_op bench_ops[] = {
    /* GETATTR: nfs_fstat64 on an open handle sends nothing else */
    {"getattr", O_RDONLY, op_getattr},
    /* READ of -s bytes at offset 0 (64: a knob-sized file) */
    {"read", O_RDONLY, op_read},
    /* WRITE of -v at offset 0; O_SYNC makes libnfs send stable_how = FILE_SYNC */
    {"write", O_WRONLY | O_SYNC, op_write},
};

static void *bench_thread_main(void *arg)
{
	struct bench_thread *t = arg;
	struct nfs_context *nfs = NULL;
	struct nfs_url *url = NULL;
	struct nfsfh *fh = NULL;
	char *buf = NULL;

	nfs = nfs_init_context();
	if (!nfs) {
		snprintf(t->errmsg, sizeof(t->errmsg), "nfs_init_context failed");
		goto out_setup_fail;
	}
	nfs_set_timeout(nfs, 10000);
	url = nfs_parse_url_dir(nfs, cfg.url);
	if (!url) {
		snprintf(t->errmsg, sizeof(t->errmsg), "bad url: %s", nfs_get_error(nfs));
		goto out_setup_fail;
	}
	if (nfs_mount(nfs, url->server, url->path) < 0) {
		snprintf(t->errmsg, sizeof(t->errmsg), "mount %s:%s: %s", url->server, url->path,
			 nfs_get_error(nfs));
		goto out_setup_fail;
	}
	if (nfs_open(nfs, cfg.file, cfg.op->open_flags, &fh) < 0) {
		snprintf(t->errmsg, sizeof(t->errmsg), "open %s: %s", cfg.file, nfs_get_error(nfs));
		goto out_setup_fail;
	}
	buf = malloc(cfg.size ? cfg.size : 1);
	if (!buf) {
		snprintf(t->errmsg, sizeof(t->errmsg), "out of memory");
		goto out_setup_fail;
	}
	/* One checked call before the barrier so a broken server fails fast. */
	if (cfg.op->call(nfs, fh, buf) < 0) {
		snprintf(t->errmsg, sizeof(t->errmsg), "first %s: %s", cfg.op->name,
			 nfs_get_error(nfs));
		goto out_setup_fail;
	}
	pthread_barrier_wait(&start_barrier);

	for (;;) {
		int ph = atomic_load_explicit(&phase, memory_order_relaxed);
		uint64_t t0, t1;

		if (ph == PHASE_STOP)
			break;
		t0 = now_ns();
		if (cfg.op->call(nfs, fh, buf) < 0) {
			t->errors++;
			if (!t->errmsg[0])
				snprintf(t->errmsg, sizeof(t->errmsg), "%s: %s", cfg.op->name,
					 nfs_get_error(nfs));
			continue;
		}
		t1 = now_ns();
		/* Count only ops that started and ended in the measured window. */
		if (ph == PHASE_MEASURE &&
		    atomic_load_explicit(&phase, memory_order_relaxed) == PHASE_MEASURE &&
		    lat_push(t, t1 - t0) < 0)
			t->errors++;
	}
	goto out;

out_setup_fail:
	t->setup_err = 1;
	pthread_barrier_wait(&start_barrier);
out:
	free(buf);
	if (fh)
		nfs_close(nfs, fh);
	if (url)
		nfs_destroy_url(url);
	if (nfs)
		nfs_destroy_context(nfs);
	return NULL;
}

/* utime+stime of a process (all threads), in clock ticks; -1 if unknown. */
static long long proc_cpu_ticks(int pid)
{
	char path[64], line[2048], *p;
	unsigned long long ut, st;
	FILE *f;
	int i;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	p = fgets(line, sizeof(line), f);
	fclose(f);
	if (!p)
		return -1;
	/* comm may contain spaces; fields after it start past the last ')' */
	p = strrchr(line, ')');
	if (!p)
		return -1;
	p += 2;
	/* p is at field 3 (state); utime is field 14, stime 15 */
	for (i = 3; i < 14 && p; i++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (!p || sscanf(p, "%llu %llu", &ut, &st) != 2)
		return -1;
	return (long long)(ut + st);
}

/*
 * CPU of a server and all its descendants: ganesha is one process of
 * threads, umlnfsd a parent with worker processes (live children's time is
 * not in the parent's stat until they are reaped).
 */
static long long tree_cpu_ticks(int pid, int depth)
{
	char path[64], buf[4096], *p, *end;
	struct dirent *de;
	long long sum, t;
	DIR *d;
	int fd;
	ssize_t len;

	sum = proc_cpu_ticks(pid);
	if (sum < 0 || depth > 4)
		return sum;
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return sum;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/children", pid, de->d_name);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		for (p = buf;; p = end) {
			long child = strtol(p, &end, 10);

			if (end == p)
				break;
			t = tree_cpu_ticks((int)child, depth + 1);
			if (t > 0)
				sum += t;
		}
	}
	closedir(d);
	return sum;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void sleep_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: nfsbench -u nfs://HOST/EXPORT?nfsport=P&mountport=P -f /FILE\n"
		"                -o getattr|read|write [-c CLIENTS] [-t SECONDS] [-W WARMUP]\n"
		"                [-s READSIZE] [-v WRITEVALUE] [-S SERVERPID]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct bench_thread *th;
	uint32_t *all;
	size_t total = 0, k;
	uint64_t errors = 0, t0 = 0, t1 = 0;
	long long cpu0 = -1, cpu1 = -1;
	double secs;
	int i, c, setup_failed = 0;

	cfg.clients = 1;
	cfg.warmup_s = 0.5;
	cfg.measure_s = 3;
	cfg.size = 64;
	cfg.value = "150\n";
	cfg.op = &bench_ops[0];
	while ((c = getopt(argc, argv, "u:f:o:c:t:W:s:v:S:")) != -1) {
		switch (c) {
		case 'u':
			cfg.url = optarg;
			break;
		case 'f':
			cfg.file = optarg;
			break;
		case 'o':
			for (i = 0;
			     i < (int)ARRAY_LEN(bench_ops) && strcmp(optarg, bench_ops[i].name);
			     i++)
				;
			if (i == (int)ARRAY_LEN(bench_ops))
				usage();
			cfg.op = &bench_ops[i];
			break;
		case 'c':
			cfg.clients = atoi(optarg);
			break;
		case 't':
			cfg.measure_s = atof(optarg);
			break;
		case 'W':
			cfg.warmup_s = atof(optarg);
			break;
		case 's':
			cfg.size = (unsigned int)atoi(optarg);
			break;
		case 'v':
			cfg.value = optarg;
			break;
		case 'S':
			cfg.server_pid = atoi(optarg);
			break;
		default:
			usage();
		}
	}
	if (!cfg.url || !cfg.file || cfg.clients < 1 || cfg.clients > 256 || cfg.measure_s <= 0 ||
	    cfg.measure_s > 120)
		usage();

	th = calloc((size_t)cfg.clients, sizeof(*th));
	if (!th)
		return 1;
	pthread_barrier_init(&start_barrier, NULL, (unsigned int)cfg.clients + 1);
	for (i = 0; i < cfg.clients; i++) {
		th[i].idx = i;
		if (pthread_create(&th[i].tid, NULL, bench_thread_main, &th[i]) != 0) {
			perror("pthread_create");
			return 1;
		}
	}
	pthread_barrier_wait(&start_barrier);
	for (i = 0; i < cfg.clients; i++)
		setup_failed |= th[i].setup_err;
	if (setup_failed)
		atomic_store(&phase, PHASE_STOP);
	else {
		sleep_s(cfg.warmup_s);
		cpu0 = tree_cpu_ticks(cfg.server_pid, 0);
		t0 = now_ns();
		atomic_store(&phase, PHASE_MEASURE);
		sleep_s(cfg.measure_s);
		atomic_store(&phase, PHASE_STOP);
		t1 = now_ns();
		cpu1 = tree_cpu_ticks(cfg.server_pid, 0);
	}
	for (i = 0; i < cfg.clients; i++) {
		pthread_join(th[i].tid, NULL);
		total += th[i].n;
		errors += th[i].errors;
	}
	if (setup_failed) {
		for (i = 0; i < cfg.clients; i++)
			if (th[i].setup_err) {
				fprintf(stderr, "nfsbench: client %d: %s\n", i, th[i].errmsg);
				break;
			}
		return 1;
	}
	for (i = 0; i < cfg.clients; i++)
		if (th[i].errors) {
			fprintf(stderr, "nfsbench: client %d: %" PRIu64 " errors, first: %s\n", i,
				th[i].errors, th[i].errmsg);
			break;
		}

	all = malloc((total ? total : 1) * sizeof(*all));
	if (!all)
		return 1;
	for (k = 0, i = 0; i < cfg.clients; i++) {
		memcpy(all + k, th[i].lat_ns, th[i].n * sizeof(*all));
		k += th[i].n;
	}
	qsort(all, total, sizeof(*all), cmp_u32);
	secs = (double)(t1 - t0) / 1e9;

	printf("op=%s clients=%d ops=%zu secs=%.3f ops_per_s=%.0f", cfg.op->name, cfg.clients,
	       total, secs, (double)total / secs);
	if (total)
		printf(" p50_us=%.1f p99_us=%.1f", all[total / 2] / 1e3,
		       all[(size_t)((double)total * 0.99)] / 1e3);
	if (cpu0 >= 0 && cpu1 >= 0 && total)
		printf(" srv_cpu_us_per_op=%.1f srv_cpu_pct=%.0f",
		       (double)(cpu1 - cpu0) * 1e6 / (double)sysconf(_SC_CLK_TCK) / (double)total,
		       (double)(cpu1 - cpu0) * 100.0 / (double)sysconf(_SC_CLK_TCK) / secs);
	printf(" errors=%" PRIu64 "\n", errors);
	return errors ? 1 : 0;
}
