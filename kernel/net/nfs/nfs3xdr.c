/*
 * XDR codecs of the NFS v3 arguments and results (RFC 1813 section 3).
 * Decoders only parse; every semantic check (handle validity, name rules)
 * is the procedures' job so it can be answered with the right nfsstat3.
 */
#include <string.h>
#include "uml/nfs3xdr.h"

/* One filesystem: every export shares the vfs, so fsid is constant. */
#define NFS3_FSID 1

enum { NFS3_DONT_CHANGE = 0, NFS3_SET_TO_SERVER_TIME = 1, NFS3_SET_TO_CLIENT_TIME = 2 };

/* ---- pieces ---- */

static void nfs3_get_fh(struct xdr *x, struct nfs3_fh_arg *fh)
{
	struct xdr_bytes b = xdr_get_opaque(x, NFS3_FHSIZE_MAX);

	if (!xdr_ok(x))
		return;
	fh->len = b.len;
	memcpy(fh->data, b.data, b.len);
}

static void nfs3_get_diropargs(struct xdr *x, struct nfs3_diropargs *d)
{
	nfs3_get_fh(x, &d->dir);
	/* Long names are decoded so they can be refused with NAMETOOLONG. */
	d->name = xdr_get_opaque(x, VFS_PATH_MAX);
}

static void nfs3_get_time(struct xdr *x, struct vfs_time *t)
{
	t->sec = xdr_get_u32(x);
	t->nsec = xdr_get_u32(x);
}

static void nfs3_get_settime(struct xdr *x, struct vfs_sattr *s, struct vfs_time *t, uint32_t set,
			     uint32_t now)
{
	switch (xdr_get_u32(x)) {
	case NFS3_DONT_CHANGE:
		break;
	case NFS3_SET_TO_SERVER_TIME:
		s->mask |= now;
		break;
	case NFS3_SET_TO_CLIENT_TIME:
		s->mask |= set;
		nfs3_get_time(x, t);
		break;
	default:
		x->err = true;
	}
}

static void nfs3_get_sattr(struct xdr *x, struct vfs_sattr *s)
{
	memset(s, 0, sizeof(*s));
	if (xdr_get_bool(x)) {
		s->mask |= VFS_SET_MODE;
		s->mode = xdr_get_u32(x);
	}
	if (xdr_get_bool(x)) {
		s->mask |= VFS_SET_UID;
		s->uid = xdr_get_u32(x);
	}
	if (xdr_get_bool(x)) {
		s->mask |= VFS_SET_GID;
		s->gid = xdr_get_u32(x);
	}
	if (xdr_get_bool(x)) {
		s->mask |= VFS_SET_SIZE;
		s->size = xdr_get_u64(x);
	}
	nfs3_get_settime(x, s, &s->atime, VFS_SET_ATIME, VFS_SET_ATIME_NOW);
	nfs3_get_settime(x, s, &s->mtime, VFS_SET_MTIME, VFS_SET_MTIME_NOW);
}

static void nfs3_put_time(struct xdr *x, struct vfs_time t)
{
	xdr_put_u32(x, (uint32_t)t.sec);
	xdr_put_u32(x, t.nsec);
}

static void nfs3_put_fattr(struct xdr *x, const struct vfs_attr *a)
{
	xdr_put_u32(x, a->type);
	xdr_put_u32(x, a->mode);
	xdr_put_u32(x, a->nlink);
	xdr_put_u32(x, a->uid);
	xdr_put_u32(x, a->gid);
	xdr_put_u64(x, a->size);
	xdr_put_u64(x, a->used);
	xdr_put_u32(x, 0); /* rdev: no device files */
	xdr_put_u32(x, 0);
	xdr_put_u64(x, NFS3_FSID);
	xdr_put_u64(x, a->fileid);
	nfs3_put_time(x, a->atime);
	nfs3_put_time(x, a->mtime);
	nfs3_put_time(x, a->ctime);
}

static void nfs3_put_post(struct xdr *x, const struct nfs3_post_attr *p)
{
	xdr_put_bool(x, p->present);
	if (p->present)
		nfs3_put_fattr(x, &p->a);
}

