/*
 * The NFS v3 procedures (RFC 1813 section 3.3) on top of the vfs.
 *
 * Every call first resolves its handle(s): a handle we did not make is
 * BADHANDLE, a client outside the export's allowlist gets ACCES, a modifying
 * call on a read-only export gets ROFS; an inode that no longer exists is
 * STALE (from the vfs). Weak cache consistency data is taken with a getattr
 * before and after the change: not atomic with it, which RFC 1813 allows
 * (the client then just revalidates).
 */
#include <errno.h>
#include <string.h>
#include "uml/machine.h"
#include "uml/nfs3xdr.h"

#define NFS3_MODIFY_BITS (VFS_ACCESS_MODIFY | VFS_ACCESS_EXTEND | VFS_ACCESS_DELETE)
/* Reply bytes around the READDIR entries: status, dir attributes, verifier, list end, eof. */
#define NFS3_READDIR_OVERHEAD (4 + 4 + NFS3_FATTR_SIZE + 8 + 4 + 4)
/* Room kept in a reply for the RPC header and a READ's attributes and counts. */
#define NFS3_REPLY_HEADROOM 256

/* FSINFO properties */
#define FSF3_LINK	 0x1
#define FSF3_SYMLINK	 0x2
#define FSF3_HOMOGENEOUS 0x8
#define FSF3_CANSETTIME	 0x10

static const struct {
	int err;
	uint32_t status;
} nfs3_errtab[] = {
    {EPERM, NFS3ERR_PERM},
    {ENOENT, NFS3ERR_NOENT},
    {EIO, NFS3ERR_IO},
    {ENXIO, NFS3ERR_NXIO},
    {EACCES, NFS3ERR_ACCES},
    {EEXIST, NFS3ERR_EXIST},
    {EXDEV, NFS3ERR_XDEV},
    {ENODEV, NFS3ERR_NODEV},
    {ENOTDIR, NFS3ERR_NOTDIR},
    {EISDIR, NFS3ERR_ISDIR},
    {EINVAL, NFS3ERR_INVAL},
    {ERANGE, NFS3ERR_INVAL}, /* a hook refused the value as out of range */
    {EFBIG, NFS3ERR_FBIG},
    {ENOSPC, NFS3ERR_NOSPC},
    {ENOMEM, NFS3ERR_NOSPC}, /* the arena is full: the client's "disk full" */
    {EROFS, NFS3ERR_ROFS},
    {EMLINK, NFS3ERR_MLINK},
    {ENAMETOOLONG, NFS3ERR_NAMETOOLONG},
    {ENOTEMPTY, NFS3ERR_NOTEMPTY},
    {EDQUOT, NFS3ERR_DQUOT},
    {ESTALE, NFS3ERR_STALE},
    {EBADF, NFS3ERR_BADHANDLE},
    {EOPNOTSUPP, NFS3ERR_NOTSUPP},
};

uint32_t nfs3_errno(int err)
{
	size_t i;

	if (err == 0)
		return NFS3_OK;
	for (i = 0; i < ARRAY_SIZE(nfs3_errtab); i++)
		if (nfs3_errtab[i].err == -err)
			return nfs3_errtab[i].status;
	return NFS3ERR_SERVERFAULT;
}

/* A resolved handle. */
struct nfs3_obj {
	struct nfs_fh fh;
	struct nfs_export_view ex;
};

/*
 * A handle is honoured only when we made it (its MAC), the caller may use
 * the export it was issued under, and the file is still inside that export:
 * a file renamed out of it since, by a client of a wider export, is STALE
 * here, as with knfsd's subtree_check. The check and the operation are not
 * atomic; a rename between them acts as if it came just after.
 */
static uint32_t nfs3_resolve(const struct svc_req *rq, const struct nfs3_fh_arg *a, bool modify,
			     struct nfs3_obj *o)
{
	struct vfs_ino top;

	if (nfs_fh_decode(a->data, a->len, &o->fh))
		return NFS3ERR_BADHANDLE;
	if (nfs_export_check(o->fh.root, (const struct sockaddr *)&rq->peer, &o->ex))
		return NFS3ERR_ACCES;
	if (modify && !o->ex.rw)
		return NFS3ERR_ROFS;
	top = vfs_root();
	/* Everything is inside an export of "/": no walk. */
	if ((o->ex.root.ino != top.ino || o->ex.root.gen != top.gen) &&
	    vfs_within(o->ex.root, o->fh.ino))
		return NFS3ERR_STALE;
	return NFS3_OK;
}

