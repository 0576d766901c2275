/*
 * RPC transports on host sockets: TCP with record marking (RFC 5531 section
 * 11) and UDP, both on one port, served by one epoll loop per calling thread.
 *
 * The listening sockets are shared by every CPU (process) that serves: they
 * are registered with EPOLLEXCLUSIVE so a new connection or datagram wakes one
 * server rather than all, and accept/recvfrom are non-blocking because another
 * CPU may have taken the work first. A connection belongs to the CPU that
 * accepted it.
 *
 * Memory is fixed when rpc_svc_loop starts: SVC_MAX_CONNS connection slots with
 * one record-sized input and output buffer each, plus the UDP buffers and the
 * procedure scratch. Nothing is allocated per request. A peer that sends a
 * record larger than RPC_MAX_RECORD is disconnected; one that stops reading
 * its replies stops being read (its input stays in the kernel's socket
 * buffer); idle connections are closed after SVC_IDLE_SEC, and when all slots
 * are taken the least recently active connection makes room for a new one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include "uml/host.h"
#include "uml/nfs.h"
#include "uml/rpc.h"

#define SVC_MAX_CONNS 64
#define SVC_IDLE_SEC  120
#define SVC_BACKLOG   64
#define SVC_UDP_MAX   65507 /* largest UDP payload over IPv4 */
#define SVC_UDP_BURST 32    /* datagrams taken per wakeup, for fairness with TCP */
#define SVC_IN_CAP    (RPC_MAX_RECORD + 4)
#define SVC_OUT_CAP   (RPC_MAX_REPLY + 4)
#define SVC_LAST_FRAG 0x80000000u

/* epoll tags; connection slot i is tagged SVC_TAG_CONN + i. */
enum { SVC_TAG_STOP, SVC_TAG_TCP, SVC_TAG_UDP, SVC_TAG_CONN = 16 };

struct svc_conn {
	int fd;		/* -1: slot free */
	uint8_t *in;	/* raw stream bytes; in[0..rec_len) is the record so far */
	size_t in_len;	/* bytes held in @in */
	size_t rec_len; /* bytes of complete fragments of the current record */
	uint8_t *out;	/* one reply record being sent */
	size_t out_len, out_sent;
	uint64_t active_ns; /* last time the peer sent something */
	struct sockaddr_storage peer;
	socklen_t peerlen;
	char client[64];
};

struct svc_pool {
	const struct rpc_service *svc;
	struct rpc_stats *stats;
	int ep, tcp_fd, udp_fd;
	uint8_t *mem; /* everything below, one mapping */
	size_t memsize;
	uint8_t *scratch; /* RPC_SCRATCH_MAX */
	uint8_t *udp_in;  /* 64 KiB */
	uint8_t *udp_out; /* SVC_UDP_MAX */
	struct svc_conn conn[SVC_MAX_CONNS];
};

static void svc_req_init(struct svc_pool *p, struct svc_req *rq,
			 const struct sockaddr_storage *peer, socklen_t peerlen, bool datagram)
{
	memset(rq, 0, sizeof(*rq));
	memcpy(&rq->peer, peer, sizeof(*peer));
	rq->peerlen = peerlen;
	rq->datagram = datagram;
	rq->scratch = p->scratch;
	rq->stats = p->stats;
}

static void svc_conn_close(struct svc_pool *p, struct svc_conn *c)
{
	epoll_ctl(p->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->in_len = c->rec_len = 0;
	c->out_len = c->out_sent = 0;
}

/* Watch @c for input, or only for room to send while a reply is pending. */
static int svc_conn_watch(struct svc_pool *p, struct svc_conn *c, int op)
{
	struct epoll_event ev = {
	    .events = c->out_len ? EPOLLOUT : EPOLLIN | EPOLLRDHUP,
	    .data.u64 = SVC_TAG_CONN + (c - p->conn),
	};

	return epoll_ctl(p->ep, op, c->fd, &ev);
}

/* Send what is left of the pending reply. Returns 0, or -1 when the connection died. */
static int svc_conn_flush(struct svc_pool *p, struct svc_conn *c)
{
	while (c->out_sent < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			svc_conn_watch(p, c, EPOLL_CTL_MOD);
			return 0;
		}
		if (n <= 0)
			return -1;
		c->out_sent += n;
	}
	c->out_len = c->out_sent = 0;
	return 0;
}

