/*
 * A machine on a TAP device, for t/inet/ tests and bench/tcp: boots, makes
 * interface @tap with @addr/@prefix (MAC 02:00:00:00:00:02 unless given),
 * opens one TAP queue read by a kernel thread of its CPU, and runs a UDP
 * echo service on @udp_port on another kernel thread. Options add TCP
 * services on the machine's addresses (every service is on ::, so IPv4 and
 * IPv6 reach it), each a listener thread that gives
 * every connection a thread of its own:
 *
 *   -E PORT  echo: every byte back, until the peer's FIN; then FIN
 *   -K PORT  sink: read until FIN, then one line "bytes N sha256 HEX", FIN
 *   -S PORT  source: read a line "N", send N bytes of the pattern (byte i
 *            of the stream is i % 251), FIN
 *   -R PORT  rr: read 64-byte messages and send each back (no Nagle)
 *   -D PORT  discard: read until FIN, then one line "bytes N", FIN (the
 *            sink without its hash, for bench/tcp); "stat" counts what
 *            every discard connection read (drive_discarded)
 *   -A PORT  keep: echo, with keepalive probes after 1 s idle (t/inet/04)
 *   -W PORT  http: "GET /N HTTP/1.1" answered with N bytes of the pattern
 *            (byte i is i % 251) and Connection: close, for curl
 *   -L PORT  loop: every byte back, as echo, for every connection on one
 *            kernel thread's uml_poll loop (libuml's sockets; bench/inetconns)
 *   -Q PORT  the same loop on a poll set (uml_pollset_wait) instead
 *   -H PORT  hold: connections held idle by one thread, however many, with
 *            no thread or buffer of their own; each is polled every 100 ms,
 *            what it sends echoed back, and closed at its FIN (t/inet/05)
 *   -m MIB   the machine's memory (32)      -b MIB  the stack's buffers (4)
 *   -6 ADDR/PREFIX  a global IPv6 address beside the link-local one
 *   -P       plain frames: the interface without offloads (else it asks the
 *            host for virtio-net headers, checksum offload and TSO)
 *
 * Prints "ready MAC" once the queue is open, so the test can configure the
 * host's side. Standard input is its control: a line "stat" prints the
 * stack's counters (inet_status), "drive_conns N" (TCP connections its
 * services hold), "drive_held N" (the hold service's), "drive_polled N"
 * and "drive_set N" (the -L and -Q loops'), "drive_pages N" (the
 * machine's pages in use, its caches given back first) and "end". A line
 * "send ADDR PORT N" connects out to ADDR (IPv4 or IPv6) and sends N zero
 * bytes (iperf 2's server reads the first four as its header's flags: 0,
 * no test of its own), then FIN, and reads until the peer's; "stat" says
 * drive_sends (done), drive_send_errors and drive_sent (their bytes). End
 * of file stops every service, closes the queue, prints the counters and
 * exits 0.
 *
 *   inet-drive [-E PORT] [-K PORT] [-S PORT] [-R PORT] [-D PORT] [-A PORT] [-W PORT] [-L PORT]
 *              [-Q PORT] [-H PORT] [-m MIB] [-b MIB] [-6 ADDR6/PREFIX] [-P] TAP ADDR/PREFIX
 *              UDP_PORT [MAC]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "uml.h"
#include "uml/host.h"
#include "uml/inet.h"
#include "uml/mm.h"
#include "uml/sched.h"

#define DRIVE_BACKLOG	 512
#define DRIVE_IO_MS	 60000 /* a connection silent this long is dropped */
#define DRIVE_BUF	 (64u << 10)
#define DRIVE_RR_SIZE	 64
#define DRIVE_PERIOD	 251
#define DRIVE_STOP_WAIT	 5000 /* ms for threads to finish at the stop */
#define DRIVE_LINE_MAX	 32
#define DRIVE_CTL_MAX	 128 /* a control line at most */
#define DRIVE_KEEP_S	 1   /* the keep service's idle time before a probe */
#define DRIVE_CONNECT_MS 5000
#define DRIVE_HTTP_MAX	 1024 /* a request's head at most */

/* ------------------------------------------------------------ sha256 --- */

/* FIPS 180-4's SHA-256: the sink's proof that every byte arrived in order. */
struct sha256 {
	uint32_t h[8];
	uint64_t len;
	uint8_t block[64];
	size_t used;
};

static const uint32_t sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t ror32(uint32_t x, unsigned n)
{
	return x >> n | x << (32 - n);
}

