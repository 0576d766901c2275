/*
 * Names: directories as lists of entries in creation order, each with a
 * cookie that only grows, so a readdir resumed after an entry that has since
 * been removed still finds its place. Lookup walks the list; directories here
 * hold tens of entries (see the note on issue "kernel/fs" before growing them).
 */
#include <errno.h>
#include <string.h>

#include "fs_internal.h"

static bool name_ok(const char *name, size_t len)
{
	if (len == 0 || len > VFS_NAME_MAX)
		return false;
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return false;
	return !memchr(name, '/', len) && !memchr(name, '\0', len);
}

static int name_check(const char *name, size_t len)
{
	if (len > VFS_NAME_MAX)
		return -ENAMETOOLONG;
	return name_ok(name, len) ? 0 : -EINVAL;
}

static struct vfs_dirent *dir_find(struct vfs_inode *dp, const char *name, size_t len)
{
	for (struct vfs_dirent *de = dp->dir.first; de; de = de->next)
		if (de->len == len && memcmp(de->name, name, len) == 0)
			return de;
	return NULL;
}

/* @scratch: a client makes the entry, so it is charged to the scratch cap. */
static int dir_add(struct vfs_inode *dp, const char *name, size_t len, struct vfs_inode *ip,
		   bool scratch)
{
	struct vfs_dirent *de = kmalloc(sizeof(*de) + len + 1);

	if (!de)
		return -ENOSPC;
	if (scratch && vfs_scratch_charge(ksize(de))) {
		kfree(de);
		return -ENOSPC;
	}
	de->scratch = scratch;
	memcpy(de->name, name, len);
	de->name[len] = '\0';
	de->len = (uint16_t)len;
	de->inode = ip;
	de->dir = dp;
	de->alias_next = ip->aliases;
	ip->aliases = de;
	de->cookie = dp->dir.next_cookie++;
	de->next = NULL;
	de->prev = dp->dir.last;
	if (dp->dir.last)
		dp->dir.last->next = de;
	else
		dp->dir.first = de;
	dp->dir.last = de;
	dp->dir.nentries++;
	if (ip->type == VFS_DIR) {
		dp->nlink++;
		ip->dir.parent = dp;
	}
	inode_touch(dp, true);
	vfs_persist_rebound(ip);
	return 0;
}

static void alias_del(struct vfs_dirent *de)
{
	struct vfs_dirent **pp = &de->inode->aliases;

	while (*pp != de)
		pp = &(*pp)->alias_next;
	*pp = de->alias_next;
}

/* Unlink @de from @dp; the inode's link count is the caller's. */
static void dir_del(struct vfs_inode *dp, struct vfs_dirent *de)
{
	alias_del(de);
	if (de->prev)
		de->prev->next = de->next;
	else
		dp->dir.first = de->next;
	if (de->next)
		de->next->prev = de->prev;
	else
		dp->dir.last = de->prev;
	dp->dir.nentries--;
	if (de->inode->type == VFS_DIR)
		dp->nlink--;
	inode_touch(dp, true);
	if (de->scratch)
		vfs_scratch_uncharge(ksize(de));
	kfree(de);
}

/* Resolve @dir for a change of its entries by @cred. */
static int dir_for_change(struct vfs_ino dir, const struct vfs_cred *cred, bool create,
			  struct vfs_inode **out)
{
	struct vfs_inode *dp;
	int err = inode_get_dir(dir, &dp);

	if (err)
		return err;
	if (create && (dp->flags & VFS_F_NOCREATE))
		return -EACCES;
	if (!inode_may(dp, cred, 3))
		return -EACCES;
	*out = dp;
	return 0;
}

