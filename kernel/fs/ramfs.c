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

/* Memory of a client's file counts against the scratch cap; the application's doesn't. */
static int data_charge(struct vfs_inode *ip, uint64_t bytes)
{
	return ip->flags & VFS_F_SCRATCH ? vfs_scratch_charge(bytes) : 0;
}

static void data_uncharge(struct vfs_inode *ip, uint64_t bytes)
{
	if (ip->flags & VFS_F_SCRATCH)
		vfs_scratch_uncharge(bytes);
}

static int pages_reserve(struct vfs_inode *ip, uint32_t npages)
{
	uint32_t n = ip->reg.npv ? ip->reg.npv : 8;
	char **pv;

	if (npages <= ip->reg.npv)
		return 0;
	while (n < npages)
		n *= 2;
	if (data_charge(ip, (uint64_t)(n - ip->reg.npv) * sizeof(*pv)))
		return -ENOSPC;
	pv = kzalloc(n * sizeof(*pv));
	if (!pv) {
		data_uncharge(ip, (uint64_t)(n - ip->reg.npv) * sizeof(*pv));
		return -ENOSPC;
	}
	if (ip->reg.pages)
		memcpy(pv, ip->reg.pages, ip->reg.npv * sizeof(*pv));
	kfree(ip->reg.pages);
	ip->reg.pages = pv;
	ip->reg.npv = n;
	return 0;
}

/* A zeroed page for slot @pi, charged; -ENOSPC past the cap or the machine. */
static int page_add(struct vfs_inode *ip, uint32_t pi)
{
	char *pg;

	if (data_charge(ip, PAGE_SIZE))
		return -ENOSPC;
	pg = page_alloc(0);
	if (!pg) {
		data_uncharge(ip, PAGE_SIZE);
		return -ENOSPC;
	}
	memset(pg, 0, PAGE_SIZE);
	ip->reg.pages[pi] = pg;
	ip->reg.nalloc++;
	return 0;
}

static void page_drop(struct vfs_inode *ip, uint32_t pi)
{
	page_free(ip->reg.pages[pi], 0);
	ip->reg.pages[pi] = NULL;
	ip->reg.nalloc--;
	data_uncharge(ip, PAGE_SIZE);
}

int vfs_data_read(struct vfs_inode *ip, uint64_t off, void *buf, size_t count, size_t *n)
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

static bool all_zero(const char *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

bool vfs_data_equal(struct vfs_inode *ip, const void *buf, size_t len)
{
	const char *src = buf;

	if (len != ip->size)
		return false;
	for (size_t done = 0; done < len; done += PAGE_SIZE) {
		uint32_t pi = (uint32_t)(done >> PAGE_SHIFT);
		size_t chunk = MIN(len - done, PAGE_SIZE);
		const char *pg = pi < ip->reg.npv ? ip->reg.pages[pi] : NULL;

		if (pg ? memcmp(pg, src + done, chunk) != 0 : !all_zero(src + done, chunk))
			return false;
	}
	return true;
}

int vfs_data_write(struct vfs_inode *ip, uint64_t off, const void *buf, size_t count)
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
		if (!ip->reg.pages[pi] && page_add(ip, pi))
			goto out_unwind;
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
		if ((uint64_t)pi << PAGE_SHIFT >= ip->size && ip->reg.pages[pi])
			page_drop(ip, pi);
	}
	return -ENOSPC;
}

/* Cut the file to @size, keeping at least @min_pages of its pages allocated. */
static void data_cut(struct vfs_inode *ip, uint64_t size, uint32_t min_pages)
{
	uint32_t keep = (uint32_t)MAX((size + PAGE_SIZE - 1) >> PAGE_SHIFT, (uint64_t)min_pages);
	uint32_t last = (uint32_t)(size >> PAGE_SHIFT);

	for (uint32_t pi = keep; pi < ip->reg.npv; pi++) {
		if (ip->reg.pages[pi])
			page_drop(ip, pi);
	}
	/* Zero what lies past @size in a page kept, so a later extension reads zeros. */
	if (size < ip->size && last < keep && last < ip->reg.npv && ip->reg.pages[last]) {
		size_t po = size & (PAGE_SIZE - 1);

		memset(ip->reg.pages[last] + po, 0, PAGE_SIZE - po);
	}
	ip->size = size;
}

int vfs_data_truncate(struct vfs_inode *ip, uint64_t size)
{
	if (size > VFS_FILE_MAX)
		return -EFBIG;
	data_cut(ip, size, 0);
	return 0;
}

int vfs_data_set(struct vfs_inode *ip, const void *buf, size_t len)
{
	/* Write first, so running out of pages leaves the old content. */
	int err = vfs_data_write(ip, 0, buf, len);

	if (err)
		return err;
	/* A validated file's next value must not need an allocation: keep its page. */
	data_cut(ip, len, ip->flags & VFS_F_HOOKED ? 1 : 0);
	return 0;
}

uint64_t vfs_data_held(const struct vfs_inode *ip)
{
	return (uint64_t)ip->reg.nalloc * PAGE_SIZE;
}

bool vfs_data_next(struct vfs_inode *ip, uint64_t off, uint64_t *start, uint64_t *end)
{
	uint64_t pi = off >> PAGE_SHIFT, last = (ip->size + PAGE_SIZE - 1) >> PAGE_SHIFT;

	while (pi < last && pi < ip->reg.npv && !ip->reg.pages[pi])
		pi++;
	if (pi >= last || pi >= ip->reg.npv)
		return false;
	*start = MAX(off, pi << PAGE_SHIFT);
	while (pi < last && pi < ip->reg.npv && ip->reg.pages[pi])
		pi++;
	*end = MIN(pi << PAGE_SHIFT, ip->size);
	return *start < *end;
}

void vfs_data_free(struct vfs_inode *ip)
{
	data_cut(ip, 0, 0);
	kfree(ip->reg.pages);
	data_uncharge(ip, (uint64_t)ip->reg.npv * sizeof(*ip->reg.pages));
	ip->reg.pages = NULL;
	ip->reg.npv = 0;
}

int vfs_read(struct vfs_ino f, uint64_t off, void *buf, size_t count, size_t *n, bool *eof)
{
	struct vfs_inode *ip;
	int err;

	vfs_lock();
	err = inode_get_reg(f, &ip);
	if (err)
		goto out;
	vfs_hooks_refresh(ip);
	if (vfs_trunc_pending(ip)) {
		*n = 0;
		*eof = true;
		goto out;
	}
	vfs_data_read(ip, off, buf, count, n);
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
		err = vfs_hooks_refuse(ip, -EACCES, buf, MIN(count, (size_t)VFS_HOOKED_MAX), ctx,
				       "read-only");
		goto out;
	}
	if (!inode_may(ip, &ctx->cred, 2)) {
		err = -EACCES;
		goto out;
	}
	if (ip->flags & VFS_F_HOOKED) {
		err = vfs_hooks_edit(ip, off, buf, count, false, ctx);
	} else {
		if (vfs_persist_on(ip))
			err = vfs_persist_reserve(vfs_persist_write_rec(count),
						  vfs_persist_data_grow(count));
		if (!err)
			err = vfs_data_write(ip, off, buf, count);
		if (!err) {
			vfs_persist_write(ip, off, buf, count);
			vfs_persist_rebound(ip);
		}
	}
	if (!err)
		inode_touch(ip, true);
out:
	vfs_unlock();
	return err;
}
