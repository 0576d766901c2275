/*
 * kernel/mm: memory of the machine. Everything lives in one shared arena
 * mapped before the CPUs (processes) fork, so a pointer into it means the same
 * thing in every process.
 *
 * Pages come from a binary buddy allocator that coalesces on free. Objects of a
 * fixed size come from slab caches carved out of pages; kmalloc() serves
 * variable sizes from power-of-two caches and falls back to whole pages.
 * All of it is safe between processes and never calls the host allocator.
 */
#ifndef UML_MM_H
#define UML_MM_H

#include <stddef.h>
#include <stdint.h>
#include "sync.h"

#define PAGE_SHIFT 12
#define PAGE_SIZE  (1UL << PAGE_SHIFT)
/* Orders 0 .. MM_MAX_ORDER-1; the largest block is 2^(MM_MAX_ORDER-1) pages. */
#define MM_MAX_ORDER 11

#define MM_KMALLOC_MIN_SHIFT 3
#define MM_KMALLOC_MAX_SHIFT 11 /* larger requests take whole pages */
#define MM_KMALLOC_CLASSES   (MM_KMALLOC_MAX_SHIFT - MM_KMALLOC_MIN_SHIFT + 1)

/*
 * Per-thread caches ("magazines"). Each thread that allocates gets a slot in
 * the arena holding, per cache, a small stack of free objects; allocation and
 * free take and put there without any lock or atomic instruction, and only
 * an empty or full magazine goes to the shared slabs, in batches, under the
 * zone lock. Slots live in the arena, not in the thread, so that when a
 * thread or its whole process dies the objects it held are found and given
 * back (mm_reap).
 */
#define MM_MAX_CACHES  64 /* caches with magazines; index MM_MAX_CACHES is order-0 pages */
#define MM_NO_MAG      (MM_MAX_CACHES + 1) /* index of caches without magazines: always NULL */
#define MM_MAG_SIZE    32		   /* objects per magazine */
#define MM_MAG_BATCH   16		   /* objects moved per refill or flush */
#define MM_MAX_TSLOTS  256 /* threads with caches at once; others take the locked path */
#define MM_MIN_PARTIAL 2   /* empty slabs a cache keeps before giving pages back */

struct mm_mag {
	uint32_t n; /* objects held; changed only by the owning thread */
	uint32_t pad;
	void *obj[MM_MAG_SIZE];
};

/* One thread's caches. tid is guarded by zone.lock; mag[i]->n by the owner. */
struct mm_tslot {
	_Atomic uint32_t tid; /* owner thread, 0 = free */
	uint32_t pid;
	void *inflight; /* an object or block between the slabs and its user: the reaper frees it */
	struct mm_mag *mag[MM_MAX_CACHES + 2];
};

#define PG_FREE 0x1 /* head of a free buddy block */
#define PG_HEAD 0x2 /* head of an allocated block */
#define PG_SLAB 0x4 /* block belongs to a slab cache */
#define PG_LOST 0x8 /* in no block nor free: seen so by a repair, which frees it */

struct kmem_cache;

/* One per page of the managed area. Guarded by mm_zone.lock. */
struct page {
	uint32_t next, prev;	       /* free-list links (page indices), when PG_FREE */
	uint8_t order;		       /* block order, valid on heads */
	uint8_t flags;		       /* PG_* */
	uint16_t inuse;		       /* slab: objects handed out */
	uint32_t freelist;	       /* slab: offset+1 of the first free object, 0 = none */
	uint32_t head;		       /* index of the head page of the allocated block */
	struct kmem_cache *cache;      /* slab: owner */
	uint32_t slab_next, slab_prev; /* slab: partial-list links (page index + 1) */
};

struct kmem_cache {
	char name[32];
	uint32_t index;	  /* slot in each thread's magazines; MM_NO_MAG: none */
	uint32_t empty;	  /* empty slabs kept (at most MM_MIN_PARTIAL) */
	uint32_t size;	  /* object size after alignment */
	uint32_t objsize; /* size asked for */
	uint32_t align;
	uint32_t order;	   /* pages per slab = 1 << order */
	uint32_t per_slab; /* objects in one slab */
	uint32_t partial;  /* page index + 1 of the first slab with free objects */
	uint32_t nslabs;   /* slabs owned */
	uint64_t active;   /* objects handed out */
	struct kmem_cache *next;
};

struct mm_free_area {
	uint32_t head;	/* page index + 1 of the first free block, 0 = empty */
	uint32_t count; /* free blocks of this order */
};

