/*
 * Poll sets (uml/inet_sock.h): epoll's shape on the stack's sockets.
 *
 * A set lives in the arena, since the wakers that fill it are receive
 * threads of any process. Each watched socket has an item, hooked on the
 * socket's pollers for as long as it is watched (sock_poll.h: an entry
 * whose poller is NULL), so a socket's event costs a look at its own
 * items, and a wait costs what is ready, not what is watched.
 *
 * Locks, outermost first:
 *   sets.lock     a host mutex of the process (nobody sleeps under it):
 *                 every set's items list and every file's items list;
 *                 held by ctl, a wait's harvest, and the close of a set
 *                 or of a watched socket, so an item is never freed
 *                 under a harvest.
 *   tcp_lock / inet.lock   the socket's: item->ready, and its hook.
 *   set->wq.lock  the ready list (ready, rtail); nests inside either,
 *                 as every poller's does.
 * item->ready says the item is on the ready list or in a harvest's hands;
 * a waker adds an item only when it is not, and a harvest clears it, under
 * the socket's lock, only when it finds the socket not ready -- so an event
 * between the harvest's look and its clear cannot be lost.
 *
 * Death: a set is on inet.waits (sock_poll.h), naming its owner, from its
 * making to its free, as a poll call's block is. The owner's sockets,
 * closed by inet_reap, drop their hooks (tcp.c's user_del_locked forgets a
 * socket's pollers; a UDP socket is freed), after which nobody can reach
 * the dead's items, and inet_waits_reap frees its sets and their items. An item is on its
 * set's list before it is hooked and off it after it is unhooked; one a
 * death cuts off between its allocation and that list, or between that
 * list and its free, is lost (an item at most per death).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "uml/compiler.h"
#include "uml/host.h"
#include "uml/mm.h"
#include "inet_internal.h"
#include "sock_file.h"
#include "sock_poll.h"
#include "tcp.h"

struct inet_pollset {
	struct kwait wq;		      /* wq.lock guards ready and rtail */
	struct inet_pollitem *ready, **rtail; /* items to look at, oldest first */
	struct inet_pollitem *items;	      /* every item (sets.lock) */
	struct inet_waits waits;	      /* on inet.waits, with its maker */
};

struct inet_pollitem {
	struct inet_pollent ent; /* first: on the socket's pollers, poller NULL */
	struct inet_pollset *set;
	struct inet_pollitem *rnext, **rpprev; /* on set->ready (set->wq.lock) */
	struct inet_pollitem *snext, **spprev; /* on set->items (sets.lock) */
	struct inet_pollitem *fnext, **fpprev; /* on file->items (sets.lock) */
	struct inet_file *file;		       /* the owner's memory: only it looks */
	uint64_t data;
	int fd;
	bool ready; /* on set->ready or in a harvest (the socket's lock) */
	bool et;    /* INET_POLLET */
};

static struct {
	pthread_mutex_t lock;
	uint32_t pid;	  /* whose count it is: a forked child starts with no sets */
	uint32_t watches; /* items of this process's sets */
} sets = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* sets.lock taken, by a process whose count is its own. */
static void sets_lock(void)
{
	uint32_t me = host_pid();

	pthread_mutex_lock(&sets.lock);
	if (sets.pid != me) {
		sets.pid = me;
		sets.watches = 0;
	}
}

/* --- the ready list --- */

/* @it on its set's ready list, one waiter woken; with the socket's lock, it->ready clear. */
static void ready_add(struct inet_pollitem *it)
{
	struct inet_pollset *set = it->set;

	it->ready = true;
	it->rnext = NULL;
	spin_lock(&set->wq.lock);
	it->rpprev = set->rtail;
	*set->rtail = it;
	set->rtail = &it->rnext;
	kwait_wake_locked(&set->wq, 1);
	spin_unlock(&set->wq.lock);
}

void inet_pollset_fire(struct inet_pollent *e)
{
	struct inet_pollitem *it = container_of(e, struct inet_pollitem, ent);

	if (!it->ready)
		ready_add(it);
}