/* Two handles of one call (RENAME, LINK) must be in the same export. */
static uint32_t nfs3_resolve2(const struct svc_req *rq, const struct nfs3_fh_arg *a,
			      const struct nfs3_fh_arg *b, struct nfs3_obj *oa, struct nfs3_obj *ob)
{
	uint32_t st = nfs3_resolve(rq, a, true, oa);

	if (st == NFS3_OK)
		st = nfs3_resolve(rq, b, true, ob);
	if (st == NFS3_OK &&
	    (oa->ex.root.ino != ob->ex.root.ino || oa->ex.root.gen != ob->ex.root.gen))
		st = NFS3ERR_XDEV;
	return st;
}

static bool nfs3_is_root(const struct nfs3_obj *o)
{
	return o->fh.ino.ino == o->ex.root.ino && o->fh.ino.gen == o->ex.root.gen;
}

static bool nfs3_is_dotdot(const char *name, size_t len)
{
	return len == 2 && name[0] == '.' && name[1] == '.';
}

static void nfs3_post(struct nfs3_post_attr *p, struct vfs_ino i)
{
	p->present = vfs_getattr(i, &p->a) == 0;
}

static void nfs3_pre(struct nfs3_wcc *w, struct vfs_ino i)
{
	struct vfs_attr a;

	if (vfs_getattr(i, &a))
		return;
	w->pre_present = true;
	w->pre_size = a.size;
	w->pre_mtime = a.mtime;
	w->pre_ctime = a.ctime;
}

static void nfs3_make_fh(const struct nfs3_obj *within, struct vfs_ino ino, uint8_t *out)
{
	struct nfs_fh fh = {.root = within->ex.root, .ino = ino};

	nfs_fh_encode(&fh, out);
}

/* The caller of a change, as the vfs and its hooks see it. */
struct nfs3_ctx {
	struct vfs_ctx vc;
	char why[256];
};

static struct vfs_ctx *nfs3_ctx(const struct svc_req *rq, struct nfs3_ctx *c)
{
	c->vc.cred = rq->cred;
	c->vc.client = rq->client;
	c->why[0] = '\0';
	c->vc.why = c->why;
	c->vc.whylen = sizeof(c->why);
	return &c->vc;
}

#define NAME(d) ((const char *)(d)->name.data), (d)->name.len

/*
 * A change is on stable storage before its reply says it happened (RFC
 * 1813, 1.5 and 3.3): with a state image, the reply waits until its
 * records are synced -- shared with the changes of other threads -- and a
 * device that fails makes it an I/O error. Without one, or for a file the
 * image does not hold, the memory is the storage and this returns at once.
 */
static uint32_t nfs3_stable(uint32_t status)
{
	if (status == NFS3_OK && vfs_sync() != 0)
		return NFS3ERR_IO;
	return status;
}

/* ---- procedures ---- */

static int nfs3_getattr(struct svc_req *rq, const void *a, void *r)
{
	struct nfs3_attr_res *res = r;
	struct nfs3_obj o;

	res->status = nfs3_resolve(rq, a, false, &o);
	if (res->status == NFS3_OK)
		res->status = nfs3_errno(vfs_getattr(o.fh.ino, &res->attr.a));
	return 0;
}

static bool nfs3_same_time(struct vfs_time wire, struct vfs_time t)
{
	return (uint32_t)wire.sec == (uint32_t)t.sec && wire.nsec == t.nsec;
}

static int nfs3_setattr(struct svc_req *rq, const void *a, void *r)
{
	const struct nfs3_setattr_args *args = a;
	struct nfs3_wcc_res *res = r;
	struct nfs3_ctx c;
	struct nfs3_obj o;

	res->status = nfs3_resolve(rq, &args->fh, true, &o);
	if (res->status)
		return 0;
	nfs3_pre(&res->wcc, o.fh.ino);
	if (args->guard && res->wcc.pre_present &&
	    !nfs3_same_time(args->guard_ctime, res->wcc.pre_ctime))
		res->status = NFS3ERR_NOT_SYNC;
	else
		res->status = nfs3_stable(
		    nfs3_errno(vfs_setattr(o.fh.ino, &args->s, nfs3_ctx(rq, &c), NULL)));
	nfs3_post(&res->wcc.post, o.fh.ino);
	return 0;
}

