/*
 * Slab caches: objects of one size carved out of buddy blocks. A slab is a
 * block of 2^order pages; its head page's descriptor holds the slab's free
 * list (threaded through the free objects, as offsets) and its use count.
 * Slabs with free objects sit on the cache's partial list. A cache keeps up to
 * MM_MIN_PARTIAL empty slabs for the next burst and gives the rest of its
 * empty slabs back to the page allocator, so freed memory coalesces.
 *
 * In front of the slabs sit the per-thread magazines (kernel/mm/tcache.c):
 * kmem_cache_alloc and kmem_cache_free touch only the calling thread's
 * magazine unless it is empty or full; the slab lists, guarded by zone.lock,
 * see batches of MM_MAG_BATCH objects.
 *
 * kmalloc() uses power-of-two caches from 8 bytes to 2 KiB and whole pages above.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uml/host.h"
#include "uml/mm.h"
#include "mm_internal.h"

#ifdef MM_DEBUG
/*
 * Debug build: every object carries an 8-byte trailer saying whether it is
 * live or free, and free objects are filled with POISON. A double free, a
 * write past the end of an object, or a write to a freed object is reported
 * and the process aborts, as close to the bug as the allocator can see it.
 */
#define MM_RZ	   8
#define RZ_LIVE	   0xa110ca7eda110ca7ULL
#define RZ_FREE	   0xf4eef4eef4eef4eeULL
#define MM_POISON  0x6b
#define MM_LINK_SZ 8 /* the free-list link may overwrite the poison here */

static uint64_t *rz_of(const struct kmem_cache *c, void *obj)
{
	return (uint64_t *)((char *)obj + c->size - MM_RZ);
}

static void __attribute__((noreturn))
mm_bug(const char *what, const struct kmem_cache *c, const void *obj)
{
	host_panic("umlmm: %s: object %p of cache %s (size %u)", what, obj, c->name, c->objsize);
}

static void debug_free_init(const struct kmem_cache *c, void *obj)
{
	mm_unpoison(obj, c->size);
	memset(obj, MM_POISON, c->size - MM_RZ);
	*rz_of(c, obj) = RZ_FREE;
}

static void debug_on_alloc(const struct kmem_cache *c, void *obj)
{
	const unsigned char *p = obj;

	if (*rz_of(c, obj) != RZ_FREE)
		mm_bug("free object's red zone overwritten", c, obj);
	for (uint32_t i = MM_LINK_SZ; i < c->size - MM_RZ; i++)
		if (p[i] != MM_POISON)
			mm_bug("object written after it was freed", c, obj);
	*rz_of(c, obj) = RZ_LIVE;
}

static void debug_on_free(const struct kmem_cache *c, void *obj)
{
	uint64_t rz = *rz_of(c, obj);

	if (rz == RZ_FREE)
		mm_bug("double free", c, obj);
	if (rz != RZ_LIVE)
		mm_bug("red zone overwritten (write past the end of the object)", c, obj);
	memset(obj, MM_POISON, c->size - MM_RZ);
	*rz_of(c, obj) = RZ_FREE;
}

/* A stray taken back: one whose free a death cut short is already marked freed. */
static void debug_on_reclaim(const struct kmem_cache *c, void *obj)
{
	if (*rz_of(c, obj) == RZ_LIVE)
		debug_on_free(c, obj);
	else
		debug_free_init(c, obj);
}
#else
#define MM_RZ			 0
static inline void debug_free_init(const struct kmem_cache *c, void *obj)
{
	(void)c;
	(void)obj;
}
#define debug_on_alloc(c, obj)	 debug_free_init(c, obj)
#define debug_on_free(c, obj)	 debug_free_init(c, obj)
#define debug_on_reclaim(c, obj) debug_free_init(c, obj)
#endif

/* Smallest slab order that holds at least 8 objects, up to 8 pages. */
static unsigned slab_order(uint32_t size)
{
	unsigned order = 0;

	while (order < 3 && ((PAGE_SIZE << order) / size) < 8)
		order++;
	return order;
}