/* @it, listed, off its set's ready list; with sets.lock (no harvest holds it). */
static void ready_del(struct inet_pollitem *it)
{
	struct inet_pollset *set = it->set;

	spin_lock(&set->wq.lock);
	*it->rpprev = it->rnext;
	if (it->rnext)
		it->rnext->rpprev = it->rpprev;
	else
		set->rtail = it->rpprev;
	spin_unlock(&set->wq.lock);
}

/* --- items --- */

/* What @it's socket is ready for, of what it watches; with the socket's lock. */
static unsigned item_poll(struct inet_pollitem *it)
{
	struct inet_file *f = it->file;
	unsigned ev = f->tcp ? tcp_poll_locked(f->tcp) | (f->shut_rd ? INET_POLLIN : 0)
			     : udp_poll_locked(f->udp, NULL);

	return ev & (it->ent.events | INET_POLLERR | INET_POLLHUP);
}

/* Hook @it on its socket, or change what it watches, and put it on the list if ready. */
static void item_arm(struct inet_pollitem *it, bool hook)
{
	struct inet_file *f = it->file;

	if (f->tcp) {
		tcp_enter(NULL);
		if (hook)
			inet_poll_hook(&f->tcp->pollers, &it->ent);
		if (item_poll(it) && !it->ready)
			ready_add(it);
		tcp_leave();
	} else {
		inet_lock();
		if (hook)
			udp_poll_locked(f->udp, &it->ent);
		if (item_poll(it) && !it->ready)
			ready_add(it);
		spin_unlock(&inet_stack->lock);
	}
}

/* @it unwatched and freed; with sets.lock. */
static void item_del(struct inet_pollitem *it)
{
	struct inet_file *f = it->file;
	bool listed;

	if (f->tcp)
		tcp_enter(NULL);
	else
		inet_lock();
	inet_poll_unhook(&it->ent);
	listed = it->ready;
	it->ready = false;
	if (f->tcp)
		tcp_leave();
	else
		spin_unlock(&inet_stack->lock);
	/* Unhooked: no waker reaches it now. */
	if (listed)
		ready_del(it);
	*it->spprev = it->snext;
	if (it->snext)
		it->snext->spprev = it->spprev;
	*it->fpprev = it->fnext;
	if (it->fnext)
		it->fnext->fpprev = it->fpprev;
	sets.watches--;
	kfree(it);
}

static struct inet_pollitem *item_find(struct inet_file *f, struct inet_pollset *set)
{
	struct inet_pollitem *it;

	for (it = f->items; it && it->set != set; it = it->fnext)
		;
	return it;
}

/* --- the calls --- */

int inet_pollset(void)
{
	struct inet_pollset *set;
	struct inet_file *f;
	int fd;

	if (!inet_stack)
		return -ENODEV;
	f = calloc(1, sizeof(*f));
	set = kzalloc(sizeof(*set));
	if (!f || !set) {
		free(f);
		kfree(set);
		return -ENOMEM;
	}
	kwait_init(&set->wq);
	set->rtail = &set->ready;
	inet_waits_add(&set->waits, INET_WAITS_SET);
	f->type = INET_FILE_POLLSET;
	f->set = set;
	fd = inet_file_install(f);
	if (fd < 0) {
		inet_pollset_free(set);
		free(f);
	}
	return fd;
}

