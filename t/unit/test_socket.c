/*
 * Sockets for applications (kernel/net/inet/socket.c through libuml's
 * uml_socket, uml_poll and the rest) on the mirrored wire of test_tcp: the
 * machine is 10.0.0.2, and what it sends to 10.0.0.9 comes back in with
 * the addresses swapped, so a client connecting to 10.0.0.9:P meets the
 * machine's own listener on P. Frames move only when the test pumps them
 * (run), on the test's virtual clock; waits use the host's.
 *
 *  1     every call on a descriptor that is not open: -EBADF; a bad
 *        domain, type, flag, address family or length (an AF_INET
 *        socket given a sockaddr_in6: -EAFNOSUPPORT); listen on UDP:
 *        -EOPNOTSUPP; descriptors are the lowest free
 *  2     bind: -EADDRINUSE for a port taken; getsockname says the port
 *  3     connect to a closed port: -ECONNREFUSED (blocking); non-blocking:
 *        -EINPROGRESS, then POLLOUT|POLLERR|POLLHUP and UML_SO_ERROR
 *        -ECONNREFUSED once, then 0
 *  4     a non-blocking connect: -EINPROGRESS, no POLLOUT until the
 *        handshake, then POLLOUT and UML_SO_ERROR 0; the listener is
 *        POLLIN exactly while a connection waits; accept -EAGAIN without
 *        one, and the peer's address with one; getpeername both ways
 *  5     data: no POLLIN and -EAGAIN before, POLLIN with it, the bytes
 *        intact, no POLLIN once read
 *  6     shutdown(SHUT_WR): the peer's POLLIN and recv 0 (FIN); our send
 *        -EPIPE; after both FINs, POLLHUP; shutdown(SHUT_RD): recv 0
 *  7     a reset: POLLERR|POLLHUP|POLLIN, recv -ECONNRESET, then -EPIPE
 *  8     a full send buffer: send -EAGAIN and no POLLOUT; the peer's ACKs
 *        free it: POLLOUT; a host thread waiting for POLLOUT is woken
 *  9     poll with a timeout and nothing ready returns 0; a receive
 *        timeout (UML_SO_RCVTIMEO) says -EAGAIN; options' errors
 * 10     a host thread in uml_poll is woken by another thread's send
 * 11     a kernel thread in uml_poll is woken the same way, and its CPU
 *        runs another kernel thread meanwhile (no spinning)
 * 12     UDP: POLLOUT always, POLLIN when a datagram waits (a poller
 *        woken by its arrival), sendto/recvfrom with the sender's address,
 *        a connected UDP socket's send; a connected socket hears only its
 *        peer: another sender's datagram is answered as by a closed port
 *        (NoPorts), and a wildcard socket's connect says -EINVAL;
 *        connect(AF_UNSPEC) dissolves it; 12d-e TCP's connect(AF_UNSPEC) as
 *        Linux's tcp_disconnect: the peer sees a RST, a poller wakes
 *        with POLLOUT|POLLHUP|POLLERR, UML_SO_ERROR -ECONNRESET once;
 *        the socket connects again to another listener; a listener
 *        stops listening and can bind and listen again
 * 13     1,000 connections polled by one host thread: a send on one wakes
 *        it with exactly that one ready; no entry is left hooked
 * 14     close from another thread while a poll holds the socket: the poll
 *        ends at its timeout, the descriptor is gone, nothing is freed twice
 * 15     a child process with sockets, killed in uml_poll: uml_reap
 *        closes them and frees its poll block; the child's table is its own
 * 16     every socket and buffer is back in the end
 * 17     AF_INET6, both families (run before 16): a listener on [::]:81
 *        takes an AF_INET6 client's connection to ::ffff:10.0.0.9, and
 *        accept, getpeername and getsockname speak sockaddr_in6 (the IPv4
 *        peer v4-mapped, the listener ::); data each way; an AF_INET6
 *        socket given a sockaddr_in says -EAFNOSUPPORT
 * 18     poll sets: a set's and its calls' errors (-EBADF, -EINVAL,
 *        -ENOTSOCK, -EEXIST, -ENOENT; a socket call on a set -ENOTSOCK,
 *        uml_poll POLLNVAL); 1,000 watched connections, one send: the
 *        wait reports that one with its data, again while unread
 *        (level), not once read; edge-triggered once per event; @max
 *        smaller than what is ready: all of it before any again; MOD and
 *        DEL; a closed socket leaves every set, unhooked; a host thread
 *        asleep in a wait is woken by another's send
 * 19     a child killed in uml_pollset_wait: uml_reap frees its set and
 *        items after closing its sockets; no set is left in the end
 * 20     POLLOUT knows the stack's budget: spent, a connection with room in
 *        its send buffer is not POLLOUT and its send says -ENOBUFS; a host
 *        thread in uml_poll and a poll set waiting for POLLOUT are woken
 *        by the tick once the budget has room again; a UDP socket alike
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mirror.h"
#include "tap.h"
#include "uml.h"
#include "uml/host.h"
#include "uml/inet.h"
#include "uml/sched.h"
#include "../../kernel/net/inet/tcp.h"

#define RING	 8192
#define FRAME_SZ 1536
#define NMANY	 1000

static struct netif *nif;
static struct netif_queue *q;
static _Atomic uint64_t vclock = 1000000;

/* The wire: every thread may send, so the ring has a lock; only the test's loop delivers. */
static pthread_mutex_t ring_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	uint8_t b[FRAME_SZ];
	size_t len;
} ring[RING];
static unsigned r_head, r_tail;

static uint64_t vnow(void)
{
	return atomic_load(&vclock);
}

static int capture(void *arg, const void *frame, size_t len)
{
	(void)arg;
	pthread_mutex_lock(&ring_lock);
	if (r_tail - r_head < RING && len <= FRAME_SZ) {
		memcpy(ring[r_tail % RING].b, frame, len);
		ring[r_tail % RING].len = len;
		r_tail++;
	}
	pthread_mutex_unlock(&ring_lock);
	return 0;
}

static bool deliver_one(void)
{
	uint8_t f[FRAME_SZ];
	size_t len;

	pthread_mutex_lock(&ring_lock);
	if (r_head == r_tail) {
		pthread_mutex_unlock(&ring_lock);
		return false;
	}
	len = ring[r_head % RING].len;
	memcpy(f, ring[r_head % RING].b, len);
	r_head++;
	pthread_mutex_unlock(&ring_lock);
	mirror_in(q, f, len);
	return true;
}

/* @ms of virtual time, the timers run and the wire pumped every one. */
static void run(unsigned ms)
{
	for (unsigned i = 0; i < ms; i++) {
		atomic_fetch_add(&vclock, 1);
		netif_tick(nif);
		for (int guard = 0; guard < 100000 && deliver_one(); guard++)
			;
	}
}

static struct sockaddr_in sin_of(uint32_t addr, uint16_t port)
{
	return (struct sockaddr_in){
	    .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(addr)};
}
#define SA(x) ((struct sockaddr *)&(x))

/* revents of @fd for @events, without waiting. */
static int poll1(int fd, short events)
{
	struct uml_pollfd p = {.fd = fd, .events = events};
	int n = uml_poll(&p, 1, 0);

	return n < 0 ? n : p.revents;
}

static int listener(uint16_t port)
{
	struct sockaddr_in a = sin_of(0, port);
	int l = uml_socket(AF_INET, SOCK_STREAM, UML_SOCK_NONBLOCK);

	if (l < 0 || uml_bind(l, SA(a), sizeof(a)) || uml_listen(l, 1024))
		bail_out("no listener on %u", port);
	return l;
}

/* A connected pair through @l on @port: the client @c (non-blocking) and the accepted @s. */
static void pair(int l, uint16_t port, int *c, int *s)
{
	struct sockaddr_in a = sin_of(PEER_IP, port);
	int err;

	*c = uml_socket(AF_INET, SOCK_STREAM, UML_SOCK_NONBLOCK);
	err = uml_connect(*c, SA(a), sizeof(a), -1);
	if (err != -EINPROGRESS)
		bail_out("connect: %d", err);
	for (int i = 0; i < 5000 && !(poll1(*c, UML_POLLOUT) & UML_POLLOUT); i++)
		run(1);
	run(1);
	*s = uml_accept(l, NULL, NULL, 0);
	if (*s < 0)
		bail_out("accept: %d", *s);
}

