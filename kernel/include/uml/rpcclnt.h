/*
 * kernel/net/sunrpc: the ONC RPC client over TCP (RFC 5531), clnt.c.
 *
 * A client is one connection to one server address, with its buffers, in
 * a private mapping of the process that made it (never the arena: the
 * socket is this process's). Any program and version may be called over
 * it. One thread at a time uses it.
 *
 * A call is made in two steps, so that codecs stay straight-line XDR:
 * rpc_clnt_begin writes the call header and hands back the cursor to put
 * the arguments at; rpc_clnt_call sends the record and waits for the reply
 * that carries its XID, retransmitting the same call after timeout_ms, then
 * twice that, and so on, @retries times, reconnecting whenever the
 * connection is lost. The results it hands back point into the client's
 * receive buffer and stay valid until the next rpc_clnt_begin.
 */
#ifndef UML_RPCCLNT_H
#define UML_RPCCLNT_H

#include <stdint.h>
#include <sys/socket.h>
#include "uml/xdr.h"

struct rpc_clnt_params {
	uint32_t uid, gid;   /* AUTH_SYS credentials, machine name "uml" */
	uint32_t timeout_ms; /* the first try's wait; each retransmission doubles it */
	uint32_t retries;    /* retransmissions before -ETIMEDOUT */
};

struct rpc_clnt_stats {
	uint64_t calls;	      /* calls answered */
	uint64_t retransmits; /* tries after the first */
	uint64_t reconnects;  /* connections made after the first */
	uint64_t timeouts;    /* calls that ended in -ETIMEDOUT */
};

struct rpc_clnt;

/*
 * Connect to @sa, waiting at most as long as a call would (all its tries).
 * Returns 0 with *@out, -ECONNREFUSED (or another connect errno),
 * -ETIMEDOUT, or -ENOMEM.
 */
int rpc_clnt_create(const struct sockaddr *sa, socklen_t len, const struct rpc_clnt_params *p,
		    struct rpc_clnt **out);
void rpc_clnt_destroy(struct rpc_clnt *c);

/* Start a call of @prog/@vers/@proc: returns the cursor to encode its arguments with. */
struct xdr *rpc_clnt_begin(struct rpc_clnt *c, uint32_t prog, uint32_t vers, uint32_t proc);

/*
 * Send the call begun and wait for its reply. Returns 0 with the results
 * in @res (a decode cursor after the accepted-reply header), or:
 *   -ETIMEDOUT       no reply within the tries
 *   -ECONNREFUSED,   the last try could not reconnect, or lost the
 *   -ECONNRESET      connection before the answer
 *   -EPROTO          a reply or a record that does not decode (the
 *                    connection is dropped when the stream itself is lost)
 *   -EPROTONOSUPPORT PROG_UNAVAIL, PROG_MISMATCH, RPC_MISMATCH
 *   -EOPNOTSUPP      PROC_UNAVAIL
 *   -EINVAL          GARBAGE_ARGS
 *   -EIO             SYSTEM_ERR
 *   -EACCES          the server refused the credentials (AUTH_ERROR)
 *   -EMSGSIZE        the arguments did not fit a record
 *   -EINTR           the kernel thread waiting was interrupted
 */
int rpc_clnt_call(struct rpc_clnt *c, struct xdr *res);

void rpc_clnt_get_stats(const struct rpc_clnt *c, struct rpc_clnt_stats *st);

#endif
