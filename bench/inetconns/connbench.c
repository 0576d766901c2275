/*
 * Many connections at once (issue 13's connection figures): a client of N
 * concurrent request/response connections, a client that holds N idle
 * connections, and the Linux side's server that holds them (epoll, no
 * thread per connection), the peer for the machine's inet-drive -H.
 *
 *   connbench rr HOST PORT N SECS   N connections, each sending 64 bytes and
 *                                   waiting for them back, again and again,
 *                                   for SECS seconds; one line:
 *                                   "conns N transactions T errors E p50_us X
 *                                   p99_us Y" (an error: a connection that
 *                                   failed, was reset or answered wrong)
 *   connbench idle HOST PORT N      N connections opened (at most 256 being
 *                                   set up at once); "connected N", then at
 *                                   a line on standard input all closed,
 *                                   "closed N"
 *   connbench hold ADDR PORT        accept any number, echo what they send,
 *                                   close each at its FIN
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MSG	    64
#define SETUP_MAX   256
#define LAT_BUCKETS 100000 /* microseconds, 1 us each: 100 ms */

static uint64_t now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

static _Noreturn void fail(const char *what)
{
	fprintf(stderr, "connbench: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Room for @n sockets, within the hard limit (raising that needs a capability). */
static void raise_nofile(unsigned n)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r))
		fail("getrlimit");
	if (r.rlim_max != RLIM_INFINITY && r.rlim_max < n + 64) {
		fprintf(stderr, "connbench: %u sockets asked for, the hard limit is %llu\n", n,
			(unsigned long long)r.rlim_max);
		exit(1);
	}
	r.rlim_cur = r.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &r))
		fail("setrlimit");
}

static struct sockaddr_in addr_of(const char *host, const char *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};

	if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
		fprintf(stderr, "connbench: %s: not an IPv4 address\n", host);
		exit(2);
	}
	return a;
}

/* Cubic, as bench/tcp asks of every Linux socket (this host's default is bbr). */
static void cubic(int fd)
{
	setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, "cubic", 5);
}

/* N connected sockets, at most SETUP_MAX being set up at once. */
static int *connect_all(const struct sockaddr_in *a, unsigned n)
{
	int *fd = calloc(n, sizeof(*fd)), ep = epoll_create1(0);
	unsigned started = 0, done = 0, pending = 0;

	if (!fd || ep < 0)
		fail("connect_all");
	while (done < n) {
		struct epoll_event ev[64];
		int k;

		while (started < n && pending < SETUP_MAX) {
			int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
			struct epoll_event e = {.events = EPOLLOUT, .data.u32 = started};

			if (s < 0)
				fail("socket");
			cubic(s);
			if (connect(s, (const struct sockaddr *)a, sizeof(*a)) &&
			    errno != EINPROGRESS)
				fail("connect");
			fd[started++] = s;
			pending++;
			if (epoll_ctl(ep, EPOLL_CTL_ADD, s, &e))
				fail("epoll_ctl");
		}
		k = epoll_wait(ep, ev, 64, 30000);
		if (k <= 0) {
			fprintf(stderr, "connbench: %u of %u connected, then nothing for 30 s\n",
				done, n);
			exit(1);
		}
		for (int i = 0; i < k; i++) {
			int s = fd[ev[i].data.u32], err = 0;
			socklen_t len = sizeof(err);

			getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len);
			if (err) {
				errno = err;
				fail("connection");
			}
			epoll_ctl(ep, EPOLL_CTL_DEL, s, NULL);
			pending--;
			done++;
		}
	}
	close(ep);
	return fd;
}

struct rr_conn {
	int fd;
	unsigned got;  /* bytes of the answer so far */
	uint64_t sent; /* when the request went */
	char buf[MSG];
};

static void rr_send(struct rr_conn *c, unsigned seq)
{
	memset(c->buf, (int)('a' + seq % 26), MSG);
	c->got = 0;
	c->sent = now_us();
	if (send(c->fd, c->buf, MSG, MSG_NOSIGNAL) != MSG)
		c->fd = -c->fd - 1; /* failed: counted by the caller */
}