static int nfs3_lookup(struct svc_req *rq, const void *a, void *r)
{
	const struct nfs3_diropargs *args = a;
	struct nfs3_lookup_res *res = r;
	struct vfs_ino ino;
	struct nfs3_obj d;
	int err;

	res->status = nfs3_resolve(rq, &args->dir, false, &d);
	if (res->status)
		return 0;
	/* ".." of an export's root stays there: the client sees no more of the tree. */
	if (nfs3_is_dotdot(NAME(args)) && nfs3_is_root(&d)) {
		ino = d.fh.ino;
		err = vfs_getattr(ino, &res->obj.a);
	} else {
		err = vfs_lookup(d.fh.ino, NAME(args), &ino);
	}
	res->status = nfs3_errno(err);
	nfs3_post(&res->dir, d.fh.ino);
	if (res->status == NFS3_OK) {
		nfs3_make_fh(&d, ino, res->fh);
		nfs3_post(&res->obj, ino);
	}
	return 0;
}

static int nfs3_access(struct svc_req *rq, const void *a, void *r)
{
	const struct nfs3_access_args *args = a;
	struct nfs3_access_res *res = r;
	struct nfs3_obj o;

	res->status = nfs3_resolve(rq, &args->fh, false, &o);
	if (res->status)
		return 0;
	res->status = nfs3_errno(vfs_access(o.fh.ino, &rq->cred, args->access, &res->access));
	if (!o.ex.rw)
		res->access &= ~NFS3_MODIFY_BITS;
	nfs3_post(&res->attr, o.fh.ino);
	return 0;
}

static int nfs3_readlink(struct svc_req *rq, const void *a, void *r)
{
	struct nfs3_data_res *res = r;
	struct nfs3_obj o;
	size_t len = 0;

	res->status = nfs3_resolve(rq, a, false, &o);
	if (res->status)
		return 0;
	res->status = nfs3_errno(vfs_readlink(o.fh.ino, (char *)rq->scratch, VFS_PATH_MAX, &len));
	res->data = rq->scratch;
	res->count = len;
	nfs3_post(&res->attr, o.fh.ino);
	return 0;
}

static int nfs3_read(struct svc_req *rq, const void *a, void *r)
{
	const struct nfs3_io_args *args = a;
	struct nfs3_data_res *res = r;
	size_t count, n = 0;
	struct nfs3_obj o;

	res->status = nfs3_resolve(rq, &args->fh, false, &o);
	if (res->status)
		return 0;
	count = MIN((size_t)args->count, (size_t)NFS3_MAXDATA);
	count = MIN(count, rq->reply_max - NFS3_REPLY_HEADROOM);
	res->status =
	    nfs3_errno(vfs_read(o.fh.ino, args->offset, rq->scratch, count, &n, &res->eof));
	res->data = rq->scratch;
	res->count = n;
	nfs3_post(&res->attr, o.fh.ino);
	return 0;
}

static int nfs3_write(struct svc_req *rq, const void *a, void *r)
{
	const struct nfs3_write_args *args = a;
	struct nfs3_write_res *res = r;
	uint64_t logged = vfs_sync_pos();
	struct nfs3_ctx c;
	struct nfs3_obj o;

	res->status = nfs3_resolve(rq, &args->fh, true, &o);
	if (res->status)
		return 0;
	nfs3_pre(&res->wcc, o.fh.ino);
	if (args->data.len < args->count)
		res->status = NFS3ERR_INVAL;
	else
		res->status = nfs3_errno(vfs_write(o.fh.ino, args->offset, args->data.data,
						   args->count, nfs3_ctx(rq, &c)));
	/*
	 * Memory alone is as stable as this machine gets: FILE_SYNC. A write
	 * the state image logged is FILE_SYNC once synced; asked UNSTABLE, it
	 * is left for COMMIT, and the verifier, new at every boot, tells the
	 * client when a crash lost it.
	 */
	res->committed = NFS3_FILE_SYNC;
	if (args->stable == NFS3_UNSTABLE && vfs_sync_pos() != logged)
		res->committed = NFS3_UNSTABLE;
	else
		res->status = nfs3_stable(res->status);
	nfs3_post(&res->wcc.post, o.fh.ino);
	res->count = args->count;
	memcpy(res->verf, machine->boot_verf, sizeof(res->verf));
	return 0;
}

