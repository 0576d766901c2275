/*
 * Inodes: creation, lookup by (ino, gen), attributes and permissions. Inode
 * numbers come from a counter that never goes back, so a number is never
 * reused within a machine; the generation tells a built file (stable across
 * boots) from one a client created in this boot.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "uml/check.h"
#include "uml/gen.h"
#include "uml/host.h"
#include "uml/machine.h"
#include "uml/siphash.h"
#include "fs_internal.h"

struct vfs_sb *vfs_sb;

/*
 * Whether this host thread holds the lock: a render hook (run under it)
 * may ask for vfs_check, which must not take it again.
 */
static __thread bool lock_mine;
/*
 * A change happens at one instant: every time taken while the lock is
 * held is the first one, so the times a change sets and the time its
 * record in the state image carries agree, and a replay sets the same.
 */
static __thread bool hold_now_set;
static __thread struct vfs_time hold_now;

bool vfs_lock_held(void)
{
	return lock_mine;
}

void vfs_lock(void)
{
	/*
	 * A dead holder died between two updates of the tree or in the
	 * middle of one (t/unit/test_death.c kills at every lock it takes):
	 * an inode made or unlinked and not yet named or freed, a count not
	 * yet moved. vfs_repair_locked finishes or undoes those; the debug
	 * build then audits the tree and says what it found.
	 */
	if (kmutex_lock(&vfs_sb->lock) == -EOWNERDEAD) {
		unsigned fixed = vfs_repair_locked();

		lock_mine = true;
		hold_now_set = false;
		vfs_persist_recover();
#ifdef MM_DEBUG
		char buf[1024];
		struct kcheck r = {.buf = buf, .size = sizeof(buf)};

		vfs_check_locked(&r);
		buf[MIN(r.len, sizeof(buf) - 1)] = '\0';
		if (r.problems)
			host_log(
			    "umlfs: took the tree over from a dead holder: %u repair(s), then %u "
			    "problem(s)\n%s",
			    fixed, r.problems, buf);
#else
		(void)fixed;
#endif
	}
	lock_mine = true;
	hold_now_set = false;
	/* A commit hook's bumps wake their watchers once the lock is free. */
	kgen_defer_begin();
	if (unlikely(vfs_sb->committing))
		vfs_hooks_recover();
}

void vfs_unlock(void)
{
	lock_mine = false;
	kmutex_unlock(&vfs_sb->lock);
	kgen_defer_end();
}

/*
 * The scratch cap: what clients' files may hold, half of the machine by
 * default. The other half keeps the machine controllable when clients have
 * filled theirs: a new NFS connection gets its 64 KiB kernel-thread stack
 * only while a quarter of the memory is free (svc_sock.c), so connections
 * may take the next quarter, and the last quarter holds the application's
 * own -- knob files (a page each), status renders (rewritten on every
 * read), directories, its CPUs' thread stacks -- and slab metadata and the
 * pages CPUs keep in their caches. Inodes are split the same way: half of
 * the table for clients.
 */
static uint64_t scratch_default(void)
{
	return (uint64_t)machine->mm.npages * PAGE_SIZE / 2;
}

/*
 * That last share is not fixed, though: each CPU's threads hold stacks of
 * 64 KiB (an httpd child three of them), so a dozen prefork children take
 * 40% of an 8 MiB machine before any client writes, and half for clients on
 * top left less free than connections need: the monitor could not even
 * mount. So, whatever the cap, clients' growth also stops a sixteenth above
 * that quarter of free memory (eight connection stacks on 8 MiB): room for a
 * monitor's connections and the status it reads. The other way round,
 * connections may hold free memory down to the quarter, below that mark;
 * so that they can't shut clients' files out either, clients' first
 * sixteenth of the machine is theirs regardless (the quarter is where it
 * comes from). The zone's free count is read without its lock: a hint, as
 * for connections. Returns the bytes clients may still take.
 */
