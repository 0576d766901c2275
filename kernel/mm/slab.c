/*
 * Slab caches: objects of one size carved out of buddy blocks. A slab is a
 * block of 2^order pages; its head page's descriptor holds the slab's free
 * list (threaded through the free objects themselves, as offsets) and its use
 * count. Slabs with free objects sit on the cache's partial list; a slab that
 * becomes empty goes back to the page allocator at once, so memory returns to
 * the buddy system and can coalesce.
 *
 * kmalloc() uses power-of-two caches up to 2 KiB and whole pages above.
 * Everything is guarded by zone.lock.
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "uml/mm.h"
#include "mm_internal.h"

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
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	if (align < sizeof(uint32_t))
		align = sizeof(uint32_t);
	c->objsize = (uint32_t)size;
	c->align = (uint32_t)align;
	c->size = (uint32_t)ALIGN_UP(MAX(size, sizeof(uint32_t)), align);
	c->order = slab_order(c->size);
	c->per_slab = (uint32_t)((PAGE_SIZE << c->order) / c->size);
	c->next = z->caches;
	z->caches = c;
}

static struct page *slab_head(struct mm_zone *z, uint32_t idx)
{
	return &z->pages[idx];
}

static void partial_add(struct mm_zone *z, struct kmem_cache *c, uint32_t idx)
{
	struct page *pg = slab_head(z, idx);

	pg->slab_prev = 0;
	pg->slab_next = c->partial;
	if (c->partial)
		z->pages[c->partial - 1].slab_prev = idx + 1;
	c->partial = idx + 1;
}

static void partial_del(struct mm_zone *z, struct kmem_cache *c, uint32_t idx)
{
	struct page *pg = slab_head(z, idx);

	if (pg->slab_prev)
		z->pages[pg->slab_prev - 1].slab_next = pg->slab_next;
	else
		c->partial = pg->slab_next;
	if (pg->slab_next)
		z->pages[pg->slab_next - 1].slab_prev = pg->slab_prev;
	pg->slab_next = pg->slab_prev = 0;
}

/* A new slab with every object on its free list, put on the partial list. */
static int slab_grow(struct mm_zone *z, struct kmem_cache *c)
{
	char *mem = page_alloc_locked(z, c->order);
	uint32_t idx, off;
	struct page *pg;

	if (!mem)
		return -1;
	idx = (uint32_t)((mem - z->start) >> PAGE_SHIFT);
	for (uint32_t i = 0; i < (1u << c->order); i++) {
		z->pages[idx + i].flags |= PG_SLAB;
		z->pages[idx + i].cache = c;
	}
	pg = slab_head(z, idx);
	pg->inuse = 0;
	/* Free objects hold the offset+1 of the next free object; 0 ends the list. */
	for (off = 0; off < c->per_slab * c->size; off += c->size)
		*(uint32_t *)(mem + off) = off + c->size < c->per_slab * c->size ? off + c->size + 1 : 0;
	pg->freelist = 1;
	partial_add(z, c, idx);
	c->nslabs++;
	return 0;
}

static void *cache_alloc_locked(struct mm_zone *z, struct kmem_cache *c)
{
	struct page *pg;
	uint32_t idx;
	char *obj;

	if (!c->partial && slab_grow(z, c))
		return NULL;
	idx = c->partial - 1;
	pg = slab_head(z, idx);
	obj = z->start + ((size_t)idx << PAGE_SHIFT) + pg->freelist - 1;
	pg->freelist = *(uint32_t *)obj;
	pg->inuse++;
	if (!pg->freelist)
		partial_del(z, c, idx);
	c->active++;
	return obj;
}

static void cache_free_locked(struct mm_zone *z, struct kmem_cache *c, void *obj)
{
	struct page *tail = mm_page_of(obj);
	uint32_t idx = tail->head;
	struct page *pg = slab_head(z, idx);
	char *mem = z->start + ((size_t)idx << PAGE_SHIFT);
	uint32_t off = (uint32_t)((char *)obj - mem);

	assert((pg->flags & PG_SLAB) && pg->cache == c && off % c->size == 0);
	if (!pg->freelist)
		partial_add(z, c, idx);
	*(uint32_t *)obj = pg->freelist;
	pg->freelist = off + 1;
	pg->inuse--;
	c->active--;
	if (pg->inuse == 0) {
		/* Give the empty slab back so its pages can coalesce. */
		partial_del(z, c, idx);
		for (uint32_t i = 0; i < (1u << c->order); i++) {
			z->pages[idx + i].flags &= (uint8_t)~PG_SLAB;
			z->pages[idx + i].cache = NULL;
		}
		c->nslabs--;
		page_free_locked(z, mem, c->order);
	}
}