/* The part CREATE, MKDIR and SYMLINK share: check, make the node, report. */
static int nfs3_make(struct svc_req *rq, const struct nfs3_create_args *args,
		     struct nfs3_create_res *res, int proc)
{
	const struct nfs3_diropargs *w = &args->where;
	struct vfs_ino dir, ino;
	struct nfs3_ctx c;
	struct nfs3_obj d;
	int err;

	res->status = nfs3_resolve(rq, &w->dir, true, &d);
	if (res->status)
		return 0;
	dir = d.fh.ino;
	nfs3_pre(&res->dir, dir);
	nfs3_ctx(rq, &c);
	switch (proc) {
	case NFSPROC3_CREATE:
		if (args->mode == NFS3_EXCLUSIVE)
			err = vfs_create(dir, NAME(w), NULL, true, args->verf, &c.vc, &ino);
		else
			err = vfs_create(dir, NAME(w), &args->s, args->mode == NFS3_GUARDED, NULL,
					 &c.vc, &ino);
		break;
	case NFSPROC3_MKDIR:
		err = vfs_mkdir(dir, NAME(w), &args->s, &c.vc, &ino);
		break;
	case NFSPROC3_SYMLINK:
		err = vfs_symlink(dir, NAME(w), (const char *)args->target.data, args->target.len,
				  &args->s, &c.vc, &ino);
		break;
	default:
		err = -EOPNOTSUPP;
	}
	res->status = nfs3_stable(nfs3_errno(err));
	nfs3_post(&res->dir.post, dir);
	if (res->status == NFS3_OK) {
		res->has_fh = true;
		nfs3_make_fh(&d, ino, res->fh);
		nfs3_post(&res->obj, ino);
	}
	return 0;
}

static int nfs3_create(struct svc_req *rq, const void *a, void *r)
{
	return nfs3_make(rq, a, r, NFSPROC3_CREATE);
}

static int nfs3_mkdir(struct svc_req *rq, const void *a, void *r)
{
	return nfs3_make(rq, a, r, NFSPROC3_MKDIR);
}

static int nfs3_symlink(struct svc_req *rq, const void *a, void *r)
{
	return nfs3_make(rq, a, r, NFSPROC3_SYMLINK);
}

/* No device files, sockets or fifos in a configuration tree. */
static int nfs3_mknod(struct svc_req *rq, const void *a, void *r)
{
	return nfs3_make(rq, a, r, NFSPROC3_MKNOD);
}

static int nfs3_unlink(struct svc_req *rq, const struct nfs3_diropargs *args,
		       struct nfs3_wcc_res *res, bool dir)
{
	struct nfs3_ctx c;
	struct nfs3_obj d;
	int err;

	res->status = nfs3_resolve(rq, &args->dir, true, &d);
	if (res->status)
		return 0;
	nfs3_pre(&res->wcc, d.fh.ino);
	nfs3_ctx(rq, &c);
	if (dir)
		err = vfs_rmdir(d.fh.ino, NAME(args), &c.vc);
	else
		err = vfs_remove(d.fh.ino, NAME(args), &c.vc);
	res->status = nfs3_stable(nfs3_errno(err));
	nfs3_post(&res->wcc.post, d.fh.ino);
	return 0;
}

static int nfs3_remove(struct svc_req *rq, const void *a, void *r)
{
	return nfs3_unlink(rq, a, r, false);
}

static int nfs3_rmdir(struct svc_req *rq, const void *a, void *r)
{
	return nfs3_unlink(rq, a, r, true);
}

static int nfs3_rename(struct svc_req *rq, const void *a, void *r)
{
	const struct nfs3_rename_args *args = a;
	struct nfs3_rename_res *res = r;
	struct nfs3_obj f, t;
	struct nfs3_ctx c;

	res->status = nfs3_resolve2(rq, &args->from.dir, &args->to.dir, &f, &t);
	if (res->status)
		return 0;
	nfs3_pre(&res->from, f.fh.ino);
	nfs3_pre(&res->to, t.fh.ino);
	res->status = nfs3_stable(nfs3_errno(
	    vfs_rename(f.fh.ino, NAME(&args->from), t.fh.ino, NAME(&args->to), nfs3_ctx(rq, &c))));
	nfs3_post(&res->from.post, f.fh.ino);
	nfs3_post(&res->to.post, t.fh.ino);
	return 0;
}

