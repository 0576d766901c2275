/*
 * TCP (RFC 9293) sockets and tables: the calls of uml/inet.h, the lookup
 * of a segment's connection, and the timers' walk.
 *
 * A socket is one struct tcp_sock from the slab cache inet_tcp, charged to
 * the stack's budget like a buffer, so that connections too are bounded by
 * it. A user's bound socket is in inet.tcp_bound by local port (what bind
 * checks); a connection, from SYN-SENT or SYN-RECEIVED until CLOSED, is in
 * inet.tcp_conn by its four addresses. A child of a listener belongs to
 * the listener until accepted; a connection the user closed belongs to the
 * stack until it reaches CLOSED (FIN, TIME-WAIT). Bind ignores connections
 * that no user holds, so a port in TIME-WAIT can be bound again; connect
 * refuses a four-tuple that any connection still has.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "uml/host.h"
#include "uml/siphash.h"
#include "sock_poll.h"
#include "tcp.h"

#define EPHEMERAL_LO 49152u
#define EPHEMERAL_N  16384u

#define TCP_LOCK (&inet_stack->tcp_lock)

static const struct inet_addr any6, any4 = {{[10] = 0xff, [11] = 0xff}};

static unsigned conn_bucket(const struct inet_addr *raddr, uint16_t lport, uint16_t rport)
{
	uint32_t h = get32(raddr->a) ^ get32(raddr->a + 4) ^ get32(raddr->a + 8) ^
		     get32(raddr->a + 12) ^ ((uint32_t)lport << 16 | rport);

	h ^= h >> 16;
	h *= 0x45d9f3bu;
	h ^= h >> 16;
	return h % INET_TCP_CONN_BUCKETS;
}

static unsigned bind_bucket(uint16_t port)
{
	return port % INET_TCP_BIND_BUCKETS;
}

void tcp_hash_locked(struct tcp_sock *s)
{
	unsigned b = conn_bucket(&s->raddr, s->lport, s->rport);

	s->hnext = inet_stack->tcp_conn[b];
	inet_stack->tcp_conn[b] = s;
	s->hashed = true;
}

void tcp_unhash_locked(struct tcp_sock *s)
{
	struct tcp_sock **pp;

	if (!s->hashed)
		return;
	pp = &inet_stack->tcp_conn[conn_bucket(&s->raddr, s->lport, s->rport)];
	/* Not found: a holder died between unlinking it and saying so. */
	while (*pp && *pp != s)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = s->hnext;
	s->hashed = false;
}

static void close_locked(struct tcp_sock *s, struct pkb_queue *out);

static void unbind_locked(struct tcp_sock *s)
{
	struct tcp_sock **pp;

	if (!s->bound)
		return;
	pp = &inet_stack->tcp_bound[bind_bucket(s->lport)];
	while (*pp && *pp != s)
		pp = &(*pp)->bnext;
	if (*pp)
		*pp = s->bnext;
	s->bound = false;
}

/* A handle goes out to the calling process. */
static void user_add_locked(struct tcp_sock *s)
{
	s->user = true;
	s->owner = host_pid();
	s->unext = inet_stack->tcp_users;
	if (s->unext)
		s->unext->uprev = &s->unext;
	s->uprev = &inet_stack->tcp_users;
	inet_stack->tcp_users = s;
}

static void user_del_locked(struct tcp_sock *s)
{
	if (s->uprev) {
		*s->uprev = s->unext;
		if (s->unext)
			s->unext->uprev = s->uprev;
	}
	s->unext = NULL;
	s->uprev = NULL;
	s->user = false;
	s->owner = 0;
	/* Only a dead process's poll can still be hooked here (socket.c holds what it polls). */
	s->pollers = NULL;
}

struct tcp_sock *tcp_lookup_locked(const struct inet_addr *laddr, uint16_t lport,
				   const struct inet_addr *raddr, uint16_t rport)
{
	for (struct tcp_sock *s = inet_stack->tcp_conn[conn_bucket(raddr, lport, rport)]; s;
	     s = s->hnext)
		if (s->lport == lport && s->rport == rport &&
		    !memcmp(&s->raddr, raddr, sizeof(*raddr)) &&
		    !memcmp(&s->laddr, laddr, sizeof(*laddr)))
			return s;
	return NULL;
}

struct tcp_sock *tcp_listener_locked(const struct inet_addr *laddr, uint16_t lport)
{
	struct tcp_sock *wild = NULL;

	for (struct tcp_sock *s = inet_stack->tcp_bound[bind_bucket(lport)]; s; s = s->bnext) {
		int c;

		if (s->lport != lport || s->state != TCP_LISTEN ||
		    !(c = inet_addr_covers(&s->laddr, laddr)))
			continue;
		if (c == 2)
			return s;
		wild = s;
	}
	return wild;
}

/* Two bindings of a port clash when either takes what is sent to the other. */
static bool port_in_use_locked(const struct inet_addr *addr, uint16_t port)
{
	for (struct tcp_sock *s = inet_stack->tcp_bound[bind_bucket(port)]; s; s = s->bnext)
		if (s->lport == port &&
		    (inet_addr_covers(&s->laddr, addr) || inet_addr_covers(addr, &s->laddr)))
			return true;
	return false;
}

/*
 * End the TIME-WAIT that would end first, when a new connection needs its
 * memory: TIME-WAIT only guards against old duplicates (RFC 9293 3.4.2),
 * and a busy server's 60 s of closed connections must not lock new ones
 * out of the budget. False when there is none to end.
 */
static bool evict_time_wait_locked(void)
{
	struct tcp_sock *old = NULL;

	for (unsigned b = 0; b < INET_TCP_CONN_BUCKETS; b++)
		for (struct tcp_sock *s = inet_stack->tcp_conn[b]; s; s = s->hnext)
			if (s->state == TCP_TIME_WAIT && !s->user &&
			    (!old || s->t_wait < old->t_wait))
				old = s;
	if (!old)
		return false;
	inet_count(INET_MIB_TCP_TW_EVICTIONS);
	tcp_done_locked(old, 0);
	return true;
}

struct tcp_sock *tcp_new_locked(void)
{
	struct tcp_sock *s;
	size_t used, max;

	/*
	 * Room first (ending a TIME-WAIT frees); then allocate, then charge: a
	 * death in the allocation leaves no charge behind, and there is no lock
	 * instant after it.
	 */
	inet_mem(&used, &max);
	if (used + sizeof(*s) > max)
		evict_time_wait_locked();
	s = kmem_cache_zalloc(inet_stack->tcp_cache);
	if (!s) {
		inet_count(INET_MIB_MEM_FAILS);
		return NULL;
	}
	if (!inet_mem_charge(sizeof(*s))) {
		kmem_cache_free(inet_stack->tcp_cache, s);
		return NULL;
	}
	s->charged = TCP_CHARGED;
	kwait_init(&s->wq);
	s->sndbuf = INET_TCP_SNDBUF_DEFAULT;
	s->rcvbuf = INET_TCP_RCVBUF_DEFAULT;
	s->rto_ms = TCP_RTO_INIT_MS;
	s->mss = TCP_MSS_DEFAULT;
	s->snd_wscale = s->rcv_wscale = 0;
	return s;
}

static void free_locked(struct tcp_sock *s)
{
	if (inet_stack->tcp_busy == s)
		inet_stack->tcp_busy = NULL;
	/* Uncharged before the free: a free a death cut short is not uncharged twice. */
	s->charged = 0;
	inet_mem_uncharge(sizeof(*s));
	kmem_cache_free(inet_stack->tcp_cache, s);
}

void tcp_wake(struct tcp_sock *s)
{
	kwait_wake(&s->wq, INT32_MAX);
	if (s->pollers)
		inet_poll_wake(s->pollers, tcp_poll_locked(s));
}

void tcp_set_state(struct tcp_sock *s, enum tcp_state st)
{
	s->state = st;
	tcp_wake(s);
}

