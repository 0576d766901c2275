/*
 * The wait of uml_poll (socket.c) on the stack's sockets, Linux poll_table
 * style: a poll call hooks one entry on each socket it waits on, once per
 * call, and sleeps on a wait queue of its own; a socket's wake walks only
 * its own entries and wakes each poller at most once per call.
 *
 * Both live in the arena, since the waker may be a receive thread of any
 * process. A socket's list of entries is guarded by the lock its wakes
 * are made under: tcp_lock for TCP (tcp_wake), inet.lock for UDP
 * (udp_input's delivery). A poller's wq.lock (rank KWAIT) nests inside
 * either.
 */
#ifndef INET_SOCK_POLL_H
#define INET_SOCK_POLL_H

#include <stdatomic.h>
#include <stdint.h>

#include "uml/host.h"
#include "uml/inet_sock.h"
#include "uml/sched.h"

struct inet_poller;

/*
 * One socket of one poll call: on the socket's list while the call waits;
 * or of one poll set (pollset.c), on the list while the set watches it.
 */
struct inet_pollent {
	struct inet_pollent *next, **pprev; /* guarded by the socket's lock (above) */
	struct inet_poller *poller;	    /* NULL: a set's item */
	uint16_t events; /* what the caller waits for; errors and hang-ups always wake */
};

/*
 * A block a process made in the arena for its waits -- a poll call's
 * (below) or a poll set (pollset.c) -- on inet.waits with its maker from
 * before anything can reach it to after nothing can, so that inet_reap
 * frees the blocks of the dead once their sockets dropped their hooks
 * (inet_waits_reap).
 */
#define INET_WAITS_POLL 1
#define INET_WAITS_SET	2
struct inet_waits {
	struct inet_waits *next, **pprev; /* on inet.waits (inet.lock) */
	uint32_t owner;
	uint8_t kind; /* INET_WAITS_POLL or INET_WAITS_SET */
};
/* @w on inet.waits, made by the calling process; and off it. */
void inet_waits_add(struct inet_waits *w, uint8_t kind);
void inet_waits_del(struct inet_waits *w);

/* A poll call's wait. */
struct inet_poller {
	struct kwait wq;
	_Atomic uint32_t fired; /* set by the first wake that concerns it: later ones cost a load */
	struct inet_waits waits;
	struct inet_pollent ent[]; /* one per pollfd of the call */
};

/* A wait's time left until @deadline (host_mono_ns; 0: none): ns, 0 once past, -1 for none. */
static inline int64_t inet_wait_left(uint64_t deadline)
{
	uint64_t now;

	if (!deadline)
		return -1;
	now = host_mono_ns();
	return now >= deadline ? 0 : (int64_t)(deadline - now);
}

/* Wake the pollers on @head that wait for one of @events; with the list's lock held. */
void inet_poll_wake(struct inet_pollent *head, unsigned events);
/* A set's item @e has an event: on its set's ready list (pollset.c); with the list's lock. */
void inet_pollset_fire(struct inet_pollent *e);

static inline void inet_poll_hook(struct inet_pollent **head, struct inet_pollent *e)
{
	e->next = *head;
	if (e->next)
		e->next->pprev = &e->next;
	e->pprev = head;
	*head = e;
}

static inline void inet_poll_unhook(struct inet_pollent *e)
{
	if (!e->pprev)
		return;
	*e->pprev = e->next;
	if (e->next)
		e->next->pprev = e->pprev;
	e->next = NULL;
	e->pprev = NULL;
}

struct tcp_sock;
struct udp_sock;
/* What @s is ready for now (INET_POLL*), under tcp_lock (socket.c). */
unsigned tcp_poll_locked(const struct tcp_sock *s);
/* The same for UDP, under inet.lock; @e (may be NULL) is hooked on @s (udp.c). */
unsigned udp_poll_locked(struct udp_sock *s, struct inet_pollent *e);

#endif
