/*
 * ARP (RFC 826) for IPv4 over Ethernet, with RFC 1122's cache rules.
 *
 * The cache is per interface, in the arena: at most INET_NEIGH_MAX entries
 * from a slab cache, hashed by address. An entry is INCOMPLETE while we ask
 * (a request every INET_ARP_RETRY_MS, INET_ARP_TRIES at most, then it goes
 * and its packets with it) and holds at most INET_ARP_PENDING packets
 * waiting for the answer (the oldest is dropped for a newer one); it is
 * REACHABLE for INET_ARP_TTL_MS after an answer, then forgotten, so the
 * next packet asks again. A full cache pushes out the entry used least
 * recently. Only the sender of a packet addressed to us makes a new entry
 * (RFC 826's merge): a peer can refresh what it owns, not fill the cache
 * with the names of others.
 */
#include <errno.h>
#include <string.h>

#include "inet_internal.h"

#define INET_ARP_TTL_MS	  60000
#define INET_ARP_RETRY_MS 1000
#define INET_ARP_TRIES	  3
#define INET_ARP_PENDING  3
#define ARP_LEN		  28
#define ARP_REQUEST	  1
#define ARP_REPLY	  2

enum { NEIGH_INCOMPLETE, NEIGH_REACHABLE };

/* One neighbour; guarded by its interface's lock. */
struct inet_neigh {
	struct inet_neigh *next; /* in its bucket */
	uint32_t ip;
	uint8_t mac[INET_ETH_ALEN];
	uint8_t state;	     /* NEIGH_* */
	uint8_t tries;	     /* requests sent while INCOMPLETE */
	uint64_t expires_ms; /* REACHABLE: forgotten then; INCOMPLETE: next request */
	uint64_t used_ms;
	struct pkb_queue pending; /* INCOMPLETE: packets waiting, oldest first */
};
_Static_assert(sizeof(struct inet_neigh) <= 128, "inet_neigh grew past its cache's objects");

static unsigned bucket(uint32_t ip)
{
	return (ip * 2654435761u) >> 26; /* 64 buckets */
}
_Static_assert(INET_NEIGH_BUCKETS == 64, "bucket() gives 6 bits");

static struct inet_neigh *find_locked(struct netif *nif, uint32_t ip)
{
	for (struct inet_neigh *n = nif->neigh[bucket(ip)]; n; n = n->next)
		if (n->ip == ip)
			return n;
	return NULL;
}

/* Unlink and free @victim; its waiting packets go to *@drop. */
static void remove_locked(struct netif *nif, struct inet_neigh *victim, struct pkb_queue *drop)
{
	struct inet_neigh **pp = &nif->neigh[bucket(victim->ip)];
	struct pkb *p;

	while (*pp && *pp != victim)
		pp = &(*pp)->next;
	if (*pp)
		*pp = victim->next;
	while ((p = pkb_queue_take(&victim->pending)))
		pkb_queue_put(drop, p);
	nif->nneigh--;
	kmem_cache_free(inet_stack->neigh_cache, victim);
}

/* A new entry for @ip, pushing out the least recently used one when full. */
static struct inet_neigh *add_locked(struct netif *nif, uint32_t ip, uint64_t now,
				     struct pkb_queue *drop)
{
	struct inet_neigh *n;

	if (nif->nneigh >= INET_NEIGH_MAX) {
		struct inet_neigh *lru = NULL;

		for (unsigned b = 0; b < INET_NEIGH_BUCKETS; b++)
			for (n = nif->neigh[b]; n; n = n->next)
				if (!lru || n->used_ms < lru->used_ms)
					lru = n;
		remove_locked(nif, lru, drop);
		inet_count(INET_MIB_ARP_EVICTIONS);
	}
	n = kmem_cache_zalloc(inet_stack->neigh_cache);
	if (!n)
		return NULL;
	n->ip = ip;
	n->used_ms = now;
	n->next = nif->neigh[bucket(ip)];
	nif->neigh[bucket(ip)] = n;
	nif->nneigh++;
	return n;
}

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

static void send_request(struct netif *nif, uint32_t ip)
{
	send_arp(nif, ARP_REQUEST, zero_mac, ip, ether_bcast);
}

int arp_announce(struct netif *nif)
{
	send_request(nif, nif->addr);
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
	struct pkb *q;
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
		netif_lock(nif);
		n = find_locked(nif, spa);
		if (!n && for_us)
			n = add_locked(nif, spa, now, &drop);
		if (n) {
			memcpy(n->mac, sha, INET_ETH_ALEN);
			n->state = NEIGH_REACHABLE;
			n->expires_ms = now + INET_ARP_TTL_MS;
			while ((q = pkb_queue_take(&n->pending)))
				pkb_queue_put(&go, q);
		}
		spin_unlock(&nif->lock);
	}
	while ((q = pkb_queue_take(&go)))
		ether_output(nif, q, sha, ETH_P_IPV4);
	pkb_free_list(drop.head);
	if (op == ARP_REQUEST && for_us)
		send_arp(nif, ARP_REPLY, sha, spa, sha);
