/*
 * Reassembly of IPv4 (RFC 791's procedure, RFC 815's idea of holes) and
 * IPv6 (RFC 8200 4.5) datagrams, one core for both: a datagram is keyed by
 * its addresses (struct inet_addr, IPv4 v4-mapped), its identification and
 * its protocol (IPv6: the fragment header's next header), and both families
 * share the bounds: per interface at most INET_REASS_MAX datagrams and
 * INET_REASS_BYTES of buffers in reassembly (the oldest datagram is given
 * up to make room), at most INET_REASS_FRAGS fragments a datagram, and a
 * time from its first fragment to its last -- INET_REASS_TIMEOUT_MS for
 * IPv4, INET_REASS6_TIMEOUT_MS (RFC 8200's 60 s) for IPv6 -- then ICMP or
 * ICMPv6 time exceeded, if we hold its first fragment.
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
	struct inet_addr saddr, daddr;
	uint32_t id;
	uint8_t proto;
	uint8_t nfrags;
	bool v6;
	uint32_t total; /* payload bytes, once the last fragment came; 0 before */
	uint32_t have;	/* payload bytes held */
	uint32_t bytes; /* buffers held (truesize) */
	uint64_t expires_ms;
	struct pkb *frags; /* by offset; each one's header at data[off - ihl] */
};
_Static_assert(sizeof(struct inet_reass) <= INET_REASS_OBJ,
	       "inet_reass grew past its cache's objects");

/* Each family's counters. */
static const struct reass_mibs {
	enum inet_mib oks, fails, overlaps, duplicates, timeouts;
} mibs[2] = {
    {INET_MIB_IP_REASM_OKS, INET_MIB_IP_REASM_FAILS, INET_MIB_IP_REASM_OVERLAPS,
     INET_MIB_IP_REASM_DUPLICATES, INET_MIB_IP_REASM_TIMEOUTS},
    {INET_MIB_IP6_REASM_OKS, INET_MIB_IP6_REASM_FAILS, INET_MIB_IP6_REASM_OVERLAPS,
     INET_MIB_IP6_REASM_DUPLICATES, INET_MIB_IP6_REASM_TIMEOUTS},
};

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
	inet_count(mibs[r->v6].fails);
	kmem_cache_free(inet_stack->reass_cache, r);
}

/* One IPv4 datagram from its fragments (not consumed), or NULL. */
static struct pkb *assemble4(struct inet_reass *r)
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
	d->saddr = inet_addr_v4(&r->saddr);
	d->daddr = inet_addr_v4(&r->daddr);
	d->bcast = first->bcast;
	d->ifindex = first->ifindex;
	return d;
}

/*
 * One IPv6 datagram from its fragments (not consumed), or NULL: the first
 * fragment's unfragmentable part (RFC 8200 4.5: the header and the
 * extension headers before the fragment header), whose last next header
 * names the fragment header's, then the payloads; pkb_data is the IPv6
 * header and *@nxt_at where that next header lies. ipv6_input checked the
 * length (at most 65535 bytes of payload) and the header chain.
 */
static struct pkb *assemble6(struct inet_reass *r, unsigned *nxt_at)
{
	struct pkb *first = r->frags, *d;
	uint32_t unfrag = first->ihl - 8u, size = unfrag + r->total;
	const uint8_t *fh = first->data + first->off - first->ihl;
	uint32_t room = INET_PKB_BIG - size; /* past 64 KiB less the headroom: what is left */
	uint8_t *h;

	*nxt_at = 6;
	for (unsigned o = IPV6_HLEN, nxt = fh[6]; o < unfrag;) {
		*nxt_at = o;
		o += nxt == 44 ? 8u : (fh[o + 1] + 1u) * 8u; /* an atomic fragment header's is 8 */
		nxt = fh[*nxt_at];
	}
	if (size - IPV6_HLEN > 65535 || !(d = pkb_alloc(MIN(room, INET_HEADROOM) + size)))
		return NULL;
	d->off = MIN(room, INET_HEADROOM);
	h = pkb_data(d);
	memcpy(h, fh, unfrag);
	put16(h + 4, (uint16_t)(size - IPV6_HLEN));
	h[*nxt_at] = r->proto;
	for (struct pkb *f = r->frags; f; f = f->next)
		memcpy(h + unfrag + f->frag_off, pkb_data(f), f->len);
	d->len = size;
	d->bcast = first->bcast;
	d->ifindex = first->ifindex;
	return d;
}