static void test_bad_calls(void)
{
	struct sockaddr_in a = sin_of(0, 7000);
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
	struct sockaddr_un_like {
		sa_family_t f;
		char path[20];
	} un = {.f = AF_UNIX};
	struct uml_pollfd p = {.fd = 999, .events = UML_POLLIN};
	unsigned len = sizeof(a);
	char b[4];
	int v, u, t, bad = 0;

	bad += uml_bind(999, SA(a), sizeof(a)) != -EBADF;
	bad += uml_listen(-1, 1) != -EBADF;
	bad += uml_accept(999, NULL, NULL, 0) != -EBADF;
	bad += uml_connect(999, SA(a), sizeof(a), 0) != -EBADF;
	bad += uml_send(999, b, 1, 0) != -EBADF;
	bad += uml_recv(999, b, 1, 0) != -EBADF;
	bad += uml_sendto(999, b, 1, 0, NULL, 0) != -EBADF;
	bad += uml_recvfrom(999, b, 1, 0, NULL, NULL) != -EBADF;
	bad += uml_shutdown(999, SHUT_WR) != -EBADF;
	bad += uml_close(999) != -EBADF;
	bad += uml_getsockname(999, SA(a), &len) != -EBADF;
	bad += uml_getpeername(999, SA(a), &len) != -EBADF;
	bad += uml_setsockopt(999, UML_SO_NODELAY, 1) != -EBADF;
	bad += uml_getsockopt(999, UML_SO_ERROR, &v) != -EBADF;
	bad += uml_poll(&p, 1, 0) != 1 || p.revents != UML_POLLNVAL;
	ok(!bad, "1a every call on a descriptor not open says -EBADF, poll POLLNVAL (%d wrong)",
	   bad);

	bad = 0;
	bad += uml_socket(AF_UNIX, SOCK_STREAM, 0) != -EAFNOSUPPORT;
	bad += uml_socket(AF_INET, SOCK_RAW, 0) != -EINVAL;
	bad += uml_socket(AF_INET, SOCK_STREAM, 0x80) != -EINVAL;
	t = uml_socket(AF_INET, SOCK_STREAM, 0);
	u = uml_socket(AF_INET, SOCK_DGRAM, 0);
	bad += t < 0 || u != t + 1;
	bad += uml_bind(t, SA(a6), sizeof(a6)) != -EAFNOSUPPORT;
	bad += uml_bind(t, (struct sockaddr *)&un, sizeof(un)) != -EAFNOSUPPORT;
	bad += uml_bind(t, SA(a), 4) != -EINVAL;
	bad += uml_bind(t, SA(a), 1) != -EFAULT;
	bad += uml_bind(t, NULL, sizeof(a)) != -EFAULT;
	bad += uml_connect(t, SA(a6), sizeof(a6), 0) != -EAFNOSUPPORT;
	bad += uml_listen(u, 5) != -EOPNOTSUPP;
	bad += uml_accept(u, NULL, NULL, 0) != -EOPNOTSUPP;
	bad += uml_shutdown(u, SHUT_WR) != -EOPNOTSUPP;
	bad += uml_shutdown(t, 7) != -EINVAL;
	bad += uml_send(t, b, 1, 0x40) != -EINVAL;
	bad += uml_send(t, b, 1, 0) != -ENOTCONN;
	bad += uml_recv(t, b, 1, UML_MSG_DONTWAIT) != -ENOTCONN;
	bad += uml_send(u, b, 1, 0) != -EDESTADDRREQ;
	bad += uml_getpeername(t, SA(a), &len) != -ENOTCONN;
	bad += uml_listen(t, 0) != -EINVAL;
	bad += uml_poll(NULL, 1, 0) != -EFAULT;
	bad += uml_close(t) != 0 || uml_close(t) != -EBADF;
	/* The lowest free descriptor again. */
	bad += uml_socket(AF_INET, SOCK_STREAM, 0) != t;
	bad += uml_close(t) || uml_close(u);
	ok(!bad,
	   "1b bad domains, types, flags, families and lengths refused; lowest descriptor (%d "
	   "wrong)",
	   bad);
}

static void test_bind(void)
{
	struct sockaddr_in a = sin_of(0, 7001), got;
	unsigned len = sizeof(got);
	int x = uml_socket(AF_INET, SOCK_STREAM, 0), y = uml_socket(AF_INET, SOCK_STREAM, 0);
	int e1 = uml_bind(x, SA(a), sizeof(a)), e2 = uml_bind(y, SA(a), sizeof(a));

	uml_getsockname(x, SA(got), &len);
	ok(e1 == 0 && e2 == -EADDRINUSE && len == sizeof(got) && ntohs(got.sin_port) == 7001,
	   "2 bind: a taken port says -EADDRINUSE (%d, %d); getsockname says the port (%u)", e1, e2,
	   ntohs(got.sin_port));
	uml_close(x);
	uml_close(y);
}

static void test_refused(void)
{
	struct sockaddr_in a = sin_of(PEER_IP, 7002);
	int c = uml_socket(AF_INET, SOCK_STREAM, UML_SOCK_NONBLOCK), err, ev, e1 = 1, e2 = 1;

	err = uml_connect(c, SA(a), sizeof(a), -1);
	run(5);
	ev = poll1(c, UML_POLLIN | UML_POLLOUT);
	uml_getsockopt(c, UML_SO_ERROR, &e1);
	uml_getsockopt(c, UML_SO_ERROR, &e2);
	ok(err == -EINPROGRESS && ev == (UML_POLLIN | UML_POLLOUT | UML_POLLERR | UML_POLLHUP) &&
	       e1 == -ECONNREFUSED && e2 == 0,
	   "3a non-blocking connect to a closed port: -EINPROGRESS, then POLLOUT|POLLERR|POLLHUP "
	   "(%#x), UML_SO_ERROR %d once, then %d",
	   ev, e1, e2);
	uml_close(c);
}

/* A blocking connect to a closed port, the wire pumped by another thread meanwhile. */
static _Atomic int pumping;
static void *pump_main(void *arg)
{
	(void)arg;
	while (atomic_load(&pumping)) {
		run(1);
		host_sleep_ns(200000);
	}
	return NULL;
}

static void test_refused_blocking(void)
{
	struct sockaddr_in a = sin_of(PEER_IP, 7003);
	int c = uml_socket(AF_INET, SOCK_STREAM, 0), err;
	pthread_t th;

	atomic_store(&pumping, 1);
	if (pthread_create(&th, NULL, pump_main, NULL))
		bail_out("no thread");
	err = uml_connect(c, SA(a), sizeof(a), 5000);
	atomic_store(&pumping, 0);
	pthread_join(th, NULL);
	is_int(err, -ECONNREFUSED, "3b a blocking connect to a closed port: -ECONNREFUSED");
	uml_close(c);
}

static void test_connect_accept(int l)
{
	struct sockaddr_in a = sin_of(PEER_IP, 80), peer;
	unsigned plen = sizeof(peer);
	int c, s, err, ev0, ev1, lev0, lev1, lev2, acc0, e = 1;
	unsigned len;

	lev0 = poll1(l, UML_POLLIN);
	acc0 = uml_accept(l, NULL, NULL, 0);
	c = uml_socket(AF_INET, SOCK_STREAM, UML_SOCK_NONBLOCK);
	err = uml_connect(c, SA(a), sizeof(a), -1);
	ev0 = poll1(c, UML_POLLOUT);
	run(3);
	ev1 = poll1(c, UML_POLLOUT | UML_POLLIN);
	uml_getsockopt(c, UML_SO_ERROR, &e);
	lev1 = poll1(l, UML_POLLIN);
	s = uml_accept(l, SA(peer), &plen, UML_SOCK_NONBLOCK);
	lev2 = poll1(l, UML_POLLIN);
	ok(err == -EINPROGRESS && ev0 == 0 && ev1 == UML_POLLOUT && e == 0,
	   "4a non-blocking connect: -EINPROGRESS, no POLLOUT (%#x), then POLLOUT alone (%#x), "
	   "UML_SO_ERROR 0 (%d)",
	   ev0, ev1, e);
	ok(lev0 == 0 && acc0 == -EAGAIN && lev1 == UML_POLLIN && s >= 0 && lev2 == 0,
	   "4b the listener: no POLLIN and -EAGAIN without a connection (%#x, %d), POLLIN with one "
	   "(%#x), none once accepted (%#x)",
	   lev0, acc0, lev1, lev2);
	{
		struct sockaddr_in cn, sp;
		unsigned l1 = sizeof(cn), l2 = sizeof(sp);

		uml_getsockname(c, SA(cn), &l1);
		len = sizeof(sp);
		uml_getpeername(s, SA(sp), &l2);
		(void)len;
		ok(plen == sizeof(peer) && ntohl(peer.sin_addr.s_addr) == PEER_IP &&
		       peer.sin_port == cn.sin_port && sp.sin_port == cn.sin_port,
		   "4c accept and getpeername say the client's address and port (%u)",
		   ntohs(peer.sin_port));
	}
	uml_close(c);
	uml_close(s);
	run(10);
}

