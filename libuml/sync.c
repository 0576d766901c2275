/*
 * Locks, semaphores and generation counters for applications: thin wrappers
 * over kernel/sched.
 */
#include <errno.h>

#include "uml.h"
#include "uml/gen.h"
#include "uml/sched.h"

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
	return kmtx_lock(&l->m);
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

/* Applications embed counters in their own structures: uml_gen_t is a kgen's storage. */
_Static_assert(sizeof(uml_gen_t) == sizeof(struct kgen), "uml_gen_t is not a struct kgen's size");
_Static_assert(_Alignof(uml_gen_t) == _Alignof(struct kgen),
	       "uml_gen_t is not aligned as a struct kgen");

static struct kgen *gen_of(uml_gen_t *g)
{
	return (struct kgen *)g;
}

uint32_t uml_gen_read(uml_gen_t *g)
{
	return kgen_read(gen_of(g));
}

uint32_t uml_gen_bump(uml_gen_t *g)
{
	return kgen_bump(gen_of(g));
}

uint32_t uml_gen_bump_n(uml_gen_t *g, int n)
{
	return kgen_bump_n(gen_of(g), n);
}

void uml_gen_defer_begin(void)
{
	kgen_defer_begin();
}

void uml_gen_defer_end(void)
{
	kgen_defer_end();
}

int uml_gen_wait(uml_gen_t *g, uint32_t seen, int timeout_ms)
{
	return kgen_wait(gen_of(g), seen, timeout_ms < 0 ? -1 : (int64_t)timeout_ms * 1000000);
}