/* What a closed connection holds; what was received in order stays for a user to read. */
static void flush_buffers_locked(struct tcp_sock *s)
{
	pkb_queue_purge(&s->sndq);
	s->sndq_bytes = 0;
	if (!s->user) {
		pkb_queue_purge(&s->rcvq);
		s->rcvq_bytes = 0;
	}
	pkb_purge(&s->ooo);
	s->ooo_tail = NULL;
	s->ooo_n = s->ooo_bytes = s->ooo_true = 0;
}

static void acc_remove_locked(struct tcp_sock *l, struct tcp_sock *c)
{
	struct tcp_sock **pp = &l->acc_head, *prev = NULL;

	while (*pp && *pp != c) {
		prev = *pp;
		pp = &(*pp)->qnext;
	}
	if (!*pp)
		return;
	*pp = c->qnext;
	if (l->acc_tail == c)
		l->acc_tail = prev;
	l->nacc--;
}

void tcp_done_locked(struct tcp_sock *s, int err)
{
	struct tcp_sock *l = s->parent;

	if (err && !s->err)
		s->err = err;
	if (s->state == TCP_SYN_SENT || s->state == TCP_SYN_RECEIVED)
		inet_count(INET_MIB_TCP_ATTEMPT_FAILS);
	else if (err == -ECONNRESET && (s->state == TCP_ESTABLISHED || s->state == TCP_CLOSE_WAIT))
		inet_count(INET_MIB_TCP_ESTAB_RESETS);
	if (l) {
		if (s->state == TCP_SYN_RECEIVED)
			l->nsyn--;
		/* Always: a holder that died moving it there may have left it queued, unmoved. */
		acc_remove_locked(l, s);
		s->parent = NULL;
	}
	tcp_unhash_locked(s);
	unbind_locked(s);
	flush_buffers_locked(s);
	s->t_rtx = s->t_persist = s->t_delack = s->t_keep = s->t_wait = s->t_reo = 0;
	tcp_set_state(s, TCP_CLOSED);
	if (!s->user)
		free_locked(s);
}

/* --- death --- */

void tcp_enter(struct tcp_sock *s)
{
	if (unlikely(spin_lock(TCP_LOCK)))
		tcp_repair_locked();
	inet_stack->tcp_busy = s;
}

void tcp_leave(void)
{
	inet_stack->tcp_busy = NULL;
	spin_unlock(TCP_LOCK);
}

static bool in_accept_queue(const struct tcp_sock *l, const struct tcp_sock *c)
{
	for (const struct tcp_sock *q = l->acc_head; q; q = q->qnext)
		if (q == c)
			return true;
	return false;
}

/* A listener's counts and queue tail, taken again from its children. */
static void recount_listeners_locked(void)
{
	struct tcp_sock *s, *c, *n;

	for (unsigned b = 0; b < INET_TCP_BIND_BUCKETS; b++)
		for (s = inet_stack->tcp_bound[b]; s; s = s->bnext) {
			if (s->state != TCP_LISTEN)
				continue;
			/* Queued and never made established: the move was cut short. */
			for (c = s->acc_head; c; c = n) {
				n = c->qnext;
				if (c->state == TCP_SYN_RECEIVED)
					tcp_done_locked(c, -ECONNRESET);
			}
			s->nsyn = s->nacc = 0;
			s->acc_tail = NULL;
			for (c = s->acc_head; c; c = c->qnext) {
				s->nacc++;
				s->acc_tail = c;
			}
		}
	for (unsigned b = 0; b < INET_TCP_CONN_BUCKETS; b++)
		for (c = inet_stack->tcp_conn[b]; c; c = n) {
			n = c->hnext;
			if (!c->parent)
				continue;
			if (c->state == TCP_SYN_RECEIVED && c->t_rtx) {
				c->parent->nsyn++;
			} else if (c->state == TCP_SYN_RECEIVED || !in_accept_queue(c->parent, c)) {
				/* Half made (no SYN-ACK timer), or established and in no queue. */
				c->parent = NULL;
				tcp_done_locked(c, -ECONNRESET);
			}
		}
}

/*
 * The users' list again from its forward links: a socket joins it by one
 * store of the head and leaves it by one store of its predecessor's link,
 * so those are always whole; the back links a dead holder was fixing are
 * not, and a later removal through a stale one writes into another socket.
 */
static void users_relink_locked(void)
{
	struct tcp_sock **pp = &inet_stack->tcp_users;

	while (*pp) {
		struct tcp_sock *s = *pp;

		s->uprev = pp;
		pp = &s->unext;
	}
}

struct held {
	const void **v;
	size_t n;
	uint32_t uncharge; /* what the strays freed were charged */
};

static int ptr_cmp(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t) * (const void *const *)a,
		  y = (uintptr_t) * (const void *const *)b;

	return x < y ? -1 : x > y;
}

/* kmem_cache_reclaim_if's question: a socket no table holds? */
static bool stray(void *obj, void *arg)
{
	struct tcp_sock *s = obj;
	struct held *h = arg;

	if (bsearch(&obj, h->v, h->n, sizeof(*h->v), ptr_cmp))
		return false;
	if (s->charged == TCP_CHARGED)
		h->uncharge += (uint32_t)sizeof(struct tcp_sock);
	s->charged = 0; /* freed now, should the allocator lose it again */
	return true;
}

/*
 * Give back the sockets no table holds: made, or unlinked, by a holder that
 * died, or lost by the allocator itself when one died in it (those were
 * never charged).
 */
static unsigned reclaim_strays_locked(void)
{
	uint64_t in_use = kmem_cache_in_use(inet_stack->tcp_cache);
	const void **owned = kmalloc((3 * in_use + 1) * sizeof(*owned));
	struct held h = {.v = owned};
	size_t n = 0;
	unsigned freed;

	if (!owned)
		return 0; /* they stay until the next repair */
	for (struct tcp_sock *s = inet_stack->tcp_users; s && n < 3 * in_use; s = s->unext)
		owned[n++] = s;
	for (unsigned b = 0; b < INET_TCP_CONN_BUCKETS; b++)
		for (struct tcp_sock *s = inet_stack->tcp_conn[b]; s && n < 3 * in_use;
		     s = s->hnext)
			owned[n++] = s;
	for (unsigned b = 0; b < INET_TCP_BIND_BUCKETS; b++)
		for (struct tcp_sock *s = inet_stack->tcp_bound[b]; s && n < 3 * in_use;
		     s = s->bnext)
			owned[n++] = s;
	qsort(owned, n, sizeof(*owned), ptr_cmp);
	h.n = n;
	/* Nobody allocates from or frees to the cache but under tcp_lock: no live hand holds one.
	 */
	freed = kmem_cache_reclaim_if(inet_stack->tcp_cache, stray, &h);
	kfree(owned);
	inet_mem_uncharge(h.uncharge);
	return freed;
}

/*
 * tcp_lock was taken from a holder that died: what it was changing may be
 * half changed. The socket it named (tcp_busy) is reset -- its user, if any,
 * is told -ECONNRESET; its peer is answered with a reset at its next
 * segment -- or, a listener, recounted; so is every listener. Sockets no
 * table holds go back to the cache, and the timers are walked again.
 */
void tcp_repair_locked(void)
{
	struct tcp_sock *b = inet_stack->tcp_busy;
	unsigned reset = 0, strays;

	inet_stack->tcp_busy = NULL;
	if (b && b->state != TCP_LISTEN && b->state != TCP_CLOSED) {
		tcp_done_locked(b, -ECONNRESET);
		reset = 1;
	}
	users_relink_locked();
	recount_listeners_locked();
	strays = reclaim_strays_locked();
	atomic_store(&inet_stack->tcp_next_ms, 0); /* the next tick finds the earliest again */
	inet_count(INET_MIB_LOCK_TAKEOVERS);
	host_log("inet: took tcp_lock over from a dead holder: %u connection reset, %u sockets "
		 "given back",
		 reset, strays);
}

static void adopt_sock(struct tcp_sock *s, const struct inet_pids *dead)
{
	pkb_adopt(s->sndq.head, dead);
	pkb_adopt(s->rcvq.head, dead);
	pkb_adopt(s->ooo, dead);
}

