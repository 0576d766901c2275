/*
 * IPv4 reassembly (RFC 791's procedure, RFC 815's idea of holes), bounded:
 * per interface at most INET_REASS_MAX datagrams and INET_REASS_BYTES of
 * buffers in reassembly (the oldest datagram is given up to make room),
 * at most INET_REASS_FRAGS fragments a datagram, INET_REASS_TIMEOUT_MS from
 * its first fragment to its last (then ICMP time exceeded, if we hold its
 * first fragment).
 *
 * Overlaps are not resolved but refused, as RFC 5722 does for IPv6: a
 * fragment that overlaps another of its datagram gives the whole datagram
 * up, so no two readers of the same fragments can see different bytes. A
 * fragment identical in place and length to one held is a duplicate (the
 * wire repeats itself) and only it is dropped. Since fragments never
 * overlap, the datagram is whole when the bytes held equal the length its
 * last fragment told.
 */
#include <string.h>

#include "inet_internal.h"

/* One datagram in reassembly; guarded by its interface's lock. */
struct inet_reass {
	struct inet_reass *next; /* on netif.reass, oldest first */
	uint32_t saddr, daddr;
	uint16_t id;
	uint8_t proto;
	uint8_t nfrags;
	uint32_t total; /* payload bytes, once the last fragment came; 0 before */
	uint32_t have;	/* payload bytes held */
	uint32_t bytes; /* buffers held (truesize) */
	uint64_t first_ms;
	struct pkb *frags; /* by offset; each one's header at data[off - ihl] */
};
_Static_assert(sizeof(struct inet_reass) <= 64, "inet_reass grew past its cache's objects");

static void unlink_locked(struct netif *nif, struct inet_reass *r)
{
	struct inet_reass **pp = &nif->reass;

	while (*pp && *pp != r)
		pp = &(*pp)->next;
	if (*pp)
		*pp = r->next;
	nif->nreass--;
	nif->reass_bytes -= r->bytes;
}

/* Give @r up: its fragments go to *@drop. */
static void fail_locked(struct netif *nif, struct inet_reass *r, struct pkb_queue *drop)
{
	unlink_locked(nif, r);
	for (struct pkb *f = r->frags, *next; f; f = next) {
		next = f->next;
		pkb_own(f);
		pkb_queue_put(drop, f);
	}
	kmem_cache_free(inet_stack->reass_cache, r);
	inet_count(INET_MIB_IP_REASM_FAILS);
}

/* One datagram from its fragments (consumed), or NULL. */
static struct pkb *assemble(struct inet_reass *r)
{
	struct pkb *first = r->frags, *d;
	uint32_t ihl = first->ihl;
	uint8_t *h;

	if (ihl + r->total > IPV4_MAX_LEN || !(d = pkb_alloc(INET_HEADROOM + ihl + r->total)))
		return NULL;
	d->off = INET_HEADROOM;
	h = pkb_data(d);
	memcpy(h, first->data + first->off - ihl, ihl);
	put16(h + 2, (uint16_t)(ihl + r->total));
	put16(h + 6, 0);
	put16(h + 10, 0);
	put16(h + 10, inet_csum(h, ihl));
	for (struct pkb *f = r->frags; f; f = f->next)
		memcpy(h + ihl + f->frag_off, pkb_data(f), f->len);
	d->off += ihl;
	d->len = r->total;
	d->ihl = (uint16_t)ihl;
	d->saddr = r->saddr;
	d->daddr = r->daddr;
	d->bcast = first->bcast;
	return d;
}

