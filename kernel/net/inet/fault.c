/*
 * The fault injector on an interface's frame input, for tests that must
 * be the same at every run: netem is not in every kernel, and a kernel's
 * randomness is not ours to seed. Each frame draws from a xorshift64*
 * generator seeded by the test, in this order: drop it; flip one bit of
 * one byte (corrupt); hold it for delay_ms of the stack's clock (delay:
 * released by netif_tick, or by a later frame's arrival); hold it until
 * the next frame has gone on (reorder); and, once through, send it on
 * twice (duplicate). Held frames are bounded: one for reordering,
 * FAULT_DELAYED for delay (a frame that finds the delay queue full goes
 * on at once). State is per interface, under its lock.
 */
#include <string.h>

#include "inet_internal.h"

#define FAULT_DELAYED 64

static uint64_t next_rand(struct inet_fault_state *f)
{
	uint64_t x = f->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	f->rng = x;
	return x * 0x2545f4914f6cdd1dull;
}

static bool chance(struct inet_fault_state *f, uint16_t per10k)
{
	return per10k && next_rand(f) % 10000 < per10k;
}

/* Frames whose delay is over, in order, to *@out. */
static void release_due(struct inet_fault_state *f, uint64_t now, struct pkb_queue *out)
{
	while (f->delayed.head && f->delayed.head->at_ms <= now)
		pkb_queue_put(out, pkb_queue_take(&f->delayed));
}

void inet_fault_input(struct netif *nif, struct pkb *p, struct pkb_queue *out)
{
	struct inet_fault_state *f = &nif->fault;
	uint64_t now = inet_now_ms();
	struct pkb *dup = NULL, *held = NULL;

	netif_lock(nif);
	release_due(f, now, out);
	if (chance(f, f->cfg.drop)) {
		inet_count(INET_MIB_FAULT_DROPS);
		spin_unlock(&nif->lock);
		pkb_free(p);
		return;
	}
	if (p->len && chance(f, f->cfg.corrupt)) {
		uint64_t r = next_rand(f);

		pkb_data(p)[r % p->len] ^= (uint8_t)(1u << ((r >> 32) % 8));
		p->csum_ok = 0; /* the host's word was about the frame before the wire hurt it */
		inet_count(INET_MIB_FAULT_CORRUPTS);
	}
	if (chance(f, f->cfg.delay) && f->delayed.n < FAULT_DELAYED) {
		p->at_ms = now + f->cfg.delay_ms;
		pkb_queue_put(&f->delayed, p);
		inet_count(INET_MIB_FAULT_DELAYS);
		spin_unlock(&nif->lock);
		return;
	}
	if (!f->held && chance(f, f->cfg.reorder)) {
		f->held = p;
		inet_count(INET_MIB_FAULT_REORDERS);
		spin_unlock(&nif->lock);
		return;
	}
	held = f->held;
	f->held = NULL;
	if (held)
		pkb_own(held);
	if (chance(f, f->cfg.dup))
		dup = p; /* cloned after the lock: allocation may take the zone */
	spin_unlock(&nif->lock);
	pkb_queue_put(out, p);
	if (dup && (dup = pkb_clone(p))) {
		inet_count(INET_MIB_FAULT_DUPS);
		pkb_queue_put(out, dup);
	}
	if (held)
		pkb_queue_put(out, held);
}

void inet_fault_tick(struct netif *nif, uint64_t now, struct pkb_queue *out)
{
	netif_lock(nif);
	release_due(&nif->fault, now, out);
	spin_unlock(&nif->lock);
}

void inet_fault_flush_locked(struct netif *nif, struct pkb_queue *drop)
{
	struct pkb *p;

	while ((p = pkb_queue_take(&nif->fault.delayed)))
		pkb_queue_put(drop, p);
	if (nif->fault.held) {
		pkb_own(nif->fault.held);
		pkb_queue_put(drop, nif->fault.held);
	}
	nif->fault.held = NULL;
}

void inet_fault_flush(struct netif *nif)
{
	struct pkb_queue drop = {0};

	netif_lock(nif);
	inet_fault_flush_locked(nif, &drop);
	spin_unlock(&nif->lock);
	pkb_free_list(drop.head);
}

void inet_fault_lists_locked(struct netif *nif, pkb_list_fn fn, const void *arg)
{
	fn(nif->fault.delayed.head, arg);
	if (nif->fault.held)
		fn(nif->fault.held, arg);
}
