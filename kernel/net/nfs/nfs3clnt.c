/*
 * The NFSv3 client's calls (RFC 1813): MOUNT3 MNT and UMNT, and the NFS3
 * procedures an importer needs, over the RPC client (uml/rpcclnt.h).
 *
 * Each call is a row of nc_procs: its program and procedure, the encoder
 * of its arguments and the decoder of its results. Every reply is hostile:
 * the decoders check each length, count and name against what was asked
 * and what the protocol allows, and anything else is -EPROTO.
 *
 * A client and its READDIRPLUS batches are private mappings of the
 * process that opened it, as its transports are.
 */
#include <errno.h>
#include <string.h>

#include "uml/host.h"
#include "uml/nfs3xdr.h"
#include "uml/nfsclnt.h"
#include "uml/rpcclnt.h"

#define NFSCLNT_PORT	   2049
#define NFSCLNT_TIMEOUT_MS 1000
#define NFSCLNT_RETRIES	   3
#define NFSCLNT_FLAVORS	   32 /* auth flavors a MNT reply may list */
/* What READDIRPLUS asks for per reply: a few replies for a few hundred entries. */
#define NFSCLNT_DIRCOUNT 4096
#define NFSCLNT_MAXCOUNT 16384
/* Entries one READDIRPLUS reply may bring: more than fit NFSCLNT_MAXCOUNT bytes. */
#define NFSCLNT_DIR_BATCH 512

struct nfsclnt {
	struct rpc_clnt *nfs;
	struct rpc_clnt *mnt; /* == nfs when MOUNT is served on the NFS port */
	char export[NFSCLNT_PATH_MAX];
	uint32_t rtmax, wtmax; /* FSINFO's, at most NFS3_MAXDATA */
	size_t memsize;
};

/* One entry of a READDIRPLUS reply, copied out so that @fn may call the client. */
struct nc_dirent {
	char name[NFSCLNT_NAME_MAX + 1];
	uint64_t cookie;
	bool has_fh, has_attr;
	struct nfsclnt_fh fh;
	struct nfsclnt_attr attr;
};

/* ---- statuses ---- */

static const struct {
	uint32_t stat;
	int err;
} nfs3_errnos[] = {
    {NFS3ERR_PERM, -EPERM},
    {NFS3ERR_NOENT, -ENOENT},
    {NFS3ERR_IO, -EIO},
    {NFS3ERR_NXIO, -ENXIO},
    {NFS3ERR_ACCES, -EACCES},
    {NFS3ERR_EXIST, -EEXIST},
    {NFS3ERR_XDEV, -EXDEV},
    {NFS3ERR_NODEV, -ENODEV},
    {NFS3ERR_NOTDIR, -ENOTDIR},
    {NFS3ERR_ISDIR, -EISDIR},
    {NFS3ERR_INVAL, -EINVAL},
    {NFS3ERR_FBIG, -EFBIG},
    {NFS3ERR_NOSPC, -ENOSPC},
    {NFS3ERR_ROFS, -EROFS},
    {NFS3ERR_MLINK, -EMLINK},
    {NFS3ERR_NAMETOOLONG, -ENAMETOOLONG},
    {NFS3ERR_NOTEMPTY, -ENOTEMPTY},
    {NFS3ERR_DQUOT, -EDQUOT},
    {NFS3ERR_STALE, -ESTALE},
    {NFS3ERR_REMOTE, -EREMOTE},
    {NFS3ERR_BADHANDLE, -ESTALE}, /* a handle the server cannot read is as dead as a stale one */
    {NFS3ERR_NOT_SYNC, -EIO},
    {NFS3ERR_BAD_COOKIE, -ESTALE}, /* the directory changed under the listing */
    {NFS3ERR_NOTSUPP, -EOPNOTSUPP},
    {NFS3ERR_TOOSMALL, -EMSGSIZE},
    {NFS3ERR_SERVERFAULT, -EREMOTEIO},
    {NFS3ERR_BADTYPE, -EINVAL},
    {NFS3ERR_JUKEBOX, -EAGAIN},
};

static int nfs3_status_errno(uint32_t stat)
{
	for (size_t i = 0; i < sizeof(nfs3_errnos) / sizeof(nfs3_errnos[0]); i++)
		if (nfs3_errnos[i].stat == stat)
			return nfs3_errnos[i].err;
	return -EIO;
}