unsigned tcp_reap(const struct inet_pids *dead)
{
	struct pkb_queue out = {0};
	struct tcp_sock *s, *next;
	unsigned closed = 0;

	if (!inet_stack)
		return 0;
	tcp_enter(NULL);
	/* As the host closes a dead process's sockets: gracefully, unread data reset. */
	for (s = inet_stack->tcp_users; s; s = next) {
		next = s->unext;
		if (inet_pids_has(dead, s->owner)) {
			close_locked(s, &out);
			closed++;
		}
	}
	/* What the dead put in TCP's queues is the stack's now. */
	for (s = inet_stack->tcp_users; s; s = s->unext)
		adopt_sock(s, dead);
	for (unsigned b = 0; b < INET_TCP_CONN_BUCKETS; b++)
		for (s = inet_stack->tcp_conn[b]; s; s = s->hnext)
			adopt_sock(s, dead);
	tcp_leave();
	tcp_xmit(&out);
	return closed;
}

/* A connection's key for the hashes below: its four addresses and @tag. */
static void conn_key(uint32_t k[10], const struct inet_addr *laddr, uint16_t lport,
		     const struct inet_addr *raddr, uint16_t rport, uint32_t tag)
{
	memcpy(k, laddr->a, 16);
	memcpy(k + 4, raddr->a, 16);
	k[8] = (uint32_t)lport << 16 | rport;
	k[9] = tag;
}

uint32_t tcp_new_iss(const struct inet_addr *laddr, uint16_t lport, const struct inet_addr *raddr,
		     uint16_t rport)
{
	uint32_t k[10];

	conn_key(k, laddr, lport, raddr, rport, 0);

	/* RFC 6528: a clock that ticks every 4 us plus a keyed hash of the connection. */
	return (uint32_t)(inet_now_ms() * 250u) +
	       (uint32_t)siphash24(inet_stack->tcp_secret, k, sizeof(k));
}

uint32_t tcp_new_ts_off(const struct inet_addr *laddr, uint16_t lport,
			const struct inet_addr *raddr, uint16_t rport)
{
	uint32_t k[10];

	conn_key(k, laddr, lport, raddr, rport, 0x54530000u);
	return (uint32_t)siphash24(inet_stack->tcp_secret, k, sizeof(k));
}

/* The interface that owns @laddr (NULL: none). */
static struct netif *netif_of(const struct inet_addr *laddr)
{
	uint32_t n = atomic_load((_Atomic uint32_t *)&inet_stack->nifs);

	if (inet_addr_is_v4(laddr))
		return netif_by_addr(inet_addr_v4(laddr));
	for (uint32_t i = 0; i < n; i++)
		if (inet_stack->ifs[i]->has6 && ipv6_is_ours(inet_stack->ifs[i], laddr))
			return inet_stack->ifs[i];
	return NULL;
}

uint32_t tcp_local_mss(const struct inet_addr *laddr)
{
	struct netif *nif = netif_of(laddr);

	return (nif ? nif->mtu : INET_MTU_MAX) - tcp_ip_hlen(laddr) - TCP_HLEN;
}

void tcp_seg_addrs(const struct pkb *p, struct inet_addr *saddr, struct inet_addr *daddr)
{
	if (p->v6) {
		memcpy(saddr->a, ipv6_hdr(p) + 8, 16);
		memcpy(daddr->a, ipv6_hdr(p) + 24, 16);
	} else {
		*saddr = inet_addr_from_v4(p->saddr);
		*daddr = inet_addr_from_v4(p->daddr);
	}
}

/* --- segment arrival: checks, then the connection's or the listener's rules --- */

static void seg_count_err(struct netif *nif)
{
	inet_count(INET_MIB_TCP_IN_ERRS);
	netif_count(&nif->stats.rx_errors, 1);
}

/* Whether the listener @l may keep one more half-open connection. */
static bool syn_room(const struct tcp_sock *l)
{
	return l->nsyn < l->backlog;
}

static void listen_syn_locked(struct tcp_sock *l, const struct inet_addr *la,
			      const struct inet_addr *ra, struct tcp_seg *sg, uint16_t sport,
			      uint16_t dport, struct pkb_queue *out)
{
	struct tcp_sock *c;

	if (l->nacc >= l->backlog) {
		inet_count(INET_MIB_TCP_LISTEN_DROPS);
		return;
	}
	if (!syn_room(l)) {
		uint32_t ours = tcp_path_mss(la, tcp_local_mss(la), sg->pmtu);
		uint16_t mss = (uint16_t)MIN(ours, sg->o.mss_ok ? sg->o.mss : tcp_mss_default(la));
		uint32_t cookie = tcp_cookie_make(la, dport, ra, sport, sg->seq, &mss);

		struct tcp_cookie_opts co = {.ts = sg->o.ts_ok,
					     .sack = sg->o.sack_ok,
					     .ws = sg->o.ws_ok,
					     .rcv_ws = tcp_wscale_for(l->rcvbuf),
					     .tsecr = sg->o.tsval};

		if (co.ts)
			co.tsval = tcp_cookie_tsval((uint32_t)inet_now_ms() +
							tcp_new_ts_off(la, dport, ra, sport),
						    co.ws, sg->o.ws, co.sack);
		inet_count(INET_MIB_TCP_COOKIES_SENT);
		tcp_send_synack_raw(la, dport, ra, sport, cookie, sg->seq + 1, (uint16_t)ours, &co,
				    out);
		return;
	}
	c = tcp_new_locked();
	if (!c) {
		inet_count(INET_MIB_TCP_MEM_FAILS);
		return;
	}
	c->laddr = *la;
	c->lport = dport;
	c->raddr = *ra;
	c->rport = sport;
	c->parent = l;
	c->nodelay = l->nodelay;
	c->keep_idle_s = l->keep_idle_s;
	c->sndbuf = l->sndbuf;
	c->rcvbuf = l->rcvbuf;
	c->irs = sg->seq;
	c->rcv_nxt = sg->seq + 1;
	c->iss = tcp_new_iss(&c->laddr, c->lport, &c->raddr, c->rport);
	c->snd_una = c->snd_nxt = c->snd_max = c->snd_sml = c->iss;
	c->snd_end = c->iss + 1;
	c->snd_wnd = sg->wnd; /* a SYN's window is never scaled */
	c->snd_wl1 = sg->seq;
	/* The path's note, if there is one, from the first segment (as Linux's route MTU). */
	c->mss_max = MIN(tcp_local_mss(&c->laddr),
			 sg->o.mss_ok ? MAX(sg->o.mss, TCP_MSS_MIN) : tcp_mss_default(&c->laddr));
	c->rcv_mss = tcp_path_mss(&c->laddr, tcp_local_mss(&c->laddr), sg->pmtu);
	c->mss = tcp_path_mss(&c->laddr, c->mss_max, sg->pmtu);
	c->ws_ok = sg->o.ws_ok;
	c->snd_wscale = c->ws_ok ? MIN(sg->o.ws, TCP_WSCALE_MAX) : 0;
	c->ts_ok = sg->o.ts_ok;
	if (c->ts_ok) {
		c->ts_recent = sg->o.tsval;
		c->ts_recent_ms = inet_now_ms();
		c->ts_off = tcp_new_ts_off(&c->laddr, c->lport, &c->raddr, c->rport);
	}
	c->sack_ok = sg->o.sack_ok;
	c->state = TCP_SYN_RECEIVED;
	c->last_rcv_ms = inet_now_ms();
	l->nsyn++;
	tcp_hash_locked(c);
	inet_count(INET_MIB_TCP_PASSIVE_OPENS);
	tcp_send_syn_locked(c, out);
}

/*
 * An ACK to a listener with no child: a SYN cookie's (1, or 2 when the
 * new connection kept @p's data), or nobody's (0).
 */