int vfs_lookup(struct vfs_ino dir, const char *name, size_t len, struct vfs_ino *out)
{
	struct vfs_inode *dp;
	struct vfs_dirent *de;
	int err = 0;

	vfs_lock();
	err = inode_get_dir(dir, &dp);
	if (err)
		goto out;
	if (len == 1 && name[0] == '.') {
		*out = inode_id(dp);
	} else if (len == 2 && name[0] == '.' && name[1] == '.') {
		*out = inode_id(dp->dir.parent);
	} else if (len > VFS_NAME_MAX) {
		err = -ENAMETOOLONG;
	} else if ((de = dir_find(dp, name, len))) {
		*out = inode_id(de->inode);
	} else {
		err = -ENOENT;
	}
out:
	vfs_unlock();
	return err;
}

int vfs_readlink(struct vfs_ino f, char *buf, size_t size, size_t *len)
{
	struct vfs_inode *ip;
	int err = 0;

	vfs_lock();
	ip = inode_get(f);
	if (!ip)
		err = -ESTALE;
	else if (ip->type != VFS_LNK)
		err = -EINVAL;
	else if (ip->lnk.len > size)
		err = -ENAMETOOLONG;
	else {
		memcpy(buf, ip->lnk.target, ip->lnk.len);
		*len = ip->lnk.len;
	}
	vfs_unlock();
	return err;
}

/*
 * Make a new inode named @name in @dp (lock held, name checked). An inode
 * made in a directory of the state image is in it too; its creation is
 * logged here, a symlink's once its target is set (vfs_symlink).
 */
static int make_node(struct vfs_inode *dp, const char *name, size_t len, enum vfs_type type,
		     const struct vfs_sattr *s, const struct vfs_cred *cred, uint32_t gen,
		     struct vfs_inode **out)
{
	uint32_t mode = type == VFS_DIR ? 0755 : type == VFS_LNK ? 0777 : 0644;
	size_t rec = 160 + len + (type == VFS_LNK ? VFS_PATH_MAX : 0);
	struct vfs_inode *ip;
	int err;

	if (vfs_persist_on(dp)) {
		err = vfs_persist_reserve(rec, (int64_t)rec);
		if (err)
			return err;
	}
	ip = inode_new_ino(type, mode, cred, gen,
			   gen == VFS_GEN_BUILT ? inode_built_ino(dp, name, len) : 0);
	if (!ip)
		return -ENOSPC;
	if (dp->flags & VFS_F_PERSIST)
		ip->flags |= VFS_F_PERSIST;
	/* A symlink's attributes are its target's business: 0777, as on Linux. */
	if (s && type != VFS_LNK)
		inode_set_attrs(ip, s);
	err = dir_add(dp, name, len, ip, ip->gen != VFS_GEN_BUILT);
	if (err) {
		if (type == VFS_DIR)
			ip->nlink = 1;
		inode_put_link(ip);
		return err;
	}
	if (type != VFS_LNK)
		vfs_persist_created(dp, name, len, ip);
	*out = ip;
	return 0;
}

int vfs_create(struct vfs_ino dir, const char *name, size_t len, const struct vfs_sattr *s,
	       bool excl, const uint8_t verf[8], struct vfs_ctx *ctx, struct vfs_ino *out)
{
	struct vfs_inode *dp, *ip;
	struct vfs_dirent *de;
	int err;

	vfs_lock();
	err = name_check(name, len);
	if (err)
		goto out;
	err = inode_get_dir(dir, &dp);
	if (err)
		goto out;
	de = dir_find(dp, name, len);
	if (de) {
		ip = de->inode;
		if (verf && ip->type == VFS_REG && ip->reg.has_verf &&
		    memcmp(ip->reg.verf, verf, 8) == 0) {
			*out = inode_id(ip); /* a retried exclusive create */
			goto out;
		}
		if (excl) {
			err = -EEXIST;
			goto out;
		}
		if (ip->type != VFS_REG) {
			err = ip->type == VFS_DIR ? -EISDIR : -EEXIST;
			goto out;
		}
		*out = inode_id(ip);
		vfs_unlock();
		/* An unchecked create of an existing file is an open(O_TRUNC) at most. */
		if (s && (s->mask & VFS_SET_SIZE))
			return vfs_setattr(
			    *out, &(struct vfs_sattr){.mask = VFS_SET_SIZE, .size = s->size}, ctx,
			    NULL);
		return 0;
	}
	err = dir_for_change(dir, &ctx->cred, true, &dp);
	if (err)
		goto out;
	err = make_node(dp, name, len, VFS_REG, s, &ctx->cred, vfs_sb->client_gen, &ip);
	if (err)
		goto out;
	if (verf) {
		memcpy(ip->reg.verf, verf, 8);
		ip->reg.has_verf = true;
	}
	*out = inode_id(ip);
out:
	vfs_unlock();
	return err;
}

