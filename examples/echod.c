/*
 * echod: an echo server on the machine's own network, one kernel thread
 * and one poll set (uml_pollset_wait) for every connection -- how an
 * application uses libuml's sockets.
 *
 *   echod [-p PORT] [-m MIB] [-b MIB] TAP ADDR/PREFIX
 *
 * Boots a machine of -m MiB (128) whose stack may hold -b MiB of packet
 * buffers (64: every connection's send and receive buffers fill when
 * clients send more than they read), gives it interface TAP (the host's TAP
 * device, made by this process if it does not exist) with ADDR/PREFIX,
 * and echoes every byte each TCP client sends on PORT (7) until its FIN,
 * and every UDP datagram to PORT back to its sender. Prints "ready" once
 * it serves; SIGINT or SIGTERM stops it, closing every connection, and it
 * prints "connections N bytes N" as it exits.
 *
 * A connection whose echo does not fit the send buffer keeps the rest and
 * waits for UML_POLLOUT, not reading more meanwhile: a client that sends
 * and never reads holds at most one buffer of the server's memory.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "uml.h"

#define ECHOD_BUF     (16u << 10)
#define ECHOD_BACKLOG 1024

/* A connection; pending: bytes read and not yet echoed, at out[off..len). */
struct conn {
	bool open;
	bool want_out; /* what its item watches: room to send (else input) */
	char *out;     /* ECHOD_BUF bytes while something is pending, else NULL */
	size_t off, len;
};

static struct {
	uint16_t port;
	uml_thread_t *thread; /* the loop */
	volatile bool done;   /* the loop closed everything (both on this CPU) */
	uml_net_queue_t *queue;
	unsigned long long conns, bytes;
} echod = {.port = 7};

/*
 * The loop's table, by descriptor: a set item's data is its descriptor, so
 * an event finds its connection in one step.
 */
static int set;
static struct conn *conn;
static unsigned cap;

static int add(int fd, uint32_t events)
{
	if ((unsigned)fd >= cap) {
		unsigned c = cap ? cap : 64;
		struct conn *k;

		while (c <= (unsigned)fd)
			c *= 2;
		if (!(k = realloc(conn, c * sizeof(*k))))
			return -ENOMEM;
		memset(k + cap, 0, (c - cap) * sizeof(*k));
		conn = k;
		cap = c;
	}
	conn[fd] = (struct conn){.open = true};
	return uml_pollset_ctl(set, UML_POLLSET_ADD, fd, events, (uint64_t)fd);
}

/* Close connection @fd: out of the set with it. */
static void drop(int fd)
{
	uml_close(fd);
	free(conn[fd].out);
	conn[fd] = (struct conn){0};
}

/* Echo what is pending on @fd: 0 when all went, 1 when some waits for room, or -errno. */
static int flush(int fd, struct conn *c)
{
	while (c->off < c->len) {
		ssize_t w = uml_send(fd, c->out + c->off, c->len - c->off, 0);

		if (w == -EAGAIN)
			return 1;
		if (w < 0)
			return (int)w;
		c->off += (size_t)w;
		echod.bytes += (unsigned long long)w;
	}
	free(c->out);
	c->out = NULL;
	c->off = c->len = 0;
	return 0;
}

/* Connection @fd is ready: false when it is over. */
static bool serve(int fd)
{
	struct conn *c = &conn[fd];
	bool want_out;
	int r;

	if (c->out) {
		r = flush(fd, c);
		if (r)
			return r > 0;
	}
	for (;;) {
		ssize_t got;

		if (!c->out && !(c->out = malloc(ECHOD_BUF)))
			return false;
		got = uml_recv(fd, c->out, ECHOD_BUF, 0);
		if (got == -EAGAIN)
			break;
		if (got <= 0) {
			/* The peer's FIN: ours after it (what is queued goes first); or an error.
			 */
			if (got == 0)
				uml_shutdown(fd, SHUT_WR);
			return false;
		}
		c->len = (size_t)got;
		r = flush(fd, c);
		if (r < 0)
			return false;
		if (r > 0)
			break;
	}
	/* Input while nothing is pending; room to send while something is. */
	want_out = c->out && c->off < c->len;
	if (!want_out) {
		free(c->out);
		c->out = NULL;
	}
	if (want_out != c->want_out) {
		c->want_out = want_out;
		uml_pollset_ctl(set, UML_POLLSET_MOD, fd, want_out ? UML_POLLOUT : UML_POLLIN,
				(uint64_t)fd);
	}
	return true;
}

static void accept_all(int l)
{
	for (;;) {
		int fd = uml_accept(l, NULL, NULL, UML_SOCK_NONBLOCK);

		if (fd < 0)
			return;
		uml_setsockopt(fd, UML_SO_NODELAY, 1);
		if (add(fd, UML_POLLIN)) {
			drop(fd);
			return;
		}
		echod.conns++;
	}
}

