/*
 * sampler: an instance's backlog and QueueLimit over time, read over NFS
 * independently of the fleet monitor, for bench/umlmon/run.
 *
 *   sampler [-i MS] [-d SECS] [-C] -o FILE URL...
 *
 * URL is an instance's export (nfs://127.0.0.1/?nfsport=P&mountport=P).
 * Each sample reads three files through one kept mount per instance, each
 * with one READ on a handle opened once: /status/queued (the admission
 * queue), /status/listeners (each listening socket's accept queue) and
 * /status/config (the QueueLimit in force). Not /status/metrics: each child
 * renders that at most every 100 ms and serves the same bytes in between,
 * which would blur a reaction time by as much; these three are rendered at
 * every READ. And not the HTTP metrics handler: it goes through admission,
 * so under overload it would queue with the load it measures.
 *
 * One line per sample and instance: "SECONDS INDEX QUEUED ACCEPT_QUEUE
 * QUEUE_LIMIT" (SECONDS from CLOCK_REALTIME, the clock loadgen and umlmon
 * use). -i: a sample every MS milliseconds on a fixed grid; 0 (the
 * default) samples as fast as the instances answer. -C: a line only when an
 * instance's figures changed (the first sample always). The last line is
 * "# samples N span SECONDS". Stops after -d SECS (default: never) or on
 * SIGTERM/SIGINT.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nfsc/libnfs.h>

#define MAX_TARGETS 64
#define READ_MAX    8192

/* The files of a sample, in the order they are read. */
enum { F_QUEUED, F_LISTENERS, F_CONFIG, F_COUNT };

static const char *const files[F_COUNT] = {"/status/queued", "/status/listeners", "/status/config"};

struct target {
	struct nfs_context *nfs;
	struct nfsfh *fh[F_COUNT];
	long queued, accept_queue, queue_limit; /* the last sample; -1 before the first */
};

static struct target targets[MAX_TARGETS];
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double now_real(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int target_open(struct target *t, const char *url_text)
{
	struct nfs_url *url;

	t->nfs = nfs_init_context();
	if (!t->nfs)
		return -ENOMEM;
	nfs_set_timeout(t->nfs, 5000);
	url = nfs_parse_url_dir(t->nfs, url_text);
	if (!url) {
		fprintf(stderr, "sampler: %s: %s\n", url_text, nfs_get_error(t->nfs));
		return -EINVAL;
	}
	if (nfs_mount(t->nfs, url->server, url->path) < 0) {
		fprintf(stderr, "sampler: mount %s: %s\n", url_text, nfs_get_error(t->nfs));
		nfs_destroy_url(url);
		return -EIO;
	}
	nfs_destroy_url(url);
	for (int f = 0; f < F_COUNT; f++)
		if (nfs_open(t->nfs, files[f], O_RDONLY, &t->fh[f]) < 0) {
			fprintf(stderr, "sampler: open %s on %s: %s\n", files[f], url_text,
				nfs_get_error(t->nfs));
			return -EIO;
		}
	t->queued = t->accept_queue = t->queue_limit = -1;
	return 0;
}

/* One READ of file @f into @buf, NUL-terminated; its length or a negative errno. */
static int read_file(struct target *t, int f, char *buf)
{
	int n = nfs_pread(t->nfs, t->fh[f], 0, READ_MAX - 1, buf);

	if (n < 0)
		return n;
	buf[n] = '\0';
	return n;
}

/* The sum of "queue N" over the listeners' lines ("ADDR backlog B queue N"). */
static long accept_queue_of(const char *text)
{
	long sum = 0;

	for (const char *p = strstr(text, " queue "); p; p = strstr(p + 7, " queue "))
		sum += strtol(p + 7, NULL, 10);
	return sum;
}

/* The value in force of QueueLimit in /status/config ("QueueLimit VALUE SOURCE ..."). */
static long queue_limit_of(const char *text)
{
	for (const char *p = text; p; p = strchr(p, '\n')) {
		p += *p == '\n';
		if (strncmp(p, "QueueLimit ", 11) == 0)
			return strtol(p + 11, NULL, 10);
	}
	return -1;
}

static int sample(struct target *t, long *queued, long *accept_queue, long *queue_limit)
{
	char buf[READ_MAX];
	int rc;

	if ((rc = read_file(t, F_QUEUED, buf)) < 0)
		return rc;
	*queued = strtol(buf, NULL, 10);
	if ((rc = read_file(t, F_LISTENERS, buf)) < 0)
		return rc;
	*accept_queue = accept_queue_of(buf);
	if ((rc = read_file(t, F_CONFIG, buf)) < 0)
		return rc;
	*queue_limit = queue_limit_of(buf);
	return 0;
}

static void sleep_until(double when)
{
	double d = when - now_real();
	struct timespec ts;

	if (d <= 0)
		return;
	ts.tv_sec = (time_t)d;
	ts.tv_nsec = (long)((d - (double)ts.tv_sec) * 1e9);
	nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
	double interval = 0, secs = 0, start, end, next;
	const char *path = NULL;
	bool changes_only = false;
	unsigned long samples = 0;
	int ntargets = 0, opt;
	FILE *out;

	while ((opt = getopt(argc, argv, "i:d:o:C")) != -1) {
		if (opt == 'i')
			interval = atof(optarg) / 1000;
		else if (opt == 'd')
			secs = atof(optarg);
		else if (opt == 'o')
			path = optarg;
		else if (opt == 'C')
			changes_only = true;
		else
			return 2;
	}
	if (!path || optind == argc || argc - optind > MAX_TARGETS || interval < 0 || secs < 0) {
		fprintf(stderr, "usage: sampler [-i MS] [-d SECS] [-C] -o FILE "
				"nfs://HOST/?nfsport=P&mountport=P...\n");
		return 2;
	}
	for (; optind < argc; optind++)
		if (target_open(&targets[ntargets++], argv[optind]))
			return 1;
	out = fopen(path, "w");
	if (!out) {
		perror(path);
		return 1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	start = next = now_real();
	end = secs > 0 ? start + secs : 0;
	while (!stop && (!end || now_real() < end)) {
		for (int i = 0; i < ntargets; i++) {
			struct target *t = &targets[i];
			long q, a, l;
			int rc = sample(t, &q, &a, &l);

			if (rc < 0) {
				fprintf(stderr, "sampler: target %d: %s\n", i,
					nfs_get_error(t->nfs));
				return 1;
			}
			samples++;
			if (changes_only && q == t->queued && a == t->accept_queue &&
			    l == t->queue_limit)
				continue;
			t->queued = q;
			t->accept_queue = a;
			t->queue_limit = l;
			fprintf(out, "%.6f %d %ld %ld %ld\n", now_real(), i, q, a, l);
			if (changes_only)
				fflush(out);
		}
		if (interval > 0) {
			next += interval;
			if (next < now_real())
				next = now_real() + interval;
			sleep_until(next);
		}
	}
	fprintf(out, "# samples %lu span %.6f\n", samples, now_real() - start);
	fclose(out);
	for (int i = 0; i < ntargets; i++) {
		for (int f = 0; f < F_COUNT; f++)
			nfs_close(targets[i].nfs, targets[i].fh[f]);
		nfs_destroy_context(targets[i].nfs);
	}
	return 0;
}
