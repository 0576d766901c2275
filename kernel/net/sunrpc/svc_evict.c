/*
 * Who gets a CPU's connection slots and stacks.
 *
 * A host that no export lists never gets here: it is closed at accept,
 * before it costs a thing (the service's admit hook, svc.c). A listed host
 * holds at most SVC_MAX_PER_CLIENT connections of a CPU. When the CPU has no
 * slot or no stack left, a newcomer may only take one from the host holding
 * the most connections here, and only while that host would still hold at
 * least as many as the newcomer's: its least recently active one is closed.
 * Otherwise the newcomer is refused. So a flood, listed or not, costs only
 * its own host, and a host's lone connection is never closed for another's.
 *
 * Stacks come from the machine's memory and are taken only while a quarter
 * of it stays free, so a flood of connections cannot starve the filesystem.
 */
#include <errno.h>

#include "uml/machine.h"
#include "uml/mm.h"
#include "svc_internal.h"

/*
 * Connections one client address may hold on a CPU: half of its slots. A
 * monitor opens one or two at a time and a Linux mount one per server, but
 * one host may rightly run many clients at once (nconnect up to 16, a load
 * generator, a soak with 64 libnfs contexts), and the acceptors need not
 * spread them evenly over the CPUs. The bound is what keeps one host from
 * holding a whole CPU; what keeps other hosts served is the fairness rule
 * (fair_victim), which takes room only from the biggest holder's surplus.
 * The bound is per CPU because a connection belongs to the CPU that
 * accepted it, and so do the slots and the eviction it competes for: a
 * count across CPUs would need a lock in the arena and repair after a CPU
 * killed mid-count, and would protect nothing more, since what a client can
 * take from others is what it holds on their CPU. Over all CPUs of a
 * machine, a host's connections stay bounded by SVC_MAX_PER_CLIENT times
 * the CPUs, and their stacks by the quarter of memory kept free.
 */
#define SVC_MAX_PER_CLIENT (SVC_MAX_CONNS / 2)

/* Connections @key holds on this CPU, not counting those already on their way out. */
static unsigned client_conns(const struct svc_serv *s, const struct in6_addr *key)
{
	unsigned n = 0;

	list_for_each(node, &s->lru)
	{
		const struct svc_conn *c = svc_conn_of(node);

		n += !c->evicted && memcmp(&c->client_addr, key, sizeof(*key)) == 0;
	}
	return n;
}

/*
 * The connection to close for a newcomer whose client holds @mine here: the
 * least recently active of the client holding the most, if it holds more
 * than mine + 1 (after the swap it still holds as many as the newcomer's
 * client). Among clients holding as many, the one idle longest gives. NULL:
 * nobody holds a surplus, and the newcomer is refused. Quadratic in the
 * CPU's connections, and only run when the CPU is full.
 */
static struct svc_conn *fair_victim(struct svc_serv *s, unsigned mine)
{
	struct svc_conn *victim = NULL;
	unsigned most = 0;

	list_for_each(node, &s->lru)
	{
		struct svc_conn *c = svc_conn_of(node);
		unsigned n;

		if (c->evicted)
			continue;
		n = client_conns(s, &c->client_addr);
		if (n > most) {
			most = n;
			victim = c;
		}
	}
	return most > mine + 1 ? victim : NULL;
}

static struct svc_conn *free_slot(struct svc_serv *s)
{
	for (unsigned i = 0; i < SVC_MAX_CONNS; i++)
		if (!svc_conn_taken(&s->conn[i]))
			return &s->conn[i];
	return NULL;
}

/*
 * A connection stack may be taken while a quarter of the machine's pages
 * stay free; one this CPU keeps from a finished thread costs nothing.
 */
static bool stack_affordable(void)
{
	const struct mm_zone *mm = &machine->mm;

	if (kthread_stack_cached(SVC_STACK_ORDER))
		return true;
	/* Read without the zone's lock: a hint, and the allocator has the last word. */
	return __atomic_load_n(&mm->nfree, __ATOMIC_RELAXED) >
	       mm->npages / 4 + (1u << SVC_STACK_ORDER);
}

/*
 * A slot and a stack for a new connection of a client holding @mine here.
 * When either is missing, close connections of the biggest holder while it
 * has a surplus (fair_victim), one at a time, each waited for: what it gives
 * back may be enough. Returns NULL when nobody has a surplus to give, and
 * the newcomer is to be refused: a full CPU refuses rather than churning
 * connections that were there first.
 */
static struct svc_conn *make_room(struct svc_serv *s, unsigned mine)
{
	struct svc_conn *victim = NULL;

	for (int tries = 0;; tries++) {
		struct svc_conn *c = free_slot(s);

		if (c && stack_affordable())
			return c;
		if (s->stopping)
			return NULL;
		/*
		 * A CPU with no connection may always try the allocator, so
		 * that a monitor can still reach a full machine to clean up.
		 */
		if (!s->nconns)
			return c;
		/* Only this thread takes slots: a victim's is free once it has finished. */
		if (!victim || !svc_conn_taken(victim)) {
			victim = fair_victim(s, mine);
			if (!victim)
				return NULL;
			victim->evicted = true;
			kthread_interrupt(victim->thread);
		}
		if (tries > 1000)
			return NULL; /* a victim stuck in a file hook: give up on it */
		/* The victim runs, sees -EINTR and closes; allow it a moment. */
		if (tries < 8)
			kthread_yield();
		else
			kthread_sleep_ns(1000000);
	}
}

struct svc_conn *svc_conn_slot(struct svc_serv *s, const struct in6_addr *key)
{
	unsigned mine = client_conns(s, key);

	if (mine >= SVC_MAX_PER_CLIENT)
		return NULL;
	return make_room(s, mine);
}