static void udp_echo(int u)
{
	static char dgram[65536];
	struct sockaddr_in from;
	unsigned flen = sizeof(from);
	ssize_t got;

	while ((got = uml_recvfrom(u, dgram, sizeof(dgram), 0, (struct sockaddr *)&from, &flen)) >=
	       0) {
		uml_sendto(u, dgram, (size_t)got, 0, (struct sockaddr *)&from, flen);
		flen = sizeof(from);
	}
}

static int loop(void *arg)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(echod.port)};
	struct uml_pollevent ev[64];
	int l = uml_socket(AF_INET, SOCK_STREAM, UML_SOCK_NONBLOCK);
	int u = uml_socket(AF_INET, SOCK_DGRAM, UML_SOCK_NONBLOCK);
	int err = l < 0 ? l : u;

	(void)arg;
	echod.thread = uml_thread_self();
	set = uml_pollset_create();
	if (err >= 0 && set < 0)
		err = set;
	if (err < 0 || (err = uml_bind(l, (struct sockaddr *)&a, sizeof(a))) ||
	    (err = uml_listen(l, ECHOD_BACKLOG)) ||
	    (err = uml_bind(u, (struct sockaddr *)&a, sizeof(a))) || (err = add(l, UML_POLLIN)) ||
	    (err = add(u, UML_POLLIN))) {
		fprintf(stderr, "echod: port %u: %s\n", echod.port, strerror(-err));
		exit(1);
	}
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		int ready = uml_pollset_wait(set, ev, 64, -1);

		if (ready == -EINTR)
			break;
		if (ready < 0) {
			fprintf(stderr, "echod: wait: %s\n", strerror(-ready));
			break;
		}
		for (int i = 0; i < ready; i++) {
			int fd = (int)ev[i].data;

			if (fd == l)
				accept_all(l);
			else if (fd == u)
				udp_echo(u);
			else if (!serve(fd))
				drop(fd);
		}
	}
	for (unsigned fd = 0; fd < cap; fd++)
		if (conn[fd].open)
			drop((int)fd);
	uml_close(set);
	echod.done = true;
	return 0;
}

/*
 * The stop, on a kernel thread of the CPU: the loop ends (its poll says
 * -EINTR) and closes every socket; the queue closes after, so that their
 * FINs still go out.
 */
static void stop(void *arg)
{
	(void)arg;
	uml_thread_interrupt(echod.thread);
	while (!echod.done)
		uml_thread_sleep_ms(1);
	uml_net_if_stop(echod.queue);
}

static void usage(void)
{
	fprintf(stderr, "usage: echod [-p PORT] [-m MIB] [-b MIB] TAP ADDR/PREFIX\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct uml_boot_params bp = {.memory = 128u << 20};
	size_t buffers = 64u << 20;
	char err[256];
	sigset_t sigs;
	int opt, sfd, rc;

	while ((opt = getopt(argc, argv, "p:m:b:")) != -1) {
		char *end;
		unsigned long v = strtoul(optarg, &end, 10);

		if (*end || !*optarg)
			usage();
		if (opt == 'p' && v >= 1 && v <= 65535)
			echod.port = (uint16_t)v;
		else if (opt == 'm' && v >= 8 && v <= 4096)
			bp.memory = v << 20;
		else if (opt == 'b' && v >= 1 && v <= 1024)
			buffers = v << 20;
		else
			usage();
	}
	if (argc - optind != 2)
		usage();
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &sigs, NULL) || (sfd = signalfd(-1, &sigs, SFD_CLOEXEC)) < 0) {
		perror("echod: signalfd");
		return 1;
	}
	if ((rc = uml_boot(&bp))) {
		fprintf(stderr, "echod: boot: %s\n", strerror(-rc));
		return 1;
	}
	if ((rc = uml_net_init(buffers))) {
		fprintf(stderr, "echod: the machine's network: %s\n", strerror(-rc));
		return 1;
	}
	if ((rc = uml_net_if_add(argv[optind], argv[optind + 1], NULL, err, sizeof(err)))) {
		fprintf(stderr, "echod: %s\n", err);
		return 1;
	}
	if ((rc = uml_cpu_init()) || (rc = uml_net_if_start(argv[optind], &echod.queue)) ||
	    (rc = uml_thread_create(NULL, "echod", loop, NULL)) ||
	    (rc = uml_cpu_stop_on_fd(sfd, stop, NULL))) {
		fprintf(stderr, "echod: %s: %s\n", argv[optind], strerror(-rc));
		return 1;
	}
	uml_cpu_run(true);
	uml_cpu_exit();
	printf("connections %llu bytes %llu\n", echod.conns, echod.bytes);
	return 0;
}
