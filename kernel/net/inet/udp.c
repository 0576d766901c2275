/*
 * UDP (RFC 768, RFC 1122 4.1) and its sockets for kernel threads.
 *
 * Sockets are in the arena, bound ones hashed by port in inet.udp, so a
 * datagram read by any process's queue reaches a socket of any other and
 * wakes its reader through the socket's wait queue. A socket holds at most
 * INET_UDP_RCVBUF bytes of buffers (truesize); what comes past that is
 * dropped and counted, as is a datagram with a bad length or checksum. A
 * checksum of zero means the sender computed none (allowed over IPv4); we
 * always compute ours. A datagram to a port nobody has gets ICMP port
 * unreachable, unless it was broadcast.
 *
 * Death: every socket is on inet.udp_users from udp_open to udp_close and
 * names the process that opened it; it is made and freed under inet.lock,
 * so whoever takes that lock from a dead holder finds every socket in the
 * lists and gives back the rest (udp_repair_locked), and inet_reap closes a
 * dead process's sockets (udp_reap).
 */
#include <errno.h>
#include <string.h>

#include "uml/host.h"
#include "inet_internal.h"
#include "sock_poll.h"

#define UDP_MAX_PAYLOAD (IPV4_MAX_LEN - IPV4_HLEN - UDP_HLEN)
#define EPHEMERAL_LO	49152u
#define EPHEMERAL_N	16384u

struct udp_sock {
	struct udp_sock *next; /* in its bucket; guarded by inet.lock */
	uint32_t addr;	       /* 0: every address of ours */
	uint16_t port;	       /* 0: not bound */
	uint16_t pad;
	uint32_t owner;			 /* the pid that opened it */
	struct udp_sock *unext, **uprev; /* on inet.udp_users */
	struct kwait wq;		 /* wq.lock guards rq */
	struct pkb_queue rq;		 /* datagrams, payload at pkb_data, sender in saddr/sport */
	struct inet_pollent *pollers;	 /* poll calls waiting on it; guarded by inet.lock */
};
_Static_assert(sizeof(struct udp_sock) <= 128, "udp_sock grew past its cache's objects");

static unsigned bucket(uint16_t port)
{
	return port % INET_UDP_BUCKETS;
}

/* The socket for @addr:@port, one bound to the address before a wildcard one. */
static struct udp_sock *lookup_locked(uint32_t addr, uint16_t port)
{
	struct udp_sock *wild = NULL;

	for (struct udp_sock *s = inet_stack->udp[bucket(port)]; s; s = s->next) {
		if (s->port != port)
			continue;
		if (s->addr == addr)
			return s;
		if (s->addr == 0)
			wild = s;
	}
	return wild;
}

static bool in_use_locked(uint32_t addr, uint16_t port)
{
	for (struct udp_sock *s = inet_stack->udp[bucket(port)]; s; s = s->next)
		if (s->port == port && (s->addr == addr || !s->addr || !addr))
			return true;
	return false;
}

void udp_input(struct netif *nif, struct pkb *p)
{
	const uint8_t *h = pkb_data(p);
	struct udp_sock *s;
	uint16_t ulen, dport;

	inet_count(INET_MIB_UDP_IN);
	if (p->len < UDP_HLEN || (ulen = get16(h + 4)) < UDP_HLEN || ulen > p->len)
		goto error;
	p->len = ulen;
	if (get16(h + 6) != 0 &&
	    inet_csum_fold(inet_csum_add(inet_csum_pseudo(p->saddr, p->daddr, IPPROTO_UDP_, ulen),
					 h, ulen)) != 0)
		goto error;
	p->sport = get16(h);
	dport = get16(h + 2);
	inet_lock();
	s = lookup_locked(p->daddr, dport);
	if (s) {
		bool full;

		p->off += UDP_HLEN;
		p->len -= UDP_HLEN;
		spin_lock(&s->wq.lock);
		full = s->rq.bytes + p->truesize > INET_UDP_RCVBUF;
		if (!full)
			pkb_queue_put(&s->rq, p);
		spin_unlock(&s->wq.lock);
		if (!full) {
			kwait_wake(&s->wq, 1);
			inet_poll_wake(s->pollers, INET_POLLIN);
		}
		spin_unlock(&inet_stack->lock);
		if (full) {
			inet_count(INET_MIB_UDP_RCVBUF_ERRORS);
			netif_count(&nif->stats.rx_drops, 1);
			pkb_free(p);
		}
		return;
	}
	spin_unlock(&inet_stack->lock);
	inet_count(INET_MIB_UDP_NO_PORTS);
	icmp_error(nif, p, ICMP_UNREACH, ICMP_UNREACH_PORT);
	pkb_free(p);
	return;

error:
	inet_count(INET_MIB_UDP_IN_ERRORS);
	netif_count(&nif->stats.rx_errors, 1);
	pkb_free(p);
}