static int listen_cookie_locked(struct tcp_sock *l, struct pkb *p, const struct inet_addr *la,
				const struct inet_addr *ra, struct tcp_seg *sg, uint16_t sport,
				uint16_t dport, struct pkb_queue *out)
{
	uint16_t mss = tcp_cookie_check(la, dport, ra, sport, sg->seq - 1, sg->ack - 1);
	struct tcp_sock *c;

	if (!mss) {
		inet_count(INET_MIB_TCP_COOKIES_BAD);
		return 0;
	}
	if (l->nacc >= l->backlog) {
		inet_count(INET_MIB_TCP_LISTEN_DROPS);
		return 1;
	}
	c = tcp_new_locked();
	if (!c) {
		inet_count(INET_MIB_TCP_MEM_FAILS);
		return 1;
	}
	inet_count(INET_MIB_TCP_COOKIES_OK);
	inet_count(INET_MIB_TCP_PASSIVE_OPENS);
	c->laddr = *la;
	c->lport = dport;
	c->raddr = *ra;
	c->rport = sport;
	c->nodelay = l->nodelay;
	c->keep_idle_s = l->keep_idle_s;
	c->sndbuf = l->sndbuf;
	c->rcvbuf = l->rcvbuf;
	/* Window scale and SACK come back in the timestamp, when there is one (tcp_cookie.c). */
	if (sg->o.ts_ok && sg->o.tsecr) {
		c->ts_ok = true;
		c->ts_recent = sg->o.tsval;
		c->ts_recent_ms = inet_now_ms();
		c->ts_off = tcp_new_ts_off(la, dport, ra, sport);
		tcp_cookie_ts_decode(sg->o.tsecr, &c->ws_ok, &c->snd_wscale, &c->sack_ok);
		c->rcv_wscale = c->ws_ok ? tcp_wscale_for(c->rcvbuf) : 0;
	}
	c->irs = sg->seq - 1;
	c->rcv_nxt = sg->seq;
	c->iss = sg->ack - 1;
	c->snd_una = c->snd_nxt = c->snd_max = c->snd_end = c->snd_sml = sg->ack;
	c->snd_wnd = c->max_snd_wnd = sg->wnd << c->snd_wscale;
	c->snd_wl1 = sg->seq;
	c->snd_wl2 = sg->ack;
	c->mss = c->mss_max = mss; /* what the cookie kept: the path's note counted then */
	c->rcv_mss = tcp_local_mss(&c->laddr);
	/* What the SYN-ACK offered, unscaled: the edge to keep. */
	c->rcv_adv = c->rcv_nxt + MIN(INET_TCP_RCVBUF_DEFAULT, 65535u);
	c->cwnd = MIN(4 * c->mss, MAX(2 * c->mss, 4380u));
	c->ssthresh = UINT32_MAX;
	c->last_rcv_ms = inet_now_ms();
	c->state = TCP_ESTABLISHED;
	c->parent = l;
	tcp_hash_locked(c);
	if (l->acc_tail)
		l->acc_tail->qnext = c;
	else
		l->acc_head = c;
	l->acc_tail = c;
	l->nacc++;
	tcp_wake(l);
	if (sg->len || (sg->flags & TCP_FIN)) {
		struct pkb *consumed = NULL;

		tcp_segment_locked(c, p, sg, out, &consumed);
		return consumed ? 2 : 1;
	}
	return 1;
}

void tcp_input(struct netif *nif, struct pkb *p)
{
	struct pkb_queue out = {0};
	const uint8_t *h = pkb_data(p);
	struct tcp_sock *s;
	struct tcp_seg sg;
	struct inet_addr src, dst;
	unsigned doff;
	uint16_t sport, dport;
	struct pkb *consumed = NULL;
	uint64_t pseudo;

	inet_count(INET_MIB_TCP_IN_SEGS);
	tcp_seg_addrs(p, &src, &dst);
	pseudo = p->v6 ? inet_csum_pseudo6(&src, &dst, IPPROTO_TCP_, p->len)
		       : inet_csum_pseudo(p->saddr, p->daddr, IPPROTO_TCP_, p->len);
	if (p->len < TCP_HLEN || (doff = (h[12] >> 4) * 4u) < TCP_HLEN || doff > p->len) {
		seg_count_err(nif);
		goto drop;
	}
	if (!p->csum_ok && inet_csum_fold(inet_csum_add(pseudo, h, p->len)) != 0) {
		inet_count(INET_MIB_TCP_IN_CSUM_ERRORS);
		seg_count_err(nif);
		goto drop;
	}
	/* TCP is unicast (RFC 1122 4.2.3.10): nothing to a broadcast or group, nor from no host. */
	if (p->bcast || (p->v6 ? ipv6_is_unspecified(&src) : p->saddr == 0)) {
		netif_count(&nif->stats.rx_drops, 1);
		goto drop;
	}
	memset(&sg, 0, sizeof(sg));
	if (tcp_parse_options(h + TCP_HLEN, doff - TCP_HLEN, &sg.o)) {
		seg_count_err(nif);
		goto drop;
	}
	sg.sport = sport = get16(h);
	sg.dport = dport = get16(h + 2);
	sg.seq = get32(h + 4);
	sg.ack = get32(h + 8);
	sg.flags = h[13] & 0x3f;
	sg.wnd = get16(h + 14);
	p->off += doff;
	p->len -= doff;
	sg.len = p->len;
	if (sport == 0 || dport == 0) {
		seg_count_err(nif);
		goto drop;
	}
	/* A SYN's note for its peer, looked up before tcp_lock (inet.lock never nests in it). */
	if ((sg.flags & (TCP_SYN | TCP_ACK)) == TCP_SYN)
		sg.pmtu = inet_pmtu_noted(&src);

	tcp_enter(NULL);
	s = tcp_lookup_locked(&dst, dport, &src, sport);
	if (s) {
		inet_stack->tcp_busy = s;
		tcp_segment_locked(s, p, &sg, &out, &consumed);
	} else if ((s = tcp_listener_locked(&dst, dport))) {
		inet_stack->tcp_busy = s;
		/* RFC 9293 3.10.7.2: LISTEN. */
		if (sg.flags & TCP_RST) {
			/* ignored */
		} else if (sg.flags & TCP_ACK) {
			/* A SYN-ACK or an ACK: only a SYN cookie's ACK is welcome. */
			int r = sg.flags & TCP_SYN ? 0
						   : listen_cookie_locked(s, p, &dst, &src, &sg,
									  sport, dport, &out);

			if (r == 2)
				consumed = p;
			else if (!r)
				tcp_reply_rst(&dst, &src, &sg, &out);
		} else if (sg.flags & TCP_SYN) {
			listen_syn_locked(s, &dst, &src, &sg, sport, dport, &out);
		}
	} else if (!(sg.flags & TCP_RST)) {
		/* CLOSED (RFC 9293 3.10.7.1): a reset, never one about a reset. */
		tcp_reply_rst(&dst, &src, &sg, &out);
	}
	tcp_leave();
	tcp_xmit(&out);
	if (consumed)
		return;
drop:
	pkb_free(p);
}

bool tcp_icmp_error(uint8_t type, uint8_t code, const uint8_t *q, uint32_t qlen, uint32_t mtu)
{
	struct pkb_queue out = {0};
	struct inet_addr la, ra;
	unsigned ihl;
	struct tcp_sock *s;
	uint32_t seq;
	bool frag, ours = false;

	/*
	 * Only port/protocol unreachable ends a connection that never came up
	 * (RFC 1122 4.2.3.9); frag-needed lowers the MSS of one that sent a
	 * segment too big for the path (RFC 1191).
	 */
	if (qlen < IPV4_HLEN || (ihl = (q[0] & 15u) * 4) < IPV4_HLEN || qlen < ihl + 8)
		return false;
	frag = code == ICMP_UNREACH_FRAG;
	if (type != ICMP_UNREACH ||
	    (!frag && code != ICMP_UNREACH_PORT && code != ICMP_UNREACH_PROTO))
		return false;
	seq = get32(q + ihl + 4);
	la = inet_addr_from_v4(get32(q + 12));
	ra = inet_addr_from_v4(get32(q + 16));
	tcp_enter(NULL);
	s = tcp_lookup_locked(&la, get16(q + ihl), &ra, get16(q + ihl + 2));
	inet_stack->tcp_busy = s;
	/* The quoted sequence must be one we have outstanding, or anyone could end it. */
	if (s && frag)
		ours = tcp_pmtu_locked(s, seq, mtu, &out);
	else if (s && s->state == TCP_SYN_SENT && seq == s->iss)
		tcp_done_locked(s, -ECONNREFUSED);
	tcp_leave();
	tcp_xmit(&out);
	return ours;
}

