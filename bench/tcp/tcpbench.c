/*
 * TCP figures for bench/tcp/run, over plain Linux sockets: the client that
 * measures, and the Linux peer it measures against -- a server of the same
 * services as t/inet-drive, so both sides of a ratio run the same client
 * and protocol.
 *
 *   tcpbench serve ADDR            discard (5009), source (5002), rr (5003),
 *                                  a thread per connection, until killed
 *   tcpbench send HOST SECS        one stream to discard for SECS seconds
 *   tcpbench recv HOST SECS        one stream from source for SECS seconds
 *   tcpbench rr HOST COUNT         COUNT 64-byte round trips (after 200 unmeasured)
 *   tcpbench tapfwd [-v] TAPA TAPB the trivial TAP -> TAP frame forwarder: makes
 *                                  both devices, prints "forwarding", then copies
 *                                  every frame read from one into the other,
 *                                  until killed; -v with virtio-net headers and
 *                                  TUNSETOFFLOAD CSUM|TSO4|TSO6, the headers
 *                                  passed on as read (GSO frames stay whole)
 *
 * The services (as inet-drive's -D, -S, -R): discard reads until FIN and
 * answers "bytes N"; source reads a line "N" and sends N bytes of the
 * pattern i % 251; rr sends back every 64-byte message. A client prints
 * one key=value line: bytes, secs, mbit_s (goodput, megabits of payload per
 * second) and cc (the client's congestion control; every socket asks for
 * cubic), or count, p50_us, p99_us and mean_us.
 *
 * The forwarder is the floor under any stack in user space on a TAP: one
 * thread, one read and one write per frame (as the machine's queue), and
 * nothing else, so Linux <-> forwarder <-> Linux is what the TAP path
 * itself costs, with and without offloads.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define PORT_DISCARD 5009
#define PORT_SOURCE  5002
#define PORT_RR	     5003
#define BUF	     (64 << 10)
#define PERIOD	     251
#define RR_SIZE	     64
#define RR_WARM	     200
#define IO_TIMEOUT_S 30

static void die(const char *what)
{
	fprintf(stderr, "tcpbench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Bound every read and write: a wedged peer fails the run instead of hanging it. */
static void set_timeouts(int fd)
{
	struct timeval tv = {.tv_sec = IO_TIMEOUT_S};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/*
 * Cubic on every socket, client's and server's: this host's default is bbr,
 * and a namespace may not pick another default unless the host allows it;
 * the socket option may (CAP_NET_ADMIN). Returns what the socket uses.
 */
static const char *set_cubic(int fd)
{
	static char name[16];
	socklen_t len = sizeof(name) - 1;

	setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, "cubic", 5);
	memset(name, 0, sizeof(name));
	if (getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, name, &len))
		strcpy(name, "?");
	return name;
}

static void set_nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static ssize_t recv_exact(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, (char *)buf + got, len - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -1 : (ssize_t)got;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* --------------------------------------------------------- the peer --- */

struct conn {
	int fd;
	int port;
};

static void serve_discard(int fd, char *buf)
{
	unsigned long long total = 0;
	char line[64];
	ssize_t n;

	while ((n = recv(fd, buf, BUF, 0)) > 0)
		total += (unsigned long long)n;
	if (n == 0)
		send_all(fd, line, (size_t)snprintf(line, sizeof(line), "bytes %llu\n", total));
}

static void serve_source(int fd, char *buf)
{
	unsigned long long want, off = 0;
	char line[32];
	size_t got = 0;

	while (got < sizeof(line) - 1 && !memchr(line, '\n', got)) {
		ssize_t n = recv(fd, line + got, sizeof(line) - 1 - got, 0);

		if (n <= 0)
			return;
		got += (size_t)n;
	}
	line[got] = '\0';
	want = strtoull(line, NULL, 10);
	for (size_t i = 0; i < BUF; i++)
		buf[i] = (char)(i % PERIOD);
	while (off < want) {
		size_t n = want - off < BUF - PERIOD ? (size_t)(want - off) : BUF - PERIOD;

		if (send_all(fd, buf + off % PERIOD, n))
			return;
		off += n;
	}
}

static void serve_rr(int fd, char *buf)
{
	set_nodelay(fd);
	while (recv_exact(fd, buf, RR_SIZE) == RR_SIZE)
		if (send_all(fd, buf, RR_SIZE))
			return;
}

static void *conn_main(void *arg)
{
	struct conn c = *(struct conn *)arg;
	char *buf = malloc(BUF);

	free(arg);
	if (buf) {
		set_timeouts(c.fd);
		if (c.port == PORT_DISCARD)
			serve_discard(c.fd, buf);
		else if (c.port == PORT_SOURCE)
			serve_source(c.fd, buf);
		else
			serve_rr(c.fd, buf);
	}
	free(buf);
	close(c.fd);
	return NULL;
}

/* @host:@port as a socket address of its family (IPv6 when it has a colon); its length. */
static socklen_t sockaddr_of(const char *host, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(host, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			die("address");
		return sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			die("address");
		return sizeof(*a);
	}
}

static void *listen_main(void *arg)
{
	int lfd = (int)(long)arg;
	struct sockaddr_storage a;
	socklen_t alen = sizeof(a);
	int port;

	getsockname(lfd, (struct sockaddr *)&a, &alen);
	port = ntohs(a.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&a)->sin6_port
					     : ((struct sockaddr_in *)&a)->sin_port);
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		struct conn *c;
		pthread_t t;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			die("accept");
		}
		c = malloc(sizeof(*c));
		if (c) {
			c->fd = fd;
			c->port = port;
		}
		if (!c || pthread_create(&t, NULL, conn_main, c)) {
			free(c);
			close(fd);
			continue;
		}
		pthread_detach(t);
	}
	return NULL;
}

