/*
 * ONC RPC call dispatch: decode the call header, authenticate, find the
 * procedure in the service's tables, run it and encode the reply
 * (RFC 5531 section 9).
 */
#include <errno.h>
#include <string.h>
#include "uml/rpc.h"

enum { RPC_CALL = 0, RPC_REPLY = 1 };
enum { RPC_MSG_ACCEPTED = 0, RPC_MSG_DENIED = 1 };

static void rpc_put_accepted(struct xdr *x, uint32_t stat)
{
	xdr_put_u32(x, RPC_MSG_ACCEPTED);
	xdr_put_u32(x, AUTH_NONE); /* our verifier */
	xdr_put_u32(x, 0);
	xdr_put_u32(x, stat);
}

static void rpc_put_denied(struct xdr *x, uint32_t stat)
{
	xdr_put_u32(x, RPC_MSG_DENIED);
	xdr_put_u32(x, stat);
}

/*
 * Decode an opaque_auth body of @x (its flavor already taken). A body over
 * RPC_AUTH_BODY_MAX is the caller's mistake, not a broken record: return
 * @oversized, so the call is denied with that auth_stat rather than dropped
 * and retried forever. A body cut short sets @x's error (the record is
 * truncated) and returns RPC_AUTH_OK; the caller checks xdr_ok().
 */
static int rpc_get_auth(struct xdr *x, struct xdr_bytes *body, int oversized)
{
	uint32_t n = xdr_get_u32(x);
	const uint8_t *p;

	if (n > RPC_AUTH_BODY_MAX)
		return xdr_ok(x) ? oversized : RPC_AUTH_OK;
	p = xdr_get_fixed(x, n);
	body->data = p;
	body->len = p ? n : 0;
	return RPC_AUTH_OK;
}

/* Look up prog/vers; on a miss report the versions of @prog we do serve. */
static const struct rpc_program *rpc_find(const struct rpc_service *svc, uint32_t prog,
					  uint32_t vers, uint32_t *low, uint32_t *high)
{
	const struct rpc_program *found = NULL;
	size_t i;

	*low = UINT32_MAX;
	*high = 0;
	for (i = 0; i < svc->nprogs; i++) {
		const struct rpc_program *p = svc->progs[i];

		if (p->prog != prog)
			continue;
		*low = MIN(*low, p->vers);
		*high = MAX(*high, p->vers);
		if (p->vers == vers)
			found = p;
	}
	return found;
}

size_t rpc_dispatch(const struct rpc_service *svc, struct svc_req *rq, uint8_t *call, size_t len,
		    uint8_t *reply)
{
	uint64_t args[RPC_ARGS_MAX / 8], res[RPC_RES_MAX / 8];
	const struct rpc_program *prog;
	const struct rpc_proc *proc;
	struct xdr_bytes cred = {NULL, 0}, verf;
	uint32_t mtype, rpcvers, cflavor, low, high;
	struct xdr in, out;
	size_t hdr_end;
	int auth;

	xdr_init(&in, call, len);
	rq->xid = xdr_get_u32(&in);
	mtype = xdr_get_u32(&in);
	rpcvers = xdr_get_u32(&in);
	rq->prog = xdr_get_u32(&in);
	rq->vers = xdr_get_u32(&in);
	rq->proc = xdr_get_u32(&in);
	cflavor = xdr_get_u32(&in);
	auth = rpc_get_auth(&in, &cred, RPC_AUTH_BADCRED);
	if (auth == RPC_AUTH_OK) {
		/* The client's verifier: AUTH_NONE and AUTH_SYS have no use for it. */
		xdr_get_u32(&in);
		auth = rpc_get_auth(&in, &verf, RPC_AUTH_BADVERF);
	}
	if (!xdr_ok(&in) || mtype != RPC_CALL) {
		atomic_fetch_add(&rq->stats->garbage, 1);
		return 0;
	}

	xdr_init(&out, reply, rq->reply_max);
	xdr_put_u32(&out, rq->xid);
	xdr_put_u32(&out, RPC_REPLY);
	if (rpcvers != RPC_VERSION) {
		rpc_put_denied(&out, RPC_MISMATCH);
		xdr_put_u32(&out, RPC_VERSION);
		xdr_put_u32(&out, RPC_VERSION);
		goto out;
	}
	if (auth == RPC_AUTH_OK)
		auth = rpc_auth_decode(rq, cflavor, cred);
	if (auth != RPC_AUTH_OK) {
		rpc_put_denied(&out, RPC_AUTH_ERROR);
		xdr_put_u32(&out, auth);
		goto out;
	}

	prog = rpc_find(svc, rq->prog, rq->vers, &low, &high);
	if (!prog) {
		if (high == 0) {
			rpc_put_accepted(&out, RPC_PROG_UNAVAIL);
		} else {
			rpc_put_accepted(&out, RPC_PROG_MISMATCH);
			xdr_put_u32(&out, low);
			xdr_put_u32(&out, high);
		}
		goto out;
	}
	proc = rq->proc < prog->nprocs ? &prog->procs[rq->proc] : NULL;
	if (!proc || !proc->name) {
		rpc_put_accepted(&out, RPC_PROC_UNAVAIL);
		goto out;
	}
	if (proc->argsize > sizeof(args) || proc->ressize > sizeof(res)) {
		rpc_put_accepted(&out, RPC_SYSTEM_ERR);
		goto out;
	}

	memset(args, 0, proc->argsize);
	if (proc->decode && !(proc->decode(&in, args) && xdr_ok(&in))) {
		atomic_fetch_add(&rq->stats->garbage, 1);
		rpc_put_accepted(&out, RPC_GARBAGE_ARGS);
		goto out;
	}
	atomic_fetch_add(&rq->stats->calls, 1);
	memset(res, 0, proc->ressize);
	if (proc->handle && proc->handle(rq, args, res) < 0) {
		rpc_put_accepted(&out, RPC_SYSTEM_ERR);
		goto out;
	}
	if (prog->account)
		prog->account(rq, res);
	hdr_end = out.pos;
	rpc_put_accepted(&out, RPC_SUCCESS);
	if (proc->encode)
		proc->encode(&out, res);
	if (!xdr_ok(&out)) {
		/* The results outgrew the reply buffer: a server bug, not the client's. */
		out.err = false;
		out.pos = hdr_end;
		rpc_put_accepted(&out, RPC_SYSTEM_ERR);
	}
out:
	return xdr_ok(&out) ? out.pos : 0;
}