static void test_data(int l)
{
	char out[3000], in[4000];
	int c, s, ev0, ev1, ev2, r0;
	ssize_t n, got = 0;

	pair(l, 80, &c, &s);
	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (char)(i * 7 + 3);
	ev0 = poll1(s, UML_POLLIN);
	r0 = (int)uml_recv(s, in, sizeof(in), UML_MSG_DONTWAIT);
	n = uml_send(c, out, sizeof(out), 0);
	run(5);
	ev1 = poll1(s, UML_POLLIN | UML_POLLOUT);
	while (got < (ssize_t)sizeof(out)) {
		ssize_t k = uml_recv(s, in + got, sizeof(in) - (size_t)got, UML_MSG_DONTWAIT);

		if (k <= 0)
			break;
		got += k;
	}
	ev2 = poll1(s, UML_POLLIN);
	ok(ev0 == 0 && r0 == -EAGAIN && n == (ssize_t)sizeof(out) &&
	       ev1 == (UML_POLLIN | UML_POLLOUT) && got == n && !memcmp(in, out, sizeof(out)) &&
	       ev2 == 0,
	   "5 no POLLIN and -EAGAIN before data (%#x, %d); POLLIN|POLLOUT with it (%#x); %zd bytes "
	   "intact; no POLLIN once read (%#x)",
	   ev0, r0, ev1, got, ev2);
	uml_close(c);
	uml_close(s);
	run(10);
}

static void test_shutdown(int l)
{
	char b[8];
	int c, s, ev0, ev1, ev2, evh;
	ssize_t r, sp, r2;

	pair(l, 80, &c, &s);
	ev0 = poll1(s, UML_POLLIN);
	uml_shutdown(c, SHUT_WR);
	run(5);
	ev1 = poll1(s, UML_POLLIN);
	r = uml_recv(s, b, sizeof(b), 0);
	sp = uml_send(c, "x", 1, 0);
	uml_shutdown(s, SHUT_WR);
	run(5);
	evh = poll1(s, UML_POLLIN | UML_POLLOUT);
	ok(ev0 == 0 && ev1 == UML_POLLIN && r == 0 && sp == -EPIPE && (evh & UML_POLLHUP),
	   "6a shutdown(SHUT_WR): the peer's POLLIN (%#x) and recv 0 (%zd); our send -EPIPE (%zd); "
	   "both FINs: POLLHUP (%#x)",
	   ev1, r, sp, evh);
	uml_close(c);
	uml_close(s);
	run(10);

	pair(l, 80, &c, &s);
	uml_send(c, "abc", 3, 0);
	run(5);
	uml_shutdown(s, SHUT_RD);
	ev2 = poll1(s, UML_POLLIN);
	r2 = uml_recv(s, b, sizeof(b), 0);
	ok(ev2 == UML_POLLIN && r2 == 0, "6b shutdown(SHUT_RD): POLLIN (%#x) and recv 0 (%zd)", ev2,
	   r2);
	uml_close(c);
	uml_close(s);
	run(10);
}

static void test_reset(int l)
{
	char b[8];
	int c, s, ev;
	ssize_t r, w;

	pair(l, 80, &c, &s);
	/* Unread data makes close a reset (RFC 1122 4.2.2.13). */
	uml_send(s, "zz", 2, 0);
	run(5);
	uml_close(c);
	run(5);
	ev = poll1(s, UML_POLLIN | UML_POLLOUT);
	r = uml_recv(s, b, sizeof(b), 0);
	w = uml_send(s, "y", 1, 0);
	ok(ev == (UML_POLLIN | UML_POLLOUT | UML_POLLERR | UML_POLLHUP) && r == -ECONNRESET &&
	       w == -EPIPE,
	   "7 a reset: POLLIN|POLLOUT|POLLERR|POLLHUP (%#x), recv -ECONNRESET (%zd), send -EPIPE "
	   "(%zd)",
	   ev, r, w);
	uml_close(s);
	run(10);
}

struct waiter {
	struct uml_pollfd *fds;
	unsigned n;
	int timeout_ms;
	int ret;
	_Atomic int done;
};

static void *poll_main(void *arg)
{
	struct waiter *w = arg;

	w->ret = uml_poll(w->fds, w->n, w->timeout_ms);
	atomic_store(&w->done, 1);
	return NULL;
}

/* Until @w is done or 5 s pass; false when it is not. */
static bool wait_done(struct waiter *w, bool pump)
{
	for (int i = 0; i < 5000 && !atomic_load(&w->done); i++) {
		if (pump)
			run(1);
		host_sleep_ns(1000000);
	}
	return atomic_load(&w->done);
}

static void test_full(int l)
{
	static char buf[64 << 10];
	struct uml_pollfd p;
	struct waiter w = {.fds = &p, .n = 1, .timeout_ms = 10000};
	int c, s, ev0, ev1;
	ssize_t n, total = 0, last;
	pthread_t th;

	pair(l, 80, &c, &s);
	while ((n = uml_send(c, buf, sizeof(buf), 0)) > 0)
		total += n;
	last = n;
	ev0 = poll1(c, UML_POLLOUT);
	p = (struct uml_pollfd){.fd = c, .events = UML_POLLOUT};
	if (pthread_create(&th, NULL, poll_main, &w))
		bail_out("no thread");
	host_sleep_ns(20 * 1000000);
	/* The peer reads; its ACKs free the sender's buffer. */
	for (int i = 0; i < 200 && !atomic_load(&w.done); i++) {
		run(1);
		while (uml_recv(s, buf, sizeof(buf), UML_MSG_DONTWAIT) > 0)
			;
	}
	wait_done(&w, false);
	pthread_join(th, NULL);
	ev1 = poll1(c, UML_POLLOUT);
	ok(last == -EAGAIN && total > 0 && ev0 == 0 && w.ret == 1 && p.revents == UML_POLLOUT &&
	       ev1 == UML_POLLOUT,
	   "8 a full send buffer (%zd bytes): -EAGAIN, no POLLOUT (%#x); the peer's ACKs wake a "
	   "host thread waiting for POLLOUT (%d, %#x)",
	   total, ev0, w.ret, p.revents);
	uml_close(c);
	uml_close(s);
	run(10);
}

