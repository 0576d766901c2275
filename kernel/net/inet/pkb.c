/*
 * Packet buffers: every frame, fragment and datagram the stack holds is one
 * struct pkb from the machine's memory, charged to the stack's budget
 * (inet.mem_max) until freed, so that no peer can make the stack hold more
 * than that however it sends. Frames are objects of one slab cache;
 * reassembled datagrams and TCP segments of many MSS (offloads), larger,
 * are kmalloc'd (whole pages).
 */
#include <string.h>

#include "uml/host.h"
#include "inet_internal.h"

static bool charge(uint32_t n)
{
	uint64_t used = atomic_fetch_add(&inet_stack->mem_used, n) + n;

	if (used <= inet_stack->mem_max)
		return true;
	atomic_fetch_sub(&inet_stack->mem_used, n);
	return false;
}

bool inet_mem_charge(uint32_t n)
{
	if (charge(n))
		return true;
	inet_count(INET_MIB_MEM_FAILS);
	return false;
}

bool inet_mem_room(uint32_t n)
{
	return atomic_load(&inet_stack->mem_used) + n <= inet_stack->mem_max;
}

void inet_mem_uncharge(uint32_t n)
{
	atomic_fetch_sub(&inet_stack->mem_used, n);
}

struct pkb *pkb_alloc(size_t cap)
{
	size_t want = sizeof(struct pkb) + cap;
	bool small = cap <= INET_PKB_CAP;
	uint32_t truesize = inet_stack->pkb_cache->size;
	struct pkb *p;

	/* kmalloc gives a large block whole pages, a power of two of them. */
	if (!small)
		for (truesize = PAGE_SIZE; truesize < want; truesize <<= 1)
			;

	if (cap > INET_PKB_BIG)
		goto fail;
	/*
	 * Allocate, own, then charge: a death in the allocation (its lock
	 * instants) leaves no charge behind, and one after it leaves a buffer
	 * whose owner inet_reap finds, uncharged by exactly its truesize (0
	 * until charged).
	 */
	p = small ? kmem_cache_alloc(inet_stack->pkb_cache) : kmalloc(want);
	if (!p)
		goto fail;
	memset(p, 0, sizeof(*p));
	p->owner = host_pid();
	p->cap = small ? INET_PKB_CAP : (uint32_t)cap;
	if (!charge(truesize)) {
		p->owner = 0;
		if (small)
			kmem_cache_free(inet_stack->pkb_cache, p);
		else
			kfree(p);
		goto fail;
	}
	p->truesize = truesize;
	return p;
fail:
	inet_count(INET_MIB_MEM_FAILS);
	return NULL;
}

void pkb_free(struct pkb *p)
{
	uint32_t truesize;

	if (!p)
		return;
	truesize = p->truesize;

	/*
	 * Before the free, so that a free cut short by a death is neither the
	 * reaper's (no owner) nor uncharged twice (no charge left on it).
	 */
	p->owner = 0;
	p->truesize = 0;
	atomic_fetch_sub(&inet_stack->mem_used, truesize);
	if (p->cap == INET_PKB_CAP)
		kmem_cache_free(inet_stack->pkb_cache, p);
	else
		kfree(p);
}

void pkb_free_list(struct pkb *p)
{
	while (p) {
		struct pkb *next = p->next;

		pkb_free(p);
		p = next;
	}
}

void pkb_adopt(struct pkb *list, const void *dead)
{
	for (struct pkb *p = list; p; p = p->next)
		if (inet_pids_has(dead, p->owner))
			p->owner = 0;
}

void pkb_purge(struct pkb **head)
{
	struct pkb *list = *head;

	for (struct pkb *p = list; p; p = p->next)
		p->owner = host_pid();
	*head = NULL;
	pkb_free_list(list);
}

void pkb_queue_purge(struct pkb_queue *q)
{
	struct pkb *list = q->head;

	for (struct pkb *p = list; p; p = p->next)
		p->owner = host_pid();
	q->head = NULL;
	q->tail = NULL;
	q->n = q->bytes = 0;
	pkb_free_list(list);
}

struct pkb *pkb_clone(const struct pkb *p)
{
	struct pkb *c = pkb_alloc(INET_HEADROOM + p->len);

	if (!c)
		return NULL;
	memcpy(c->data + INET_HEADROOM, p->data + p->off, p->len);
	c->off = INET_HEADROOM;
	c->len = p->len;
	c->at_ms = p->at_ms;
	c->csum_ok = p->csum_ok;
	return c;
}

void pkb_own(struct pkb *p)
{
	p->owner = host_pid();
}

uint8_t *pkb_push(struct pkb *p, uint32_t n)
{
	if (p->off < n)
		return NULL;
	p->off -= n;
	p->len += n;
	return p->data + p->off;
}

void pkb_queue_put(struct pkb_queue *q, struct pkb *p)
{
	p->next = NULL;
	/* By the head, not the tail: a taker that died may have left the tail behind. */
	if (q->head)
		q->tail->next = p;
	else
		q->head = p;
	q->tail = p;
	q->n++;
	q->bytes += p->truesize;
}

struct pkb *pkb_queue_take(struct pkb_queue *q)
{
	struct pkb *p = q->head;

	if (!p)
		return NULL;
	/* Ours before it leaves the queue: a death in between leaves it to inet_reap. */
	p->owner = host_pid();
	q->head = p->next;
	if (!q->head)
		q->tail = NULL;
	q->n--;
	q->bytes -= p->truesize;
	p->next = NULL;
	return p;
}