void inet_reass_input(struct netif *nif, struct pkb *p, const struct inet_frag_key *k)
{
	const struct reass_mibs *m = &mibs[k->v6];
	struct inet_reass *r, **pp;
	struct pkb_queue drop = {0};
	struct pkb *whole = NULL, **fp;
	uint32_t off = p->frag_off, end = off + p->len;
	uint64_t now = inet_now_ms();
	uint32_t total;
	unsigned nxt_at = 0;

	netif_lock(nif);
	for (r = nif->reass; r; r = r->next)
		if (r->v6 == k->v6 && r->id == k->id && r->proto == k->proto &&
		    !memcmp(&r->saddr, &k->saddr, sizeof(r->saddr)) &&
		    !memcmp(&r->daddr, &k->daddr, sizeof(r->daddr)))
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
		inet_count(m->fails);
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
		r->v6 = k->v6;
		r->expires_ms = now + (k->v6 ? INET_REASS6_TIMEOUT_MS : INET_REASS_TIMEOUT_MS);
		for (pp = &nif->reass; *pp; pp = &(*pp)->next)
			;
		*pp = r;
		nif->nreass++;
	}
	/* The last fragment tells the length; nothing may lie past it, nor two tell two. */
	if (r->total && (end > r->total || (!k->more && end != r->total))) {
		inet_count(m->overlaps);
		goto fail;
	}
	for (struct pkb *f = r->frags; f; f = f->next) {
		uint32_t fs = f->frag_off, fe = fs + f->len;

		if (fs == off && fe == end) {
			inet_count(m->duplicates);
			pkb_queue_put(&drop, p);
			goto out;
		}
		if ((off < fe && fs < end) || (!k->more && fe > end)) {
			inet_count(m->overlaps);
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
		total = r->total;
		whole = r->v6 ? assemble6(r, &nxt_at) : assemble4(r);
		pkb_free_list(r->frags);
		kmem_cache_free(inet_stack->reass_cache, r);
		if (!whole) {
			inet_count(m->fails);
			return;
		}
		inet_count(m->oks);
		if (k->v6)
			ipv6_reassembled(nif, whole, whole->len - total, nxt_at);
		else
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

void inet_reass_tick(struct netif *nif, uint64_t now)
{
	struct pkb_queue drop = {0};
	struct pkb *first = NULL;
	bool first_v6 = false;

	netif_lock(nif);
	for (struct inet_reass *r = nif->reass, *next; r; r = next) {
		next = r->next;
		if (r->expires_ms > now)
			continue; /* the families' times differ: the list is not by expiry */
		inet_count(mibs[r->v6].timeouts);
		/* Say so about one of them per tick, from its first fragment (RFC 792, 8200 4.5).
		 */
		if (!first && r->frags && r->frags->frag_off == 0) {
			first = r->frags;
			first_v6 = r->v6;
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
		if (first_v6)
			icmp6_error(nif, first, ICMP6_TIME_EXCEEDED, ICMP6_TIMXCEED_REASS, 0);
		else
			icmp_error(nif, first, ICMP_TIMXCEED, ICMP_TIMXCEED_REASS);
		pkb_free(first);
	}
}

void inet_reass_flush_locked(struct netif *nif, struct pkb_queue *drop)
{
	while (nif->reass)
		fail_locked(nif, nif->reass, drop);
	nif->nreass = 0;
	nif->reass_bytes = 0;
}

void inet_reass_flush(struct netif *nif)
{
	struct pkb_queue drop = {0};

	netif_lock(nif);
	inet_reass_flush_locked(nif, &drop);
	spin_unlock(&nif->lock);
	pkb_free_list(drop.head);
}

void inet_reass_lists_locked(struct netif *nif, pkb_list_fn fn, const void *arg)
{
	for (struct inet_reass *r = nif->reass; r; r = r->next)
		fn(r->frags, arg);
}
