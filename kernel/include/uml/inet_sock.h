/*
 * Sockets for applications on the machine's own stack (kernel/net/inet/
 * socket.c): descriptors over the TCP and UDP calls of uml/inet.h, and a
 * poll-like wait over many of them. libuml's uml_socket and the rest
 * (uml.h) are these with struct sockaddr around the addresses.
 *
 * A descriptor is a small int in a table of the calling process, in its
 * own memory: the lowest free one, as POSIX's. The socket it names lives
 * in the arena, as every socket of the stack does, owned by the process
 * (inet_reap closes it when the process dies). A forked child starts with
 * an empty table. Any thread of the process -- a kernel thread of any of
 * its CPUs or a plain host thread -- may use any descriptor; a call holds
 * the socket while it runs, so inet_sock_close from another thread frees
 * it only when the last call on it returns.
 *
 * Addresses and ports are in host byte order. Calls return 0 (or a count)
 * or a negative errno; -EBADF for a descriptor that is not open, -ENOTSOCK
 * for a poll set's, -EOPNOTSUPP for a call the socket's type has not
 * (listen on UDP).
 */
#ifndef UML_INET_SOCK_H
#define UML_INET_SOCK_H

#include <stdint.h>
#include <sys/types.h>

#include "uml/inet.h"

#define INET_SOCK_STREAM   1
#define INET_SOCK_DGRAM	   2
#define INET_SOCK_NONBLOCK 0x1	 /* calls never wait: -EAGAIN, -EINPROGRESS */
#define INET_SOCK_INET6	   0x2	 /* an IPv6 socket (dual-stack), else IPv4 only */
#define INET_SOCK_MAX	   65536 /* descriptors of a process at most */

/* poll(2)'s bits, with its values. */
#define INET_POLLIN   0x01
#define INET_POLLOUT  0x04
#define INET_POLLERR  0x08
#define INET_POLLHUP  0x10
#define INET_POLLNVAL 0x20

struct inet_pollfd {
	int fd; /* < 0: skipped, revents 0 */
	uint16_t events, revents;
};

/* Options (inet_sock_setopt/getopt); times in ms, < 0 none. */
enum inet_sockopt {
	INET_SO_NODELAY,   /* TCP: Nagle off (1) or on (0) */
	INET_SO_KEEPALIVE, /* TCP: keepalive after this many idle seconds, 0 off */
	INET_SO_SNDBUF,	   /* TCP: bytes, 4096..16 MiB, before connect or listen */
	INET_SO_RCVBUF,
	INET_SO_RCVTIMEO, /* how long a blocking receive or accept waits: then -EAGAIN */
	INET_SO_SNDTIMEO, /* how long a blocking send waits: then -EAGAIN */
	INET_SO_ERROR,	  /* get only: the error that ended the connection (once), else 0 */
	INET_SO_NONBLOCK, /* the descriptor's INET_SOCK_NONBLOCK */
};

/*
 * An endpoint as an application names it: the address (IPv4 v4-mapped, as
 * struct inet_addr always is), the port, and the family. A socket takes
 * endpoints of its own family only (-EAFNOSUPPORT): an IPv4 socket IPv4
 * addresses, an IPv6 socket IPv6 ones, among them v4-mapped ones, which
 * reach IPv4 peers (RFC 4038's dual stack, Linux's default). Every endpoint
 * a socket gives back is in its family: an IPv6 socket's IPv4 peer is
 * ::ffff:a.b.c.d.
 */
#define INET_AF_INET  4
#define INET_AF_INET6 6
struct inet_endpoint {
	struct inet_addr addr;
	uint16_t port;
	uint8_t family; /* INET_AF_INET or INET_AF_INET6 */
	/*
	 * A link-local address's zone: the interface it is on (netif_index),
	 * 0 for none. Given, it picks the interface; without it a link-local
	 * peer needs the machine to have one IPv6 interface only (-EINVAL
	 * else). Given back for every link-local address. Other addresses
	 * ignore it, as Linux's sockets do.
	 */
	uint32_t scope;
};

/*
 * A new socket of @type (flags: INET_SOCK_NONBLOCK, INET_SOCK_INET6): its
 * descriptor, -EINVAL, -EMFILE, -ENOMEM.
 */
int inet_socket(int type, unsigned flags);
/* As tcp_bind_in and udp_bind_in; the wildcard of an IPv6 socket, ::, takes both families. */
int inet_sock_bind(int fd, const struct inet_endpoint *ep);
/* TCP: listen, bound first to its family's wildcard and an ephemeral port if not bound. */
int inet_sock_listen(int fd, int backlog);
/* TCP: the next connection's new descriptor (@flags for it), or as tcp_accept; -EAGAIN. */
int inet_sock_accept(int fd, struct inet_endpoint *peer, unsigned flags);
/*
 * TCP: the handshake, waiting at most @timeout_ms (< 0: no limit); 0,
 * -ECONNREFUSED, -ETIMEDOUT (the attempt is then abandoned), -ENETUNREACH,
 * -EISCONN, -EINTR. Non-blocking: -EINPROGRESS, then INET_POLLOUT once it
 * is over and INET_SO_ERROR says how. UDP: the default destination of
 * inet_sock_send, and the only sender heard (udp_connect_in).
 */
