/*
 * kernel/mm: the buddy allocator and slab caches.
 *  1-3   every order allocates an aligned block and frees back
 *  4-5   exhaustion returns NULL; freeing everything coalesces back to the boot layout
 *  6-7   random alloc/free of mixed orders against a model: no overlap, exact free count
 *  8-10  slab caches: distinct aligned objects, empty slabs go back to the buddy system
 *  11-12 kmalloc of every size keeps contents intact; large sizes take pages
 *  13-14 four processes allocating at once keep objects disjoint and lose no page
 *  15-16 buddyinfo and slabinfo read like /proc's
 *  17-19 a process killed with SIGKILL loses its cached objects only until mm_reap
 *  20    a thread's cache goes back when the thread exits
 *  21-22 a cache with live objects can't be destroyed; an empty one can
 */
#include <pthread.h>
#include <signal.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "uml.h"
#include "uml/machine.h"
#include "uml/mm.h"

static struct mm_stats boot_st;

/* Everything cached by this thread or kept in empty slabs goes back to the pages. */
static void settle(struct mm_stats *st)
{
	mm_drain();
	mm_shrink();
	mm_stats(st);
}

static uint32_t page_index(const void *p)
{
	return (uint32_t)(((const char *)p - mm_zone()->start) >> PAGE_SHIFT);
}

static void test_orders(void)
{
	int aligned = 1, freed = 1;
	struct mm_stats st;

	for (unsigned o = 0; o < MM_MAX_ORDER; o++) {
		void *p = page_alloc(o);

		if (!p || page_index(p) % (1u << o))
			aligned = 0;
		memset(p, 0xab, PAGE_SIZE << o);
		page_free(p, o);
	}
	settle(&st);
	freed = st.free_pages == boot_st.free_pages;
	ok(aligned, "every order 0..%d gives a block aligned to its size", MM_MAX_ORDER - 1);
	ok(freed, "all pages free again");
	ok(page_alloc(MM_MAX_ORDER) == NULL, "order beyond the largest is refused");
}

static void test_exhaust_coalesce(void)
{
	uint32_t n = mm_zone()->npages, got = 0;
	void **v = calloc(n + 1, sizeof(*v));
	struct mm_stats st;
	int same = 1;

	while ((v[got] = page_alloc(0)))
		got++;
	is_int(got, boot_st.free_pages, "order-0 allocations until NULL take every free page");
	/* Free in a scattered order so merging has to climb from everywhere. */
	for (uint32_t i = 0; i < got; i += 2)
		page_free(v[i], 0);
	for (uint32_t i = 1; i < got; i += 2)
		page_free(v[i], 0);
	settle(&st);
	for (unsigned o = 0; o < MM_MAX_ORDER; o++)
		same &= st.free_blocks[o] == boot_st.free_blocks[o];
	ok(same, "freeing everything coalesces back to the boot layout of free blocks");
	free(v);
}

struct blk {
	void *p;
	unsigned order;
};

static void test_random_model(void)
{
	uint32_t n = mm_zone()->npages;
	unsigned char *owner = calloc(n, 1);
	struct blk live[512];
	int nlive = 0, overlap = 0, count_ok = 1;
	uint64_t used = 0;
	struct mm_stats st;

	srand(42);
	for (int step = 0; step < 20000; step++) {
		if (nlive < 512 && (rand() % 3 || nlive == 0)) {
			unsigned o = (unsigned)(rand() % 6);
			void *p = page_alloc(o);

			if (!p)
				continue;
			for (uint32_t i = 0; i < (1u << o); i++)
				overlap |= owner[page_index(p) + i]++;
			live[nlive++] = (struct blk){p, o};
			used += 1u << o;
		} else {
			int k = rand() % nlive;

			for (uint32_t i = 0; i < (1u << live[k].order); i++)
				owner[page_index(live[k].p) + i]--;
			page_free(live[k].p, live[k].order);
			used -= 1u << live[k].order;
			live[k] = live[--nlive];
		}
		mm_stats(&st);
		count_ok &= st.free_pages + st.cached_pages == boot_st.free_pages - used;
	}
	while (nlive--)
		page_free(live[nlive].p, live[nlive].order);
	ok(!overlap, "20000 random steps: no page handed out twice");
	ok(count_ok, "free page count matches the model after every step");
	free(owner);
}

static void test_slab(void)
{
	struct kmem_cache *c = kmem_cache_create("test48", 48, 16);
	void *v[1000];
	int distinct = 1, aligned = 1;
	struct mm_stats st;

	ok(c && c->objsize == 48 && c->size % 16 == 0, "cache of 48-byte objects, 16-byte aligned");
	for (int i = 0; i < 1000; i++) {
		v[i] = kmem_cache_alloc(c);
		aligned &= v[i] && ((uintptr_t)v[i] % 16) == 0;
		memset(v[i], i & 0xff, 48);
	}
	for (int i = 0; i < 1000; i++)
		for (int j = 0; j < 48; j++)
			distinct &= ((unsigned char *)v[i])[j] == (i & 0xff);
	ok(distinct && aligned, "1000 objects are aligned and keep their contents");
	for (int i = 0; i < 1000; i++)
		kmem_cache_free(c, v[i]);
	settle(&st);
	ok(c->nslabs == 0 && c->active == 0 && st.free_pages == boot_st.free_pages,
	   "freeing all objects returns every slab to the page allocator");
}