static void cache_setup(struct mm_zone *z, struct kmem_cache *c, const char *name, size_t size,
			size_t align)
{
	uint32_t i;

	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	if (align < sizeof(uint32_t))
		align = sizeof(uint32_t);
	c->objsize = (uint32_t)size;
	c->align = (uint32_t)align;
	c->size = (uint32_t)ALIGN_UP(MAX(size, sizeof(uint32_t)) + MM_RZ, align);
	c->order = slab_order(c->size);
	c->per_slab = (uint32_t)((PAGE_SIZE << c->order) / c->size);
	c->index = MM_NO_MAG;
	for (i = 0; i < MM_MAX_CACHES; i++)
		if (!z->by_index[i]) {
			z->by_index[i] = c;
			c->index = i;
			break;
		}
	c->next = z->caches;
	z->caches = c;
}

static char *slab_mem(struct mm_zone *z, uint32_t idx)
{
	return z->start + ((size_t)idx << PAGE_SHIFT);
}

static void partial_add(struct mm_zone *z, struct kmem_cache *c, uint32_t idx)
{
	struct page *pg = &z->pages[idx];

	pg->slab_prev = 0;
	pg->slab_next = c->partial;
	if (c->partial)
		z->pages[c->partial - 1].slab_prev = idx + 1;
	c->partial = idx + 1;
}

static void partial_del(struct mm_zone *z, struct kmem_cache *c, uint32_t idx)
{
	struct page *pg = &z->pages[idx];

	if (pg->slab_prev)
		z->pages[pg->slab_prev - 1].slab_next = pg->slab_next;
	else
		c->partial = pg->slab_next;
	if (pg->slab_next)
		z->pages[pg->slab_next - 1].slab_prev = pg->slab_prev;
	pg->slab_next = pg->slab_prev = 0;
}

long slab_free_map(struct mm_zone *z, const struct kmem_cache *c, uint32_t idx, uint64_t *map,
		   bool cut)
{
	uint32_t *head = &z->pages[idx].freelist, *link = head;
	char *mem = slab_mem(z, idx);
	long nf = 0;

	/* Each free object's link is readable (for ASan) only while it is the one looked at. */
	while (*link) {
		uint32_t off = *link - 1, i = off / c->size;

		/* Out of the slab, off an object, or back to one already seen. */
		if (off % c->size || off >= c->per_slab * c->size ||
		    (map[i / 64] >> (i % 64)) & 1) {
			if (cut)
				*link = 0;
			else
				nf = -1;
			break;
		}
		map[i / 64] |= 1ull << (i % 64);
		nf++;
		if (link != head)
			mm_poison(link, sizeof(uint32_t));
		link = (uint32_t *)(mem + off);
		mm_unpoison(link, sizeof(uint32_t));
	}
	if (link != head)
		mm_poison(link, sizeof(uint32_t));
	return nf;
}

/*
 * After the page lists are rebuilt: the block a dead holder was making into
 * a slab, or giving back from one, is freed if it is still an allocated
 * block and no slab (one whose head says PG_SLAB is whole, and the slab
 * repair counts it; one whose free had begun is free or lost, and the page
 * repair freed it). Returns 1 if it freed one.
 */
static unsigned slab_block_repair_locked(struct mm_zone *z)
{
	uint32_t idx = z->slab_block - 1;
	struct page *pg;

	z->slab_block = 0;
	if (idx >= z->npages)
		return 0;
	pg = &z->pages[idx];
	if (!(pg->flags & PG_HEAD) || (pg->flags & PG_SLAB) || pg->order >= MM_MAX_ORDER ||
	    idx + (1u << pg->order) > z->npages)
		return 0;
	for (uint32_t i = 0; i < (1u << pg->order); i++) {
		z->pages[idx + i].flags &= (uint8_t)~PG_SLAB;
		z->pages[idx + i].cache = NULL;
	}
	page_free_locked(z, slab_mem(z, idx), pg->order);
	return 1;
}

/* Whether a thread's slot, one of its magazines or what they hold is @obj. */
static bool held_by_slot(const struct mm_zone *z, const void *obj)
{
	for (unsigned s = 0; s < MM_MAX_TSLOTS; s++) {
		const struct mm_tslot *t = z->tslot[s];

		if (!t)
			continue;
		if (t == obj || t->inflight == obj)
			return true;
		for (unsigned i = 0; i <= MM_MAX_CACHES; i++) {
			const struct mm_mag *m = t->mag[i];

			if (!m)
				continue;
			if (m == obj)
				return true;
			for (uint32_t k = 0; k < m->n && k < MM_MAG_SIZE; k++)
				if (m->obj[k] == obj)
					return true;
		}
	}
	return false;
}

