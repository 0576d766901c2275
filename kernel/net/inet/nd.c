/*
 * Neighbour discovery (RFC 4861) for a host without routers to discover:
 * neighbour solicitations and advertisements, and the IPv6 neighbour
 * cache they fill. Router and redirect messages are ignored (the gateway
 * is configured).
 *
 * Duplicate address detection (RFC 4862 5.4) for both addresses: each is
 * tentative from netif_create -- it takes no unicast, answers no NS and
 * sources nothing (ipv6.c) -- until DAD passes: one NS
 * (DupAddrDetectTransmits 1) from :: to its solicited-node group, sent by
 * the first netif_announce or tick, and ND_RETRANS_MS (RetransTimer) with
 * neither an NA for it nor an NS from :: for it (someone else's DAD) makes
 * it preferred, announced by an unsolicited NA. Either of those in the
 * window marks it failed: never used, logged (10070), counted, and shown
 * "dadfailed" by inet_status. An NA heard later for an address in use is
 * counted as a conflict, and an NS from :: for it answered (defended).
 *
 * Validity (RFC 4861 7.1): a hop limit of 255 (so the message cannot have
 * crossed a router), code 0, at least 24 bytes, a target that is not
 * multicast, every option of a non-zero length within the message, a link-
 * layer address option of 6 bytes naming a station; an NS from the
 * unspecified address goes to a solicited-node group and carries no
 * source link-layer address; an NA to a group is not solicited. The
 * checksum is icmp6.c's. What fails is dropped and counted.
 *
 * The cache lives beside ARP's, per interface, under netif.lock, from the
 * same slab (objects of 128 bytes) and within the same bounds: at most
 * INET_NEIGH_MAX entries (the least recently used pushed out), at most
 * ND_PENDING packets held while one resolves. States (RFC 4861 7.3.2):
 * INCOMPLETE asks the solicited-node group every ND_RETRANS_MS, ND_TRIES
 * times, then goes with its packets; REACHABLE for ND_REACHABLE_MS after a
 * solicited NA; then STALE, still used; a packet sent to a STALE one makes
 * it DELAY for ND_DELAY_MS and then PROBE (unicast NS, ND_TRIES times; no
 * answer: gone). A STALE entry unused for ND_STALE_MS is forgotten. As for
 * ARP, only an NS for an address of ours makes a new entry from its
 * source; an NA only updates an entry that exists (7.2.5).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "uml/host.h"

#include "inet_internal.h"

#define ND_REACHABLE_MS 30000 /* RFC 4861 10: REACHABLE_TIME */
#define ND_RETRANS_MS	1000  /* RETRANS_TIMER */
#define ND_DELAY_MS	5000  /* DELAY_FIRST_PROBE_TIME */
#define ND_STALE_MS	60000 /* our garbage collection of unused STALE entries */
#define ND_TRIES	3     /* MAX_MULTICAST_SOLICIT, MAX_UNICAST_SOLICIT */
#define ND_PENDING	3
#define ND_HOPS		255
#define ND_MSG_LEN	24 /* type, code, checksum, flags/reserved, target */
#define ND_OPT_SLLA	1
#define ND_OPT_TLLA	2
#define NA_ROUTER	0x80
#define NA_SOLICITED	0x40
#define NA_OVERRIDE	0x20

enum { ND_INCOMPLETE, ND_REACHABLE, ND_STALE, ND_DELAY, ND_PROBE };

/* One IPv6 neighbour; guarded by its interface's lock. */
struct nd_neigh {
	struct nd_neigh *next; /* in its bucket */
	struct inet_addr ip;
	uint8_t mac[INET_ETH_ALEN];
	uint8_t state;	     /* ND_* */
	uint8_t tries;	     /* solicitations sent while INCOMPLETE or PROBE */
	uint64_t expires_ms; /* when the state's timer runs out (above) */
	uint64_t used_ms;
	struct pkb_queue pending; /* INCOMPLETE: packets waiting, oldest first */
};
_Static_assert(sizeof(struct nd_neigh) <= 128, "nd_neigh grew past its cache's objects");

static unsigned bucket(const struct inet_addr *a)
{
	return (get32(a->a + 12) * 2654435761u) >> 26; /* 64 buckets */
}
_Static_assert(INET_NEIGH_BUCKETS == 64, "bucket() gives 6 bits");

static struct nd_neigh *find_locked(struct netif *nif, const struct inet_addr *a)
{
	for (struct nd_neigh *n = nif->neigh6[bucket(a)]; n; n = n->next)
		if (!memcmp(&n->ip, a, sizeof(*a)))
			return n;
	return NULL;
}