static int make_simple(struct vfs_ino dir, const char *name, size_t len, enum vfs_type type,
		       const struct vfs_sattr *s, struct vfs_ctx *ctx, struct vfs_inode **ipp)
{
	struct vfs_inode *dp;
	int err;

	err = name_check(name, len);
	if (err)
		return err;
	err = dir_for_change(dir, &ctx->cred, true, &dp);
	if (err)
		return err;
	if (dir_find(dp, name, len))
		return -EEXIST;
	return make_node(dp, name, len, type, s, &ctx->cred, vfs_sb->client_gen, ipp);
}

int vfs_mkdir(struct vfs_ino dir, const char *name, size_t len, const struct vfs_sattr *s,
	      struct vfs_ctx *ctx, struct vfs_ino *out)
{
	struct vfs_inode *ip;
	int err;

	vfs_lock();
	err = make_simple(dir, name, len, VFS_DIR, s, ctx, &ip);
	if (!err)
		*out = inode_id(ip);
	vfs_unlock();
	return err;
}

int vfs_symlink(struct vfs_ino dir, const char *name, size_t len, const char *target, size_t tlen,
		const struct vfs_sattr *s, struct vfs_ctx *ctx, struct vfs_ino *out)
{
	struct vfs_inode *ip;
	char *t;
	int err;

	if (tlen == 0 || tlen > VFS_PATH_MAX)
		return tlen ? -ENAMETOOLONG : -EINVAL;
	/* A path can't hold a NUL: READLINK would hand clients a cut or forged target. */
	if (memchr(target, '\0', tlen))
		return -EINVAL;
	t = kstrndup(target, tlen);
	if (!t)
		return -ENOSPC;
	vfs_lock();
	err = vfs_scratch_charge(ksize(t));
	if (err)
		goto out;
	err = make_simple(dir, name, len, VFS_LNK, s, ctx, &ip);
	if (err) {
		vfs_scratch_uncharge(ksize(t));
		goto out;
	}
	ip->lnk.target = t;
	ip->lnk.len = (uint32_t)tlen;
	vfs_persist_created(ip->aliases->dir, name, len, ip);
	*out = inode_id(ip);
	t = NULL;
out:
	vfs_unlock();
	kfree(t);
	return err;
}

int vfs_link(struct vfs_ino f, struct vfs_ino dir, const char *name, size_t len,
	     struct vfs_ctx *ctx)
{
	struct vfs_inode *dp, *ip;
	int err;

	vfs_lock();
	err = name_check(name, len);
	if (err)
		goto out;
	ip = inode_get(f);
	if (!ip) {
		err = -ESTALE;
		goto out;
	}
	if (ip->type == VFS_DIR) {
		err = -EISDIR;
		goto out;
	}
	if (ip->flags & VFS_F_PINNED) {
		err = -EPERM;
		goto out;
	}
	err = dir_for_change(dir, &ctx->cred, true, &dp);
	if (err)
		goto out;
	if (dir_find(dp, name, len)) {
		err = -EEXIST;
		goto out;
	}
	if (!vfs_persist_same(dp, ip)) {
		err = -EXDEV; /* the state image and memory are two filesystems */
		goto out;
	}
	if (vfs_persist_on(dp)) {
		err = vfs_persist_reserve(96 + len, (int64_t)(96 + len));
		if (err)
			goto out;
	}
	err = dir_add(dp, name, len, ip, true);
	if (!err) {
		ip->nlink++;
		inode_touch(ip, false);
		vfs_persist_link(ip, dp, name, len);
	}
out:
	vfs_unlock();
	return err;
}