int inet_pollset_ctl(int sfd, int op, int fd, uint32_t events, uint64_t data)
{
	struct inet_file *sf = inet_file_get(sfd), *f = inet_file_get(fd);
	struct inet_pollitem *it;
	int err = 0;

	if (!sf || !f) {
		err = -EBADF;
		goto out;
	}
	if (sf->type != INET_FILE_POLLSET || sf == f) {
		err = -EINVAL;
		goto out;
	}
	if (f->type == INET_FILE_POLLSET) {
		err = -ENOTSOCK;
		goto out;
	}
	if (events &
	    ~(uint32_t)(INET_POLLIN | INET_POLLOUT | INET_POLLERR | INET_POLLHUP | INET_POLLET)) {
		err = -EINVAL;
		goto out;
	}
	sets_lock();
	it = item_find(f, sf->set);
	switch (op) {
	case INET_POLLSET_ADD:
		if (it) {
			err = -EEXIST;
			break;
		}
		if (sets.watches >= INET_POLLSET_WATCHES) {
			err = -ENOSPC;
			break;
		}
		it = kzalloc(sizeof(*it));
		if (!it) {
			err = -ENOMEM;
			break;
		}
		it->set = sf->set;
		it->file = f;
		it->fd = fd;
		it->data = data;
		it->et = events & INET_POLLET;
		it->ent.events = (uint16_t)(events & (INET_POLLIN | INET_POLLOUT));
		/* On the set's list before the hook: whoever reaps the set finds it. */
		it->snext = sf->set->items;
		if (it->snext)
			it->snext->spprev = &it->snext;
		it->spprev = &sf->set->items;
		sf->set->items = it;
		it->fnext = f->items;
		if (it->fnext)
			it->fnext->fpprev = &it->fnext;
		it->fpprev = &f->items;
		f->items = it;
		sets.watches++;
		item_arm(it, true);
		break;
	case INET_POLLSET_MOD:
		if (!it) {
			err = -ENOENT;
			break;
		}
		/* Under the socket's lock, with the look that follows: no wake sees half of it. */
		if (f->tcp)
			tcp_enter(NULL);
		else
			inet_lock();
		it->data = data;
		it->et = events & INET_POLLET;
		it->ent.events = (uint16_t)(events & (INET_POLLIN | INET_POLLOUT));
		if (f->tcp)
			tcp_leave();
		else
			spin_unlock(&inet_stack->lock);
		item_arm(it, false);
		break;
	case INET_POLLSET_DEL:
		if (!it)
			err = -ENOENT;
		else
			item_del(it);
		break;
	default:
		err = -EINVAL;
		break;
	}
	pthread_mutex_unlock(&sets.lock);
out:
	/* After sets.lock: a last reference frees its file, which takes it. */
	if (sf)
		inet_file_put(sf);
	if (f)
		inet_file_put(f);
	return err;
}

enum { HELD_NONE, HELD_TCP, HELD_INET };

static void unlock_held(int held)
{
	if (held == HELD_TCP)
		tcp_leave();
	else if (held == HELD_INET)
		spin_unlock(&inet_stack->lock);
}

/* The lock of @it's kind of socket (tcp_lock, or inet.lock for UDP), switched to from @held. */
static int lock_for(const struct inet_pollitem *it, int held)
{
	int want = it->file->tcp ? HELD_TCP : HELD_INET;

	if (want == held)
		return held;
	unlock_held(held);
	if (want == HELD_TCP)
		tcp_enter(NULL);
	else
		inet_lock();
	return want;
}

/*
 * One look at @set's ready items, up to @max of them into @ev, each under
 * its socket's lock (held across items of one kind: TCP and UDP never
 * nest): a ready one is reported, and kept unless edge-triggered; one not
 * ready is let go. What was not looked at goes back first, with its links
 * as they were, then what came meanwhile, then what was kept. O(@max);
 * with sets.lock.
 */
static unsigned set_harvest(struct inet_pollset *set, struct inet_pollevent *ev, unsigned max)
{
	struct inet_pollitem *it, *next, *keep = NULL, **kt = &keep, **tail;
	unsigned n = 0;
	int held = HELD_NONE;

	spin_lock(&set->wq.lock);
	it = set->ready;
	tail = set->rtail;
	set->ready = NULL;
	set->rtail = &set->ready;
	spin_unlock(&set->wq.lock);
	for (; it && n < max; it = next) {
		unsigned r;

		next = it->rnext;
		held = lock_for(it, held);
		r = item_poll(it);
		if (!r || it->et) {
			it->ready = false;
		} else {
			it->rnext = NULL;
			it->rpprev = kt;
			*kt = it;
			kt = &it->rnext;
		}
		if (r)
			ev[n++] = (struct inet_pollevent){.events = r, .data = it->data};
	}
	unlock_held(held);
	spin_lock(&set->wq.lock);
	if (it) {
		/* @it on, to @tail: the rest, unlooked at, before what came meanwhile. */
		*tail = set->ready;
		if (set->ready)
			set->ready->rpprev = tail;
		else
			set->rtail = tail;
		set->ready = it;
		it->rpprev = &set->ready;
	}
	*set->rtail = keep;
	if (keep) {
		keep->rpprev = set->rtail;
		set->rtail = kt;
	}
	/* Level-triggered items are still there: another waiter may take them. */
	if (set->ready)
		kwait_wake_locked(&set->wq, 1);
	spin_unlock(&set->wq.lock);
	return n;
}

