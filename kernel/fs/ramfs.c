/*
 * File data in machine pages, indexed by a radix tree as Linux's page cache
 * is: nodes of 64 slots, as many levels as the last page needs, so a file may
 * be as large as the machine's memory and sparse anywhere below VFS_FILE_MAX.
 * A missing page or node is a hole that reads as zeros. Pages past the size
 * are never held, and the bytes past the size in the last page are zeros, so
 * extending a file shows zeros without writing any.
 *
 * A file whose data lies in its first SMALL_MAX bytes keeps it in one kmalloc
 * object instead (reg.small, never with a tree), so that the many small files
 * of a configuration tree don't take a page each. Hooked files always use a
 * page (vfs_data_set).
 *
 * A write allocates every page and node it needs before touching any data,
 * so it either happens whole or fails with -ENOSPC and changes nothing. Every
 * change to the tree is a single store of a slot or of reg.tree, made after
 * what it links is ready and before what it unlinks is freed, so a holder
 * that dies half way leaves a tree that reads right; what it leaves off is
 * the counts, which the check recounts (vfs_data_count).
 */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "fs_internal.h"

#define NODE_MASK  (VFS_NODE_SLOTS - 1)
#define NODE_BYTES sizeof(struct vfs_node)
/*
 * kmalloc's largest class: above it an object takes a whole page anyway.
 * Below it the power-of-two classes hold less than twice what a file needs,
 * as pages do for a file past SMALL_MAX written from start to end.
 */
#define SMALL_MAX ((size_t)1 << MM_KMALLOC_MAX_SHIFT)
/* The height lives in the low bits of reg.tree: nodes are aligned to 64, pages to 4096. */
#define TREE_HMASK ((uintptr_t)VFS_NODE_SLOTS - 1)

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

static void *tree_top(const struct vfs_inode *ip)
{
	return (void *)(ip->reg.tree & ~TREE_HMASK);
}

static unsigned tree_height(const struct vfs_inode *ip)
{
	return (unsigned)(ip->reg.tree & TREE_HMASK);
}

static void tree_set(struct vfs_inode *ip, void *top, unsigned height)
{
	assert(((uintptr_t)top & TREE_HMASK) == 0 && height <= TREE_HMASK);
	ip->reg.tree = (uintptr_t)top | height;
}

/* Page indices a tree of height @h covers: 64^h (height 0: the top is page 0 itself). */
static uint64_t tree_span(unsigned h)
{
	return h * VFS_NODE_SHIFT >= 64 ? UINT64_MAX : 1ull << (h * VFS_NODE_SHIFT);
}

/* The slot of node @n, at level @l, on the way to page @idx. */
static void **node_slot(struct vfs_node *n, unsigned l, uint64_t idx)
{
	return &n->slot[(idx >> ((l - 1) * VFS_NODE_SHIFT)) & NODE_MASK];
}

/* Page @idx of the file, or NULL in a hole. */
static char *page_lookup(const struct vfs_inode *ip, uint64_t idx)
{
	unsigned h = tree_height(ip);
	void *p = tree_top(ip);

	if (idx >= tree_span(h))
		return NULL;
	for (; h > 0 && p; h--)
		p = *node_slot(p, h, idx);
	return p;
}

static void page_put(struct vfs_inode *ip, char *pg)
{
	page_free(pg, 0);
	ip->reg.npages--;
	data_uncharge(ip, PAGE_SIZE);
}

static void node_put(struct vfs_inode *ip, struct vfs_node *n)
{
	kmem_cache_free(vfs_sb->node_cache, n);
	ip->reg.nnodes--;
	data_uncharge(ip, NODE_BYTES);
}

static bool node_empty_from(const struct vfs_node *n, unsigned from)
{
	for (unsigned s = from; s < VFS_NODE_SLOTS; s++)
		if (n->slot[s])
			return false;
	return true;
}