/*
 * After the lists and slabs are rebuilt: what a dead holder of the lock was
 * moving (z->transit) goes back to its slab or the free lists, unless it is
 * there already or a magazine or slot holds it. Returns 1 if it freed it.
 */
unsigned slab_transit_repair_locked(struct mm_zone *z)
{
	void *obj = z->transit;
	struct page *pg = obj ? mm_page_of(obj) : NULL;

	z->transit = NULL;
	if (!pg || held_by_slot(z, obj))
		return 0;
	if (pg->flags & PG_SLAB) {
		uint32_t idx = pg->head, off;
		struct kmem_cache *c = z->pages[idx].cache;
		uint64_t seen[SLAB_MAP_WORDS] = {0};

		if (idx >= z->npages || !(z->pages[idx].flags & PG_SLAB) || c != pg->cache)
			return 0;
		off = (uint32_t)((char *)obj - slab_mem(z, idx));
		if (off % c->size || off >= c->per_slab * c->size ||
		    slab_free_map(z, c, idx, seen, false) < 0 ||
		    (seen[off / c->size / 64] >> (off / c->size % 64)) & 1)
			return 0;
		kmem_cache_free_locked(z, c, obj);
		return 1;
	}
	/* A block of pages: given back if it is still one, allocated and no slab. */
	if (((uintptr_t)obj & (PAGE_SIZE - 1)) || !(pg->flags & PG_HEAD) ||
	    pg->order >= MM_MAX_ORDER)
		return 0;
	page_free_locked(z, obj, pg->order);
	return 1;
}

/*
 * A cache's lists and counts again from its slabs' descriptors (zone lock
 * taken over from a dead holder). A free list that leaves its slab or
 * comes back on itself is cut where it goes wrong: the objects past the
 * cut stay counted as in use, so nothing is handed out twice. Returns the
 * caches fixed.
 */
unsigned slab_repair_locked(struct mm_zone *z)
{
	unsigned fixed = z->slab_block ? slab_block_repair_locked(z) : 0;

	for (struct kmem_cache *c = z->caches; c; c = c->next) {
		uint32_t partial = c->partial, nslabs = c->nslabs, empty = c->empty;
		uint64_t active = c->active;

		c->partial = 0;
		c->nslabs = c->empty = 0;
		c->active = 0;
		for (uint32_t idx = 0; idx < z->npages;) {
			struct page *pg = &z->pages[idx];
			uint32_t len = 1u << (pg->order < MM_MAX_ORDER ? pg->order : 0);
			uint64_t seen[SLAB_MAP_WORDS] = {0};
			long nf;

			if (!(pg->flags & PG_HEAD) || !(pg->flags & PG_SLAB) || pg->cache != c) {
				idx += pg->flags & PG_HEAD ? len : 1;
				continue;
			}
			nf = slab_free_map(z, c, idx, seen, true);
			pg->inuse = (uint16_t)(c->per_slab - nf);
			c->nslabs++;
			c->active += pg->inuse;
			if (nf)
				partial_add(z, c, idx);
			if (!pg->inuse)
				c->empty++;
			idx += len;
		}
		fixed += partial != c->partial || nslabs != c->nslabs || empty != c->empty ||
			 active != c->active;
	}
	return fixed;
}

/*
 * A new slab with every object on its free list, put on the partial list.
 * A repair after a death here must never see a slab that is not whole: the
 * block is named in z->slab_block from its allocation until its head says
 * PG_SLAB, and the head says so only once its free list and counts are
 * written (flagged with a stale or half-built list, its objects counted in
 * use for ever -- a whole slab lost, as test_death 6 once saw).
 */