static int mnt3_status_errno(uint32_t stat)
{
	switch (stat) {
	case MNT3ERR_PERM:
		return -EPERM;
	case MNT3ERR_NOENT:
		return -ENOENT;
	case MNT3ERR_ACCES:
		return -EACCES;
	case MNT3ERR_NOTDIR:
		return -ENOTDIR;
	case MNT3ERR_INVAL:
		return -EINVAL;
	case MNT3ERR_NAMETOOLONG:
		return -ENAMETOOLONG;
	case MNT3ERR_NOTSUPP:
		return -EOPNOTSUPP;
	case MNT3ERR_SERVERFAULT:
		return -EREMOTEIO;
	default:
		return -EIO;
	}
}

/* ---- arguments and results of the calls ---- */

struct nc_dirop {
	const struct nfsclnt_fh *dir;
	const char *name;
	uint32_t len;
};

struct nc_access {
	const struct nfsclnt_fh *fh;
	uint32_t want;
};

/* READ (data NULL) and WRITE */
struct nc_io {
	const struct nfsclnt_fh *fh;
	uint64_t off;
	uint32_t count;
	const void *data;
};

struct nc_create {
	struct nc_dirop where;
	uint32_t mode;
};

struct nc_setattr {
	const struct nfsclnt_fh *fh;
	uint64_t size;
};

struct nc_readdir {
	const struct nfsclnt_fh *dir;
	uint64_t cookie;
	uint8_t verf[8];
};

struct nc_mnt_res {
	struct nfsclnt_fh *fh;
	bool auth_ok; /* AUTH_SYS or AUTH_NONE is among the flavors offered */
};

struct nc_lookup_res {
	struct nfsclnt_fh *fh;
	struct nfsclnt_attr *attr; /* may be NULL */
	bool has_attr;
};

struct nc_read_res {
	uint8_t *buf;
	uint32_t max; /* what was asked */
	uint32_t got;
	bool eof;
};

struct nc_write_res {
	uint32_t max; /* what was sent */
	uint32_t count;
	uint32_t committed;
};

struct nc_create_res {
	bool has_fh;
	struct nfsclnt_fh fh;
};

struct nc_fsinfo_res {
	uint32_t rtmax, wtmax;
};

struct nc_readdir_res {
	struct nc_dirent *batch; /* NFSCLNT_DIR_BATCH entries */
	uint32_t n;
	uint8_t verf[8];
	bool eof;
};

/* ---- encoders ---- */

static void nc_put_fh(struct xdr *x, const struct nfsclnt_fh *fh)
{
	xdr_put_opaque(x, fh->data, fh->len);
}

static void nc_put_dirop(struct xdr *x, const struct nc_dirop *d)
{
	nc_put_fh(x, d->dir);
	xdr_put_opaque(x, d->name, d->len);
}

static void enc_path(struct xdr *x, const void *args)
{
	const char *path = args;

	xdr_put_opaque(x, path, (uint32_t)strlen(path));
}

static void enc_fh(struct xdr *x, const void *args)
{
	nc_put_fh(x, args);
}

static void enc_dirop(struct xdr *x, const void *args)
{
	nc_put_dirop(x, args);
}

static void enc_access(struct xdr *x, const void *args)
{
	const struct nc_access *a = args;

	nc_put_fh(x, a->fh);
	xdr_put_u32(x, a->want);
}

static void enc_read(struct xdr *x, const void *args)
{
	const struct nc_io *a = args;

	nc_put_fh(x, a->fh);
	xdr_put_u64(x, a->off);
	xdr_put_u32(x, a->count);
}

static void enc_write(struct xdr *x, const void *args)
{
	const struct nc_io *a = args;

	nc_put_fh(x, a->fh);
	xdr_put_u64(x, a->off);
	xdr_put_u32(x, a->count);
	xdr_put_u32(x, NFS3_FILE_SYNC);
	xdr_put_opaque(x, a->data, a->count);
}