/* Drop top nodes that hold nothing past their slot 0: the tree is as low as its last page. */
static void tree_shrink(struct vfs_inode *ip)
{
	for (unsigned h; (h = tree_height(ip)) > 0;) {
		struct vfs_node *n = tree_top(ip);

		if (n && !node_empty_from(n, 1))
			return;
		tree_set(ip, n ? n->slot[0] : NULL, n && n->slot[0] ? h - 1 : 0);
		if (n)
			node_put(ip, n);
	}
}

/* Raise the tree until it covers page @last; each new top holds the old tree in slot 0. */
static int tree_grow(struct vfs_inode *ip, uint64_t last)
{
	unsigned h = tree_height(ip);

	while (last >= tree_span(h)) {
		struct vfs_node *n;

		if (!tree_top(ip)) {
			/* Nothing to hold down: the top is made when a page needs it. */
			while (last >= tree_span(h))
				h++;
			tree_set(ip, NULL, h);
			break;
		}
		if (data_charge(ip, NODE_BYTES))
			return -ENOSPC;
		n = kmem_cache_zalloc(vfs_sb->node_cache);
		if (!n) {
			data_uncharge(ip, NODE_BYTES);
			return -ENOSPC;
		}
		n->slot[0] = tree_top(ip);
		ip->reg.nnodes++;
		tree_set(ip, n, ++h);
	}
	return 0;
}

/*
 * What a write needs before it touches data: the pages and nodes missing
 * under its range, counted, then allocated onto the file's spare lists and
 * only then linked in.
 */
struct tree_pool {
	uint64_t pages, nodes; /* counted missing; charged and spare once pool_fill succeeds */
	/*
	 * 1 + the index of the last node counted missing at each level
	 * (0: none): pages are counted in increasing order, so a node shared
	 * by several is counted once.
	 */
	uint64_t seen[TREE_HMASK + 1];
};

/* Count what linking page @idx would take. Pages must come in increasing order. */
static void pool_count(const struct vfs_inode *ip, uint64_t idx, struct tree_pool *tp)
{
	void *p = tree_top(ip);

	for (unsigned l = tree_height(ip); l > 0; l--) {
		uint64_t at = (idx >> (l * VFS_NODE_SHIFT)) + 1;

		if (p) {
			p = *node_slot(p, l, idx);
			continue;
		}
		/* The node at level l holding @idx is missing, and all below it. */
		if (tp->seen[l] != at) {
			tp->seen[l] = at;
			tp->nodes++;
		}
	}
	if (!p)
		tp->pages++;
}

/* Free the spare lists, and uncharge what @tp counted (all of it spare), if given. */
static void spare_free(struct vfs_inode *ip, const struct tree_pool *tp)
{
	while (ip->reg.spare_pages) {
		void *pg = ip->reg.spare_pages;

		ip->reg.spare_pages = *(void **)pg;
		page_free(pg, 0);
	}
	while (ip->reg.spare_nodes) {
		struct vfs_node *n = ip->reg.spare_nodes;

		ip->reg.spare_nodes = n->slot[0];
		kmem_cache_free(vfs_sb->node_cache, n);
	}
	if (tp)
		data_uncharge(ip, tp->pages * PAGE_SIZE + tp->nodes * NODE_BYTES);
}

/* Charge and allocate what was counted: 0, or -ENOSPC with nothing held. */
static int pool_fill(struct vfs_inode *ip, struct tree_pool *tp)
{
	uint64_t pages = 0, nodes = 0;

	if (tp->pages > UINT64_MAX / 2 / PAGE_SIZE ||
	    data_charge(ip, tp->pages * PAGE_SIZE + tp->nodes * NODE_BYTES))
		return -ENOSPC;
	assert(!ip->reg.spare_pages && !ip->reg.spare_nodes);
	for (; pages < tp->pages; pages++) {
		void *pg = page_alloc(0);

		if (!pg)
			goto out_free;
		*(void **)pg = ip->reg.spare_pages;
		ip->reg.spare_pages = pg;
	}
	for (; nodes < tp->nodes; nodes++) {
		struct vfs_node *n = kmem_cache_zalloc(vfs_sb->node_cache);

		if (!n)
			goto out_free;
		n->slot[0] = ip->reg.spare_nodes;
		ip->reg.spare_nodes = n;
	}
	return 0;

out_free:
	spare_free(ip, tp);
	return -ENOSPC;
}