static int slab_grow(struct mm_zone *z, struct kmem_cache *c)
{
	char *mem = page_alloc_locked(z, c->order);
	uint32_t idx, off, end;
	struct page *pg;

	if (!mem)
		return -ENOMEM;
	idx = (uint32_t)((mem - z->start) >> PAGE_SHIFT);
	z->slab_block = idx + 1;
	host_fault_point();
	mm_unpoison(mem, PAGE_SIZE << c->order);
	/* Free objects hold the offset+1 of the next free object; 0 ends the list. */
	end = c->per_slab * c->size;
	for (off = 0; off < end; off += c->size) {
		debug_free_init(c, mem + off);
		*(uint32_t *)(mem + off) = off + c->size < end ? off + c->size + 1 : 0;
	}
	mm_poison(mem, PAGE_SIZE << c->order);
	pg = &z->pages[idx];
	pg->freelist = 1;
	pg->inuse = 0;
	pg->slab_next = pg->slab_prev = 0;
	for (uint32_t i = 0; i < (1u << c->order); i++)
		z->pages[idx + i].cache = c;
	for (uint32_t i = 1; i < (1u << c->order); i++)
		z->pages[idx + i].flags |= PG_SLAB;
	host_fault_point();
	atomic_signal_fence(memory_order_seq_cst);
	pg->flags |= PG_SLAB;
	atomic_signal_fence(memory_order_seq_cst);
	z->slab_block = 0;
	partial_add(z, c, idx);
	c->nslabs++;
	c->empty++;
	return 0;
}

/* The converse, in the converse order: the head stops being a slab first. */
static void slab_release(struct mm_zone *z, struct kmem_cache *c, uint32_t idx)
{
	partial_del(z, c, idx);
	c->nslabs--;
	c->empty--;
	z->slab_block = idx + 1;
	atomic_signal_fence(memory_order_seq_cst);
	z->pages[idx].flags &= (uint8_t)~PG_SLAB;
	host_fault_point();
	for (uint32_t i = 0; i < (1u << c->order); i++) {
		z->pages[idx + i].flags &= (uint8_t)~PG_SLAB;
		z->pages[idx + i].cache = NULL;
	}
	page_free_locked(z, slab_mem(z, idx), c->order);
	atomic_signal_fence(memory_order_seq_cst);
	z->slab_block = 0;
}

/*
 * One object off the slabs (it stays poisoned for ASan until handed out);
 * with @transit named in z->transit before it leaves its free list, for a
 * caller that then puts it in a magazine or slot and calls transit_clear.
 */
static void *slab_take_locked(struct mm_zone *z, struct kmem_cache *c, bool transit)
{
	struct page *pg;
	uint32_t idx;
	char *obj;

	if (!c->partial && slab_grow(z, c))
		return NULL;
	idx = c->partial - 1;
	pg = &z->pages[idx];
	obj = slab_mem(z, idx) + pg->freelist - 1;
	if (transit)
		transit_set(z, obj);
	mm_unpoison(obj, sizeof(uint32_t));
	pg->freelist = *(uint32_t *)obj;
	mm_poison(obj, sizeof(uint32_t));
	if (pg->inuse++ == 0)
		c->empty--;
	if (!pg->freelist)
		partial_del(z, c, idx);
	c->active++;
	return obj;
}

void *kmem_cache_alloc_locked(struct mm_zone *z, struct kmem_cache *c)
{
	return slab_take_locked(z, c, false);
}

void kmem_cache_free_locked(struct mm_zone *z, struct kmem_cache *c, void *obj)
{
	uint32_t idx = mm_page_of(obj)->head;
	struct page *pg = &z->pages[idx];
	uint32_t off = (uint32_t)((char *)obj - slab_mem(z, idx));

	assert((pg->flags & PG_SLAB) && pg->cache == c && off % c->size == 0);
	if (!pg->freelist)
		partial_add(z, c, idx);
	mm_unpoison(obj, sizeof(uint32_t));
	*(uint32_t *)obj = pg->freelist;
	mm_poison(obj, sizeof(uint32_t));
	pg->freelist = off + 1;
	c->active--;
	if (--pg->inuse == 0 && ++c->empty > MM_MIN_PARTIAL)
		slab_release(z, c, idx);
}

size_t slab_shrink_locked(struct mm_zone *z)
{
	size_t pages = 0;

	for (struct kmem_cache *c = z->caches; c; c = c->next) {
		uint32_t idx = c->partial;

		while (idx && c->empty) {
			uint32_t next = z->pages[idx - 1].slab_next;

			if (z->pages[idx - 1].inuse == 0) {
				pages += 1u << c->order;
				slab_release(z, c, idx - 1);
			}
			idx = next;
		}
	}
	return pages;
}

size_t mm_shrink(void)
{
	struct mm_zone *z = mm_cur;
	size_t n;

	zone_lock(z);
	n = slab_shrink_locked(z);
	spin_unlock(&z->lock);
	return n;
}