static void test_timeouts(int l)
{
	char b[4];
	int c, s, n, bad = 0, v = 0;
	struct uml_pollfd p[2];
	ssize_t r;

	pair(l, 80, &c, &s);
	p[0] = (struct uml_pollfd){.fd = s, .events = UML_POLLIN};
	p[1] = (struct uml_pollfd){.fd = -1, .events = UML_POLLIN};
	n = uml_poll(p, 2, 30);
	uml_setsockopt(s, UML_SO_NONBLOCK, 0);
	uml_setsockopt(s, UML_SO_RCVTIMEO, 30);
	r = uml_recv(s, b, sizeof(b), 0);
	ok(n == 0 && p[0].revents == 0 && r == -EAGAIN,
	   "9a poll with nothing ready ends at its timeout with 0 (%d); a receive timeout says "
	   "-EAGAIN (%zd)",
	   n, r);
	bad += uml_setsockopt(s, UML_SO_SNDBUF, 100) != -EINVAL;
	bad += uml_setsockopt(s, UML_SO_SNDBUF, 1 << 20) != -EISCONN;
	bad += uml_setsockopt(s, UML_SO_KEEPALIVE, -1) != -EINVAL;
	bad += uml_setsockopt(s, (enum uml_sockopt)99, 1) != -ENOPROTOOPT;
	bad += uml_setsockopt(s, UML_SO_ERROR, 1) != -ENOPROTOOPT;
	bad +=
	    uml_setsockopt(s, UML_SO_NODELAY, 1) || uml_getsockopt(s, UML_SO_NODELAY, &v) || v != 1;
	bad += uml_setsockopt(s, UML_SO_KEEPALIVE, 30) || uml_getsockopt(s, UML_SO_KEEPALIVE, &v) ||
	       v != 30;
	bad += uml_getsockopt(s, UML_SO_RCVTIMEO, &v) || v != 30;
	bad += uml_getsockopt(s, UML_SO_NODELAY, NULL) != -EFAULT;
	{
		int u = uml_socket(AF_INET, SOCK_DGRAM, 0);

		bad += uml_setsockopt(u, UML_SO_NODELAY, 1) != -ENOPROTOOPT;
		bad += uml_setsockopt(u, UML_SO_SNDBUF, 8192) != -ENOPROTOOPT;
		uml_close(u);
	}
	{
		int f = uml_socket(AF_INET, SOCK_STREAM, 0);

		bad += uml_setsockopt(f, UML_SO_RCVBUF, 65536) ||
		       uml_getsockopt(f, UML_SO_RCVBUF, &v) || v != 65536;
		uml_close(f);
	}
	ok(!bad,
	   "9b options: bad values -EINVAL, unknown -ENOPROTOOPT, set ones read back (%d "
	   "wrong)",
	   bad);
	uml_close(c);
	uml_close(s);
	run(10);
}

static void test_host_wake(int l)
{
	char b[8];
	struct uml_pollfd p[2];
	struct waiter w = {.fds = p, .n = 2, .timeout_ms = 10000};
	int c, s, c2, s2;
	bool early;
	pthread_t th;

	pair(l, 80, &c, &s);
	pair(l, 80, &c2, &s2);
	p[0] = (struct uml_pollfd){.fd = s, .events = UML_POLLIN};
	p[1] = (struct uml_pollfd){.fd = s2, .events = UML_POLLIN};
	if (pthread_create(&th, NULL, poll_main, &w))
		bail_out("no thread");
	host_sleep_ns(30 * 1000000);
	early = atomic_load(&w.done);
	uml_send(c2, "ping", 4, 0);
	run(3);
	wait_done(&w, false);
	pthread_join(th, NULL);
	ok(!early && w.ret == 1 && p[0].revents == 0 && p[1].revents == UML_POLLIN &&
	       uml_recv(s2, b, sizeof(b), 0) == 4,
	   "10 a host thread in uml_poll sleeps (%d), and another thread's send wakes it with that "
	   "socket alone ready (%d, %#x %#x)",
	   early, w.ret, p[0].revents, p[1].revents);
	uml_close(c);
	uml_close(s);
	uml_close(c2);
	uml_close(s2);
	run(10);
}

/* Test 11: a kernel thread polls while another of its CPU counts; the main thread sends. */
static struct {
	int fd;
	int ret;
	short revents;
	_Atomic int polling, done;
	_Atomic unsigned ticks;
} kt;

static int kpoller(void *arg)
{
	struct uml_pollfd p = {.fd = kt.fd, .events = UML_POLLIN};

	(void)arg;
	atomic_store(&kt.polling, 1);
	kt.ret = uml_poll(&p, 1, 10000);
	kt.revents = p.revents;
	atomic_store(&kt.done, 1);
	sched_cpu_stop(sched_this_cpu()); /* once the counter sees done and ends */
	return 0;
}

static int kcounter(void *arg)
{
	(void)arg;
	while (!atomic_load(&kt.done)) {
		atomic_fetch_add(&kt.ticks, 1);
		kthread_sleep_ns(1000000);
	}
	return 0;
}

static void *cpu_main(void *arg)
{
	(void)arg;
	if (sched_cpu_init() || kthread_create(NULL, "poller", SCHED_PRIO_DEFAULT, kpoller, NULL) ||
	    kthread_create(NULL, "counter", SCHED_PRIO_DEFAULT, kcounter, NULL))
		bail_out("no CPU for the kernel threads");
	sched_cpu_run(true);
	sched_cpu_exit();
	return NULL;
}

static void test_kthread_wake(int l)
{
	char b[8];
	int c, s;
	unsigned t0, t1;
	pthread_t th;

	pair(l, 80, &c, &s);
	kt.fd = s;
	if (pthread_create(&th, NULL, cpu_main, NULL))
		bail_out("no thread");
	for (int i = 0; i < 5000 && !atomic_load(&kt.polling); i++)
		host_sleep_ns(1000000);
	t0 = atomic_load(&kt.ticks);
	host_sleep_ns(50 * 1000000);
	t1 = atomic_load(&kt.ticks);
	uml_send(c, "kt", 2, 0);
	run(3);
	pthread_join(th, NULL);
	ok(atomic_load(&kt.done) && kt.ret == 1 && kt.revents == UML_POLLIN && t1 > t0 &&
	       uml_recv(s, b, sizeof(b), 0) == 2,
	   "11 a kernel thread in uml_poll is woken by a send (%d, %#x), its CPU running another "
	   "thread meanwhile (%u ticks)",
	   kt.ret, kt.revents, t1 - t0);
	uml_close(c);
	uml_close(s);
	run(10);
}

static void test_udp(void)
{
	struct sockaddr_in a = sin_of(0, 5353), to = sin_of(PEER_IP, 5353), from, local;
	unsigned flen = sizeof(from), llen = sizeof(local);
	struct uml_pollfd p;
	struct waiter w = {.fds = &p, .n = 1, .timeout_ms = 10000};
	int u = uml_socket(AF_INET, SOCK_DGRAM, 0), v = uml_socket(AF_INET, SOCK_DGRAM, 0);
	int ev0, ev1, bad = 0;
	char b[64];
	ssize_t n, m;
	pthread_t th;

	bad += uml_bind(u, SA(a), sizeof(a)) != 0;
	ev0 = poll1(u, UML_POLLIN | UML_POLLOUT);
	p = (struct uml_pollfd){.fd = u, .events = UML_POLLIN};
	if (pthread_create(&th, NULL, poll_main, &w))
		bail_out("no thread");
	host_sleep_ns(20 * 1000000);
	/* From v to 10.0.0.9:5353, mirrored: to u, from 10.0.0.9 and v's port. */
	n = uml_sendto(v, "dgram", 5, 0, SA(to), sizeof(to));
	run(3);
	wait_done(&w, false);
	pthread_join(th, NULL);
	ev1 = poll1(u, UML_POLLIN | UML_POLLOUT);
	m = uml_recvfrom(u, b, sizeof(b), 0, SA(from), &flen);
	uml_getsockname(v, SA(local), &llen);
	bad += n != 5 || m != 5 || memcmp(b, "dgram", 5) || flen != sizeof(from) ||
	       ntohl(from.sin_addr.s_addr) != PEER_IP || from.sin_port != local.sin_port;
	/* Connected: send goes to the peer. */
	bad += uml_connect(v, SA(to), sizeof(to), 0) != 0 || uml_send(v, "two", 3, 0) != 3;
	run(3);
	bad += uml_recv(u, b, sizeof(b), UML_MSG_DONTWAIT) != 3;
	bad += uml_recv(u, b, sizeof(b), UML_MSG_DONTWAIT) != -EAGAIN;
	ok(!bad && ev0 == UML_POLLOUT && w.ret == 1 && p.revents == UML_POLLIN &&
	       ev1 == (UML_POLLIN | UML_POLLOUT),
	   "12 UDP: POLLOUT alone (%#x); a datagram wakes a poller (%d, %#x); sendto, recvfrom "
	   "with "
	   "the sender, a connected send (%d wrong)",
	   ev0, w.ret, p.revents, bad);
	uml_close(u);
	uml_close(v);
}

