/*
 * Per-process hooks of files: validation of knob writes and rendering of
 * generated files. The table lives in this process's memory (the arena must
 * never hold code addresses); the inode carries VFS_F_HOOKED so that every
 * process knows a hook is expected. A process that serves a hooked file
 * without having its hooks refuses writes to it rather than let an
 * unvalidated value in.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "uml/host.h"
#include "fs_internal.h"

#define HOOKS_MAX 128

/* Process-local; every access happens with vfs.lock held. */
static struct hook_slot {
	struct vfs_ino id;
	struct vfs_hooks h;
} hook_tab[HOOKS_MAX];
static unsigned hook_n;

/* Scratch for render(); guarded by vfs.lock like the table. */
static char render_buf[64 * 1024];

const struct vfs_hooks *hooks_of(const struct vfs_inode *ip)
{
	if (!(ip->flags & VFS_F_HOOKED))
		return NULL;
	for (unsigned i = 0; i < hook_n; i++)
		if (hook_tab[i].id.ino == ip->ino && hook_tab[i].id.gen == ip->gen)
			return &hook_tab[i].h;
	return NULL;
}

int vfs_set_hooks(struct vfs_ino f, const struct vfs_hooks *h)
{
	struct vfs_inode *ip;
	unsigned i;
	int err = 0;

	vfs_lock();
	ip = inode_get(f);
	if (!ip || ip->type != VFS_REG) {
		err = ip ? -EINVAL : -ESTALE;
		goto out;
	}
	for (i = 0; i < hook_n; i++)
		if (hook_tab[i].id.ino == f.ino && hook_tab[i].id.gen == f.gen)
			break;
	if (!h) {
		if (i < hook_n)
			hook_tab[i] = hook_tab[--hook_n];
		ip->flags &= ~VFS_F_HOOKED;
		goto out;
	}
	if (i == hook_n) {
		if (hook_n == HOOKS_MAX) {
			err = -ENOSPC;
			goto out;
		}
		hook_n++;
	}
	hook_tab[i].id = f;
	hook_tab[i].h = *h;
	ip->flags |= VFS_F_HOOKED;
out:
	vfs_unlock();
	return err;
}

void hooks_refresh(struct vfs_inode *ip)
{
	const struct vfs_hooks *h = hooks_of(ip);
	size_t len, cur;
	char *old;

	if (!h || !h->render)
		return;
	len = h->render(h->arg, render_buf, sizeof(render_buf));
	if (len > sizeof(render_buf))
		len = sizeof(render_buf);
	/* Only a change of content moves mtime, so clients' caches stay useful. */
	if (len == ip->size && data_dup(ip, &old, &cur) == 0) {
		bool same = memcmp(old, render_buf, len) == 0;

		kfree(old);
		if (same)
			return;
	}
	if (data_set(ip, render_buf, len) == 0)
		inode_touch(ip, true);
}

bool trunc_pending(struct vfs_inode *ip)
{
	if (ip->type != VFS_REG || !ip->reg.trunc_since)
		return false;
	if (host_mono_ns() - ip->reg.trunc_since > VFS_TRUNC_PENDING_NS) {
		ip->reg.trunc_since = 0;
		inode_touch(ip, false);
		return false;
	}
	return true;
}

int hooks_edit(struct vfs_inode *ip, uint64_t off, const void *buf, size_t count, bool truncate,
	       struct vfs_ctx *ctx)
{
	char *data;
	size_t len;
	int err;

	if (off + count > VFS_HOOKED_MAX || off + count < off)
		return -EFBIG;
	err = data_dup(ip, &data, &len);
	if (err)
		return err;
	if (trunc_pending(ip))
		len = 0; /* the write that completes `echo > f` starts from empty */
	if (off > len)
		memset(data + len, 0, off - len);
	if (count)
		memcpy(data + off, buf, count);
	err = hooks_replace(ip, data, truncate ? off : MAX(len, off + count), ctx);
	kfree(data);
	return err;
}

int hooks_refuse_readonly(struct vfs_inode *ip, const char *data, size_t len,
			  struct vfs_ctx *ctx)
{
	const struct vfs_hooks *h = hooks_of(ip);

	/* Its validator hears of the attempt (to report it); its answer can't open the file. */
	if (h && h->validate)
		h->validate(h->arg, data, len, ctx);
	return -EACCES;
}

int hooks_replace(struct vfs_inode *ip, const char *data, size_t len, struct vfs_ctx *ctx)
{
	const struct vfs_hooks *h = hooks_of(ip);
	int err;

	if (ip->flags & VFS_F_HOOKED) {
		if (!h || !h->validate) {
			if (ctx->why && ctx->whylen)
				snprintf(ctx->why, ctx->whylen, "no validator in this process");
			return -EACCES;
		}
		/* Whatever happens, a pending truncate is settled by this change. */
		ip->reg.trunc_since = 0;
		err = h->validate(h->arg, data, len, ctx);
		if (err)
			return err < 0 ? err : -EINVAL;
	}
	err = data_set(ip, data, len);
	if (err)
		return err;
	if (h && h->commit)
		h->commit(h->arg, data, len);
	return 0;
}
