/*
 * Allocator figures for issue "kernel/mm", each against its peers in one run.
 *
 *   mmbench pairs ALLOC SIZE N    N alloc+free pairs of SIZE bytes with a window of
 *                                 64 live objects (freed first-in first-out);
 *                                 ALLOC: slab (a kmem_cache per size), kmalloc, glibc,
 *                                 jemalloc, mimalloc (the latter two when linked in),
 *                                 none (the loop alone, to subtract).
 *                                 Prints ns per pair. Under callgrind the loop is the
 *                                 function bench_pairs, so --toggle-collect counts it alone.
 *   mmbench scale NPROC N         N slab pairs in each of NPROC processes sharing one
 *                                 machine; prints total pairs per second.
 *   mmbench frag                  fragmentation after a churn (see below), buddy vs a
 *                                 no-coalescing allocator fed the same sequence.
 *   mmbench overhead              metadata bytes per object for each kmalloc class.
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "uml.h"
#include "uml/mm.h"

#ifdef HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif
#ifdef HAVE_MIMALLOC
#include <mimalloc.h>
#endif

#define WINDOW 64

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

enum which { SLAB, KMALLOC, GLIBC, JEMALLOC, MIMALLOC, NONE };

/* NONE measures the loop alone, to subtract from the others. */
static char none_obj[4096];

static struct kmem_cache *bench_cache;

static inline void *do_alloc(enum which w, size_t size)
{
	switch (w) {
	case SLAB:
		return kmem_cache_alloc(bench_cache);
	case KMALLOC:
		return kmalloc(size);
	case GLIBC:
		return malloc(size);
	case NONE:
		return none_obj;
#ifdef HAVE_JEMALLOC
	case JEMALLOC:
		return mallocx(size, 0);
#endif
#ifdef HAVE_MIMALLOC
	case MIMALLOC:
		return mi_malloc(size);
#endif
	default:
		abort();
	}
}

static inline void do_free(enum which w, void *p)
{
	switch (w) {
	case SLAB:
		kmem_cache_free(bench_cache, p);
		break;
	case KMALLOC:
		kfree(p);
		break;
	case GLIBC:
		free(p);
		break;
	case NONE:
		break;
#ifdef HAVE_JEMALLOC
	case JEMALLOC:
		dallocx(p, 0);
		break;
#endif
#ifdef HAVE_MIMALLOC
	case MIMALLOC:
		mi_free(p);
		break;
#endif
	default:
		abort();
	}
}

/* The measured loop: one free of the oldest object and one allocation per step. */
__attribute__((noinline)) void bench_pairs(enum which w, size_t size, long n, void **win)
{
	for (long i = 0; i < n; i++) {
		void **slot = &win[i & (WINDOW - 1)];

		do_free(w, *slot);
		*slot = do_alloc(w, size);
		*(volatile char *)*slot = 1;
	}
}

static int cmd_pairs(const char *name, size_t size, long n)
{
	static const char *names[] = {"slab", "kmalloc", "glibc", "jemalloc", "mimalloc", "none"};
	void *win[WINDOW];
	enum which w = SLAB;
	uint64_t t0;

	while (w <= NONE && strcmp(names[w], name))
		w++;
	if (w > NONE)
		return 2;
	if (w == SLAB || w == KMALLOC) {
		struct uml_boot_params bp = {.memory = 64 << 20};

		if (uml_boot(&bp))
			return 1;
		bench_cache = kmem_cache_create("bench", size, 0);
	}
	for (int i = 0; i < WINDOW; i++)
		win[i] = do_alloc(w, size);
	bench_pairs(w, size, n / 10, win); /* warm up */
	t0 = now_ns();
	bench_pairs(w, size, n, win);
	printf("%.2f\n", (double)(now_ns() - t0) / (double)n);
	return 0;
}

static int cmd_scale(int nproc, long n)
{
	struct uml_boot_params bp = {.memory = 64 << 20};
	uint64_t t0;

	if (uml_boot(&bp))
		return 1;
	bench_cache = kmem_cache_create("bench", 64, 0);
	t0 = now_ns();
	for (int i = 0; i < nproc; i++) {
		if (fork() == 0) {
			void *win[WINDOW];

			for (int k = 0; k < WINDOW; k++)
				win[k] = kmem_cache_alloc(bench_cache);
			bench_pairs(SLAB, 64, n, win);
			_exit(0);
		}
	}
	while (wait(NULL) > 0)
		;
	printf("%.0f\n", (double)n * nproc / ((double)(now_ns() - t0) / 1e9));
	return 0;
}

/*
 * Fragmentation: allocate random orders 0..5 until 80% of the pages are
 * used, churn for CHURN steps (free a random block, allocate a random order)
 * at that occupancy, then free a random half of the blocks. Report the share
 * of free pages that sit in blocks of order >= 4, and how many allocations
 * failed during the churn although enough pages were free. The baseline is a
 * buddy-shaped allocator that splits but never merges, fed the same sequence.
 */
#define CHURN	   50000
#define FRAG_PAGES 8192

struct nc_alloc {
	uint32_t *free[MM_MAX_ORDER]; /* stacks of free block indices per order */
	uint32_t n[MM_MAX_ORDER];
};

