/*
 * kernel/net/sunrpc: ONC RPC v2 server side (RFC 5531).
 *
 * A program is data: a table of procedures, each with an argument decoder, a
 * handler and a result encoder. rpc_dispatch() takes one call record, finds
 * the procedure, runs it and writes the reply record; the transports
 * (uml/svc.h) only move records.
 */
#ifndef UML_RPC_H
#define UML_RPC_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "uml/compiler.h"
#include "uml/vfs.h"
#include "uml/xdr.h"

#define RPC_VERSION 2

enum rpc_auth_flavor { AUTH_NONE = 0, AUTH_SYS = 1 };

enum rpc_accept_stat {
	RPC_SUCCESS = 0,
	RPC_PROG_UNAVAIL = 1,
	RPC_PROG_MISMATCH = 2,
	RPC_PROC_UNAVAIL = 3,
	RPC_GARBAGE_ARGS = 4,
	RPC_SYSTEM_ERR = 5,
};

enum rpc_reject_stat { RPC_MISMATCH = 0, RPC_AUTH_ERROR = 1 };

enum rpc_auth_stat {
	RPC_AUTH_OK = 0,
	RPC_AUTH_BADCRED = 1,
	RPC_AUTH_REJECTEDCRED = 2,
	RPC_AUTH_BADVERF = 3,
	RPC_AUTH_REJECTEDVERF = 4,
	RPC_AUTH_TOOWEAK = 5,
};

#define RPC_AUTH_BODY_MAX     400 /* opaque_auth body limit (RFC 5531) */
#define RPC_AUTH_SYS_NAME_MAX 255 /* authsys_parms.machinename */
#define RPC_AUTH_SYS_GIDS_MAX 16
#define RPC_NOBODY	      65534 /* uid/gid of AUTH_NONE callers */

/* Largest call record accepted on TCP, and largest reply produced. */
#define RPC_MAX_RECORD (64 * 1024 + 4096)
#define RPC_MAX_REPLY  (64 * 1024 + 4096)
/* Room for one procedure's decoded arguments / results. */
#define RPC_ARGS_MAX 1024
#define RPC_RES_MAX  1024
/* Per-request scratch for bulk results (READ data, directory entries). */
#define RPC_SCRATCH_MAX (64 * 1024 + 1024)

/* Counters in the arena, bumped by every CPU. */
struct rpc_stats {
	_Atomic uint64_t calls;	      /* calls dispatched to a procedure */
	_Atomic uint64_t garbage;     /* records that could not be decoded */
	_Atomic uint64_t connections; /* TCP connections accepted */
	_Atomic uint64_t refused;     /* connections closed at once: no room left for them */
	_Atomic uint64_t unlisted;    /* connections and datagrams of hosts no export lists */
};

struct svc_serv;

/* One call being served. Lives on the serving thread's stack. */
struct svc_req {
	uint32_t xid, prog, vers, proc;
	uint32_t flavor; /* AUTH_NONE or AUTH_SYS */
	struct vfs_cred cred;
	/* The peer: what export allowlists are checked against. */
	struct sockaddr_storage peer;
	socklen_t peerlen;
	char client[64];  /* "addr:port", for reports */
	bool datagram;	  /* UDP: the reply must fit one datagram */
	uint8_t *scratch; /* RPC_SCRATCH_MAX bytes owned by the serving thread */
	size_t reply_max; /* bytes the reply record may take */
	struct rpc_stats *stats;
	const struct svc_serv *serv; /* the service on this CPU that took the call */
};

/*
 * One procedure. Handlers return 0 when the results are ready to encode (a
 * protocol-level error such as NFS3ERR_NOENT is a result), or a negative
 * errno for a failure of the server itself (answered with SYSTEM_ERR).
 */
struct rpc_proc {
	const char *name;
	/* Decode arguments into @args (zeroed, argsize bytes); false: GARBAGE_ARGS. */
	bool (*decode)(struct xdr *x, void *args);
	/* Serve the call; @res is zeroed, ressize bytes. NULL: nothing to do. */
	int (*handle)(struct svc_req *rq, const void *args, void *res);
	/* Encode @res after the accepted-reply header. NULL: void result. */
	void (*encode)(struct xdr *x, const void *res);
	uint16_t argsize, ressize;
};