static void sha256_block(struct sha256 *c, const uint8_t *p)
{
	uint32_t w[64], v[8];

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 64; i++)
		w[i] = w[i - 16] + (ror32(w[i - 15], 7) ^ ror32(w[i - 15], 18) ^ w[i - 15] >> 3) +
		       w[i - 7] + (ror32(w[i - 2], 17) ^ ror32(w[i - 2], 19) ^ w[i - 2] >> 10);
	memcpy(v, c->h, sizeof(v));
	for (int i = 0; i < 64; i++) {
		uint32_t t1 = v[7] + (ror32(v[4], 6) ^ ror32(v[4], 11) ^ ror32(v[4], 25)) +
			      ((v[4] & v[5]) ^ (~v[4] & v[6])) + sha256_k[i] + w[i];
		uint32_t t2 = (ror32(v[0], 2) ^ ror32(v[0], 13) ^ ror32(v[0], 22)) +
			      ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));

		memmove(v + 1, v, 7 * sizeof(v[0]));
		v[4] += t1;
		v[0] = t1 + t2;
	}
	for (int i = 0; i < 8; i++)
		c->h[i] += v[i];
}

static void sha256_init(struct sha256 *c)
{
	static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
				       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

	memcpy(c->h, h0, sizeof(h0));
	c->len = 0;
	c->used = 0;
}

static void sha256_update(struct sha256 *c, const void *data, size_t len)
{
	const uint8_t *p = data;

	c->len += len;
	while (len) {
		size_t n = sizeof(c->block) - c->used;

		if (c->used == 0 && len >= sizeof(c->block)) {
			sha256_block(c, p);
			n = sizeof(c->block);
		} else {
			n = n < len ? n : len;
			memcpy(c->block + c->used, p, n);
			c->used += n;
			if (c->used == sizeof(c->block)) {
				sha256_block(c, c->block);
				c->used = 0;
			}
		}
		p += n;
		len -= n;
	}
}

/* The digest as 64 hex digits and a NUL into @hex. */
static void sha256_hex(struct sha256 *c, char hex[65])
{
	uint64_t bits = c->len * 8;
	uint8_t pad[72] = {0x80};
	size_t padlen = (c->used < 56 ? 56 : 120) - c->used;

	for (int i = 0; i < 8; i++)
		pad[padlen + (size_t)i] = (uint8_t)(bits >> (56 - 8 * i));
	sha256_update(c, pad, padlen + 8);
	for (int i = 0; i < 8; i++)
		snprintf(hex + 8 * i, 9, "%08x", c->h[i]);
}

/* ------------------------------------------------------ TCP services --- */

struct conn;

/* Where a connection out goes, and how many bytes it sends. */
struct target {
	struct inet_addr addr;
	uint16_t port;
	uint64_t bytes;
};

/* A TCP service: its listener and what each connection does. */
struct service {
	const char *name;
	int opt;		      /* its command-line letter */
	int (*serve)(struct conn *c); /* one connection, on its own thread: 0 or -errno */
	bool nodelay;		      /* answers go out at once, not after Nagle's wait */
	unsigned keepalive_s;	      /* idle seconds before a keepalive probe; 0: none */
	uint16_t port;		      /* 0: not asked for */
	struct tcp_sock *listener;    /* while its thread runs */
	struct kthread *thread;	      /* the accept loop */
};

/* A connection and its thread, on the list of live ones. */
struct conn {
	struct tcp_sock *s;
	struct kthread *thread;
	struct service *svc;
	struct conn *prev, *next;
	uint8_t *buf;	  /* DRIVE_BUF bytes */
	struct target to; /* a connection out (the send command's): where, how much */
};

/*
 * Every kernel thread of this program runs on the one CPU main makes, and
 * scheduling there is cooperative: the lists and counts below change only
 * between blocking calls, so they need no lock.
 */
static struct netif_queue *q;
static struct kthread *echo_thread, *hold_thread;
/* ::, where every service listens: both families reach it. */
static const struct inet_addr any_addr;
static uint16_t hold_port;
static unsigned nheld;
static struct conn *conns;
static unsigned nconns, nlisteners;
static bool stopping;
/* What the discard connections read, and what the send command's sent, in all. */
static uint64_t discarded, sent, nsends, nsend_errors;

/* Read exactly @len bytes: @len, 0 at a FIN before any, or -errno (-EPROTO: a FIN midway). */
static ssize_t recv_exact(struct tcp_sock *s, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = tcp_recv(s, buf + got, len - got, DRIVE_IO_MS);

		if (n < 0)
			return n;
		if (n == 0)
			return got ? -EPROTO : 0;
		got += (size_t)n;
	}
	return (ssize_t)len;
}