/* Answer one complete record; the reply goes out (or starts to) at once. */
static int svc_conn_call(struct svc_pool *p, struct svc_conn *c, uint8_t *rec, size_t len)
{
	struct svc_req rq;
	size_t n;

	svc_req_init(p, &rq, &c->peer, c->peerlen, false);
	memcpy(rq.client, c->client, sizeof(rq.client));
	rq.reply_max = SVC_OUT_CAP - 4;
	n = rpc_dispatch(p->svc, &rq, rec, len, c->out + 4);
	if (!n)
		return 0;
	c->out[0] = (SVC_LAST_FRAG | n) >> 24;
	c->out[1] = n >> 16;
	c->out[2] = n >> 8;
	c->out[3] = n;
	c->out_len = n + 4;
	c->out_sent = 0;
	return svc_conn_flush(p, c);
}

/*
 * Serve the complete records held in c->in, one at a time, as long as no
 * reply is waiting to be sent. Fragments are joined in place: each header
 * is squeezed out once its fragment is complete. Returns -1 to drop the
 * connection (a record too large, or a dead peer).
 */
static int svc_conn_records(struct svc_pool *p, struct svc_conn *c)
{
	while (c->out_len == 0 && c->in_len - c->rec_len >= 4) {
		uint8_t *h = c->in + c->rec_len;
		uint32_t mark = (uint32_t)h[0] << 24 | h[1] << 16 | h[2] << 8 | h[3];
		size_t flen = mark & ~SVC_LAST_FRAG, used;
		bool last = mark & SVC_LAST_FRAG;
		int err;

		if (flen > RPC_MAX_RECORD - c->rec_len) {
			atomic_fetch_add(&p->stats->garbage, 1);
			return -1;
		}
		if (c->in_len - c->rec_len - 4 < flen)
			break; /* fragment incomplete */
		if (c->rec_len == 0 && last) {
			/* The usual case: a one-fragment record, served where it lies. */
			err = svc_conn_call(p, c, c->in + 4, flen);
			used = 4 + flen;
		} else {
			memmove(h, h + 4, c->in_len - c->rec_len - 4);
			c->in_len -= 4;
			c->rec_len += flen;
			if (!last)
				continue;
			err = svc_conn_call(p, c, c->in, c->rec_len);
			used = c->rec_len;
			c->rec_len = 0;
		}
		memmove(c->in, c->in + used, c->in_len - used);
		c->in_len -= used;
		if (err)
			return -1;
	}
	return 0;
}

static void svc_conn_event(struct svc_pool *p, struct svc_conn *c, uint32_t events)
{
	ssize_t n;

	if (c->fd < 0)
		return;
	if (events & EPOLLOUT) {
		if (svc_conn_flush(p, c) < 0)
			goto drop;
		if (c->out_len)
			return;
		/* Sent: serve what was waiting, then listen again. */
		if (svc_conn_records(p, c) < 0)
			goto drop;
		if (c->out_len == 0)
			svc_conn_watch(p, c, EPOLL_CTL_MOD);
		return;
	}
	if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
		return;
	if (c->in_len == SVC_IN_CAP)
		goto drop; /* cannot happen: records are bounded below capacity */
	do
		n = recv(c->fd, c->in + c->in_len, SVC_IN_CAP - c->in_len, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n <= 0)
		goto drop;
	c->in_len += n;
	c->active_ns = host_mono_ns();
	if (svc_conn_records(p, c) < 0)
		goto drop;
	return;
drop:
	svc_conn_close(p, c);
}

/* The slot for a new connection: a free one, else the least recently active. */
static struct svc_conn *svc_conn_slot(struct svc_pool *p)
{
	struct svc_conn *lru = &p->conn[0];
	size_t i;

