/*
 * Thread slots: where each thread's magazines live. A thread claims a slot
 * the first time it allocates, and gives it back (with every object in it)
 * when it exits. A thread that dies without exiting cleanly -- every thread
 * of a process killed with SIGKILL -- leaves its slot owned by a tid that no
 * longer exists; mm_reap() finds such slots and returns their objects.
 */
#include <pthread.h>
#include <string.h>

#include "uml/host.h"
#include "uml/mm.h"
#include "mm_internal.h"

__thread struct mm_tls mm_tls __attribute__((tls_model("initial-exec")));
uint32_t mm_epoch = 1; /* 0 never matches: a new thread's mm_tls is zero */
struct mm_tslot mm_no_slot;

static pthread_key_t mm_tls_key;
static pthread_once_t mm_tls_once = PTHREAD_ONCE_INIT;

/* Empty every magazine of @t into the shared pool. Zone lock held. */
static uint64_t tslot_flush_locked(struct mm_zone *z, struct mm_tslot *t, bool free_mags)
{
	uint64_t n = 0;

	for (unsigned i = 0; i <= MM_MAX_CACHES; i++) {
		struct mm_mag *m = t->mag[i];

		if (!m)
			continue;
		/* A count beyond the array means the owner died mid-update: trust nothing. */
		if (m->n > MM_MAG_SIZE)
			m->n = 0;
		while (m->n) {
			void *obj = m->obj[m->n - 1];

			transit_set(z, obj);
			m->n--;
			if (i == MM_PAGE_MAG)
				page_free_locked(z, obj, 0);
			else if (z->by_index[i])
				kmem_cache_free_locked(z, z->by_index[i], obj);
			transit_clear(z);
			n++;
		}
		if (free_mags) {
			/* Out of the slot, then freed: never freed and still listed. */
			transit_set(z, m);
			t->mag[i] = NULL;
			kmem_cache_free_locked(z, z->mag_cache, m);
			transit_clear(z);
		}
	}
	return n;
}

static void tslot_release(void *arg)
{
	struct mm_tslot *t = arg;
	struct mm_zone *z = mm_cur;

	/* A forked child inherits the key's value: only the owner may release. */
	if (!z || !t || t == &mm_no_slot || atomic_load(&t->tid) != host_tid())
		return;
	zone_lock(z);
	tslot_flush_locked(z, t, true);
	atomic_store(&t->tid, 0);
	spin_unlock(&z->lock);
	/*
	 * Other keys' destructors may still free (the kernel's host waiter
	 * does) or allocate after ours: they take the locked path from now on
	 * rather than a slot that is no longer this thread's.
	 */
	mm_tls.slot = &mm_no_slot;
}

static void mm_after_fork(void)
{
	mm_epoch++;
}

static void tls_key_init(void)
{
	pthread_key_create(&mm_tls_key, tslot_release);
	pthread_atfork(NULL, NULL, mm_after_fork);
}

/* Give back everything slot @i of a dead thread holds, and the slot. Zone lock held. */
static void tslot_reap_locked(struct mm_zone *z, unsigned i)
{
	struct mm_tslot *t = z->tslot[i];

	z->reaped_objects += tslot_flush_locked(z, t, true);
	if (t->inflight) {
		void *obj = t->inflight;
		struct page *pg = mm_page_of(obj);

		/*
		 * Forgotten by the slot before it is freed (a reaper killed
		 * here must not leave the next one a second free of it).
		 */
		transit_set(z, obj);
		t->inflight = NULL;
		/* A slab object, or the head of a block of pages (freed whole). */
		if (pg && (pg->flags & PG_SLAB))
			kmem_cache_free_locked(z, pg->cache, obj);
		else if (pg && (pg->flags & PG_HEAD) && ((uintptr_t)obj & (PAGE_SIZE - 1)) == 0)
			page_free_locked(z, obj, pg->order);
		transit_clear(z);
		z->reaped_objects++;
	}
	/* The slot too: a storm of deaths must not leave the table full of them. */
	transit_set(z, t);
	z->tslot[i] = NULL;
	kmem_cache_free_locked(z, z->tslot_cache, t);
	transit_clear(z);
}

