/*
 * lockprobe: fcntl byte-range locks from the kclient guest (t/kclient), so a
 * test can see what an NFS server's lock manager (NLM for NFSv3) grants.
 * Built static by tools/kclient-prepare into the guest's /bin.
 *
 *   lockprobe [-r] [-o OFFSET] [-n LEN] [-W] [-h SECS] [-u FILE] FILE OP [ITER]
 *
 * -r a read (shared) lock, else a write (exclusive) one; -o/-n the range
 * (LEN 0: to the end of the file, as fcntl has it); -W waits for the lock
 * (F_SETLKW) instead of failing at once (F_SETLK). FILE is opened O_RDWR
 * (O_RDONLY with -r), never created.
 *
 * OP is one of:
 *   get    F_GETLK: prints "lockprobe: free" or "lockprobe: held type=T
 *          pid=P start=S len=L" (the first conflicting lock: its owner as the
 *          kernel reports it). Exit 0 free, 1 held.
 *   set    takes the lock and prints "lockprobe: locked type=T start=S len=L
 *          us=N" (N: the fcntl call), holds it for -h SECS (0) or until the
 *          file -u FILE exists (checked every 10 ms, still bounded by -h),
 *          releases it and prints "lockprobe: unlocked us=N". Refused:
 *          "lockprobe: busy errno=E" and the holder as `get` prints it, exit 1.
 *   unlock F_UNLCK on the range; prints "lockprobe: unlocked us=N".
 *   loop   ITER (100) rounds of lock (F_SETLKW) + unlock on the range, each
 *          timed with CLOCK_MONOTONIC; prints "lockprobe: loop n=N
 *          p50_us=A p99_us=B min_us=C max_us=D mean_us=E lock_p50_us=F
 *          unlock_p50_us=G" (the pair, then each half).
 * Exit 2 on any other error, with a message on stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *type_name(short t)
{
	return t == F_RDLCK ? "read" : t == F_WRLCK ? "write" : "unlock";
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* fcntl with the lock's range and TYPE; returns the call's time in µs, or -1 (errno set). */
static double lock_call(int fd, int cmd, struct flock *fl, short type)
{
	double t0 = now_us();

	fl->l_type = type;
	if (fcntl(fd, cmd, fl) < 0)
		return -1;
	return now_us() - t0;
}

/* Prints the first lock conflicting with *want; returns 1 if there is one, 0 if not, -1 on error.
 */
static int report_holder(int fd, const struct flock *want)
{
	struct flock fl = *want;

	if (fcntl(fd, F_GETLK, &fl) < 0) {
		fprintf(stderr, "lockprobe: F_GETLK: %s\n", strerror(errno));
		return -1;
	}
	if (fl.l_type == F_UNLCK) {
		printf("lockprobe: free\n");
		return 0;
	}
	printf("lockprobe: held type=%s pid=%ld start=%lld len=%lld\n", type_name(fl.l_type),
	       (long)fl.l_pid, (long long)fl.l_start, (long long)fl.l_len);
	return 1;
}