	for (i = 0; i < SVC_MAX_CONNS; i++) {
		if (p->conn[i].fd < 0)
			return &p->conn[i];
		if (p->conn[i].active_ns < lru->active_ns)
			lru = &p->conn[i];
	}
	svc_conn_close(p, lru);
	return lru;
}

static void svc_accept(struct svc_pool *p)
{
	int i;

	/* A few per wakeup: other CPUs may take the rest. */
	for (i = 0; i < 8; i++) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		struct svc_conn *c;
		int fd, one = 1;

		fd = accept4(p->tcp_fd, (struct sockaddr *)&peer, &plen,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return; /* EAGAIN: taken by another CPU; other errors: the peer left */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = svc_conn_slot(p);
		c->fd = fd;
		c->in_len = c->rec_len = c->out_len = c->out_sent = 0;
		c->active_ns = host_mono_ns();
		c->peer = peer;
		c->peerlen = plen;
		rpc_format_peer((struct sockaddr *)&peer, plen, c->client, sizeof(c->client));
		if (svc_conn_watch(p, c, EPOLL_CTL_ADD) < 0) {
			close(fd);
			c->fd = -1;
			continue;
		}
		atomic_fetch_add(&p->stats->connections, 1);
	}
}

static void svc_udp(struct svc_pool *p)
{
	int i;

	for (i = 0; i < SVC_UDP_BURST; i++) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		struct svc_req rq;
		ssize_t n;
		size_t r;

		n = recvfrom(p->udp_fd, p->udp_in, 65536, MSG_DONTWAIT, (struct sockaddr *)&peer,
			     &plen);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		svc_req_init(p, &rq, &peer, plen, true);
		rpc_format_peer((struct sockaddr *)&peer, plen, rq.client, sizeof(rq.client));
		rq.reply_max = SVC_UDP_MAX;
		r = rpc_dispatch(p->svc, &rq, p->udp_in, n, p->udp_out);
		if (r)
			sendto(p->udp_fd, p->udp_out, r, MSG_DONTWAIT | MSG_NOSIGNAL,
			       (struct sockaddr *)&peer, plen);
	}
}

static void svc_reap_idle(struct svc_pool *p)
{
	uint64_t now = host_mono_ns();
	size_t i;

	for (i = 0; i < SVC_MAX_CONNS; i++) {
		struct svc_conn *c = &p->conn[i];

		if (c->fd >= 0 && now - c->active_ns > (uint64_t)SVC_IDLE_SEC * 1000000000)
			svc_conn_close(p, c);
	}
}