static int send_all(struct tcp_sock *s, const uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = tcp_send(s, buf, len, DRIVE_IO_MS);

		if (n < 0)
			return (int)n;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int serve_echo(struct conn *c)
{
	for (;;) {
		ssize_t n = tcp_recv(c->s, c->buf, DRIVE_BUF, DRIVE_IO_MS);
		int err;

		if (n <= 0)
			return n ? (int)n : tcp_shutdown(c->s);
		if ((err = send_all(c->s, c->buf, (size_t)n)))
			return err;
	}
}

static int serve_sink(struct conn *c)
{
	struct sha256 h;
	char line[128], hex[65];
	uint64_t total = 0;
	ssize_t n;
	int len;

	sha256_init(&h);
	while ((n = tcp_recv(c->s, c->buf, DRIVE_BUF, DRIVE_IO_MS)) > 0) {
		sha256_update(&h, c->buf, (size_t)n);
		total += (uint64_t)n;
	}
	if (n < 0)
		return (int)n;
	sha256_hex(&h, hex);
	len =
	    snprintf(line, sizeof(line), "bytes %llu sha256 %s\n", (unsigned long long)total, hex);
	return send_all(c->s, (const uint8_t *)line, (size_t)len);
}

static int serve_discard(struct conn *c)
{
	char line[64];
	uint64_t total = 0;
	ssize_t n;
	int len;

	while ((n = tcp_recv(c->s, c->buf, DRIVE_BUF, DRIVE_IO_MS)) > 0) {
		total += (uint64_t)n;
		discarded += (uint64_t)n;
	}
	if (n < 0)
		return (int)n;
	len = snprintf(line, sizeof(line), "bytes %llu\n", (unsigned long long)total);
	return send_all(c->s, (const uint8_t *)line, (size_t)len);
}

static int send_pattern(struct conn *c, unsigned long long want);

static int serve_source(struct conn *c)
{
	char line[DRIVE_LINE_MAX + 1], *end;
	unsigned long long want;
	size_t got = 0;

	while (!memchr(line, '\n', got)) {
		ssize_t n;

		if (got == DRIVE_LINE_MAX)
			return -EPROTO;
		n = tcp_recv(c->s, line + got, DRIVE_LINE_MAX - got, DRIVE_IO_MS);
		if (n <= 0)
			return n ? (int)n : -EPROTO;
		got += (size_t)n;
	}
	line[got] = '\0';
	errno = 0;
	want = strtoull(line, &end, 10);
	if (errno || end == line || *end != '\n')
		return -EPROTO;
	return send_pattern(c, want);
}

/* @want bytes of the pattern: byte i of them is i % DRIVE_PERIOD. */
static int send_pattern(struct conn *c, unsigned long long want)
{
	/* A period of the pattern repeated: any offset's next DRIVE_BUF - DRIVE_PERIOD bytes. */
	const size_t chunk = DRIVE_BUF - DRIVE_PERIOD;
	unsigned long long off = 0;

	for (size_t i = 0; i < DRIVE_BUF; i++)
		c->buf[i] = (uint8_t)(i % DRIVE_PERIOD);
	while (off < want) {
		size_t n = want - off < chunk ? (size_t)(want - off) : chunk;
		int err = send_all(c->s, c->buf + off % DRIVE_PERIOD, n);

		if (err)
			return err;
		off += n;
	}
	return tcp_shutdown(c->s);
}

static int serve_rr(struct conn *c)
{
	for (;;) {
		ssize_t n = recv_exact(c->s, c->buf, DRIVE_RR_SIZE);
		int err;

		if (n <= 0)
			return n ? (int)n : tcp_shutdown(c->s);
		if ((err = send_all(c->s, c->buf, DRIVE_RR_SIZE)))
			return err;
	}
}

/*
 * A minimal HTTP/1.1 server for curl: "GET /N" answers N bytes of the
 * pattern, then closes; anything else is a 400. One request a connection.
 */
static int serve_http(struct conn *c)
{
	static const char bad[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
				  "Connection: close\r\n\r\n";
	char req[DRIVE_HTTP_MAX + 1], head[160], *end;
	unsigned long long want;
	size_t got = 0;
	int len, err;

	while (got < 4 || !memmem(req, got, "\r\n\r\n", 4)) {
		ssize_t n;

		if (got == DRIVE_HTTP_MAX)
			goto reject;
		n = tcp_recv(c->s, req + got, DRIVE_HTTP_MAX - got, DRIVE_IO_MS);
		if (n <= 0)
			return n ? (int)n : -EPROTO;
		got += (size_t)n;
	}
	req[got] = '\0';
	if (strncmp(req, "GET /", 5) || req[5] < '0' || req[5] > '9')
		goto reject;
	errno = 0;
	want = strtoull(req + 5, &end, 10);
	if (errno || strncmp(end, " HTTP/1.", 8))
		goto reject;
	len = snprintf(head, sizeof(head),
		       "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
		       "Content-Length: %llu\r\nConnection: close\r\n\r\n",
		       want);
	if ((err = send_all(c->s, (const uint8_t *)head, (size_t)len)))
		return err;
	return send_pattern(c, want);
reject:
	if ((err = send_all(c->s, (const uint8_t *)bad, sizeof(bad) - 1)))
		return err;
	return tcp_shutdown(c->s);
}

/*
 * The send command's connection: to->bytes zero bytes to to->addr, FIN,
 * and what the peer sends read until its FIN (iperf's server sends none).
 */
static int serve_send(struct conn *c)
{
	int err = tcp_connect_in(c->s, &c->to.addr, c->to.port, DRIVE_CONNECT_MS);
	uint64_t off = 0;
	ssize_t n;

	memset(c->buf, 0, DRIVE_BUF);
	while (!err && off < c->to.bytes) {
		size_t k = c->to.bytes - off < DRIVE_BUF ? (size_t)(c->to.bytes - off) : DRIVE_BUF;

		err = send_all(c->s, c->buf, k);
		off += k;
	}
	if (!err)
		err = tcp_shutdown(c->s);
	while (!err && (n = tcp_recv(c->s, c->buf, DRIVE_BUF, DRIVE_IO_MS)) != 0)
		err = n < 0 ? (int)n : 0;
	if (err) {
		nsend_errors++;
		return err;
	}
	nsends++;
	sent += c->to.bytes;
	return 0;
}

static struct service sender = {.name = "send", .serve = serve_send};

static struct service services[] = {
    {.name = "echo", .opt = 'E', .serve = serve_echo, .nodelay = true},
    {.name = "sink", .opt = 'K', .serve = serve_sink},
    {.name = "source", .opt = 'S', .serve = serve_source},
    {.name = "rr", .opt = 'R', .serve = serve_rr, .nodelay = true},
    {.name = "discard", .opt = 'D', .serve = serve_discard},
    {.name = "keep", .opt = 'A', .serve = serve_echo, .nodelay = true, .keepalive_s = DRIVE_KEEP_S},
    {.name = "http", .opt = 'W', .serve = serve_http},
};
#define NSERVICES (sizeof(services) / sizeof(services[0]))

static int conn_main(void *arg)
{
	struct conn *c = arg;
	int err = c->svc->serve(c);

	/*
	 * A clean end is a graceful close; any error (the peer's RST, silence,
	 * a protocol error, the stop) a RST, so the peer learns it at once.
	 */
	if (err && err != -ECONNRESET && err != -EPIPE && err != -EINTR)
		fprintf(stderr, "inet-drive: %s connection: %s\n", c->svc->name, strerror(-err));
	if (err)
		tcp_abort(c->s);
	else
		tcp_close(c->s);
	if (c->prev)
		c->prev->next = c->next;
	else
		conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	nconns--;
	free(c->buf);
	free(c);
	return 0;
}

/* Give @s a thread of its own (@to: where it connects, if out); on failure it is reset. */
static void conn_start(struct service *svc, struct tcp_sock *s, const struct target *to)
{
	struct conn *c = calloc(1, sizeof(*c));
	int err = -ENOMEM;

	if (c && (c->buf = malloc(DRIVE_BUF))) {
		c->s = s;
		c->svc = svc;
		if (to)
			c->to = *to;
		if (svc->nodelay)
			tcp_set_nodelay(s, true);
		if (svc->keepalive_s)
			tcp_set_keepalive(s, svc->keepalive_s);
		err = kthread_create(&c->thread, svc->name, SCHED_PRIO_DEFAULT, conn_main, c);
	}
	if (err) {
		fprintf(stderr, "inet-drive: %s: no thread for a connection: %s\n", svc->name,
			strerror(-err));
		tcp_abort(s);
		if (c)
			free(c->buf);
		free(c);
		return;
	}
	c->next = conns;
	if (conns)
		conns->prev = c;
	conns = c;
	nconns++;
	kthread_detach(c->thread);
}

static int listen_main(void *arg)
{
	struct service *svc = arg;

	for (;;) {
		struct tcp_sock *s;
		int err = tcp_accept(svc->listener, &s, NULL, NULL, -1);

		if (err == -EINTR || stopping)
			break;
		if (err)
			fprintf(stderr, "inet-drive: %s: accept: %s\n", svc->name, strerror(-err));
		else
			conn_start(svc, s, NULL);
	}
	tcp_close(svc->listener);
	svc->listener = NULL;
	nlisteners--;
	return 0;
}

static int service_start(struct service *svc)
{
	int err = tcp_open(&svc->listener);

	if (err)
		return err;
	if ((err = tcp_bind_in(svc->listener, &any_addr, svc->port)) ||
	    (err = tcp_listen(svc->listener, DRIVE_BACKLOG)) ||
	    (err = kthread_create(&svc->thread, svc->name, SCHED_PRIO_DEFAULT, listen_main, svc))) {
		tcp_close(svc->listener);
		svc->listener = NULL;
		return err;
	}
	nlisteners++;
	kthread_detach(svc->thread);
	return 0;
}

/* ------------------------------------------------------------ hold --- */

/* Poll every held connection once: echo what it sent, close it at its FIN or error. */
static void hold_poll(struct tcp_sock **held)
{
	static uint8_t buf[4096];

	for (unsigned i = 0; i < nheld;) {
		ssize_t n = tcp_recv(held[i], buf, sizeof(buf), 0);

		if (n > 0) {
			send_all(held[i], buf, (size_t)n);
			continue; /* more may wait */
		}
		if (n == -EAGAIN) {
			i++;
			continue;
		}
		if (n == 0)
			tcp_close(held[i]);
		else
			tcp_abort(held[i]);
		held[i] = held[--nheld];
	}
}

static int hold_service(void *arg)
{
	struct tcp_sock *l, **held = NULL;
	unsigned cap = 0;
	uint64_t next_poll = 0;
	int err = tcp_open(&l);

	(void)arg;
	if (!err && !(err = tcp_bind_in(l, &any_addr, hold_port)))
		err = tcp_listen(l, DRIVE_BACKLOG);
	if (err) {
		fprintf(stderr, "inet-drive: hold on port %u: %s\n", hold_port, strerror(-err));
		exit(1);
	}
	while (!stopping) {
		struct tcp_sock *s;
		uint64_t now = host_mono_ns();

		err = tcp_accept(l, &s, NULL, NULL, 100);
		if (err == -EINTR)
			break;
		if (!err) {
			if (nheld == cap) {
				struct tcp_sock **more =
				    realloc(held, (cap ? 2 * cap : 1024) * sizeof(*held));

				if (!more) {
					tcp_abort(s);
					continue;
				}
				held = more;
				cap = cap ? 2 * cap : 1024;
			}
			held[nheld++] = s;
		}
		if (now >= next_poll || err == -ETIMEDOUT) {
			hold_poll(held);
			next_poll = now + 100 * 1000 * 1000;
		}
	}
	while (nheld)
		tcp_abort(held[--nheld]);
	free(held);
	tcp_close(l);
	return 0;
}

/* ------------------------------------------------------------ poll --- */

static uint16_t poll_port;
static struct kthread *poll_thread;
static unsigned npolled;

/*
 * Echo on one uml_poll loop: the descriptors' table, entry 0 the listener.
 * What a send could not take waits in the connection's buffer, and the
 * connection waits for POLLOUT, reading nothing meanwhile.
 */
struct pconn {
	uint8_t *buf; /* what a send did not take, while there is some; else NULL */
	size_t off, len;
};

/*
 * Send @buf[off..len) on @fd: 0 when all went, 1 when the rest was kept in
 * @c to wait for room, or -errno. An idle connection holds no buffer.
 */
static int pconn_send(int fd, struct pconn *c, const uint8_t *buf, size_t off, size_t len)
{
	while (off < len) {
		ssize_t n = uml_send(fd, buf + off, len - off, 0);

		if (n == -EAGAIN) {
			uint8_t *rest = c->buf == buf ? c->buf : malloc(len - off);

			if (!rest)
				return -ENOMEM;
			if (rest != buf)
				memcpy(rest, buf + off, len - off);
			c->buf = rest;
			c->off = rest == buf ? off : 0;
			c->len = rest == buf ? len : len - off;
			return 1;
		}
		if (n < 0)
			return (int)n;
		off += (size_t)n;
	}
	if (c->buf == buf) {
		free(c->buf);
		c->buf = NULL;
	}
	return 0;
}

/* Connection @fd is ready: false when it is over. */
static bool pconn_serve(struct uml_pollfd *p, struct pconn *c)
{
	static uint8_t in[DRIVE_RR_SIZE * 64];
	int r = c->buf ? pconn_send(p->fd, c, c->buf, c->off, c->len) : 0;

	while (r == 0) {
		ssize_t n = uml_recv(p->fd, in, sizeof(in), 0);

		if (n == -EAGAIN)
			break;
		if (n <= 0) {
			if (n == 0)
				uml_shutdown(p->fd, SHUT_WR);
			return false;
		}
		r = pconn_send(p->fd, c, in, 0, (size_t)n);
	}
	if (r < 0)
		return false;
	p->events = r ? UML_POLLOUT : UML_POLLIN;
	return true;
}

static int poll_service(void *arg)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(poll_port)};
	struct uml_pollfd *pfd = NULL;
	struct pconn *pc = NULL;
	unsigned cap = 0;
	int l = uml_socket(AF_INET, SOCK_STREAM, UML_SOCK_NONBLOCK), err = l < 0 ? l : 0;

	(void)arg;
	if (!err && !(err = uml_bind(l, (struct sockaddr *)&a, sizeof(a))))
		err = uml_listen(l, DRIVE_BACKLOG);
	if (err) {
		fprintf(stderr, "inet-drive: poll on port %u: %s\n", poll_port, strerror(-err));
		exit(1);
	}
	npolled = 1;
	for (;;) {
		int ready;

		if (npolled >= cap) {
			unsigned c = cap ? 2 * cap : 1024;
			struct uml_pollfd *np = realloc(pfd, c * sizeof(*np));
			struct pconn *nc = np ? realloc(pc, c * sizeof(*nc)) : NULL;

			if (np)
				pfd = np;
			if (!nc)
				break;
			pc = nc;
			cap = c;
			pfd[0] = (struct uml_pollfd){.fd = l, .events = UML_POLLIN};
		}
		ready = uml_poll(pfd, npolled, -1);
		if (ready < 0)
			break;
		for (unsigned i = npolled; i-- > 1;) {
			if (!pfd[i].revents || pconn_serve(&pfd[i], &pc[i]))
				continue;
			uml_close(pfd[i].fd);
			free(pc[i].buf);
			npolled--;
			pfd[i] = pfd[npolled];
			pc[i] = pc[npolled];
		}
		while (pfd[0].revents && npolled < cap) {
			int fd = uml_accept(l, NULL, NULL, UML_SOCK_NONBLOCK);

			if (fd < 0)
				break;
			pc[npolled] = (struct pconn){0};
			uml_setsockopt(fd, UML_SO_NODELAY, 1);
			pfd[npolled++] = (struct uml_pollfd){.fd = fd, .events = UML_POLLIN};
		}
	}
	while (npolled > 1) {
		npolled--;
		uml_close(pfd[npolled].fd);
		free(pc[npolled].buf);
	}
	uml_close(l);
	npolled = 0;
	free(pfd);
	free(pc);
	return 0;
}