static int rr(const char *host, const char *port, unsigned n, unsigned secs)
{
	struct sockaddr_in a = addr_of(host, port);
	struct rr_conn *c = calloc(n, sizeof(*c));
	uint64_t *lat = calloc(LAT_BUCKETS + 1, sizeof(*lat)), trans = 0, errors = 0, end;
	int *fd, ep = epoll_create1(0);

	if (!c || !lat || ep < 0)
		fail("rr");
	raise_nofile(n);
	fd = connect_all(&a, n);
	for (unsigned i = 0; i < n; i++) {
		struct epoll_event e = {.events = EPOLLIN, .data.u32 = i};
		int one = 1;

		c[i].fd = fd[i];
		setsockopt(fd[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd[i], &e))
			fail("epoll_ctl");
		rr_send(&c[i], 0);
	}
	end = now_us() + (uint64_t)secs * 1000000u;
	while (now_us() < end) {
		struct epoll_event ev[256];
		int k = epoll_wait(ep, ev, 256, 1000);

		for (int i = 0; i < k; i++) {
			struct rr_conn *x = &c[ev[i].data.u32];
			char b[MSG];
			ssize_t r;

			if (x->fd < 0)
				continue;
			r = recv(x->fd, b, MSG - x->got, 0);
			if (r <= 0) {
				if (r < 0 && errno == EAGAIN)
					continue;
				errors++;
				epoll_ctl(ep, EPOLL_CTL_DEL, x->fd, NULL);
				x->fd = -x->fd - 1;
				continue;
			}
			if (memcmp(b, x->buf + x->got, (size_t)r)) {
				errors++;
				epoll_ctl(ep, EPOLL_CTL_DEL, x->fd, NULL);
				x->fd = -x->fd - 1;
				continue;
			}
			x->got += (unsigned)r;
			if (x->got == MSG) {
				uint64_t us = now_us() - x->sent;

				lat[us < LAT_BUCKETS ? us : LAT_BUCKETS]++;
				rr_send(x, (unsigned)++trans);
				if (x->fd < 0)
					errors++;
			}
		}
	}
	{
		uint64_t seen = 0, p50 = 0, p99 = 0;

		for (unsigned i = 0; i <= LAT_BUCKETS; i++) {
			seen += lat[i];
			if (!p50 && seen * 2 >= trans)
				p50 = i;
			if (!p99 && seen * 100 >= trans * 99) {
				p99 = i;
				break;
			}
		}
		printf("conns %u transactions %llu errors %llu p50_us %llu p99_us %llu\n", n,
		       (unsigned long long)trans, (unsigned long long)errors,
		       (unsigned long long)p50, (unsigned long long)p99);
	}
	for (unsigned i = 0; i < n; i++)
		close(c[i].fd >= 0 ? c[i].fd : -c[i].fd - 1);
	return errors ? 1 : 0;
}

static int idle(const char *host, const char *port, unsigned n)
{
	struct sockaddr_in a = addr_of(host, port);
	char line[64];
	int *fd;

	raise_nofile(n);
	fd = connect_all(&a, n);
	printf("connected %u\n", n);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		line[0] = '\0';
	for (unsigned i = 0; i < n; i++)
		close(fd[i]);
	printf("closed %u\n", n);
	return 0;
}

static _Noreturn void hold(const char *addr, const char *port)
{
	struct sockaddr_in a = addr_of(addr, port);
	int one = 1, l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), ep = epoll_create1(0);
	struct epoll_event e = {.events = EPOLLIN, .data.fd = l};

	raise_nofile(0);
	if (l < 0 || ep < 0)
		fail("hold");
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1024) ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, l, &e))
		fail("listen");
	printf("serving\n");
	fflush(stdout);
	for (;;) {
		struct epoll_event ev[256];
		int k = epoll_wait(ep, ev, 256, -1);

		for (int i = 0; i < k; i++) {
			int fd = ev[i].data.fd;
			char b[4096];
			ssize_t r;

			if (fd == l) {
				int s;

				while ((s = accept4(l, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					struct epoll_event se = {.events = EPOLLIN, .data.fd = s};

					cubic(s);
					epoll_ctl(ep, EPOLL_CTL_ADD, s, &se);
				}
				continue;
			}
			r = recv(fd, b, sizeof(b), 0);
			if (r > 0)
				(void)!send(fd, b, (size_t)r, MSG_NOSIGNAL);
			else if (r == 0 || errno != EAGAIN)
				close(fd);
		}
	}
}

int main(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "rr"))
		return rr(argv[2], argv[3], (unsigned)atoi(argv[4]), (unsigned)atoi(argv[5]));
	if (argc == 5 && !strcmp(argv[1], "idle"))
		return idle(argv[2], argv[3], (unsigned)atoi(argv[4]));
	if (argc == 4 && !strcmp(argv[1], "hold"))
		hold(argv[2], argv[3]);
	fprintf(stderr,
		"usage: connbench rr HOST PORT N SECS | idle HOST PORT N | hold ADDR PORT\n");
	return 2;
}
