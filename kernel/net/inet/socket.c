/*
 * Sockets for applications (uml/inet_sock.h): a descriptor table per
 * process over the stack's TCP and UDP sockets, and inet_sock_poll.
 *
 * The table is the process's own memory: descriptors mean nothing in
 * another process, and a dead process's table dies with it while its
 * sockets, in the arena, are closed by inet_reap through inet.tcp_users
 * and inet.udp_users, as before. files.lock (a host mutex: nobody sleeps
 * under it) guards the table and every file's refs; a file's other fields
 * are set before it is published or by calls on it.
 *
 * The poll: sock_poll.h. A call first looks at every socket without
 * hooking anything (a ready one answers at once, as most calls of a busy
 * loop are); only when none is ready does it hook one entry per socket
 * and look again under the same lock instants, so that a wake cannot fall
 * between the look and the hook; then it sleeps on its own queue, which
 * works alike for kernel threads and host threads (kwait). A wake tells
 * the socket's events, so a poller waiting for input is not woken by an
 * ACK that only frees send space.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "uml/host.h"
#include "uml/mm.h"
#include "inet_internal.h"
#include "sock_file.h"
#include "sock_poll.h"
#include "tcp.h"

static struct {
	pthread_mutex_t lock;
	uint32_t pid; /* whose table it is: a forked child finds its parent's and drops it */
	struct inet_file **tab;
	unsigned cap;
} files = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* --- the table --- */

/* With files.lock: the table of this process (a forked child's copy is forgotten, not freed). */
static void table_own_locked(void)
{
	uint32_t me = host_pid();

	if (files.pid != me) {
		files.pid = me;
		files.tab = NULL;
		files.cap = 0;
	}
}

int inet_file_install(struct inet_file *f)
{
	unsigned i;
	int fd = -EMFILE;

	pthread_mutex_lock(&files.lock);
	table_own_locked();
	for (i = 0; i < files.cap && files.tab[i]; i++)
		;
	if (i == files.cap && files.cap < INET_SOCK_MAX) {
		unsigned cap = files.cap ? 2 * files.cap : 64;
		struct inet_file **t = realloc(files.tab, cap * sizeof(*t));

		if (!t) {
			fd = -ENOMEM;
			goto out;
		}
		memset(t + files.cap, 0, (cap - files.cap) * sizeof(*t));
		files.tab = t;
		files.cap = cap;
	}
	if (i < files.cap) {
		f->refs = 1;
		files.tab[i] = f;
		fd = (int)i;
	}
out:
	pthread_mutex_unlock(&files.lock);
	return fd;
}

static struct inet_file *get_locked(int fd)
{
	struct inet_file *f;

	table_own_locked();
	if (fd < 0 || (unsigned)fd >= files.cap || !(f = files.tab[fd]))
		return NULL;
	f->refs++;
	return f;
}

struct inet_file *inet_file_get(int fd)
{
	struct inet_file *f;

	pthread_mutex_lock(&files.lock);
	f = get_locked(fd);
	pthread_mutex_unlock(&files.lock);
	return f;
}

static void file_free(struct inet_file *f)
{
	if (f->items)
		inet_pollset_forget(f);
	if (f->set)
		inet_pollset_free(f->set);
	if (f->tcp)
		tcp_close(f->tcp);
	if (f->udp)
		udp_close(f->udp);
	free(f);
}

void inet_file_put(struct inet_file *f)
{
	bool last;

	pthread_mutex_lock(&files.lock);
	last = --f->refs == 0;
	pthread_mutex_unlock(&files.lock);
	if (last)
		file_free(f);
}

/* Give back the files @fl[0..@n) that are not NULL, with one instant of files.lock. */
static void fd_put_many(struct inet_file **fl, unsigned n)
{
	unsigned last = 0;

	pthread_mutex_lock(&files.lock);
	for (unsigned i = 0; i < n; i++)
		if (fl[i] && --fl[i]->refs == 0)
			fl[last++] = fl[i];
	pthread_mutex_unlock(&files.lock);
	for (unsigned i = 0; i < last; i++)
		file_free(fl[i]);
}

