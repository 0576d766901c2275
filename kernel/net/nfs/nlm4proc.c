/*
 * The NLM v4 program (100021 v4): NFS clients' locks, answered at once on
 * the NFS port from the lock table (lock.c).
 *
 * Served: NULL, TEST, LOCK, CANCEL, UNLOCK, SHARE, UNSHARE, NM_LOCK and
 * FREE_ALL. The rest -- GRANTED and the _MSG/_RES pairs, 5..15 -- are calls
 * from a server back to a client, often behind a NAT that no call can
 * reach: they are PROC_UNAVAIL. So a blocking LOCK that conflicts is
 * answered BLOCKED and never granted later by a callback; the client asks
 * again (Linux every 30 s), and CANCEL, with nothing ever queued, is
 * GRANTED.
 *
 * The handle is hostile: one we did not make, or another key's, is
 * STALE_FH; a peer the export does not list is FAILED (not DENIED, which
 * would say "someone holds it"); a file gone or moved out of its export is
 * STALE_FH; an exclusive lock, or a share that writes, on a read-only
 * export is ROFS. An UNLOCK or UNSHARE of a file since removed still frees
 * what the owner held of it.
 */
#include <errno.h>
#include <string.h>
#include "uml/nfs3.h"

struct nlm4_lock_arg {
	struct xdr_bytes caller, fh, oh;
	int32_t svid;
	uint64_t offset, len;
};

/* TEST, LOCK, NM_LOCK, CANCEL and UNLOCK: each decodes the fields it has. */
struct nlm4_args {
	struct xdr_bytes cookie;
	bool block, exclusive, reclaim;
	int32_t state;
	struct nlm4_lock_arg lock;
};

struct nlm4_share_args {
	struct xdr_bytes cookie, caller, fh, oh;
	uint32_t mode, access;
	bool reclaim;
};

struct nlm4_notify_args {
	struct xdr_bytes name;
	int32_t state;
};

/* nlm4_res, nlm4_testres and nlm4_shareres. */
struct nlm4_res {
	struct xdr_bytes cookie;
	uint32_t stat;
	struct nlm_holder holder; /* TEST's, when DENIED */
};

#define FSA_W	 0x2 /* fsh4_access: the reservation writes */
#define FSH4_MAX 3   /* fsh4_mode and fsh4_access run 0..3 */

/* ---- XDR ---- */

static void nlm4_dec_lock(struct xdr *x, struct nlm4_lock_arg *l)
{
	l->caller = xdr_get_opaque(x, NLM_MAXSTRLEN);
	l->fh = xdr_get_opaque(x, NLM_MAXNETOBJ);
	l->oh = xdr_get_opaque(x, NLM_MAXNETOBJ);
	l->svid = (int32_t)xdr_get_u32(x);
	l->offset = xdr_get_u64(x);
	l->len = xdr_get_u64(x);
}

static bool nlm4_dec_testargs(struct xdr *x, void *a)
{
	struct nlm4_args *args = a;

	args->cookie = xdr_get_opaque(x, NLM_MAXNETOBJ);
	args->exclusive = xdr_get_bool(x);
	nlm4_dec_lock(x, &args->lock);
	return xdr_ok(x);
}

static bool nlm4_dec_lockargs(struct xdr *x, void *a)
{
	struct nlm4_args *args = a;

	args->cookie = xdr_get_opaque(x, NLM_MAXNETOBJ);
	args->block = xdr_get_bool(x);
	args->exclusive = xdr_get_bool(x);
	nlm4_dec_lock(x, &args->lock);
	args->reclaim = xdr_get_bool(x);
	args->state = (int32_t)xdr_get_u32(x);
	return xdr_ok(x);
}

static bool nlm4_dec_cancargs(struct xdr *x, void *a)
{
	struct nlm4_args *args = a;

	args->cookie = xdr_get_opaque(x, NLM_MAXNETOBJ);
	args->block = xdr_get_bool(x);
	args->exclusive = xdr_get_bool(x);
	nlm4_dec_lock(x, &args->lock);
	return xdr_ok(x);
}

static bool nlm4_dec_unlockargs(struct xdr *x, void *a)
{
	struct nlm4_args *args = a;

	args->cookie = xdr_get_opaque(x, NLM_MAXNETOBJ);
	nlm4_dec_lock(x, &args->lock);
	return xdr_ok(x);
}

static bool nlm4_dec_shareargs(struct xdr *x, void *a)
{
	struct nlm4_share_args *args = a;

	args->cookie = xdr_get_opaque(x, NLM_MAXNETOBJ);
	args->caller = xdr_get_opaque(x, NLM_MAXSTRLEN);
	args->fh = xdr_get_opaque(x, NLM_MAXNETOBJ);
	args->oh = xdr_get_opaque(x, NLM_MAXNETOBJ);
	args->mode = xdr_get_u32(x);
	args->access = xdr_get_u32(x);
	args->reclaim = xdr_get_bool(x);
	/* Enums: a value outside them is as malformed as a short record. */
	return xdr_ok(x) && args->mode <= FSH4_MAX && args->access <= FSH4_MAX;
}

