/*
 * Per-process hooks of files: validation of knob writes and rendering of
 * generated files. The table lives in this process's memory (the arena must
 * never hold code addresses) and chains the callers' own structures, so it
 * has no size of its own; the inode carries VFS_F_HOOKED so that every
 * process knows a hook is expected. A process that serves a hooked file
 * without having its hooks refuses writes to it rather than let an
 * unvalidated value in. The process that removes a hooked file releases its
 * hooks; another process keeps its own, which nothing matches again (inode
 * numbers are not reused), until it exits.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "uml/host.h"
#include "fs_internal.h"

/* Inode numbers count up from 1, so their remainders spread hooked files evenly. */
#define HOOK_BUCKETS 256

/* Process-local; every access happens with vfs.lock held. */
static struct vfs_hooks *hook_tab[HOOK_BUCKETS];

/* Scratch for render(); guarded by vfs.lock like the table. */
static char render_buf[64 * 1024];
/*
 * The candidate content of a validated file, built and validated here before
 * the machine is asked for anything (guarded by vfs.lock): an invalid value is
 * refused as invalid even when the machine is full, and a valid one is stored
 * over the file's own page (vfs_data_set), so the emergency brake works on a
 * full machine.
 */
static char edit_buf[VFS_HOOKED_MAX];

/* The link that holds (or would hold, at the end of its chain) the hooks of @id. */
static struct vfs_hooks **hooks_link(struct vfs_ino id)
{
	struct vfs_hooks **pp = &hook_tab[id.ino % HOOK_BUCKETS];

	while (*pp && ((*pp)->id.ino != id.ino || (*pp)->id.gen != id.gen))
		pp = &(*pp)->next;
	return pp;
}

static const struct vfs_hooks *hooks_of(const struct vfs_inode *ip)
{
	if (!(ip->flags & VFS_F_HOOKED))
		return NULL;
	return *hooks_link(inode_id(ip));
}

/* Unlink the hooks at *@pp, if any, and hand them back to their owner. */
static void hooks_release(struct vfs_hooks **pp)
{
	struct vfs_hooks *old = *pp;

	if (!old)
		return;
	*pp = old->next;
	if (old->release)
		old->release(old->arg);
}

void vfs_hooks_forget(struct vfs_inode *ip)
{
	hooks_release(hooks_link(inode_id(ip)));
}

void vfs_hooks_release_all(void)
{
	vfs_lock();
	for (unsigned i = 0; i < HOOK_BUCKETS; i++)
		while (hook_tab[i])
			hooks_release(&hook_tab[i]);
	vfs_unlock();
}

int vfs_set_hooks(struct vfs_ino f, struct vfs_hooks *h)
{
	struct vfs_hooks **pp;
	struct vfs_inode *ip;
	int err = 0;

	vfs_lock();
	ip = inode_get(f);
	if (!ip || ip->type != VFS_REG) {
		err = ip ? -EINVAL : -ESTALE;
		goto out;
	}
	pp = hooks_link(f);
	if (*pp != h) {
		/* The old hooks' place in the chain is the new ones'. */
		hooks_release(pp);
		if (h) {
			h->id = f;
			h->next = *pp;
			*pp = h;
		}
	}
	if (h) {
		ip->flags |= VFS_F_HOOKED;
		/*
		 * Its value moves to a page now, while the machine may have
		 * one, so that replacing it never needs one; on a full machine
		 * its next change takes it (or is refused with -ENOSPC).
		 */
		(void)vfs_data_hooked(ip);
	} else
		ip->flags &= ~VFS_F_HOOKED;
out:
	vfs_unlock();
	return err;
}

void vfs_hooks_refresh(struct vfs_inode *ip)
{
	const struct vfs_hooks *h = hooks_of(ip);
	size_t len;

	/* A client's truncate holds the file empty for the write that follows. */
	if (!h || !h->render || vfs_trunc_pending(ip))
		return;
	len = h->render(h->arg, render_buf, sizeof(render_buf));
	if (len > sizeof(render_buf))
		len = sizeof(render_buf);
	/* Only a change of content moves mtime, so clients' caches stay useful. */
	if (vfs_data_equal(ip, render_buf, len))
		return;
	if (vfs_data_set(ip, render_buf, len) == 0)
		inode_touch(ip, true);
}

bool vfs_trunc_pending(struct vfs_inode *ip)
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

/*
 * Refusals the vfs makes on its own go to their own hook rather than to
 * validate with a doctored value: validate answers "is this a good value",
 * which these refusals never ask, and a value it accepted (the content that
 * found no memory) would not be reported by asking it again. Files without
 * that hook keep the older contract: a read-only file's validate hears of
 * every attempt.
 */