/*
 * The peer of a TCP connection, and a link-local peer's zone (that of our
 * link-local address, which the connection keeps): -ENOTCONN before it is
 * made or after it ended.
 */
static int tcp_peer(struct tcp_sock *s, struct inet_addr *addr, uint16_t *port, uint32_t *scope)
{
	int err = 0;

	tcp_enter(s);
	if (!s->opened || s->state == TCP_CLOSED || s->state == TCP_SYN_SENT ||
	    s->state == TCP_LISTEN)
		err = -ENOTCONN;
	*addr = s->raddr;
	*port = s->rport;
	*scope = ipv6_is_linklocal(&s->raddr) ? ipv6_scope_of(&s->laddr) : 0;
	tcp_leave();
	return err;
}

static uint8_t family_of(const struct inet_file *f)
{
	return f->inet6 ? INET_AF_INET6 : INET_AF_INET;
}

/* An endpoint the application gave: of the socket's family, and an IPv4 one mapped. */
static int endpoint_ok(const struct inet_file *f, const struct inet_endpoint *ep)
{
	if (ep->family != family_of(f))
		return -EAFNOSUPPORT;
	return ep->family == INET_AF_INET && !inet_addr_is_v4(&ep->addr) ? -EINVAL : 0;
}

/* The wildcard of @f's family: every address of ours it can use. */
static struct inet_addr wildcard_of(const struct inet_file *f)
{
	return f->inet6 ? (struct inet_addr){{0}} : inet_addr_from_v4(0);
}

/* @want's wait in ms for a call on @f: 0 when it must not wait. */
static int wait_of(const struct inet_file *f, unsigned flags, int want)
{
	return f->nonblock || (flags & INET_MSG_DONTWAIT) ? 0 : want;
}

/* A blocking call that timed out by the descriptor's timeout says -EAGAIN, as BSD's. */
static ssize_t timed(ssize_t r)
{
	return r == -ETIMEDOUT ? -EAGAIN : r;
}

/*
 * The socket @fd names, held until inet_file_put; NULL with *@err -EBADF
 * or -ENOTSOCK (*@err untouched otherwise).
 */
static struct inet_file *sock_get(int fd, int *err)
{
	struct inet_file *f = inet_file_get(fd);

	if (!f) {
		*err = -EBADF;
	} else if (f->type == INET_FILE_POLLSET) {
		inet_file_put(f);
		f = NULL;
		*err = -ENOTSOCK;
	}
	return f;
}

/* --- the calls --- */

int inet_socket(int type, unsigned flags)
{
	struct inet_file *f;
	int err, fd;

	if ((type != INET_SOCK_STREAM && type != INET_SOCK_DGRAM) ||
	    (flags & ~(INET_SOCK_NONBLOCK | INET_SOCK_INET6)))
		return -EINVAL;
	if (!inet_stack)
		return -ENODEV;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->type = (uint8_t)type;
	f->nonblock = flags & INET_SOCK_NONBLOCK;
	f->inet6 = flags & INET_SOCK_INET6;
	f->rcvtimeo = f->sndtimeo = -1;
	err = type == INET_SOCK_STREAM ? tcp_open(&f->tcp) : udp_open(&f->udp);
	if (err) {
		free(f);
		return err;
	}
	fd = inet_file_install(f);
	if (fd < 0)
		file_free(f);
	return fd;
}

int inet_sock_bind(int fd, const struct inet_endpoint *ep)
{
	int err;
	struct inet_file *f = sock_get(fd, &err);

	if (!f)
		return err;
	err = endpoint_ok(f, ep);
	/* A link-local address is one interface's: a zone given must be that one. */
	if (!err && ep->scope && ipv6_is_linklocal(&ep->addr) &&
	    ipv6_scope_of(&ep->addr) != ep->scope)
		err = -EINVAL;
	if (!err)
		err = f->tcp ? tcp_bind_in(f->tcp, &ep->addr, ep->port)
			     : udp_bind_in(f->udp, &ep->addr, ep->port);
	inet_file_put(f);
	return err;
}