int udp_open(struct udp_sock **out)
{
	struct udp_sock *s;

	if (!inet_stack)
		return -ENODEV;
	inet_lock();
	s = kmem_cache_zalloc(inet_stack->udp_cache);
	if (s) {
		kwait_init(&s->wq);
		s->owner = host_pid();
		s->unext = inet_stack->udp_users;
		if (s->unext)
			s->unext->uprev = &s->unext;
		s->uprev = &inet_stack->udp_users;
		inet_stack->udp_users = s;
	}
	spin_unlock(&inet_stack->lock);
	if (!s)
		return -ENOMEM;
	*out = s;
	return 0;
}

int udp_bind(struct udp_sock *s, uint32_t addr, uint16_t port)
{
	int err = 0;

	if (addr && !netif_by_addr(addr))
		return -EADDRNOTAVAIL;
	inet_lock();
	if (s->port) {
		err = -EINVAL;
	} else if (port == 0) {
		err = -EADDRINUSE;
		for (unsigned i = 0; i < EPHEMERAL_N; i++) {
			uint16_t cand =
			    (uint16_t)(EPHEMERAL_LO +
				       (inet_stack->next_port - EPHEMERAL_LO + i) % EPHEMERAL_N);

			if (!in_use_locked(addr, cand)) {
				port = cand;
				inet_stack->next_port =
				    (uint16_t)(cand == 65535u ? EPHEMERAL_LO : cand + 1u);
				err = 0;
				break;
			}
		}
	} else if (in_use_locked(addr, port)) {
		err = -EADDRINUSE;
	}
	if (!err) {
		s->addr = addr;
		s->port = port;
		s->next = inet_stack->udp[bucket(port)];
		inet_stack->udp[bucket(port)] = s;
	}
	spin_unlock(&inet_stack->lock);
	return err;
}

int udp_local(const struct udp_sock *s, uint32_t *addr, uint16_t *port)
{
	*addr = s->addr;
	*port = s->port;
	return s->port ? 0 : -ENOTCONN;
}