bool tcp_icmp6_too_big(const uint8_t *q, uint32_t qlen, uint32_t mtu)
{
	struct pkb_queue out = {0};
	struct inet_addr la, ra;
	struct tcp_sock *s;
	bool ours = false;

	/* The quoted header and the first 8 bytes of the segment, with no extension header. */
	if (qlen < IPV6_HLEN + 8 || q[6] != IPPROTO_TCP_)
		return false;
	memcpy(la.a, q + 8, 16);
	memcpy(ra.a, q + 24, 16);
	tcp_enter(NULL);
	s = tcp_lookup_locked(&la, get16(q + IPV6_HLEN), &ra, get16(q + IPV6_HLEN + 2));
	inet_stack->tcp_busy = s;
	if (s)
		ours = tcp_pmtu_locked(s, get32(q + IPV6_HLEN + 4), mtu, &out);
	tcp_leave();
	tcp_xmit(&out);
	return ours;
}

/* --- timers --- */

static uint64_t sock_next(const struct tcp_sock *s)
{
	uint64_t t = UINT64_MAX;

	if (s->t_rtx)
		t = MIN(t, s->t_rtx);
	if (s->t_persist)
		t = MIN(t, s->t_persist);
	if (s->t_delack)
		t = MIN(t, s->t_delack);
	if (s->t_keep)
		t = MIN(t, s->t_keep);
	if (s->t_wait)
		t = MIN(t, s->t_wait);
	if (s->t_reo)
		t = MIN(t, s->t_reo);
	return t;
}

/* The tick that looks again, while a poller waits for the budget: every 10 ms. */
#define TCP_BUDGET_TICK_MS 10

bool inet_budget_room(void)
{
	uint64_t again = inet_now_ms() + TCP_BUDGET_TICK_MS;

	if (inet_mem_room(inet_stack->pkb_cache->size))
		return true;
	atomic_store(&inet_stack->tcp_budget_wanted, 1);
	if (again < atomic_load(&inet_stack->tcp_next_ms))
		atomic_store(&inet_stack->tcp_next_ms, again);
	return false;
}

/*
 * The budget has room again for pollers refused POLLOUT for it: every
 * socket with pollers is woken with its events (its pollers look again),
 * TCP's here and UDP's after tcp_lock (udp_budget_wake). Rare, and
 * O(sockets) when it is.
 */
static bool budget_wake_locked(uint64_t *next, uint64_t now)
{
	if (!atomic_load(&inet_stack->tcp_budget_wanted))
		return false;
	if (!inet_mem_room(inet_stack->pkb_cache->size)) {
		*next = MIN(*next, now + TCP_BUDGET_TICK_MS);
		return false;
	}
	atomic_store(&inet_stack->tcp_budget_wanted, 0);
	for (struct tcp_sock *s = inet_stack->tcp_users; s; s = s->unext)
		if (s->pollers)
			inet_poll_wake(s->pollers, tcp_poll_locked(s));
	return true;
}

/*
 * Each connection's MSS as the notes say now: lowered by a note made for
 * its peer, raised back to what both ends allow when the note aged out
 * (RFC 1191 6.3: the larger size is tried again; a segment then too big
 * is the path's to say again). From the tick, when the notes changed; on
 * a copy of them, since inet.lock may not be taken under tcp_lock.
 */
static __attribute__((noinline)) void follow_pmtu(uint64_t now)
{
	struct inet_pmtu_note t[INET_PMTU_NOTES];
	uint32_t gen = inet_pmtu_snapshot(t);

	tcp_enter(NULL);
	if (gen != atomic_load(&inet_stack->tcp_pmtu_gen)) {
		atomic_store(&inet_stack->tcp_pmtu_gen, gen);
		for (unsigned b = 0; b < INET_TCP_CONN_BUCKETS; b++)
			for (struct tcp_sock *s = inet_stack->tcp_conn[b]; s; s = s->hnext)
				if (s->mss_max && s->state != TCP_SYN_SENT)
					s->mss = tcp_path_mss(&s->laddr, s->mss_max,
							      inet_pmtu_find(t, &s->raddr, now));
	}
	tcp_leave();
}

void tcp_tick(uint64_t now)
{
	struct pkb_queue out = {0};
	uint64_t next = UINT64_MAX;
	bool woke;

	if (!inet_stack)
		return;
	inet_pmtu_tick(now);
	if (atomic_load(&inet_stack->pmtu_gen) != atomic_load(&inet_stack->tcp_pmtu_gen))
		follow_pmtu(now);
	tcp_enter(NULL);
	for (unsigned b = 0; b < INET_TCP_CONN_BUCKETS; b++) {
		struct tcp_sock *s = inet_stack->tcp_conn[b], *n;

		for (; s; s = n) {
			n = s->hnext;
			if (sock_next(s) <= now) {
				inet_stack->tcp_busy = s;
				tcp_timers_locked(s, now, &out);
				inet_stack->tcp_busy = NULL;
			}
		}
	}
	/* Recount after firing: a timer may have ended its connection. */
	for (unsigned b = 0; b < INET_TCP_CONN_BUCKETS; b++)
		for (struct tcp_sock *s = inet_stack->tcp_conn[b]; s; s = s->hnext)
			next = MIN(next, sock_next(s));
	woke = budget_wake_locked(&next, now);
	atomic_store(&inet_stack->tcp_next_ms, next);
	tcp_leave();
	if (woke)
		udp_budget_wake();
	tcp_xmit(&out);
}

uint64_t tcp_next_timer(void)
{
	return inet_stack ? atomic_load(&inet_stack->tcp_next_ms) : UINT64_MAX;
}

/* --- the calls --- */

/* Sleep on @s until woken or the deadline; called and returns with tcp_lock held. */
static int wait_locked(struct tcp_sock *s, int timeout_ms, uint64_t deadline)
{
	int64_t left = -1;

	if (timeout_ms == 0)
		return -EAGAIN;
	if (timeout_ms > 0) {
		uint64_t now = host_mono_ns();

		if (now >= deadline)
			return -ETIMEDOUT;
		left = (int64_t)(deadline - now);
	}
	/* Hand over hand: a waker needs tcp_lock to change what we wait for, then wq.lock. */
	spin_lock(&s->wq.lock);
	tcp_leave();
	left = kwait_sleep_locked(&s->wq, KWAIT_INTR, left);
	tcp_enter(s);
	return left == -EINTR ? -EINTR : 0;
}

static uint64_t deadline_of(int timeout_ms)
{
	return timeout_ms > 0 ? host_mono_ns() + (uint64_t)timeout_ms * 1000000u : 0;
}

int tcp_open(struct tcp_sock **out)
{
	struct tcp_sock *s;

	if (!inet_stack)
		return -ENODEV;
	tcp_enter(NULL);
	s = tcp_new_locked();
	if (s)
		user_add_locked(s);
	tcp_leave();
	if (!s)
		return -ENOMEM;
	*out = s;
	return 0;
}