int inet_sock_listen(int fd, int backlog)
{
	struct inet_addr addr;
	uint16_t port;
	int err;
	struct inet_file *f = sock_get(fd, &err);

	if (!f)
		return err;
	addr = wildcard_of(f);
	if (!f->tcp)
		err = -EOPNOTSUPP;
	else if (tcp_local_in(f->tcp, &addr, &port) == 0 || !(err = tcp_bind_in(f->tcp, &addr, 0)))
		err = tcp_listen(f->tcp, backlog);
	inet_file_put(f);
	return err;
}

int inet_sock_accept(int fd, struct inet_endpoint *peer, unsigned flags)
{
	struct tcp_sock *c;
	int err;
	struct inet_file *f = sock_get(fd, &err), *nf;

	if (!f)
		return err;
	if (flags & ~INET_SOCK_NONBLOCK) {
		err = -EINVAL;
		goto out;
	}
	if (!f->tcp) {
		err = -EOPNOTSUPP;
		goto out;
	}
	nf = calloc(1, sizeof(*nf));
	if (!nf) {
		err = -ENOMEM;
		goto out;
	}
	peer->family = family_of(f);
	err = (int)timed(
	    tcp_accept_in(f->tcp, &c, &peer->addr, &peer->port, wait_of(f, 0, f->rcvtimeo)));
	if (err) {
		free(nf);
		goto out;
	}
	/* The peer's zone as getpeername gives it (it fills in even once reset). */
	tcp_peer(c, &peer->addr, &peer->port, &peer->scope);
	nf->type = INET_SOCK_STREAM;
	nf->nonblock = flags & INET_SOCK_NONBLOCK;
	nf->inet6 = f->inet6;
	nf->rcvtimeo = nf->sndtimeo = -1;
	nf->tcp = c;
	err = inet_file_install(nf);
	if (err < 0)
		file_free(nf);
out:
	inet_file_put(f);
	return err;
}

int inet_sock_connect(int fd, const struct inet_endpoint *ep, int timeout_ms)
{
	int err;
	struct inet_file *f = sock_get(fd, &err);

	if (!f)
		return err;
	err = endpoint_ok(f, ep);
	if (err) {
		inet_file_put(f);
		return err;
	}
	if (f->udp) {
		struct inet_endpoint peer = *ep;
		struct inet_addr bound;
		uint16_t port;

		/* A link-local peer's zone, checked now and kept for send and getpeername. */
		peer.scope = 0;
		if (ipv6_is_linklocal(&ep->addr)) {
			struct netif *nif;

			if (udp_local_in(f->udp, &bound, &port))
				bound = wildcard_of(f);
			nif = ipv6_route_scope(&ep->addr, ep->scope, &bound, &err);
			if (nif)
				peer.scope = netif_index(nif);
		}
		/* The peer is the only sender heard, and send's destination. */
		if (!err)
			err = udp_connect_in(f->udp, &ep->addr, ep->port);
		if (!err) {
			f->peer = peer;
			f->has_peer = true;
		}
	} else {
		err = tcp_connect_scope(f->tcp, &ep->addr, ep->scope, ep->port,
					wait_of(f, 0, timeout_ms));
		/* Our limit, not the SYN's retries: the attempt is given up, not left running. */
		if (err == -ETIMEDOUT && timeout_ms > 0)
			tcp_shutdown(f->tcp);
	}
	inet_file_put(f);
	return err;
}

int inet_sock_disconnect(int fd)
{
	int err = 0;
	struct inet_file *f = sock_get(fd, &err);

	if (!f)
		return err;
	if (f->tcp) {
		err = tcp_disconnect(f->tcp);
		f->shut_rd = false;
	} else {
		udp_disconnect(f->udp);
		f->has_peer = false;
	}
	inet_file_put(f);
	return err;
}