int inet_sock_connect(int fd, const struct inet_endpoint *ep, int timeout_ms);
/* UDP: no peer any more, every sender heard again (connect(AF_UNSPEC)); TCP: tcp_disconnect. */
int inet_sock_disconnect(int fd);
#define INET_MSG_DONTWAIT 0x1 /* this call does not wait, whatever the descriptor */
/*
 * Send and receive as tcp_send/tcp_recv and udp_sendto/udp_recvfrom, with
 * the descriptor's waits (INET_SO_RCVTIMEO, INET_SO_SNDTIMEO, non-blocking:
 * -EAGAIN). inet_sock_sendto on TCP with an address: -EISCONN.
 */
ssize_t inet_sock_send(int fd, const void *buf, size_t len, unsigned flags);
ssize_t inet_sock_recv(int fd, void *buf, size_t len, unsigned flags);
ssize_t inet_sock_sendto(int fd, const void *buf, size_t len, unsigned flags,
			 const struct inet_endpoint *to);
ssize_t inet_sock_recvfrom(int fd, void *buf, size_t len, unsigned flags,
			   struct inet_endpoint *from);
#define INET_SHUT_RD 0x1 /* receives return 0 from now on */
#define INET_SHUT_WR 0x2 /* a FIN after what is queued */
/* TCP: -EINVAL for a bad @how, -ENOTCONN; UDP: -EOPNOTSUPP. */
int inet_sock_shutdown(int fd, unsigned how);
/* The descriptor is free at once; the socket is closed (tcp_close) when no call holds it. */
int inet_sock_close(int fd);
/* The local address, or the peer's (-ENOTCONN without one). */
int inet_sock_name(int fd, struct inet_endpoint *ep);
int inet_sock_peer(int fd, struct inet_endpoint *ep);
/* -ENOPROTOOPT for an option the socket's type has not, -EINVAL for a bad value. */
int inet_sock_setopt(int fd, enum inet_sockopt opt, int value);
int inet_sock_getopt(int fd, enum inet_sockopt opt, int *value);
/*
 * Wait until one of @fds is ready for what its events ask, or @timeout_ms
 * passes (0: not at all, < 0: no limit), as poll(2), level-triggered:
 * INET_POLLIN (data, the peer's FIN, a connection to accept, or an end),
 * INET_POLLOUT (room to send; a connect ended), INET_POLLERR (an error
 * INET_SO_ERROR or the next call reports), INET_POLLHUP (the connection is
 * over), INET_POLLNVAL (not a socket's descriptor). The number of ready entries, 0
 * at the timeout, -EINTR, -EINVAL (more than INET_SOCK_MAX), -ENOMEM.
 */
int inet_sock_poll(struct inet_pollfd *fds, unsigned nfds, int timeout_ms);

/*
 * Poll sets, as epoll: a set remembers the sockets it watches, and a
 * socket's event puts its item on the set's ready list, so a wait costs
 * what is ready, not what is watched. A set is a descriptor of the same
 * table (inet_sock_close frees it); closing a socket takes it out of
 * every set. Level-triggered, or INET_POLLET: an item is reported once
 * per event that finds it not ready before.
 */
#define INET_POLLET	     0x8000u /* in a set's events: edge-triggered */
#define INET_POLLSET_ADD     1
#define INET_POLLSET_MOD     2
#define INET_POLLSET_DEL     3
#define INET_POLLSET_WATCHES 262144 /* items of a process's sets at most */
struct inet_pollevent {
	uint32_t events; /* INET_POLL* that are ready */
	uint64_t data;	 /* what inet_pollset_ctl gave */
};
/* A new, empty set's descriptor; -EMFILE, -ENOMEM, -ENODEV (no stack). */
int inet_pollset(void);
/*
 * Watch socket @fd for @events (INET_POLLIN, INET_POLLOUT, INET_POLLET;
 * errors and hang-ups always count) and report @data with them (ADD), or
 * change that (MOD), or stop (DEL). -EBADF, -EINVAL (@set is not a set,
 * or @fd is @set), -ENOTSOCK (@fd is another set), -EEXIST (ADD twice),
 * -ENOENT (MOD or DEL of what is not watched), -ENOSPC (the process
 * watches INET_POLLSET_WATCHES already), -ENOMEM.
 */
int inet_pollset_ctl(int set, int op, int fd, uint32_t events, uint64_t data);
/*
 * Up to @max ready items into @ev, waiting at most @timeout_ms (0: not at
 * all, < 0: no limit); items not reported for @max come first next time.
 * The number reported, 0 at the timeout, -EBADF, -EINVAL (not a set, @max
 * 0), -EINTR (a kernel thread interrupted).
 */
int inet_pollset_wait(int set, struct inet_pollevent *ev, unsigned max, int timeout_ms);

#endif
