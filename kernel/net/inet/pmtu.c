/*
 * Path MTU notes for both families (RFC 1191, RFC 8201): what ICMP
 * frag-needed and ICMPv6 packet too big said about a destination, read by
 * both outputs (inet_pmtu) and by TCP for a new connection's MSS and, from
 * its tick, for an established one's (tcp.c).
 *
 * A note is believed only within bounds: never below the family's floor
 * (576 for IPv4, as TCP's TCP_PMTU_MIN; 1280 for IPv6, RFC 8200 5: a
 * smaller PTB is taken as 1280), never at or above the MTU of the link the
 * destination is routed by (no hop makes a path larger than its first
 * link), and only lower than a note already held: a path grows again only
 * when its note ages out, INET_PMTU_AGE_MS after it was last lowered or
 * confirmed (RFC 1191 6.3, RFC 8201 4's ten minutes). The callers check the
 * quoted datagram is one we could have sent (icmp.c, icmp6.c).
 *
 * The table is fixed (INET_PMTU_NOTES): a new destination takes a free or
 * aged slot, else the oldest note's, so a flood of forged messages costs
 * other destinations their notes -- they learn them again -- but no
 * memory. Every change (a note made, lowered, aged out) bumps pmtu_gen,
 * which TCP's tick compares to know when to look again.
 *
 * Lookup is on every datagram out, so it takes inet.lock only for a
 * destination that may have a note: pmtu_hint has a bit per hash of each
 * noted destination (set when one is made, rebuilt by the tick), and one
 * whose bit is clear has none.
 */
#include <string.h>

#include "inet_internal.h"

static uint32_t floor_of(const struct inet_addr *a)
{
	return inet_addr_is_v4(a) ? INET_MTU_MIN : INET_MTU6_MIN;
}

static bool live(const struct inet_pmtu_note *n, uint64_t now)
{
	return n->mtu && now - n->at_ms < INET_PMTU_AGE_MS;
}

/* The destination's bit in pmtu_hint. */
static uint64_t hint_bit(const struct inet_addr *a)
{
	uint32_t w[4];

	memcpy(w, a->a, sizeof(w));
	return 1ull << (((w[0] ^ w[1] ^ w[2] ^ w[3]) * 0x9e3779b1u) >> 26);
}

static struct inet_pmtu_note *find(struct inet_pmtu_note *t, const struct inet_addr *a)
{
	for (unsigned i = 0; i < INET_PMTU_NOTES; i++)
		if (t[i].mtu && !memcmp(&t[i].daddr, a, sizeof(*a)))
			return &t[i];
	return NULL;
}

/* The link MTU towards @a (0: no route). */
static uint32_t link_mtu(const struct inet_addr *a)
{
	uint32_t nexthop;
	const struct netif *nif =
	    inet_addr_is_v4(a) ? netif_route(inet_addr_v4(a), &nexthop) : ipv6_route(a);

	return nif ? nif->mtu : 0;
}

uint32_t inet_pmtu_check(const struct inet_addr *daddr, uint32_t mtu, uint32_t sent_len)
{
	mtu = MAX(mtu, floor_of(daddr));
	/* A datagram that fit was not too big; a path no larger than its first link says nothing.
	 */
	return sent_len <= mtu || mtu >= link_mtu(daddr) ? 0 : mtu;
}

void inet_pmtu_learn(const struct inet_addr *daddr, uint32_t mtu)
{
	uint64_t now = inet_now_ms();
	struct inet_pmtu_note *n, *slot = NULL;
	bool changed;

	inet_lock();
	n = find(inet_stack->pmtu, daddr);
	changed = !n || !live(n, now) || n->mtu != mtu;
	if (n && live(n, now) && n->mtu < mtu) {
		spin_unlock(&inet_stack->lock);
		return; /* a smaller note stands; the message is about an older datagram */
	}
	if (!n) {
		for (unsigned i = 0; i < INET_PMTU_NOTES; i++) {
			struct inet_pmtu_note *c = &inet_stack->pmtu[i];

			if (!live(c, now)) {
				slot = c;
				break;
			}
			if (!slot || c->at_ms < slot->at_ms)
				slot = c;
		}
		if (!slot->mtu)
			atomic_fetch_add(&inet_stack->pmtu_live, 1);
		n = slot;
		n->daddr = *daddr;
		atomic_fetch_or(&inet_stack->pmtu_hint, hint_bit(daddr));
	}
	if (changed)
		atomic_fetch_add(&inet_stack->pmtu_gen, 1);
	n->mtu = mtu;
	n->at_ms = now;
	spin_unlock(&inet_stack->lock);
}

uint32_t inet_pmtu_noted(const struct inet_addr *daddr)
{
	struct inet_pmtu_note *n;
	uint32_t mtu = 0;

	if (!inet_stack ||
	    !(atomic_load_explicit(&inet_stack->pmtu_hint, memory_order_relaxed) & hint_bit(daddr)))
		return 0;
	inet_lock();
	n = find(inet_stack->pmtu, daddr);
	if (n && live(n, inet_now_ms()))
		mtu = n->mtu;
	spin_unlock(&inet_stack->lock);
	return mtu;
}

uint32_t inet_pmtu(const struct netif *nif, const struct inet_addr *daddr)
{
	uint32_t noted = inet_pmtu_noted(daddr);

	return noted && noted < nif->mtu ? noted : nif->mtu;
}

void inet_pmtu_tick(uint64_t now)
{
	bool changed = false;
	uint32_t used = 0;
	uint64_t hint = 0;

	if (!atomic_load_explicit(&inet_stack->pmtu_live, memory_order_relaxed))
		return;
	inet_lock();
	for (unsigned i = 0; i < INET_PMTU_NOTES; i++) {
		struct inet_pmtu_note *n = &inet_stack->pmtu[i];

		if (n->mtu && !live(n, now)) {
			n->mtu = 0;
			changed = true;
		}
		if (n->mtu) {
			used++;
			hint |= hint_bit(&n->daddr);
		}
	}
	/* Made again, not taken from: a holder that died between a slot and these is mended. */
	atomic_store(&inet_stack->pmtu_live, used);
	atomic_store(&inet_stack->pmtu_hint, hint);
	if (changed)
		atomic_fetch_add(&inet_stack->pmtu_gen, 1);
	spin_unlock(&inet_stack->lock);
}

uint32_t inet_pmtu_snapshot(struct inet_pmtu_note t[INET_PMTU_NOTES])
{
	uint32_t gen;

	inet_lock();
	gen = atomic_load(&inet_stack->pmtu_gen);
	memcpy(t, inet_stack->pmtu, sizeof(inet_stack->pmtu));
	spin_unlock(&inet_stack->lock);
	return gen;
}

uint32_t inet_pmtu_find(struct inet_pmtu_note t[INET_PMTU_NOTES], const struct inet_addr *daddr,
			uint64_t now)
{
	struct inet_pmtu_note *n = find(t, daddr);

	return n && live(n, now) ? n->mtu : 0;
}

unsigned inet_pmtu_count(void)
{
	return atomic_load(&inet_stack->pmtu_live);
}