static int bind_locked(struct tcp_sock *s, const struct inet_addr *addr, uint16_t port)
{
	if (s->bound || s->state != TCP_CLOSED || s->lport)
		return -EINVAL;
	if (port == 0) {
		for (unsigned i = 0; i < EPHEMERAL_N; i++) {
			uint16_t cand = (uint16_t)(EPHEMERAL_LO +
						   (inet_stack->tcp_next_port - EPHEMERAL_LO + i) %
						       EPHEMERAL_N);

			if (!port_in_use_locked(addr, cand)) {
				port = cand;
				inet_stack->tcp_next_port =
				    (uint16_t)(cand == 65535u ? EPHEMERAL_LO : cand + 1u);
				break;
			}
		}
		if (!port)
			return -EADDRINUSE;
	} else if (port_in_use_locked(addr, port)) {
		return -EADDRINUSE;
	}
	s->laddr = *addr;
	s->lport = port;
	s->bnext = inet_stack->tcp_bound[bind_bucket(port)];
	inet_stack->tcp_bound[bind_bucket(port)] = s;
	s->bound = true;
	return 0;
}

int tcp_bind(struct tcp_sock *s, uint32_t addr, uint16_t port)
{
	struct inet_addr a = inet_addr_from_v4(addr);

	return tcp_bind_in(s, &a, port);
}

int tcp_bind_in(struct tcp_sock *s, const struct inet_addr *addr, uint16_t port)
{
	int err;

	if (memcmp(addr, &any6, sizeof(*addr)) && memcmp(addr, &any4, sizeof(*addr)) &&
	    !netif_of(addr))
		return -EADDRNOTAVAIL;
	tcp_enter(s);
	err = bind_locked(s, addr, port);
	tcp_leave();
	return err;
}

int tcp_listen(struct tcp_sock *s, int backlog)
{
	int err = 0;

	if (backlog < 1 || backlog > INET_TCP_BACKLOG_MAX)
		return -EINVAL;
	tcp_enter(s);
	if (!s->bound)
		err = -EINVAL;
	else if (s->state == TCP_LISTEN)
		s->backlog = (uint32_t)backlog;
	else if (s->state != TCP_CLOSED)
		err = -EISCONN;
	else {
		s->backlog = (uint32_t)backlog;
		s->state = TCP_LISTEN;
	}
	tcp_leave();
	return err;
}

int tcp_accept(struct tcp_sock *s, struct tcp_sock **out, uint32_t *raddr, uint16_t *rport,
	       int timeout_ms)
{
	struct inet_addr a;
	int err = tcp_accept_in(s, out, &a, rport, timeout_ms);

	if (!err && raddr)
		*raddr = inet_addr_is_v4(&a) ? inet_addr_v4(&a) : 0;
	return err;
}

int tcp_accept_in(struct tcp_sock *s, struct tcp_sock **out, struct inet_addr *raddr,
		  uint16_t *rport, int timeout_ms)
{
	uint64_t deadline = deadline_of(timeout_ms);
	struct tcp_sock *c;
	int err = 0;

	tcp_enter(s);
	for (;;) {
		if (s->state != TCP_LISTEN) {
			err = -EINVAL;
			break;
		}
		c = s->acc_head;
		if (c) {
			acc_remove_locked(s, c);
			c->parent = NULL;
			user_add_locked(c);
			c->opened = true;
			*out = c;
			if (raddr)
				*raddr = c->raddr;
			if (rport)
				*rport = c->rport;
			break;
		}
		err = wait_locked(s, timeout_ms, deadline);
		if (err)
			break;
	}
	tcp_leave();
	return err;
}

int tcp_connect(struct tcp_sock *s, uint32_t daddr, uint16_t dport, int timeout_ms)
{
	struct inet_addr d = inet_addr_from_v4(daddr);

	if (daddr == 0 || daddr == INET_BCAST)
		return -EINVAL;
	return tcp_connect_in(s, &d, dport, timeout_ms);
}

/*
 * The interface to @daddr (a link-local one in zone @scope, or the zone of
 * @bound, ours) and the address of ours to speak from: NULL with *@err
 * when none.
 */
static struct netif *route_from(const struct inet_addr *daddr, uint32_t scope,
				const struct inet_addr *bound, struct inet_addr *src, int *err)
{
	struct netif *nif;
	uint32_t nexthop;

	if (!inet_addr_is_v4(daddr)) {
		nif = ipv6_route_scope(daddr, scope, bound, err);
		if (nif)
			ipv6_source(nif, daddr, src);
		return nif;
	}
	nif = netif_route(inet_addr_v4(daddr), &nexthop);
	if (nif)
		*src = inet_addr_from_v4(nif->addr);
	*err = -ENETUNREACH;
	return nif;
}

int tcp_connect_in(struct tcp_sock *s, const struct inet_addr *daddr, uint16_t dport,
		   int timeout_ms)
{
	return tcp_connect_scope(s, daddr, 0, dport, timeout_ms);
}

int tcp_connect_scope(struct tcp_sock *s, const struct inet_addr *daddr, uint32_t scope,
		      uint16_t dport, int timeout_ms)
{
	uint64_t deadline = deadline_of(timeout_ms);
	struct pkb_queue out = {0};
	struct inet_addr src;
	struct netif *nif;
	bool v4 = inet_addr_is_v4(daddr);
	uint32_t pmtu;
	int err = 0;

	if (dport == 0 || ipv6_is_unspecified(daddr) || ipv6_is_multicast(daddr))
		return -EINVAL;
	pmtu = inet_pmtu_noted(daddr); /* inet.lock: not under ours */
	tcp_enter(s);
	if (s->state == TCP_SYN_SENT || s->state == TCP_SYN_RECEIVED) {
		err = -EALREADY;
		goto wait;
	}
	if (s->state != TCP_CLOSED || s->opened) {
		/* One connection a socket: once made, not made again until tcp_disconnect. */
		err = s->state == TCP_LISTEN ? -EINVAL : -EISCONN;
		if (s->err && s->state == TCP_CLOSED) {
			err = s->err;
			s->err = 0;
			s->err_pipe = true;
		}
		goto out;
	}
	nif = route_from(daddr, scope, s->bound ? &s->laddr : NULL, &src, &err);
	if (!nif) {
		if (err == -ENETUNREACH)
			inet_count(v4 ? INET_MIB_IP_OUT_NO_ROUTES : INET_MIB_IP6_OUT_NO_ROUTES);
		goto out;
	}
	if (s->bound) {
		/* Bound to an address of the other family: it can't speak this one. */
		if (memcmp(&s->laddr, &any6, sizeof(src)) && inet_addr_is_v4(&s->laddr) != v4) {
			err = -EAFNOSUPPORT;
			goto out;
		}
		if (inet_addr_covers(&s->laddr, &src) == 1)
			s->laddr = src;
		if (tcp_lookup_locked(&s->laddr, s->lport, daddr, dport)) {
			err = -EADDRINUSE;
			goto out;
		}
	} else {
		/* An ephemeral port whose four-tuple no connection (TIME-WAIT) still has. */
		for (unsigned i = 0;; i++) {
			if (i == 64 || (err = bind_locked(s, v4 ? &any4 : &any6, 0))) {
				err = -EADDRNOTAVAIL;
				goto out;
			}
			s->laddr = src;
			if (!tcp_lookup_locked(&s->laddr, s->lport, daddr, dport))
				break;
			unbind_locked(s);
			s->laddr = any6;
			s->lport = 0;
		}
	}
	/* A disconnect's error, reported or not: this is a new connection. */
	s->err = 0;
	s->err_pipe = false;
	s->raddr = *daddr;
	s->rport = dport;
	s->iss = tcp_new_iss(&s->laddr, s->lport, &s->raddr, s->rport);
	s->snd_una = s->snd_nxt = s->snd_max = s->snd_sml = s->iss;
	s->snd_end = s->iss + 1;
	/* The path's note, if there is one, from the SYN on (as Linux's route MTU). */
	s->mss_max = nif->mtu - tcp_ip_hlen(&s->laddr) - TCP_HLEN;
	s->mss = s->rcv_mss = tcp_path_mss(&s->laddr, s->mss_max, pmtu);
	s->ts_off = tcp_new_ts_off(&s->laddr, s->lport, &s->raddr, s->rport);
	s->state = TCP_SYN_SENT;
	s->opened = true;
	tcp_hash_locked(s);
	inet_count(INET_MIB_TCP_ACTIVE_OPENS);
	tcp_send_syn_locked(s, &out);
	tcp_leave();
	tcp_xmit(&out);
	tcp_enter(s);
	err = -EINPROGRESS;
wait:
	for (;;) {
		if (s->state != TCP_SYN_SENT && s->state != TCP_SYN_RECEIVED) {
			err = 0;
			if (s->state == TCP_CLOSED) {
				err = s->err ? s->err : -ECONNREFUSED;
				s->err = 0;
				s->err_pipe = true;
			}
			break;
		}
		if (timeout_ms == 0)
			break; /* -EINPROGRESS, or -EALREADY when asked again */
		err = wait_locked(s, timeout_ms, deadline);
		if (err)
			break;
	}
out:
	tcp_leave();
	return err;
}