/* sattr3 with the mode or the size set, or neither. */
static void nc_put_sattr(struct xdr *x, bool set_mode, uint32_t mode, bool set_size, uint64_t size)
{
	xdr_put_bool(x, set_mode);
	if (set_mode)
		xdr_put_u32(x, mode);
	xdr_put_bool(x, false); /* uid */
	xdr_put_bool(x, false); /* gid */
	xdr_put_bool(x, set_size);
	if (set_size)
		xdr_put_u64(x, size);
	xdr_put_u32(x, 0); /* atime: DONT_CHANGE */
	xdr_put_u32(x, 0); /* mtime: DONT_CHANGE */
}

static void enc_create(struct xdr *x, const void *args)
{
	const struct nc_create *a = args;

	nc_put_dirop(x, &a->where);
	xdr_put_u32(x, NFS3_UNCHECKED);
	nc_put_sattr(x, true, a->mode, false, 0);
}

static void enc_setattr(struct xdr *x, const void *args)
{
	const struct nc_setattr *a = args;

	nc_put_fh(x, a->fh);
	nc_put_sattr(x, false, 0, true, a->size);
	xdr_put_bool(x, false); /* no guard */
}

static void enc_readdirplus(struct xdr *x, const void *args)
{
	const struct nc_readdir *a = args;

	nc_put_fh(x, a->dir);
	xdr_put_u64(x, a->cookie);
	xdr_put_fixed(x, a->verf, sizeof(a->verf));
	xdr_put_u32(x, NFSCLNT_DIRCOUNT);
	xdr_put_u32(x, NFSCLNT_MAXCOUNT);
}

/* ---- decoders: anything hostile sets the cursor's error ---- */

static void nc_get_fh(struct xdr *x, struct nfsclnt_fh *fh)
{
	struct xdr_bytes b = xdr_get_opaque(x, NFSCLNT_FH_MAX);

	if (!xdr_ok(x))
		return;
	if (b.len == 0) {
		x->err = true;
		return;
	}
	fh->len = b.len;
	memcpy(fh->data, b.data, b.len);
}

static void nc_get_time(struct xdr *x, struct nfsclnt_time *t)
{
	t->sec = xdr_get_u32(x);
	t->nsec = xdr_get_u32(x);
}

static void nc_get_fattr(struct xdr *x, struct nfsclnt_attr *a)
{
	a->type = xdr_get_u32(x);
	if (a->type < NFSCLNT_REG || a->type > NFSCLNT_FIFO)
		x->err = true;
	a->mode = xdr_get_u32(x);
	a->nlink = xdr_get_u32(x);
	a->uid = xdr_get_u32(x);
	a->gid = xdr_get_u32(x);
	a->size = xdr_get_u64(x);
	a->used = xdr_get_u64(x);
	xdr_get_u64(x); /* rdev */
	a->fsid = xdr_get_u64(x);
	a->fileid = xdr_get_u64(x);
	nc_get_time(x, &a->atime);
	nc_get_time(x, &a->mtime);
	nc_get_time(x, &a->ctime);
}

/* post_op_attr into @a (NULL: read past it); whether it was there. */
static bool nc_get_post_attr(struct xdr *x, struct nfsclnt_attr *a)
{
	struct nfsclnt_attr skip;

	if (!xdr_get_bool(x))
		return false;
	nc_get_fattr(x, a ? a : &skip);
	return xdr_ok(x);
}

static void nc_skip_wcc(struct xdr *x)
{
	if (xdr_get_bool(x)) {
		xdr_get_u64(x); /* size */
		xdr_get_u64(x); /* mtime */
		xdr_get_u64(x); /* ctime */
	}
	nc_get_post_attr(x, NULL);
}

static void dec_mnt(struct xdr *x, void *res)
{
	struct nc_mnt_res *r = res;
	uint32_t n;

	nc_get_fh(x, r->fh);
	n = xdr_get_u32(x);
	if (n > NFSCLNT_FLAVORS)
		x->err = true;
	r->auth_ok = n == 0; /* no list: the server did not say */
	for (uint32_t i = 0; i < n && xdr_ok(x); i++) {
		uint32_t flavor = xdr_get_u32(x);

		if (flavor == AUTH_SYS || flavor == AUTH_NONE)
			r->auth_ok = true;
	}
}

static void dec_getattr(struct xdr *x, void *res)
{
	nc_get_fattr(x, res);
}

