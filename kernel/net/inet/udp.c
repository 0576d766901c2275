/*
 * UDP (RFC 768, RFC 1122 4.1; over IPv6, RFC 8200 8.1) and its sockets for
 * kernel threads.
 *
 * Sockets are in the arena, bound ones hashed by port in inet.udp, so a
 * datagram read by any process's queue reaches a socket of any other and
 * wakes its reader through the socket's wait queue. A socket holds at most
 * INET_UDP_RCVBUF bytes of buffers (truesize); what comes past that is
 * dropped and counted, as is a datagram with a bad length or checksum. A
 * checksum of zero means the sender computed none (allowed over IPv4, not
 * over IPv6: dropped there); we always compute ours. A datagram to a port
 * nobody has gets ICMP (or ICMPv6) port unreachable, unless it was
 * broadcast (or multicast).
 *
 * A socket's address is a struct inet_addr: v4-mapped for IPv4, where
 * ::ffff:0.0.0.0 is every IPv4 address of ours (udp_bind's 0, so the IPv4
 * callers get what they always got), and :: every address of either
 * family (udp_bind_in's). A datagram past the path's MTU leaves in
 * fragments in either family (ipv4.c, ipv6.c).
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
	struct inet_addr addr; /* ::ffff:0.0.0.0 every IPv4 address of ours, :: every one */
	uint16_t port;	       /* 0: not bound */
	uint16_t rport;	       /* connected (udp_connect_in): the only sender heard, at raddr */
	uint32_t owner;	       /* the pid that opened it */
	struct udp_sock *unext, **uprev; /* on inet.udp_users */
	struct kwait wq;		 /* wq.lock guards rq */
	struct pkb_queue rq;		 /* datagrams, payload at pkb_data, sender in saddr/sport */
	struct inet_pollent *pollers;	 /* poll calls waiting on it; guarded by inet.lock */
	struct inet_addr raddr;		 /* with rport, inet.lock */
	int32_t err; /* connected: a peer's ICMP error for the next call (wq.lock) */
};
_Static_assert(sizeof(struct udp_sock) <= 128, "udp_sock grew past its cache's objects");

static unsigned bucket(uint16_t port)
{
	return port % INET_UDP_BUCKETS;
}

static const struct inet_addr any6, any4 = {{[10] = 0xff, [11] = 0xff}};

static bool is_any4(const struct inet_addr *a)
{
	return inet_addr_is_v4(a) && inet_addr_v4(a) == 0;
}

/* Whether @s hears @src:@sport: any sender, unless it is connected to another. */
static bool hears(const struct udp_sock *s, const struct inet_addr *src, uint16_t sport)
{
	return !s->rport || (s->rport == sport && !memcmp(&s->raddr, src, sizeof(*src)));
}

/*
 * The socket for datagram @src:@sport -> @addr:@port: one bound to the
 * address before a wildcard one, of those that hear the sender.
 */
static struct udp_sock *lookup_locked(const struct inet_addr *addr, uint16_t port,
				      const struct inet_addr *src, uint16_t sport)
{
	struct udp_sock *wild = NULL;

	for (struct udp_sock *s = inet_stack->udp[bucket(port)]; s; s = s->next) {
		int c;

		if (s->port != port || !(c = inet_addr_covers(&s->addr, addr)) ||
		    !hears(s, src, sport))
			continue;
		if (c == 2)
			return s;
		wild = s;
	}
	return wild;
}

/* Two bindings of a port clash when either takes what is sent to the other. */
static bool in_use_locked(const struct inet_addr *addr, uint16_t port)
{
	for (struct udp_sock *s = inet_stack->udp[bucket(port)]; s; s = s->next)
		if (s->port == port &&
		    (inet_addr_covers(&s->addr, addr) || inet_addr_covers(addr, &s->addr)))
			return true;
	return false;
}

/* The sender of datagram @p, its header at data[off - ihl] (or, queued, UDP_HLEN before). */
static void source_of(const struct pkb *p, uint32_t queued, struct inet_addr *a)
{
	if (p->v6)
		memcpy(a->a, ipv6_hdr(p) - queued + 8, 16);
	else
		*a = inet_addr_from_v4(p->saddr);
}

