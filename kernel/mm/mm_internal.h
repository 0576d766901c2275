/* Shared between the page allocator, the slab caches and the thread caches. */
#ifndef UML_MM_INTERNAL_H
#define UML_MM_INTERNAL_H

#include <stdatomic.h>

#include "uml/mm.h"

extern struct mm_zone *mm_cur;

/*
 * Rebuild the free lists and the slab lists and counts from the page
 * descriptors, after zone.lock was taken over from a holder that died with
 * them half updated (check.c). Returns how many things it fixed.
 */
unsigned mm_repair_locked(struct mm_zone *z);
unsigned page_repair_locked(struct mm_zone *z);
unsigned slab_repair_locked(struct mm_zone *z);
/* Words of a bitmap with a bit per object of the largest slab (8 pages of 4-byte objects). */
#define SLAB_MAP_WORDS ((PAGE_SIZE << 3) / sizeof(uint32_t) / 64)
/*
 * Walk the free list of the slab at page @idx of @c, setting each free
 * object's bit in @map (zeroed by the caller). A link off the slab, off an
 * object or back to an object already seen ends it: with @cut the list is
 * cut there, else -1 is returned. Returns the free objects found. Zone
 * lock held.
 */
long slab_free_map(struct mm_zone *z, const struct kmem_cache *c, uint32_t idx, uint64_t *map,
		   bool cut);

/*
 * Name @obj as the one being moved (zone lock held), before the first store
 * that takes it from where it was; forget it after the last store that puts
 * it where it goes. slab_transit_repair_locked frees it after a death in between
 * if it is neither free nor held by a magazine or slot.
 */
static inline void transit_set(struct mm_zone *z, void *obj)
{
	z->transit = obj;
	atomic_signal_fence(memory_order_seq_cst);
}

static inline void transit_clear(struct mm_zone *z)
{
	atomic_signal_fence(memory_order_seq_cst);
	z->transit = NULL;
}

unsigned slab_transit_repair_locked(struct mm_zone *z);

/* Take zone.lock; from a dead holder, repair what it may have left half done. */
void mm_takeover_locked(struct mm_zone *z);
static inline void zone_lock(struct mm_zone *z)
{
	if (unlikely(spin_lock(&z->lock)))
		mm_takeover_locked(z);
}

/* Called with zone.lock held. */
void *page_alloc_locked(struct mm_zone *z, unsigned order);
void page_free_locked(struct mm_zone *z, void *addr, unsigned order);
void slab_init(struct mm_zone *z);
void *kmem_cache_alloc_locked(struct mm_zone *z, struct kmem_cache *c);
void kmem_cache_free_locked(struct mm_zone *z, struct kmem_cache *c, void *obj);
/* @t's magazine @index, made (empty) if it has none; NULL when out of memory. */
struct mm_mag *slab_mag_get_locked(struct mm_zone *z, struct mm_tslot *t, unsigned index);
/* Release kept empty slabs; returns pages freed. */
size_t slab_shrink_locked(struct mm_zone *z);
/* Give back the cached objects of dead threads; returns threads reaped. */
int tcache_reap_locked(struct mm_zone *z);

/*
 * The calling thread's slot, claimed on first use. A thread that could not
 * get one uses mm_no_slot, whose magazines are all NULL, so the fast paths
 * need no test for it. The slot is inherited across fork and stays with the
 * zone it was claimed in, so it is trusted only while mm_epoch -- bumped by
 * fork and by every change of zone -- is what it was at the claim.
 * Initial-exec TLS: one load and no call, also when the library is part of a
 * module that httpd dlopen()s.
 */
struct mm_tls {
	struct mm_tslot *slot;
	uint32_t epoch;
};
extern __thread struct mm_tls mm_tls __attribute__((tls_model("initial-exec")));
extern uint32_t mm_epoch;
extern struct mm_tslot mm_no_slot;
struct mm_tslot *tcache_slot_claim(void);

static inline struct mm_tslot *tslot_self(void)
{
	if (likely(mm_tls.epoch == mm_epoch))
		return mm_tls.slot;
	return tcache_slot_claim();
}
#define MM_PAGE_MAG MM_MAX_CACHES /* magazine index of order-0 pages */

/*
 * AddressSanitizer keeps its shadow per process, and our memory is shared by
 * several. Free objects are poisoned only while a single process uses the
 * machine; the first fork unpoisons the whole arena and turns annotations
 * off, since a poisoning in one process can't follow a reuse in another.
 */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
extern int mm_asan_on;
#define mm_poison(p, n)                                                                            \
	do {                                                                                       \
		if (mm_asan_on)                                                                    \
			ASAN_POISON_MEMORY_REGION((p), (n));                                       \
	} while (0)
#define mm_unpoison(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define mm_poison(p, n)	  ((void)(p), (void)(n))
#define mm_unpoison(p, n) ((void)(p), (void)(n))
#endif
void mm_asan_setup(struct mm_zone *z);

#endif