static uint64_t scratch_room(void)
{
	const struct mm_zone *mm = &machine->mm;
	uint64_t nfree = __atomic_load_n(&mm->nfree, __ATOMIC_RELAXED);
	uint64_t mark = mm->npages / 4 + mm->npages / 16, used = vfs_sb->scratch_used;
	uint64_t own = (uint64_t)(mm->npages / 16) * PAGE_SIZE;
	uint64_t cap = vfs_sb->scratch_limit > used ? vfs_sb->scratch_limit - used : 0;
	uint64_t above = nfree > mark ? (nfree - mark) * PAGE_SIZE : 0;

	return MIN(cap, MAX(above, own > used ? own - used : 0));
}

/* Writers hold the lock; vfs_scratch_stat reads without it. */
static void scratch_store(uint64_t *field, uint64_t v)
{
	__atomic_store_n(field, v, __ATOMIC_RELAXED);
}

int vfs_scratch_charge(uint64_t bytes)
{
	struct vfs_sb *sb = vfs_sb;

	if (bytes > scratch_room())
		return -ENOSPC;
	scratch_store(&sb->scratch_used, sb->scratch_used + bytes);
	return 0;
}

void vfs_scratch_uncharge(uint64_t bytes)
{
	assert(vfs_sb->scratch_used >= bytes);
	scratch_store(&vfs_sb->scratch_used, vfs_sb->scratch_used - bytes);
}

void vfs_scratch_set(uint64_t used, uint64_t inodes)
{
	scratch_store(&vfs_sb->scratch_used, used);
	scratch_store(&vfs_sb->scratch_inodes, inodes);
}

int vfs_set_scratch_limit(uint64_t bytes)
{
	if (bytes > (uint64_t)machine->mm.npages * PAGE_SIZE)
		return -EINVAL;
	vfs_lock();
	scratch_store(&vfs_sb->scratch_limit, bytes ? bytes : scratch_default());
	vfs_unlock();
	return 0;
}

void vfs_scratch_stat(uint64_t *used, uint64_t *limit)
{
	*used = __atomic_load_n(&vfs_sb->scratch_used, __ATOMIC_RELAXED);
	*limit = __atomic_load_n(&vfs_sb->scratch_limit, __ATOMIC_RELAXED);
}

struct vfs_time vfs_now(void)
{
	struct vfs_time t;

	/* A replayed change happens when its record says it did. */
	if (unlikely(vfs_persist_replaying()))
		return vfs_persist_now();
	if (lock_mine && hold_now_set)
		return hold_now;
	host_wall(&t.sec, &t.nsec);
	if (lock_mine) {
		hold_now = t;
		hold_now_set = true;
	}
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
	err = kmutex_init_rank(&sb->lock, LOCK_RANK_VFS);
	if (err)
		goto out_free;
	sb->inode_cache = kmem_cache_create("vfs_inode", sizeof(struct vfs_inode), 8);
	/* Aligned so that a tree's height fits in the low bits of its top (ramfs.c). */
	sb->node_cache = kmem_cache_create("vfs_node", sizeof(struct vfs_node), VFS_NODE_SLOTS);
	if (!sb->inode_cache || !sb->node_cache) {
		err = -ENOMEM;
		goto out_free;
	}
	sb->next_ino = VFS_INO_ROOT + 1;
	memcpy(&sb->client_gen, machine->boot_verf, sizeof(sb->client_gen));
	if (sb->client_gen <= VFS_GEN_BUILT)
		sb->client_gen += 2;
	sb->max_inodes = machine->mm.npages * 4;
	sb->scratch_limit = scratch_default();
	sb->scratch_max_inodes = sb->max_inodes / 2;
	vfs_sb = sb;
	sb->root = inode_new_ino(VFS_DIR, 0755, &root, VFS_GEN_BUILT, VFS_INO_ROOT);
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

/* Any inode numbered @ino, whatever its generation. */
static struct vfs_inode *inode_any(uint64_t ino)
{
	struct vfs_inode *ip = vfs_sb->hash[ino % VFS_HASH_BUCKETS];