void slab_init(struct mm_zone *z)
{
	char name[32];

	cache_setup(z, &z->cache_cache, "kmem_cache", sizeof(struct kmem_cache),
		    _Alignof(struct kmem_cache));
	for (unsigned i = 0; i < MM_KMALLOC_CLASSES; i++) {
		struct kmem_cache *c = kmem_cache_alloc_locked(z, &z->cache_cache);

		assert(c);
		mm_unpoison(c, sizeof(*c));
		snprintf(name, sizeof(name), "kmalloc-%u", 1u << (i + MM_KMALLOC_MIN_SHIFT));
		cache_setup(z, c, name, 1u << (i + MM_KMALLOC_MIN_SHIFT), 8);
		z->kmalloc[i] = c;
	}
	z->mag_cache = kmem_cache_alloc_locked(z, &z->cache_cache);
	mm_unpoison(z->mag_cache, sizeof(struct kmem_cache));
	cache_setup(z, z->mag_cache, "mm_mag", sizeof(struct mm_mag), 8);
	z->tslot_cache = kmem_cache_alloc_locked(z, &z->cache_cache);
	mm_unpoison(z->tslot_cache, sizeof(struct kmem_cache));
	cache_setup(z, z->tslot_cache, "mm_tslot", sizeof(struct mm_tslot), 64);
	/* The allocator's own caches are used under the zone lock: no magazines. */
	for (struct kmem_cache *c = z->caches; c; c = c->next)
		if (c == &z->cache_cache || c == z->mag_cache || c == z->tslot_cache) {
			if (c->index < MM_MAX_CACHES)
				z->by_index[c->index] = NULL;
			c->index = MM_NO_MAG;
		}
}

struct kmem_cache *kmem_cache_create(const char *name, size_t size, size_t align)
{
	struct mm_zone *z = mm_cur;
	struct kmem_cache *c;

	if (!size || size > (PAGE_SIZE << 3) / 2 || (align && !IS_POW2(align)) || align > PAGE_SIZE)
		return NULL;
	zone_lock(z);
	c = kmem_cache_alloc_locked(z, &z->cache_cache);
	if (c) {
		mm_unpoison(c, sizeof(*c));
		cache_setup(z, c, name, size, align);
	}
	spin_unlock(&z->lock);
	return c;
}

int kmem_cache_destroy(struct kmem_cache *c)
{
	struct mm_zone *z = mm_cur;
	struct kmem_cache **pp;
	int err = 0;

	mm_drain();
	zone_lock(z);
	if (c->active) {
		err = -EBUSY;
		goto out;
	}
	while (c->partial)
		slab_release(z, c, c->partial - 1);
	for (pp = &z->caches; *pp != c; pp = &(*pp)->next)
		;
	*pp = c->next;
	if (c->index < MM_MAX_CACHES)
		z->by_index[c->index] = NULL;
	kmem_cache_free_locked(z, &z->cache_cache, c);
out:
	spin_unlock(&z->lock);
	return err;
}

/*
 * The magazine's count is stored after the slot it covers is read (pop) or
 * written (push), so a thread killed between the two steps leaves a magazine
 * that the reaper can trust: at worst one object is not found again.
 */
static inline void *mag_pop(struct mm_mag *m)
{
	uint32_t n = m->n - 1;
	void *obj = m->obj[n];

	atomic_signal_fence(memory_order_seq_cst);
	m->n = n;
	return obj;
}

static inline void mag_push(struct mm_mag *m, void *obj)
{
	uint32_t n = m->n;

	m->obj[n] = obj;
	atomic_signal_fence(memory_order_seq_cst);
	m->n = n + 1;
}

/* Slow paths: the thread's magazine is empty, full or missing. */
struct mm_mag *slab_mag_get_locked(struct mm_zone *z, struct mm_tslot *t, unsigned index)
{
	struct mm_mag *m = t->mag[index];

	if (!m) {
		m = slab_take_locked(z, z->mag_cache, true);
		if (m) {
			mm_unpoison(m, sizeof(*m));
			m->n = 0;
			/*
			 * Empty before it is the thread's: the object may have
			 * held anything, and the reaper of a thread killed right
			 * here would free whatever count and slots it found.
			 */
			atomic_signal_fence(memory_order_seq_cst);
			t->mag[index] = m;
			transit_clear(z);
		}
	}
	return m;
}