static void nfs3_put_wcc(struct xdr *x, const struct nfs3_wcc *w)
{
	xdr_put_bool(x, w->pre_present);
	if (w->pre_present) {
		xdr_put_u64(x, w->pre_size);
		nfs3_put_time(x, w->pre_mtime);
		nfs3_put_time(x, w->pre_ctime);
	}
	nfs3_put_post(x, &w->post);
}

size_t nfs3_dirent_size(size_t namelen, bool plus)
{
	size_t n = 4 + 8 + xdr_sizeof_opaque(namelen) + 8;

	if (plus)
		n += 4 + NFS3_FATTR_SIZE + 4 + xdr_sizeof_opaque(NFS_FH_SIZE);
	return n;
}

size_t nfs3_dirent_stride(size_t namelen)
{
	return ALIGN_UP(sizeof(struct nfs3_dirent) + namelen, (size_t)8);
}

/* ---- argument decoders ---- */

bool nfs3_dec_fh(struct xdr *x, void *args)
{
	nfs3_get_fh(x, args);
	return xdr_ok(x);
}

bool nfs3_dec_setattr(struct xdr *x, void *args)
{
	struct nfs3_setattr_args *a = args;

	nfs3_get_fh(x, &a->fh);
	nfs3_get_sattr(x, &a->s);
	a->guard = xdr_get_bool(x);
	if (a->guard)
		nfs3_get_time(x, &a->guard_ctime);
	return xdr_ok(x);
}

bool nfs3_dec_diropargs(struct xdr *x, void *args)
{
	nfs3_get_diropargs(x, args);
	return xdr_ok(x);
}

bool nfs3_dec_access(struct xdr *x, void *args)
{
	struct nfs3_access_args *a = args;

	nfs3_get_fh(x, &a->fh);
	a->access = xdr_get_u32(x);
	return xdr_ok(x);
}

bool nfs3_dec_io(struct xdr *x, void *args)
{
	struct nfs3_io_args *a = args;

	nfs3_get_fh(x, &a->fh);
	a->offset = xdr_get_u64(x);
	a->count = xdr_get_u32(x);
	return xdr_ok(x);
}

bool nfs3_dec_write(struct xdr *x, void *args)
{
	struct nfs3_write_args *a = args;

	nfs3_get_fh(x, &a->fh);
	a->offset = xdr_get_u64(x);
	a->count = xdr_get_u32(x);
	a->stable = xdr_get_u32(x);
	a->data = xdr_get_opaque(x, RPC_MAX_RECORD);
	return xdr_ok(x) && a->stable <= NFS3_FILE_SYNC;
}

bool nfs3_dec_create(struct xdr *x, void *args)
{
	struct nfs3_create_args *a = args;
	const uint8_t *v;

	nfs3_get_diropargs(x, &a->where);
	a->mode = xdr_get_u32(x);
	switch (a->mode) {
	case NFS3_UNCHECKED:
	case NFS3_GUARDED:
		nfs3_get_sattr(x, &a->s);
		break;
	case NFS3_EXCLUSIVE:
		v = xdr_get_fixed(x, sizeof(a->verf));
		if (v)
			memcpy(a->verf, v, sizeof(a->verf));
		break;
	default:
		return false;
	}
	return xdr_ok(x);
}

bool nfs3_dec_mkdir(struct xdr *x, void *args)
{
	struct nfs3_create_args *a = args;

	nfs3_get_diropargs(x, &a->where);
	nfs3_get_sattr(x, &a->s);
	return xdr_ok(x);
}

bool nfs3_dec_symlink(struct xdr *x, void *args)
{
	struct nfs3_create_args *a = args;

	nfs3_get_diropargs(x, &a->where);
	nfs3_get_sattr(x, &a->s);
	a->target = xdr_get_opaque(x, VFS_PATH_MAX);
	return xdr_ok(x);
}

bool nfs3_dec_mknod(struct xdr *x, void *args)
{
	enum { NF3CHR = 4, NF3BLK = 3, NF3SOCK = 6, NF3FIFO = 7 };
	struct nfs3_create_args *a = args;

	nfs3_get_diropargs(x, &a->where);
	a->mode = xdr_get_u32(x);
	switch (a->mode) {
	case NF3CHR:
	case NF3BLK:
		nfs3_get_sattr(x, &a->s);
		xdr_get_u32(x); /* specdata3 */
		xdr_get_u32(x);
		break;
	case NF3SOCK:
	case NF3FIFO:
		nfs3_get_sattr(x, &a->s);
		break;
	default:
		break;
	}
	return xdr_ok(x);
}

