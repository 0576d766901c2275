/*
 * The neighbour cache of both families: ARP's (arp.c) and neighbour
 * discovery's (nd.c) are one table each per interface, of the same entries
 * keyed by struct inet_addr, with the same bounds, and differ only in how
 * they ask and how long an answer lasts (struct neigh_ops).
 *
 * A table holds at most INET_NEIGH_MAX entries from the stack's neighbour
 * slab (objects of 128 bytes), hashed by the address's last 32 bits (an
 * IPv4 address whole); a full table pushes out the entry used least
 * recently. An entry is INCOMPLETE while it is asked for -- every
 * ops->retrans_ms, ops->tries times, then it goes with its packets -- and
 * holds at most NEIGH_PENDING of them meanwhile (the oldest dropped for a
 * newer one). An answer makes it REACHABLE for ops->reach_ms; then ARP
 * forgets it (the next packet asks again, RFC 1122), and ND keeps it STALE,
 * still used (RFC 4861 7.3.2): a packet to a STALE entry makes it DELAY
 * for ops->delay_ms, then PROBE (asked unicast, ops->tries times; no answer:
 * gone), and a STALE entry unused for ops->stale_ms is forgotten. Who may
 * make an entry is the protocols' (RFC 826's merge, RFC 4861 7.2.5).
 *
 * Everything here runs under the interface's lock (netif.lock), which
 * inet_reap and a lock's next holder repair by dropping the tables whole:
 * a cache and copies that a peer sends again.
 */
#include <errno.h>
#include <string.h>

#include "inet_internal.h"

#define NEIGH_PENDING 3

/* One neighbour; guarded by its interface's lock. */
struct inet_neigh {
	struct inet_neigh *next; /* in its bucket */
	struct inet_addr ip;
	uint8_t mac[INET_ETH_ALEN];
	uint8_t state;	     /* enum neigh_state */
	uint8_t tries;	     /* solicitations sent while INCOMPLETE or PROBE */
	uint64_t expires_ms; /* when the state's timer runs out (above) */
	uint64_t used_ms;
	struct pkb_queue pending; /* INCOMPLETE: packets waiting, oldest first */
};
_Static_assert(sizeof(struct inet_neigh) <= 128, "inet_neigh grew past its cache's objects");

static unsigned bucket(const struct inet_addr *a)
{
	return (get32(a->a + 12) * 2654435761u) >> 26; /* 64 buckets */
}
_Static_assert(INET_NEIGH_BUCKETS == 64, "bucket() gives 6 bits");

struct inet_neigh *neigh_find_locked(struct neigh_table *t, const struct inet_addr *a)
{
	for (struct inet_neigh *n = t->b[bucket(a)]; n; n = n->next)
		if (!memcmp(&n->ip, a, sizeof(*a)))
			return n;
	return NULL;
}

/* Unlink and free @victim; its waiting packets go to *@drop. */
static void remove_locked(struct neigh_table *t, struct inet_neigh *victim, struct pkb_queue *drop)
{
	struct inet_neigh **pp = &t->b[bucket(&victim->ip)];
	struct pkb *p;

	while (*pp && *pp != victim)
		pp = &(*pp)->next;
	if (*pp)
		*pp = victim->next;
	while ((p = pkb_queue_take(&victim->pending)))
		pkb_queue_put(drop, p);
	t->n--;
	kmem_cache_free(inet_stack->neigh_cache, victim);
}

struct inet_neigh *neigh_add_locked(struct neigh_table *t, const struct neigh_ops *ops,
				    const struct inet_addr *a, uint64_t now, struct pkb_queue *drop)
{
	struct inet_neigh *n;

	if (t->n >= INET_NEIGH_MAX) {
		struct inet_neigh *lru = NULL;

		for (unsigned b = 0; b < INET_NEIGH_BUCKETS; b++)
			for (n = t->b[b]; n; n = n->next)
				if (!lru || n->used_ms < lru->used_ms)
					lru = n;
		remove_locked(t, lru, drop);
		inet_count(ops->evicted);
	}
	n = kmem_cache_zalloc(inet_stack->neigh_cache);
	if (!n)
		return NULL;
	n->ip = *a;
	n->used_ms = now;
	n->next = t->b[bucket(a)];
	t->b[bucket(a)] = n;
	t->n++;
	return n;
}

void neigh_learn_locked(struct inet_neigh *n, const struct neigh_ops *ops, const uint8_t *mac,
			enum neigh_state state, uint64_t now, struct pkb_queue *go)
{
	struct pkb *q;

	if (mac)
		memcpy(n->mac, mac, INET_ETH_ALEN);
	n->state = state;
	n->expires_ms = now + (state == NEIGH_REACHABLE ? ops->reach_ms : ops->stale_ms);
	while ((q = pkb_queue_take(&n->pending)))
		pkb_queue_put(go, q);
}

void neigh_doubt_locked(struct inet_neigh *n, const struct neigh_ops *ops, uint64_t now)
{
	if (n->state == NEIGH_REACHABLE) {
		n->state = NEIGH_STALE;
		n->expires_ms = now + ops->stale_ms;
	}
}

bool neigh_incomplete(const struct inet_neigh *n)
{
	return n->state == NEIGH_INCOMPLETE;
}

bool neigh_mac_differs(const struct inet_neigh *n, const uint8_t *mac)
{
	return memcmp(n->mac, mac, INET_ETH_ALEN) != 0;
}