static void remove_locked(struct netif *nif, struct nd_neigh *victim, struct pkb_queue *drop)
{
	struct nd_neigh **pp = &nif->neigh6[bucket(&victim->ip)];
	struct pkb *p;

	while (*pp && *pp != victim)
		pp = &(*pp)->next;
	if (*pp)
		*pp = victim->next;
	while ((p = pkb_queue_take(&victim->pending)))
		pkb_queue_put(drop, p);
	nif->nneigh6--;
	kmem_cache_free(inet_stack->neigh_cache, victim);
}

static struct nd_neigh *add_locked(struct netif *nif, const struct inet_addr *a, uint64_t now,
				   struct pkb_queue *drop)
{
	struct nd_neigh *n;

	if (nif->nneigh6 >= INET_NEIGH_MAX) {
		struct nd_neigh *lru = NULL;

		for (unsigned b = 0; b < INET_NEIGH_BUCKETS; b++)
			for (n = nif->neigh6[b]; n; n = n->next)
				if (!lru || n->used_ms < lru->used_ms)
					lru = n;
		remove_locked(nif, lru, drop);
		inet_count(INET_MIB_ND_EVICTIONS);
	}
	n = kmem_cache_zalloc(inet_stack->neigh_cache);
	if (!n)
		return NULL;
	n->ip = *a;
	n->used_ms = now;
	n->next = nif->neigh6[bucket(a)];
	nif->neigh6[bucket(a)] = n;
	nif->nneigh6++;
	return n;
}

/* An NS or NA of @type about @target with our MAC as its option (none from ::), to @dst. */
static void send_nd(struct netif *nif, uint8_t type, uint8_t flags, const struct inet_addr *target,
		    const struct inet_addr *src, const struct inet_addr *dst)
{
	struct pkb *m = pkb_alloc(INET_PKB_CAP);
	bool opt = !ipv6_is_unspecified(src);
	uint8_t *h;

	if (!m) {
		netif_count(&nif->stats.tx_drops, 1);
		return;
	}
	m->off = INET_HEADROOM;
	m->len = ND_MSG_LEN + (opt ? 8 : 0);
	h = pkb_data(m);
	memset(h, 0, m->len);
	h[0] = type;
	h[4] = flags;
	memcpy(h + 8, target->a, 16);
	if (opt) {
		h[ND_MSG_LEN] = type == ICMP6_NS ? ND_OPT_SLLA : ND_OPT_TLLA;
		h[ND_MSG_LEN + 1] = 1;
		memcpy(h + ND_MSG_LEN + 2, nif->mac, INET_ETH_ALEN);
	}
	inet_count(type == ICMP6_NS ? INET_MIB_ND_OUT_SOLICITS : INET_MIB_ND_OUT_ADVERTS);
	icmp6_send(nif, m, src, dst, ND_HOPS);
}

/* Ask for @target: the solicited-node group while INCOMPLETE, the neighbour itself in PROBE. */
static void solicit(struct netif *nif, const struct inet_addr *target, bool unicast)
{
	struct inet_addr src, dst;

	ipv6_source(nif, target, &src);
	if (ipv6_is_unspecified(&src))
		return; /* no address of ours DAD passed to ask from */
	if (unicast)
		dst = *target;
	else
		ipv6_solicited(target, &dst);
	send_nd(nif, ICMP6_NS, 0, target, &src, &dst);
}

static const struct inet_addr all_nodes = {{0xff, 0x02, [15] = 1}};

static const struct inet_addr *slot_addr(const struct netif *nif, int s)
{
	return s ? &nif->addr6 : &nif->ll6;
}

/*
 * DAD's timers: the NS of each tentative address not yet asked about (its
 * window opens), and the end of each window passed (preferred, announced).
 * @announce: an unsolicited NA for every address in use, too.
 */