static int nfs3_link(struct svc_req *rq, const void *a, void *r)
{
	const struct nfs3_link_args *args = a;
	struct nfs3_link_res *res = r;
	struct nfs3_obj f, d;
	struct nfs3_ctx c;

	res->status = nfs3_resolve2(rq, &args->fh, &args->link.dir, &f, &d);
	if (res->status)
		return 0;
	nfs3_pre(&res->dir, d.fh.ino);
	res->status = nfs3_stable(
	    nfs3_errno(vfs_link(f.fh.ino, d.fh.ino, NAME(&args->link), nfs3_ctx(rq, &c))));
	nfs3_post(&res->attr, f.fh.ino);
	nfs3_post(&res->dir.post, d.fh.ino);
	return 0;
}

/* Directory entries collected into the scratch while the vfs holds its lock. */
struct nfs3_fill {
	uint8_t *buf;
	size_t cap, used;     /* scratch bytes */
	size_t size, limit;   /* reply bytes of the entries (maxcount) */
	size_t dsize, dlimit; /* READDIRPLUS: bytes of names and cookies (dircount) */
	uint32_t n;
	bool plus, full;
};

static int nfs3_filldir(void *arg, const char *name, size_t len, struct vfs_ino ino,
			uint64_t cookie)
{
	struct nfs3_fill *f = arg;
	size_t wire = nfs3_dirent_size(len, f->plus), stride = nfs3_dirent_stride(len);
	size_t dwire = 8 + xdr_sizeof_opaque(len) + 8;
	struct nfs3_dirent *e;

	/* dircount is a hint: at least one entry goes out if maxcount allows it. */
	if (f->size + wire > f->limit || f->used + stride > f->cap ||
	    (f->n && f->dsize + dwire > f->dlimit)) {
		f->full = true;
		return 1;
	}
	e = (struct nfs3_dirent *)(f->buf + f->used);
	memset(e, 0, sizeof(*e));
	e->ino = ino;
	e->cookie = cookie;
	e->len = len;
	memcpy(e->name, name, len);
	f->used += stride;
	f->size += wire;
	f->dsize += dwire;
	f->n++;
	return 0;
}

static void nfs3_put_verf(uint8_t out[8], uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		out[i] = (uint8_t)v;
}

static int nfs3_readdir_common(struct svc_req *rq, const struct nfs3_readdir_args *args,
			       struct nfs3_readdir_res *res, bool plus)
{
	struct nfs3_fill f = {.buf = rq->scratch, .cap = RPC_SCRATCH_MAX, .plus = plus};
	size_t max = MIN((size_t)args->maxcount, rq->reply_max - NFS3_REPLY_HEADROOM);
	uint8_t *p;
	uint64_t verf = 0;
	struct nfs3_obj d;
	uint32_t i;
	int err;

	res->plus = plus;
	res->status = nfs3_resolve(rq, &args->dir, false, &d);
	if (res->status)
		return 0;
	f.limit = max > NFS3_READDIR_OVERHEAD ? max - NFS3_READDIR_OVERHEAD : 0;
	f.dlimit = args->dircount;
	err = vfs_readdir(d.fh.ino, args->cookie, &verf, nfs3_filldir, &f);
	nfs3_post(&res->attr, d.fh.ino);
	nfs3_put_verf(res->verf, verf);
	res->status = nfs3_errno(err);
	if (res->status)
		return 0;
	if (args->cookie != 0 && memcmp(res->verf, args->verf, sizeof(res->verf)) != 0) {
		res->status = NFS3ERR_BAD_COOKIE;
		return 0;
	}
	if (f.n == 0 && f.full) {
		res->status = NFS3ERR_TOOSMALL;
		return 0;
	}
	res->entries = f.buf;
	res->n = f.n;
	res->eof = !f.full;

	for (i = 0, p = f.buf; i < f.n;
	     i++, p += nfs3_dirent_stride(((struct nfs3_dirent *)p)->len)) {
		struct nfs3_dirent *e = (struct nfs3_dirent *)p;

		if (nfs3_is_dotdot(e->name, e->len) && nfs3_is_root(&d))
			e->ino = d.fh.ino;
		if (plus) {
			nfs3_post(&e->attr, e->ino);
			nfs3_make_fh(&d, e->ino, e->fh);
		}
	}
	return 0;
}

