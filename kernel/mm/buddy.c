/*
 * The page allocator: a binary buddy system over the managed pages of the
 * arena. A block of order o is 2^o pages whose first page index is a
 * multiple of 2^o; its buddy is the block at index ^ 2^o. Freeing merges a
 * block with its free buddy, repeatedly, so free memory coalesces back into
 * large blocks.
 *
 * One spinlock (zone.lock) guards the free lists and every struct page, and
 * slab state too (kernel/mm/slab.c). It is held for tens of instructions.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "uml/mm.h"
#include "mm_internal.h"

struct mm_zone *mm_cur;

struct mm_zone *mm_zone(void)
{
	return mm_cur;
}

void mm_use(struct mm_zone *z)
{
	mm_cur = z;
	mm_epoch++;
}

static void free_list_add(struct mm_zone *z, uint32_t idx, unsigned order)
{
	struct mm_free_area *fa = &z->free[order];
	struct page *pg = &z->pages[idx];

	/* The order before the flag: a repair trusts the order of what is flagged. */
	pg->order = (uint8_t)order;
	atomic_signal_fence(memory_order_seq_cst);
	pg->flags = PG_FREE;
	pg->prev = 0;
	pg->next = fa->head;
	if (fa->head)
		z->pages[fa->head - 1].prev = idx + 1;
	fa->head = idx + 1;
	fa->count++;
}

static void free_list_del(struct mm_zone *z, uint32_t idx, unsigned order)
{
	struct mm_free_area *fa = &z->free[order];
	struct page *pg = &z->pages[idx];

	if (pg->prev)
		z->pages[pg->prev - 1].next = pg->next;
	else
		fa->head = pg->next;
	if (pg->next)
		z->pages[pg->next - 1].prev = pg->prev;
	pg->flags = 0;
	pg->next = pg->prev = 0;
	fa->count--;
}

/*
 * The free lists again from the page descriptors (zone lock taken over from
 * a dead holder): every free head that is where a block of its order can be
 * goes back on its list; pages a split or a merge left neither free nor in
 * a block are freed one by one, merging with their buddies. Returns how
 * many pages were found that way.
 */
unsigned page_repair_locked(struct mm_zone *z)
{
	uint32_t idx, nfree = 0;
	unsigned lost = 0;

	for (unsigned o = 0; o < MM_MAX_ORDER; o++)
		z->free[o] = (struct mm_free_area){0};
	for (idx = 0; idx < z->npages;) {
		struct page *pg = &z->pages[idx];
		uint32_t len = pg->order < MM_MAX_ORDER ? 1u << pg->order : 0;

		if (len && !(idx & (len - 1)) && idx + len <= z->npages &&
		    (pg->flags == PG_FREE || (pg->flags & PG_HEAD))) {
			if (pg->flags == PG_FREE) {
				free_list_add(z, idx, pg->order);
				nfree += len;
			}
			idx += len;
			continue;
		}
		pg->flags = PG_LOST;
		idx++;
	}
	z->nfree = nfree;
	/*
	 * Every page is looked at, not block by block: a lost page freed here
	 * may merge with free blocks after it, and the page that was the head
	 * of one of those is no longer a head nor lost. Lost pages are never
	 * merged with, since they carry no PG_FREE.
	 */
	for (idx = 0; idx < z->npages; idx++) {
		struct page *pg = &z->pages[idx];

		if (pg->flags != PG_LOST)
			continue;
		pg->flags = PG_HEAD;
		pg->order = 0;
		pg->head = idx;
		page_free_locked(z, z->start + ((size_t)idx << PAGE_SHIFT), 0);
		lost++;
	}
	return lost;
}