/* ---------------------------------------------------------- poll set --- */

static uint16_t set_port;
static struct kthread *set_thread;
static unsigned nset; /* its connections and its listener, while it runs */

/*
 * The loop of -L on a poll set: an item per connection, its data the
 * descriptor (the listener's UINT64_MAX); the connection's state at the
 * descriptor's index.
 */
static int set_service(void *arg)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(set_port)};
	struct uml_pollevent ev[256];
	struct pconn *pc = calloc(UML_POLLSET_WATCHES / 4, sizeof(*pc));
	int set = uml_pollset_create(), l = uml_socket(AF_INET, SOCK_STREAM, UML_SOCK_NONBLOCK);
	int err = !pc ? -ENOMEM : set < 0 ? set : l < 0 ? l : 0;

	(void)arg;
	if (!err && !(err = uml_bind(l, (struct sockaddr *)&a, sizeof(a))) &&
	    !(err = uml_listen(l, DRIVE_BACKLOG)))
		err = uml_pollset_ctl(set, UML_POLLSET_ADD, l, UML_POLLIN, UINT64_MAX);
	if (err) {
		fprintf(stderr, "inet-drive: poll set on port %u: %s\n", set_port, strerror(-err));
		exit(1);
	}
	nset = 1;
	for (;;) {
		int n = uml_pollset_wait(set, ev, 256, -1);

		if (n < 0)
			break;
		for (int i = 0; i < n; i++) {
			struct uml_pollfd p;
			bool out;
			int fd;

			if (ev[i].data == UINT64_MAX) {
				while ((fd = uml_accept(l, NULL, NULL, UML_SOCK_NONBLOCK)) >= 0) {
					if (fd >= UML_POLLSET_WATCHES / 4 ||
					    uml_pollset_ctl(set, UML_POLLSET_ADD, fd, UML_POLLIN,
							    (uint64_t)fd)) {
						uml_close(fd);
						continue;
					}
					pc[fd] = (struct pconn){0};
					uml_setsockopt(fd, UML_SO_NODELAY, 1);
					nset++;
				}
				continue;
			}
			fd = (int)ev[i].data;
			out = pc[fd].buf != NULL; /* what the item watches: the rest to send */
			p = (struct uml_pollfd){.fd = fd, .events = out ? UML_POLLOUT : UML_POLLIN};
			if (!pconn_serve(&p, &pc[fd])) {
				uml_close(fd); /* out of the set with it */
				free(pc[fd].buf);
				pc[fd].buf = NULL;
				nset--;
			} else if ((p.events == UML_POLLOUT) != out) {
				uml_pollset_ctl(set, UML_POLLSET_MOD, fd, p.events, (uint64_t)fd);
			}
		}
	}
	uml_close(set);
	uml_close(l);
	free(pc);
	nset = 0;
	return 0;
}

