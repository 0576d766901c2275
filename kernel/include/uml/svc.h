/*
 * kernel/net/sunrpc: the RPC transports, TCP with record marking and UDP on
 * one port, served by kernel threads of the CPUs that start them.
 *
 * They know nothing of the programs they carry: a service (struct
 * rpc_service, uml/rpc.h) brings its program tables and its admission hook,
 * and its owner, such as kernel/net/nfs, wires it to the listening sockets.
 */
#ifndef UML_SVC_H
#define UML_SVC_H

#include "uml/rpc.h"

struct inet_addr;
struct tcp_sock;
struct udp_sock;

/*
 * A listening port: on the host's stack (the fds), on the machine's own
 * (kernel/net/inet's sockets, in the arena), or both; any may be missing.
 */
struct svc_listener {
	int tcp_fd; /* listening, non-blocking, close-on-exec; -1: none */
	int udp_fd;
	struct tcp_sock *inet_tcp; /* listening; NULL: none */
	struct udp_sock *inet_udp;
	/* The machine's rpcbind for this service (SVC_RPCBIND); NULL: none. */
	struct tcp_sock *rpcb_tcp;
	struct udp_sock *rpcb_udp;
};

/* Transports of svc_listen. */
#define SVC_TCP 0x1
#define SVC_UDP 0x2
/*
 * svc_listen_inet only: rpcbind's port (111) on the same address too, TCP
 * and UDP, where the service answers rpcbind for itself (rpcb_svc.c).
 */
#define SVC_RPCBIND	 0x4
#define SVC_RPCBIND_PORT 111

/*
 * Bind @protos (SVC_TCP, SVC_UDP or both) on @host:@port (a numeric address,
 * "[v6]" allowed; "0.0.0.0" or "::" for all); the socket not asked for is
 * -1. With port 0 both get the same free port. Called once, by the process
 * that forks the CPUs; the sockets are shared by all of them. Returns 0,
 * -EINVAL, or the bind's negative errno. (addr.c)
 */
int svc_listen(const char *host, int port, unsigned protos, struct svc_listener *l);
/*
 * The same on the machine's own stack: @protos on @addr:@port (either
 * family, IPv4 v4-mapped: ::ffff:0.0.0.0 every IPv4 address of the machine,
 * :: every address of both; port 0: a free one, the same for both). Sets
 * inet_tcp and inet_udp, the fds -1; with SVC_RPCBIND also rpcb_tcp and
 * rpcb_udp, on port 111 of @addr. 0, or the stack's errno (-ENODEV
 * without inet_init, -EADDRINUSE, -EADDRNOTAVAIL, -ENOMEM). (svc_inet.c)
 */
int svc_listen_inet(const struct inet_addr *addr, uint16_t port, unsigned protos,
		    struct svc_listener *l);
/* Close what svc_listen_inet opened (no service may still use it). */
void svc_unlisten_inet(struct svc_listener *l);

/*
 * The rpcbind a service on the machine's stack answers for itself (RFC
 * 1833: PMAP version 2, RPCB versions 3 and 4), served on a listener's
 * rpcb_tcp and rpcb_udp by rpc_svc_start. (rpcb_svc.c)
 */
extern const struct rpc_service svc_rpcbind;

/*
 * rpc_svc_start starts kernel threads on the calling CPU that serve @svc on
 * the listening sockets of @l (any may be missing), which other CPUs may
 * serve too;
 * @stats, in the arena, counts for all of them. rpc_svc_stop, on the same
 * CPU, interrupts them all; they finish on their own and the service is
 * freed with the last. 0, -EPERM off a CPU, or -ENOMEM. (svc.c)
 */
struct svc_serv;
int rpc_svc_start(const struct rpc_service *svc, const struct svc_listener *l,
		  struct rpc_stats *stats, struct svc_serv **out);
void rpc_svc_stop(struct svc_serv *s);
/*
 * Make the calling host thread a CPU that serves @svc until @stop_fd is
 * readable, then stop being one. Returns 0 when stopped or a negative errno:
 * -EPERM from a kernel thread, -EBUSY when the thread is a CPU already.
 */
int rpc_svc_loop(const struct rpc_service *svc, const struct svc_listener *l, int stop_fd,
		 struct rpc_stats *stats);

#endif
