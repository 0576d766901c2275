/*
 * Audit of the tree (uml_check), under the vfs lock: every inode on the hash
 * is one the inode cache handed out, every directory's entries link back and
 * forth and to their directory, every name is among its inode's aliases,
 * link counts match the names, a file's page tree holds as many pages and
 * nodes as it says, and neither the inode cache nor the node cache has handed
 * out one that the tree does not hold (one a dead process allocated and never
 * linked).
 */
#include "uml/check.h"
#include "uml/host.h"
#include "fs_internal.h"

static bool alias_of(const struct vfs_inode *ip, const struct vfs_dirent *de, uint64_t bound)
{
	for (const struct vfs_dirent *a = ip->aliases; a && bound--; a = a->alias_next)
		if (a == de)
			return true;
	return false;
}

static void check_dir(struct kcheck *r, struct vfs_inode *dp, uint64_t bound)
{
	const struct vfs_dirent *prev = NULL;
	uint32_t n = 0, subdirs = 0;

	for (const struct vfs_dirent *de = dp->dir.first; de; prev = de, de = de->next) {
		if (++n > bound) {
			kcheck_fail(r, "vfs: directory %llu: its entries loop",
				    (unsigned long long)dp->ino);
			return;
		}
		if (de->prev != prev || de->dir != dp || !de->inode ||
		    (prev && de->cookie <= prev->cookie))
			kcheck_fail(r, "vfs: directory %llu: entry \"%.*s\" is mislinked",
				    (unsigned long long)dp->ino, (int)de->len, de->name);
		else if (!alias_of(de->inode, de, bound))
			kcheck_fail(r, "vfs: entry \"%.*s\" in %llu is not an alias of inode %llu",
				    (int)de->len, de->name, (unsigned long long)dp->ino,
				    (unsigned long long)de->inode->ino);
		else if (de->inode->type == VFS_DIR)
			subdirs++;
	}
	if (dp->dir.last != prev || dp->dir.nentries != n)
		kcheck_fail(r, "vfs: directory %llu holds %u entries, says %u",
			    (unsigned long long)dp->ino, n, dp->dir.nentries);
	if (dp->nlink != 2 + subdirs)
		kcheck_fail(r, "vfs: directory %llu has %u links for %u subdirectories",
			    (unsigned long long)dp->ino, dp->nlink, subdirs);
}

/* What the scratch cap is charged for @ip and the names it holds (see vfs_scratch_charge). */
static uint64_t scratch_of(const struct vfs_inode *ip)
{
	uint64_t n = 0;

	if (ip->flags & VFS_F_SCRATCH) {
		n += sizeof(*ip);
		if (ip->type == VFS_REG) {
			struct vfs_data_count c;

			vfs_data_count(ip, &c);
			n += c.bytes;
		} else if (ip->type == VFS_LNK && ip->lnk.target)
			n += ksize(ip->lnk.target);
	}
	if (ip->type == VFS_DIR)
		for (const struct vfs_dirent *de = ip->dir.first; de; de = de->next)
			if (de->scratch)
				n += ksize(de);
	return n;
}

void vfs_check_locked(struct kcheck *r)
{
	struct vfs_sb *sb = vfs_sb;
	uint64_t inodes = 0, dirs = 0, pages = 0, nodes = 0, bound;
	uint64_t in_use, scratch = 0, scratch_inodes = 0;

	bound = sb->ninodes + 1;
	for (unsigned b = 0; b < VFS_HASH_BUCKETS; b++) {
		for (struct vfs_inode *ip = sb->hash[b]; ip; ip = ip->hnext) {
			struct page *pg = mm_page_of(ip);
			uint64_t names = 0;

			if (++inodes > bound)
				break;
			if (!pg || !(pg->flags & PG_SLAB) || pg->cache != sb->inode_cache ||
			    ip->ino % VFS_HASH_BUCKETS != b) {
				kcheck_fail(r, "vfs: hash bucket %u holds %p, not an inode of it",
					    b, (void *)ip);
				break;
			}
			for (struct vfs_dirent *a = ip->aliases; a && names <= bound;
			     a = a->alias_next)
				names++;
			scratch += scratch_of(ip);
			scratch_inodes += !!(ip->flags & VFS_F_SCRATCH);
			if (ip == sb->root ? names != 0 : names == 0)
				kcheck_fail(r, "vfs: inode %llu has %llu names",
					    (unsigned long long)ip->ino, (unsigned long long)names);
			if (ip->type == VFS_DIR) {
				dirs++;
				check_dir(r, ip, bound);
			} else if (ip->type == VFS_REG) {
				struct vfs_data_count c;

				if (ip->nlink != names)
					kcheck_fail(r, "vfs: file %llu has %u links and %llu names",
						    (unsigned long long)ip->ino, ip->nlink,
						    (unsigned long long)names);
				vfs_data_count(ip, &c);
				if (c.spare)
					kcheck_fail(
					    r, "vfs: file %llu has %llu pages and nodes unlinked",
					    (unsigned long long)ip->ino,
					    (unsigned long long)c.spare);
				if (c.pages != ip->reg.npages || c.nodes != ip->reg.nnodes)
					kcheck_fail(
					    r,
					    "vfs: file %llu holds %llu pages and %llu nodes, "
					    "says %llu and %u",
					    (unsigned long long)ip->ino,
					    (unsigned long long)c.pages,
					    (unsigned long long)c.nodes,
					    (unsigned long long)ip->reg.npages, ip->reg.nnodes);
				pages += c.pages;
				nodes += c.nodes;
			}
		}
	}
	if (inodes != sb->ninodes)
		kcheck_fail(r, "vfs: %llu inodes on the hash, %llu counted",
			    (unsigned long long)inodes, (unsigned long long)sb->ninodes);
	if (scratch != sb->scratch_used || scratch_inodes != sb->scratch_inodes)
		kcheck_fail(r,
			    "vfs: clients' files hold %llu bytes in %llu inodes, the cap counts "
			    "%llu in %llu",
			    (unsigned long long)scratch, (unsigned long long)scratch_inodes,
			    (unsigned long long)sb->scratch_used,
			    (unsigned long long)sb->scratch_inodes);
	in_use = kmem_cache_in_use(sb->inode_cache);
	if (in_use != sb->ninodes)
		kcheck_fail(r,
			    "vfs: the inode cache has handed out %llu inodes, the tree holds %llu",
			    (unsigned long long)in_use, (unsigned long long)sb->ninodes);
	in_use = kmem_cache_in_use(sb->node_cache);
	if (in_use != nodes)
		kcheck_fail(r, "vfs: the node cache has handed out %llu nodes, files hold %llu",
			    (unsigned long long)in_use, (unsigned long long)nodes);
	kcheck_line(r,
		    "vfs: %llu inodes (%llu directories), %llu file pages in %llu tree nodes; "
		    "lock taken over from a dead holder %u times",
		    (unsigned long long)inodes, (unsigned long long)dirs, (unsigned long long)pages,
		    (unsigned long long)nodes, atomic_load(&sb->lock.recovered));
}