int inet_pollset_wait(int sfd, struct inet_pollevent *ev, unsigned max, int timeout_ms)
{
	uint64_t deadline = timeout_ms > 0 ? host_mono_ns() + (uint64_t)timeout_ms * 1000000u : 0;
	struct inet_file *sf = inet_file_get(sfd);
	struct inet_pollset *set;
	int err = 0, n = 0;

	if (!sf)
		return -EBADF;
	if (sf->type != INET_FILE_POLLSET || !max) {
		inet_file_put(sf);
		return -EINVAL;
	}
	set = sf->set;
	for (;;) {
		int64_t left;

		sets_lock();
		n = (int)set_harvest(set, ev, max);
		pthread_mutex_unlock(&sets.lock);
		if (n || timeout_ms == 0) {
			/* As inet_sock_poll: a loop that always finds work lets its CPU's others
			 * run. */
			if (n && kthread_self())
				kthread_yield();
			break;
		}
		if (!(left = inet_wait_left(deadline)))
			break;
		spin_lock(&set->wq.lock);
		if (set->ready) {
			spin_unlock(&set->wq.lock);
			continue;
		}
		err = kwait_sleep_locked(&set->wq, KWAIT_EXCL | KWAIT_INTR, left);
		if (err == -ETIMEDOUT || err == -EAGAIN)
			err = 0; /* one more look, then the deadline decides */
		else if (err)
			break;
	}
	inet_file_put(sf);
	return err ? err : n;
}

/* --- the ends --- */

void inet_pollset_forget(struct inet_file *f)
{
	sets_lock();
	while (f->items)
		item_del(f->items);
	pthread_mutex_unlock(&sets.lock);
}

void inet_pollset_free(struct inet_pollset *set)
{
	sets_lock();
	while (set->items)
		item_del(set->items);
	pthread_mutex_unlock(&sets.lock);
	inet_waits_del(&set->waits);
	kfree(set);
}

/* --- the waits' blocks (sock_poll.h) --- */

void inet_waits_add(struct inet_waits *w, uint8_t kind)
{
	w->kind = kind;
	w->owner = host_pid();
	inet_lock();
	w->next = inet_stack->waits;
	if (w->next)
		w->next->pprev = &w->next;
	w->pprev = &inet_stack->waits;
	inet_stack->waits = w;
	spin_unlock(&inet_stack->lock);
}

void inet_waits_del(struct inet_waits *w)
{
	inet_lock();
	*w->pprev = w->next;
	if (w->next)
		w->next->pprev = w->pprev;
	spin_unlock(&inet_stack->lock);
}

void inet_waits_owners(void (*fn)(void *arg, uint32_t pid), void *arg)
{
	inet_lock();
	for (struct inet_waits *w = inet_stack->waits; w; w = w->next)
		fn(arg, w->owner);
	spin_unlock(&inet_stack->lock);
}

unsigned inet_waits_reap(const struct inet_pids *dead)
{
	struct inet_waits *gone = NULL, *w, *next;
	unsigned freed = 0;

	/* Only forward links: a dead owner may have left a back link half made. */
	inet_lock();
	for (struct inet_waits **pp = &inet_stack->waits; (w = *pp);) {
		if (inet_pids_has(dead, w->owner)) {
			*pp = w->next;
			w->next = gone;
			gone = w;
		} else {
			w->pprev = pp;
			pp = &w->next;
		}
	}
	spin_unlock(&inet_stack->lock);
	/* Their sockets are closed (inet_reap's first step): no waker reaches these. */
	for (w = gone; w; w = next, freed++) {
		next = w->next;
		if (w->kind == INET_WAITS_SET) {
			struct inet_pollset *set = container_of(w, struct inet_pollset, waits);

			for (struct inet_pollitem *it = set->items, *in; it; it = in) {
				in = it->snext;
				kfree(it);
			}
			kfree(set);
		} else {
			kfree(container_of(w, struct inet_poller, waits));
		}
	}
	return freed;
}
