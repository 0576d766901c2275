/*
 * loadgen: closed-loop HTTP/1.1 load that records every response, for the
 * fleet monitor's benchmark (bench/umlmon/run). wrk and ab report one
 * distribution for the whole run; the benchmark needs latency over time,
 * per target, and the status of each response (a shed 503 is fast and must
 * not pass for a good answer).
 *
 *   loadgen -c CONNS -d SECS -o FILE URL...
 *
 * CONNS keep-alive connections per URL (http://127.0.0.1:PORT/path), each
 * sending its next request as soon as the last answer is in. One line per
 * response: "END_SECONDS TARGET STATUS LATENCY_MS" (END_SECONDS from
 * CLOCK_REALTIME). A connection the server closes is opened again.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_TARGETS 16
#define BUF_SIZE    16384

struct target {
	struct sockaddr_in addr;
	char request[512];
	size_t request_len;
};

struct conn {
	int fd, target;
	bool want_out; /* EPOLLOUT armed: a request is not all sent yet */
	size_t sent;
	char buf[BUF_SIZE];
	size_t have;
	double started;
};

static struct target targets[MAX_TARGETS];
static int ntargets;
static FILE *out;

static double now_real(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int target_parse(const char *url, struct target *t)
{
	char host[64], path[256] = "/";
	unsigned port = 80;

	if (sscanf(url, "http://%63[^:/]:%u%255s", host, &port, path) < 2 &&
	    sscanf(url, "http://%63[^:/]%255s", host, path) < 1)
		return -EINVAL;
	memset(&t->addr, 0, sizeof(t->addr));
	t->addr.sin_family = AF_INET;
	t->addr.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &t->addr.sin_addr) != 1)
		return -EINVAL;
	t->request_len =
	    (size_t)snprintf(t->request, sizeof(t->request),
			     "GET %s HTTP/1.1\r\nHost: %s:%u\r\n\r\n", path, host, port);
	return 0;
}

static int conn_open(int ep, struct conn *c)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&targets[c->target].addr,
		    sizeof(targets[c->target].addr)) < 0 &&
	    errno != EINPROGRESS) {
		close(c->fd);
		return -errno;
	}
	c->want_out = true;
	c->sent = 0;
	c->have = 0;
	c->started = now_real();
	return epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0 ? -errno : 0;
}

static void conn_reopen(int ep, struct conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	while (conn_open(ep, c) < 0)
		usleep(10000);
}

/* A whole response in the buffer: its length, its status in *status; 0 if not yet. */
static size_t response_complete(struct conn *c, int *status, bool *close_after)
{
	char *end, *cl;
	size_t head, body = 0;

	if (c->have < 12)
		return 0;
	c->buf[c->have < BUF_SIZE ? c->have : BUF_SIZE - 1] = '\0';
	end = strstr(c->buf, "\r\n\r\n");
	if (!end)
		return 0;
	head = (size_t)(end - c->buf) + 4;
	*status = atoi(c->buf + 9);
	cl = strcasestr(c->buf, "\r\nContent-Length:");
	*close_after = strcasestr(c->buf, "\r\nConnection: close") != NULL;
	if (cl && cl < end) {
		body = strtoul(cl + 17, NULL, 10);
		return head + body <= c->have ? head + body : 0;
	}
	if (!strcasestr(c->buf, "\r\nTransfer-Encoding: chunked"))
		return head;
	/* Chunks: a hex size line, the data, CRLF; a size of 0 (and CRLF) ends them. */
	for (size_t at = head;;) {
		char *eol = memmem(c->buf + at, c->have - at, "\r\n", 2), *stop;
		unsigned long n;

		if (!eol)
			return 0;
		n = strtoul(c->buf + at, &stop, 16);
		at = (size_t)(eol - c->buf) + 2;
		if (n == 0)
			return at + 2 <= c->have ? at + 2 : 0;
		at += n + 2;
		if (at > c->have)
			return 0;
	}
}

static void conn_event(int ep, struct conn *c)
{
	int status;
	bool close_after = false;
	size_t n;
	ssize_t r;

	if (c->sent < targets[c->target].request_len) {
		r = send(c->fd, targets[c->target].request + c->sent,
			 targets[c->target].request_len - c->sent, MSG_NOSIGNAL);
		if (r < 0 && errno != EAGAIN) {
			conn_reopen(ep, c);
			return;
		}
		if (r > 0)
			c->sent += (size_t)r;
	}
	if (c->want_out != (c->sent < targets[c->target].request_len)) {
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};

		c->want_out = !c->want_out;
		if (c->want_out)
			ev.events |= EPOLLOUT;
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
	}
	r = recv(c->fd, c->buf + c->have, BUF_SIZE - 1 - c->have, 0);
	if (r == 0 || (r < 0 && errno != EAGAIN)) {
		conn_reopen(ep, c);
		return;
	}
	if (r > 0)
		c->have += (size_t)r;
	n = response_complete(c, &status, &close_after);
	if (!n) {
		if (c->have >= BUF_SIZE - 1)
			conn_reopen(ep, c);
		return;
	}
	fprintf(out, "%.4f %d %d %.2f\n", now_real(), c->target, status,
		(now_real() - c->started) * 1000);
	memmove(c->buf, c->buf + n, c->have - n);
	c->have -= n;
	if (close_after) {
		conn_reopen(ep, c);
		return;
	}
	c->sent = 0;
	c->started = now_real();
	conn_event(ep, c);
}

int main(int argc, char **argv)
{
	int conns = 10, secs = 10, opt, ep;
	const char *path = NULL;
	struct conn *cs;
	double end;

	while ((opt = getopt(argc, argv, "c:d:o:")) != -1) {
		if (opt == 'c')
			conns = atoi(optarg);
		else if (opt == 'd')
			secs = atoi(optarg);
		else if (opt == 'o')
			path = optarg;
		else
			return 2;
	}
	if (!path || optind == argc || conns < 1 || secs < 1) {
		fprintf(stderr,
			"usage: loadgen -c CONNS -d SECS -o FILE http://127.0.0.1:PORT/path...\n");
		return 2;
	}
	for (; optind < argc && ntargets < MAX_TARGETS; optind++)
		if (target_parse(argv[optind], &targets[ntargets++])) {
			fprintf(stderr, "loadgen: %s: not http://IPv4:port/path\n", argv[optind]);
			return 2;
		}
	out = fopen(path, "w");
	ep = epoll_create1(EPOLL_CLOEXEC);
	cs = calloc((size_t)(conns * ntargets), sizeof(*cs));
	if (!out || ep < 0 || !cs)
		return 1;
	for (int i = 0; i < conns * ntargets; i++) {
		cs[i].target = i % ntargets;
		if (conn_open(ep, &cs[i])) {
			perror("loadgen: connect");
			return 1;
		}
	}
	end = now_real() + secs;
	while (now_real() < end) {
		struct epoll_event ev[64];
		int n = epoll_wait(ep, ev, 64, 100);

		for (int i = 0; i < n; i++)
			conn_event(ep, ev[i].data.ptr);
	}
	fclose(out);
	return 0;
}