struct mm_zone {
	/* Guards everything below and all struct page. LOCK_RANK_ZONE, innermost (uml/sync.h). */
	spinlock_t lock;
	struct page *pages; /* descriptors, one per managed page */
	char *start;	    /* first managed page */
	uint32_t npages;    /* managed pages */
	uint32_t nfree;	    /* free pages */
	struct mm_free_area free[MM_MAX_ORDER];
	struct kmem_cache *caches;			/* every cache, for slabinfo */
	struct kmem_cache *kmalloc[MM_KMALLOC_CLASSES]; /* 8 .. 2048 bytes */
	struct kmem_cache cache_cache;			/* where struct kmem_cache come from */
	struct kmem_cache *mag_cache;			/* struct mm_mag */
	struct kmem_cache *tslot_cache;			/* struct mm_tslot */
	struct kmem_cache *by_index[MM_MAX_CACHES];
	struct mm_tslot *tslot[MM_MAX_TSLOTS];
	/*
	 * Page index + 1 of the block being made into a slab or given back
	 * from one (slab_grow, slab_release), 0 = none: a holder that dies in
	 * between leaves a block that neither the free lists nor a cache
	 * would ever find again, and the repair frees it from here.
	 */
	uint32_t slab_block;
	/*
	 * The object or block the lock's holder is moving between the slabs
	 * or free lists and a magazine or slot, NULL = none: a holder killed
	 * in the middle leaves it in neither, and the repair gives it back
	 * unless it is free or some magazine or slot holds it (mm_transit).
	 */
	void *transit;
	uint64_t reaped_objects; /* objects recovered from dead threads */
	uint64_t repairs; /* times the lock was taken from a dead holder and the lists rebuilt */
};

/* Set up the zone over [start, start+size) (page aligned). Called once, at boot. */
int mm_init(struct mm_zone *z, void *start, size_t size);
/* Point this process at an already booted zone (after fork or DSO reload). */
void mm_use(struct mm_zone *z);
struct mm_zone *mm_zone(void);

/* 2^order contiguous pages, or NULL when no block is free. */
void *page_alloc(unsigned order);
void page_free(void *addr, unsigned order);
/* The descriptor of the page holding @addr, or NULL when outside the zone. */
struct page *mm_page_of(const void *addr);

/*
 * A cache of @size-byte objects aligned to @align (0: natural). Returns NULL
 * when out of memory or the arguments are out of range (@size above 16 KiB,
 * @align not a power of two or above a page).
 */
struct kmem_cache *kmem_cache_create(const char *name, size_t size, size_t align);
/* Free a cache whose objects have all been freed; -EBUSY otherwise. */
int kmem_cache_destroy(struct kmem_cache *c);
/* Give the empty slabs of every cache back to the page allocator. Returns pages freed. */
size_t mm_shrink(void);
/*
 * Give back the cached objects and pages of threads that have exited
 * (including every thread of a process killed by SIGKILL). Returns the
 * number of threads reaped. Cheap when there are none.
 */
int mm_reap(void);
/* Return the calling thread's cached objects and pages to the shared pool. */
void mm_drain(void);
void *kmem_cache_alloc(struct kmem_cache *c);
void *kmem_cache_zalloc(struct kmem_cache *c);
void kmem_cache_free(struct kmem_cache *c, void *obj);
/*
 * Objects of @c handed out and not yet freed (those in thread magazines are
 * free). Exact only while nobody allocates from or frees to @c, e.g. under
 * the lock its users hold around both.
 */
uint64_t kmem_cache_in_use(struct kmem_cache *c);
/*
 * Free every object of @c that is handed out but neither among @owned (the
 * @nowned objects its users hold, sorted or not) nor in a thread's
 * magazine or slot: what a process killed between taking an object and
 * linking it, or between unlinking one and freeing it, left behind. Only
 * while nobody else allocates from or frees to @c (under the lock its
 * users hold around both). Returns how many it freed.
 */
unsigned kmem_cache_reclaim(struct kmem_cache *c, const void *const *owned, size_t nowned);
/*
 * The same for a cache whose users allocate and free without a common lock:
 * free each object handed out, in no thread's magazine or slot, for which
 * @stray says yes (it runs under the zone's lock: no allocation, no host
 * call). @stray must say no to every object a living user holds, and to an
 * object whose allocation has just returned, before its caller wrote to it
 * (a user marks what it frees, before the free, so that the mark stays).
 * @stray may write to an object it says yes to -- clear the marks that made
 * it say so -- since the allocator may lose a free object again when a
 * thread dies in it, and a lost object must not look like a stray twice.
 */
unsigned kmem_cache_reclaim_if(struct kmem_cache *c, bool (*stray)(void *obj, void *arg),
			       void *arg);

/* Variable-size allocations; NULL when out of memory or @size is 0. */
void *kmalloc(size_t size);
void *kzalloc(size_t size);
void kfree(const void *p);
/* Usable size of a kmalloc'd block. */
size_t ksize(const void *p);
char *kstrndup(const char *s, size_t n);

struct mm_stats {
	uint64_t total_pages, free_pages;
	uint64_t cached_pages; /* order-0 pages held in thread caches */
	uint32_t free_blocks[MM_MAX_ORDER];
};
void mm_stats(struct mm_stats *st);
/*
 * Render /proc/buddyinfo- and /proc/slabinfo-style text into @buf (at most
 * @size bytes). Returns the length the full text needs.
 */
size_t mm_buddyinfo(char *buf, size_t size);
size_t mm_slabinfo(char *buf, size_t size);
size_t mm_meminfo(char *buf, size_t size);

struct kcheck;
/* Audit the free lists, slabs and thread caches into @r (uml/check.h). */
void mm_check(struct kcheck *r);

#endif