/* ------------------------------------------------------------- UDP --- */

static int echo_service(void *arg)
{
	static char buf[65536];
	struct udp_sock *s;
	int err = udp_open(&s);

	if (!err)
		err = udp_bind_in(s, &any_addr, (uint16_t)(long)arg);
	if (err) {
		fprintf(stderr, "inet-drive: udp echo: %s\n", strerror(-err));
		exit(1);
	}
	for (;;) {
		struct inet_addr from;
		uint16_t port;
		ssize_t n = udp_recvfrom_in(s, buf, sizeof(buf), &from, &port, -1);

		if (n == -EINTR)
			break;
		if (n >= 0)
			udp_sendto_in(s, buf, (size_t)n, &from, port);
	}
	udp_close(s);
	return 0;
}

/* --------------------------------------------------------- control --- */

static void print_status(void)
{
	size_t len = inet_status(NULL, 0) + 1;
	char *buf = malloc(len);

	if (buf) {
		inet_status(buf, len);
		fputs(buf, stdout);
		free(buf);
	} else {
		puts("status_error no memory");
	}
	printf("drive_conns %u\n", nconns);
	printf("drive_discarded %llu\n", (unsigned long long)discarded);
	printf("drive_sends %llu\n", (unsigned long long)nsends);
	printf("drive_send_errors %llu\n", (unsigned long long)nsend_errors);
	printf("drive_sent %llu\n", (unsigned long long)sent);
	printf("drive_held %u\n", nheld);
	printf("drive_polled %u\n", npolled ? npolled - 1 : 0);
	printf("drive_set %u\n", nset ? nset - 1 : 0);
	{
		struct mm_stats st;

		mm_drain();
		mm_shrink();
		mm_stats(&st);
		printf("drive_pages %llu\n",
		       (unsigned long long)(st.total_pages - st.free_pages - st.cached_pages));
	}
}

