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
 * A poll call's wait: on inet.pollers, naming its caller, from before its
 * first hook to after its last unhook, so that inet_reap frees the block
 * of a process killed in the call (inet_poller_reap).
 */
struct inet_poller {
	struct kwait wq;
	_Atomic uint32_t fired; /* set by the first wake that concerns it: later ones cost a load */
	uint32_t owner;
	struct inet_poller *next, **pprev; /* on inet.pollers (inet.lock) */
	struct inet_pollent ent[];	   /* one per pollfd of the call */
};

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