/* The top object of @m back to its slab. */
static void mag_flush_one_locked(struct mm_zone *z, struct kmem_cache *c, struct mm_mag *m)
{
	transit_set(z, m->obj[m->n - 1]);
	kmem_cache_free_locked(z, c, mag_pop(m));
	transit_clear(z);
}

static __attribute__((noinline)) void *cache_alloc_slow(struct kmem_cache *c, struct mm_tslot *t)
{
	struct mm_zone *z = mm_cur;
	struct mm_mag *m = NULL;
	void *obj;

	zone_lock(z);
	if (t != &mm_no_slot && c->index < MM_MAX_CACHES)
		m = slab_mag_get_locked(z, t, c->index);
	if (!m) {
		/* Named in the slot until the lock is dropped, as in page_alloc_slow. */
		obj = slab_take_locked(z, c, true);
		if (t != &mm_no_slot)
			t->inflight = obj;
		transit_clear(z);
		spin_unlock(&z->lock);
		if (t != &mm_no_slot) {
			atomic_signal_fence(memory_order_seq_cst);
			t->inflight = NULL;
		}
		return obj;
	}
	/*
	 * Take a batch now so the next allocations need no lock, and take
	 * this one from the magazine too, once the lock is dropped: a
	 * thread killed before it has its object leaves it in the magazine,
	 * where the reaper finds it.
	 */
	while (m->n <= MM_MAG_BATCH) {
		void *o = slab_take_locked(z, c, true);

		if (!o)
			break;
		mag_push(m, o);
		transit_clear(z);
	}
	spin_unlock(&z->lock);
	return m->n ? mag_pop(m) : NULL;
}

static __attribute__((noinline)) void cache_free_slow(struct kmem_cache *c, struct mm_tslot *t,
						      void *obj)
{
	struct mm_zone *z = mm_cur;
	struct mm_mag *m = NULL;

	/*
	 * Said before the lock is taken, so that a thread killed on its way
	 * leaves the object where the reaper finds it; under the lock it is
	 * named in z->transit before the slot forgets it (the repair leaves to
	 * the reaper what a slot still names), so that a death anywhere loses
	 * nothing and frees nothing twice.
	 */
	if (t != &mm_no_slot)
		t->inflight = obj;
	zone_lock(z);
	if (t != &mm_no_slot && c->index < MM_MAX_CACHES)
		m = slab_mag_get_locked(z, t, c->index);
	while (m && m->n > MM_MAG_SIZE - MM_MAG_BATCH)
		mag_flush_one_locked(z, c, m);
	/* From the slot to z->transit, and from there to the magazine or slab. */
	transit_set(z, obj);
	if (t != &mm_no_slot)
		t->inflight = NULL;
	atomic_signal_fence(memory_order_seq_cst);
	if (m)
		mag_push(m, obj);
	else
		kmem_cache_free_locked(z, c, obj);
	transit_clear(z);
	spin_unlock(&z->lock);
}

static __attribute__((always_inline)) inline void *cache_alloc_fast(struct kmem_cache *c)
{
	struct mm_tslot *t = tslot_self();
	struct mm_mag *m;
	void *obj;

	if (likely((m = t->mag[c->index]) && m->n))
		obj = mag_pop(m);
	else
		obj = cache_alloc_slow(c, t);
	if (likely(obj)) {
		mm_unpoison(obj, c->objsize);
		debug_on_alloc(c, obj);
	}
	return obj;
}

static __attribute__((always_inline)) inline void cache_free_fast(struct kmem_cache *c, void *obj)
{
	struct mm_tslot *t;
	struct mm_mag *m;

	debug_on_free(c, obj);
	mm_poison(obj, c->size);
	t = tslot_self();
	if (likely((m = t->mag[c->index]) && m->n < MM_MAG_SIZE))
		mag_push(m, obj);
	else
		cache_free_slow(c, t, obj);
}

void *kmem_cache_alloc(struct kmem_cache *c)
{
	return cache_alloc_fast(c);
}

void *kmem_cache_zalloc(struct kmem_cache *c)
{
	void *p = kmem_cache_alloc(c);

	if (p)
		memset(p, 0, c->objsize);
	return p;
}

void kmem_cache_free(struct kmem_cache *c, void *obj)
{
	if (obj)
		cache_free_fast(c, obj);
}