static void dad_step(struct netif *nif, uint64_t now, bool announce)
{
	static const struct inet_addr unspec;
	bool ask[2] = {false, false}, tell[2] = {false, false};

	netif_lock(nif);
	for (int s = 0; s < 1 + nif->has_addr6; s++) {
		uint8_t st = atomic_load(&nif->dad[s]);

		if (st == NETIF_DAD_TENTATIVE && !nif->dad_ms[s]) {
			nif->dad_ms[s] = now + ND_RETRANS_MS;
			ask[s] = true;
		} else if (st == NETIF_DAD_TENTATIVE && nif->dad_ms[s] <= now) {
			atomic_store(&nif->dad[s], NETIF_DAD_PREFERRED);
			tell[s] = true;
		} else if (st == NETIF_DAD_PREFERRED) {
			tell[s] = announce;
		}
	}
	spin_unlock(&nif->lock);
	for (int s = 0; s < 2; s++) {
		struct inet_addr sn;

		ipv6_solicited(slot_addr(nif, s), &sn);
		if (ask[s])
			send_nd(nif, ICMP6_NS, 0, slot_addr(nif, s), &unspec, &sn);
		if (tell[s])
			send_nd(nif, ICMP6_NA, NA_OVERRIDE, slot_addr(nif, s), slot_addr(nif, s),
				&all_nodes);
	}
}

/* Tentative address @s of @nif is another node's (an @what for it came): never use it. */
static void dad_failed(struct netif *nif, int s, const char *what)
{
	char a[INET6_ADDRSTRLEN];
	bool was;

	netif_lock(nif);
	was = atomic_load(&nif->dad[s]) == NETIF_DAD_TENTATIVE;
	if (was)
		atomic_store(&nif->dad[s], NETIF_DAD_FAILED);
	spin_unlock(&nif->lock);
	if (!was)
		return;
	inet_count(INET_MIB_ND_DAD_FAILS);
	inet_ntop(AF_INET6, slot_addr(nif, s)->a, a, sizeof(a));
	host_log(UML_LOGNO(10070) "inet: %s: IPv6 address %s is in use by another node on the "
				  "link (an %s for it came during DAD, RFC 4862 5.4): it is not "
				  "used; give the interface another address",
		 nif->name, a, what);
}

int nd_announce(struct netif *nif)
{
	if (nif->has6)
		dad_step(nif, inet_now_ms(), true);
	return 0;
}

/*
 * The link-layer address option of @type in the options at @o (@len
 * bytes): 1 found (into @mac), 0 none, -1 malformed (a zero length, past
 * the end, or a link-layer address option that is not 6 bytes of a
 * station).
 */
static int ll_option(const uint8_t *o, uint32_t len, uint8_t type, uint8_t mac[INET_ETH_ALEN])
{
	int found = 0;

	while (len) {
		uint32_t olen;

		if (len < 2 || o[1] == 0 || (olen = o[1] * 8u) > len)
			return -1;
		if (o[0] == ND_OPT_SLLA || o[0] == ND_OPT_TLLA) {
			if (olen != 8 || (o[2] & 1))
				return -1;
			if (o[0] == type) {
				memcpy(mac, o + 2, INET_ETH_ALEN);
				found = 1;
			}
		}
		o += olen;
		len -= olen;
	}
	return found;
}

/* @n learns @mac (NULL: keeps its own) in @state; its waiting packets go to @go. */
static void learn_locked(struct nd_neigh *n, const uint8_t *mac, uint8_t state, uint64_t now,
			 struct pkb_queue *go)
{
	struct pkb *q;

	if (mac)
		memcpy(n->mac, mac, INET_ETH_ALEN);
	n->state = state;
	n->expires_ms = now + (state == ND_REACHABLE ? ND_REACHABLE_MS : ND_STALE_MS);
	while ((q = pkb_queue_take(&n->pending)))
		pkb_queue_put(go, q);
}

static void send_list(struct netif *nif, struct pkb_queue *go, const uint8_t *mac)
{
	struct pkb *q;

	while ((q = pkb_queue_take(go)))
		ether_output(nif, q, mac, ETH_P_IPV6);
}

static void ns_input(struct netif *nif, const struct inet_addr *src, const struct inet_addr *dst,
		     const struct inet_addr *target, int have_ll, const uint8_t *mac)
{
	struct inet_addr sn;
	struct pkb_queue go = {0}, drop = {0};
	uint64_t now = inet_now_ms();
	struct nd_neigh *n;
	int s;

	inet_count(INET_MIB_ND_IN_SOLICITS);
	ipv6_solicited(target, &sn);
	if (ipv6_is_unspecified(src) && (memcmp(dst, &sn, sizeof(sn)) || have_ll)) {
		inet_count(INET_MIB_ND_IN_ERRORS);
		return;
	}
	s = ipv6_addr_slot(nif, target);
	if (s < 0)
		return;
	switch (atomic_load(&nif->dad[s])) {
	case NETIF_DAD_TENTATIVE:
		/* RFC 4862 5.4.3: another's DAD for it makes it a duplicate; else not answered. */
		if (ipv6_is_unspecified(src))
			dad_failed(nif, s, "NS from ::");
		return;
	case NETIF_DAD_FAILED:
		return;
	}
	if (ipv6_is_unspecified(src)) {
		/* Someone's DAD for our address: defend it (RFC 4861 7.2.4). */
		send_nd(nif, ICMP6_NA, NA_OVERRIDE, target, target, &all_nodes);
		return;
	}
	if (have_ll) {
		netif_lock(nif);
		n = find_locked(nif, src);
		if (!n)
			n = add_locked(nif, src, now, &drop);
		if (n && (n->state == ND_INCOMPLETE || memcmp(n->mac, mac, INET_ETH_ALEN)))
			learn_locked(n, mac, ND_STALE, now, &go);
		spin_unlock(&nif->lock);
		send_list(nif, &go, mac);
		pkb_free_list(drop.head);
	}
	send_nd(nif, ICMP6_NA, NA_SOLICITED | NA_OVERRIDE, target, target, src);
}