static int nfs3_readdir(struct svc_req *rq, const void *a, void *r)
{
	return nfs3_readdir_common(rq, a, r, false);
}

static int nfs3_readdirplus(struct svc_req *rq, const void *a, void *r)
{
	return nfs3_readdir_common(rq, a, r, true);
}

static int nfs3_fsstat(struct svc_req *rq, const void *a, void *r)
{
	struct nfs3_fsstat_res *res = r;
	struct nfs3_obj o;

	res->status = nfs3_resolve(rq, a, false, &o);
	if (res->status)
		return 0;
	res->status = nfs3_errno(vfs_statfs(&res->st));
	nfs3_post(&res->attr, o.fh.ino);
	return 0;
}

static int nfs3_fsinfo(struct svc_req *rq, const void *a, void *r)
{
	struct nfs3_fsinfo_res *res = r;
	struct nfs3_obj o;

	res->status = nfs3_resolve(rq, a, false, &o);
	if (res->status)
		return 0;
	nfs3_post(&res->attr, o.fh.ino);
	res->rtmax = res->rtpref = NFS3_MAXDATA;
	res->wtmax = res->wtpref = NFS3_MAXDATA;
	res->rtmult = res->wtmult = 4096;
	res->dtpref = 8192;
	res->maxfilesize = VFS_FILE_MAX;
	res->properties = FSF3_LINK | FSF3_SYMLINK | FSF3_HOMOGENEOUS | FSF3_CANSETTIME;
	return 0;
}

static int nfs3_pathconf(struct svc_req *rq, const void *a, void *r)
{
	struct nfs3_attr_res *res = r;
	struct nfs3_obj o;

	res->status = nfs3_resolve(rq, a, false, &o);
	if (res->status == NFS3_OK)
		nfs3_post(&res->attr, o.fh.ino);
	return 0;
}

/* Everything logged so far is synced: the unstable writes of every client share one flush. */
static int nfs3_commit(struct svc_req *rq, const void *a, void *r)
{
	const struct nfs3_io_args *args = a;
	struct nfs3_commit_res *res = r;
	struct nfs3_obj o;

	res->status = nfs3_resolve(rq, &args->fh, false, &o);
	if (res->status)
		return 0;
	nfs3_pre(&res->wcc, o.fh.ino);
	res->status = vfs_sync_all() ? NFS3ERR_IO : NFS3_OK;
	if (res->status == NFS3_OK)
		res->status = nfs3_errno(vfs_getattr(o.fh.ino, &res->wcc.post.a));
	res->wcc.post.present = res->status == NFS3_OK;
	memcpy(res->verf, machine->boot_verf, sizeof(res->verf));
	return 0;
}

static void nfs3_account(const struct svc_req *rq, const void *res)
{
	struct nfs_state *st = nfs_state();

	if (rq->proc >= NFS3_NPROCS)
		return;
	atomic_fetch_add(&st->proc[rq->proc], 1);
	/* Every result but NULL's starts with its nfsstat3. */
	if (rq->proc != NFSPROC3_NULL && *(const uint32_t *)res != NFS3_OK)
		atomic_fetch_add(&st->errors, 1);
}

#define PROC(num, nm, dec, fn, enc, args, res)                                                     \
	[num] = {.name = nm,                                                                       \
		 .decode = dec,                                                                    \
		 .handle = fn,                                                                     \
		 .encode = enc,                                                                    \
		 .argsize = sizeof(args),                                                          \
		 .ressize = sizeof(res)}