static void dec_lookup(struct xdr *x, void *res)
{
	struct nc_lookup_res *r = res;

	nc_get_fh(x, r->fh);
	r->has_attr = nc_get_post_attr(x, r->attr);
	nc_get_post_attr(x, NULL); /* the directory's */
}

static void dec_access(struct xdr *x, void *res)
{
	nc_get_post_attr(x, NULL);
	*(uint32_t *)res = xdr_get_u32(x);
}

static void dec_read(struct xdr *x, void *res)
{
	struct nc_read_res *r = res;
	struct xdr_bytes data;
	uint32_t count;

	nc_get_post_attr(x, NULL);
	count = xdr_get_u32(x);
	r->eof = xdr_get_bool(x);
	data = xdr_get_opaque(x, r->max);
	if (!xdr_ok(x) || count != data.len) {
		x->err = true;
		return;
	}
	memcpy(r->buf, data.data, data.len);
	r->got = data.len;
}

static void dec_write(struct xdr *x, void *res)
{
	struct nc_write_res *r = res;

	nc_skip_wcc(x);
	r->count = xdr_get_u32(x);
	r->committed = xdr_get_u32(x);
	xdr_get_fixed(x, 8); /* the write verifier: FILE_SYNC needs no COMMIT */
	if (r->count > r->max || r->committed > NFS3_FILE_SYNC)
		x->err = true;
}

static void dec_create(struct xdr *x, void *res)
{
	struct nc_create_res *r = res;

	r->has_fh = xdr_get_bool(x);
	if (r->has_fh)
		nc_get_fh(x, &r->fh);
	nc_get_post_attr(x, NULL);
	nc_skip_wcc(x);
}

static void dec_fsinfo(struct xdr *x, void *res)
{
	struct nc_fsinfo_res *r = res;

	nc_get_post_attr(x, NULL);
	r->rtmax = xdr_get_u32(x);
	xdr_get_u32(x); /* rtpref */
	xdr_get_u32(x); /* rtmult */
	r->wtmax = xdr_get_u32(x);
}

/* A name a directory may hold: 1 to NFSCLNT_NAME_MAX bytes, no NUL, no '/'. */
static bool nc_name_ok(struct xdr_bytes b)
{
	return b.len > 0 && b.len <= NFSCLNT_NAME_MAX && !memchr(b.data, '\0', b.len) &&
	       !memchr(b.data, '/', b.len);
}

static void dec_readdirplus(struct xdr *x, void *res)
{
	struct nc_readdir_res *r = res;
	const uint8_t *verf;

	nc_get_post_attr(x, NULL);
	verf = xdr_get_fixed(x, sizeof(r->verf));
	if (verf)
		memcpy(r->verf, verf, sizeof(r->verf));
	while (xdr_get_bool(x)) {
		struct nc_dirent *e = &r->batch[r->n];
		struct xdr_bytes name;

		if (r->n == NFSCLNT_DIR_BATCH) {
			x->err = true;
			return;
		}
		xdr_get_u64(x); /* fileid */
		name = xdr_get_opaque(x, NFSCLNT_NAME_MAX);
		if (!xdr_ok(x) || !nc_name_ok(name)) {
			x->err = true;
			return;
		}
		memcpy(e->name, name.data, name.len);
		e->name[name.len] = '\0';
		e->cookie = xdr_get_u64(x);
		e->has_attr = nc_get_post_attr(x, &e->attr);
		e->has_fh = xdr_get_bool(x);
		if (e->has_fh)
			nc_get_fh(x, &e->fh);
		if (!xdr_ok(x))
			return;
		r->n++;
	}
	r->eof = xdr_get_bool(x);
}

/* ---- the calls ---- */

struct nfsclnt_proc {
	uint32_t prog, vers, proc;
	/* Encode the arguments after the call header. */
	void (*encode)(struct xdr *x, const void *args);
	/* Decode the results that follow an OK status into @res. NULL: none wanted. */
	void (*decode)(struct xdr *x, void *res);
	/* The errno of a status other than OK. NULL: the results have no status (UMNT). */
	int (*status)(uint32_t stat);
};

enum nc_call {
	NC_MNT,
	NC_UMNT,
	NC_GETATTR,
	NC_SETATTR,
	NC_LOOKUP,
	NC_ACCESS,
	NC_READ,
	NC_WRITE,
	NC_CREATE,
	NC_READDIRPLUS,
	NC_FSINFO,
};