static void na_input(struct netif *nif, const struct inet_addr *target, uint8_t flags, int have_ll,
		     const uint8_t *mac)
{
	struct pkb_queue go = {0};
	uint64_t now = inet_now_ms();
	struct nd_neigh *n;
	bool solicited = flags & NA_SOLICITED, override = flags & NA_OVERRIDE;

	int s = ipv6_addr_slot(nif, target);

	inet_count(INET_MIB_ND_IN_ADVERTS);
	if (s >= 0) {
		if (atomic_load(&nif->dad[s]) == NETIF_DAD_TENTATIVE)
			dad_failed(nif, s, "NA"); /* RFC 4862 5.4.4 */
		else
			inet_count(INET_MIB_ND_CONFLICTS);
		return;
	}
	netif_lock(nif);
	n = find_locked(nif, target);
	if (n && n->state == ND_INCOMPLETE) {
		if (have_ll)
			learn_locked(n, mac, solicited ? ND_REACHABLE : ND_STALE, now, &go);
	} else if (n) {
		bool differs = have_ll && memcmp(n->mac, mac, INET_ETH_ALEN);

		/* RFC 4861 7.2.5: a new address without override only makes us doubt the old. */
		if (differs && !override) {
			if (n->state == ND_REACHABLE) {
				n->state = ND_STALE;
				n->expires_ms = now + ND_STALE_MS;
			}
		} else if (solicited) {
			learn_locked(n, differs ? mac : NULL, ND_REACHABLE, now, &go);
		} else if (differs) {
			learn_locked(n, mac, ND_STALE, now, &go);
		}
	}
	spin_unlock(&nif->lock);
	send_list(nif, &go, mac);
}

void nd_input(struct netif *nif, struct pkb *p)
{
	const uint8_t *ip = ipv6_hdr(p), *h = pkb_data(p);
	struct inet_addr src, dst, target;
	uint8_t mac[INET_ETH_ALEN];
	int have_ll;

	memcpy(src.a, ip + 8, 16);
	memcpy(dst.a, ip + 24, 16);
	if (ip[7] != ND_HOPS || h[1] != 0 || p->len < ND_MSG_LEN)
		goto bad;
	memcpy(target.a, h + 8, 16);
	if (ipv6_is_multicast(&target))
		goto bad;
	have_ll = ll_option(h + ND_MSG_LEN, p->len - ND_MSG_LEN,
			    h[0] == ICMP6_NS ? ND_OPT_SLLA : ND_OPT_TLLA, mac);
	if (have_ll < 0)
		goto bad;
	if (h[0] == ICMP6_NS) {
		ns_input(nif, &src, &dst, &target, have_ll, mac);
	} else {
		if (ipv6_is_multicast(&dst) && (h[4] & NA_SOLICITED))
			goto bad;
		na_input(nif, &target, h[4], have_ll, mac);
	}
	pkb_free(p);
	return;
bad:
	inet_count(INET_MIB_ND_IN_ERRORS);
	pkb_free(p);
}