static const struct rpc_proc nfs3_procs[NFS3_NPROCS] = {
    [NFSPROC3_NULL] = {.name = "NULL"},
    PROC(NFSPROC3_GETATTR, "GETATTR", nfs3_dec_fh, nfs3_getattr, nfs3_enc_getattr,
	 struct nfs3_fh_arg, struct nfs3_attr_res),
    PROC(NFSPROC3_SETATTR, "SETATTR", nfs3_dec_setattr, nfs3_setattr, nfs3_enc_wcc,
	 struct nfs3_setattr_args, struct nfs3_wcc_res),
    PROC(NFSPROC3_LOOKUP, "LOOKUP", nfs3_dec_diropargs, nfs3_lookup, nfs3_enc_lookup,
	 struct nfs3_diropargs, struct nfs3_lookup_res),
    PROC(NFSPROC3_ACCESS, "ACCESS", nfs3_dec_access, nfs3_access, nfs3_enc_access,
	 struct nfs3_access_args, struct nfs3_access_res),
    PROC(NFSPROC3_READLINK, "READLINK", nfs3_dec_fh, nfs3_readlink, nfs3_enc_readlink,
	 struct nfs3_fh_arg, struct nfs3_data_res),
    PROC(NFSPROC3_READ, "READ", nfs3_dec_io, nfs3_read, nfs3_enc_read, struct nfs3_io_args,
	 struct nfs3_data_res),
    PROC(NFSPROC3_WRITE, "WRITE", nfs3_dec_write, nfs3_write, nfs3_enc_write,
	 struct nfs3_write_args, struct nfs3_write_res),
    PROC(NFSPROC3_CREATE, "CREATE", nfs3_dec_create, nfs3_create, nfs3_enc_create,
	 struct nfs3_create_args, struct nfs3_create_res),
    PROC(NFSPROC3_MKDIR, "MKDIR", nfs3_dec_mkdir, nfs3_mkdir, nfs3_enc_create,
	 struct nfs3_create_args, struct nfs3_create_res),
    PROC(NFSPROC3_SYMLINK, "SYMLINK", nfs3_dec_symlink, nfs3_symlink, nfs3_enc_create,
	 struct nfs3_create_args, struct nfs3_create_res),
    PROC(NFSPROC3_MKNOD, "MKNOD", nfs3_dec_mknod, nfs3_mknod, nfs3_enc_create,
	 struct nfs3_create_args, struct nfs3_create_res),
    PROC(NFSPROC3_REMOVE, "REMOVE", nfs3_dec_diropargs, nfs3_remove, nfs3_enc_wcc,
	 struct nfs3_diropargs, struct nfs3_wcc_res),
    PROC(NFSPROC3_RMDIR, "RMDIR", nfs3_dec_diropargs, nfs3_rmdir, nfs3_enc_wcc,
	 struct nfs3_diropargs, struct nfs3_wcc_res),
    PROC(NFSPROC3_RENAME, "RENAME", nfs3_dec_rename, nfs3_rename, nfs3_enc_rename,
	 struct nfs3_rename_args, struct nfs3_rename_res),
    PROC(NFSPROC3_LINK, "LINK", nfs3_dec_link, nfs3_link, nfs3_enc_link, struct nfs3_link_args,
	 struct nfs3_link_res),
    PROC(NFSPROC3_READDIR, "READDIR", nfs3_dec_readdir, nfs3_readdir, nfs3_enc_readdir,
	 struct nfs3_readdir_args, struct nfs3_readdir_res),
    PROC(NFSPROC3_READDIRPLUS, "READDIRPLUS", nfs3_dec_readdirplus, nfs3_readdirplus,
	 nfs3_enc_readdir, struct nfs3_readdir_args, struct nfs3_readdir_res),
    PROC(NFSPROC3_FSSTAT, "FSSTAT", nfs3_dec_fh, nfs3_fsstat, nfs3_enc_fsstat, struct nfs3_fh_arg,
	 struct nfs3_fsstat_res),
    PROC(NFSPROC3_FSINFO, "FSINFO", nfs3_dec_fh, nfs3_fsinfo, nfs3_enc_fsinfo, struct nfs3_fh_arg,
	 struct nfs3_fsinfo_res),
    PROC(NFSPROC3_PATHCONF, "PATHCONF", nfs3_dec_fh, nfs3_pathconf, nfs3_enc_pathconf,
	 struct nfs3_fh_arg, struct nfs3_attr_res),
    PROC(NFSPROC3_COMMIT, "COMMIT", nfs3_dec_io, nfs3_commit, nfs3_enc_commit, struct nfs3_io_args,
	 struct nfs3_commit_res),
};

const struct rpc_program nfs3_program = {
    .prog = NFS_PROGRAM,
    .vers = 3,
    .name = "nfs",
    .nprocs = NFS3_NPROCS,
    .procs = nfs3_procs,
    .account = nfs3_account,
};