#define MNT3(p)	 MOUNT_PROGRAM, 3, MOUNTPROC_##p
#define NFS3V(p) NFS_PROGRAM, 3, NFSPROC3_##p
static const struct nfsclnt_proc nc_procs[] = {
    [NC_MNT] = {MNT3(MNT), enc_path, dec_mnt, mnt3_status_errno},
    [NC_UMNT] = {MNT3(UMNT), enc_path, NULL, NULL},
    [NC_GETATTR] = {NFS3V(GETATTR), enc_fh, dec_getattr, nfs3_status_errno},
    [NC_SETATTR] = {NFS3V(SETATTR), enc_setattr, NULL, nfs3_status_errno},
    [NC_LOOKUP] = {NFS3V(LOOKUP), enc_dirop, dec_lookup, nfs3_status_errno},
    [NC_ACCESS] = {NFS3V(ACCESS), enc_access, dec_access, nfs3_status_errno},
    [NC_READ] = {NFS3V(READ), enc_read, dec_read, nfs3_status_errno},
    [NC_WRITE] = {NFS3V(WRITE), enc_write, dec_write, nfs3_status_errno},
    [NC_CREATE] = {NFS3V(CREATE), enc_create, dec_create, nfs3_status_errno},
    [NC_READDIRPLUS] = {NFS3V(READDIRPLUS), enc_readdirplus, dec_readdirplus, nfs3_status_errno},
    [NC_FSINFO] = {NFS3V(FSINFO), enc_fh, dec_fsinfo, nfs3_status_errno},
};

static int nc_call(struct nfsclnt *c, enum nc_call which, const void *args, void *res)
{
	const struct nfsclnt_proc *p = &nc_procs[which];
	struct rpc_clnt *rc = p->prog == MOUNT_PROGRAM ? c->mnt : c->nfs;
	struct xdr *x = rpc_clnt_begin(rc, p->prog, p->vers, p->proc);
	struct xdr r;
	int err;

	p->encode(x, args);
	err = rpc_clnt_call(rc, &r);
	if (err)
		return err;
	if (p->status) {
		uint32_t stat = xdr_get_u32(&r);

		if (!xdr_ok(&r))
			return -EPROTO;
		if (stat != 0)
			return p->status(stat);
	}
	if (p->decode)
		p->decode(&r, res);
	return xdr_ok(&r) ? 0 : -EPROTO;
}

static bool nc_fh_ok(const struct nfsclnt_fh *fh)
{
	return fh->len > 0 && fh->len <= NFSCLNT_FH_MAX;
}

/* A name for a call: -EINVAL when empty, -ENAMETOOLONG when too long. */
static int nc_dirop(const struct nfsclnt_fh *dir, const char *name, struct nc_dirop *d)
{
	size_t len = strnlen(name, NFSCLNT_NAME_MAX + 1);

	if (!nc_fh_ok(dir) || len == 0)
		return -EINVAL;
	if (len > NFSCLNT_NAME_MAX)
		return -ENAMETOOLONG;
	d->dir = dir;
	d->name = name;
	d->len = (uint32_t)len;
	return 0;
}

