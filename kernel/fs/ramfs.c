/*
 * File data in machine pages. A regular file holds an array of page
 * pointers; a missing page is a hole that reads as zeros. A write allocates
 * every page it needs before touching any, so it either happens whole or
 * fails with -ENOSPC and changes nothing.
 */
#include <errno.h>
#include <string.h>

#include "fs_internal.h"

#define VFS_MAX_PAGES (VFS_FILE_MAX / PAGE_SIZE)

static int pages_reserve(struct vfs_inode *ip, uint32_t npages)
{
	uint32_t n = ip->reg.npv ? ip->reg.npv : 8;
	char **pv;

	if (npages <= ip->reg.npv)
		return 0;
	while (n < npages)
		n *= 2;
	pv = kzalloc(n * sizeof(*pv));
	if (!pv)
		return -ENOSPC;
	if (ip->reg.pages)
		memcpy(pv, ip->reg.pages, ip->reg.npv * sizeof(*pv));
	kfree(ip->reg.pages);
	ip->reg.pages = pv;
	ip->reg.npv = n;
	return 0;
}

int data_read(struct vfs_inode *ip, uint64_t off, void *buf, size_t count, size_t *n)
{
	char *dst = buf;
	size_t done = 0;

	if (off >= ip->size) {
		*n = 0;
		return 0;
	}
	count = (size_t)MIN((uint64_t)count, ip->size - off);
	while (done < count) {
		uint64_t pos = off + done;
		uint32_t pi = (uint32_t)(pos >> PAGE_SHIFT);
		size_t po = pos & (PAGE_SIZE - 1);
		size_t chunk = MIN(count - done, PAGE_SIZE - po);
		char *pg = pi < ip->reg.npv ? ip->reg.pages[pi] : NULL;

		if (pg)
			memcpy(dst + done, pg + po, chunk);
		else
			memset(dst + done, 0, chunk);
		done += chunk;
	}
	*n = done;
	return 0;
}

int data_write(struct vfs_inode *ip, uint64_t off, const void *buf, size_t count)
{
	uint32_t first, last, pi;
	const char *src = buf;
	size_t done = 0;
	int err;

	if (!count)
		return 0;
	if (off + count > VFS_FILE_MAX || off + count < off)
		return -EFBIG;
	first = (uint32_t)(off >> PAGE_SHIFT);
	last = (uint32_t)((off + count - 1) >> PAGE_SHIFT);
	err = pages_reserve(ip, last + 1);
	if (err)
		return err;
	for (pi = first; pi <= last; pi++) {
		if (ip->reg.pages[pi])
			continue;
		ip->reg.pages[pi] = page_alloc(0);
		if (!ip->reg.pages[pi])
			goto out_unwind;
		memset(ip->reg.pages[pi], 0, PAGE_SIZE);
		ip->reg.nalloc++;
	}
	while (done < count) {
		uint64_t pos = off + done;
		size_t po = pos & (PAGE_SIZE - 1);
		size_t chunk = MIN(count - done, PAGE_SIZE - po);

		memcpy(ip->reg.pages[pos >> PAGE_SHIFT] + po, src + done, chunk);
		done += chunk;
	}
	if (off + count > ip->size)
		ip->size = off + count;
	return 0;

out_unwind:
	/* Give back the pages this write added, beyond the end of the file. */
	while (pi-- > first) {
		if ((uint64_t)pi << PAGE_SHIFT >= ip->size && ip->reg.pages[pi]) {
			page_free(ip->reg.pages[pi], 0);
			ip->reg.pages[pi] = NULL;
			ip->reg.nalloc--;
		}
	}
	return -ENOSPC;
}

int data_truncate(struct vfs_inode *ip, uint64_t size)
{
	uint32_t keep = (uint32_t)((size + PAGE_SIZE - 1) >> PAGE_SHIFT);

	if (size > VFS_FILE_MAX)
		return -EFBIG;
	for (uint32_t pi = keep; pi < ip->reg.npv; pi++) {
		if (ip->reg.pages[pi]) {
			page_free(ip->reg.pages[pi], 0);
			ip->reg.pages[pi] = NULL;
			ip->reg.nalloc--;
		}
	}
	/* Zero the tail of the last page so a later extension reads zeros. */
	if (size < ip->size && (size & (PAGE_SIZE - 1)) && keep - 1 < ip->reg.npv &&
	    ip->reg.pages[keep - 1]) {
		size_t po = size & (PAGE_SIZE - 1);

		memset(ip->reg.pages[keep - 1] + po, 0, PAGE_SIZE - po);
	}
	ip->size = size;
	return 0;
}

int data_set(struct vfs_inode *ip, const void *buf, size_t len)
{
	/* Write first, so running out of pages leaves the old content. */
	int err = data_write(ip, 0, buf, len);

	return err ? err : data_truncate(ip, len);
}

void data_free(struct vfs_inode *ip)
{
	data_truncate(ip, 0);
	kfree(ip->reg.pages);
	ip->reg.pages = NULL;
	ip->reg.npv = 0;
}

int data_dup(struct vfs_inode *ip, char **out, size_t *len)
{
	size_t n;
	char *buf;

	if (ip->size > VFS_HOOKED_MAX)
		return -EFBIG;
	/* Room for the largest hooked content, so callers can extend in place. */
	buf = kmalloc(VFS_HOOKED_MAX + 1);
	if (!buf)
		return -ENOSPC;
	data_read(ip, 0, buf, (size_t)ip->size, &n);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

int vfs_read(struct vfs_ino f, uint64_t off, void *buf, size_t count, size_t *n, bool *eof)
{
	struct vfs_inode *ip;
	int err;

	vfs_lock();
	err = inode_get_reg(f, &ip);
	if (err)
		goto out;
	hooks_refresh(ip);
	if (trunc_pending(ip)) {
		*n = 0;
		*eof = true;
		goto out;
	}
	data_read(ip, off, buf, count, n);
	*eof = off + *n >= ip->size;
	ip->atime = vfs_now();
out:
	vfs_unlock();
	return err;
}

int vfs_write(struct vfs_ino f, uint64_t off, const void *buf, size_t count, struct vfs_ctx *ctx)
{
	struct vfs_inode *ip;
	int err;

	vfs_lock();
	err = inode_get_reg(f, &ip);
	if (err)
		goto out;
	if (ip->flags & VFS_F_READONLY) {
		err = hooks_refuse_readonly(ip, buf, count, ctx);
		goto out;
	}
	if (!inode_may(ip, &ctx->cred, 2)) {
		err = -EACCES;
		goto out;
	}
	if (ip->flags & VFS_F_HOOKED)
		err = hooks_edit(ip, off, buf, count, false, ctx);
	else
		err = data_write(ip, off, buf, count);
	if (!err)
		inode_touch(ip, true);
out:
	vfs_unlock();
	return err;
}