/* 8 -> class 0, 9..16 -> 1, ... 1025..2048 -> 8, without a loop or a table. */
static inline unsigned kmalloc_class(size_t size)
{
	if (size <= (1u << MM_KMALLOC_MIN_SHIFT))
		return 0;
	return (unsigned)(64 - __builtin_clzl(size - 1)) - MM_KMALLOC_MIN_SHIFT;
}

static unsigned pages_order(size_t size)
{
	unsigned order = 0;

	while ((PAGE_SIZE << order) < size)
		order++;
	return order;
}

void *kmalloc(size_t size)
{
	unsigned order;

	if (likely(size - 1 < (1u << MM_KMALLOC_MAX_SHIFT)))
		return cache_alloc_fast(mm_cur->kmalloc[kmalloc_class(size)]);
	if (!size)
		return NULL;
	order = pages_order(size);
	return order < MM_MAX_ORDER ? page_alloc(order) : NULL;
}

void *kzalloc(size_t size)
{
	void *p = kmalloc(size);

	if (p)
		memset(p, 0, size);
	return p;
}

size_t ksize(const void *p)
{
	struct page *pg = mm_page_of(p), *head;

	if (!pg)
		return 0;
	head = &mm_cur->pages[pg->head];
	if (head->flags & PG_SLAB)
		return head->cache->objsize;
	return PAGE_SIZE << head->order;
}

void kfree(const void *p)
{
	struct mm_zone *z = mm_cur;
	struct page *pg;

	if (unlikely(!p))
		return;
#ifdef MM_DEBUG
	if (!mm_page_of(p))
		host_panic("umlmm: kfree of %p, outside the machine's memory", p);
#endif
	/* Every page of a slab names its cache, so no hop to the head page. */
	pg = &z->pages[((const char *)p - z->start) >> PAGE_SHIFT];
	if (likely(pg->flags & PG_SLAB))
		cache_free_fast(pg->cache, (void *)p);
	else
		page_free((void *)p, z->pages[pg->head].order);
}

char *kstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *d = kmalloc(len + 1);

	if (d) {
		memcpy(d, s, len);
		d[len] = '\0';
	}
	return d;
}

/* Objects of @c sitting in thread magazines (racy by nature: a snapshot). */
static uint64_t cached_objects(struct mm_zone *z, const struct kmem_cache *c)
{
	uint64_t n = 0;

	if (c->index >= MM_MAX_CACHES)
		return 0;
	for (unsigned i = 0; i < MM_MAX_TSLOTS; i++) {
		struct mm_tslot *t = z->tslot[i];

		if (t && t->mag[c->index])
			n += READ_ONCE(*(_Atomic uint32_t *)&t->mag[c->index]->n);
	}
	return n;
}

static int ptr_cmp(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;

	return x < y ? -1 : x > y;
}

static bool ptr_in(const uintptr_t *set, size_t n, const void *p)
{
	return bsearch(&(uintptr_t){(uintptr_t)p}, set, n, sizeof(*set), ptr_cmp) != NULL;
}

static unsigned reclaim(struct kmem_cache *c, const void *const *owned, size_t nowned,
			bool (*stray)(void *obj, void *arg), void *arg)
{
	struct mm_zone *z = mm_cur;
	size_t nheld = 0, cap = (size_t)MM_MAX_TSLOTS * (MM_MAG_SIZE + 1);
	uintptr_t *keep = host_map_private((cap + nowned) * sizeof(*keep));
	unsigned freed = 0;

	if (!keep)
		return 0;
	if (nowned) /* kmem_cache_reclaim_if passes none, and memcpy's NULL is undefined */
		memcpy(keep, owned, nowned * sizeof(*keep));
	zone_lock(z);
	/* Free too: whatever a thread's magazine or slot holds of this cache. */
	for (unsigned s = 0; s < MM_MAX_TSLOTS; s++) {
		struct mm_tslot *t = z->tslot[s];
		struct mm_mag *m = t && c->index < MM_MAX_CACHES ? t->mag[c->index] : NULL;

		for (uint32_t i = 0; m && i < m->n && i < MM_MAG_SIZE; i++)
			keep[nowned + nheld++] = (uintptr_t)m->obj[i];
		if (t && t->inflight)
			keep[nowned + nheld++] = (uintptr_t)t->inflight;
	}
	qsort(keep, nowned + nheld, sizeof(*keep), ptr_cmp);
	for (uint32_t idx = 0; idx < z->npages;) {
		struct page *pg = &z->pages[idx];
		uint32_t len = 1u << (pg->order < MM_MAX_ORDER ? pg->order : 0);
		uint64_t isfree[SLAB_MAP_WORDS] = {0};
		char *mem = slab_mem(z, idx);

		if (!(pg->flags & PG_HEAD) || !(pg->flags & PG_SLAB) || pg->cache != c) {
			idx += pg->flags & PG_HEAD ? len : 1;
			continue;
		}
		idx += len; /* before the frees below: the last may release this slab */
		/* A broken list (the repair on takeover cuts such): which are free is unknown. */
		if (slab_free_map(z, c, idx - len, isfree, false) < 0)
			continue;
		for (uint32_t i = c->per_slab; i-- > 0;) {
			char *obj = mem + (size_t)i * c->size;

			if ((isfree[i / 64] >> (i % 64)) & 1 || ptr_in(keep, nowned + nheld, obj) ||
			    (stray && !stray(obj, arg)))
				continue;
			debug_on_reclaim(c, obj);
			mm_poison(obj, c->size);
			kmem_cache_free_locked(z, c, obj);
			freed++;
		}
	}
	spin_unlock(&z->lock);
	host_unmap(keep, (cap + nowned) * sizeof(*keep));
	return freed;
}