static int unlink_common(struct vfs_ino dir, const char *name, size_t len, struct vfs_ctx *ctx,
			 bool want_dir)
{
	struct vfs_inode *dp, *ip;
	struct vfs_dirent *de;
	bool last;
	int err;

	vfs_lock();
	if ((len == 1 && name[0] == '.') || (len == 2 && !memcmp(name, "..", 2))) {
		err = want_dir ? -EINVAL : -EISDIR;
		goto out;
	}
	err = name_check(name, len);
	if (err)
		goto out;
	err = dir_for_change(dir, &ctx->cred, false, &dp);
	if (err)
		goto out;
	de = dir_find(dp, name, len);
	if (!de) {
		err = -ENOENT;
		goto out;
	}
	ip = de->inode;
	if (ip->flags & VFS_F_PINNED) {
		err = -EPERM;
		goto out;
	}
	if (want_dir && ip->type != VFS_DIR) {
		err = -ENOTDIR;
		goto out;
	}
	if (!want_dir && ip->type == VFS_DIR) {
		err = -EISDIR;
		goto out;
	}
	if (want_dir && ip->dir.nentries) {
		err = -ENOTEMPTY;
		goto out;
	}
	if (vfs_persist_on(dp)) {
		err = vfs_persist_reserve(64 + len, -1);
		if (err)
			goto out;
	}
	vfs_persist_remove(dp, name, len, want_dir);
	last = ip->type == VFS_DIR || ip->nlink == 1;
	dir_del(dp, de);
	inode_put_link(ip);
	if (!last)
		vfs_persist_rebound(ip);
out:
	vfs_unlock();
	return err;
}

int vfs_remove(struct vfs_ino dir, const char *name, size_t len, struct vfs_ctx *ctx)
{
	return unlink_common(dir, name, len, ctx, false);
}

int vfs_rmdir(struct vfs_ino dir, const char *name, size_t len, struct vfs_ctx *ctx)
{
	return unlink_common(dir, name, len, ctx, true);
}

static bool is_ancestor(const struct vfs_inode *a, const struct vfs_inode *d)
{
	for (;;) {
		if (d == a)
			return true;
		if (d == vfs_sb->root)
			return false;
		d = d->dir.parent;
	}
}

int vfs_within(struct vfs_ino root, struct vfs_ino f)
{
	struct vfs_inode *rp, *ip;
	int err = -ESTALE;

	vfs_lock();
	rp = inode_get(root);
	ip = inode_get(f);
	if (!rp || !ip || rp->type != VFS_DIR)
		goto out;
	if (rp == vfs_sb->root || ip == rp) {
		err = 0;
	} else if (ip->type == VFS_DIR) {
		err = is_ancestor(rp, ip) ? 0 : -ESTALE;
	} else {
		/* A file is inside when one of its names is: hard links may span trees. */
		for (struct vfs_dirent *de = ip->aliases; de && err; de = de->alias_next)
			if (is_ancestor(rp, de->dir))
				err = 0;
	}
out:
	vfs_unlock();
	return err;
}

/* Rename onto a validated file: its content becomes the source's. */
static int rename_into_hooked(struct vfs_inode *fdp, struct vfs_dirent *fde, struct vfs_inode *tip,
			      struct vfs_ctx *ctx)
{
	struct vfs_inode *sip = fde->inode;
	int err;

	if (sip->type != VFS_REG)
		return -EINVAL;
	err = vfs_hooks_replace_from(tip, sip, ctx);
	if (err)
		return err;
	inode_touch(tip, true);
	vfs_persist_remove(fdp, fde->name, fde->len, false);
	dir_del(fdp, fde);
	inode_put_link(sip);
	return 0;
}