/* Connected, the socket on 6000 hears 10.0.0.9:6001 only; 6002's datagram finds no port. */
static void test_udp_connected(void)
{
	struct sockaddr_in a = sin_of(0, 6000), peer = sin_of(PEER_IP, 6001), any = sin_of(0, 9);
	struct sockaddr_in to = sin_of(PEER_IP, 6000), from;
	int u = uml_socket(AF_INET, SOCK_DGRAM, 0), b = uml_socket(AF_INET, SOCK_DGRAM, 0),
	    c = uml_socket(AF_INET, SOCK_DGRAM, 0), bad = 0, ev;
	uint64_t noports = inet_mib(INET_MIB_UDP_NO_PORTS);
	unsigned flen = sizeof(from);
	char buf[16];
	ssize_t m0, m1, m2;

	bad += uml_bind(u, SA(a), sizeof(a)) != 0;
	bad += uml_connect(u, SA(any), sizeof(any), 0) != -EINVAL;
	bad += uml_connect(u, SA(peer), sizeof(peer), 0) != 0;
	a = sin_of(0, 6001);
	bad += uml_bind(b, SA(a), sizeof(a)) != 0;
	a = sin_of(0, 6002);
	bad += uml_bind(c, SA(a), sizeof(a)) != 0;
	/* Mirrored: c's datagram comes in from 10.0.0.9:6002, b's from 10.0.0.9:6001. */
	uml_sendto(c, "stranger", 8, 0, SA(to), sizeof(to));
	run(3);
	m0 = uml_recv(u, buf, sizeof(buf), UML_MSG_DONTWAIT);
	ev = poll1(u, UML_POLLIN);
	uml_sendto(b, "peer", 4, 0, SA(to), sizeof(to));
	run(3);
	m1 = uml_recvfrom(u, buf, sizeof(buf), UML_MSG_DONTWAIT, SA(from), &flen);
	m2 = uml_recv(u, buf, sizeof(buf), UML_MSG_DONTWAIT);
	ok(!bad && m0 == -EAGAIN && ev == 0 && inet_mib(INET_MIB_UDP_NO_PORTS) - noports == 1 &&
	       m1 == 4 && ntohs(from.sin_port) == 6001 && m2 == -EAGAIN,
	   "12b a connected UDP socket hears only its peer: another's datagram is not delivered "
	   "(%zd) but counted as for a closed port (%llu); the peer's is (%zd from port %u)",
	   m0, (unsigned long long)(inet_mib(INET_MIB_UDP_NO_PORTS) - noports), m1,
	   ntohs(from.sin_port));
	{
		struct sockaddr unspec = {.sa_family = AF_UNSPEC};
		int d = uml_connect(u, &unspec, sizeof(unspec), 0),
		    t = uml_socket(AF_INET, SOCK_STREAM, 0);
		ssize_t m3, w3;

		uml_sendto(c, "again", 5, 0, SA(to), sizeof(to));
		run(3);
		m3 = uml_recv(u, buf, sizeof(buf), UML_MSG_DONTWAIT);
		w3 = uml_send(u, "x", 1, 0);
		ok(d == 0 && m3 == 5 && w3 == -EDESTADDRREQ &&
		       uml_connect(t, &unspec, sizeof(unspec), 0) == 0,
		   "12c connect(AF_UNSPEC) dissolves it: the stranger is heard (%zd), send has no "
		   "destination (%zd); on a TCP socket never connected, 0 (test 12d)",
		   m3, w3);
		uml_close(t);
	}
	uml_close(u);
	uml_close(b);
	uml_close(c);
	run(3);
}

/*
 * connect(AF_UNSPEC) on TCP, as Linux's tcp_disconnect: the peer gets a
 * RST; a host thread in uml_poll on the socket is woken with
 * POLLOUT|POLLHUP|POLLERR (Linux's tcp_poll of a CLOSE socket with sk_err
 * set); UML_SO_ERROR says -ECONNRESET once; the socket connects again, to
 * another listener, and carries data. A listener disconnected stops
 * listening: a connection to its port is refused, and it can bind and
 * listen again.
 */
static void test_tcp_disconnect(int l)
{
	struct sockaddr unspec = {.sa_family = AF_UNSPEC};
	struct sockaddr_in a2 = sin_of(PEER_IP, 82), a3 = sin_of(PEER_IP, 83), b3 = sin_of(0, 83);
	struct uml_pollfd p;
	struct waiter w = {.fds = &p, .n = 1, .timeout_ms = 5000};
	int c, s, s2, l2 = listener(82), l3 = listener(83), d, e1 = 1, e2 = 1, rc, ev, ev_lis, c3;
	int relisten;
	ssize_t r, n;
	char b[8];
	pthread_t th;

	pair(l, 80, &c, &s);
	p = (struct uml_pollfd){.fd = c, .events = UML_POLLIN};
	pthread_create(&th, NULL, poll_main, &w);
	usleep(20000);
	d = uml_connect(c, &unspec, sizeof(unspec), 0);
	wait_done(&w, false);
	pthread_join(th, NULL);
	run(5);
	r = uml_recv(s, b, sizeof(b), 0);
	ev = poll1(c, UML_POLLIN | UML_POLLOUT);
	uml_getsockopt(c, UML_SO_ERROR, &e1);
	uml_getsockopt(c, UML_SO_ERROR, &e2);
	ok(d == 0 && w.ret == 1 && p.revents == (UML_POLLHUP | UML_POLLERR) &&
	       ev == (UML_POLLOUT | UML_POLLHUP | UML_POLLERR) && r == -ECONNRESET &&
	       e1 == -ECONNRESET && e2 == 0,
	   "12d TCP connect(AF_UNSPEC): 0 (%d); a poller for POLLIN woken with POLLHUP|POLLERR "
	   "(%#x), then POLLOUT|POLLHUP|POLLERR (%#x); the peer reset (recv %zd); UML_SO_ERROR "
	   "%d once, then %d",
	   d, p.revents, ev, r, e1, e2);
	rc = uml_connect(c, SA(a2), sizeof(a2), -1);
	for (int i = 0; i < 5000 && !(poll1(c, UML_POLLOUT) & UML_POLLOUT); i++)
		run(1);
	run(1);
	s2 = uml_accept(l2, NULL, NULL, 0);
	n = uml_send(c, "again", 5, 0);
	run(5);
	r = s2 >= 0 ? uml_recv(s2, b, sizeof(b), UML_MSG_DONTWAIT) : -1;
	/* The listener on 83 disconnected: no more listening there; then bound and listening again.
	 */
	d = uml_connect(l3, &unspec, sizeof(unspec), 0);
	ev_lis = poll1(l3, UML_POLLIN | UML_POLLOUT);
	c3 = uml_socket(AF_INET, SOCK_STREAM, UML_SOCK_NONBLOCK);
	rc = uml_connect(c3, SA(a3), sizeof(a3), -1);
	run(5);
	rc = rc == -EINPROGRESS ? uml_connect(c3, SA(a3), sizeof(a3), -1) : rc;
	relisten = uml_bind(l3, SA(b3), sizeof(b3)) == 0 && uml_listen(l3, 4) == 0;
	{
		/* Bound, never connected: the port is given back too. */
		struct sockaddr_in b4 = sin_of(0, 84), b5 = sin_of(0, 85);
		int u = uml_socket(AF_INET, SOCK_STREAM, 0),
		    v = uml_socket(AF_INET, SOCK_STREAM, 0);

		relisten &= uml_bind(u, SA(b4), sizeof(b4)) == 0 &&
			    uml_connect(u, &unspec, sizeof(unspec), 0) == 0 &&
			    uml_bind(v, SA(b4), sizeof(b4)) == 0 && uml_listen(v, 4) == 0 &&
			    uml_bind(u, SA(b5), sizeof(b5)) == 0;
		uml_close(u);
		uml_close(v);
	}
	ok(s2 >= 0 && n == 5 && r == 5 && !memcmp(b, "again", 5) && d == 0 &&
	       (ev_lis & UML_POLLIN) == 0 && rc == -ECONNREFUSED && relisten,
	   "12e then it connects to another listener and carries data (%zd); a listener "
	   "disconnected stops listening (connect %d, events %#x) and listens again after a bind, "
	   "a bound socket's port is free again (%d)",
	   r, rc, ev_lis, relisten);
	uml_close(c3);
	uml_close(c);
	uml_close(s);
	if (s2 >= 0)
		uml_close(s2);
	uml_close(l2);
	uml_close(l3);
	run(10);
}

static unsigned hooked(int *fds, unsigned n);