bool nfs3_dec_rename(struct xdr *x, void *args)
{
	struct nfs3_rename_args *a = args;

	nfs3_get_diropargs(x, &a->from);
	nfs3_get_diropargs(x, &a->to);
	return xdr_ok(x);
}

bool nfs3_dec_link(struct xdr *x, void *args)
{
	struct nfs3_link_args *a = args;

	nfs3_get_fh(x, &a->fh);
	nfs3_get_diropargs(x, &a->link);
	return xdr_ok(x);
}

static void nfs3_get_readdir_head(struct xdr *x, struct nfs3_readdir_args *a)
{
	const uint8_t *v;

	nfs3_get_fh(x, &a->dir);
	a->cookie = xdr_get_u64(x);
	v = xdr_get_fixed(x, sizeof(a->verf));
	if (v)
		memcpy(a->verf, v, sizeof(a->verf));
}

bool nfs3_dec_readdir(struct xdr *x, void *args)
{
	struct nfs3_readdir_args *a = args;

	nfs3_get_readdir_head(x, a);
	a->maxcount = xdr_get_u32(x);
	a->dircount = UINT32_MAX;
	return xdr_ok(x);
}

bool nfs3_dec_readdirplus(struct xdr *x, void *args)
{
	struct nfs3_readdir_args *a = args;

	nfs3_get_readdir_head(x, a);
	a->dircount = xdr_get_u32(x);
	a->maxcount = xdr_get_u32(x);
	return xdr_ok(x);
}

/* ---- result encoders ---- */

void nfs3_enc_getattr(struct xdr *x, const void *res)
{
	const struct nfs3_attr_res *r = res;

	xdr_put_u32(x, r->status);
	if (r->status == NFS3_OK)
		nfs3_put_fattr(x, &r->attr.a);
}

void nfs3_enc_wcc(struct xdr *x, const void *res)
{
	const struct nfs3_wcc_res *r = res;

	xdr_put_u32(x, r->status);
	nfs3_put_wcc(x, &r->wcc);
}

void nfs3_enc_lookup(struct xdr *x, const void *res)
{
	const struct nfs3_lookup_res *r = res;

	xdr_put_u32(x, r->status);
	if (r->status == NFS3_OK) {
		xdr_put_opaque(x, r->fh, NFS_FH_SIZE);
		nfs3_put_post(x, &r->obj);
	}
	nfs3_put_post(x, &r->dir);
}

void nfs3_enc_access(struct xdr *x, const void *res)
{
	const struct nfs3_access_res *r = res;

	xdr_put_u32(x, r->status);
	nfs3_put_post(x, &r->attr);
	if (r->status == NFS3_OK)
		xdr_put_u32(x, r->access);
}

void nfs3_enc_readlink(struct xdr *x, const void *res)
{
	const struct nfs3_data_res *r = res;

	xdr_put_u32(x, r->status);
	nfs3_put_post(x, &r->attr);
	if (r->status == NFS3_OK)
		xdr_put_opaque(x, r->data, r->count);
}

void nfs3_enc_read(struct xdr *x, const void *res)
{
	const struct nfs3_data_res *r = res;

	xdr_put_u32(x, r->status);
	nfs3_put_post(x, &r->attr);
	if (r->status != NFS3_OK)
		return;
	xdr_put_u32(x, r->count);
	xdr_put_bool(x, r->eof);
	xdr_put_opaque(x, r->data, r->count);
}

void nfs3_enc_write(struct xdr *x, const void *res)
{
	const struct nfs3_write_res *r = res;

	xdr_put_u32(x, r->status);
	nfs3_put_wcc(x, &r->wcc);
	if (r->status != NFS3_OK)
		return;
	xdr_put_u32(x, r->count);
	xdr_put_u32(x, r->committed);
	xdr_put_fixed(x, r->verf, sizeof(r->verf));
}

void nfs3_enc_create(struct xdr *x, const void *res)
{
	const struct nfs3_create_res *r = res;

	xdr_put_u32(x, r->status);
	if (r->status == NFS3_OK) {
		xdr_put_bool(x, r->has_fh);
		if (r->has_fh)
			xdr_put_opaque(x, r->fh, NFS_FH_SIZE);
		nfs3_put_post(x, &r->obj);
	}
	nfs3_put_wcc(x, &r->dir);
}