unsigned kmem_cache_reclaim(struct kmem_cache *c, const void *const *owned, size_t nowned)
{
	return reclaim(c, owned, nowned, NULL, NULL);
}

unsigned kmem_cache_reclaim_if(struct kmem_cache *c, bool (*stray)(void *obj, void *arg), void *arg)
{
	return reclaim(c, NULL, 0, stray, arg);
}

uint64_t kmem_cache_in_use(struct kmem_cache *c)
{
	struct mm_zone *z = mm_cur;
	uint64_t n;

	zone_lock(z);
	n = c->active - cached_objects(z, c);
	spin_unlock(&z->lock);
	return n;
}

/*
 * /proc/slabinfo version 2.1 layout. Active objects are those handed to users
 * (objects cached in thread magazines count as free); the tunables are 0.
 */
size_t mm_slabinfo(char *buf, size_t size)
{
	struct mm_zone *z = mm_cur;
	size_t n;

	n = (size_t)snprintf(buf, size,
			     "slabinfo - version: 2.1\n"
			     "# name            <active_objs> <num_objs> <objsize> <objperslab> "
			     "<pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : "
			     "slabdata <active_slabs> <num_slabs> <sharedavail>\n");
	zone_lock(z);
	for (struct kmem_cache *c = z->caches; c; c = c->next)
		n += (size_t)snprintf(buf + MIN(n, size), size - MIN(n, size),
				      "%-17s %6llu %6llu %6u %4u %4u : tunables %4u %4u %4u : "
				      "slabdata %6u %6u %6u\n",
				      c->name,
				      (unsigned long long)(c->active - cached_objects(z, c)),
				      (unsigned long long)c->nslabs * c->per_slab, c->size,
				      c->per_slab, 1u << c->order, MM_MAG_SIZE, MM_MAG_BATCH, 0,
				      c->nslabs - c->empty, c->nslabs, 0);
	spin_unlock(&z->lock);
	return n;
}

size_t mm_meminfo(char *buf, size_t size)
{
	struct mm_zone *z = mm_cur;
	uint64_t slab_pages = 0, total, nfree;
	struct mm_stats st;

	mm_stats(&st);
	zone_lock(z);
	for (struct kmem_cache *c = z->caches; c; c = c->next)
		slab_pages += (uint64_t)c->nslabs << c->order;
	total = z->npages;
	nfree = z->nfree;
	spin_unlock(&z->lock);
	return (size_t)snprintf(buf, size,
				"MemTotal:       %8llu kB\nMemFree:        %8llu kB\n"
				"MemUsed:        %8llu kB\nSlab:           %8llu kB\n"
				"Cached:         %8llu kB\nReapedObjects:  %8llu\n",
				(unsigned long long)(total * PAGE_SIZE / 1024),
				(unsigned long long)(nfree * PAGE_SIZE / 1024),
				(unsigned long long)((total - nfree) * PAGE_SIZE / 1024),
				(unsigned long long)(slab_pages * PAGE_SIZE / 1024),
				(unsigned long long)(st.cached_pages * PAGE_SIZE / 1024),
				(unsigned long long)z->reaped_objects);
}