ssize_t inet_sock_sendto(int fd, const void *buf, size_t len, unsigned flags,
			 const struct inet_endpoint *to)
{
	int bad;
	struct inet_file *f = sock_get(fd, &bad);
	ssize_t r;

	if (!f)
		return bad;
	if (flags & ~INET_MSG_DONTWAIT)
		r = -EINVAL;
	else if (f->tcp)
		r = to ? -EISCONN
		       : timed(tcp_send(f->tcp, buf, len, wait_of(f, flags, f->sndtimeo)));
	else if (!to && !f->has_peer)
		r = -EDESTADDRREQ;
	else if (!to)
		r = udp_sendto_scope(f->udp, buf, len, &f->peer.addr, f->peer.scope, f->peer.port);
	else if ((r = endpoint_ok(f, to)) == 0)
		r = udp_sendto_scope(f->udp, buf, len, &to->addr, to->scope, to->port);
	inet_file_put(f);
	return r;
}

ssize_t inet_sock_send(int fd, const void *buf, size_t len, unsigned flags)
{
	return inet_sock_sendto(fd, buf, len, flags, NULL);
}

ssize_t inet_sock_recvfrom(int fd, void *buf, size_t len, unsigned flags,
			   struct inet_endpoint *from)
{
	int bad;
	struct inet_file *f = sock_get(fd, &bad);
	int wait;
	ssize_t r;

	if (!f)
		return bad;
	wait = wait_of(f, flags, f->rcvtimeo);
	if (flags & ~INET_MSG_DONTWAIT) {
		r = -EINVAL;
	} else if (f->shut_rd) {
		r = 0;
	} else if (f->tcp) {
		r = timed(tcp_recv(f->tcp, buf, len, wait));
		if (r >= 0 && from)
			tcp_peer(f->tcp, &from->addr, &from->port, &from->scope);
	} else {
		struct inet_endpoint ep;

		r = timed(
		    udp_recvfrom_scope(f->udp, buf, len, &ep.addr, &ep.scope, &ep.port, wait));
		if (r >= 0 && from)
			*from = ep;
	}
	if (from)
		from->family = family_of(f);
	inet_file_put(f);
	return r;
}

ssize_t inet_sock_recv(int fd, void *buf, size_t len, unsigned flags)
{
	return inet_sock_recvfrom(fd, buf, len, flags, NULL);
}

int inet_sock_shutdown(int fd, unsigned how)
{
	int err = 0;
	struct inet_file *f = sock_get(fd, &err);

	if (!f)
		return err;
	if (!how || (how & ~(INET_SHUT_RD | INET_SHUT_WR)))
		err = -EINVAL;
	else if (!f->tcp)
		err = -EOPNOTSUPP;
	else if (how & INET_SHUT_WR)
		err = tcp_shutdown(f->tcp);
	else
		err = tcp_peer(f->tcp, &(struct inet_addr){{0}}, &(uint16_t){0}, &(uint32_t){0});
	if (!err && (how & INET_SHUT_RD)) {
		f->shut_rd = true;
		/* Another thread's poll waiting for input has it now. */
		tcp_enter(f->tcp);
		inet_poll_wake(f->tcp->pollers, INET_POLLIN);
		tcp_leave();
	}
	inet_file_put(f);
	return err;
}

int inet_sock_close(int fd)
{
	struct inet_file *f;

	pthread_mutex_lock(&files.lock);
	table_own_locked();
	if (fd < 0 || (unsigned)fd >= files.cap || !(f = files.tab[fd])) {
		pthread_mutex_unlock(&files.lock);
		return -EBADF;
	}
	files.tab[fd] = NULL;
	pthread_mutex_unlock(&files.lock);
	inet_file_put(f);
	return 0;
}

int inet_sock_name(int fd, struct inet_endpoint *ep)
{
	int err;
	struct inet_file *f = sock_get(fd, &err);

	if (!f)
		return err;
	ep->family = family_of(f);
	err = f->tcp ? tcp_local_in(f->tcp, &ep->addr, &ep->port)
		     : udp_local_in(f->udp, &ep->addr, &ep->port);
	ep->scope = err ? 0 : ipv6_scope_of(&ep->addr);
	if (err == -ENOTCONN) {
		/* Not bound yet: the wildcard and port 0, as BSD says. */
		ep->addr = wildcard_of(f);
		ep->port = 0;
		err = 0;
	}
	inet_file_put(f);
	return err;
}