int vfs_rename(struct vfs_ino fdir, const char *fname, size_t flen, struct vfs_ino tdir,
	       const char *tname, size_t tlen, struct vfs_ctx *ctx)
{
	struct vfs_inode *fdp, *tdp, *ip, *tip;
	struct vfs_dirent *fde, *tde;
	int err;

	vfs_lock();
	err = name_check(fname, flen);
	if (!err)
		err = name_check(tname, tlen);
	if (err)
		goto out;
	err = dir_for_change(fdir, &ctx->cred, false, &fdp);
	if (!err)
		err = dir_for_change(tdir, &ctx->cred, false, &tdp);
	if (err)
		goto out;
	fde = dir_find(fdp, fname, flen);
	if (!fde) {
		err = -ENOENT;
		goto out;
	}
	ip = fde->inode;
	tde = dir_find(tdp, tname, tlen);
	tip = tde ? tde->inode : NULL;
	if (tip == ip)
		goto out; /* same file: nothing to do, as rename(2) */
	if (ip->flags & VFS_F_PINNED) {
		err = -EPERM;
		goto out;
	}
	if (tip && (tip->flags & VFS_F_HOOKED)) {
		err = rename_into_hooked(fdp, fde, tip, ctx);
		goto out;
	}
	if (tip && (tip->flags & VFS_F_PINNED)) {
		err = -EPERM;
		goto out;
	}
	if (!tip && (tdp->flags & VFS_F_NOCREATE)) {
		err = -EACCES;
		goto out;
	}
	if (ip->type == VFS_DIR && is_ancestor(ip, tdp)) {
		err = -EINVAL;
		goto out;
	}
	if (!vfs_persist_same(tdp, ip)) {
		err = -EXDEV; /* the state image and memory are two filesystems */
		goto out;
	}
	if (vfs_persist_on(fdp)) {
		err = vfs_persist_reserve(96 + flen + tlen, (int64_t)tlen - (int64_t)flen);
		if (err)
			goto out;
	}
	if (tip) {
		if (ip->type == VFS_DIR && tip->type != VFS_DIR) {
			err = -ENOTDIR;
			goto out;
		}
		if (ip->type != VFS_DIR && tip->type == VFS_DIR) {
			err = -EISDIR;
			goto out;
		}
		if (tip->type == VFS_DIR && tip->dir.nentries) {
			err = -ENOTEMPTY;
			goto out;
		}
		/* Point the existing entry at the source: the target name never vanishes. */
		if (tip->type == VFS_DIR)
			tdp->nlink--;
		alias_del(tde);
		tde->inode = ip;
		tde->alias_next = ip->aliases;
		ip->aliases = tde;
		if (ip->type == VFS_DIR) {
			tdp->nlink++;
			ip->dir.parent = tdp;
		}
		inode_touch(tdp, true);
		vfs_persist_rename(fdp, fname, flen, tdp, tname, tlen);
		dir_del(fdp, fde);
		if (tip->type != VFS_DIR && tip->nlink > 1) {
			inode_put_link(tip);
			vfs_persist_rebound(tip);
		} else {
			inode_put_link(tip);
		}
	} else {
		err = dir_add(tdp, tname, tlen, ip, true);
		if (err)
			goto out;
		vfs_persist_rename(fdp, fname, flen, tdp, tname, tlen);
		dir_del(fdp, fde);
	}
	inode_touch(ip, false);
	vfs_persist_rebound(ip);
out:
	vfs_unlock();
	return err;
}

int vfs_readdir(struct vfs_ino dir, uint64_t cookie, uint64_t *verf, vfs_filldir_t fn, void *arg)
{
	struct vfs_inode *dp;
	struct vfs_dirent *de;
	int err = 0;

	vfs_lock();
	err = inode_get_dir(dir, &dp);
	if (err)
		goto out;
	/* Cookies never become invalid, so the verifier is constant per directory. */
	*verf = (dp->ino << 32) ^ dp->gen;
	if (cookie == 0 && fn(arg, ".", 1, inode_id(dp), 1))
		goto out;
	if (cookie <= 1 && fn(arg, "..", 2, inode_id(dp->dir.parent), 2))
		goto out;
	for (de = dp->dir.first; de; de = de->next) {
		if (de->cookie <= cookie)
			continue;
		if (fn(arg, de->name, de->len, inode_id(de->inode), de->cookie))
			break;
	}
	dp->atime = vfs_now();
out:
	vfs_unlock();
	return err;
}

