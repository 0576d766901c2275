/*
 * The NSM v1 program (100024 v1), as much of it as a lock server needs: a
 * client that reboots tells us with SM_NOTIFY, and its old locks go.
 *
 * SM_NOTIFY carries no proof of who sends it, so it frees only what the
 * sender's own address holds under the name it gives (lock.c): a stranger
 * can free nothing of anyone else's. It answers nothing (void).
 *
 * We monitor nobody -- monitoring means calling clients back, which we do
 * not (nlm4proc.c) -- so SM_STAT and SM_MON answer stat_fail, SM_UNMON and
 * SM_UNMON_ALL have nothing to undo and answer our state, and SM_SIMU_CRASH
 * is PROC_UNAVAIL: nothing may make the server forget its locks.
 */
#include <string.h>
#include "uml/nfs3.h"

#define NSM_STAT_FAIL 1
/*
 * Our NSM state: odd means up. The table does not survive a restart but
 * clients are not told one (we call nobody back), so it need not change.
 */
#define NSM_STATE 1
#define NSM_PRIV  16 /* SM_PRIV_SZ */

struct nsm_args {
	struct xdr_bytes name;
	int32_t state;
};

/* sm_stat_res {res_stat, state} and sm_stat {state}. */
struct nsm_res {
	uint32_t stat;
	int32_t state;
};

/* my_id {string my_name; int my_prog, my_vers, my_proc}. */
static void nsm_dec_my_id(struct xdr *x)
{
	xdr_get_opaque(x, NSM_MAXSTRLEN);
	xdr_get_u32(x);
	xdr_get_u32(x);
	xdr_get_u32(x);
}

static bool nsm_dec_name(struct xdr *x, void *a)
{
	struct nsm_args *args = a;

	args->name = xdr_get_opaque(x, NSM_MAXSTRLEN);
	return xdr_ok(x);
}

static bool nsm_dec_mon(struct xdr *x, void *a)
{
	struct nsm_args *args = a;

	args->name = xdr_get_opaque(x, NSM_MAXSTRLEN);
	nsm_dec_my_id(x);
	xdr_get_fixed(x, NSM_PRIV);
	return xdr_ok(x);
}

static bool nsm_dec_unmon(struct xdr *x, void *a)
{
	struct nsm_args *args = a;

	args->name = xdr_get_opaque(x, NSM_MAXSTRLEN);
	nsm_dec_my_id(x);
	return xdr_ok(x);
}

static bool nsm_dec_my(struct xdr *x, void *a)
{
	(void)a;
	nsm_dec_my_id(x);
	return xdr_ok(x);
}

static bool nsm_dec_notify(struct xdr *x, void *a)
{
	struct nsm_args *args = a;

	args->name = xdr_get_opaque(x, NSM_MAXSTRLEN);
	args->state = (int32_t)xdr_get_u32(x);
	return xdr_ok(x);
}

static void nsm_enc_stat_res(struct xdr *x, const void *r)
{
	const struct nsm_res *res = r;

	xdr_put_u32(x, res->stat);
	xdr_put_u32(x, (uint32_t)res->state);
}

static void nsm_enc_stat(struct xdr *x, const void *r)
{
	const struct nsm_res *res = r;

	xdr_put_u32(x, (uint32_t)res->state);
}

/* SM_STAT and SM_MON: we watch no host. */
static int nsm_fail(struct svc_req *rq, const void *a, void *r)
{
	struct nsm_res *res = r;

	(void)rq, (void)a;
	res->stat = NSM_STAT_FAIL;
	res->state = NSM_STATE;
	return 0;
}

/* SM_UNMON and SM_UNMON_ALL: nothing was watched, nothing to stop. */
static int nsm_state(struct svc_req *rq, const void *a, void *r)
{
	struct nsm_res *res = r;

	(void)rq, (void)a;
	res->state = NSM_STATE;
	return 0;
}

static int nsm_notify(struct svc_req *rq, const void *a, void *r)
{
	const struct nsm_args *args = a;

	(void)r;
	nfs_lock_free_host((const struct sockaddr *)&rq->peer, args->name);
	return 0;
}

#define NSM_PROC(num, nm, dec, fn, enc)                                                            \
	[num] = {.name = nm,                                                                       \
		 .decode = dec,                                                                    \
		 .handle = fn,                                                                     \
		 .encode = enc,                                                                    \
		 .argsize = sizeof(struct nsm_args),                                               \
		 .ressize = sizeof(struct nsm_res)}

/* SM_SIMU_CRASH has no name: PROC_UNAVAIL. */
static const struct rpc_proc nsm1_procs[SM_COUNT] = {
    [SM_NULL] = {.name = "NULL"},
    NSM_PROC(SM_STAT, "STAT", nsm_dec_name, nsm_fail, nsm_enc_stat_res),
    NSM_PROC(SM_MON, "MON", nsm_dec_mon, nsm_fail, nsm_enc_stat_res),
    NSM_PROC(SM_UNMON, "UNMON", nsm_dec_unmon, nsm_state, nsm_enc_stat),
    NSM_PROC(SM_UNMON_ALL, "UNMON_ALL", nsm_dec_my, nsm_state, nsm_enc_stat),
    NSM_PROC(SM_NOTIFY, "NOTIFY", nsm_dec_notify, nsm_notify, NULL),
};

const struct rpc_program nsm1_program = {
    .prog = NSM_PROGRAM,
    .vers = 1,
    .name = "status",
    /* The host's rpc.statd serves its own NFS client: never take its entry. */
    .rpcb_yield = true,
    .nprocs = SM_COUNT,
    .procs = nsm1_procs,
};
