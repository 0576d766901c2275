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
 * The cache is the interface's IPv6 neighbour table (neigh.c), with RFC
 * 4861's timers (below) and states: INCOMPLETE asks the solicited-node
 * group every ND_RETRANS_MS, ND_TRIES times; REACHABLE for ND_REACHABLE_MS
 * after a solicited NA; then STALE, still used, and DELAY and PROBE when a
 * packet goes to a STALE one; a STALE entry unused for ND_STALE_MS is
 * forgotten. As for ARP, only an NS for an address of ours makes a new
 * entry from its source; an NA only updates an entry that exists (7.2.5).
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
#define ND_HOPS		255
#define ND_MSG_LEN	24 /* type, code, checksum, flags/reserved, target */
#define ND_OPT_SLLA	1
#define ND_OPT_TLLA	2
#define NA_ROUTER	0x80
#define NA_SOLICITED	0x40
#define NA_OVERRIDE	0x20

static void solicit(struct netif *nif, const struct inet_addr *target, bool unicast);

static const struct neigh_ops nd_ops = {
    .ethertype = ETH_P_IPV6,
    .retrans_ms = ND_RETRANS_MS,
    .tries = ND_TRIES,
    .reach_ms = ND_REACHABLE_MS,
    .stale_ms = ND_STALE_MS,
    .delay_ms = ND_DELAY_MS,
    .evicted = INET_MIB_ND_EVICTIONS,
    .failed = INET_MIB_ND_FAILED,
    .solicit = solicit,
};

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

static void ns_input(struct netif *nif, const struct inet_addr *src, const struct inet_addr *dst,
		     const struct inet_addr *target, int have_ll, const uint8_t *mac)
{
	struct inet_addr sn;
	struct pkb_queue go = {0}, drop = {0};
	uint64_t now = inet_now_ms();
	struct inet_neigh *n;
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
		n = neigh_find_locked(&nif->nd, src);
		if (!n)
			n = neigh_add_locked(&nif->nd, &nd_ops, src, now, &drop);
		if (n && (neigh_incomplete(n) || neigh_mac_differs(n, mac)))
			neigh_learn_locked(n, &nd_ops, mac, NEIGH_STALE, now, &go);
		spin_unlock(&nif->lock);
		neigh_send(nif, &nd_ops, &go, mac);
		pkb_free_list(drop.head);
	}
	send_nd(nif, ICMP6_NA, NA_SOLICITED | NA_OVERRIDE, target, target, src);
}

static void na_input(struct netif *nif, const struct inet_addr *target, uint8_t flags, int have_ll,
		     const uint8_t *mac)
{
	struct pkb_queue go = {0};
	uint64_t now = inet_now_ms();
	struct inet_neigh *n;
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
	n = neigh_find_locked(&nif->nd, target);
	if (n && neigh_incomplete(n)) {
		if (have_ll)
			neigh_learn_locked(n, &nd_ops, mac,
					   solicited ? NEIGH_REACHABLE : NEIGH_STALE, now, &go);
	} else if (n) {
		bool differs = have_ll && neigh_mac_differs(n, mac);

		/* RFC 4861 7.2.5: a new address without override only makes us doubt the old. */
		if (differs && !override)
			neigh_doubt_locked(n, &nd_ops, now);
		else if (solicited)
			neigh_learn_locked(n, &nd_ops, differs ? mac : NULL, NEIGH_REACHABLE, now,
					   &go);
		else if (differs)
			neigh_learn_locked(n, &nd_ops, mac, NEIGH_STALE, now, &go);
	}
	spin_unlock(&nif->lock);
	neigh_send(nif, &nd_ops, &go, mac);
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
	uint8_t mac[INET_ETH_ALEN];

	if (ipv6_is_multicast(nexthop)) {
		ether_multicast6(nexthop, mac);
		ether_output(nif, p, mac, ETH_P_IPV6);
		return;
	}
	neigh_output(nif, &nif->nd, &nd_ops, p, nexthop);
}

void nd_tick(struct netif *nif, uint64_t now)
{
	if (!nif->has6)
		return;
	dad_step(nif, now, false);
	neigh_tick(nif, &nif->nd, &nd_ops, now);
}

int nd_lookup(struct netif *nif, const struct inet_addr *a, uint8_t mac[INET_ETH_ALEN])
{
	return neigh_lookup(nif, &nif->nd, a, mac);
}

uint32_t nd_count(struct netif *nif)
{
	return neigh_count(nif, &nif->nd);
}

void nd_flush(struct netif *nif)
{
	neigh_flush(nif, &nif->nd);
}
