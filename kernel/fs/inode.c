/*
 * Inodes: creation, lookup by (ino, gen), attributes and permissions. Inode
 * numbers come from a counter that never goes back, so a number is never
 * reused within a machine; the generation tells a built file (stable across
 * boots) from one a client created in this boot.
 */
#include <errno.h>
#include <string.h>

#include "uml/host.h"
#include "uml/machine.h"
#include "fs_internal.h"

struct vfs_sb *vfs_sb;

void vfs_lock(void)
{
	/* A dead holder may have left one update half done; the fs keeps going. */
	(void)kmutex_lock(&vfs_sb->lock);
}

void vfs_unlock(void)
{
	kmutex_unlock(&vfs_sb->lock);
}

struct vfs_time vfs_now(void)
{
	struct vfs_time t;

	host_wall(&t.sec, &t.nsec);
	return t;
}

int vfs_init(void)
{
	struct vfs_cred root = {0};
	struct vfs_sb *sb;
	int err;

	sb = kzalloc(sizeof(*sb));
	if (!sb)
		return -ENOMEM;
	err = kmutex_init(&sb->lock);
	if (err)
		goto out_free;
	sb->inode_cache = kmem_cache_create("vfs_inode", sizeof(struct vfs_inode), 8);
	if (!sb->inode_cache) {
		err = -ENOMEM;
		goto out_free;
	}
	sb->next_ino = 1;
	memcpy(&sb->client_gen, machine->boot_verf, sizeof(sb->client_gen));
	if (sb->client_gen <= VFS_GEN_BUILT)
		sb->client_gen += 2;
	sb->max_inodes = machine->mm.npages * 4;
	vfs_sb = sb;
	sb->root = inode_new(VFS_DIR, 0755, &root, VFS_GEN_BUILT);
	if (!sb->root) {
		err = -ENOMEM;
		goto out_free;
	}
	sb->root->dir.parent = sb->root;
	machine->vfs = sb;
	return 0;
out_free:
	vfs_sb = NULL;
	kfree(sb);
	return err;
}

void vfs_use(void)
{
	vfs_sb = machine->vfs;
}

struct vfs_ino vfs_root(void)
{
	return inode_id(vfs_sb->root);
}

struct vfs_inode *inode_get(struct vfs_ino id)
{
	struct vfs_inode *ip = vfs_sb->hash[id.ino % VFS_HASH_BUCKETS];

	while (ip && ip->ino != id.ino)
		ip = ip->hnext;
	return ip && ip->gen == id.gen ? ip : NULL;
}

int inode_get_reg(struct vfs_ino id, struct vfs_inode **out)
{
	struct vfs_inode *ip = inode_get(id);

	if (!ip)
		return -ESTALE;
	if (ip->type != VFS_REG)
		return ip->type == VFS_DIR ? -EISDIR : -EINVAL;
	*out = ip;
	return 0;
}

int inode_get_dir(struct vfs_ino id, struct vfs_inode **out)
{
	struct vfs_inode *ip = inode_get(id);

	if (!ip)
		return -ESTALE;
	if (ip->type != VFS_DIR)
		return -ENOTDIR;
	*out = ip;
	return 0;
}

struct vfs_inode *inode_new(enum vfs_type type, uint32_t mode, const struct vfs_cred *cred,
			    uint32_t gen)
{
	struct vfs_sb *sb = vfs_sb;
	struct vfs_inode *ip;
	unsigned b;

	if (sb->ninodes >= sb->max_inodes)
		return NULL;
	ip = kmem_cache_zalloc(sb->inode_cache);
	if (!ip)
		return NULL;
	ip->ino = sb->next_ino++;
	ip->gen = gen;
	ip->type = type;
	ip->mode = mode & 07777;
	ip->uid = cred->uid;
	ip->gid = cred->gid;
	ip->nlink = type == VFS_DIR ? 2 : 1;
	ip->atime = ip->mtime = ip->ctime = vfs_now();
	ip->change = 1;
	if (type == VFS_DIR)
		ip->dir.next_cookie = 3; /* 1 and 2 are "." and ".." */
	b = ip->ino % VFS_HASH_BUCKETS;
	ip->hnext = sb->hash[b];
	sb->hash[b] = ip;
	sb->ninodes++;
	return ip;
}