static long nc_get(struct nc_alloc *a, unsigned order)
{
	unsigned o = order;

	while (o < MM_MAX_ORDER && !a->n[o])
		o++;
	if (o >= MM_MAX_ORDER)
		return -1;
	uint32_t idx = a->free[o][--a->n[o]];
	while (o > order) {
		o--;
		a->free[o][a->n[o]++] = idx + (1u << o);
	}
	return idx;
}

static int cmd_frag(void)
{
	struct uml_boot_params bp = {.memory = (FRAG_PAGES + 256) * PAGE_SIZE};
	static struct {
		void *p;
		long nc;
		unsigned order;
	} blk[FRAG_PAGES];
	struct nc_alloc nc = {{0}, {0}};
	uint64_t used = 0, total, big = 0, nc_big = 0, freepages = 0, nc_free = 0;
	long fails = 0, nc_fails = 0;
	struct mm_stats st;
	int nb = 0;

	if (uml_boot(&bp))
		return 1;
	mm_drain();
	mm_stats(&st);
	total = st.free_pages;
	for (unsigned o = 0; o < MM_MAX_ORDER; o++)
		nc.free[o] = calloc(FRAG_PAGES, sizeof(uint32_t));
	/* The baseline starts from the same free blocks as the buddy allocator. */
	for (uint32_t idx = 0; idx < total;) {
		unsigned o = MM_MAX_ORDER - 1;

		while (o && ((idx & ((1u << o) - 1)) || idx + (1u << o) > total))
			o--;
		nc.free[o][nc.n[o]++] = idx;
		idx += 1u << o;
	}
	srand(1);
	while (used < total * 8 / 10) {
		unsigned o = (unsigned)(rand() % 6);

		blk[nb].p = page_alloc(o);
		blk[nb].nc = nc_get(&nc, o);
		if (!blk[nb].p || blk[nb].nc < 0)
			break;
		blk[nb].order = o;
		used += 1u << o;
		nb++;
	}
	for (int step = 0; step < CHURN && nb > 0; step++) {
		int k = rand() % nb;
		unsigned o = (unsigned)(rand() % 6);
		void *p;
		long q;

		page_free(blk[k].p, blk[k].order);
		nc.free[blk[k].order][nc.n[blk[k].order]++] = (uint32_t)blk[k].nc;
		blk[k] = blk[--nb];
		p = page_alloc(o);
		q = nc_get(&nc, o);
		fails += !p;
		nc_fails += q < 0;
		/* Keep the block only when both got one, so both see the same load. */
		if (p && q >= 0) {
			blk[nb++] = (typeof(blk[0])){p, q, o};
		} else {
			if (p)
				page_free(p, o);
			if (q >= 0)
				nc.free[o][nc.n[o]++] = (uint32_t)q;
		}
	}
	for (int i = 0; i < nb; i++) {
		if (rand() % 2)
			continue;
		page_free(blk[i].p, blk[i].order);
		nc.free[blk[i].order][nc.n[blk[i].order]++] = (uint32_t)blk[i].nc;
	}
	mm_drain();
	mm_stats(&st);
	for (unsigned o = 0; o < MM_MAX_ORDER; o++) {
		freepages += (uint64_t)st.free_blocks[o] << o;
		nc_free += (uint64_t)nc.n[o] << o;
		if (o >= 4) {
			big += (uint64_t)st.free_blocks[o] << o;
			nc_big += (uint64_t)nc.n[o] << o;
		}
	}
	printf("buddy %.1f %llu %ld\nnocoalesce %.1f %llu %ld\n",
	       100.0 * (double)big / (double)freepages, (unsigned long long)freepages, fails,
	       100.0 * (double)nc_big / (double)nc_free, (unsigned long long)nc_free, nc_fails);
	return 0;
}

/* Metadata per object: page descriptors of its slab and the slab's unused tail, shared out. */
static int cmd_overhead(void)
{
	struct uml_boot_params bp = {.memory = 8 << 20};
	struct mm_zone *z;

	if (uml_boot(&bp))
		return 1;
	z = mm_zone();
	for (unsigned i = 0; i < MM_KMALLOC_CLASSES; i++) {
		struct kmem_cache *c = z->kmalloc[i];
		size_t slab = PAGE_SIZE << c->order;
		double meta = (double)(sizeof(struct page) << c->order) / c->per_slab;
		double tail = (double)(slab - (size_t)c->per_slab * c->size) / c->per_slab;
		void *g = malloc(c->objsize);
		/* glibc: the 8-byte chunk header plus what usable size adds beyond the request. */
		double gl = 8.0 + (double)(malloc_usable_size(g) - c->objsize);

		free(g);
		printf("%u %.2f %.2f %.2f\n", c->objsize, meta, tail, gl);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "pairs"))
		return cmd_pairs(argv[2], (size_t)atol(argv[3]), atol(argv[4]));
	if (argc == 4 && !strcmp(argv[1], "scale"))
		return cmd_scale(atoi(argv[2]), atol(argv[3]));
	if (argc == 2 && !strcmp(argv[1], "frag"))
		return cmd_frag();
	if (argc == 2 && !strcmp(argv[1], "overhead"))
		return cmd_overhead();
	fprintf(stderr, "usage: mmbench pairs ALLOC SIZE N | scale NPROC N | frag | overhead\n");
	return 2;
}
