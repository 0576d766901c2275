/*
 * ARP (RFC 826) for IPv4 over Ethernet, with RFC 1122's cache rules: the
 * messages, and the interface's IPv4 neighbour table (neigh.c) kept as
 * RFC 1122 says -- an entry asks by broadcast every second, three times,
 * and an answer lasts INET_ARP_TTL_MS, after which the entry is forgotten
 * and the next packet asks again. Only the sender of a packet addressed
 * to us makes a new entry (RFC 826's merge): a peer can refresh what it
 * owns, not fill the cache with the names of others.
 */
#include <errno.h>
#include <string.h>

#include "inet_internal.h"

#define INET_ARP_TTL_MS 60000
#define ARP_LEN		28
#define ARP_REQUEST	1
#define ARP_REPLY	2

static void solicit(struct netif *nif, const struct inet_addr *ip, bool unicast);

static const struct neigh_ops arp_ops = {
    .ethertype = ETH_P_IPV4,
    .retrans_ms = 1000,
    .tries = 3,
    .reach_ms = INET_ARP_TTL_MS,
    .stale_ms = 0, /* forgotten when its time is up */
    .evicted = INET_MIB_ARP_EVICTIONS,
    .failed = INET_MIB_ARP_FAILED,
    .solicit = solicit,
};

static void send_arp(struct netif *nif, uint16_t op, const uint8_t tha[INET_ETH_ALEN], uint32_t tpa,
		     const uint8_t dst[INET_ETH_ALEN])
{
	struct pkb *p = pkb_alloc(INET_PKB_CAP);
	uint8_t *a;

	if (!p) {
		netif_count(&nif->stats.tx_drops, 1);
		return;
	}
	p->off = INET_HEADROOM;
	p->len = ARP_LEN;
	a = pkb_data(p);
	put16(a, 1); /* Ethernet */
	put16(a + 2, ETH_P_IPV4);
	a[4] = INET_ETH_ALEN;
	a[5] = 4;
	put16(a + 6, op);
	memcpy(a + 8, nif->mac, INET_ETH_ALEN);
	put32(a + 14, nif->addr);
	memcpy(a + 18, tha, INET_ETH_ALEN);
	put32(a + 24, tpa);
	inet_count(op == ARP_REQUEST ? INET_MIB_ARP_OUT_REQUESTS : INET_MIB_ARP_OUT_REPLIES);
	ether_output(nif, p, dst, ETH_P_ARP);
}

static const uint8_t zero_mac[INET_ETH_ALEN];

/* ARP asks by broadcast only: a PROBE state is ND's. */
static void solicit(struct netif *nif, const struct inet_addr *ip, bool unicast)
{
	(void)unicast;
	send_arp(nif, ARP_REQUEST, zero_mac, inet_addr_v4(ip), ether_bcast);
}

int arp_announce(struct netif *nif)
{
	struct inet_addr self = inet_addr_from_v4(nif->addr);

	solicit(nif, &self, false);
	return 0;
}

void arp_input(struct netif *nif, struct pkb *p)
{
	const uint8_t *a = pkb_data(p);
	uint8_t sha[INET_ETH_ALEN];
	uint32_t spa, tpa;
	uint16_t op;
	bool for_us;
	struct inet_neigh *n;
	struct pkb_queue go = {0}, drop = {0};
	uint64_t now = inet_now_ms();

	inet_count(INET_MIB_ARP_IN);
	if (p->len < ARP_LEN || get16(a) != 1 || get16(a + 2) != ETH_P_IPV4 ||
	    a[4] != INET_ETH_ALEN || a[5] != 4) {
		inet_count(INET_MIB_ARP_IN_ERRORS);
		goto out;
	}
	op = get16(a + 6);
	memcpy(sha, a + 8, INET_ETH_ALEN);
	spa = get32(a + 14);
	tpa = get32(a + 24);
	if ((op != ARP_REQUEST && op != ARP_REPLY) || (sha[0] & 1) ||
	    !memcmp(sha, zero_mac, INET_ETH_ALEN)) {
		inet_count(INET_MIB_ARP_IN_ERRORS);
		goto out;
	}
	if (spa == nif->addr) {
		/* Someone else says it is us (our own announcement never comes back on a TAP). */
		inet_count(INET_MIB_ARP_CONFLICTS);
		goto out;
	}
	for_us = tpa == nif->addr;
	/* A sender of no address (an RFC 5227 probe) or from another subnet names nobody we reach.
	 */
	if (spa != 0 && (spa & nif->mask) == (nif->addr & nif->mask) &&
	    spa != (nif->addr | ~nif->mask)) {
		struct inet_addr sender = inet_addr_from_v4(spa);

		netif_lock(nif);
		n = neigh_find_locked(&nif->arp, &sender);
		if (!n && for_us)
			n = neigh_add_locked(&nif->arp, &arp_ops, &sender, now, &drop);
		if (n)
			neigh_learn_locked(n, &arp_ops, sha, NEIGH_REACHABLE, now, &go);
		spin_unlock(&nif->lock);
	}
	neigh_send(nif, &arp_ops, &go, sha);
	pkb_free_list(drop.head);
	if (op == ARP_REQUEST && for_us)
		send_arp(nif, ARP_REPLY, sha, spa, sha);
out:
	pkb_free(p);
}

void arp_output(struct netif *nif, struct pkb *p, uint32_t nexthop)
{
	struct inet_addr a = inet_addr_from_v4(nexthop);

	if (nexthop == INET_BCAST || nexthop == (nif->addr | ~nif->mask))
		ether_output(nif, p, ether_bcast, ETH_P_IPV4);
	else
		neigh_output(nif, &nif->arp, &arp_ops, p, &a);
}

void arp_tick(struct netif *nif, uint64_t now)
{
	neigh_tick(nif, &nif->arp, &arp_ops, now);
}

int arp_lookup(struct netif *nif, uint32_t ip, uint8_t mac[INET_ETH_ALEN])
{
	struct inet_addr a = inet_addr_from_v4(ip);

	return neigh_lookup(nif, &nif->arp, &a, mac);
}

uint32_t arp_count(struct netif *nif)
{
	return neigh_count(nif, &nif->arp);
}

void arp_flush(struct netif *nif)
{
	neigh_flush(nif, &nif->arp);
}