int nfsclnt_open(const struct nfsclnt_opts *o, struct nfsclnt **out, struct nfsclnt_fh *root)
{
	struct rpc_clnt_params p = {
	    .uid = o->uid,
	    .gid = o->gid,
	    .timeout_ms = o->timeout_ms ? o->timeout_ms : NFSCLNT_TIMEOUT_MS,
	    .retries = o->retries ? o->retries : NFSCLNT_RETRIES,
	};
	uint16_t port = o->port ? o->port : NFSCLNT_PORT;
	uint16_t mport = o->mount_port ? o->mount_port : port;
	size_t plen = strnlen(o->export, NFSCLNT_PATH_MAX);
	struct nc_mnt_res mres = {.fh = root};
	struct nc_fsinfo_res fi = {0, 0};
	struct sockaddr_storage ss;
	struct nfsclnt *c;
	socklen_t len;
	int err;

	if (plen == 0 || plen == NFSCLNT_PATH_MAX || o->export[0] != '/' ||
	    rpc_addr_parse(o->host, mport, &ss, &len))
		return -EINVAL;
	c = host_map_private(sizeof(*c));
	if (!c)
		return -ENOMEM;
	memset(c, 0, sizeof(*c));
	c->memsize = sizeof(*c);
	memcpy(c->export, o->export, plen + 1);
	c->rtmax = c->wtmax = NFS3_MAXDATA;

	err = rpc_clnt_create((struct sockaddr *)&ss, len, &p, &c->mnt);
	if (err)
		goto out_free;
	err = nc_call(c, NC_MNT, c->export, &mres);
	if (!err && !mres.auth_ok)
		err = -EACCES;
	if (err)
		goto out_mnt;
	if (mport == port) {
		c->nfs = c->mnt;
	} else {
		rpc_addr_parse(o->host, port, &ss, &len);
		err = rpc_clnt_create((struct sockaddr *)&ss, len, &p, &c->nfs);
		if (err)
			goto out_umnt;
	}
	/* Without FSINFO's limits, NFS3_MAXDATA: what every server we know takes. */
	if (nc_call(c, NC_FSINFO, root, &fi) == 0) {
		if (fi.rtmax)
			c->rtmax = MIN(fi.rtmax, (uint32_t)NFS3_MAXDATA);
		if (fi.wtmax)
			c->wtmax = MIN(fi.wtmax, (uint32_t)NFS3_MAXDATA);
	}
	*out = c;
	return 0;

out_umnt:
	nc_call(c, NC_UMNT, c->export, NULL);
out_mnt:
	rpc_clnt_destroy(c->mnt);
out_free:
	host_unmap(c, c->memsize);
	return err;
}

void nfsclnt_close(struct nfsclnt *c)
{
	if (!c)
		return;
	nc_call(c, NC_UMNT, c->export, NULL);
	nfsclnt_abandon(c);
}

void nfsclnt_abandon(struct nfsclnt *c)
{
	if (!c)
		return;
	if (c->nfs != c->mnt)
		rpc_clnt_destroy(c->nfs);
	rpc_clnt_destroy(c->mnt);
	host_unmap(c, c->memsize);
}

void nfsclnt_stats(const struct nfsclnt *c, struct nfsclnt_stats *st)
{
	struct rpc_clnt_stats a, b = {0, 0, 0, 0};

	rpc_clnt_get_stats(c->mnt, &a);
	if (c->nfs != c->mnt)
		rpc_clnt_get_stats(c->nfs, &b);
	st->calls = a.calls + b.calls;
	st->retransmits = a.retransmits + b.retransmits;
	st->reconnects = a.reconnects + b.reconnects;
	st->timeouts = a.timeouts + b.timeouts;
}

int nfsclnt_getattr(struct nfsclnt *c, const struct nfsclnt_fh *fh, struct nfsclnt_attr *attr)
{
	if (!nc_fh_ok(fh))
		return -EINVAL;
	return nc_call(c, NC_GETATTR, fh, attr);
}

int nfsclnt_lookup(struct nfsclnt *c, const struct nfsclnt_fh *dir, const char *name,
		   struct nfsclnt_fh *fh, struct nfsclnt_attr *attr)
{
	struct nc_lookup_res r = {.fh = fh, .attr = attr};
	struct nc_dirop d;
	int err = nc_dirop(dir, name, &d);

	if (err)
		return err;
	err = nc_call(c, NC_LOOKUP, &d, &r);
	if (err)
		return err;
	/* The server may leave the attributes out; the caller asked for them. */
	if (attr && !r.has_attr)
		err = nfsclnt_getattr(c, fh, attr);
	return err;
}

int nfsclnt_access(struct nfsclnt *c, const struct nfsclnt_fh *fh, uint32_t want, uint32_t *granted)
{
	struct nc_access a = {fh, want};
	uint32_t got = 0;
	int err;

	if (!nc_fh_ok(fh))
		return -EINVAL;
	err = nc_call(c, NC_ACCESS, &a, &got);
	/* Bits beyond those asked for are the server's mistake: they grant nothing. */
	*granted = err ? 0 : got & want;
	return err;
}