void nfs3_enc_rename(struct xdr *x, const void *res)
{
	const struct nfs3_rename_res *r = res;

	xdr_put_u32(x, r->status);
	nfs3_put_wcc(x, &r->from);
	nfs3_put_wcc(x, &r->to);
}

void nfs3_enc_link(struct xdr *x, const void *res)
{
	const struct nfs3_link_res *r = res;

	xdr_put_u32(x, r->status);
	nfs3_put_post(x, &r->attr);
	nfs3_put_wcc(x, &r->dir);
}

void nfs3_enc_readdir(struct xdr *x, const void *res)
{
	const struct nfs3_readdir_res *r = res;
	const uint8_t *p = r->entries;
	uint32_t i;

	xdr_put_u32(x, r->status);
	nfs3_put_post(x, &r->attr);
	if (r->status != NFS3_OK)
		return;
	xdr_put_fixed(x, r->verf, sizeof(r->verf));
	for (i = 0; i < r->n; i++) {
		const struct nfs3_dirent *e = (const struct nfs3_dirent *)p;

		xdr_put_bool(x, true);
		xdr_put_u64(x, e->ino.ino);
		xdr_put_opaque(x, e->name, e->len);
		xdr_put_u64(x, e->cookie);
		if (r->plus) {
			nfs3_put_post(x, &e->attr);
			xdr_put_bool(x, true);
			xdr_put_opaque(x, e->fh, NFS_FH_SIZE);
		}
		p += nfs3_dirent_stride(e->len);
	}
	xdr_put_bool(x, false);
	xdr_put_bool(x, r->eof);
}

void nfs3_enc_fsstat(struct xdr *x, const void *res)
{
	const struct nfs3_fsstat_res *r = res;

	xdr_put_u32(x, r->status);
	nfs3_put_post(x, &r->attr);
	if (r->status != NFS3_OK)
		return;
	xdr_put_u64(x, r->st.tbytes);
	xdr_put_u64(x, r->st.fbytes);
	xdr_put_u64(x, r->st.abytes);
	xdr_put_u64(x, r->st.tfiles);
	xdr_put_u64(x, r->st.ffiles);
	xdr_put_u64(x, r->st.afiles);
	xdr_put_u32(x, 0); /* invarsec: it may change any time */
}

void nfs3_enc_fsinfo(struct xdr *x, const void *res)
{
	const struct nfs3_fsinfo_res *r = res;

	xdr_put_u32(x, r->status);
	nfs3_put_post(x, &r->attr);
	if (r->status != NFS3_OK)
		return;
	xdr_put_u32(x, r->rtmax);
	xdr_put_u32(x, r->rtpref);
	xdr_put_u32(x, r->rtmult);
	xdr_put_u32(x, r->wtmax);
	xdr_put_u32(x, r->wtpref);
	xdr_put_u32(x, r->wtmult);
	xdr_put_u32(x, r->dtpref);
	xdr_put_u64(x, r->maxfilesize);
	xdr_put_u32(x, 0); /* time_delta: 1 ns */
	xdr_put_u32(x, 1);
	xdr_put_u32(x, r->properties);
}

void nfs3_enc_pathconf(struct xdr *x, const void *res)
{
	const struct nfs3_attr_res *r = res;

	xdr_put_u32(x, r->status);
	nfs3_put_post(x, &r->attr);
	if (r->status != NFS3_OK)
		return;
	xdr_put_u32(x, UINT16_MAX); /* linkmax */
	xdr_put_u32(x, VFS_NAME_MAX);
	xdr_put_bool(x, true);	/* no_trunc: long names are refused */
	xdr_put_bool(x, true);	/* chown_restricted */
	xdr_put_bool(x, false); /* case_insensitive */
	xdr_put_bool(x, true);	/* case_preserving */
}

void nfs3_enc_commit(struct xdr *x, const void *res)
{
	const struct nfs3_commit_res *r = res;

	xdr_put_u32(x, r->status);
	nfs3_put_wcc(x, &r->wcc);
	if (r->status == NFS3_OK)
		xdr_put_fixed(x, r->verf, sizeof(r->verf));
}