void nd_output(struct netif *nif, struct pkb *p, const struct inet_addr *nexthop)
{
	struct nd_neigh *n;
	struct pkb_queue drop = {0};
	uint8_t mac[INET_ETH_ALEN];
	uint64_t now = inet_now_ms();
	bool ask = false, have = false;

	if (ipv6_is_multicast(nexthop)) {
		ether_multicast6(nexthop, mac);
		ether_output(nif, p, mac, ETH_P_IPV6);
		return;
	}
	netif_lock(nif);
	n = find_locked(nif, nexthop);
	if (!n) {
		n = add_locked(nif, nexthop, now, &drop);
		if (n) {
			n->state = ND_INCOMPLETE;
			n->tries = 1;
			n->expires_ms = now + ND_RETRANS_MS;
			ask = true;
		}
	}
	if (n) {
		n->used_ms = now;
		if (n->state != ND_INCOMPLETE) {
			memcpy(mac, n->mac, INET_ETH_ALEN);
			have = true;
			if (n->state == ND_STALE) {
				n->state = ND_DELAY;
				n->expires_ms = now + ND_DELAY_MS;
			}
		} else {
			if (n->pending.n >= ND_PENDING) {
				pkb_queue_put(&drop, pkb_queue_take(&n->pending));
				inet_count(INET_MIB_ARP_PENDING_DROPS); /* ARP's and ours */
			}
			pkb_queue_put(&n->pending, p);
			p = NULL;
		}
	}
	spin_unlock(&nif->lock);
	if (have) {
		ether_output(nif, p, mac, ETH_P_IPV6);
	} else if (p) {
		netif_count(&nif->stats.tx_drops, 1);
		pkb_free(p);
	}
	if (drop.n)
		netif_count(&nif->stats.tx_drops, drop.n);
	pkb_free_list(drop.head);
	if (ask)
		solicit(nif, nexthop, false);
}

void nd_tick(struct netif *nif, uint64_t now)
{
	struct pkb_queue drop = {0};
	struct {
		struct inet_addr ip;
		bool unicast;
	} ask[16];
	unsigned nask = 0;

	if (!nif->has6)
		return;
	dad_step(nif, now, false);
	netif_lock(nif);
	for (unsigned b = 0; b < INET_NEIGH_BUCKETS; b++) {
		struct nd_neigh *n = nif->neigh6[b], *next;

		for (; n; n = next) {
			next = n->next;
			if (n->expires_ms > now)
				continue;
			switch (n->state) {
			case ND_REACHABLE:
				n->state = ND_STALE;
				n->expires_ms = now + ND_STALE_MS;
				continue;
			case ND_DELAY:
				n->state = ND_PROBE;
				n->tries = 0;
				/* fall through */
			case ND_INCOMPLETE:
			case ND_PROBE:
				if (n->tries >= ND_TRIES)
					break;
				if (nask == sizeof(ask) / sizeof(ask[0]))
					continue; /* the next tick asks */
				n->tries++;
				n->expires_ms = now + ND_RETRANS_MS;
				ask[nask].ip = n->ip;
				ask[nask++].unicast = n->state == ND_PROBE;
				continue;
			}
			if (n->state == ND_INCOMPLETE || n->state == ND_PROBE)
				inet_count(INET_MIB_ND_FAILED);
			remove_locked(nif, n, &drop);
		}
	}
	spin_unlock(&nif->lock);
	if (drop.n)
		netif_count(&nif->stats.tx_drops, drop.n);
	pkb_free_list(drop.head);
	for (unsigned i = 0; i < nask; i++)
		solicit(nif, &ask[i].ip, ask[i].unicast);
}

int nd_lookup(struct netif *nif, const struct inet_addr *a, uint8_t mac[INET_ETH_ALEN])
{
	struct nd_neigh *n;
	int err = -ENOENT;

	netif_lock(nif);
	n = find_locked(nif, a);
	if (n && n->state != ND_INCOMPLETE) {
		memcpy(mac, n->mac, INET_ETH_ALEN);
		err = 0;
	} else if (n) {
		err = -EINPROGRESS;
	}
	spin_unlock(&nif->lock);
	return err;
}

uint32_t nd_count(struct netif *nif)
{
	uint32_t n;

	netif_lock(nif);
	n = nif->nneigh6;
	spin_unlock(&nif->lock);
	return n;
}

void nd_flush_locked(struct netif *nif, struct pkb_queue *drop)
{
	for (unsigned b = 0; b < INET_NEIGH_BUCKETS; b++)
		while (nif->neigh6[b])
			remove_locked(nif, nif->neigh6[b], drop);
	nif->nneigh6 = 0;
}

void nd_flush(struct netif *nif)
{
	struct pkb_queue drop = {0};

	netif_lock(nif);
	nd_flush_locked(nif, &drop);
	spin_unlock(&nif->lock);
	pkb_free_list(drop.head);
}

void nd_lists_locked(struct netif *nif, pkb_list_fn fn, const void *arg)
{
	for (unsigned b = 0; b < INET_NEIGH_BUCKETS; b++)
		for (struct nd_neigh *n = nif->neigh6[b]; n; n = n->next)
			fn(n->pending.head, arg);
}