/* A page from @tp holding @fill's PAGE_SIZE bytes, or zeros. */
static void *pool_page(struct vfs_inode *ip, struct tree_pool *tp, const void *fill)
{
	void *pg = ip->reg.spare_pages;

	assert(pg && tp->pages);
	ip->reg.spare_pages = *(void **)pg;
	tp->pages--;
	if (fill)
		memcpy(pg, fill, PAGE_SIZE);
	else
		memset(pg, 0, PAGE_SIZE);
	ip->reg.npages++;
	return pg;
}

static struct vfs_node *pool_node(struct vfs_inode *ip, struct tree_pool *tp)
{
	struct vfs_node *n = ip->reg.spare_nodes;

	assert(n && tp->nodes);
	ip->reg.spare_nodes = n->slot[0];
	tp->nodes--;
	n->slot[0] = NULL;
	ip->reg.nnodes++;
	return n;
}

/*
 * Page @idx, linked in from @tp (and the nodes on its way) if the tree lacks
 * it. A page linked in holds @fill's PAGE_SIZE bytes (when not NULL: then
 * *@filled says so) or zeros; either way it is ready before it is linked.
 */
static char *tree_link(struct vfs_inode *ip, uint64_t idx, struct tree_pool *tp, const void *fill,
		       bool *filled)
{
	unsigned h = tree_height(ip);
	void **slot;
	void *p;

	*filled = false;
	if (!tree_top(ip)) {
		*filled = !h && fill;
		tree_set(ip, h ? (void *)pool_node(ip, tp) : pool_page(ip, tp, fill), h);
	}
	p = tree_top(ip);
	for (; h > 0; h--) {
		slot = node_slot(p, h, idx);
		if (!*slot) {
			*filled = h == 1 && fill;
			*slot = h > 1 ? (void *)pool_node(ip, tp) : pool_page(ip, tp, fill);
		}
		p = *slot;
	}
	return p;
}

/*
 * Get what pages @first..@last lack into @tp, all or nothing: 0 or -ENOSPC
 * (then the tree is as it was). tree_link takes them from there.
 */
static int tree_prepare(struct vfs_inode *ip, uint64_t first, uint64_t last, struct tree_pool *tp)
{
	int err;

	memset(tp, 0, sizeof(*tp));
	err = tree_grow(ip, last);
	if (err)
		goto out_shrink;
	/* Page 0 too, for a small file's data, which moves there (small_to_tree). */
	if (ip->reg.small && first > 0)
		pool_count(ip, 0, tp);
	for (uint64_t idx = first; idx <= last; idx++)
		pool_count(ip, idx, tp);
	err = pool_fill(ip, tp);
	if (err)
		goto out_shrink;
	return 0;

out_shrink:
	tree_shrink(ip);
	return err;
}

static size_t small_cap(const struct vfs_inode *ip)
{
	return ip->reg.small ? ksize(ip->reg.small) : 0;
}

static void small_free(struct vfs_inode *ip)
{
	char *small = ip->reg.small;

	if (!small)
		return;
	ip->reg.small = NULL;
	data_uncharge(ip, ksize(small));
	kfree(small);
}

/* Move a small file's data to page 0, from @tp (tree_prepare counted it). */
static void small_to_tree(struct vfs_inode *ip, struct tree_pool *tp)
{
	bool filled;
	char *pg;

	if (!ip->reg.small)
		return;
	/* Unseen until small goes: reads look there first. */
	pg = tree_link(ip, 0, tp, NULL, &filled);
	memcpy(pg, ip->reg.small, small_cap(ip));
	small_free(ip);
}