int inet_sock_peer(int fd, struct inet_endpoint *ep)
{
	int err = 0;
	struct inet_file *f = sock_get(fd, &err);

	if (!f)
		return err;
	ep->family = family_of(f);
	if (f->tcp) {
		err = tcp_peer(f->tcp, &ep->addr, &ep->port, &ep->scope);
	} else {
		err = f->has_peer ? 0 : -ENOTCONN;
		ep->addr = f->peer.addr;
		ep->port = f->peer.port;
		ep->scope = f->peer.scope;
	}
	inet_file_put(f);
	return err;
}

/* TCP's buffer sizes, one of them changed. */
static int set_buffer(struct tcp_sock *s, bool snd, int value)
{
	uint32_t sndbuf, rcvbuf;

	if (value < 0)
		return -EINVAL;
	tcp_enter(s);
	sndbuf = snd ? (uint32_t)value : s->sndbuf;
	rcvbuf = snd ? s->rcvbuf : (uint32_t)value;
	tcp_leave();
	return tcp_set_buffers(s, sndbuf, rcvbuf);
}

int inet_sock_setopt(int fd, enum inet_sockopt opt, int value)
{
	int err = 0;
	struct inet_file *f = sock_get(fd, &err);

	if (!f)
		return err;
	switch (opt) {
	case INET_SO_NODELAY:
		err = !f->tcp ? -ENOPROTOOPT : tcp_set_nodelay(f->tcp, value != 0);
		break;
	case INET_SO_KEEPALIVE:
		err = !f->tcp	  ? -ENOPROTOOPT
		      : value < 0 ? -EINVAL
				  : tcp_set_keepalive(f->tcp, (unsigned)value);
		break;
	case INET_SO_SNDBUF:
	case INET_SO_RCVBUF:
		err = !f->tcp ? -ENOPROTOOPT : set_buffer(f->tcp, opt == INET_SO_SNDBUF, value);
		break;
	case INET_SO_RCVTIMEO:
		f->rcvtimeo = value < 0 ? -1 : value;
		break;
	case INET_SO_SNDTIMEO:
		f->sndtimeo = value < 0 ? -1 : value;
		break;
	case INET_SO_NONBLOCK:
		f->nonblock = value != 0;
		break;
	default:
		err = -ENOPROTOOPT;
		break;
	}
	inet_file_put(f);
	return err;
}

int inet_sock_getopt(int fd, enum inet_sockopt opt, int *value)
{
	struct tcp_sock *s;
	int err = 0;
	struct inet_file *f = sock_get(fd, &err);

	if (!f)
		return err;
	s = f->tcp;
	switch (opt) {
	case INET_SO_NODELAY:
	case INET_SO_KEEPALIVE:
	case INET_SO_SNDBUF:
	case INET_SO_RCVBUF:
	case INET_SO_ERROR:
		if (!s) {
			err = opt == INET_SO_ERROR ? 0 : -ENOPROTOOPT;
			*value = 0;
			break;
		}
		tcp_enter(s);
		if (opt == INET_SO_NODELAY)
			*value = s->nodelay;
		else if (opt == INET_SO_KEEPALIVE)
			*value = (int)s->keep_idle_s;
		else if (opt == INET_SO_SNDBUF)
			*value = (int)s->sndbuf;
		else if (opt == INET_SO_RCVBUF)
			*value = (int)s->rcvbuf;
		else {
			/* Reported once, as the next call would have: then -EPIPE on sends. */
			*value = s->err;
			if (s->err) {
				s->err = 0;
				s->err_pipe = true;
			}
		}
		tcp_leave();
		break;
	case INET_SO_RCVTIMEO:
		*value = f->rcvtimeo;
		break;
	case INET_SO_SNDTIMEO:
		*value = f->sndtimeo;
		break;
	case INET_SO_NONBLOCK:
		*value = f->nonblock;
		break;
	default:
		err = -ENOPROTOOPT;
		break;
	}
	inet_file_put(f);
	return err;
}