static _Noreturn void serve(const char *addr)
{
	static const int ports[] = {PORT_DISCARD, PORT_SOURCE, PORT_RR};

	for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
		struct sockaddr_storage a;
		socklen_t alen = sockaddr_of(addr, ports[i], &a);
		int fd = socket(a.ss_family, SOCK_STREAM, 0), one = 1, zero = 0;
		pthread_t t;

		if (fd < 0)
			die("socket");
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		/* :: takes IPv4 clients too. */
		if (a.ss_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		set_cubic(fd);
		if (bind(fd, (struct sockaddr *)&a, alen) || listen(fd, 128))
			die("bind/listen");
		if (pthread_create(&t, NULL, listen_main, (void *)(long)fd))
			die("pthread_create");
	}
	printf("serving\n");
	fflush(stdout);
	for (;;)
		pause();
}

/* ------------------------------------------------------ the clients --- */

static const char *cc = "?"; /* the client's congestion control */

static int dial(const char *host, int port)
{
	struct sockaddr_storage a;
	socklen_t alen = sockaddr_of(host, port, &a);
	int fd = socket(a.ss_family, SOCK_STREAM, 0);

	if (fd < 0)
		die("socket");
	set_timeouts(fd);
	cc = set_cubic(fd);
	if (connect(fd, (struct sockaddr *)&a, alen))
		die("connect");
	return fd;
}

static int run_send(const char *host, double secs)
{
	char *buf = calloc(1, BUF), line[64];
	unsigned long long sent = 0, told;
	double t0 = now_s(), t;
	int fd = dial(host, PORT_DISCARD);
	ssize_t n;

	if (!buf)
		die("calloc");
	while (now_s() - t0 < secs) {
		if (send_all(fd, buf, BUF))
			die("send");
		sent += BUF;
	}
	shutdown(fd, SHUT_WR);
	n = recv_exact(fd, line, sizeof(line) - 1);
	t = now_s() - t0;
	if (n <= 0)
		die("no answer from discard");
	line[n] = '\0';
	if (sscanf(line, "bytes %llu", &told) != 1 || told != sent) {
		fprintf(stderr, "tcpbench: sent %llu, discard said '%s'\n", sent, line);
		return 1;
	}
	printf("mode=send bytes=%llu secs=%.3f mbit_s=%.1f cc=%s\n", sent, t,
	       (double)sent * 8 / t / 1e6, cc);
	close(fd);
	free(buf);
	return 0;
}