static bool can_send(const struct tcp_sock *s)
{
	return s->state == TCP_ESTABLISHED || s->state == TCP_CLOSE_WAIT;
}

ssize_t tcp_send(struct tcp_sock *s, const void *buf, size_t len, int timeout_ms)
{
	uint64_t deadline = deadline_of(timeout_ms);
	const uint8_t *src = buf;
	size_t done = 0;
	int err = 0;

	tcp_enter(s);
	while (done < len) {
		struct pkb_queue out = {0};

		if (s->err) {
			err = s->err;
			s->err = 0;
			s->err_pipe = true;
			break;
		}
		if (!s->opened || s->state == TCP_LISTEN) {
			err = -ENOTCONN;
			break;
		}
		if (s->shut_wr || s->err_pipe || s->state == TCP_CLOSED) {
			err = -EPIPE;
			break;
		}
		if (!can_send(s)) {
			if (s->state == TCP_SYN_SENT || s->state == TCP_SYN_RECEIVED) {
				err = wait_locked(s, timeout_ms, deadline);
				if (err)
					break;
				continue;
			}
			err = -ENOTCONN;
			break;
		}
		while (done < len && s->sndq_bytes < s->sndbuf) {
			struct pkb *t = s->sndq.tail;
			uint32_t room, n;

			/* Fill the tail while it is unsent and short of a segment. */
			if (t && SEQ_GEQ(t->seq, s->snd_nxt) && t->len < tcp_eff_mss(s)) {
				room = tcp_eff_mss(s) - t->len;
			} else {
				t = pkb_alloc(tcp_eff_mss(s));
				if (!t) {
					inet_count(INET_MIB_TCP_MEM_FAILS);
					break;
				}
				t->seq = s->snd_end;
				pkb_queue_put(&s->sndq, t);
				room = tcp_eff_mss(s);
			}
			n = (uint32_t)MIN((size_t)room, len - done);
			n = MIN(n, s->sndbuf - s->sndq_bytes);
			memcpy(pkb_data(t) + t->len, src + done, n);
			t->len += n;
			s->sndq_bytes += n;
			s->snd_end += n;
			done += n;
		}
		tcp_output_locked(s, &out);
		if (out.head) {
			tcp_leave();
			tcp_xmit(&out);
			tcp_enter(s);
		}
		if (done == len)
			break;
		if (s->sndq_bytes < s->sndbuf && !s->sndq.head) {
			/* No buffer to be had at all: the stack's budget is spent. */
			err = -ENOBUFS;
			break;
		}
		if (done) {
			if (timeout_ms == 0)
				break;
		}
		err = wait_locked(s, timeout_ms, deadline);
		if (err)
			break;
	}
	tcp_leave();
	if (done)
		return (ssize_t)done;
	return err ? err : -EAGAIN;
}

ssize_t tcp_recv(struct tcp_sock *s, void *buf, size_t len, int timeout_ms)
{
	uint64_t deadline = deadline_of(timeout_ms);
	struct pkb_queue out = {0};
	uint8_t *dst = buf;
	size_t done = 0;
	int err = 0;

	tcp_enter(s);
	for (;;) {
		struct pkb *p;
		uint32_t before;

		if (s->rcvq.head) {
			before = tcp_rcv_window(s);
			while (done < len && (p = s->rcvq.head)) {
				uint32_t n = (uint32_t)MIN((size_t)p->len, len - done);

				memcpy(dst + done, pkb_data(p), n);
				done += n;
				p->off += n;
				p->len -= n;
				s->rcvq_bytes -= n;
				if (!p->len)
					pkb_free(pkb_queue_take(&s->rcvq));
			}
			/* A window that opens by two segments or half the buffer is told now. */
			if (s->state != TCP_CLOSED) {
				uint32_t now_w = tcp_rcv_window(s), adv = s->rcv_adv - s->rcv_nxt;

				if (now_w > before && now_w > adv &&
				    (now_w - adv >= 2 * s->mss || now_w - adv >= s->rcvbuf / 2)) {
					s->ack_now = true;
					tcp_output_locked(s, &out);
				}
			}
			break;
		}
		if (s->fin_rcvd)
			break; /* 0: the peer's FIN */
		if (s->err) {
			err = s->err;
			s->err = 0;
			s->err_pipe = true;
			break;
		}
		if (s->state == TCP_CLOSED || s->state == TCP_LISTEN) {
			err = s->err_pipe ? -ECONNRESET : -ENOTCONN;
			break;
		}
		err = wait_locked(s, timeout_ms, deadline);
		if (err)
			break;
	}
	tcp_leave();
	tcp_xmit(&out);
	if (done)
		return (ssize_t)done;
	return err;
}

int tcp_shutdown(struct tcp_sock *s)
{
	struct pkb_queue out = {0};
	int err = 0;

	tcp_enter(s);
	switch (s->state) {
	case TCP_SYN_RECEIVED:
		s->shut_wr = true; /* the FIN goes once established (take_ack) */
		break;
	case TCP_ESTABLISHED:
		s->shut_wr = true;
		s->state = TCP_FIN_WAIT_1;
		break;
	case TCP_CLOSE_WAIT:
		s->shut_wr = true;
		s->state = TCP_LAST_ACK;
		break;
	case TCP_SYN_SENT:
		tcp_done_locked(s, 0);
		break;
	case TCP_CLOSED:
	case TCP_LISTEN:
		err = -ENOTCONN;
		break;
	default:
		break; /* our FIN is on its way already */
	}
	if (!err && s->state != TCP_CLOSED)
		tcp_output_locked(s, &out);
	tcp_leave();
	tcp_xmit(&out);
	return err;
}

static void reset_children_locked(struct tcp_sock *l, struct pkb_queue *out)
{
	struct tcp_sock *c;

	while ((c = l->acc_head)) {
		tcp_send_rst_locked(c, out);
		tcp_done_locked(c, -ECONNRESET);
	}
	for (unsigned b = 0; b < INET_TCP_CONN_BUCKETS && l->nsyn; b++) {
		struct tcp_sock *n;

		for (c = inet_stack->tcp_conn[b]; c; c = n) {
			n = c->hnext;
			if (c->parent == l) {
				tcp_send_rst_locked(c, out);
				tcp_done_locked(c, -ECONNRESET);
			}
		}
	}
}

/* tcp_close's work: the handle is given up, the connection ends in the stack. */
static void close_locked(struct tcp_sock *s, struct pkb_queue *out)
{
	user_del_locked(s);
	unbind_locked(s);
	switch (s->state) {
	case TCP_LISTEN:
		reset_children_locked(s, out);
		tcp_done_locked(s, 0);
		break;
	case TCP_CLOSED:
	case TCP_SYN_SENT:
		tcp_done_locked(s, 0);
		break;
	default:
		if (s->rcvq_bytes || s->ooo) {
			/* RFC 1122 4.2.2.13: data left unread is lost; say so with a reset. */
			if (s->state != TCP_TIME_WAIT) {
				inet_count(INET_MIB_TCP_ABORT_ON_CLOSE);
				tcp_send_rst_locked(s, out);
			}
			tcp_done_locked(s, 0);
			break;
		}
		/* From SYN-RECEIVED the FIN waits for the handshake's end (take_ack). */
		if (s->state == TCP_ESTABLISHED)
			s->state = TCP_FIN_WAIT_1;
		else if (s->state == TCP_CLOSE_WAIT)
			s->state = TCP_LAST_ACK;
		s->shut_wr = true;
		tcp_output_locked(s, out);
		if (s->state == TCP_FIN_WAIT_2 && !s->t_wait)
			s->t_wait = inet_now_ms() + TCP_FIN_WAIT_2_MS;
		break;
	}
}