int mm_init(struct mm_zone *z, void *start, size_t size)
{
	char *base = start;
	uint32_t npages, idx;

	memset(z, 0, sizeof(*z));
	spin_lock_init_rank(&z->lock, LOCK_RANK_ZONE);
	/* Descriptors first, then the pages they describe. */
	npages = (uint32_t)(size / (PAGE_SIZE + sizeof(struct page)));
	while (npages && ALIGN_UP((uintptr_t)base + npages * sizeof(struct page), PAGE_SIZE) +
				 (uintptr_t)npages * PAGE_SIZE >
			     (uintptr_t)base + size)
		npages--;
	if (npages < 16)
		return -ENOMEM;
	z->pages = (struct page *)base;
	memset(z->pages, 0, npages * sizeof(struct page));
	z->start = (char *)ALIGN_UP((uintptr_t)base + npages * sizeof(struct page), PAGE_SIZE);
	z->npages = npages;

	for (idx = 0; idx < npages;) {
		unsigned order = MM_MAX_ORDER - 1;

		while (order && ((idx & ((1u << order) - 1)) || idx + (1u << order) > npages))
			order--;
		free_list_add(z, idx, order);
		idx += 1u << order;
	}
	z->nfree = npages;
	/* Free memory is poisoned for ASan; every allocation path unpoisons what it hands out. */
	mm_asan_setup(z);
	mm_poison(z->start, (size_t)npages << PAGE_SHIFT);
	slab_init(z);
	mm_use(z);
	return 0;
}

void *page_alloc_locked(struct mm_zone *z, unsigned order)
{
	unsigned o = order;
	uint32_t idx;

	while (o < MM_MAX_ORDER && !z->free[o].head)
		o++;
	if (o >= MM_MAX_ORDER)
		return NULL;
	idx = z->free[o].head - 1;
	free_list_del(z, idx, o);
	while (o > order) {
		o--;
		free_list_add(z, idx + (1u << o), o);
	}
	for (uint32_t i = 0; i < (1u << order); i++) {
		z->pages[idx + i].head = idx;
		z->pages[idx + i].flags = 0;
	}
	/*
	 * As in free_list_add: a head flagged with the order of the block it
	 * was split from would hide the free halves inside it from a repair.
	 */
	z->pages[idx].order = (uint8_t)order;
	atomic_signal_fence(memory_order_seq_cst);
	z->pages[idx].flags = PG_HEAD;
	z->nfree -= 1u << order;
	return z->start + ((size_t)idx << PAGE_SHIFT);
}

void page_free_locked(struct mm_zone *z, void *addr, unsigned order)
{
	uint32_t idx = (uint32_t)(((char *)addr - z->start) >> PAGE_SHIFT);

	assert(((uintptr_t)addr & (PAGE_SIZE - 1)) == 0 && idx < z->npages);
	assert(z->pages[idx].flags & PG_HEAD && z->pages[idx].order == order);
	z->pages[idx].flags = 0;
	z->nfree += 1u << order;
	while (order < MM_MAX_ORDER - 1) {
		uint32_t buddy = idx ^ (1u << order);

		if (buddy >= z->npages || !(z->pages[buddy].flags & PG_FREE) ||
		    z->pages[buddy].order != order)
			break;
		free_list_del(z, buddy, order);
		idx &= ~(1u << order);
		order++;
	}
	free_list_add(z, idx, order);
}

/* Order-0 pages go through the thread's page magazine, like slab objects. */
static __attribute__((noinline)) void *page_alloc_slow(struct mm_zone *z, unsigned order)
{
	struct mm_tslot *t = tslot_self();
	struct mm_mag *m = NULL;
	void *p;

	zone_lock(z);
	if (order == 0 && t != &mm_no_slot)
		m = slab_mag_get_locked(z, t, MM_PAGE_MAG);
	p = page_alloc_locked(z, order);
	if (!p) {
		/* Pages held by dead threads and kept empty slabs can serve. */
		tcache_reap_locked(z);
		slab_shrink_locked(z);
		p = page_alloc_locked(z, order);
	}
	/*
	 * Until the lock is dropped, the block handed out must be where the
	 * reaper finds it if this thread is killed: an order-0 page goes
	 * through the magazine (taken from it after the unlock), a larger
	 * block is named in the slot until then; and on its way there in
	 * z->transit, where the zone's repair finds it.
	 */
	if (p)
		transit_set(z, p);
	if (p && m) {
		m->obj[m->n] = p;
		atomic_signal_fence(memory_order_seq_cst);
		m->n++;
		transit_clear(z);
		while (m->n <= MM_MAG_BATCH / 2) {
			void *q = page_alloc_locked(z, 0);

			if (!q)
				break;
			transit_set(z, q);
			m->obj[m->n] = q;
			atomic_signal_fence(memory_order_seq_cst);
			m->n++;
			transit_clear(z);
		}
	} else if (p && t != &mm_no_slot) {
		t->inflight = p;
	}
	transit_clear(z);
	spin_unlock(&z->lock);
	if (p && m) {
		uint32_t n = m->n - 1;

		p = m->obj[n];
		atomic_signal_fence(memory_order_seq_cst);
		m->n = n;
	} else if (p && t != &mm_no_slot) {
		atomic_signal_fence(memory_order_seq_cst);
		t->inflight = NULL;
	}
	return p;
}