void ipv4_reass_input(struct netif *nif, struct pkb *p, const struct ipv4_frag_key *k)
{
	struct inet_reass *r, **pp;
	struct pkb_queue drop = {0};
	struct pkb *whole = NULL, **fp;
	uint32_t off = p->frag_off, end = off + p->len;
	uint64_t now = inet_now_ms();

	netif_lock(nif);
	for (r = nif->reass; r; r = r->next)
		if (r->saddr == k->saddr && r->daddr == k->daddr && r->id == k->id &&
		    r->proto == k->proto)
			break;
	/* Room: give up the oldest others until this one fits. */
	while (nif->reass && (nif->reass_bytes + p->truesize > INET_REASS_BYTES ||
			      (!r && nif->nreass >= INET_REASS_MAX))) {
		if (nif->reass == r && !r->next)
			break;
		fail_locked(nif, nif->reass == r ? r->next : nif->reass, &drop);
	}
	if (nif->reass_bytes + p->truesize > INET_REASS_BYTES) {
		pkb_queue_put(&drop, p);
		inet_count(INET_MIB_IP_REASM_FAILS);
		goto out;
	}
	if (!r) {
		r = kmem_cache_zalloc(inet_stack->reass_cache);
		if (!r) {
			pkb_queue_put(&drop, p);
			inet_count(INET_MIB_MEM_FAILS);
			goto out;
		}
		r->saddr = k->saddr;
		r->daddr = k->daddr;
		r->id = k->id;
		r->proto = k->proto;
		r->first_ms = now;
		for (pp = &nif->reass; *pp; pp = &(*pp)->next)
			;
		*pp = r;
		nif->nreass++;
	}
	/* The last fragment tells the length; nothing may lie past it, nor two tell two. */
	if (r->total && (end > r->total || (!k->more && end != r->total))) {
		inet_count(INET_MIB_IP_REASM_OVERLAPS);
		goto fail;
	}
	for (struct pkb *f = r->frags; f; f = f->next) {
		uint32_t fs = f->frag_off, fe = fs + f->len;

		if (fs == off && fe == end) {
			inet_count(INET_MIB_IP_REASM_DUPLICATES);
			pkb_queue_put(&drop, p);
			goto out;
		}
		if ((off < fe && fs < end) || (!k->more && fe > end)) {
			inet_count(INET_MIB_IP_REASM_OVERLAPS);
			goto fail;
		}
	}
	if (r->nfrags >= INET_REASS_FRAGS)
		goto fail;
	for (fp = &r->frags; *fp && (*fp)->frag_off < off; fp = &(*fp)->next)
		;
	p->next = *fp;
	*fp = p;
	r->nfrags++;
	r->have += p->len;
	r->bytes += p->truesize;
	nif->reass_bytes += p->truesize;
	if (!k->more)
		r->total = end;
	if (r->total && r->have == r->total) {
		unlink_locked(nif, r);
		for (struct pkb *f = r->frags; f; f = f->next)
			pkb_own(f);
		spin_unlock(&nif->lock);
		whole = assemble(r);
		pkb_free_list(r->frags);
		kmem_cache_free(inet_stack->reass_cache, r);
		if (!whole) {
			inet_count(INET_MIB_IP_REASM_FAILS);
			return;
		}
		inet_count(INET_MIB_IP_REASM_OKS);
		ipv4_deliver(nif, whole);
		return;
	}
	goto out;

fail:
	pkb_queue_put(&drop, p);
	fail_locked(nif, r, &drop);
out:
	spin_unlock(&nif->lock);
	if (drop.n)
		netif_count(&nif->stats.rx_drops, drop.n);
	pkb_free_list(drop.head);
}

void ipv4_reass_tick(struct netif *nif, uint64_t now)
{
	struct pkb_queue drop = {0};
	struct pkb *first = NULL;

	netif_lock(nif);
	while (nif->reass && nif->reass->first_ms + INET_REASS_TIMEOUT_MS <= now) {
		struct inet_reass *r = nif->reass;

		inet_count(INET_MIB_IP_REASM_TIMEOUTS);
		/* Say so about one of them per tick, from its first fragment (RFC 792). */
		if (!first && r->frags && r->frags->frag_off == 0) {
			first = r->frags;
			r->frags = first->next;
			pkb_own(first);
			nif->reass_bytes -= first->truesize;
			r->bytes -= first->truesize;
		}
		fail_locked(nif, r, &drop);
	}
	spin_unlock(&nif->lock);
	pkb_free_list(drop.head);
	if (first) {
		icmp_error(nif, first, ICMP_TIMXCEED, ICMP_TIMXCEED_REASS);
		pkb_free(first);
	}
}

void ipv4_reass_flush_locked(struct netif *nif, struct pkb_queue *drop)
{
	while (nif->reass)
		fail_locked(nif, nif->reass, drop);
	nif->nreass = 0;
	nif->reass_bytes = 0;
}

void ipv4_reass_flush(struct netif *nif)
{
	struct pkb_queue drop = {0};

	netif_lock(nif);
	ipv4_reass_flush_locked(nif, &drop);
	spin_unlock(&nif->lock);
	pkb_free_list(drop.head);
}

void ipv4_reass_lists_locked(struct netif *nif, pkb_list_fn fn, const void *arg)
{
	for (struct inet_reass *r = nif->reass; r; r = r->next)
		fn(r->frags, arg);
}