/* ---- the application's side: building the tree ---- */

static const struct vfs_cred vfs_root_cred;

/* Walk @path from the root; with @mode != 0 create missing directories. */
static int walk_locked(const char *path, uint32_t mode, struct vfs_inode **out)
{
	struct vfs_inode *ip = vfs_sb->root;
	const char *p = path;

	if (*p != '/')
		return -EINVAL;
	while (*p) {
		const char *end;
		struct vfs_dirent *de;
		size_t len;
		int err;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		end = strchrnul(p, '/');
		len = (size_t)(end - p);
		if (ip->type != VFS_DIR)
			return -ENOTDIR;
		de = dir_find(ip, p, len);
		if (de) {
			ip = de->inode;
		} else if (mode) {
			err = name_check(p, len);
			if (err)
				return err;
			err = make_node(ip, p, len, VFS_DIR,
					&(struct vfs_sattr){.mask = VFS_SET_MODE, .mode = mode},
					&vfs_root_cred, VFS_GEN_BUILT, &ip);
			if (err)
				return err;
		} else {
			return -ENOENT;
		}
		p = end;
	}
	*out = ip;
	return 0;
}

int vfs_walk(const char *path, struct vfs_ino *out)
{
	struct vfs_inode *ip;
	int err;

	vfs_lock();
	err = walk_locked(path, 0, &ip);
	if (!err)
		*out = inode_id(ip);
	vfs_unlock();
	return err;
}

int vfs_mkpath(const char *path, uint32_t mode, struct vfs_ino *out)
{
	struct vfs_inode *ip;
	int err;

	vfs_lock();
	err = walk_locked(path, mode ? mode : 0755, &ip);
	if (!err && ip->type != VFS_DIR)
		err = -ENOTDIR;
	if (!err && out)
		*out = inode_id(ip);
	vfs_unlock();
	return err;
}

int vfs_put(const char *path, uint32_t mode, const void *data, size_t len, struct vfs_ino *out)
{
	const char *slash = strrchr(path, '/');
	struct vfs_inode *dp, *ip;
	struct vfs_dirent *de;
	char dir[VFS_PATH_MAX];
	size_t dlen, nlen;
	int err;

	if (!slash || (size_t)(slash - path) >= sizeof(dir))
		return -EINVAL;
	dlen = (size_t)(slash - path);
	memcpy(dir, path, dlen);
	dir[dlen] = '\0';
	nlen = strlen(slash + 1);
	vfs_lock();
	err = walk_locked(dlen ? dir : "/", 0755, &dp);
	if (err)
		goto out;
	if (dp->type != VFS_DIR) {
		err = -ENOTDIR;
		goto out;
	}
	err = name_check(slash + 1, nlen);
	if (err)
		goto out;
	de = dir_find(dp, slash + 1, nlen);
	if (vfs_persist_on(dp)) {
		err = vfs_persist_reserve(vfs_persist_write_rec(len) + 160 + nlen,
					  vfs_persist_data_grow(len) + 160 + nlen);
		if (err)
			goto out;
	}
	if (de) {
		ip = de->inode;
		if (ip->type != VFS_REG) {
			err = -EEXIST;
			goto out;
		}
	} else {
		err = make_node(dp, slash + 1, nlen, VFS_REG,
				&(struct vfs_sattr){.mask = VFS_SET_MODE, .mode = mode},
				&vfs_root_cred, VFS_GEN_BUILT, &ip);
		if (err)
			goto out;
	}
	err = vfs_data_set(ip, data, len);
	if (!err) {
		inode_touch(ip, true);
		vfs_persist_setdata(ip);
		vfs_persist_rebound(ip);
	}
	if (!err && out)
		*out = inode_id(ip);
out:
	vfs_unlock();
	return err;
}