/* Waits until SECS have passed or UNTIL (if set) exists. */
static void hold(double secs, const char *until)
{
	double end = now_us() + secs * 1e6;
	struct timespec tick = {0, 10 * 1000 * 1000};

	while (now_us() < end) {
		if (until && access(until, F_OK) == 0)
			return;
		nanosleep(&tick, NULL);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The value at fraction Q of sorted V[N] (nearest rank). */
static double pct(const double *v, long n, double q)
{
	long i = (long)(q * n + 0.999999) - 1;

	return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

static int loop(int fd, struct flock *fl, short type, long iters)
{
	double *pair = calloc(iters, sizeof(*pair)), *lk = calloc(iters, sizeof(*lk));
	double *ul = calloc(iters, sizeof(*ul)), sum = 0;
	long i;

	if (!pair || !lk || !ul) {
		fprintf(stderr, "lockprobe: out of memory\n");
		return 2;
	}
	for (i = 0; i < iters; i++) {
		lk[i] = lock_call(fd, F_SETLKW, fl, type);
		if (lk[i] < 0) {
			fprintf(stderr, "lockprobe: lock %ld: %s\n", i, strerror(errno));
			return 2;
		}
		ul[i] = lock_call(fd, F_SETLK, fl, F_UNLCK);
		if (ul[i] < 0) {
			fprintf(stderr, "lockprobe: unlock %ld: %s\n", i, strerror(errno));
			return 2;
		}
		pair[i] = lk[i] + ul[i];
		sum += pair[i];
	}
	qsort(pair, iters, sizeof(*pair), cmp_double);
	qsort(lk, iters, sizeof(*lk), cmp_double);
	qsort(ul, iters, sizeof(*ul), cmp_double);
	printf("lockprobe: loop n=%ld p50_us=%.0f p99_us=%.0f min_us=%.0f max_us=%.0f mean_us=%.0f "
	       "lock_p50_us=%.0f unlock_p50_us=%.0f\n",
	       iters, pct(pair, iters, 0.5), pct(pair, iters, 0.99), pair[0], pair[iters - 1],
	       sum / iters, pct(lk, iters, 0.5), pct(ul, iters, 0.5));
	free(pair);
	free(lk);
	free(ul);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: lockprobe [-r] [-o OFFSET] [-n LEN] [-W] [-h SECS] [-u FILE] "
			"FILE get|set|unlock|loop [ITER]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct flock fl = {.l_whence = SEEK_SET};
	short type = F_WRLCK;
	int cmd = F_SETLK, c, fd;
	double secs = 0, us;
	const char *until = NULL, *op;
	long iters = 100;

	while ((c = getopt(argc, argv, "ro:n:Wh:u:")) != -1) {
		switch (c) {
		case 'r':
			type = F_RDLCK;
			break;
		case 'o':
			fl.l_start = strtoll(optarg, NULL, 0);
			break;
		case 'n':
			fl.l_len = strtoll(optarg, NULL, 0);
			break;
		case 'W':
			cmd = F_SETLKW;
			break;
		case 'h':
			secs = strtod(optarg, NULL);
			break;
		case 'u':
			until = optarg;
			break;
		default:
			usage();
		}
	}
	if (argc - optind < 2)
		usage();
	op = argv[optind + 1];
	if (argc - optind > 2)
		iters = strtol(argv[optind + 2], NULL, 0);
	if (iters < 1)
		usage();
	/* Unbuffered: a test polls this output while the lock is held. */
	setvbuf(stdout, NULL, _IONBF, 0);
	fd = open(argv[optind], type == F_RDLCK ? O_RDONLY : O_RDWR);
	if (fd < 0) {
		fprintf(stderr, "lockprobe: open %s: %s\n", argv[optind], strerror(errno));
		return 2;
	}
	fl.l_type = type;
	if (strcmp(op, "get") == 0) {
		c = report_holder(fd, &fl);
		return c < 0 ? 2 : c;
	}
	if (strcmp(op, "loop") == 0)
		return loop(fd, &fl, type, iters);
	if (strcmp(op, "set") == 0) {
		us = lock_call(fd, cmd, &fl, type);
		if (us < 0) {
			c = errno;
			if (c != EAGAIN && c != EACCES) {
				fprintf(stderr, "lockprobe: lock: %s\n", strerror(c));
				return 2;
			}
			printf("lockprobe: busy errno=%s\n", c == EAGAIN ? "EAGAIN" : "EACCES");
			fl.l_type = type;
			report_holder(fd, &fl);
			return 1;
		}
		printf("lockprobe: locked type=%s start=%lld len=%lld us=%.0f\n", type_name(type),
		       (long long)fl.l_start, (long long)fl.l_len, us);
		hold(secs, until);
	} else if (strcmp(op, "unlock") != 0) {
		usage();
	}
	us = lock_call(fd, F_SETLK, &fl, F_UNLCK);
	if (us < 0) {
		fprintf(stderr, "lockprobe: unlock: %s\n", strerror(errno));
		return 2;
	}
	printf("lockprobe: unlocked us=%.0f\n", us);
	return 0;
}
