/*
 * The MOUNT program (RFC 1813 appendix I): hands out the root handle of an
 * export to an allowlisted client. Version 1 is answered too because clients
 * may probe it; its MNT returns the same 32-byte handle as a fixed fhandle.
 */
#include <errno.h>
#include <string.h>
#include "uml/nfs3.h"

struct mnt_args {
	struct xdr_bytes path;
};

struct mnt_res {
	uint32_t status;
	uint8_t fh[NFS_FH_SIZE];
};

struct mnt_export_res {
	struct nfs_export *list; /* snapshot in the request scratch */
	uint32_t n;
};

static bool mnt_decode_path(struct xdr *x, void *a)
{
	struct mnt_args *args = a;

	args->path = xdr_get_opaque(x, MNT_PATH_MAX);
	return xdr_ok(x);
}

static int mnt_mnt(struct svc_req *rq, const void *a, void *r)
{
	const struct mnt_args *args = a;
	struct mnt_res *res = r;
	char raw[MNT_PATH_MAX + 1], path[MNT_PATH_MAX + 1];
	struct nfs_export_view v;
	struct nfs_fh fh;
	struct vfs_attr at;
	int err;

	memcpy(raw, args->path.data, args->path.len);
	raw[args->path.len] = '\0';
	/* libnfs mounts "" for nfs://host/file: that is the root. */
	if (args->path.len == 0)
		strcpy(raw, "/");
	if (memchr(raw, '\0', args->path.len) || nfs_path_normalize(raw, path, sizeof(path))) {
		res->status = MNT3ERR_INVAL;
		return 0;
	}
	err = nfs_export_for_path(path, (struct sockaddr *)&rq->peer, &v);
	if (err) {
		/* Not exported at all is also "access denied", as other servers say. */
		res->status = MNT3ERR_ACCES;
		return 0;
	}
	err = vfs_walk(path, &fh.ino);
	if (!err)
		err = vfs_getattr(fh.ino, &at);
	if (err) {
		res->status = err == -ENOTDIR ? MNT3ERR_NOTDIR : MNT3ERR_NOENT;
		return 0;
	}
	if (at.type != VFS_DIR) {
		res->status = MNT3ERR_NOTDIR;
		return 0;
	}
	fh.root = v.root;
	nfs_fh_encode(&fh, res->fh);
	res->status = MNT3_OK;
	return 0;
}

static void mnt3_encode_mnt(struct xdr *x, const void *r)
{
	const struct mnt_res *res = r;

	xdr_put_u32(x, res->status);
	if (res->status != MNT3_OK)
		return;
	xdr_put_opaque(x, res->fh, NFS_FH_SIZE);
	xdr_put_u32(x, 2); /* auth flavors we take, preferred first */
	xdr_put_u32(x, AUTH_SYS);
	xdr_put_u32(x, AUTH_NONE);
}

static void mnt1_encode_mnt(struct xdr *x, const void *r)
{
	const struct mnt_res *res = r;

	xdr_put_u32(x, res->status);
	if (res->status == MNT3_OK)
		xdr_put_fixed(x, res->fh, NFS_FH_SIZE);
}

/* We keep no list of mounts (the protocol's list is advisory): DUMP is empty. */
static void mnt_encode_dump(struct xdr *x, const void *r)
{
	(void)r;
	xdr_put_bool(x, false);
}

static int mnt_export(struct svc_req *rq, const void *a, void *r)
{
	struct mnt_export_res *res = r;

	(void)a;
	_Static_assert(NFS_MAX_EXPORTS * sizeof(struct nfs_export) <= RPC_SCRATCH_MAX,
		       "the export table fits the scratch");
	res->list = (struct nfs_export *)rq->scratch;
	res->n = nfs_export_snapshot(res->list, NFS_MAX_EXPORTS);
	return 0;
}

static void mnt_encode_export(struct xdr *x, const void *r)
{
	const struct mnt_export_res *res = r;
	uint32_t i, j;

	for (i = 0; i < res->n; i++) {
		const struct nfs_export *ex = &res->list[i];

		xdr_put_bool(x, true);
		xdr_put_opaque(x, ex->path, strlen(ex->path));
		for (j = 0; j < ex->nclients; j++) {
			xdr_put_bool(x, true);
			xdr_put_opaque(x, ex->clients[j].text, strlen(ex->clients[j].text));
		}
		xdr_put_bool(x, false);
	}
	xdr_put_bool(x, false);
}

#define MNT_PROCS(mnt_encoder)                                                                     \
	{                                                                                          \
		[MOUNTPROC_NULL] = {.name = "NULL"},                                               \
		[MOUNTPROC_MNT] = {.name = "MNT",                                                  \
				   .decode = mnt_decode_path,                                      \
				   .handle = mnt_mnt,                                              \
				   .encode = mnt_encoder,                                          \
				   .argsize = sizeof(struct mnt_args),                             \
				   .ressize = sizeof(struct mnt_res)},                             \
		[MOUNTPROC_DUMP] = {.name = "DUMP", .encode = mnt_encode_dump},                    \
		[MOUNTPROC_UMNT] = {.name = "UMNT",                                                \
				    .decode = mnt_decode_path,                                     \
				    .argsize = sizeof(struct mnt_args)},                           \
		[MOUNTPROC_UMNTALL] = {.name = "UMNTALL"},                                         \
		[MOUNTPROC_EXPORT] = {.name = "EXPORT",                                            \
				      .handle = mnt_export,                                        \
				      .encode = mnt_encode_export,                                 \
				      .ressize = sizeof(struct mnt_export_res)},                   \
	}

static const struct rpc_proc mount3_procs[MOUNTPROC_COUNT] = MNT_PROCS(mnt3_encode_mnt);
static const struct rpc_proc mount1_procs[MOUNTPROC_COUNT] = MNT_PROCS(mnt1_encode_mnt);

const struct rpc_program mount3_program = {.prog = MOUNT_PROGRAM,
					   .vers = 3,
					   .name = "mountd",
					   .nprocs = MOUNTPROC_COUNT,
					   .procs = mount3_procs};
const struct rpc_program mount1_program = {.prog = MOUNT_PROGRAM,
					   .vers = 1,
					   .name = "mountd",
					   .nprocs = MOUNTPROC_COUNT,
					   .procs = mount1_procs};
