/*
 * readytime: how long a program takes to start (bench/run state).
 *
 *   readytime [-r ROUNDS] [-l LINE] -- COMMAND [ARG...]
 *
 * Runs COMMAND ROUNDS times, one after the other, with its stderr on a
 * pipe. With -l, a start ends when a line of its stderr contains LINE (the
 * server says it serves); readytime then sends SIGTERM and waits for the
 * exit, timed too, before the next round, so the next start finds the
 * image closed. Without -l the command runs to its exit (a check), and the
 * start time is the whole run. COMMAND's stdout and stderr both go to the
 * pipe and on to our stderr once the round is over, so nothing it said is
 * lost and our stdout holds only the result.
 *
 * Prints one key=value line: start_ms (median over the rounds), start_min_ms,
 * start_max_ms, stop_ms (median, with -l), status (the last exit status).
 * Exit status 1 if a round did not reach LINE or exited with a status other
 * than 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS_MAX 100

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_dbl);
	return v[n / 2];
}

/*
 * One round: 0, or -1 with the reason on stderr. *start_ms and *stop_ms
 * (with @line) are set; *status is the exit status.
 */
static int round_once(char **cmd, const char *line, double *start_ms, double *stop_ms, int *status)
{
	static char out[1 << 20];
	size_t len = 0;
	uint64_t t0, t_ready = 0, t_kill;
	int fds[2], ws;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0) {
		perror("readytime: pipe");
		return -1;
	}
	t0 = now_ns();
	pid = fork();
	if (pid < 0) {
		perror("readytime: fork");
		return -1;
	}
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		dup2(fds[1], STDERR_FILENO);
		execvp(cmd[0], cmd);
		fprintf(stderr, "readytime: %s: %s\n", cmd[0], strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	for (;;) {
		ssize_t n = read(fds[0], out + len, sizeof(out) - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		out[len] = '\0';
		if (line && !t_ready && strstr(out, line)) {
			t_ready = now_ns();
			kill(pid, SIGTERM);
		}
		if (len == sizeof(out) - 1)
			len = 0; /* a flood of messages: keep reading, forget them */
	}
	close(fds[0]);
	while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
		;
	t_kill = now_ns();
	fwrite(out, 1, len, stderr);
	*status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	if (line) {
		if (!t_ready) {
			fprintf(stderr, "readytime: %s exited (status %d) without saying \"%s\"\n",
				cmd[0], *status, line);
			return -1;
		}
		*start_ms = (double)(t_ready - t0) / 1e6;
		*stop_ms = (double)(t_kill - t_ready) / 1e6;
		return 0;
	}
	*start_ms = (double)(t_kill - t0) / 1e6;
	return *status == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	double start[ROUNDS_MAX], stop[ROUNDS_MAX], lo, hi;
	const char *line = NULL;
	int rounds = 3, i, c, status = 0, failed = 0;

	while ((c = getopt(argc, argv, "+r:l:")) != -1) {
		switch (c) {
		case 'r':
			rounds = atoi(optarg);
			break;
		case 'l':
			line = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (optind >= argc || rounds < 1 || rounds > ROUNDS_MAX)
		goto usage;
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < rounds; i++) {
		start[i] = stop[i] = 0;
		if (round_once(argv + optind, line, &start[i], &stop[i], &status) < 0)
			failed = 1;
	}
	lo = hi = start[0];
	for (i = 1; i < rounds; i++) {
		lo = start[i] < lo ? start[i] : lo;
		hi = start[i] > hi ? start[i] : hi;
	}
	printf("rounds=%d start_ms=%.1f start_min_ms=%.1f start_max_ms=%.1f", rounds,
	       median(start, rounds), lo, hi);
	if (line)
		printf(" stop_ms=%.1f", median(stop, rounds));
	printf(" status=%d\n", status);
	return failed;

usage:
	fprintf(stderr, "usage: readytime [-r ROUNDS] [-l LINE] -- COMMAND [ARG...]\n");
	return 2;
}