	while (ip && ip->ino != ino)
		ip = ip->hnext;
	return ip;
}

uint64_t inode_built_ino(const struct vfs_inode *dp, const char *name, size_t len)
{
	static const uint8_t key[SIPHASH_KEY_SIZE]; /* stability, not secrecy, is the point */
	uint8_t buf[sizeof(dp->ino) + VFS_NAME_MAX];
	uint64_t ino;

	memcpy(buf, &dp->ino, sizeof(dp->ino));
	memcpy(buf + sizeof(dp->ino), name, MIN(len, (size_t)VFS_NAME_MAX));
	ino = siphash24(key, buf, sizeof(dp->ino) + MIN(len, (size_t)VFS_NAME_MAX));
	ino = VFS_INO_BUILT | (ino & (VFS_INO_BUILT - 1));
	/* Two names that hash alike: the later one takes the next free number. */
	while (inode_any(ino))
		ino = VFS_INO_BUILT | ((ino + 1) & (VFS_INO_BUILT - 1));
	return ino;
}

struct vfs_inode *inode_new(enum vfs_type type, uint32_t mode, const struct vfs_cred *cred,
			    uint32_t gen)
{
	return inode_new_ino(type, mode, cred, gen, 0);
}

struct vfs_inode *inode_new_ino(enum vfs_type type, uint32_t mode, const struct vfs_cred *cred,
				uint32_t gen, uint64_t ino)
{
	struct vfs_sb *sb = vfs_sb;
	struct vfs_inode *ip;
	struct vfs_ino forced;
	unsigned b;

	if (sb->ninodes >= sb->max_inodes)
		return NULL;
	if (vfs_persist_take_id(&forced)) {
		/* Replaying the image: the inode gets back the number its handles carry. */
		if (inode_any(forced.ino))
			return NULL;
		ino = forced.ino;
		gen = forced.gen;
		if ((ino < VFS_INO_BUILT || ino >= VFS_INO_CLIENT2) && ino >= sb->next_ino)
			sb->next_ino = ino + 1;
	} else if (!ino) {
		ino = sb->next_ino++;
		if (ino == VFS_INO_BUILT) {
			ino = VFS_INO_CLIENT2;
			sb->next_ino = ino + 1;
		}
	}
	/* Built inodes are the application's; any other generation is a client's. */
	if (gen != VFS_GEN_BUILT &&
	    (sb->scratch_inodes >= sb->scratch_max_inodes || vfs_scratch_charge(sizeof(*ip))))
		return NULL;
	ip = kmem_cache_zalloc(sb->inode_cache);
	if (!ip) {
		if (gen != VFS_GEN_BUILT)
			vfs_scratch_uncharge(sizeof(*ip));
		return NULL;
	}
	if (gen != VFS_GEN_BUILT) {
		ip->flags = VFS_F_SCRATCH;
		scratch_store(&sb->scratch_inodes, sb->scratch_inodes + 1);
	}
	ip->ino = ino;
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

void inode_free(struct vfs_inode *ip)
{
	struct vfs_inode **pp = &vfs_sb->hash[ip->ino % VFS_HASH_BUCKETS];

	while (*pp != ip)
		pp = &(*pp)->hnext;
	*pp = ip->hnext;
	vfs_persist_forget(ip);
	if (ip->type == VFS_REG) {
		/* This process's hooks of it, at least, need not outlive it. */
		if (ip->flags & VFS_F_HOOKED)
			vfs_hooks_forget(ip);
		vfs_data_free(ip);
	} else if (ip->type == VFS_LNK) {
		if (ip->flags & VFS_F_SCRATCH)
			vfs_scratch_uncharge(ksize(ip->lnk.target));
		kfree(ip->lnk.target);
	}
	if (ip->flags & VFS_F_SCRATCH) {
		vfs_scratch_uncharge(sizeof(*ip));
		scratch_store(&vfs_sb->scratch_inodes, vfs_sb->scratch_inodes - 1);
	}
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

static void inode_attr(struct vfs_inode *ip, struct vfs_attr *a)
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
		a->used = vfs_data_used(ip);
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
	vfs_hooks_refresh(ip);
	vfs_trunc_pending(ip);
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

/*
 * Whether @s would change the mode or owner of a file the application keeps
 * (pinned, read-only or hooked: knobs, /status, /config): refused, since
 * `chmod 0` on a knob locks every non-root client out of it, and the export
 * is the access control. Setting the value a file already has changes
 * nothing and is let through, for tools that restore attributes (cp -p).
 */
static bool attrs_fixed(const struct vfs_inode *ip, const struct vfs_sattr *s)
{
	if (!(ip->flags & (VFS_F_PINNED | VFS_F_READONLY | VFS_F_HOOKED)))
		return false;
	return ((s->mask & VFS_SET_MODE) && (s->mode & 07777) != ip->mode) ||
	       ((s->mask & VFS_SET_UID) && s->uid != ip->uid) ||
	       ((s->mask & VFS_SET_GID) && s->gid != ip->gid);
}

/*
 * Log what a SETATTR changed, with the times it set as absolute values so
 * that a replay sets the same. A hooked file's size is its content's
 * business: the edit that settles it logs the content (hooks.c).
 */
static void persist_setattr(struct vfs_inode *ip, uint32_t mask)
{
	uint32_t m = mask & (VFS_SET_MODE | VFS_SET_UID | VFS_SET_GID);

	if (!vfs_persist_on(ip))
		return;
	if ((mask & VFS_SET_SIZE) && !(ip->flags & VFS_F_HOOKED))
		m |= VFS_SET_SIZE | VFS_SET_MTIME;
	if (mask & (VFS_SET_ATIME | VFS_SET_ATIME_NOW))
		m |= VFS_SET_ATIME;
	if (mask & (VFS_SET_MTIME | VFS_SET_MTIME_NOW))
		m |= VFS_SET_MTIME;
	if (m) {
		vfs_persist_setattr(ip, m);
		vfs_persist_rebound(ip);
	}
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
	/* First, so that every such attempt is reported, a non-owner's too. */
	if (attrs_fixed(ip, s)) {
		err = vfs_hooks_refuse(ip, -EPERM, "", 0, ctx, "its mode and owner can't change");
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
	if (vfs_persist_on(ip)) {
		bool grows = (s->mask & VFS_SET_SIZE) && ip->type == VFS_REG && s->size > ip->size;

		err = vfs_persist_reserve(128, grows ? 1 : -1);
		if (err)
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
			err = vfs_hooks_refuse(ip, -EACCES, "", 0, ctx, "read-only");
			goto out;
		}
		if (!inode_may(ip, cred, 2)) {
			err = -EACCES;
			goto out;
		}
		if ((ip->flags & VFS_F_HOOKED) && s->size == 0) {
			/* Half of `echo > f`: the write that follows decides. */
			ip->reg.trunc_since = host_mono_ns();
		} else if (ip->flags & VFS_F_HOOKED) {
			/* Past VFS_HOOKED_MAX too: an invalid value, reported as one. */
			err = vfs_hooks_edit(ip, s->size, NULL, 0, true, ctx);
		} else if (s->size > VFS_FILE_MAX) {
			err = -EFBIG;
		} else {
			err = vfs_data_truncate(ip, s->size);
		}
		if (err)
			goto out;
		inode_touch(ip, true);
	}
	inode_set_attrs(ip, s);
	if (s->mask & ~VFS_SET_SIZE)
		inode_touch(ip, false);
	persist_setattr(ip, s->mask);
	if (out)
		inode_attr(ip, out);
out:
	vfs_unlock();
	return err;
}

int vfs_statfs(struct vfs_statfs *st)
{
	struct vfs_sb *sb = vfs_sb;
	struct mm_stats ms;
	uint64_t room;

	mm_stats(&ms);
	vfs_lock();
	st->tbytes = ms.total_pages * PAGE_SIZE;
	st->fbytes = ms.free_pages * PAGE_SIZE;
	st->abytes = MIN(st->fbytes, scratch_room());
	/* With a state image, what it still takes bounds what clients may write too. */
	st->abytes = MIN(st->abytes, vfs_persist_room());
	st->tfiles = sb->max_inodes;
	st->ffiles = sb->max_inodes - sb->ninodes;
	room = sb->scratch_max_inodes > sb->scratch_inodes
		   ? sb->scratch_max_inodes - sb->scratch_inodes
		   : 0;
	st->afiles = MIN(st->ffiles, room);
	vfs_unlock();
	return 0;
}

int vfs_set_flags(struct vfs_ino f, uint32_t flags)
{
	struct vfs_inode *ip;

	vfs_lock();
	ip = inode_get(f);
	if (ip)
		ip->flags = (ip->flags & VFS_F_INTERNAL) | (flags & ~VFS_F_INTERNAL);
	vfs_unlock();
	return ip ? 0 : -ESTALE;
}