static void fill(void *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		((unsigned char *)p)[i] = (unsigned char)(seed + i * 7);
}

static int check(const void *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		if (((const unsigned char *)p)[i] != (unsigned char)(seed + i * 7))
			return 0;
	return 1;
}

/* Random kmalloc/kfree with content checks; returns 0 when all is well. */
static int churn(unsigned seed, int steps)
{
	struct {
		void *p;
		size_t n;
		unsigned s;
	} live[64] = {{0}};
	int bad = 0;

	srand(seed);
	for (int step = 0; step < steps; step++) {
		int k = rand() % 64;

		if (live[k].p) {
			bad |= !check(live[k].p, live[k].n, live[k].s);
			kfree(live[k].p);
			live[k].p = NULL;
		} else {
			size_t n = 1 + (size_t)(rand() % (rand() % 8 ? 512 : 9000));

			live[k].p = kmalloc(n);
			if (!live[k].p)
				continue;
			bad |= ksize(live[k].p) < n;
			live[k].n = n;
			live[k].s = (unsigned)rand();
			fill(live[k].p, n, live[k].s);
		}
	}
	for (int k = 0; k < 64; k++)
		if (live[k].p) {
			bad |= !check(live[k].p, live[k].n, live[k].s);
			kfree(live[k].p);
		}
	return bad;
}

static void test_kmalloc(void)
{
	struct mm_stats st;

	ok(churn(7, 50000) == 0, "kmalloc of 1..9000 bytes keeps every object's contents");
	settle(&st);
	ok(st.free_pages == boot_st.free_pages, "and gives every page back");
}

static void test_processes(void)
{
	int nproc = 4, fails = 0;
	struct mm_stats st;
	pid_t pid[4];

	for (int i = 0; i < nproc; i++) {
		pid[i] = fork();
		if (pid[i] == 0)
			_exit(churn(100 + (unsigned)i, 40000));
	}
	for (int i = 0; i < nproc; i++) {
		int status;

		waitpid(pid[i], &status, 0);
		fails += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	}
	ok(fails == 0, "4 processes allocating at once never see each other's objects");
	mm_reap();
	settle(&st);
	ok(st.free_pages == boot_st.free_pages, "no page lost after they exit");
}

static void test_text(void)
{
	char buf[8192];

	uml_mm_buddyinfo(buf, sizeof(buf));
	ok(strncmp(buf, "Node 0, zone   Normal ", 22) == 0, "buddyinfo starts like /proc's");
	uml_mm_slabinfo(buf, sizeof(buf));
	ok(strncmp(buf, "slabinfo - version: 2.1\n# name", 30) == 0 && strstr(buf, "kmalloc-64 "),
	   "slabinfo has the 2.1 header and the kmalloc caches");
}

static void test_sigkill_reap(void)
{
	struct kmem_cache *c = kmem_cache_create("victim", 64, 0);
	struct mm_stats before, st;
	int p[2];
	pid_t pid;
	char x;

	settle(&before);
	if (pipe(p))
		bail_out("pipe");
	pid = fork();
	if (pid == 0) {
		void *v[100];

		/* Fill this thread's magazines, then die holding them. */
		for (int i = 0; i < 100; i++)
			v[i] = kmem_cache_alloc(c);
		for (int i = 0; i < 100; i++)
			kmem_cache_free(c, v[i]);
		page_free(page_alloc(0), 0);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	if (read(p[0], &x, 1) != 1)
		bail_out("child did not start");
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	ok(c->active > 0, "a killed process's cached objects are not free yet (%llu held)",
	   (unsigned long long)c->active);
	ok(mm_reap() == 1 && c->active == 0, "mm_reap finds the dead thread and takes them back");
	settle(&st);
	ok(st.free_pages == before.free_pages && kmem_cache_destroy(c) == 0,
	   "no page is lost once reaped");
	close(p[0]);
	close(p[1]);
}

static void *thread_churn(void *arg)
{
	return (void *)(intptr_t)churn((unsigned)(intptr_t)arg, 20000);
}

static void test_thread_exit(void)
{
	struct mm_stats st;
	pthread_t th;
	void *ret;

	pthread_create(&th, NULL, thread_churn, (void *)(intptr_t)11);
	pthread_join(th, &ret);
	settle(&st);
	ok(ret == NULL && st.free_pages == boot_st.free_pages,
	   "a thread's cached objects return when it exits, without reaping");
}

static void test_destroy(void)
{
	struct kmem_cache *c = kmem_cache_create("short-lived", 100, 0);
	void *obj = kmem_cache_alloc(c);

	is_int(kmem_cache_destroy(c), -EBUSY, "a cache with a live object is not destroyed");
	kmem_cache_free(c, obj);
	is_int(kmem_cache_destroy(c), 0, "once it is freed the cache goes");
}

int main(void)
{
	struct uml_boot_params bp = {.memory = 8 << 20};

	plan(22);
	if (uml_boot(&bp))
		bail_out("uml_boot failed");
	settle(&boot_st);
	test_orders();
	test_exhaust_coalesce();
	test_random_model();
	test_slab();
	test_kmalloc();
	test_processes();
	test_text();
	test_sigkill_reap();
	test_thread_exit();
	test_destroy();
	return done_testing();
}
