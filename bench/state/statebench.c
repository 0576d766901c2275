/*
 * statebench: stable NFSv3 writes and file creation against a server that
 * keeps its tree on disk, measured with libnfs (bench/run state).
 *
 * A copy of bench/nfs/nfsbench.c grown for the state image: N threads, each
 * with its own nfs_context (so its own TCP connection), mount the export
 * and work on files of their own, so no two clients ever write one file.
 *
 *   -o write   each client opens DIR/c<i> with O_CREAT|O_SYNC (libnfs then
 *              sends stable_how = FILE_SYNC) and, in a closed loop, writes
 *              -s bytes at offset 0: every timed call is one WRITE whose
 *              reply says the bytes are on disk.
 *   -o create  the clients share -n files: each one is created
 *              (DIR/f<i>.<k>, O_CREAT|O_EXCL|O_SYNC), gets 16 bytes in a
 *              FILE_SYNC WRITE, and is closed. Prints files/s; run to the
 *              last file, not for -t seconds.
 *
 * Write phases: every thread mounts and opens, then all wait on a barrier;
 * the first -W seconds are warm-up (not recorded), the next -t seconds are
 * measured. ops/s counts the calls that completed inside the measured
 * window; p50/p99 come from all of their latencies. acked counts every
 * write the server acknowledged from the first to the last (warm-up and
 * the check before the barrier too): bench/run divides the server's
 * flushes, counted around the whole run, by it. With -S PID the
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

enum phase { PHASE_WARMUP, PHASE_MEASURE, PHASE_STOP };
enum mode { MODE_WRITE, MODE_CREATE };

struct bench_cfg {
	const char *url; /* nfs://host/export?nfsport=P&mountport=P */
	const char *dir; /* directory inside the export, made when missing */
	enum mode mode;
	int clients;
	double warmup_s;
	double measure_s;
	unsigned int size; /* WRITE payload bytes */
	int files;	   /* -o create: how many, over all clients */
	int server_pid;
};

struct bench_thread {
	pthread_t tid;
	int idx;
	uint32_t *lat_ns; /* latencies of measured ops */
	size_t n, cap;
	uint64_t acked; /* writes (or files) the server acknowledged */
	uint64_t errors;
	int setup_err;
	char errmsg[1024];
};

static struct bench_cfg cfg;
static pthread_barrier_t start_barrier;
static _Atomic int phase = PHASE_WARMUP;
static _Atomic int next_file; /* -o create: the next file to make */

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

/* -o write: one FILE_SYNC WRITE of the whole payload at offset 0. */
static int write_once(struct nfs_context *nfs, struct nfsfh *fh, const char *buf)
{
	int rc = nfs_pwrite(nfs, fh, 0, cfg.size, buf);

	if (rc < 0)
		return rc;
	return rc == (int)cfg.size ? 0 : -EIO;
}

static void write_loop(struct bench_thread *t, struct nfs_context *nfs, struct nfsfh *fh,
		       const char *buf)
{
	for (;;) {
		int ph = atomic_load_explicit(&phase, memory_order_relaxed);
		uint64_t t0, t1;

		if (ph == PHASE_STOP)
			break;
		t0 = now_ns();
		if (write_once(nfs, fh, buf) < 0) {
			t->errors++;
			if (!t->errmsg[0])
				snprintf(t->errmsg, sizeof(t->errmsg), "write: %s",
					 nfs_get_error(nfs));
			continue;
		}
		t1 = now_ns();
		t->acked++;
		/* Count only ops that started and ended in the measured window. */
		if (ph == PHASE_MEASURE &&
		    atomic_load_explicit(&phase, memory_order_relaxed) == PHASE_MEASURE &&
		    lat_push(t, t1 - t0) < 0)
			t->errors++;
	}
}

/* -o create: take file numbers until -n are made; each is timed whole. */
static void create_loop(struct bench_thread *t, struct nfs_context *nfs)
{
	static const char content[16] = "state bench 16b\n";
	char path[256];
	int k;

	while ((k = atomic_fetch_add(&next_file, 1)) < cfg.files) {
		struct nfsfh *fh;
		uint64_t t0 = now_ns();
		int rc;

		snprintf(path, sizeof(path), "%s/f%d.%d", cfg.dir, t->idx, k);
		rc = nfs_open2(nfs, path, O_CREAT | O_EXCL | O_WRONLY | O_SYNC, 0644, &fh);
		if (rc == 0) {
			rc = nfs_pwrite(nfs, fh, 0, sizeof(content), content);
			rc = rc == (int)sizeof(content) ? 0 : rc < 0 ? rc : -EIO;
			if (nfs_close(nfs, fh) < 0 && rc == 0)
				rc = -EIO;
		}
		if (rc < 0) {
			t->errors++;
			if (!t->errmsg[0])
				snprintf(t->errmsg, sizeof(t->errmsg), "create %s: %s", path,
					 nfs_get_error(nfs));
			continue;
		}
		t->acked++;
		if (lat_push(t, now_ns() - t0) < 0)
			t->errors++;
	}
}