static bool nlm4_dec_notify(struct xdr *x, void *a)
{
	struct nlm4_notify_args *args = a;

	args->name = xdr_get_opaque(x, NLM_MAXNAMELEN);
	args->state = (int32_t)xdr_get_u32(x);
	return xdr_ok(x);
}

static void nlm4_enc_res(struct xdr *x, const void *r)
{
	const struct nlm4_res *res = r;

	xdr_put_opaque(x, res->cookie.data, res->cookie.len);
	xdr_put_u32(x, res->stat);
}

static void nlm4_enc_testres(struct xdr *x, const void *r)
{
	const struct nlm4_res *res = r;
	uint64_t off, len;

	nlm4_enc_res(x, r);
	if (res->stat != NLM4_DENIED)
		return;
	nfs_lock_range_wire(res->holder.r, &off, &len);
	xdr_put_bool(x, res->holder.exclusive);
	xdr_put_u32(x, (uint32_t)res->holder.svid);
	xdr_put_opaque(x, res->holder.oh, res->holder.ohlen);
	xdr_put_u64(x, off);
	xdr_put_u64(x, len);
}

static void nlm4_enc_shareres(struct xdr *x, const void *r)
{
	nlm4_enc_res(x, r);
	xdr_put_u32(x, 0); /* sequence: unused */
}

/* ---- procedures ---- */

/*
 * The file a handle names, when @rq's peer may use it (see the top).
 * @gone_ok: a MACed handle of a file since removed still names it (to free
 * what is held of it). Returns NLM4_GRANTED or the status to answer.
 */
static uint32_t nlm4_resolve(const struct svc_req *rq, struct xdr_bytes fh, bool modify,
			     bool gone_ok, struct vfs_ino *file)
{
	struct nfs_export_view ex;
	struct vfs_ino top;
	struct vfs_attr a;
	struct nfs_fh h;

	if (nfs_fh_decode(fh.data, fh.len, &h))
		return NLM4_STALE_FH;
	if (nfs_export_check(h.root, (const struct sockaddr *)&rq->peer, &ex))
		return NLM4_FAILED;
	if (modify && !ex.rw)
		return NLM4_ROFS;
	*file = h.ino;
	if (vfs_getattr(h.ino, &a))
		return gone_ok ? NLM4_GRANTED : NLM4_STALE_FH;
	top = vfs_root();
	/* Everything is inside an export of "/": no walk. */
	if ((ex.root.ino != top.ino || ex.root.gen != top.gen) && vfs_within(ex.root, h.ino))
		return NLM4_STALE_FH;
	return NLM4_GRANTED;
}

static struct nlm_counters *nlm4_counters(void)
{
	return &nfs_state()->locks.c;
}

/* Count an answer of LOCK, NM_LOCK or SHARE. */
static void nlm4_count(uint32_t stat)
{
	struct nlm_counters *c = nlm4_counters();

	switch (stat) {
	case NLM4_GRANTED:
		atomic_fetch_add(&c->granted, 1);
		break;
	case NLM4_DENIED:
		atomic_fetch_add(&c->denied, 1);
		break;
	case NLM4_BLOCKED:
		atomic_fetch_add(&c->blocked, 1);
		break;
	case NLM4_DENIED_NOLOCKS:
		atomic_fetch_add(&c->nolocks, 1);
		break;
	default:
		atomic_fetch_add(&c->refused, 1);
	}
}

/* Resolve the lock's file and range and make its owner: NLM4_GRANTED or the answer. */
static uint32_t nlm4_prepare(const struct svc_req *rq, const struct nlm4_lock_arg *l, bool modify,
			     bool gone_ok, struct vfs_ino *file, struct nlm_range *r,
			     struct nlm_owner *o)
{
	uint32_t st = nlm4_resolve(rq, l->fh, modify, gone_ok, file);

	if (st != NLM4_GRANTED)
		return st;
	if (nfs_lock_range(l->offset, l->len, r))
		return NLM4_FBIG;
	nfs_lock_owner((const struct sockaddr *)&rq->peer, l->caller, l->oh, l->svid, o);
	return NLM4_GRANTED;
}

static int nlm4_test(struct svc_req *rq, const void *a, void *r)
{
	const struct nlm4_args *args = a;
	struct nlm4_res *res = r;
	struct nlm_range range;
	struct nlm_owner o;
	struct vfs_ino f;

	res->cookie = args->cookie;
	res->stat = nlm4_prepare(rq, &args->lock, false, false, &f, &range, &o);
	if (res->stat == NLM4_GRANTED)
		res->stat = nfs_lock_test(f, &o, range, args->exclusive, &res->holder);
	else
		atomic_fetch_add(&nlm4_counters()->refused, 1);
	return 0;
}

static int nlm4_lock(struct svc_req *rq, const void *a, void *r)
{
	const struct nlm4_args *args = a;
	struct nlm4_res *res = r;
	struct nlm_range range;
	struct nlm_owner o;
	struct vfs_ino f;

	res->cookie = args->cookie;
	res->stat = nlm4_prepare(rq, &args->lock, args->exclusive, false, &f, &range, &o);
	if (res->stat == NLM4_GRANTED)
		res->stat = nfs_lock_lock(f, &o, range, args->exclusive);
	if (res->stat == NLM4_DENIED && args->block)
		res->stat = NLM4_BLOCKED;
	nlm4_count(res->stat);
	return 0;
}