/*
 * Stop: every service's threads are asked to finish and waited for (they
 * reset what they hold), and only then the queue is closed, so that their
 * last segments still go out.
 */
static void stop(void)
{
	stopping = true;
	kthread_interrupt(echo_thread);
	if (hold_thread)
		kthread_interrupt(hold_thread);
	if (poll_thread)
		kthread_interrupt(poll_thread);
	if (set_thread)
		kthread_interrupt(set_thread);
	for (size_t i = 0; i < NSERVICES; i++)
		if (services[i].listener)
			kthread_interrupt(services[i].thread);
	for (struct conn *c = conns; c; c = c->next)
		kthread_interrupt(c->thread);
	for (int ms = 0; (nconns || nlisteners || nheld || npolled || nset) && ms < DRIVE_STOP_WAIT;
	     ms += 10)
		kthread_sleep_ns(10 * 1000 * 1000);
	if (nconns || nlisteners)
		fprintf(stderr, "inet-drive: %u connections, %u listeners did not finish\n", nconns,
			nlisteners);
	netif_queue_close(q);
}

/* "send ADDR PORT N": a connection out on a thread of its own; a bad line is said on stderr. */
static void send_command(const char *line)
{
	char addr[64];
	struct target to = {0};
	struct in_addr v4;
	struct tcp_sock *s;
	unsigned long long bytes;
	unsigned port;
	int err;

	if (sscanf(line, "send %63s %u %llu", addr, &port, &bytes) != 3 || port == 0 ||
	    port > 65535) {
		fprintf(stderr, "inet-drive: bad command '%s'\n", line);
		return;
	}
	if (inet_pton(AF_INET, addr, &v4) == 1) {
		to.addr = inet_addr_from_v4(ntohl(v4.s_addr));
	} else if (inet_pton(AF_INET6, addr, to.addr.a) != 1) {
		fprintf(stderr, "inet-drive: bad address '%s'\n", addr);
		return;
	}
	to.port = (uint16_t)port;
	to.bytes = bytes;
	if ((err = tcp_open(&s))) {
		fprintf(stderr, "inet-drive: send: %s\n", strerror(-err));
		nsend_errors++;
		return;
	}
	conn_start(&sender, s, &to);
}