void tcp_close(struct tcp_sock *s)
{
	struct pkb_queue out = {0};

	tcp_enter(s);
	close_locked(s, &out);
	tcp_leave();
	tcp_xmit(&out);
}

void tcp_abort(struct tcp_sock *s)
{
	struct pkb_queue out = {0};

	tcp_enter(s);
	user_del_locked(s);
	unbind_locked(s);
	if (s->state == TCP_LISTEN)
		reset_children_locked(s, &out);
	else if (s->state != TCP_CLOSED && s->state != TCP_SYN_SENT && s->state != TCP_TIME_WAIT)
		tcp_send_rst_locked(s, &out);
	tcp_done_locked(s, 0);
	tcp_leave();
	tcp_xmit(&out);
}

int tcp_disconnect(struct tcp_sock *s)
{
	struct pkb_queue out = {0};
	uint32_t sndbuf, rcvbuf;
	unsigned keep_idle_s;
	bool nodelay;
	int err = 0;

	tcp_enter(s);
	keep_idle_s = s->keep_idle_s;
	nodelay = s->nodelay;
	sndbuf = s->sndbuf;
	rcvbuf = s->rcvbuf;
	switch (s->state) {
	case TCP_CLOSED:
		break;
	case TCP_LISTEN:
		/* It stops listening: what waited for accept, and the half-open, are reset. */
		reset_children_locked(s, &out);
		tcp_done_locked(s, 0);
		break;
	case TCP_SYN_SENT:
		err = -ECONNRESET;
		tcp_done_locked(s, err);
		break;
	case TCP_TIME_WAIT:
		tcp_done_locked(s, 0);
		break;
	default:
		/* Synchronized: the peer is told, and our poller sees the error (as Linux). */
		err = -ECONNRESET;
		tcp_send_rst_locked(s, &out);
		tcp_done_locked(s, err);
		break;
	}
	/*
	 * CLOSED, as if just opened, but the handle, its waiters and pollers
	 * and the options the user set: the queues go (the data received in
	 * order too), and so does the port (Linux keeps one the user bound;
	 * here a listen after it binds again). The error stays for a poll and
	 * UML_SO_ERROR until a new connect clears it.
	 */
	unbind_locked(s); /* (a socket bound, never connected, is CLOSED and bound) */
	pkb_queue_purge(&s->rcvq);
	memset(&s->iss, 0, sizeof(*s) - offsetof(struct tcp_sock, iss));
	memset(&s->laddr, 0, sizeof(s->laddr));
	memset(&s->raddr, 0, sizeof(s->raddr));
	s->lport = s->rport = 0;
	s->opened = s->shut_wr = s->fin_sent = s->fin_rcvd = s->ack_now = false;
	s->in_recovery = s->rtt_timing = s->ws_ok = s->ts_ok = s->sack_ok = false;
	s->snd_wscale = s->rcv_wscale = 0;
	s->err_pipe = false;
	if (err)
		s->err = err; /* else an error not yet reported stays, as Linux's sk_err */
	s->backlog = s->nsyn = s->nacc = 0;
	s->acc_head = s->acc_tail = NULL;
	s->sndbuf = sndbuf;
	s->rcvbuf = rcvbuf;
	s->keep_idle_s = keep_idle_s;
	s->nodelay = nodelay;
	s->rto_ms = TCP_RTO_INIT_MS;
	s->mss = TCP_MSS_DEFAULT;
	tcp_wake(s);
	tcp_leave();
	tcp_xmit(&out);
	return 0;
}

int tcp_local(const struct tcp_sock *s, uint32_t *addr, uint16_t *port)
{
	*addr = inet_addr_is_v4(&s->laddr) ? inet_addr_v4(&s->laddr) : 0;
	*port = s->lport;
	return s->lport ? 0 : -ENOTCONN;
}

int tcp_local_in(const struct tcp_sock *s, struct inet_addr *addr, uint16_t *port)
{
	*addr = s->laddr;
	*port = s->lport;
	return s->lport ? 0 : -ENOTCONN;
}

int tcp_peer_in(const struct tcp_sock *s, struct inet_addr *addr, uint16_t *port)
{
	int err = -ENOTCONN;

	tcp_enter(NULL);
	if (s->opened && s->rport) {
		*addr = s->raddr;
		*port = s->rport;
		err = 0;
	}
	tcp_leave();
	return err;
}

int tcp_info(const struct tcp_sock *s, struct tcp_conn_info *o)
{
	tcp_enter(NULL);
	memset(o, 0, sizeof(*o));
	o->state = s->state;
	o->laddr = inet_addr_is_v4(&s->laddr) ? inet_addr_v4(&s->laddr) : 0;
	o->raddr = inet_addr_is_v4(&s->raddr) ? inet_addr_v4(&s->raddr) : 0;
	o->laddr_in = s->laddr;
	o->raddr_in = s->raddr;
	o->lport = s->lport;
	o->rport = s->rport;
	o->mss = s->mss;
	o->snd_wscale = s->ws_ok ? s->snd_wscale : 0xff;
	o->rcv_wscale = s->ws_ok ? s->rcv_wscale : 0xff;
	o->ts = s->ts_ok;
	o->sack = s->sack_ok;
	o->srtt_us = s->srtt_us;
	o->rttvar_us = s->rttvar_us;
	o->rto_ms = s->rto_ms;
	o->cwnd = s->cwnd;
	o->ssthresh = s->ssthresh;
	o->snd_wnd = s->snd_wnd;
	o->rcv_wnd = s->rcv_adv - s->rcv_nxt;
	o->unacked = s->snd_max - s->snd_una;
	o->sndbuf_used = s->sndq_bytes;
	o->rcvbuf_used = s->rcvq_bytes;
	o->bytes_sent = s->bytes_sent;
	o->bytes_received = s->bytes_received;
	o->retransmits = s->retransmits;
	o->dup_acks = s->dup_acks_seen;
	tcp_leave();
	return 0;
}

int tcp_set_nodelay(struct tcp_sock *s, bool on)
{
	struct pkb_queue out = {0};

	tcp_enter(s);
	s->nodelay = on;
	if (on && can_send(s))
		tcp_output_locked(s, &out);
	tcp_leave();
	tcp_xmit(&out);
	return 0;
}

int tcp_set_keepalive(struct tcp_sock *s, unsigned idle_s)
{
	if (idle_s > 86400u * 7)
		return -EINVAL;
	tcp_enter(s);
	s->keep_idle_s = idle_s;
	s->t_keep =
	    idle_s && s->state == TCP_ESTABLISHED ? inet_now_ms() + (uint64_t)idle_s * 1000u : 0;
	if (s->t_keep && s->t_keep < atomic_load(&inet_stack->tcp_next_ms))
		atomic_store(&inet_stack->tcp_next_ms, s->t_keep);
	tcp_leave();
	return 0;
}

int tcp_set_buffers(struct tcp_sock *s, uint32_t sndbuf, uint32_t rcvbuf)
{
	int err = 0;

	/* At least two segments each way; at most what a window scale of 14 can say. */
	if (sndbuf < 4096 || rcvbuf < 4096 || sndbuf > (16u << 20) || rcvbuf > (16u << 20))
		return -EINVAL;
	tcp_enter(s);
	if (s->state != TCP_CLOSED && s->state != TCP_LISTEN)
		err = -EISCONN;
	else {
		s->sndbuf = sndbuf;
		s->rcvbuf = rcvbuf;
	}
	tcp_leave();
	return err;
}