/*
 * A write that ends within SMALL_MAX to a file without a tree: into the small
 * buffer, moved first to a larger one if it must grow. 0 or -ENOSPC.
 */
static int small_write(struct vfs_inode *ip, uint64_t off, const void *buf, size_t count)
{
	size_t end = (size_t)off + count, cap = small_cap(ip);

	if (end > cap) {
		char *grown = kmalloc(end), *old = ip->reg.small;
		size_t gcap = grown ? ksize(grown) : 0;

		if (!grown)
			return -ENOSPC;
		if (data_charge(ip, gcap)) {
			kfree(grown);
			return -ENOSPC;
		}
		/* Past the size the old buffer holds zeros, as the new one must. */
		memset(grown + cap, 0, gcap - cap);
		if (cap)
			memcpy(grown, old, cap);
		ip->reg.small = grown;
		if (old) {
			data_uncharge(ip, cap);
			kfree(old);
		}
	}
	memcpy(ip->reg.small + off, buf, count);
	if (end > ip->size)
		ip->size = end;
	return 0;
}

/* A file that fits SMALL_MAX again gives its page back for a small buffer, if one is free. */
static void tree_to_small(struct vfs_inode *ip)
{
	char *pg = tree_top(ip), *small;

	if ((ip->flags & VFS_F_HOOKED) || !pg || tree_height(ip) || !ip->size ||
	    ip->size > SMALL_MAX)
		return;
	small = kmalloc(ip->size);
	if (!small)
		return;
	if (data_charge(ip, ksize(small))) {
		kfree(small);
		return;
	}
	/* The page holds zeros past the size: so does the buffer. */
	memcpy(small, pg, ksize(small));
	ip->reg.small = small;
	tree_set(ip, NULL, 0);
	page_put(ip, pg);
}

/*
 * Free the pages at index @keep and past under node @n (level @l, first
 * index @base) and the nodes that leaves empty, each unlinked before it is
 * freed. Returns whether @n holds nothing any more.
 */
static bool node_trim(struct vfs_inode *ip, struct vfs_node *n, unsigned l, uint64_t base,
		      uint64_t keep)
{
	uint64_t step = tree_span(l - 1);
	bool empty = true;

	for (unsigned s = 0; s < VFS_NODE_SLOTS; s++) {
		uint64_t lo = base + s * step;
		void *c = n->slot[s];

		if (!c)
			continue;
		if (lo + step <= keep) {
			empty = false;
		} else if (l == 1) {
			n->slot[s] = NULL;
			page_put(ip, c);
		} else if (node_trim(ip, c, l - 1, lo, keep)) {
			n->slot[s] = NULL;
			node_put(ip, c);
		} else {
			empty = false;
		}
	}
	return empty;
}

/* Free every page at index @keep and past, and the nodes left empty. */
static void tree_trim(struct vfs_inode *ip, uint64_t keep)
{
	unsigned h = tree_height(ip);
	void *top = tree_top(ip);

	if (!top || keep >= tree_span(h))
		return;
	if (h == 0) {
		tree_set(ip, NULL, 0);
		page_put(ip, top);
	} else if (node_trim(ip, top, h, 0, keep)) {
		tree_set(ip, NULL, 0);
		node_put(ip, top);
	}
	tree_shrink(ip);
}

/*
 * The stored bytes at @pos, or NULL in a hole; *@len is how many bytes from
 * @pos on are stored, or not, alike.
 */