static int control_main(void *arg)
{
	char line[DRIVE_CTL_MAX];
	size_t used = 0;

	(void)arg;
	for (;;) {
		char *nl;
		ssize_t n;
		int ev = kthread_wait_fd(0, HOST_POLLIN, -1);

		if (ev < 0 && ev != -ETIMEDOUT)
			break;
		n = read(0, line + used, sizeof(line) - used);
		if (n <= 0 && !(n < 0 && (errno == EINTR || errno == EAGAIN)))
			break;
		used += n > 0 ? (size_t)n : 0;
		while ((nl = memchr(line, '\n', used))) {
			*nl = '\0';
			if (!strcmp(line, "stat")) {
				print_status();
				puts("end");
				fflush(stdout);
			} else if (!strncmp(line, "send ", 5)) {
				send_command(line);
			}
			used -= (size_t)(nl + 1 - line);
			memmove(line, nl + 1, used);
		}
		if (used == sizeof(line))
			used = 0; /* a line too long for any command */
	}
	stop();
	sched_cpu_stop(sched_this_cpu());
	return 0;
}

/* A service's one thread, detached: it ends when stop() interrupts it. Nonzero: it did not start.
 */
static int start_loop(struct kthread **t, const char *name, int (*fn)(void *))
{
	int err = kthread_create(t, name, SCHED_PRIO_DEFAULT, fn, NULL);

	if (err) {
		fprintf(stderr, "inet-drive: %s: %s\n", name, strerror(-err));
		return err;
	}
	kthread_detach(*t);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: inet-drive [-E PORT] [-K PORT] [-S PORT] [-R PORT] [-D PORT] [-A PORT] "
		"[-W PORT] [-L PORT] [-Q PORT] [-H PORT] [-m MIB] [-b MIB] [-6 ADDR6/PREFIX] [-P] "
		"TAP ADDR/PREFIX UDP_PORT [MAC]\n");
	exit(2);
}