/* --- poll --- */

unsigned tcp_poll_locked(const struct tcp_sock *s)
{
	unsigned ev = s->err ? INET_POLLERR : 0;

	switch (s->state) {
	case TCP_LISTEN:
		return ev | (s->acc_head ? INET_POLLIN : 0);
	case TCP_SYN_SENT:
	case TCP_SYN_RECEIVED:
		return ev;
	case TCP_CLOSED:
		/* Every call answers at once now; input only once it was a connection (poll(2)'s).
		 */
		return ev | INET_POLLHUP | INET_POLLOUT | (s->opened ? INET_POLLIN : 0);
	default:
		break;
	}
	if (s->rcvq.head || s->fin_rcvd)
		ev |= INET_POLLIN;
	/*
	 * Room worth a write: at least half of what is queued is free, as
	 * Linux's rule, so a writer that filled the buffer is not woken by
	 * every ACK, and the stack's budget has a buffer's worth (else a send
	 * would fail and the caller poll again at once: tcp_tick wakes it when
	 * the budget has room). A send that fails at once (-EPIPE) is ready too.
	 */
	if (s->shut_wr || s->err_pipe)
		ev |= INET_POLLOUT;
	else if ((s->state == TCP_ESTABLISHED || s->state == TCP_CLOSE_WAIT) &&
		 s->sndbuf - s->sndq_bytes >= s->sndq_bytes / 2 && s->sndq_bytes < s->sndbuf)
		ev |= inet_budget_room() ? INET_POLLOUT : 0;
	if (s->fin_rcvd && s->shut_wr)
		ev |= INET_POLLHUP;
	return ev;
}

void inet_poll_wake(struct inet_pollent *head, unsigned events)
{
	for (struct inet_pollent *e = head; e; e = e->next) {
		struct inet_poller *pl = e->poller;

		if (!(events & (e->events | INET_POLLERR | INET_POLLHUP)))
			continue;
		if (!pl)
			inet_pollset_fire(e);
		else if (!atomic_exchange(&pl->fired, 1))
			kwait_wake(&pl->wq, 1);
	}
}

/*
 * One look at every socket of @fl (held) for @fds: the revents, and with
 * @pl each socket's entry hooked, under one instant of each lock. Returns
 * how many entries have revents (POLLNVAL ones, set before, included).
 */
static int poll_scan(struct inet_pollfd *fds, unsigned nfds, struct inet_file **fl,
		     struct inet_poller *pl)
{
	int ready = 0;
	bool any_udp = false;

	tcp_enter(NULL);
	for (unsigned i = 0; i < nfds; i++) {
		struct inet_file *f = fl[i];
		unsigned ev;

		if (!f || !f->tcp) {
			any_udp |= f != NULL;
			continue;
		}
		ev = tcp_poll_locked(f->tcp) | (f->shut_rd ? INET_POLLIN : 0);
		fds[i].revents = (uint16_t)(ev & (fds[i].events | INET_POLLERR | INET_POLLHUP));
		if (pl) {
			pl->ent[i].events = fds[i].events;
			inet_poll_hook(&f->tcp->pollers, &pl->ent[i]);
		}
	}
	tcp_leave();
	if (any_udp) {
		inet_lock();
		for (unsigned i = 0; i < nfds; i++) {
			struct inet_file *f = fl[i];

			if (!f || !f->udp)
				continue;
			if (pl)
				pl->ent[i].events = fds[i].events;
			fds[i].revents =
			    (uint16_t)(udp_poll_locked(f->udp, pl ? &pl->ent[i] : NULL) &
				       (fds[i].events | INET_POLLERR | INET_POLLHUP));
		}
		spin_unlock(&inet_stack->lock);
	}
	for (unsigned i = 0; i < nfds; i++)
		ready += fds[i].revents != 0;
	return ready;
}