static const char *data_at(const struct vfs_inode *ip, uint64_t pos, size_t *len)
{
	size_t po = pos & (PAGE_SIZE - 1), cap = small_cap(ip);
	const char *pg;

	if (ip->reg.small) {
		*len = pos < cap ? cap - (size_t)pos : SIZE_MAX;
		return pos < cap ? ip->reg.small + pos : NULL;
	}
	pg = page_lookup(ip, pos >> PAGE_SHIFT);

	*len = PAGE_SIZE - po;
	return pg ? pg + po : NULL;
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
		size_t chunk;
		const char *src = data_at(ip, off + done, &chunk);

		chunk = MIN(count - done, chunk);
		if (src)
			memcpy(dst + done, src, chunk);
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
	size_t done = 0;

	if (len != ip->size)
		return false;
	while (done < len) {
		size_t chunk;
		const char *have = data_at(ip, done, &chunk);

		chunk = MIN(len - done, chunk);
		if (have ? memcmp(have, src + done, chunk) != 0 : !all_zero(src + done, chunk))
			return false;
		done += chunk;
	}
	return true;
}

int vfs_data_write(struct vfs_inode *ip, uint64_t off, const void *buf, size_t count)
{
	const char *src = buf;
	struct tree_pool tp;
	size_t done = 0;
	uint64_t end;
	int err;

	if (!count)
		return 0;
	if (count > VFS_FILE_MAX || off > VFS_FILE_MAX - count)
		return -EFBIG;
	end = off + count;
	if (!tree_top(ip) && end <= SMALL_MAX && !(ip->flags & VFS_F_HOOKED))
		return small_write(ip, off, buf, count);
	err = tree_prepare(ip, off >> PAGE_SHIFT, (end - 1) >> PAGE_SHIFT, &tp);
	if (err)
		return err;
	/* Nothing can fail from here on. */
	small_to_tree(ip, &tp);
	while (done < count) {
		uint64_t pos = off + done;
		size_t po = pos & (PAGE_SIZE - 1);
		size_t chunk = MIN(count - done, PAGE_SIZE - po);
		bool filled;
		char *pg = tree_link(ip, pos >> PAGE_SHIFT, &tp,
				     chunk == PAGE_SIZE ? src + done : NULL, &filled);

		if (!filled)
			memcpy(pg + po, src + done, chunk);
		done += chunk;
	}
	assert(!tp.pages && !tp.nodes);
	if (end > ip->size)
		ip->size = end;
	return 0;
}

/* Cut the file to @size; with @keep_first, page 0 stays even when the file empties. */
static void data_cut(struct vfs_inode *ip, uint64_t size, bool keep_first)
{
	uint64_t keep = (size + PAGE_SIZE - 1) >> PAGE_SHIFT;
	size_t po = size & (PAGE_SIZE - 1);
	char *pg;

	if (size >= ip->size) {
		ip->size = size;
		return;
	}
	if (ip->reg.small) {
		/* Zeros past the size, as in a page; a hooked file keeps its buffer. */
		if (size < small_cap(ip))
			memset(ip->reg.small + size, 0, small_cap(ip) - (size_t)size);
		if (!size && !keep_first)
			small_free(ip);
		ip->size = size;
		return;
	}
	tree_trim(ip, keep_first ? MAX(keep, 1) : keep);
	/* Zero what lies past @size in a page kept, so a later extension reads zeros. */
	pg = page_lookup(ip, size >> PAGE_SHIFT);
	if (pg)
		memset(pg + po, 0, PAGE_SIZE - po);
	ip->size = size;
	tree_to_small(ip);
}

int vfs_data_truncate(struct vfs_inode *ip, uint64_t size)
{
	if (size > VFS_FILE_MAX)
		return -EFBIG;
	data_cut(ip, size, false);
	return 0;
}

int vfs_data_set(struct vfs_inode *ip, const void *buf, size_t len)
{
	/* Write first, so running out of pages leaves the old content. */
	int err = vfs_data_write(ip, 0, buf, len);

	if (err)
		return err;
	/* A validated file's next value must not need an allocation: keep its page. */
	data_cut(ip, len, ip->flags & VFS_F_HOOKED);
	return 0;
}