void slab_init(struct mm_zone *z)
{
	char name[32];

	cache_setup(z, &z->cache_cache, "kmem_cache", sizeof(struct kmem_cache),
		    _Alignof(struct kmem_cache));
	for (unsigned i = 0; i < MM_KMALLOC_CLASSES; i++) {
		struct kmem_cache *c = cache_alloc_locked(z, &z->cache_cache);

		assert(c);
		snprintf(name, sizeof(name), "kmalloc-%u", 1u << (i + MM_KMALLOC_MIN_SHIFT));
		cache_setup(z, c, name, 1u << (i + MM_KMALLOC_MIN_SHIFT), 8);
		z->kmalloc[i] = c;
	}
}

struct kmem_cache *kmem_cache_create(const char *name, size_t size, size_t align)
{
	struct mm_zone *z = mm_cur;
	struct kmem_cache *c;

	if (!size || size > (PAGE_SIZE << 3) / 2 || (align && !IS_POW2(align)) ||
	    align > PAGE_SIZE)
		return NULL;
	spin_lock(&z->lock);
	c = cache_alloc_locked(z, &z->cache_cache);
	if (c)
		cache_setup(z, c, name, size, align);
	spin_unlock(&z->lock);
	return c;
}

void *kmem_cache_alloc(struct kmem_cache *c)
{
	struct mm_zone *z = mm_cur;
	void *p;

	spin_lock(&z->lock);
	p = cache_alloc_locked(z, c);
	spin_unlock(&z->lock);
	return p;
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
	struct mm_zone *z = mm_cur;

	if (!obj)
		return;
	spin_lock(&z->lock);
	cache_free_locked(z, c, obj);
	spin_unlock(&z->lock);
}

static unsigned kmalloc_class(size_t size)
{
	unsigned shift = MM_KMALLOC_MIN_SHIFT;

	while (((size_t)1 << shift) < size)
		shift++;
	return shift - MM_KMALLOC_MIN_SHIFT;
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

	if (!size)
		return NULL;
	if (size <= (1u << MM_KMALLOC_MAX_SHIFT))
		return kmem_cache_alloc(mm_cur->kmalloc[kmalloc_class(size)]);
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
	struct page *pg, *head;

	if (!p)
		return;
	pg = mm_page_of(p);
	assert(pg);
	head = &mm_cur->pages[pg->head];
	if (head->flags & PG_SLAB)
		kmem_cache_free(head->cache, (void *)p);
	else
		page_free((void *)p, head->order);
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

/* /proc/slabinfo version 2.1 layout; tunables are always 0 here. */
size_t mm_slabinfo(char *buf, size_t size)
{
	struct mm_zone *z = mm_cur;
	size_t n;

	n = (size_t)snprintf(buf, size,
			     "slabinfo - version: 2.1\n"
			     "# name            <active_objs> <num_objs> <objsize> <objperslab> "
			     "<pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : "
			     "slabdata <active_slabs> <num_slabs> <sharedavail>\n");
	spin_lock(&z->lock);
	for (struct kmem_cache *c = z->caches; c; c = c->next)
		n += (size_t)snprintf(buf + MIN(n, size), size - MIN(n, size),
				      "%-17s %6llu %6llu %6u %4u %4u : tunables %4u %4u %4u : "
				      "slabdata %6u %6u %6u\n",
				      c->name, (unsigned long long)c->active,
				      (unsigned long long)c->nslabs * c->per_slab, c->size,
				      c->per_slab, 1u << c->order, 0, 0, 0, c->nslabs, c->nslabs, 0);
	spin_unlock(&z->lock);
	return n;
}

size_t mm_meminfo(char *buf, size_t size)
{
	struct mm_zone *z = mm_cur;
	uint64_t slab_pages = 0, total, nfree;

	spin_lock(&z->lock);
	for (struct kmem_cache *c = z->caches; c; c = c->next)
		slab_pages += (uint64_t)c->nslabs << c->order;
	total = z->npages;
	nfree = z->nfree;
	spin_unlock(&z->lock);
	return (size_t)snprintf(buf, size,
				"MemTotal:       %8llu kB\nMemFree:        %8llu kB\n"
				"MemUsed:        %8llu kB\nSlab:           %8llu kB\n",
				(unsigned long long)(total * PAGE_SIZE / 1024),
				(unsigned long long)(nfree * PAGE_SIZE / 1024),
				(unsigned long long)((total - nfree) * PAGE_SIZE / 1024),
				(unsigned long long)(slab_pages * PAGE_SIZE / 1024));
}
