/*
 * Audit of the allocator (uml_check): under the zone lock, every page is
 * found exactly once -- in a free block on the list of its order, or in an
 * allocated block, a slab's or not -- and every slab's free list, every
 * cache's counts and every thread's magazines agree with what the pages
 * say. It reads a dead holder's leftovers too: nothing here trusts a link
 * before checking it is in range.
 */
#include <string.h>

#include "uml/check.h"
#include "uml/host.h"
#include "uml/mm.h"
#include "mm_internal.h"

#define CHECK_MAX_CACHES 128

struct cache_tally {
	const struct kmem_cache *c;
	uint64_t slabs, inuse, partial;
};

static struct cache_tally *tally_of(struct cache_tally *t, unsigned n, const struct kmem_cache *c)
{
	for (unsigned i = 0; i < n; i++)
		if (t[i].c == c)
			return &t[i];
	return NULL;
}

static void check_free_lists(struct kcheck *r, struct mm_zone *z, uint8_t *seen, uint64_t *nfree)
{
	for (unsigned o = 0; o < MM_MAX_ORDER; o++) {
		uint32_t prev = 0, count = 0;

		for (uint32_t at = z->free[o].head; at; at = z->pages[at - 1].next) {
			uint32_t idx = at - 1;
			struct page *pg = &z->pages[idx];

			if (idx >= z->npages || (idx & ((1u << o) - 1)) ||
			    idx + (1u << o) > z->npages) {
				kcheck_fail(r,
					    "mm: free list of order %u holds page %u, out of place",
					    o, idx);
				break;
			}
			if (pg->flags != PG_FREE || pg->order != o || pg->prev != prev) {
				kcheck_fail(r,
					    "mm: free block at page %u (order %u) has flags %#x, "
					    "order %u",
					    idx, o, pg->flags, pg->order);
				break;
			}
			if (seen[idx]) {
				kcheck_fail(r, "mm: free list of order %u loops at page %u", o,
					    idx);
				break;
			}
			memset(seen + idx, 1, 1u << o);
			*nfree += 1u << o;
			prev = at;
			count++;
		}
		if (count != z->free[o].count)
			kcheck_fail(r, "mm: %u free blocks of order %u listed, %u counted", count,
				    o, z->free[o].count);
	}
}