int vfs_data_hooked(struct vfs_inode *ip)
{
	struct tree_pool tp;
	int err;

	if (!ip->reg.small)
		return 0;
	err = tree_prepare(ip, 0, 0, &tp);
	if (err)
		return err;
	small_to_tree(ip, &tp);
	return 0;
}

void vfs_data_free(struct vfs_inode *ip)
{
	spare_free(ip, NULL);
	small_free(ip);
	tree_trim(ip, 0);
	ip->size = 0;
}

/*
 * The first page at index *@idx or past under @p (level @l, first index
 * @base), put in *@idx: whether there is one.
 */
static bool node_next(const void *p, unsigned l, uint64_t base, uint64_t *idx)
{
	uint64_t step;

	if (l == 0) {
		*idx = base;
		return true;
	}
	step = tree_span(l - 1);
	for (unsigned s = (unsigned)((*idx - base) / step); s < VFS_NODE_SLOTS; s++) {
		const void *c = ((const struct vfs_node *)p)->slot[s];
		uint64_t at = MAX(*idx, base + s * step);

		if (c && node_next(c, l - 1, base + s * step, &at)) {
			*idx = at;
			return true;
		}
	}
	return false;
}

bool vfs_data_next(struct vfs_inode *ip, uint64_t off, uint64_t *start, uint64_t *end)
{
	uint64_t idx = off >> PAGE_SHIFT, last;

	if (ip->reg.small) {
		*start = off;
		*end = MIN((uint64_t)small_cap(ip), ip->size);
		return off < *end;
	}
	if (off >= ip->size || !tree_top(ip) || idx >= tree_span(tree_height(ip)) ||
	    !node_next(tree_top(ip), tree_height(ip), 0, &idx))
		return false;
	*start = MAX(off, idx << PAGE_SHIFT);
	if (*start >= ip->size)
		return false;
	/* Pages past the size are never held: the run ends by the last one. */
	for (last = idx; page_lookup(ip, last + 1); last++)
		;
	*end = MIN((last + 1) << PAGE_SHIFT, ip->size);
	return true;
}

uint64_t vfs_data_used(const struct vfs_inode *ip)
{
	return ip->reg.npages * PAGE_SIZE + (uint64_t)ip->reg.nnodes * NODE_BYTES + small_cap(ip);
}

static void node_count(const struct vfs_node *n, unsigned l, struct vfs_data_count *c)
{
	c->nodes++;
	for (unsigned s = 0; s < VFS_NODE_SLOTS; s++) {
		if (!n->slot[s])
			continue;
		if (l == 1)
			c->pages++;
		else
			node_count(n->slot[s], l - 1, c);
	}
}

void vfs_data_count(const struct vfs_inode *ip, struct vfs_data_count *c)
{
	memset(c, 0, sizeof(*c));
	if (tree_top(ip) && tree_height(ip) == 0)
		c->pages = 1;
	else if (tree_top(ip))
		node_count(tree_top(ip), tree_height(ip), c);
	c->bytes = c->pages * PAGE_SIZE + c->nodes * NODE_BYTES + small_cap(ip);
	for (void *p = ip->reg.spare_pages; p; p = *(void **)p)
		c->spare++;
	for (struct vfs_node *n = ip->reg.spare_nodes; n; n = n->slot[0])
		c->spare++;
}

unsigned vfs_data_repair(struct vfs_inode *ip)
{
	struct vfs_data_count c;
	unsigned fixed = 0;

	vfs_data_count(ip, &c);
	/* The cap is counted again from the trees (vfs_repair_locked): no uncharge. */
	if (c.spare) {
		spare_free(ip, NULL);
		fixed++;
	}
	if (c.pages != ip->reg.npages || c.nodes != ip->reg.nnodes) {
		ip->reg.npages = c.pages;
		ip->reg.nnodes = (uint32_t)c.nodes;
		fixed++;
	}
	return fixed;
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