/* Every entry of @pl off its socket's list. */
static void poll_unhook(struct inet_poller *pl, struct inet_file **fl, unsigned nfds)
{
	bool any_udp = false;

	tcp_enter(NULL);
	for (unsigned i = 0; i < nfds; i++) {
		if (fl[i] && fl[i]->tcp)
			inet_poll_unhook(&pl->ent[i]);
		any_udp |= fl[i] && fl[i]->udp;
	}
	tcp_leave();
	if (!any_udp)
		return;
	inet_lock();
	for (unsigned i = 0; i < nfds; i++)
		if (fl[i] && fl[i]->udp)
			inet_poll_unhook(&pl->ent[i]);
	spin_unlock(&inet_stack->lock);
}

int inet_sock_poll(struct inet_pollfd *fds, unsigned nfds, int timeout_ms)
{
	uint64_t deadline = timeout_ms > 0 ? host_mono_ns() + (uint64_t)timeout_ms * 1000000u : 0;
	struct inet_poller *pl = NULL;
	struct inet_file **fl;
	int ready = 0, err = 0;

	if (nfds > INET_SOCK_MAX)
		return -EINVAL;
	fl = malloc((nfds ? nfds : 1) * sizeof(*fl));
	if (!fl)
		return -ENOMEM;
	/* Every socket held for the whole call: a close meanwhile frees none of them. */
	pthread_mutex_lock(&files.lock);
	for (unsigned i = 0; i < nfds; i++) {
		fds[i].revents = 0;
		fl[i] = fds[i].fd < 0 ? NULL : get_locked(fds[i].fd);
		if (fl[i] && fl[i]->type == INET_FILE_POLLSET) {
			/* Not a socket: the table's reference stays, so this one is not the last.
			 */
			fl[i]->refs--;
			fl[i] = NULL;
		}
		if (fds[i].fd >= 0 && !fl[i]) {
			fds[i].revents = INET_POLLNVAL;
			ready++;
		}
	}
	pthread_mutex_unlock(&files.lock);
	if (!inet_stack) {
		err = ready ? 0 : -ENODEV;
		goto out;
	}
	for (;;) {
		int64_t left;

		ready = poll_scan(fds, nfds, fl, NULL);
		if (ready || timeout_ms == 0) {
			/*
			 * An event loop on a kernel thread that always finds work
			 * would never block, and starve its CPU's other threads --
			 * the receive thread among them, whose ACKs free the room it
			 * waits for. A yield with nothing else runnable is a few loads.
			 */
			if (kthread_self())
				kthread_yield();
			break;
		}
		if (!(left = inet_wait_left(deadline)))
			break;
		if (!pl) {
			pl = kmalloc(sizeof(*pl) + (size_t)nfds * sizeof(pl->ent[0]));
			if (!pl) {
				err = -ENOMEM;
				break;
			}
			kwait_init(&pl->wq);
			inet_waits_add(&pl->waits, INET_WAITS_POLL);
		}
		atomic_store(&pl->fired, 0);
		for (unsigned i = 0; i < nfds; i++) {
			pl->ent[i].poller = pl;
			pl->ent[i].next = NULL;
			pl->ent[i].pprev = NULL;
		}
		ready = poll_scan(fds, nfds, fl, pl);
		if (!ready) {
			spin_lock(&pl->wq.lock);
			if (atomic_load(&pl->fired))
				spin_unlock(&pl->wq.lock);
			else
				err = kwait_sleep_locked(&pl->wq, KWAIT_INTR, left);
		}
		poll_unhook(pl, fl, nfds);
		if (err == -ETIMEDOUT) {
			err = 0;
			ready = poll_scan(fds, nfds, fl, NULL);
			break;
		}
		if (ready || err)
			break;
	}
out:
	if (pl) {
		inet_waits_del(&pl->waits);
		kfree(pl);
	}
	fd_put_many(fl, nfds);
	free(fl);
	return err ? err : ready;
}