static int svc_add(int ep, int fd, uint32_t events, uint64_t tag)
{
	struct epoll_event ev = {.events = events, .data.u64 = tag};

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static int svc_pool_init(struct svc_pool *p)
{
	size_t per = SVC_IN_CAP + SVC_OUT_CAP, i;
	uint8_t *m;

	p->memsize = RPC_SCRATCH_MAX + 65536 + SVC_UDP_MAX + SVC_MAX_CONNS * per;
	/* Pages are only backed once touched: idle slots cost address space. */
	m = mmap(NULL, p->memsize, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		return -ENOMEM;
	p->mem = m;
	p->scratch = m;
	p->udp_in = m + RPC_SCRATCH_MAX;
	p->udp_out = p->udp_in + 65536;
	m = p->udp_out + SVC_UDP_MAX;
	for (i = 0; i < SVC_MAX_CONNS; i++) {
		p->conn[i].fd = -1;
		p->conn[i].in = m + i * per;
		p->conn[i].out = m + i * per + SVC_IN_CAP;
	}
	return 0;
}

int rpc_svc_loop(const struct rpc_service *svc, int tcp_fd, int udp_fd, int stop_fd,
	    struct rpc_stats *stats)
{
	struct epoll_event evs[32];
	struct svc_pool *p;
	uint64_t last_reap;
	int err = 0, i, n;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->svc = svc;
	p->stats = stats;
	p->tcp_fd = tcp_fd;
	p->udp_fd = udp_fd;
	err = svc_pool_init(p);
	if (err)
		goto out_free;
	p->ep = epoll_create1(EPOLL_CLOEXEC);
	if (p->ep < 0) {
		err = -errno;
		goto out_unmap;
	}
	if (svc_add(p->ep, stop_fd, EPOLLIN, SVC_TAG_STOP) < 0 ||
	    (tcp_fd >= 0 && svc_add(p->ep, tcp_fd, EPOLLIN | EPOLLEXCLUSIVE, SVC_TAG_TCP) < 0) ||
	    (udp_fd >= 0 && svc_add(p->ep, udp_fd, EPOLLIN | EPOLLEXCLUSIVE, SVC_TAG_UDP) < 0)) {
		err = -errno;
		goto out_close;
	}

	last_reap = host_mono_ns();
	for (;;) {
		n = epoll_wait(p->ep, evs, ARRAY_SIZE(evs), 1000);
		if (n < 0 && errno != EINTR) {
			err = -errno;
			break;
		}
		for (i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64;

			if (tag == SVC_TAG_STOP)
				goto out_stop;
			else if (tag == SVC_TAG_TCP)
				svc_accept(p);
			else if (tag == SVC_TAG_UDP)
				svc_udp(p);
			else if (tag - SVC_TAG_CONN < SVC_MAX_CONNS)
				svc_conn_event(p, &p->conn[tag - SVC_TAG_CONN], evs[i].events);
		}
		if (host_mono_ns() - last_reap > 1000000000ULL) {
			svc_reap_idle(p);
			last_reap = host_mono_ns();
		}
	}
out_stop:
	for (i = 0; i < SVC_MAX_CONNS; i++)
		if (p->conn[i].fd >= 0)
			svc_conn_close(p, &p->conn[i]);
out_close:
	close(p->ep);
out_unmap:
	munmap(p->mem, p->memsize);
out_free:
	free(p);
	return err;
}

/* Parse "1.2.3.4", "::1" or "[::1]" into @ss with @port. */
static int svc_parse_addr(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	char buf[INET6_ADDRSTRLEN + 2];
	size_t n = strlen(host);

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		*len = sizeof(*s4);
		return 0;
	}
	if (n >= 2 && n < sizeof(buf) && host[0] == '[' && host[n - 1] == ']') {
		memcpy(buf, host + 1, n - 2);
		buf[n - 2] = '\0';
		host = buf;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		*len = sizeof(*s6);
		return 0;
	}
	return -EINVAL;
}

static int svc_socket(const struct sockaddr_storage *ss, socklen_t len, int type)
{
	int fd, one = 1;

	fd = socket(ss->ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)ss, len) < 0 ||
	    (type == SOCK_STREAM && listen(fd, SVC_BACKLOG) < 0)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int svc_listen(const char *host, int port, struct svc_listener *l)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int err, tries;

	if (port < 0 || port > 65535)
		return -EINVAL;
	err = svc_parse_addr(host, port, &ss, &len);
	if (err)
		return err;
	/* Port 0 picks a free TCP port; UDP then needs the same one, which may be taken. */
	for (tries = 0; tries < 16; tries++) {
		struct sockaddr_storage bound;
		socklen_t blen = sizeof(bound);

		l->tcp_fd = svc_socket(&ss, len, SOCK_STREAM);
		if (l->tcp_fd < 0)
			return l->tcp_fd;
		if (getsockname(l->tcp_fd, (struct sockaddr *)&bound, &blen) < 0) {
			err = -errno;
			close(l->tcp_fd);
			return err;
		}
		l->udp_fd = svc_socket(&bound, blen, SOCK_DGRAM);
		if (l->udp_fd >= 0)
			return 0;
		err = l->udp_fd;
		close(l->tcp_fd);
		if (port != 0 || err != -EADDRINUSE)
			break;
	}
	l->tcp_fd = l->udp_fd = -1;
	return err;
}