void udp_input(struct netif *nif, struct pkb *p)
{
	const uint8_t *h = pkb_data(p);
	struct inet_addr dst, src;
	struct udp_sock *s;
	uint16_t ulen, dport;
	uint64_t sum;

	inet_count(INET_MIB_UDP_IN);
	if (p->len < UDP_HLEN || (ulen = get16(h + 4)) < UDP_HLEN || ulen > p->len)
		goto error;
	p->len = ulen;
	source_of(p, 0, &src);
	if (p->v6) {
		memcpy(dst.a, ipv6_hdr(p) + 24, 16);
		/* RFC 8200 8.1: mandatory over IPv6; the unspecified source names nobody. */
		if (get16(h + 6) == 0 || ipv6_is_unspecified(&src))
			goto error;
		sum = inet_csum_pseudo6(&src, &dst, IPPROTO_UDP_, ulen);
	} else {
		dst = inet_addr_from_v4(p->daddr);
		sum = inet_csum_pseudo(p->saddr, p->daddr, IPPROTO_UDP_, ulen);
	}
	if (get16(h + 6) != 0 && inet_csum_fold(inet_csum_add(sum, h, ulen)) != 0) {
		inet_count(INET_MIB_UDP_IN_CSUM_ERRORS);
		goto error;
	}
	p->sport = get16(h);
	dport = get16(h + 2);
	inet_lock();
	/* A socket connected to another does not hear it: to it the port is closed (Linux's). */
	s = lookup_locked(&dst, dport, &src, p->sport);
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
	if (p->v6)
		icmp6_error(nif, p, ICMP6_DST_UNREACH, ICMP6_UNREACH_PORT, 0);
	else
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

/* Whether @a is one of our addresses, or a wildcard. */
static bool bindable(const struct inet_addr *a)
{
	uint32_t n = atomic_load((_Atomic uint32_t *)&inet_stack->nifs);

	if (ipv6_is_unspecified(a) || is_any4(a))
		return true;
	if (inet_addr_is_v4(a))
		return netif_by_addr(inet_addr_v4(a)) != NULL;
	for (uint32_t i = 0; i < n; i++)
		if (inet_stack->ifs[i]->has6 && ipv6_is_ours(inet_stack->ifs[i], a))
			return true;
	return false;
}

int udp_bind(struct udp_sock *s, uint32_t addr, uint16_t port)
{
	struct inet_addr a = inet_addr_from_v4(addr);

	return udp_bind_in(s, &a, port);
}

int udp_bind_in(struct udp_sock *s, const struct inet_addr *addr, uint16_t port)
{
	int err = 0;

	if (!bindable(addr))
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
		s->addr = *addr;
		s->port = port;
		s->next = inet_stack->udp[bucket(port)];
		inet_stack->udp[bucket(port)] = s;
	}
	spin_unlock(&inet_stack->lock);
	return err;
}

int udp_connect_in(struct udp_sock *s, const struct inet_addr *addr, uint16_t port)
{
	bool v4 = inet_addr_is_v4(addr);
	int err;

	if (!port || ipv6_is_unspecified(addr) || is_any4(addr))
		return -EINVAL;
	if (!s->port && (err = udp_bind_in(s, v4 ? &any4 : &any6, 0)))
		return err;
	if (!ipv6_is_unspecified(&s->addr) && inet_addr_is_v4(&s->addr) != v4)
		return -EAFNOSUPPORT;
	inet_lock();
	s->raddr = *addr;
	s->rport = port;
	spin_unlock(&inet_stack->lock);
	return 0;
}

void udp_disconnect(struct udp_sock *s)
{
	inet_lock();
	s->rport = 0;
	memset(&s->raddr, 0, sizeof(s->raddr));
	spin_unlock(&inet_stack->lock);
	spin_lock(&s->wq.lock);
	s->err = 0; /* the old peer's error is nobody's now */
	spin_unlock(&s->wq.lock);
}

int udp_local(const struct udp_sock *s, uint32_t *addr, uint16_t *port)
{
	*addr = inet_addr_is_v4(&s->addr) ? inet_addr_v4(&s->addr) : 0;
	*port = s->port;
	return s->port ? 0 : -ENOTCONN;
}

int udp_local_in(const struct udp_sock *s, struct inet_addr *addr, uint16_t *port)
{
	*addr = s->addr;
	*port = s->port;
	return s->port ? 0 : -ENOTCONN;
}

/* @s's pending error, once. */
static int take_err(struct udp_sock *s)
{
	int err;

	spin_lock(&s->wq.lock);
	err = s->err;
	s->err = 0;
	spin_unlock(&s->wq.lock);
	return err;
}

void udp_icmp_unreach(const struct inet_addr *laddr, uint16_t lport, const struct inet_addr *raddr,
		      uint16_t rport)
{
	struct udp_sock *s;

	inet_lock();
	for (s = inet_stack->udp[bucket(lport)]; s; s = s->next)
		if (s->port == lport && s->rport == rport && inet_addr_covers(&s->addr, laddr) &&
		    !memcmp(&s->raddr, raddr, sizeof(*raddr)))
			break;
	if (s) {
		spin_lock(&s->wq.lock);
		s->err = -ECONNREFUSED;
		spin_unlock(&s->wq.lock);
		kwait_wake(&s->wq, INT32_MAX);
		inet_poll_wake(s->pollers, INET_POLLERR);
	}
	spin_unlock(&inet_stack->lock);
}

ssize_t udp_sendto(struct udp_sock *s, const void *buf, size_t len, uint32_t daddr, uint16_t dport)
{
	struct inet_addr d = inet_addr_from_v4(daddr);

	return udp_sendto_in(s, buf, len, &d, dport);
}

ssize_t udp_sendto_in(struct udp_sock *s, const void *buf, size_t len,
		      const struct inet_addr *daddr, uint16_t dport)
{
	return udp_sendto_scope(s, buf, len, daddr, 0, dport);
}