void *page_alloc(unsigned order)
{
	struct mm_zone *z = mm_cur;
	struct mm_mag *m;
	void *p;

	if (order >= MM_MAX_ORDER)
		return NULL;
	if (order == 0 && (m = tslot_self()->mag[MM_PAGE_MAG]) && m->n) {
		uint32_t n = m->n - 1;

		p = m->obj[n];
		atomic_signal_fence(memory_order_seq_cst);
		m->n = n;
	} else {
		p = page_alloc_slow(z, order);
	}
	if (p)
		mm_unpoison(p, PAGE_SIZE << order);
	return p;
}

static __attribute__((noinline)) void page_free_slow(struct mm_zone *z, void *addr, unsigned order)
{
	struct mm_tslot *t = tslot_self();

	/* As in cache_free_slow: killed on its way, it leaves the block to the reaper. */
	if (t != &mm_no_slot)
		t->inflight = addr;
	zone_lock(z);
	transit_set(z, addr);
	if (t != &mm_no_slot)
		t->inflight = NULL;
	atomic_signal_fence(memory_order_seq_cst);
	page_free_locked(z, addr, order);
	transit_clear(z);
	spin_unlock(&z->lock);
}

void page_free(void *addr, unsigned order)
{
	struct mm_zone *z = mm_cur;
	struct mm_mag *m;

	if (!addr)
		return;
	mm_poison(addr, PAGE_SIZE << order);
	if (order == 0 && (m = tslot_self()->mag[MM_PAGE_MAG]) && m->n < MM_MAG_SIZE / 2) {
		uint32_t n = m->n;

		m->obj[n] = addr;
		atomic_signal_fence(memory_order_seq_cst);
		m->n = n + 1;
		return;
	}
	page_free_slow(z, addr, order);
}

struct page *mm_page_of(const void *addr)
{
	struct mm_zone *z = mm_cur;
	const char *p = addr;

	if (!z || p < z->start || p >= z->start + ((size_t)z->npages << PAGE_SHIFT))
		return NULL;
	return &z->pages[(p - z->start) >> PAGE_SHIFT];
}

void mm_stats(struct mm_stats *st)
{
	struct mm_zone *z = mm_cur;

	zone_lock(z);
	st->total_pages = z->npages;
	st->free_pages = z->nfree;
	st->cached_pages = 0;
	for (unsigned i = 0; i < MM_MAX_TSLOTS; i++)
		if (z->tslot[i] && z->tslot[i]->mag[MM_PAGE_MAG])
			st->cached_pages += z->tslot[i]->mag[MM_PAGE_MAG]->n;
	for (unsigned o = 0; o < MM_MAX_ORDER; o++)
		st->free_blocks[o] = z->free[o].count;
	spin_unlock(&z->lock);
}

/* Same layout as Linux's /proc/buddyinfo, so existing parsers read it. */
size_t mm_buddyinfo(char *buf, size_t size)
{
	struct mm_stats st;
	size_t n;

	mm_stats(&st);
	n = (size_t)snprintf(buf, size, "Node 0, zone %8s ", "Normal");
	for (unsigned o = 0; o < MM_MAX_ORDER; o++)
		n += (size_t)snprintf(buf + MIN(n, size), size - MIN(n, size), "%6u ",
				      st.free_blocks[o]);
	n += (size_t)snprintf(buf + MIN(n, size), size - MIN(n, size), "\n");
	return n;
}