int vfs_hooks_refuse(struct vfs_inode *ip, int err, const char *data, size_t len,
		     struct vfs_ctx *ctx, const char *fmt, ...)
{
	const struct vfs_hooks *h = hooks_of(ip);
	char why[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (ctx->why && ctx->whylen)
		snprintf(ctx->why, ctx->whylen, "%s", why);
	if (h && h->refused)
		h->refused(h->arg, data, len, err, why, ctx);
	else if (h && h->validate && (ip->flags & VFS_F_READONLY))
		h->validate(h->arg, data, len, ctx); /* its answer can't open the file */
	return err;
}

/*
 * The content of hooked @ip would become @data/@len: validate, and on success
 * store it and commit. Files without hooks just store it.
 */
static int hooks_replace(struct vfs_inode *ip, const char *data, size_t len, struct vfs_ctx *ctx)
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
	/*
	 * A knob's value lives in its page 0 whatever its length, so it adds
	 * nothing to a checkpoint and may use the image's reserve: knobs stay
	 * writable in a full image. Other content grows by what it adds.
	 */
	if (vfs_persist_on(ip)) {
		err = vfs_persist_reserve(
		    vfs_persist_write_rec(len),
		    ip->flags & VFS_F_HOOKED ? 0 : (int64_t)len - (int64_t)ip->size);
		if (err && (ip->flags & VFS_F_HOOKED))
			return vfs_hooks_refuse(ip, err, data, len, ctx,
						err == -ENOSPC ? "the state image is full"
							       : "the state image failed");
		if (err)
			return err;
	}
	/*
	 * The intent: from here until commit has returned, a holder that
	 * dies leaves the content and what commit keeps in step possibly
	 * apart; whoever takes the lock next finishes it (vfs_hooks_recover).
	 */
	if (h && h->commit)
		vfs_sb->committing = ip;
	err = vfs_data_set(ip, data, len);
	if (err) {
		vfs_sb->committing = NULL;
		if (ip->flags & VFS_F_HOOKED)
			return vfs_hooks_refuse(ip, err, data, len, ctx,
						"valid, but no memory left to store it");
		return err;
	}
	vfs_persist_setdata(ip);
	vfs_persist_rebound(ip);
	if (h && h->commit)
		h->commit(h->arg, data, len);
	vfs_sb->committing = NULL;
	return 0;
}

void vfs_hooks_recover(void)
{
	struct vfs_inode *ip = vfs_sb->committing, *hp = NULL;
	const struct vfs_hooks *h;
	struct vfs_ctx ctx = {0};
	size_t n = 0;

	/* It may have been freed since (the repair frees nameless inodes): don't touch it yet. */
	for (unsigned b = 0; b < VFS_HASH_BUCKETS && ip; b++)
		for (hp = vfs_sb->hash[b]; hp; hp = hp->hnext)
			if (hp == ip)
				goto found;
	vfs_sb->committing = NULL;
	return;
found:
	if (ip->type != VFS_REG || !(ip->flags & VFS_F_HOOKED)) {
		vfs_sb->committing = NULL; /* not a hooked file any more: nothing to finish */
		return;
	}
	h = hooks_of(ip);
	if (!h || !h->validate || !h->commit)
		return; /* for a process that has the hooks */
	/*
	 * The content is the old one or the new one, both validated once:
	 * commit whichever it is, so that what the file says is in force.
	 */
	if (vfs_data_read(ip, 0, edit_buf, sizeof(edit_buf), &n) == 0 &&
	    h->validate(h->arg, edit_buf, n, &ctx) == 0)
		h->commit(h->arg, edit_buf, n);
	vfs_sb->committing = NULL;
}

#define TOO_LONG "too long (%" PRIu64 " bytes; a validated file holds at most %d)"

int vfs_hooks_edit(struct vfs_inode *ip, uint64_t off, const void *buf, size_t count, bool truncate,
		   struct vfs_ctx *ctx)
{
	uint64_t len = vfs_trunc_pending(ip) ? 0 : ip->size, end;
	size_t n;

	/* The write that completes `echo > f` starts from empty (len 0 above). */
	if (truncate)
		end = off;
	else if (count)
		end = off + count < off ? UINT64_MAX : MAX(len, off + count);
	else
		end = len;
	/*
	 * Content no validator could accept is an invalid value like any
	 * other, not a file too big for the filesystem: -EINVAL, reported.
	 */
	if (end > VFS_HOOKED_MAX) {
		/* Settled like a refused value: the content in force is back at once. */
		ip->reg.trunc_since = 0;
		return vfs_hooks_refuse(ip, -EINVAL, count ? buf : "",
					MIN(count, (size_t)VFS_HOOKED_MAX), ctx, TOO_LONG, end,
					VFS_HOOKED_MAX);
	}
	vfs_data_read(ip, 0, edit_buf, (size_t)MIN(len, end), &n);
	memset(edit_buf + n, 0, (size_t)end - n); /* a gap, or a truncate that extends */
	if (count)
		memcpy(edit_buf + off, buf, count);
	return hooks_replace(ip, edit_buf, (size_t)end, ctx);
}

int vfs_hooks_replace_from(struct vfs_inode *ip, struct vfs_inode *src, struct vfs_ctx *ctx)
{
	size_t n;

	vfs_data_read(src, 0, edit_buf, VFS_HOOKED_MAX, &n);
	if (src->size > VFS_HOOKED_MAX) {
		ip->reg.trunc_since = 0;
		return vfs_hooks_refuse(ip, -EINVAL, edit_buf, n, ctx, TOO_LONG, src->size,
					VFS_HOOKED_MAX);
	}
	return hooks_replace(ip, edit_buf, n, ctx);
}

int vfs_replace(struct vfs_ino f, const void *data, size_t len, struct vfs_ctx *ctx)
{
	struct vfs_inode *ip;
	int err;

	vfs_lock();
	err = inode_get_reg(f, &ip);
	if (err)
		goto out;
	if ((ip->flags & VFS_F_HOOKED) && len > VFS_HOOKED_MAX) {
		err = vfs_hooks_refuse(ip, -EINVAL, data, VFS_HOOKED_MAX, ctx, TOO_LONG,
				       (uint64_t)len, VFS_HOOKED_MAX);
		goto out;
	}
	err = hooks_replace(ip, data, len, ctx);
out:
	vfs_unlock();
	return err;
}