out:
	pkb_free(p);
}

void arp_output(struct netif *nif, struct pkb *p, uint32_t nexthop)
{
	struct inet_neigh *n;
	struct pkb_queue drop = {0};
	uint8_t mac[INET_ETH_ALEN];
	uint64_t now = inet_now_ms();
	bool ask = false, have = false;

	if (nexthop == INET_BCAST || nexthop == (nif->addr | ~nif->mask)) {
		ether_output(nif, p, ether_bcast, ETH_P_IPV4);
		return;
	}
	netif_lock(nif);
	n = find_locked(nif, nexthop);
	if (!n) {
		n = add_locked(nif, nexthop, now, &drop);
		if (n) {
			n->state = NEIGH_INCOMPLETE;
			n->tries = 1;
			n->expires_ms = now + INET_ARP_RETRY_MS;
			ask = true;
		}
	}
	if (n) {
		n->used_ms = now;
		if (n->state == NEIGH_REACHABLE) {
			memcpy(mac, n->mac, INET_ETH_ALEN);
			have = true;
		} else {
			if (n->pending.n >= INET_ARP_PENDING) {
				pkb_queue_put(&drop, pkb_queue_take(&n->pending));
				inet_count(INET_MIB_ARP_PENDING_DROPS);
			}
			pkb_queue_put(&n->pending, p);
			p = NULL;
		}
	}
	spin_unlock(&nif->lock);
	if (have) {
		ether_output(nif, p, mac, ETH_P_IPV4);
	} else if (p) {
		netif_count(&nif->stats.tx_drops, 1); /* no entry could be made */
		pkb_free(p);
	}
	if (drop.n)
		netif_count(&nif->stats.tx_drops, drop.n);
	pkb_free_list(drop.head);
	if (ask)
		send_request(nif, nexthop);
}

void arp_tick(struct netif *nif, uint64_t now)
{
	struct pkb_queue drop = {0};
	uint32_t ask[16];
	unsigned nask = 0;

	netif_lock(nif);
	for (unsigned b = 0; b < INET_NEIGH_BUCKETS; b++) {
		struct inet_neigh *n = nif->neigh[b], *next;

		for (; n; n = next) {
			next = n->next;
			if (n->expires_ms > now)
				continue;
			if (n->state == NEIGH_INCOMPLETE && n->tries < INET_ARP_TRIES) {
				if (nask == sizeof(ask) / sizeof(ask[0]))
					continue; /* the next tick asks */
				n->tries++;
				n->expires_ms = now + INET_ARP_RETRY_MS;
				ask[nask++] = n->ip;
				continue;
			}
			if (n->state == NEIGH_INCOMPLETE)
				inet_count(INET_MIB_ARP_FAILED);
			remove_locked(nif, n, &drop);
		}
	}
	spin_unlock(&nif->lock);
	if (drop.n)
		netif_count(&nif->stats.tx_drops, drop.n);
	pkb_free_list(drop.head);
	for (unsigned i = 0; i < nask; i++)
		send_request(nif, ask[i]);
}

int arp_lookup(struct netif *nif, uint32_t ip, uint8_t mac[INET_ETH_ALEN])
{
	struct inet_neigh *n;
	int err = -ENOENT;

	netif_lock(nif);
	n = find_locked(nif, ip);
	if (n && n->state == NEIGH_REACHABLE) {
		memcpy(mac, n->mac, INET_ETH_ALEN);
		err = 0;
	} else if (n) {
		err = -EINPROGRESS;
	}
	spin_unlock(&nif->lock);
	return err;
}

uint32_t arp_count(struct netif *nif)
{
	uint32_t n;

	netif_lock(nif);
	n = nif->nneigh;
	spin_unlock(&nif->lock);
	return n;
}

void arp_flush_locked(struct netif *nif, struct pkb_queue *drop)
{
	for (unsigned b = 0; b < INET_NEIGH_BUCKETS; b++)
		while (nif->neigh[b])
			remove_locked(nif, nif->neigh[b], drop);
	nif->nneigh = 0;
}

void arp_flush(struct netif *nif)
{
	struct pkb_queue drop = {0};

	netif_lock(nif);
	arp_flush_locked(nif, &drop);
	spin_unlock(&nif->lock);
	pkb_free_list(drop.head);
}

void arp_lists_locked(struct netif *nif, pkb_list_fn fn, const void *arg)
{
	for (unsigned b = 0; b < INET_NEIGH_BUCKETS; b++)
		for (struct inet_neigh *n = nif->neigh[b]; n; n = n->next)
			fn(n->pending.head, arg);
}