static void *bench_thread_main(void *arg)
{
	struct bench_thread *t = arg;
	struct nfs_context *nfs = NULL;
	struct nfs_url *url = NULL;
	struct nfsfh *fh = NULL;
	char path[256], *buf = NULL;

	nfs = nfs_init_context();
	if (!nfs) {
		snprintf(t->errmsg, sizeof(t->errmsg), "nfs_init_context failed");
		goto out_setup_fail;
	}
	nfs_set_timeout(nfs, 30000);
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
	/* Every client tries: whichever comes first makes it. */
	if (nfs_mkdir(nfs, cfg.dir) < 0 && !strstr(nfs_get_error(nfs), "EXIST")) {
		snprintf(t->errmsg, sizeof(t->errmsg), "mkdir %s: %s", cfg.dir, nfs_get_error(nfs));
		goto out_setup_fail;
	}
	if (cfg.mode == MODE_WRITE) {
		snprintf(path, sizeof(path), "%s/c%d", cfg.dir, t->idx);
		if (nfs_open2(nfs, path, O_CREAT | O_WRONLY | O_SYNC, 0644, &fh) < 0) {
			snprintf(t->errmsg, sizeof(t->errmsg), "open %s: %s", path,
				 nfs_get_error(nfs));
			goto out_setup_fail;
		}
		buf = malloc(cfg.size);
		if (!buf) {
			snprintf(t->errmsg, sizeof(t->errmsg), "out of memory");
			goto out_setup_fail;
		}
		memset(buf, 'a' + t->idx % 26, cfg.size);
		/* One checked call before the barrier so a broken server fails fast. */
		if (write_once(nfs, fh, buf) < 0) {
			snprintf(t->errmsg, sizeof(t->errmsg), "first write: %s",
				 nfs_get_error(nfs));
			goto out_setup_fail;
		}
		t->acked++;
	}
	pthread_barrier_wait(&start_barrier);
	if (cfg.mode == MODE_WRITE)
		write_loop(t, nfs, fh, buf);
	else
		create_loop(t, nfs);
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
		"usage: statebench -u nfs://HOST/EXPORT?nfsport=P&mountport=P -d /DIR\n"
		"                  -o write [-s BYTES] [-c CLIENTS] [-t SECONDS] [-W WARMUP]\n"
		"                  [-S SERVERPID]\n"
		"       statebench -u URL -d /DIR -o create -n FILES [-c CLIENTS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct bench_thread *th;
	uint32_t *all;
	size_t total = 0, k;
	uint64_t errors = 0, acked = 0, t0 = 0, t1 = 0;
	long long cpu0 = -1, cpu1 = -1;
	double secs;
	int i, c, setup_failed = 0;

	cfg.clients = 1;
	cfg.warmup_s = 0.5;
	cfg.measure_s = 2;
	cfg.size = 4;
	cfg.mode = MODE_WRITE;
	while ((c = getopt(argc, argv, "u:d:o:c:t:W:s:n:S:")) != -1) {
		switch (c) {
		case 'u':
			cfg.url = optarg;
			break;
		case 'd':
			cfg.dir = optarg;
			break;
		case 'o':
			if (strcmp(optarg, "write") == 0)
				cfg.mode = MODE_WRITE;
			else if (strcmp(optarg, "create") == 0)
				cfg.mode = MODE_CREATE;
			else
				usage();
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
		case 'n':
			cfg.files = atoi(optarg);
			break;
		case 'S':
			cfg.server_pid = atoi(optarg);
			break;
		default:
			usage();
		}
	}
	if (!cfg.url || !cfg.dir || cfg.clients < 1 || cfg.clients > 256 || cfg.measure_s <= 0 ||
	    cfg.measure_s > 120 || cfg.size < 1 || cfg.size > (1u << 20) ||
	    (cfg.mode == MODE_CREATE && cfg.files < 1))
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
	else if (cfg.mode == MODE_WRITE) {
		sleep_s(cfg.warmup_s);
		cpu0 = tree_cpu_ticks(cfg.server_pid, 0);
		t0 = now_ns();
		atomic_store(&phase, PHASE_MEASURE);
		sleep_s(cfg.measure_s);
		atomic_store(&phase, PHASE_STOP);
		t1 = now_ns();
		cpu1 = tree_cpu_ticks(cfg.server_pid, 0);
	} else {
		cpu0 = tree_cpu_ticks(cfg.server_pid, 0);
		t0 = now_ns();
	}
	for (i = 0; i < cfg.clients; i++) {
		pthread_join(th[i].tid, NULL);
		total += th[i].n;
		acked += th[i].acked;
		errors += th[i].errors;
	}
	if (cfg.mode == MODE_CREATE && !setup_failed) {
		t1 = now_ns();
		cpu1 = tree_cpu_ticks(cfg.server_pid, 0);
	}
	if (setup_failed) {
		for (i = 0; i < cfg.clients; i++)
			if (th[i].setup_err) {
				fprintf(stderr, "statebench: client %d: %s\n", i, th[i].errmsg);
				break;
			}
		return 1;
	}
	for (i = 0; i < cfg.clients; i++)
		if (th[i].errors) {
			fprintf(stderr, "statebench: client %d: %" PRIu64 " errors, first: %s\n", i,
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

	printf("op=%s size=%u clients=%d ops=%zu secs=%.3f ops_per_s=%.0f",
	       cfg.mode == MODE_WRITE ? "write" : "create", cfg.size, cfg.clients, total, secs,
	       (double)total / secs);
	if (total)
		printf(" p50_us=%.1f p99_us=%.1f", all[total / 2] / 1e3,
		       all[(size_t)((double)total * 0.99)] / 1e3);
	if (cpu0 >= 0 && cpu1 >= 0 && total)
		printf(" srv_cpu_us_per_op=%.1f srv_cpu_pct=%.0f",
		       (double)(cpu1 - cpu0) * 1e6 / (double)sysconf(_SC_CLK_TCK) / (double)total,
		       (double)(cpu1 - cpu0) * 100.0 / (double)sysconf(_SC_CLK_TCK) / secs);
	printf(" acked=%" PRIu64 " errors=%" PRIu64 "\n", acked, errors);
	return errors ? 1 : 0;
}
