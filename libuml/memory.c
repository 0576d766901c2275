/*
 * Memory, locks and generation counters for applications.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "uml.h"
#include "uml/host.h"
#include "uml/machine.h"
#include "uml/mm.h"
#include "uml/sched.h"
#include "uml/sync.h"
#include "uml/vfs.h"

int uml_parse_memory(const char *s, size_t *bytes)
{
	size_t v;

	if (uml_parse_size(s, &v) || v < UML_MEMORY_MIN)
		return -EINVAL;
	*bytes = v;
	return 0;
}

int uml_parse_size(const char *s, size_t *bytes)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (end == s || errno || *s == '-')
		return -EINVAL;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	}
	if (shift) {
		end++;
		if (v > (UML_MEMORY_MAX >> shift))
			return -EINVAL;
		v <<= shift;
	}
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end || v > UML_MEMORY_MAX)
		return -EINVAL;
	*bytes = (size_t)v;
	return 0;
}

void *uml_alloc(size_t size)
{
	return machine ? kmalloc(size) : NULL;
}

void *uml_zalloc(size_t size)
{
	return machine ? kzalloc(size) : NULL;
}

void uml_free(void *p)
{
	kfree(p);
}

uml_cache_t *uml_cache_create(const char *name, size_t size, size_t align)
{
	return machine ? (uml_cache_t *)kmem_cache_create(name, size, align) : NULL;
}

void *uml_cache_alloc(uml_cache_t *c)
{
	return kmem_cache_alloc((struct kmem_cache *)c);
}

void uml_cache_free(uml_cache_t *c, void *obj)
{
	kmem_cache_free((struct kmem_cache *)c, obj);
}

int uml_cache_destroy(uml_cache_t *c)
{
	return kmem_cache_destroy((struct kmem_cache *)c);
}

size_t uml_mm_buddyinfo(char *buf, size_t size)
{
	return mm_buddyinfo(buf, size);
}

size_t uml_mm_slabinfo(char *buf, size_t size)
{
	return mm_slabinfo(buf, size);
}

size_t uml_mm_meminfo(char *buf, size_t size)
{
	size_t n = mm_meminfo(buf, size);
	uint64_t used, limit;

	/* Clients' files and their cap (uml_fs_scratch_limit), in the same units. */
	vfs_scratch_stat(&used, &limit);
	if (n < size)
		n += (size_t)snprintf(
		    buf + n, size - n, "ScratchLimit:   %8llu kB\nScratchUsed:    %8llu kB\n",
		    (unsigned long long)(limit / 1024), (unsigned long long)(used / 1024));
	return n;
}

struct uml_lock {
	struct kmtx m;
};

uml_lock_t *uml_lock_new(void)
{
	uml_lock_t *l = uml_alloc(sizeof(*l));

	if (l)
		kmtx_init(&l->m);
	return l;
}

int uml_lock(uml_lock_t *l)
{
	return kmtx_lock(&l->m) == -EOWNERDEAD ? 1 : 0;
}

void uml_unlock(uml_lock_t *l)
{
	kmtx_unlock(&l->m);
}

struct uml_sem {
	struct ksem s;
};

uml_sem_t *uml_sem_new(long count)
{
	uml_sem_t *s = uml_alloc(sizeof(*s));

	if (s)
		ksem_init(&s->s, count);
	return s;
}

void uml_sem_down(uml_sem_t *s)
{
	ksem_down(&s->s);
}

int uml_sem_down_timeout(uml_sem_t *s, int timeout_ms)
{
	return ksem_down_timeout(&s->s, timeout_ms < 0 ? -1 : (int64_t)timeout_ms * 1000000);
}

void uml_sem_up(uml_sem_t *s)
{
	ksem_up(&s->s);
}

uint32_t uml_gen_read(uml_gen_t *g)
{
	return atomic_load_explicit(&g->v, memory_order_acquire);
}

static struct kwait *gen_wq(uml_gen_t *g)
{
	_Static_assert(sizeof(g->wq) >= sizeof(struct kwait), "uml_gen_t too small for a kwait");
	return (struct kwait *)g->wq;
}

uint32_t uml_gen_bump(uml_gen_t *g)
{
	uint32_t v = atomic_fetch_add(&g->v, 1) + 1;

	host_futex_wake(&g->v, INT32_MAX);
	/*
	 * A kernel thread counts itself in kwaiters before it looks at v, and
	 * we looked at kwaiters after changing v: either it sees the new value
	 * or we see it and wake the queue (whose lock it holds until queued).
	 */
	if (atomic_load(&g->kwaiters))
		kwait_wake(gen_wq(g), INT32_MAX);
	return v;
}

/* A kernel thread waits on the counter's queue, not on the futex that would stop its CPU. */
static int gen_wait_kthread(uml_gen_t *g, uint32_t seen, int timeout_ms)
{
	struct kwait *wq = gen_wq(g);
	uint64_t deadline = timeout_ms >= 0 ? host_mono_ns() + (uint64_t)timeout_ms * 1000000u : 0;

	for (;;) {
		int64_t left = -1;
		int err;

		if (timeout_ms >= 0) {
			uint64_t now = host_mono_ns();

			if (now >= deadline)
				return atomic_load(&g->v) != seen ? 0 : -ETIMEDOUT;
			left = (int64_t)(deadline - now);
		}
		spin_lock(&wq->lock);
		atomic_fetch_add(&g->kwaiters, 1);
		if (atomic_load(&g->v) != seen) {
			atomic_fetch_sub(&g->kwaiters, 1);
			spin_unlock(&wq->lock);
			return 0;
		}
		err = kwait_sleep_locked(wq, KWAIT_INTR, left);
		atomic_fetch_sub(&g->kwaiters, 1);
		if (atomic_load(&g->v) != seen)
			return 0;
		if (err)
			return err;
	}
}

int uml_gen_wait(uml_gen_t *g, uint32_t seen, int timeout_ms)
{
	uint64_t deadline = 0;
	int64_t left = -1;
	int err;

	if (kthread_self())
		return gen_wait_kthread(g, seen, timeout_ms);
	if (timeout_ms >= 0)
		deadline = host_mono_ns() + (uint64_t)timeout_ms * 1000000u;
	for (;;) {
		if (uml_gen_read(g) != seen)
			return 0;
		if (timeout_ms >= 0) {
			uint64_t now = host_mono_ns();

			if (now >= deadline)
				return -ETIMEDOUT;
			left = (int64_t)(deadline - now);
		}
		err = host_futex_wait(&g->v, seen, left);
		if (err == -EINTR)
			return err;
	}
}