static void inode_free(struct vfs_inode *ip)
{
	struct vfs_inode **pp = &vfs_sb->hash[ip->ino % VFS_HASH_BUCKETS];

	while (*pp != ip)
		pp = &(*pp)->hnext;
	*pp = ip->hnext;
	if (ip->type == VFS_REG)
		data_free(ip);
	else if (ip->type == VFS_LNK)
		kfree(ip->lnk.target);
	vfs_sb->ninodes--;
	kmem_cache_free(vfs_sb->inode_cache, ip);
}

void inode_put_link(struct vfs_inode *ip)
{
	if (ip->type == VFS_DIR)
		ip->nlink = 0;
	else
		ip->nlink--;
	if (ip->nlink == 0)
		inode_free(ip);
	else
		inode_touch(ip, false);
}

void inode_set_attrs(struct vfs_inode *ip, const struct vfs_sattr *s)
{
	if (s->mask & VFS_SET_MODE)
		ip->mode = s->mode & 07777;
	if (s->mask & VFS_SET_UID)
		ip->uid = s->uid;
	if (s->mask & VFS_SET_GID)
		ip->gid = s->gid;
	if (s->mask & VFS_SET_ATIME)
		ip->atime = s->atime;
	else if (s->mask & VFS_SET_ATIME_NOW)
		ip->atime = vfs_now();
	if (s->mask & VFS_SET_MTIME)
		ip->mtime = s->mtime;
	else if (s->mask & VFS_SET_MTIME_NOW)
		ip->mtime = vfs_now();
}

void inode_touch(struct vfs_inode *ip, bool data)
{
	ip->ctime = vfs_now();
	if (data)
		ip->mtime = ip->ctime;
	ip->change++;
}

void inode_attr(struct vfs_inode *ip, struct vfs_attr *a)
{
	a->type = ip->type;
	a->mode = ip->mode;
	a->nlink = ip->nlink;
	a->uid = ip->uid;
	a->gid = ip->gid;
	a->fileid = ip->ino;
	a->change = ip->change;
	a->atime = ip->atime;
	a->mtime = ip->mtime;
	a->ctime = ip->ctime;
	switch (ip->type) {
	case VFS_REG:
		a->size = ip->reg.trunc_since ? 0 : ip->size;
		a->used = (uint64_t)ip->reg.nalloc * PAGE_SIZE;
		break;
	case VFS_DIR:
		a->size = PAGE_SIZE;
		a->used = PAGE_SIZE;
		break;
	case VFS_LNK:
		a->size = ip->lnk.len;
		a->used = ip->lnk.len;
		break;
	}
}

static bool cred_in_group(const struct vfs_cred *cred, uint32_t gid)
{
	if (cred->gid == gid)
		return true;
	for (uint32_t i = 0; i < cred->ngroups && i < VFS_NGROUPS; i++)
		if (cred->groups[i] == gid)
			return true;
	return false;
}

/* @rwx: 4 read, 2 write, 1 execute/search. uid 0 passes all but execute of
 * a file nobody may execute, as on Linux. */
bool inode_may(const struct vfs_inode *ip, const struct vfs_cred *cred, uint32_t rwx)
{
	uint32_t bits;

	if (cred->uid == 0)
		return !(rwx & 1) || ip->type == VFS_DIR || (ip->mode & 0111);
	if (cred->uid == ip->uid)
		bits = (ip->mode >> 6) & 7;
	else if (cred_in_group(cred, ip->gid))
		bits = (ip->mode >> 3) & 7;
	else
		bits = ip->mode & 7;
	return (bits & rwx) == rwx;
}

int vfs_getattr(struct vfs_ino f, struct vfs_attr *a)
{
	struct vfs_inode *ip;
	int err = 0;

	vfs_lock();
	ip = inode_get(f);
	if (!ip) {
		err = -ESTALE;
		goto out;
	}
	hooks_refresh(ip);
	trunc_pending(ip);
	inode_attr(ip, a);
out:
	vfs_unlock();
	return err;
}