/* Nothing is ever queued: there is nothing to cancel. */
static int nlm4_cancel(struct svc_req *rq, const void *a, void *r)
{
	const struct nlm4_args *args = a;
	struct nlm4_res *res = r;

	(void)rq;
	res->cookie = args->cookie;
	res->stat = NLM4_GRANTED;
	return 0;
}

static int nlm4_unlock(struct svc_req *rq, const void *a, void *r)
{
	const struct nlm4_args *args = a;
	struct nlm4_res *res = r;
	struct nlm_range range;
	struct nlm_owner o;
	struct vfs_ino f;

	res->cookie = args->cookie;
	res->stat = nlm4_prepare(rq, &args->lock, false, true, &f, &range, &o);
	if (res->stat == NLM4_GRANTED)
		res->stat = nfs_lock_unlock(f, &o, range);
	return 0;
}

static int nlm4_share(struct svc_req *rq, const void *a, void *r)
{
	const struct nlm4_share_args *args = a;
	struct nlm4_res *res = r;
	struct nlm_owner o;
	struct vfs_ino f;

	res->cookie = args->cookie;
	res->stat = nlm4_resolve(rq, args->fh, args->access & FSA_W, false, &f);
	if (res->stat == NLM4_GRANTED) {
		nfs_lock_owner((const struct sockaddr *)&rq->peer, args->caller, args->oh, 0, &o);
		res->stat = nfs_lock_share(f, &o, args->mode, args->access);
	}
	nlm4_count(res->stat);
	return 0;
}

static int nlm4_unshare(struct svc_req *rq, const void *a, void *r)
{
	const struct nlm4_share_args *args = a;
	struct nlm4_res *res = r;
	struct nlm_owner o;
	struct vfs_ino f;

	res->cookie = args->cookie;
	res->stat = nlm4_resolve(rq, args->fh, false, true, &f);
	if (res->stat == NLM4_GRANTED) {
		nfs_lock_owner((const struct sockaddr *)&rq->peer, args->caller, args->oh, 0, &o);
		res->stat = nfs_lock_unshare(f, &o);
	}
	return 0;
}

/* Unauthenticated: frees only what this address holds under this name (lock.c). */
static int nlm4_free_all(struct svc_req *rq, const void *a, void *r)
{
	const struct nlm4_notify_args *args = a;

	(void)r;
	nfs_lock_free_host((const struct sockaddr *)&rq->peer, args->name);
	return 0;
}

#define NLM_PROC(num, nm, dec, fn, enc, args)                                                      \
	[num] = {.name = nm,                                                                       \
		 .decode = dec,                                                                    \
		 .handle = fn,                                                                     \
		 .encode = enc,                                                                    \
		 .argsize = sizeof(args),                                                          \
		 .ressize = sizeof(struct nlm4_res)}

/* Numbers without a name (GRANTED, the _MSG and _RES calls) are PROC_UNAVAIL. */
static const struct rpc_proc nlm4_procs[NLMPROC4_COUNT] = {
    [NLMPROC4_NULL] = {.name = "NULL"},
    NLM_PROC(NLMPROC4_TEST, "TEST", nlm4_dec_testargs, nlm4_test, nlm4_enc_testres,
	     struct nlm4_args),
    NLM_PROC(NLMPROC4_LOCK, "LOCK", nlm4_dec_lockargs, nlm4_lock, nlm4_enc_res, struct nlm4_args),
    NLM_PROC(NLMPROC4_CANCEL, "CANCEL", nlm4_dec_cancargs, nlm4_cancel, nlm4_enc_res,
	     struct nlm4_args),
    NLM_PROC(NLMPROC4_UNLOCK, "UNLOCK", nlm4_dec_unlockargs, nlm4_unlock, nlm4_enc_res,
	     struct nlm4_args),
    NLM_PROC(NLMPROC4_SHARE, "SHARE", nlm4_dec_shareargs, nlm4_share, nlm4_enc_shareres,
	     struct nlm4_share_args),
    NLM_PROC(NLMPROC4_UNSHARE, "UNSHARE", nlm4_dec_shareargs, nlm4_unshare, nlm4_enc_shareres,
	     struct nlm4_share_args),
    NLM_PROC(NLMPROC4_NM_LOCK, "NM_LOCK", nlm4_dec_lockargs, nlm4_lock, nlm4_enc_res,
	     struct nlm4_args),
    [NLMPROC4_FREE_ALL] = {.name = "FREE_ALL",
			   .decode = nlm4_dec_notify,
			   .handle = nlm4_free_all,
			   .argsize = sizeof(struct nlm4_notify_args)},
};

const struct rpc_program nlm4_program = {
    .prog = NLM_PROGRAM,
    .vers = 4,
    .name = "nlockmgr",
    .nprocs = NLMPROC4_COUNT,
    .procs = nlm4_procs,
};