ssize_t udp_sendto_scope(struct udp_sock *s, const void *buf, size_t len,
			 const struct inet_addr *daddr, uint32_t scope, uint16_t dport)
{
	bool v4 = inet_addr_is_v4(daddr);
	struct inet_addr src;
	uint32_t nexthop;
	struct netif *nif;
	struct pkb *p;
	uint8_t *h;
	uint16_t sum;
	uint64_t pseudo;
	int err;

	if (len > UDP_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (dport == 0)
		return -EDESTADDRREQ;
	/* :: names nobody to send to (IPv4's 0 goes out as it always did). */
	if (ipv6_is_unspecified(daddr))
		return -EINVAL;
	if (!s->port && (err = udp_bind_in(s, v4 ? &any4 : &any6, 0)))
		return err;
	if (s->err && (err = take_err(s)))
		return err;
	/* A socket bound to an address of one family can't send to the other. */
	if (!ipv6_is_unspecified(&s->addr) && inet_addr_is_v4(&s->addr) != v4)
		return -EAFNOSUPPORT;
	err = -ENETUNREACH;
	nif = v4 ? netif_route(inet_addr_v4(daddr), &nexthop)
		 : ipv6_route_scope(daddr, scope, &s->addr, &err);
	if (!nif) {
		err = err ? err : -ENETUNREACH;
		if (err == -ENETUNREACH)
			inet_count(v4 ? INET_MIB_IP_OUT_NO_ROUTES : INET_MIB_IP6_OUT_NO_ROUTES);
		return err;
	}
	if (v4)
		src = is_any4(&s->addr) || ipv6_is_unspecified(&s->addr)
			  ? inet_addr_from_v4(nif->addr)
			  : s->addr;
	else if (ipv6_is_unspecified(&s->addr))
		ipv6_source(nif, daddr, &src);
	else
		src = s->addr;
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
	pseudo =
	    v4 ? inet_csum_pseudo(inet_addr_v4(&src), inet_addr_v4(daddr), IPPROTO_UDP_, p->len)
	       : inet_csum_pseudo6(&src, daddr, IPPROTO_UDP_, p->len);
	sum = inet_csum_fold(inet_csum_add(pseudo, h, p->len));
	put16(h + 6, sum ? sum : 0xffff); /* 0 would say "no checksum" */
	inet_count(INET_MIB_UDP_OUT);
	if (v4)
		err = ipv4_output(p, inet_addr_v4(&src), inet_addr_v4(daddr), IPPROTO_UDP_, false);
	else
		err = ipv6_output(nif, p, &src, daddr, IPPROTO_UDP_, 0);
	return err ? err : (ssize_t)len;
}

ssize_t udp_recvfrom(struct udp_sock *s, void *buf, size_t len, uint32_t *saddr, uint16_t *sport,
		     int timeout_ms)
{
	struct inet_addr a;
	ssize_t n = udp_recvfrom_in(s, buf, len, &a, sport, timeout_ms);

	if (n >= 0 && saddr)
		*saddr = inet_addr_is_v4(&a) ? inet_addr_v4(&a) : 0;
	return n;
}

ssize_t udp_recvfrom_in(struct udp_sock *s, void *buf, size_t len, struct inet_addr *saddr,
			uint16_t *sport, int timeout_ms)
{
	return udp_recvfrom_scope(s, buf, len, saddr, NULL, sport, timeout_ms);
}

ssize_t udp_recvfrom_scope(struct udp_sock *s, void *buf, size_t len, struct inet_addr *saddr,
			   uint32_t *scope, uint16_t *sport, int timeout_ms)
{
	struct inet_addr from;
	uint64_t deadline = timeout_ms > 0 ? host_mono_ns() + (uint64_t)timeout_ms * 1000000u : 0;
	struct pkb *p;
	size_t n;

	spin_lock(&s->wq.lock);
	while (!(p = pkb_queue_take(&s->rq))) {
		int64_t left = -1;
		int err = s->err;

		if (err) {
			/* What was received first, then the error, once (BSD's). */
			s->err = 0;
			spin_unlock(&s->wq.lock);
			return err;
		}
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
	source_of(p, UDP_HLEN, &from);
	if (saddr)
		*saddr = from;
	if (scope)
		*scope = ipv6_is_linklocal(&from) ? p->ifindex : 0;
	if (sport)
		*sport = p->sport;
	pkb_free(p);
	return (ssize_t)n;
}

unsigned udp_poll_locked(struct udp_sock *s, struct inet_pollent *e)
{
	bool in, err;

	if (e)
		inet_poll_hook(&s->pollers, e);
	spin_lock(&s->wq.lock);
	in = s->rq.head != NULL;
	err = s->err != 0;
	spin_unlock(&s->wq.lock);
	/* A datagram goes out whenever it fits the stack's budget: there is no send queue. */
	return (inet_budget_room() ? INET_POLLOUT : 0) | (in ? INET_POLLIN : 0) |
	       (err ? INET_POLLERR : 0);
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

void udp_budget_wake(void)
{
	inet_lock();
	for (struct udp_sock *s = inet_stack->udp_users; s; s = s->unext)
		if (s->pollers)
			inet_poll_wake(s->pollers, udp_poll_locked(s, NULL));
	spin_unlock(&inet_stack->lock);
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
