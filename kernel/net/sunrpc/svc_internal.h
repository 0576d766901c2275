/*
 * What the transport's files share: a service on one CPU (svc.c), its
 * connections (svc_sock.c) and who gets their slots (svc_evict.c).
 * Private to kernel/net/sunrpc.
 */
#ifndef SUNRPC_SVC_INTERNAL_H
#define SUNRPC_SVC_INTERNAL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "uml/list.h"
#include "uml/sched.h"
#include "uml/svc.h"

#define SVC_MAX_CONNS 64 /* connection slots of a CPU */
#define SVC_IN_CAP    (RPC_MAX_RECORD + 4)
#define SVC_OUT_CAP   (RPC_MAX_REPLY + 4)
/*
 * Dispatch itself needs about 8 KiB of stack (rpc_dispatch and MOUNT's path
 * buffers), but the application's file hooks run on it too, and a hook that
 * logs through its host does more: httpd's ap_log_error alone takes over
 * 16 KiB. So connections get the default 64 KiB; the sanitizers' red zones
 * need twice that.
 */
#if defined(__SANITIZE_ADDRESS__)
#define SVC_STACK_ORDER (SCHED_STACK_ORDER + 1)
#else
#define SVC_STACK_ORDER SCHED_STACK_ORDER
#endif

struct svc_serv;

/*
 * A connection slot. Taken and given back by the CPU's threads only (no lock,
 * see svc_serv). A connection is a host socket (fd) or one of the machine's
 * own stack (tsk); a slot with neither is free.
 */
struct svc_conn {
	struct svc_serv *serv;
	const struct rpc_service *svc; /* what it is served: serv's, or svc_rpcbind */
	struct kthread *thread;
	int fd;		      /* the host's socket, or -1 */
	struct tcp_sock *tsk; /* the machine's, or NULL */
	bool evicted;	      /* interrupted to make room; no longer counts for its client */
	struct rpc_recbuf in; /* the stream read so far: SVC_IN_CAP bytes */
	uint8_t *out;	      /* the reply record being sent */
	uint8_t *scratch;     /* RPC_SCRATCH_MAX */
	uint64_t active_ns;   /* last time the peer sent something */
	struct list_node lru; /* on serv->lru while the slot is taken */
	struct kwatch watch;  /* the socket's readiness, for its thread */
	struct sockaddr_storage peer;
	socklen_t peerlen;
	struct in6_addr client_addr; /* the peer's address as a client key (rpc_client_key) */
	char client[64];
};

/*
 * One listening port of the machine's own stack, its service (the
 * service's own, or svc_rpcbind beside it) and its threads: an acceptor
 * asleep in tcp_accept and a UDP thread with its own buffers.
 */
struct svc_inet_port {
	struct svc_serv *serv;
	const struct rpc_service *svc;
	struct tcp_sock *tcp;
	struct udp_sock *udp;
	struct kthread *acceptor, *udp_thread;
	uint8_t *udp_in, *udp_out, *udp_scratch;
};
#define SVC_INET_PORTS 2 /* the service's, and its rpcbind's */

/*
 * A service on one CPU, in this process's memory. Only threads of that CPU
 * touch it, and they switch only where they wait, so it needs no lock. It
 * is freed by whoever drops the last reference (svc_serv_put): the owner's
 * (dropped by rpc_svc_stop) and one per thread.
 */
struct svc_serv {
	const struct rpc_service *svc;
	struct rpc_stats *stats;
	struct svc_listener l;
	int refs;
	bool stopping;
	struct kthread *acceptor, *udp;		   /* on the host's sockets */
	struct svc_inet_port inet[SVC_INET_PORTS]; /* on the machine's own */
	struct list lru; /* the taken slots, least recently active first */
	unsigned nconns; /* taken slots */
	uint8_t *mem;	 /* the buffers below, in the mapping that holds this service */
	size_t memsize;	 /* of that whole mapping */
	uint8_t *udp_in, *udp_out, *udp_scratch;
	struct svc_conn conn[SVC_MAX_CONNS];
};

static inline bool svc_conn_taken(const struct svc_conn *c)
{
	return c->fd >= 0 || c->tsk;
}

#define svc_conn_of(node) list_entry(node, struct svc_conn, lru)

/* A request's transport fields; rpc_dispatch fills in the rest. */
static inline void svc_req_init(struct svc_req *rq, const struct svc_serv *s,
				const struct sockaddr_storage *peer, socklen_t peerlen,
				bool datagram, uint8_t *scratch)
{
	memset(rq, 0, sizeof(*rq));
	memcpy(&rq->peer, peer, sizeof(*peer));
	rq->peerlen = peerlen;
	rq->datagram = datagram;
	rq->scratch = scratch;
	rq->stats = s->stats;
	rq->serv = s;
}

/* Drop a reference; the last one frees the service (svc.c). */
void svc_serv_put(struct svc_serv *s);

/*
 * Serve accepted connection @fd of admitted @peer on a thread of its own,
 * or refuse it (closed at once, counted) when no slot can fairly be had.
 * (svc_sock.c)
 */
void svc_conn_start(struct svc_serv *s, int fd, const struct sockaddr_storage *peer,
		    socklen_t plen);
/* The same for a connection of the machine's own stack, on port @port. */
void svc_conn_start_inet(struct svc_inet_port *port, struct tcp_sock *tsk,
			 const struct sockaddr_storage *peer, socklen_t plen);
/*
 * An address of the machine's stack as the transports give a peer: IPv4
 * (v4-mapped) as AF_INET, IPv6 as AF_INET6. Returns the length. (svc.c)
 */
socklen_t svc_inet_sockaddr(const struct inet_addr *addr, uint16_t port,
			    struct sockaddr_storage *ss);
/* May @peer use the service? Counted when not. (svc.c) */
bool svc_peer_admitted(struct svc_serv *s, const struct sockaddr_storage *peer);

/*
 * A free slot, with a stack affordable, for a new connection of client
 * @key, closing others' connections to make room when that is fair; NULL:
 * refuse it. May yield and sleep. (svc_evict.c)
 */
struct svc_conn *svc_conn_slot(struct svc_serv *s, const struct in6_addr *key);

#endif