/* A decimal in [@lo, @hi], or usage(). */
static unsigned long number(const char *s, unsigned long lo, unsigned long hi)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	struct uml_boot_params bp = {.memory = 32 << 20};
	struct netif_config cfg = {.mac = {2, 0, 0, 0, 0, 2}};
	size_t inet_mem = 0;
	struct netif *nif;
	struct in_addr a;
	char *slash;
	uint8_t mac[6];
	int err, opt;

	while ((opt = getopt(argc, argv, "E:K:S:R:D:A:W:H:L:Q:m:b:6:P")) != -1) {
		size_t i;

		if (opt == 'P') {
			cfg.offload = NETIF_OFFLOAD_OFF;
			continue;
		}
		if (opt == '6') {
			if (!(slash = strchr(optarg, '/')))
				usage();
			*slash = '\0';
			if (inet_pton(AF_INET6, optarg, cfg.addr6.a) != 1)
				usage();
			cfg.prefix6_len = (unsigned)number(slash + 1, 1, 128);
			continue;
		}
		if (opt == 'H') {
			hold_port = (uint16_t)number(optarg, 1, 65535);
			continue;
		}
		if (opt == 'L') {
			poll_port = (uint16_t)number(optarg, 1, 65535);
			continue;
		}
		if (opt == 'Q') {
			set_port = (uint16_t)number(optarg, 1, 65535);
			continue;
		}
		if (opt == 'm') {
			bp.memory = number(optarg, 8, 4096) << 20;
			continue;
		}
		if (opt == 'b') {
			inet_mem = number(optarg, 1, 1024) << 20;
			continue;
		}
		for (i = 0; i < NSERVICES && services[i].opt != opt; i++)
			;
		if (i == NSERVICES)
			usage();
		services[i].port = (uint16_t)number(optarg, 1, 65535);
	}
	argc -= optind;
	argv += optind;
	if (argc < 3 || strlen(argv[0]) >= sizeof(cfg.name) || !(slash = strchr(argv[1], '/')))
		usage();
	*slash = '\0';
	if (!inet_aton(argv[1], &a))
		usage();
	strcpy(cfg.name, argv[0]);
	cfg.addr = ntohl(a.s_addr);
	cfg.prefix_len = (unsigned)number(slash + 1, 1, 30);
	if (argc > 3 && sscanf(argv[3], "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &cfg.mac[0], &cfg.mac[1],
			       &cfg.mac[2], &cfg.mac[3], &cfg.mac[4], &cfg.mac[5]) != 6)
		usage();
	if ((err = uml_boot(&bp)) || (err = inet_init(inet_mem)) ||
	    (err = netif_create(&cfg, &nif)) || (err = sched_cpu_init()) ||
	    (err = netif_queue_open_tap(nif, &q)) || (err = netif_queue_start(q)) ||
	    (err = kthread_create(&echo_thread, "udp-echo", SCHED_PRIO_DEFAULT, echo_service,
				  (void *)number(argv[2], 1, 65535))) ||
	    (err = kthread_create(NULL, "control", SCHED_PRIO_DEFAULT, control_main, NULL))) {
		fprintf(stderr, "inet-drive: %s\n", strerror(-err));
		return 1;
	}
	kthread_detach(echo_thread); /* it ends only when stop() interrupts it */
	if ((hold_port && start_loop(&hold_thread, "hold", hold_service)) ||
	    (poll_port && start_loop(&poll_thread, "poll", poll_service)) ||
	    (set_port && start_loop(&set_thread, "pollset", set_service)))
		return 1;
	for (size_t i = 0; i < NSERVICES; i++) {
		if (services[i].port && (err = service_start(&services[i]))) {
			fprintf(stderr, "inet-drive: tcp %s on port %u: %s\n", services[i].name,
				services[i].port, strerror(-err));
			return 1;
		}
	}
	netif_mac(nif, mac);
	printf("ready %02x:%02x:%02x:%02x:%02x:%02x\n", mac[0], mac[1], mac[2], mac[3], mac[4],
	       mac[5]);
	fflush(stdout);
	sched_cpu_run(true);
	print_status();
	return 0;
}
