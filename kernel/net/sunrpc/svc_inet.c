/*
 * Listening on the machine's own stack: the TCP and UDP sockets an RPC
 * service (svc.c) serves beside, or instead of, the host's. They are in the
 * arena, like the fds of svc_listen they are made once, by the process that
 * starts the CPUs, and every CPU's threads wait on them.
 */
#include <errno.h>

#include "uml/inet.h"
#include "uml/svc.h"

#define SVC_INET_BACKLOG 128

int svc_listen_inet(const struct inet_addr *addr, uint16_t port, unsigned protos,
		    struct svc_listener *l)
{
	struct inet_addr bound;
	int err = 0;

	if (!(protos & (SVC_TCP | SVC_UDP)) || (protos & ~(SVC_TCP | SVC_UDP | SVC_RPCBIND)))
		return -EINVAL;
	l->tcp_fd = l->udp_fd = -1;
	l->inet_tcp = l->rpcb_tcp = NULL;
	l->inet_udp = l->rpcb_udp = NULL;
	if (protos & SVC_TCP) {
		err = tcp_open(&l->inet_tcp);
		if (!err)
			err = tcp_bind_in(l->inet_tcp, addr, port);
		if (!err)
			err = tcp_listen(l->inet_tcp, SVC_INET_BACKLOG);
		/* Port 0: UDP takes the one TCP was given, as svc_listen does. */
		if (!err && !port)
			err = tcp_local_in(l->inet_tcp, &bound, &port);
	}
	if (!err && (protos & SVC_UDP)) {
		err = udp_open(&l->inet_udp);
		if (!err)
			err = udp_bind_in(l->inet_udp, addr, port);
	}
	/* rpcbind answers over both, whichever the service takes (clients ask over either). */
	if (!err && (protos & SVC_RPCBIND)) {
		err = tcp_open(&l->rpcb_tcp);
		if (!err)
			err = tcp_bind_in(l->rpcb_tcp, addr, SVC_RPCBIND_PORT);
		if (!err)
			err = tcp_listen(l->rpcb_tcp, SVC_INET_BACKLOG);
		if (!err)
			err = udp_open(&l->rpcb_udp);
		if (!err)
			err = udp_bind_in(l->rpcb_udp, addr, SVC_RPCBIND_PORT);
	}
	if (err)
		svc_unlisten_inet(l);
	return err;
}

void svc_unlisten_inet(struct svc_listener *l)
{
	if (l->inet_tcp)
		tcp_close(l->inet_tcp);
	if (l->inet_udp)
		udp_close(l->inet_udp);
	if (l->rpcb_tcp)
		tcp_close(l->rpcb_tcp);
	if (l->rpcb_udp)
		udp_close(l->rpcb_udp);
	l->inet_tcp = l->rpcb_tcp = NULL;
	l->inet_udp = l->rpcb_udp = NULL;
}