struct rpc_program {
	uint32_t prog, vers;
	const char *name; /* as rpcbind's table and rpcinfo call it: "nfs", "mountd" */
	/*
	 * Registration (rpcb.c): a live server that holds this program's
	 * entry keeps it, even against RPCB_FORCE, and that is no conflict —
	 * for a program the host's own daemons need more than we do.
	 */
	bool rpcb_yield;
	uint32_t nprocs;
	const struct rpc_proc *procs; /* indexed by procedure number; name NULL: unavailable */
	/* Called after each served call of this program (for statistics); may be NULL. */
	void (*account)(const struct svc_req *rq, const void *res);
};

/* The programs a service answers; a program may appear once per version. */
struct rpc_service {
	const struct rpc_program *const *progs;
	size_t nprogs;
	/*
	 * May @peer use the service at all? Asked by the transports before a
	 * connection gets a thread, a stack or a buffer, and before a datagram
	 * is decoded; false closes or drops it unanswered. NULL: everyone.
	 */
	bool (*admit)(const struct sockaddr *peer);
};

/*
 * Serve the call record @call/@len and write the reply record into
 * @reply (at most rq->reply_max bytes). @rq has peer, client, datagram,
 * scratch, reply_max and stats set by the transport.
 * Returns the reply length, or 0 when the record is to be dropped unanswered
 * (not a call, or too short to carry the xid and header).
 */
size_t rpc_dispatch(const struct rpc_service *svc, struct svc_req *rq, uint8_t *call, size_t len,
		    uint8_t *reply);

/* TCP record marking (RFC 5531 section 11) over a byte buffer. */
struct rpc_recbuf {
	uint8_t *buf;	/* raw stream bytes */
	size_t cap;	/* bytes buf can hold */
	size_t in_len;	/* bytes held */
	size_t rec_len; /* bytes of complete fragments of the current record (joined in place) */
};
/*
 * Look for one complete record at the start of @b->buf, joining fragments in
 * place. Returns 1 with the record at *@rec, *@len bytes long (it ends at
 * @b->buf + *@used, to drop with rpc_record_consume once served), 0 when more
 * bytes are needed, or -EMSGSIZE when the record would exceed RPC_MAX_RECORD
 * (or, with its last mark, @b->cap: so 0 never comes with a full buffer).
 */
int rpc_record_next(struct rpc_recbuf *b, uint8_t **rec, size_t *len, size_t *used);
/* Drop the first @used bytes (a served record). */
void rpc_record_consume(struct rpc_recbuf *b, size_t used);

/* Fill rq->cred from a credential; returns an rpc_auth_stat. */
int rpc_auth_decode(struct svc_req *rq, uint32_t flavor, struct xdr_bytes body);

/* --- client addresses (addr.c) --- */

/*
 * Parse a numeric host, "1.2.3.4", "::1" or "[::1]", into @ss with @port
 * (0..65535). Returns 0, or -EINVAL (no names are looked up).
 */
int rpc_addr_parse(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len);
/* Format @sa as "addr:port" ("[v6]:port") into @buf. */
void rpc_format_peer(const struct sockaddr *sa, socklen_t len, char *buf, size_t size);

/*
 * A client is its address, whatever its port, as an IPv6 address: IPv4 in
 * its v4-mapped form, so that a dual-stack socket's ::ffff:a.b.c.d and
 * a.b.c.d are one client. Another family gives the unspecified address.
 */
void rpc_client_key(const struct sockaddr *sa, struct in6_addr *key);

/*
 * A set of client addresses: one address, a CIDR prefix, or everyone. The
 * layout is part of the NFS export table in the arena: keep it.
 */
struct rpc_cidr {
	uint8_t family; /* AF_INET, AF_INET6, or AF_UNSPEC for everyone ("*") */
	uint8_t prefix; /* leading bits of addr that must match */
	uint8_t addr[16];
};
/*
 * Parse @spec: "*", an IPv4 or IPv6 address ("10.1.2.3", "::1"), or one
 * followed by "/" and a prefix length of 1 to 3 decimal digits, at most 32
 * (IPv4) or 128 (IPv6). Nothing else is accepted: no spaces, signs, zone
 * ids or brackets. A v4-mapped set (::ffff:a.b.c.d, prefix 96 or more) is
 * kept as the IPv4 set it names. Returns 0, or -EINVAL with @out unspecified.
 */
int rpc_cidr_parse(const char *spec, struct rpc_cidr *out);
/*
 * Whether @peer's address (its port aside) is in @c. A v4-mapped IPv6 peer
 * (a v4 client of a dual-stack socket) is matched as the IPv4 address it is.
 */
bool rpc_cidr_match(const struct rpc_cidr *c, const struct sockaddr *peer);

#endif