int tcache_reap_locked(struct mm_zone *z)
{
	int reaped = 0;

	for (unsigned i = 0; i < MM_MAX_TSLOTS; i++) {
		struct mm_tslot *t = z->tslot[i];
		uint32_t tid = t ? atomic_load(&t->tid) : 0;

		if (!tid || host_task_alive(tid))
			continue;
		tslot_reap_locked(z, i);
		reaped++;
	}
	return reaped;
}

int mm_reap(void)
{
	struct mm_zone *z = mm_cur;
	int n;

	if (!z)
		return 0;
	zone_lock(z);
	n = tcache_reap_locked(z);
	spin_unlock(&z->lock);
	return n;
}

__attribute__((noinline)) struct mm_tslot *tcache_slot_claim(void)
{
	struct mm_zone *z = mm_cur;
	struct mm_tslot *t = NULL;
	uint32_t me;

	if (!z)
		return &mm_no_slot;
	me = host_tid();
	pthread_once(&mm_tls_once, tls_key_init);
	zone_lock(z);
	for (int pass = 0; pass < 2 && !t; pass++) {
		for (unsigned i = 0; i < MM_MAX_TSLOTS; i++) {
			/*
			 * Our tid in another process's slot: its thread is dead
			 * (a live one would hold the tid) and the host gave the
			 * number to us. Its objects, and any in flight, are the
			 * reaper's, not ours to inherit.
			 */
			if (z->tslot[i] && atomic_load(&z->tslot[i]->tid) == me &&
			    z->tslot[i]->pid != host_pid())
				tslot_reap_locked(z, i);
			if (!z->tslot[i]) {
				struct mm_tslot *fresh = kmem_cache_alloc_locked(z, z->tslot_cache);

				if (!fresh)
					break;
				/*
				 * Zeroed before it is in the table: a thread killed in
				 * between must not leave the reaper (or the next
				 * thread to claim it) the magazines and in-flight
				 * pointer of the object's last life.
				 */
				mm_unpoison(fresh, sizeof(struct mm_tslot));
				memset(fresh, 0, sizeof(struct mm_tslot));
				atomic_signal_fence(memory_order_seq_cst);
				z->tslot[i] = fresh;
			}
			/* Free, or already ours (the zone was re-adopted under us). */
			if (atomic_load(&z->tslot[i]->tid) == 0 ||
			    atomic_load(&z->tslot[i]->tid) == me) {
				t = z->tslot[i];
				break;
			}
		}
		if (!t && pass == 0 && tcache_reap_locked(z) == 0)
			break;
	}
	if (t) {
		atomic_store(&t->tid, me);
		t->pid = host_pid();
	}
	spin_unlock(&z->lock);
	if (!t)
		t = &mm_no_slot;
	mm_tls.slot = t;
	mm_tls.epoch = mm_epoch;
	pthread_setspecific(mm_tls_key, t);
	return t;
}

void mm_drain(void)
{
	struct mm_zone *z = mm_cur;
	struct mm_tslot *t = tslot_self();

	if (t == &mm_no_slot)
		return;
	zone_lock(z);
	tslot_flush_locked(z, t, false);
	spin_unlock(&z->lock);
}

#if defined(__SANITIZE_ADDRESS__)
int mm_asan_on;

static void mm_asan_fork(void)
{
	struct mm_zone *z = mm_cur;

	if (!z || !mm_asan_on)
		return;
	mm_asan_on = 0;
	ASAN_UNPOISON_MEMORY_REGION(z->start, (size_t)z->npages << PAGE_SHIFT);
}

void mm_asan_setup(struct mm_zone *z)
{
	(void)z;
	mm_asan_on = 1;
	/* Both sides of a fork stop poisoning: the arena is shared from then on. */
	pthread_atfork(mm_asan_fork, NULL, NULL);
}
#else
void mm_asan_setup(struct mm_zone *z)
{
	(void)z;
}
#endif