void vfs_check(struct kcheck *r)
{
	if (!vfs_sb)
		return;
	/* From a render hook (/status/check), under the lock already. */
	if (vfs_lock_held()) {
		vfs_check_locked(r);
		return;
	}
	vfs_lock();
	vfs_check_locked(r);
	vfs_unlock();
}

/*
 * Inodes the cache handed out that the tree doesn't hold: taken by a
 * process killed before it hashed them, or unhashed by one killed before
 * it freed them. Only the tree's users allocate and free them, under the
 * lock held here, so nobody else has one in hand.
 */
static unsigned inodes_reclaim(struct vfs_sb *sb)
{
	size_t n = 0, size;
	const void **owned;
	unsigned freed;

	/* Counted, not trusted to ninodes: the death may have left that off too. */
	for (unsigned b = 0; b < VFS_HASH_BUCKETS; b++)
		for (struct vfs_inode *ip = sb->hash[b]; ip; ip = ip->hnext)
			n++;
	size = (n + 1) * sizeof(void *);
	owned = host_map_private(size);
	if (!owned)
		return 0;
	n = 0;
	for (unsigned b = 0; b < VFS_HASH_BUCKETS; b++)
		for (struct vfs_inode *ip = sb->hash[b]; ip; ip = ip->hnext)
			owned[n++] = ip;
	freed = kmem_cache_reclaim(sb->inode_cache, owned, n);
	host_unmap(owned, size);
	sb->ninodes = n;
	return freed;
}

unsigned vfs_repair_locked(void)
{
	struct vfs_sb *sb = vfs_sb;
	uint64_t used = 0, inodes = 0;
	unsigned fixed = 0;

	for (unsigned b = 0; b < VFS_HASH_BUCKETS; b++) {
		struct vfs_inode *ip = sb->hash[b], *next;

		for (; ip; ip = next) {
			uint32_t names = 0, subdirs = 0, n = 0;

			next = ip->hnext;
			for (struct vfs_dirent *a = ip->aliases; a; a = a->alias_next)
				names++;
			if (names || ip == sb->root) {
				used += scratch_of(ip);
				inodes += !!(ip->flags & VFS_F_SCRATCH);
			}
			if (!names && ip != sb->root) {
				/* Made and never named, or unnamed and never freed. */
				if (ip->type == VFS_DIR && ip->dir.first)
					continue; /* not empty: leave it to the check */
				inode_free(ip);
				fixed++;
				continue;
			}
			if (ip->type == VFS_REG)
				fixed += vfs_data_repair(ip);
			if (ip->type != VFS_DIR) {
				if (ip->nlink != names) {
					ip->nlink = names;
					fixed++;
				}
				continue;
			}
			for (struct vfs_dirent *de = ip->dir.first; de; de = de->next) {
				n++;
				subdirs += de->inode->type == VFS_DIR;
			}
			if (ip->nlink != 2 + subdirs || ip->dir.nentries != n) {
				ip->nlink = 2 + subdirs;
				ip->dir.nentries = n;
				fixed++;
			}
		}
	}
	fixed += inodes_reclaim(sb);
	/* A death between a charge and what it pays for leaves the counts off: count again. */
	if (sb->scratch_used != used || sb->scratch_inodes != inodes) {
		vfs_scratch_set(used, inodes);
		fixed++;
	}
	return fixed;
}