static int run_recv(const char *host, double secs)
{
	char *buf = malloc(BUF), ask[] = "1000000000000000\n";
	unsigned long long got = 0;
	int fd = dial(host, PORT_SOURCE);
	double t0, t;

	if (!buf)
		die("malloc");
	if (send_all(fd, ask, sizeof(ask) - 1))
		die("send");
	t0 = now_s();
	while ((t = now_s() - t0) < secs) {
		ssize_t n = recv(fd, buf, BUF, 0);

		if (n <= 0)
			die("recv");
		got += (unsigned long long)n;
	}
	printf("mode=recv bytes=%llu secs=%.3f mbit_s=%.1f cc=%s\n", got, t,
	       (double)got * 8 / t / 1e6, cc);
	close(fd); /* unread data: a RST ends the source's stream */
	free(buf);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int run_rr(const char *host, long count)
{
	double *us = malloc(sizeof(double) * (size_t)count), sum = 0;
	char msg[RR_SIZE], back[RR_SIZE];
	int fd = dial(host, PORT_RR);

	if (!us)
		die("malloc");
	set_nodelay(fd);
	for (long i = -RR_WARM; i < count; i++) {
		double t0;

		memset(msg, 'a' + (int)((i + RR_WARM) % 26), sizeof(msg));
		t0 = now_s();
		if (send_all(fd, msg, sizeof(msg)) || recv_exact(fd, back, sizeof(back)) != RR_SIZE)
			die("round trip");
		if (memcmp(msg, back, sizeof(msg))) {
			fprintf(stderr, "tcpbench: round trip %ld came back wrong\n", i);
			return 1;
		}
		if (i >= 0)
			sum += us[i] = (now_s() - t0) * 1e6;
	}
	qsort(us, (size_t)count, sizeof(double), cmp_double);
	printf("mode=rr count=%ld p50_us=%.1f p99_us=%.1f mean_us=%.1f\n", count, us[count / 2],
	       us[count * 99 / 100], sum / (double)count);
	close(fd);
	free(us);
	return 0;
}

/* ------------------------------------------------------ the forwarder --- */

#define FWD_FRAME (10 + 14 + 65535 + 4) /* a vnet header, a GSO frame, a VLAN tag */
#define FWD_BURST 64

static int tap_make(const char *name, bool vnet)
{
	struct ifreq ifr = {.ifr_flags = IFF_TAP | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0)};
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC), hlen = 10;

	if (fd < 0 || strlen(name) >= IFNAMSIZ)
		die("open /dev/net/tun");
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		die("TUNSETIFF");
	if (vnet &&
	    (ioctl(fd, TUNSETVNETHDRSZ, &hlen) < 0 ||
	     ioctl(fd, TUNSETOFFLOAD, (unsigned long)(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)) < 0))
		die("TUNSETOFFLOAD");
	return fd;
}

/* Up to FWD_BURST frames from @from into @to; a frame the other side refuses is dropped. */
static void fwd_drain(int from, int to, uint8_t *buf)
{
	for (int i = 0; i < FWD_BURST; i++) {
		ssize_t n = read(from, buf, FWD_FRAME);

		if (n <= 0)
			return;
		if (write(to, buf, (size_t)n) < 0 && errno != EAGAIN && errno != EIO)
			die("write");
	}
}

static _Noreturn void tapfwd(bool vnet, const char *a, const char *b)
{
	static uint8_t buf[FWD_FRAME];
	struct pollfd p[2] = {{.fd = tap_make(a, vnet), .events = POLLIN},
			      {.fd = tap_make(b, vnet), .events = POLLIN}};

	printf("forwarding\n");
	fflush(stdout);
	for (;;) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			die("poll");
		if (p[0].revents & POLLIN)
			fwd_drain(p[0].fd, p[1].fd, buf);
		if (p[1].revents & POLLIN)
			fwd_drain(p[1].fd, p[0].fd, buf);
	}
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc == 4 && !strcmp(argv[1], "tapfwd"))
		tapfwd(false, argv[2], argv[3]);
	if (argc == 5 && !strcmp(argv[1], "tapfwd") && !strcmp(argv[2], "-v"))
		tapfwd(true, argv[3], argv[4]);
	if (argc == 3 && !strcmp(argv[1], "serve"))
		serve(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "send"))
		return run_send(argv[2], atof(argv[3]));
	if (argc == 4 && !strcmp(argv[1], "recv"))
		return run_recv(argv[2], atof(argv[3]));
	if (argc == 4 && !strcmp(argv[1], "rr") && atol(argv[3]) > 0)
		return run_rr(argv[2], atol(argv[3]));
	fprintf(stderr,
		"usage: tcpbench serve ADDR | send HOST SECS | recv HOST SECS | rr HOST COUNT |\n"
		"       tapfwd [-v] TAPA TAPB\n");
	return 2;
}