static void test_many(int l)
{
	static int c[NMANY], s[NMANY];
	static struct uml_pollfd p[NMANY];
	struct waiter w = {.fds = p, .n = NMANY, .timeout_ms = 10000};
	unsigned nready = 0, during, after;
	char b[8];
	pthread_t th;

	for (unsigned i = 0; i < NMANY; i++)
		pair(l, 80, &c[i], &s[i]);
	for (unsigned i = 0; i < NMANY; i++)
		p[i] = (struct uml_pollfd){.fd = s[i], .events = UML_POLLIN};
	if (pthread_create(&th, NULL, poll_main, &w))
		bail_out("no thread");
	host_sleep_ns(50 * 1000000);
	during = hooked(s, NMANY);
	uml_send(c[737], "one", 3, 0);
	run(3);
	wait_done(&w, false);
	pthread_join(th, NULL);
	after = hooked(s, NMANY);
	for (unsigned i = 0; i < NMANY; i++)
		nready += p[i].revents != 0;
	ok(w.ret == 1 && nready == 1 && p[737].revents == UML_POLLIN &&
	       uml_recv(s[737], b, sizeof(b), 0) == 3 && during == NMANY && after == 0,
	   "13 1,000 connections in one uml_poll: each hooked once while it waits (%u), a send on "
	   "one wakes it with that one ready (%d, %u), nothing hooked after (%u)",
	   during, w.ret, nready, after);
	for (unsigned i = 0; i < NMANY; i++) {
		uml_close(c[i]);
		uml_close(s[i]);
	}
	run(100);
}

/* How many of the connections of @fds have a poller hooked (test 13). */
static unsigned hooked(int *fds, unsigned n)
{
	static struct sockaddr_in la[NMANY], ra[NMANY];
	unsigned k = 0;

	for (unsigned i = 0; i < n; i++) {
		unsigned l1 = sizeof(la[i]), l2 = sizeof(ra[i]);

		if (uml_getsockname(fds[i], SA(la[i]), &l1) ||
		    uml_getpeername(fds[i], SA(ra[i]), &l2))
			bail_out("no addresses for %d", fds[i]);
	}
	tcp_enter(NULL);
	for (unsigned i = 0; i < n; i++) {
		struct inet_addr l = inet_addr_from_v4(ntohl(la[i].sin_addr.s_addr)),
				 r = inet_addr_from_v4(ntohl(ra[i].sin_addr.s_addr));
		struct tcp_sock *t =
		    tcp_lookup_locked(&l, ntohs(la[i].sin_port), &r, ntohs(ra[i].sin_port));

		k += t && t->pollers;
	}
	tcp_leave();
	return k;
}

static void test_close_during_poll(int l)
{
	struct uml_pollfd p;
	struct waiter w = {.fds = &p, .n = 1, .timeout_ms = 100};
	int c, s, cl, again;
	pthread_t th;

	pair(l, 80, &c, &s);
	p = (struct uml_pollfd){.fd = s, .events = UML_POLLIN};
	if (pthread_create(&th, NULL, poll_main, &w))
		bail_out("no thread");
	host_sleep_ns(20 * 1000000);
	cl = uml_close(s);
	again = poll1(s, UML_POLLIN);
	wait_done(&w, false);
	pthread_join(th, NULL);
	ok(cl == 0 && again == UML_POLLNVAL && w.ret == 0,
	   "14 close while another thread polls: the descriptor is gone (%#x), the poll ends at "
	   "its "
	   "timeout (%d, %#x)",
	   again, w.ret, p.revents);
	uml_close(c);
	run(10);
}

/* --- poll sets (18, 19) --- */

/* One wait of @set, 0 ms: how many reported, their data into @data. */
static int set_wait(int set, uint64_t *data, unsigned max)
{
	struct uml_pollevent ev[16];
	int n = uml_pollset_wait(set, ev, max < 16 ? max : 16, 0);

	for (int i = 0; i < n; i++)
		data[i] = ev[i].data;
	return n;
}

static void test_pollset_errors(int l)
{
	struct uml_pollfd p;
	struct uml_pollevent ev;
	int set = uml_pollset_create(), other = uml_pollset_create(), c, s, bad = 0;

	pair(l, 80, &c, &s);
	bad += set < 0 || other < 0;
	bad += uml_pollset_ctl(999, UML_POLLSET_ADD, s, UML_POLLIN, 0) != -EBADF;
	bad += uml_pollset_ctl(set, UML_POLLSET_ADD, 999, UML_POLLIN, 0) != -EBADF;
	bad += uml_pollset_ctl(s, UML_POLLSET_ADD, c, UML_POLLIN, 0) != -EINVAL;
	bad += uml_pollset_ctl(set, UML_POLLSET_ADD, set, UML_POLLIN, 0) != -EINVAL;
	bad += uml_pollset_ctl(set, UML_POLLSET_ADD, other, UML_POLLIN, 0) != -ENOTSOCK;
	bad += uml_pollset_ctl(set, UML_POLLSET_ADD, s, 0x4000, 0) != -EINVAL;
	bad += uml_pollset_ctl(set, 9, s, UML_POLLIN, 0) != -EINVAL;
	bad += uml_pollset_ctl(set, UML_POLLSET_MOD, s, UML_POLLIN, 0) != -ENOENT;
	bad += uml_pollset_ctl(set, UML_POLLSET_DEL, s, 0, 0) != -ENOENT;
	bad += uml_pollset_ctl(set, UML_POLLSET_ADD, s, UML_POLLIN, 0) != 0;
	bad += uml_pollset_ctl(set, UML_POLLSET_ADD, s, UML_POLLIN, 0) != -EEXIST;
	bad += uml_pollset_wait(set, &ev, 0, 0) != -EINVAL;
	bad += uml_pollset_wait(set, NULL, 1, 0) != -EFAULT;
	bad += uml_pollset_wait(s, &ev, 1, 0) != -EINVAL;
	bad += uml_pollset_wait(999, &ev, 1, 0) != -EBADF;
	bad += uml_send(set, "x", 1, 0) != -ENOTSOCK;
	bad += uml_listen(set, 1) != -ENOTSOCK;
	p = (struct uml_pollfd){.fd = set, .events = UML_POLLIN};
	bad += uml_poll(&p, 1, 0) != 1 || p.revents != UML_POLLNVAL;
	bad += uml_close(other) != 0 || uml_close(set) != 0 || uml_close(set) != -EBADF;
	ok(!bad,
	   "18a poll sets' errors: -EBADF, -EINVAL, -ENOTSOCK, -EEXIST, -ENOENT, -EFAULT; a socket "
	   "call on a set -ENOTSOCK, uml_poll POLLNVAL (%d wrong)",
	   bad);
	uml_close(c);
	uml_close(s);
	run(10);
}

struct set_waiter {
	int set, ret;
	struct uml_pollevent ev;
	_Atomic int done;
};

static void *set_wait_main(void *arg)
{
	struct set_waiter *w = arg;

	w->ret = uml_pollset_wait(w->set, &w->ev, 1, 10000);
	atomic_store(&w->done, 1);
	return NULL;
}