void neigh_send(struct netif *nif, const struct neigh_ops *ops, struct pkb_queue *go,
		const uint8_t *mac)
{
	struct pkb *q;

	while ((q = pkb_queue_take(go)))
		ether_output(nif, q, mac, ops->ethertype);
}

/* Count and free what a table let go of. */
static void drop_all(struct netif *nif, struct pkb_queue *drop)
{
	if (drop->n)
		netif_count(&nif->stats.tx_drops, drop->n);
	pkb_free_list(drop->head);
}

void neigh_output(struct netif *nif, struct neigh_table *t, const struct neigh_ops *ops,
		  struct pkb *p, const struct inet_addr *nexthop)
{
	struct inet_neigh *n;
	struct pkb_queue drop = {0};
	uint8_t mac[INET_ETH_ALEN];
	uint64_t now = inet_now_ms();
	bool ask = false, have = false;

	netif_lock(nif);
	n = neigh_find_locked(t, nexthop);
	if (!n) {
		n = neigh_add_locked(t, ops, nexthop, now, &drop);
		if (n) {
			n->state = NEIGH_INCOMPLETE;
			n->tries = 1;
			n->expires_ms = now + ops->retrans_ms;
			ask = true;
		}
	}
	if (n) {
		n->used_ms = now;
		if (n->state != NEIGH_INCOMPLETE) {
			memcpy(mac, n->mac, INET_ETH_ALEN);
			have = true;
			if (n->state == NEIGH_STALE) {
				n->state = NEIGH_DELAY;
				n->expires_ms = now + ops->delay_ms;
			}
		} else {
			if (n->pending.n >= NEIGH_PENDING) {
				pkb_queue_put(&drop, pkb_queue_take(&n->pending));
				inet_count(INET_MIB_ARP_PENDING_DROPS); /* both families' */
			}
			pkb_queue_put(&n->pending, p);
			p = NULL;
		}
	}
	spin_unlock(&nif->lock);
	if (have) {
		ether_output(nif, p, mac, ops->ethertype);
	} else if (p) {
		netif_count(&nif->stats.tx_drops, 1); /* no entry could be made */
		pkb_free(p);
	}
	drop_all(nif, &drop);
	if (ask)
		ops->solicit(nif, nexthop, false);
}

void neigh_tick(struct netif *nif, struct neigh_table *t, const struct neigh_ops *ops, uint64_t now)
{
	struct pkb_queue drop = {0};
	struct {
		struct inet_addr ip;
		bool unicast;
	} ask[16];
	unsigned nask = 0;

	netif_lock(nif);
	for (unsigned b = 0; b < INET_NEIGH_BUCKETS; b++) {
		struct inet_neigh *n = t->b[b], *next;

		for (; n; n = next) {
			next = n->next;
			if (n->expires_ms > now)
				continue;
			switch (n->state) {
			case NEIGH_REACHABLE:
				if (!ops->stale_ms)
					break; /* ARP: forgotten */
				n->state = NEIGH_STALE;
				n->expires_ms = now + ops->stale_ms;
				continue;
			case NEIGH_DELAY:
				n->state = NEIGH_PROBE;
				n->tries = 0;
				/* fall through */
			case NEIGH_INCOMPLETE:
			case NEIGH_PROBE:
				if (n->tries >= ops->tries) {
					inet_count(ops->failed);
					break;
				}
				if (nask == sizeof(ask) / sizeof(ask[0]))
					continue; /* the next tick asks */
				n->tries++;
				n->expires_ms = now + ops->retrans_ms;
				ask[nask].ip = n->ip;
				ask[nask++].unicast = n->state == NEIGH_PROBE;
				continue;
			default:
				break; /* STALE and unused */
			}
			remove_locked(t, n, &drop);
		}
	}
	spin_unlock(&nif->lock);
	drop_all(nif, &drop);
	for (unsigned i = 0; i < nask; i++)
		ops->solicit(nif, &ask[i].ip, ask[i].unicast);
}

int neigh_lookup(struct netif *nif, struct neigh_table *t, const struct inet_addr *a,
		 uint8_t mac[INET_ETH_ALEN])
{
	struct inet_neigh *n;
	int err = -ENOENT;

	netif_lock(nif);
	n = neigh_find_locked(t, a);
	if (n && n->state != NEIGH_INCOMPLETE) {
		memcpy(mac, n->mac, INET_ETH_ALEN);
		err = 0;
	} else if (n) {
		err = -EINPROGRESS;
	}
	spin_unlock(&nif->lock);
	return err;
}

uint32_t neigh_count(struct netif *nif, const struct neigh_table *t)
{
	uint32_t n;

	netif_lock(nif);
	n = t->n;
	spin_unlock(&nif->lock);
	return n;
}

void neigh_flush_locked(struct neigh_table *t, struct pkb_queue *drop)
{
	for (unsigned b = 0; b < INET_NEIGH_BUCKETS; b++)
		while (t->b[b])
			remove_locked(t, t->b[b], drop);
	t->n = 0;
}

void neigh_flush(struct netif *nif, struct neigh_table *t)
{
	struct pkb_queue drop = {0};

	netif_lock(nif);
	neigh_flush_locked(t, &drop);
	spin_unlock(&nif->lock);
	pkb_free_list(drop.head);
}

void neigh_lists_locked(struct neigh_table *t, pkb_list_fn fn, const void *arg)
{
	for (unsigned b = 0; b < INET_NEIGH_BUCKETS; b++)
		for (struct inet_neigh *n = t->b[b]; n; n = n->next)
			fn(n->pending.head, arg);
}