ssize_t udp_sendto(struct udp_sock *s, const void *buf, size_t len, uint32_t daddr, uint16_t dport)
{
	uint32_t saddr, nexthop;
	struct netif *nif;
	struct pkb *p;
	uint8_t *h;
	uint16_t sum;
	int err;

	if (len > UDP_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (dport == 0)
		return -EDESTADDRREQ;
	if (!s->port && (err = udp_bind(s, 0, 0)))
		return err;
	nif = netif_route(daddr, &nexthop);
	if (!nif) {
		inet_count(INET_MIB_IP_OUT_NO_ROUTES);
		return -ENETUNREACH;
	}
	saddr = s->addr ? s->addr : nif->addr;
	p = pkb_alloc(INET_HEADROOM + UDP_HLEN + len);
	if (!p)
		return -ENOBUFS;
	p->off = INET_HEADROOM;
	p->len = (uint32_t)(UDP_HLEN + len);
	h = pkb_data(p);
	put16(h, s->port);
	put16(h + 2, dport);
	put16(h + 4, (uint16_t)p->len);
	put16(h + 6, 0);
	memcpy(h + UDP_HLEN, buf, len);
	sum = inet_csum_fold(
	    inet_csum_add(inet_csum_pseudo(saddr, daddr, IPPROTO_UDP_, p->len), h, p->len));
	put16(h + 6, sum ? sum : 0xffff); /* 0 would say "no checksum" */
	inet_count(INET_MIB_UDP_OUT);
	err = ipv4_output(p, saddr, daddr, IPPROTO_UDP_, false);
	return err ? err : (ssize_t)len;
}

ssize_t udp_recvfrom(struct udp_sock *s, void *buf, size_t len, uint32_t *saddr, uint16_t *sport,
		     int timeout_ms)
{
	uint64_t deadline = timeout_ms > 0 ? host_mono_ns() + (uint64_t)timeout_ms * 1000000u : 0;
	struct pkb *p;
	size_t n;

	spin_lock(&s->wq.lock);
	while (!(p = pkb_queue_take(&s->rq))) {
		int64_t left = -1;
		int err;

		if (timeout_ms == 0) {
			spin_unlock(&s->wq.lock);
			return -EAGAIN;
		}
		if (timeout_ms > 0) {
			uint64_t now = host_mono_ns();

			if (now >= deadline) {
				spin_unlock(&s->wq.lock);
				return -ETIMEDOUT;
			}
			left = (int64_t)(deadline - now);
		}
		err = kwait_sleep_locked(&s->wq, KWAIT_INTR, left);
		if (err)
			return err;
		spin_lock(&s->wq.lock);
	}
	spin_unlock(&s->wq.lock);
	n = MIN(len, (size_t)p->len);
	memcpy(buf, pkb_data(p), n);
	if (saddr)
		*saddr = p->saddr;
	if (sport)
		*sport = p->sport;
	pkb_free(p);
	return (ssize_t)n;
}

unsigned udp_poll_locked(struct udp_sock *s, struct inet_pollent *e)
{
	bool in;

	if (e)
		inet_poll_hook(&s->pollers, e);
	spin_lock(&s->wq.lock);
	in = s->rq.head != NULL;
	spin_unlock(&s->wq.lock);
	/* A datagram goes out whenever it fits the stack's budget: there is no send queue. */
	return INET_POLLOUT | (in ? INET_POLLIN : 0);
}

/* Off the tables (nothing is delivered to it after), its datagrams and itself freed. */
static void close_locked(struct udp_sock *s)
{
	if (s->port) {
		struct udp_sock **pp = &inet_stack->udp[bucket(s->port)];

		while (*pp && *pp != s)
			pp = &(*pp)->next;
		if (*pp)
			*pp = s->next;
		s->port = 0;
	}
	if (s->uprev) {
		*s->uprev = s->unext;
		if (s->unext)
			s->unext->uprev = s->uprev;
		s->uprev = NULL;
	}
	spin_lock(&s->wq.lock);
	pkb_queue_purge(&s->rq);
	spin_unlock(&s->wq.lock);
	kmem_cache_free(inet_stack->udp_cache, s);
}

void udp_close(struct udp_sock *s)
{
	inet_lock();
	close_locked(s);
	spin_unlock(&inet_stack->lock);
}

void udp_owners(void (*fn)(void *arg, uint32_t pid), void *arg)
{
	inet_lock();
	for (struct udp_sock *s = inet_stack->udp_users; s; s = s->unext)
		fn(arg, s->owner);
	spin_unlock(&inet_stack->lock);
}

unsigned udp_reap(const struct inet_pids *dead)
{
	struct udp_sock *s, *next;
	unsigned closed = 0;

	inet_lock();
	for (s = inet_stack->udp_users; s; s = next) {
		next = s->unext;
		if (inet_pids_has(dead, s->owner)) {
			close_locked(s);
			closed++;
			continue;
		}
		/* Datagrams a dead receive thread delivered are the stack's now. */
		spin_lock(&s->wq.lock);
		pkb_adopt(s->rq.head, dead);
		spin_unlock(&s->wq.lock);
	}
	spin_unlock(&inet_stack->lock);
	return closed;
}

unsigned udp_repair_locked(void)
{
	struct udp_sock **pp = &inet_stack->udp_users;
	uint64_t in_use = kmem_cache_in_use(inet_stack->udp_cache);
	const void **owned = kmalloc((2 * in_use + 1) * sizeof(*owned));
	unsigned freed;
	size_t n = 0;

	/* The back links from the forward ones, as tcp.c's users_relink_locked. */
	for (; *pp; pp = &(*pp)->unext)
		(*pp)->uprev = pp;
	if (!owned)
		return 0;
	for (struct udp_sock *s = inet_stack->udp_users; s && n < 2 * in_use; s = s->unext)
		owned[n++] = s;
	for (unsigned b = 0; b < INET_UDP_BUCKETS; b++)
		for (struct udp_sock *s = inet_stack->udp[b]; s && n < 2 * in_use; s = s->next)
			owned[n++] = s;
	freed = kmem_cache_reclaim(inet_stack->udp_cache, owned, n);
	kfree(owned);
	return freed;
}