void mm_check(struct kcheck *r)
{
	struct mm_zone *z = mm_cur;
	struct cache_tally tally[CHECK_MAX_CACHES];
	uint64_t nfree = 0, slab_pages = 0, block_pages = 0, blocks = 0, cached_pages = 0,
		 cached_objs = 0;
	unsigned ncaches = 0;
	uint8_t *seen;

	if (!z)
		return;
	seen = host_map_private(z->npages);
	if (!seen) {
		kcheck_fail(r, "mm: no memory to check %u pages", z->npages);
		return;
	}
	zone_lock(z);
	for (struct kmem_cache *c = z->caches; c && ncaches < CHECK_MAX_CACHES; c = c->next)
		tally[ncaches++] = (struct cache_tally){.c = c};
	check_free_lists(r, z, seen, &nfree);
	if (nfree != z->nfree)
		kcheck_fail(r, "mm: %llu pages on the free lists, the zone counts %u",
			    (unsigned long long)nfree, z->nfree);

	for (uint32_t idx = 0; idx < z->npages;) {
		struct page *pg = &z->pages[idx];
		uint32_t len;

		if (seen[idx]) { /* in a free block: its head said how long */
			idx += pg->flags == PG_FREE ? 1u << pg->order : 1;
			continue;
		}
		if (!(pg->flags & PG_HEAD) || pg->order >= MM_MAX_ORDER ||
		    idx + (1u << pg->order) > z->npages) {
			kcheck_fail(r,
				    "mm: page %u is neither free nor the head of a block (flags "
				    "%#x)",
				    idx, pg->flags);
			idx++;
			continue;
		}
		len = 1u << pg->order;
		for (uint32_t i = 1; i < len; i++)
			if (z->pages[idx + i].head != idx || seen[idx + i]) {
				kcheck_fail(r, "mm: page %u of the block at %u is not its tail",
					    idx + i, idx);
				break;
			}
		if (pg->flags & PG_SLAB) {
			struct cache_tally *t = tally_of(tally, ncaches, pg->cache);
			uint64_t map[SLAB_MAP_WORDS] = {0};
			long nf;

			if (!t || pg->cache->order != pg->order) {
				kcheck_fail(r, "mm: slab at page %u belongs to no cache", idx);
			} else if ((nf = slab_free_map(z, pg->cache, idx, map, false)) < 0 ||
				   (uint64_t)nf + pg->inuse != pg->cache->per_slab) {
				kcheck_fail(r,
					    "mm: slab at page %u of %s: free list broken or "
					    "%u in use + %ld free != %u",
					    idx, pg->cache->name, pg->inuse, nf,
					    pg->cache->per_slab);
			} else {
				t->slabs++;
				t->inuse += pg->inuse;
				t->partial += nf > 0;
			}
			slab_pages += len;
		} else {
			block_pages += len;
			blocks++;
		}
		idx += len;
	}

	for (unsigned i = 0; i < ncaches; i++) {
		const struct kmem_cache *c = tally[i].c;
		uint64_t on_list = 0;

		for (uint32_t at = c->partial; at && on_list <= tally[i].slabs;
		     at = z->pages[at - 1].slab_next)
			on_list++;
		if (tally[i].slabs != c->nslabs || tally[i].inuse != c->active ||
		    on_list != tally[i].partial)
			kcheck_fail(r,
				    "mm: cache %s: %llu slabs (counted %u), %llu objects in use "
				    "(counted %llu), %llu on the partial list of %llu with room",
				    c->name, (unsigned long long)tally[i].slabs, c->nslabs,
				    (unsigned long long)tally[i].inuse,
				    (unsigned long long)c->active, (unsigned long long)on_list,
				    (unsigned long long)tally[i].partial);
	}

	for (unsigned s = 0; s < MM_MAX_TSLOTS; s++) {
		struct mm_tslot *t = z->tslot[s];

		if (!t)
			continue;
		for (unsigned i = 0; i <= MM_MAX_CACHES; i++) {
			struct mm_mag *m = t->mag[i];
			uint32_t n = m ? READ_ONCE(*(_Atomic uint32_t *)&m->n) : 0;

			if (n > MM_MAG_SIZE) {
				kcheck_fail(r,
					    "mm: thread slot %u holds %u objects in a magazine "
					    "of %u",
					    s, n, MM_MAG_SIZE);
				continue;
			}
			if (i == MM_PAGE_MAG)
				cached_pages += n;
			else
				cached_objs += n;
		}
	}
	spin_unlock(&z->lock);
	host_unmap(seen, z->npages);
	kcheck_line(r,
		    "mm: %u pages: %llu free, %llu in slabs, %llu in %llu other blocks; thread "
		    "caches hold %llu pages and %llu objects",
		    z->npages, (unsigned long long)nfree, (unsigned long long)slab_pages,
		    (unsigned long long)block_pages, (unsigned long long)blocks,
		    (unsigned long long)cached_pages, (unsigned long long)cached_objs);
}

unsigned mm_repair_locked(struct mm_zone *z)
{
	/* The page lists first: the slab repair may free a block. */
	unsigned n = page_repair_locked(z);

	n += slab_repair_locked(z);

	for (unsigned s = 0; s < MM_MAX_TSLOTS; s++) {
		struct mm_tslot *t = z->tslot[s];

		for (unsigned i = 0; t && i <= MM_MAX_CACHES; i++)
			if (t->mag[i] && t->mag[i]->n > MM_MAG_SIZE) {
				t->mag[i]->n = 0; /* its owner died mid-update: trust nothing */
				n++;
			}
	}
	n += slab_transit_repair_locked(z);
	z->repairs++;
	return n;
}

void mm_takeover_locked(struct mm_zone *z)
{
	unsigned n = mm_repair_locked(z);

	host_log("umlmm: took the page allocator over from a dead holder; rebuilt its lists "
		 "(%u fixes)",
		 n);
}