int nfsclnt_read(struct nfsclnt *c, const struct nfsclnt_fh *fh, uint64_t off, void *buf,
		 size_t len, size_t *got, bool *eof)
{
	*got = 0;
	*eof = false;
	if (!nc_fh_ok(fh))
		return -EINVAL;
	while (*got < len) {
		uint32_t n = (uint32_t)MIN(len - *got, (size_t)c->rtmax);
		struct nc_io a = {fh, off + *got, n, NULL};
		struct nc_read_res r = {.buf = (uint8_t *)buf + *got, .max = n};
		int err = nc_call(c, NC_READ, &a, &r);

		if (err)
			return err;
		*got += r.got;
		*eof = r.eof;
		/* A short read that is not the end: the caller asks again for the rest. */
		if (r.eof || r.got < n)
			break;
	}
	return 0;
}

int nfsclnt_readdirplus(struct nfsclnt *c, const struct nfsclnt_fh *dir, uint32_t max_entries,
			nfsclnt_entry_fn fn, void *arg)
{
	size_t size = NFSCLNT_DIR_BATCH * sizeof(struct nc_dirent);
	struct nc_readdir a = {.dir = dir};
	struct nc_readdir_res r;
	uint32_t calls = 0, dots = 0;
	int err = 0;

	if (!nc_fh_ok(dir))
		return -EINVAL;
	/* A batch per listing, not per client: @fn may list another directory. */
	r.batch = host_map_private(size);
	if (!r.batch)
		return -ENOMEM;
	for (;;) {
		r.n = 0;
		r.eof = false;
		err = nc_call(c, NC_READDIRPLUS, &a, &r);
		if (err)
			break;
		/* No entry and no end: a server that would keep us asking forever. */
		if (r.n == 0 && !r.eof) {
			err = -EPROTO;
			break;
		}
		for (uint32_t i = 0; i < r.n && !err; i++) {
			const struct nc_dirent *e = &r.batch[i];

			if (!strcmp(e->name, ".") || !strcmp(e->name, "..")) {
				/* Each once per listing: more is a loop in the cookies. */
				if (++dots > 2)
					err = -EPROTO;
				continue;
			}
			if (calls == max_entries) {
				err = -EFBIG;
				break;
			}
			calls++;
			err = fn(arg, e->name, e->has_fh ? &e->fh : NULL,
				 e->has_attr ? &e->attr : NULL);
		}
		if (err || r.eof)
			break;
		a.cookie = r.batch[r.n - 1].cookie;
		memcpy(a.verf, r.verf, sizeof(a.verf));
	}
	host_unmap(r.batch, size);
	return err;
}

int nfsclnt_write(struct nfsclnt *c, const struct nfsclnt_fh *fh, uint64_t off, const void *buf,
		  size_t len)
{
	const uint8_t *p = buf;

	if (!nc_fh_ok(fh))
		return -EINVAL;
	while (len) {
		uint32_t n = (uint32_t)MIN(len, (size_t)c->wtmax);
		struct nc_io a = {fh, off, n, p};
		struct nc_write_res r = {.max = n};
		int err = nc_call(c, NC_WRITE, &a, &r);

		if (err)
			return err;
		/* Nothing taken, or taken but not stable: FILE_SYNC was asked. */
		if (r.count == 0 || r.committed != NFS3_FILE_SYNC)
			return -EIO;
		p += r.count;
		off += r.count;
		len -= r.count;
	}
	return 0;
}

int nfsclnt_create(struct nfsclnt *c, const struct nfsclnt_fh *dir, const char *name, uint32_t mode,
		   struct nfsclnt_fh *fh)
{
	struct nc_create a = {.mode = mode};
	struct nc_create_res r;
	int err = nc_dirop(dir, name, &a.where);

	if (err)
		return err;
	err = nc_call(c, NC_CREATE, &a, &r);
	if (err || !fh)
		return err;
	if (r.has_fh) {
		*fh = r.fh;
		return 0;
	}
	return nfsclnt_lookup(c, dir, name, fh, NULL);
}

int nfsclnt_truncate(struct nfsclnt *c, const struct nfsclnt_fh *fh, uint64_t size)
{
	struct nc_setattr a = {fh, size};

	if (!nc_fh_ok(fh))
		return -EINVAL;
	return nc_call(c, NC_SETATTR, &a, NULL);
}