static void test_pollset(int l)
{
	static int c[NMANY], s[NMANY];
	struct set_waiter w = {0};
	uint64_t d[16];
	int set = uml_pollset_create(), n0, n1, n2, n3, e1, e2, e3, e4, k[3], bad = 0, hook;
	unsigned seen = 0;
	char b[8];
	pthread_t th;

	for (unsigned i = 0; i < NMANY; i++) {
		pair(l, 80, &c[i], &s[i]);
		if (uml_pollset_ctl(set, UML_POLLSET_ADD, s[i], UML_POLLIN, 1000 + i))
			bail_out("no item for %u", i);
	}
	n0 = set_wait(set, d, 16);
	uml_send(c[421], "one", 3, 0);
	run(3);
	n1 = set_wait(set, d, 16);
	bad += n1 != 1 || d[0] != 1421;
	n2 = set_wait(set, d, 16);
	bad += n2 != 1 || d[0] != 1421;
	bad += uml_recv(s[421], b, sizeof(b), 0) != 3;
	n3 = set_wait(set, d, 16);
	ok(n0 == 0 && !bad && n3 == 0,
	   "18b 1,000 watched connections, none ready: 0 (%d); a send on one: that one (%d), "
	   "again while unread (%d), not once read (%d)",
	   n0, n1, n2, n3);

	/* Edge-triggered: once per event. */
	bad = uml_pollset_ctl(set, UML_POLLSET_MOD, s[7], UML_POLLIN | UML_POLLET, 7) != 0;
	uml_send(c[7], "a", 1, 0);
	run(3);
	e1 = set_wait(set, d, 16);
	bad += e1 != 1 || d[0] != 7;
	e2 = set_wait(set, d, 16);
	uml_send(c[7], "b", 1, 0);
	run(100); /* Nagle holds "b" until "a"'s delayed ACK */
	e3 = set_wait(set, d, 16);
	bad += e3 != 1 || d[0] != 7;
	e4 = set_wait(set, d, 16);
	while (uml_recv(s[7], b, sizeof(b), UML_MSG_DONTWAIT) > 0)
		;
	ok(!bad && e2 == 0 && e4 == 0,
	   "18c edge-triggered: reported once per send (%d, %d), not again between (%d, %d)", e1,
	   e3, e2, e4);

	/* Ten ready, four at a time: every one before any again. */
	for (unsigned i = 100; i < 110; i++)
		uml_send(c[i], "x", 1, 0);
	run(3);
	for (int r = 0, got = 0; r < 3; r++) {
		k[r] = set_wait(set, d, 4);
		/* The first ten reports: each of the ten once; then the kept ones again. */
		for (int j = 0; j < k[r] && got < 10; j++, got++)
			seen |= d[j] >= 1100 && d[j] < 1110 ? 1u << (d[j] - 1100) : 1u << 31;
	}
	ok(k[0] == 4 && k[1] == 4 && k[2] == 4 && seen == 0x3ff,
	   "18d ten ready, four at a time (%d, %d, %d): each of the ten once in the first ten "
	   "reports (%#x), level-triggered ones again after",
	   k[0], k[1], k[2], seen);
	for (unsigned i = 100; i < 110; i++)
		uml_recv(s[i], b, sizeof(b), 0);

	/* MOD to POLLOUT: ready at once; DEL: silent. */
	bad = uml_pollset_ctl(set, UML_POLLSET_MOD, s[3], UML_POLLOUT, 3) != 0;
	n0 = set_wait(set, d, 16);
	bad += n0 != 1 || d[0] != 3;
	bad += uml_pollset_ctl(set, UML_POLLSET_DEL, s[3], 0, 0) != 0;
	n1 = set_wait(set, d, 16);
	/* Closed: out of the set, its socket unhooked. */
	uml_send(c[5], "z", 1, 0);
	run(3);
	uml_close(s[5]);
	n2 = set_wait(set, d, 16);
	bad += uml_pollset_ctl(set, UML_POLLSET_DEL, s[5], 0, 0) != -EBADF;
	ok(!bad && n1 == 0 && n2 == 0,
	   "18e MOD to POLLOUT is ready at once, DEL silences it (%d); a closed socket with data "
	   "leaves the set (%d)",
	   n1, n2);

	/* A host thread asleep in the wait, woken by another's send. */
	w.set = set;
	if (pthread_create(&th, NULL, set_wait_main, &w))
		bail_out("no thread");
	host_sleep_ns(20 * 1000000);
	n0 = atomic_load(&w.done);
	uml_send(c[999], "w", 1, 0);
	run(3);
	for (int i = 0; i < 5000 && !atomic_load(&w.done); i++)
		host_sleep_ns(1000000);
	pthread_join(th, NULL);
	ok(n0 == 0 && w.ret == 1 && w.ev.data == 1999 && w.ev.events == UML_POLLIN,
	   "18f a host thread asleep in uml_pollset_wait is woken by a send (%d, %llu, %#x)", w.ret,
	   (unsigned long long)w.ev.data, w.ev.events);
	hook = (int)hooked(s, 5);
	uml_close(set);
	n0 = (int)(hooked(s, 5) + hooked(s + 6, NMANY - 6));
	ok(hook == 4 && n0 == 0,
	   "18g a set's sockets are hooked while watched (%d of the first 5, one taken out), none "
	   "once the set is closed (%d)",
	   hook, n0);
	s[5] = -1;
	for (unsigned i = 0; i < NMANY; i++) {
		uml_close(c[i]);
		if (s[i] >= 0)
			uml_close(s[i]);
	}
	run(100);
}

/* An IPv4 address as AF_INET6 says it: ::ffff:a.b.c.d. */
static struct sockaddr_in6 sin6_mapped(uint32_t addr, uint16_t port)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port)};

	a.sin6_addr.s6_addr[10] = a.sin6_addr.s6_addr[11] = 0xff;
	addr = htonl(addr);
	memcpy(&a.sin6_addr.s6_addr[12], &addr, 4);
	return a;
}

static void test_inet6(void)
{
	struct sockaddr_in6 any = {.sin6_family = AF_INET6, .sin6_port = htons(81)};
	struct sockaddr_in6 to = sin6_mapped(PEER_IP, 81), want = sin6_mapped(PEER_IP, 0);
	struct sockaddr_in6 peer, name, lname;
	struct sockaddr_in a4 = sin_of(PEER_IP, 81);
	unsigned plen = sizeof(peer), nlen = sizeof(name), llen = sizeof(lname);
	int l6 = uml_socket(AF_INET6, SOCK_STREAM, 0);
	int c = uml_socket(AF_INET6, SOCK_STREAM, UML_SOCK_NONBLOCK), s = -1, err, bad4;
	char got[8] = "";
	ssize_t n = -1;

	if (l6 < 0 || c < 0 || uml_bind(l6, SA(any), sizeof(any)) || uml_listen(l6, 4))
		bail_out("no IPv6 listener");
	bad4 = uml_connect(c, SA(a4), sizeof(a4), 0);
	err = uml_connect(c, SA(to), sizeof(to), -1);
	run(3);
	s = uml_accept(l6, SA(peer), &plen, 0);
	uml_getsockname(l6, SA(lname), &llen);
	if (s >= 0)
		uml_getpeername(s, SA(name), &nlen);
	want.sin6_port = peer.sin6_port;
	ok(bad4 == -EAFNOSUPPORT && err == -EINPROGRESS && s >= 0 && plen == sizeof(peer) &&
	       peer.sin6_family == AF_INET6 && !memcmp(&peer.sin6_addr, &want.sin6_addr, 16) &&
	       nlen == sizeof(name) && !memcmp(&name.sin6_addr, &want.sin6_addr, 16) &&
	       name.sin6_port == peer.sin6_port && llen == sizeof(lname) &&
	       IN6_IS_ADDR_UNSPECIFIED(&lname.sin6_addr) && ntohs(lname.sin6_port) == 81,
	   "17a AF_INET6 on [::]:81 takes a connection to ::ffff:10.0.0.9 (%d): its peer is "
	   "v4-mapped in a sockaddr_in6, the listener says ::; a sockaddr_in says %d",
	   err, bad4);
	if (s >= 0 && uml_send(c, "v6", 2, 0) == 2) {
		run(3);
		n = uml_recv(s, got, sizeof(got), UML_MSG_DONTWAIT);
	}
	ok(n == 2 && !memcmp(got, "v6", 2), "17b the bytes cross (%zd)", n);
	uml_close(c);
	if (s >= 0)
		uml_close(s);
	uml_close(l6);
	run(10);
}

/*
 * A child that runs @setup (a nonzero return: it exits with it), says so,
 * and sleeps in @wait, killed there; then uml_reap. Whether a wait block
 * was listed while it slept; its wait status into *@status.
 */
static bool child_killed_in_wait(int (*setup)(void), void (*wait)(void), int *status)
{
	int p[2];
	bool had;
	pid_t pid;
	char ch;

	if (pipe(p))
		bail_out("pipe");
	pid = fork();
	if (pid == 0) {
		int err = setup();

		if (err)
			_exit(err);
		if (write(p[1], "r", 1) != 1)
			_exit(1);
		wait();
		_exit(2);
	}
	close(p[1]);
	if (read(p[0], &ch, 1) != 1)
		bail_out("the child did not get to its wait");
	close(p[0]);
	host_sleep_ns(20 * 1000000);
	had = inet_stack->waits != NULL;
	kill(pid, SIGKILL);
	waitpid(pid, status, 0);
	uml_reap();
	return had;
}

static struct uml_pollfd child_pf[2];

static int child_poll_setup(void)
{
	struct sockaddr_in a = sin_of(0, 7100);
	/* A child's table is its own: the parent's descriptor means nothing here. */
	int u = uml_socket(AF_INET, SOCK_DGRAM, 0), t = uml_socket(AF_INET, SOCK_STREAM, 0);

	if (u != 0 || uml_bind(t, SA(a), sizeof(a)) || uml_listen(t, 4))
		return 3;
	child_pf[0] = (struct uml_pollfd){.fd = u, .events = UML_POLLIN};
	child_pf[1] = (struct uml_pollfd){.fd = t, .events = UML_POLLIN};
	return 0;
}