int vfs_access(struct vfs_ino f, const struct vfs_cred *cred, uint32_t want, uint32_t *granted)
{
	struct vfs_inode *ip;
	uint32_t g = 0;
	bool ro;

	vfs_lock();
	ip = inode_get(f);
	if (!ip) {
		vfs_unlock();
		return -ESTALE;
	}
	ro = ip->flags & VFS_F_READONLY;
	if (inode_may(ip, cred, 4))
		g |= VFS_ACCESS_READ;
	if (ip->type == VFS_DIR) {
		if (inode_may(ip, cred, 1))
			g |= VFS_ACCESS_LOOKUP;
		if (inode_may(ip, cred, 3) && !(ip->flags & VFS_F_NOCREATE))
			g |= VFS_ACCESS_MODIFY | VFS_ACCESS_EXTEND;
		if (inode_may(ip, cred, 3))
			g |= VFS_ACCESS_DELETE;
	} else {
		if (inode_may(ip, cred, 2) && !ro)
			g |= VFS_ACCESS_MODIFY | VFS_ACCESS_EXTEND;
		if (inode_may(ip, cred, 1))
			g |= VFS_ACCESS_EXECUTE;
	}
	vfs_unlock();
	*granted = g & want;
	return 0;
}

int vfs_setattr(struct vfs_ino f, const struct vfs_sattr *s, struct vfs_ctx *ctx,
		struct vfs_attr *out)
{
	const struct vfs_cred *cred = &ctx->cred;
	struct vfs_inode *ip;
	bool owner;
	int err = 0;

	vfs_lock();
	ip = inode_get(f);
	if (!ip) {
		err = -ESTALE;
		goto out;
	}
	owner = cred->uid == 0 || cred->uid == ip->uid;
	if ((s->mask & (VFS_SET_MODE | VFS_SET_UID | VFS_SET_GID)) && !owner) {
		err = -EPERM;
		goto out;
	}
	if ((s->mask & VFS_SET_UID) && s->uid != ip->uid && cred->uid != 0) {
		err = -EPERM;
		goto out;
	}
	if ((s->mask & (VFS_SET_ATIME | VFS_SET_MTIME)) && !owner) {
		err = -EPERM;
		goto out;
	}
	if ((s->mask & (VFS_SET_ATIME_NOW | VFS_SET_MTIME_NOW)) && !owner &&
	    !inode_may(ip, cred, 2)) {
		err = -EACCES;
		goto out;
	}
	if (s->mask & VFS_SET_SIZE) {
		if (ip->type == VFS_DIR) {
			err = -EISDIR;
			goto out;
		}
		if (ip->type != VFS_REG) {
			err = -EINVAL;
			goto out;
		}
		if (ip->flags & VFS_F_READONLY) {
			err = hooks_refuse_readonly(ip, "", 0, ctx);
			goto out;
		}
		if (!inode_may(ip, cred, 2)) {
			err = -EACCES;
			goto out;
		}
		if (s->size > VFS_FILE_MAX) {
			err = -EFBIG;
			goto out;
		}
		if ((ip->flags & VFS_F_HOOKED) && s->size == 0) {
			/* Half of `echo > f`: the write that follows decides. */
			ip->reg.trunc_since = host_mono_ns();
		} else if (ip->flags & VFS_F_HOOKED) {
			err = hooks_edit(ip, s->size, NULL, 0, true, ctx);
		} else {
			err = data_truncate(ip, s->size);
		}
		if (err)
			goto out;
		inode_touch(ip, true);
	}
	inode_set_attrs(ip, s);
	if (s->mask & ~VFS_SET_SIZE)
		inode_touch(ip, false);
	if (out)
		inode_attr(ip, out);
out:
	vfs_unlock();
	return err;
}

int vfs_statfs(struct vfs_statfs *st)
{
	struct mm_stats ms;

	mm_stats(&ms);
	vfs_lock();
	st->tbytes = ms.total_pages * PAGE_SIZE;
	st->fbytes = st->abytes = ms.free_pages * PAGE_SIZE;
	st->tfiles = vfs_sb->max_inodes;
	st->ffiles = st->afiles = vfs_sb->max_inodes - vfs_sb->ninodes;
	vfs_unlock();
	return 0;
}

int vfs_set_flags(struct vfs_ino f, uint32_t flags)
{
	struct vfs_inode *ip;

	vfs_lock();
	ip = inode_get(f);
	if (ip)
		ip->flags = (ip->flags & VFS_F_HOOKED) | (flags & ~VFS_F_HOOKED);
	vfs_unlock();
	return ip ? 0 : -ESTALE;
}