static void child_poll(void)
{
	uml_poll(child_pf, 2, -1);
}

static void test_child_death(void)
{
	uint64_t reaped = inet_mib(INET_MIB_REAPED_SOCKETS);
	int status, fds_parent = uml_socket(AF_INET, SOCK_DGRAM, 0);
	bool had = child_killed_in_wait(child_poll_setup, child_poll, &status);

	{
		struct sockaddr_in a = sin_of(0, 7100);
		int t = uml_socket(AF_INET, SOCK_STREAM, 0);
		int b = uml_bind(t, SA(a), sizeof(a));

		ok(WIFSIGNALED(status) && inet_mib(INET_MIB_REAPED_SOCKETS) - reaped == 2 &&
		       b == 0 && had && !inet_stack->waits,
		   "15 a child killed in uml_poll: uml_reap closed its 2 sockets (%llu) and freed "
		   "its poll block, its port is free again (%d)",
		   (unsigned long long)(inet_mib(INET_MIB_REAPED_SOCKETS) - reaped), b);
		uml_close(t);
	}
	uml_close(fds_parent);
}

static void test_budget_pollout(int l)
{
	struct uml_pollfd p;
	struct waiter w = {.fds = &p, .n = 1, .timeout_ms = 5000};
	struct uml_pollevent ev = {0};
	uint64_t max = inet_stack->mem_max;
	int c, s, set = uml_pollset_create(), ev0, n, ns, early;
	ssize_t r;
	pthread_t th;

	pair(l, 80, &c, &s);
	uml_pollset_ctl(set, UML_POLLSET_ADD, c, UML_POLLOUT, 42);
	n = uml_pollset_wait(set, &ev, 1, 0);
	uml_pollset_ctl(set, UML_POLLSET_MOD, c, UML_POLLOUT | UML_POLLET, 42);
	/* The budget spent: nothing more is charged. */
	inet_stack->mem_max = atomic_load(&inet_stack->mem_used);
	ev0 = poll1(c, UML_POLLOUT);
	r = uml_send(c, "x", 1, UML_MSG_DONTWAIT);
	ns = uml_pollset_wait(set, &ev, 1, 0);
	p = (struct uml_pollfd){.fd = c, .events = UML_POLLOUT};
	if (pthread_create(&th, NULL, poll_main, &w))
		bail_out("no thread");
	host_sleep_ns(20 * 1000000);
	run(30);
	early = atomic_load(&w.done);
	inet_stack->mem_max = max;
	run(30);
	wait_done(&w, false);
	pthread_join(th, NULL);
	ok(n == 1 && ev0 == 0 && r == -ENOBUFS && ns == 0 && !early && w.ret == 1 &&
	       p.revents == UML_POLLOUT,
	   "20a the budget spent: no POLLOUT (%#x), send -ENOBUFS (%zd), a set silent (%d); a "
	   "poller sleeps (%d) until the budget has room, then POLLOUT (%d, %#x)",
	   ev0, r, ns, early, w.ret, p.revents);
	ns = uml_pollset_wait(set, &ev, 1, 0);
	ok(ns == 1 && ev.data == 42 && ev.events == UML_POLLOUT,
	   "20b the edge-triggered set item reports POLLOUT again once the budget has room (%d, "
	   "%#x)",
	   ns, ev.events);
	{
		int u = uml_socket(AF_INET, SOCK_DGRAM, 0), e0, e1;
		struct uml_pollfd pu = {.fd = u, .events = UML_POLLOUT};
		struct waiter wu = {.fds = &pu, .n = 1, .timeout_ms = 5000};

		inet_stack->mem_max = atomic_load(&inet_stack->mem_used);
		e0 = poll1(u, UML_POLLOUT);
		if (pthread_create(&th, NULL, poll_main, &wu))
			bail_out("no thread");
		host_sleep_ns(20 * 1000000);
		run(30);
		early = atomic_load(&wu.done);
		inet_stack->mem_max = max;
		run(30);
		wait_done(&wu, false);
		pthread_join(th, NULL);
		e1 = poll1(u, UML_POLLOUT);
		ok(e0 == 0 && !early && wu.ret == 1 && pu.revents == UML_POLLOUT &&
		       e1 == UML_POLLOUT,
		   "20c UDP too: no POLLOUT while the budget is spent (%#x); a poller sleeps (%d) "
		   "until it has room, then POLLOUT (%d, %#x)",
		   e0, early, wu.ret, pu.revents);
		uml_close(u);
	}
	uml_close(set);
	uml_close(c);
	uml_close(s);
	run(10);
}

static int child_set;

static int child_set_setup(void)
{
	int u = uml_socket(AF_INET, SOCK_DGRAM, 0), v = uml_socket(AF_INET, SOCK_DGRAM, 0);

	child_set = uml_pollset_create();
	if (child_set < 0 || uml_pollset_ctl(child_set, UML_POLLSET_ADD, u, UML_POLLIN, 1) ||
	    uml_pollset_ctl(child_set, UML_POLLSET_ADD, v, UML_POLLIN, 2))
		return 3;
	return 0;
}

static void child_set_wait(void)
{
	struct uml_pollevent ev;

	uml_pollset_wait(child_set, &ev, 1, -1);
}

static void test_pollset_death(void)
{
	uint64_t reaped = inet_mib(INET_MIB_REAPED_SOCKETS);
	int status;
	bool had = child_killed_in_wait(child_set_setup, child_set_wait, &status);

	ok(WIFSIGNALED(status) && had && !inet_stack->waits &&
	       inet_mib(INET_MIB_REAPED_SOCKETS) - reaped == 2,
	   "19 a child killed in uml_pollset_wait: uml_reap closed its 2 sockets (%llu) and freed "
	   "its set (%s)",
	   (unsigned long long)(inet_mib(INET_MIB_REAPED_SOCKETS) - reaped),
	   inet_stack->waits ? "still listed" : "none listed");
}

int main(void)
{
	struct uml_boot_params bp = {.memory = 64 << 20};
	struct netif_config cfg = {.name = "t0", .addr = OUR_IP, .prefix_len = 24};
	size_t used, max;
	int l;

	plan(39);
	if (uml_boot(&bp))
		bail_out("uml_boot failed");
	inet_clock_set(vnow);
	if (inet_init(32u << 20))
		bail_out("inet_init failed");
	memcpy(cfg.mac, our_mac, 6);
	if (netif_create(&cfg, &nif) || netif_queue_open_hook(nif, capture, NULL, &q))
		bail_out("no interface");

	test_bad_calls();
	test_bind();
	test_refused();
	test_refused_blocking();
	l = listener(80);
	test_connect_accept(l);
	test_data(l);
	test_shutdown(l);
	test_reset(l);
	test_full(l);
	test_timeouts(l);
	test_host_wake(l);
	test_kthread_wake(l);
	test_udp();
	test_udp_connected();
	test_tcp_disconnect(l);
	test_many(l);
	test_close_during_poll(l);
	test_child_death();
	test_inet6();
	test_pollset_errors(l);
	test_pollset(l);
	test_pollset_death();
	test_budget_pollout(l);

	uml_close(l);
	/*
	 * TIME-WAIT is 60 s: then every connection above is gone. (One of test
	 * 13's 1,000 closing pairs once stayed, about one run in ten: a peer
	 * ISN that left the active opener's window shut -- test_tcp 46.)
	 */
	run(61000);
	arp_flush(nif);
	inet_mem(&used, &max);
	ok(used == 0 && kmem_cache_in_use(inet_stack->tcp_cache) == 0 &&
	       kmem_cache_in_use(inet_stack->udp_cache) == 0 && !inet_stack->waits,
	   "16 every buffer, socket and poll set is back (%zu bytes held, %llu TCP, %llu UDP "
	   "sockets)",
	   used, (unsigned long long)kmem_cache_in_use(inet_stack->tcp_cache),
	   (unsigned long long)kmem_cache_in_use(inet_stack->udp_cache));
	if (used) {
		static char table[8192];

		inet_tcp_table(table, sizeof(table));
		diag("%s", table);
	}
	netif_queue_close(q);
	return done_testing();
}
