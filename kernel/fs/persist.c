/*
 * The state image: the tree kept on a block device, so that knob values,
 * clients' files and their handles outlive the machine.
 *
 * The tree stays in memory, where every lookup and read is served; the
 * image holds a log of what changed. It is log-structured: each change of
 * an inode in the image (VFS_F_PERSIST) appends one record describing it --
 * "create name N in directory D as inode I", "write these bytes at this
 * offset", "remove", "rename" -- to a circular log on the device, under the
 * tree's lock, so the log's order is the tree's. A change whose reply says
 * it is stable waits until its record is synced (group commit in
 * kernel/block). From time to time a checkpoint -- the whole persistent
 * tree as records -- is appended, and the superblock points at it; the log
 * before it is free to be overwritten.
 *
 * Loading replays from the newest complete checkpoint to the end of the
 * valid log. Records are chained: each one's CRC-32C starts from the
 * previous record's, and carries its own stream position, so a torn write,
 * a stale record of an earlier lap of the circle, or a record left after a
 * shorter one was written over its predecessor all end the log there. Any
 * crash therefore leaves a log that loads: a prefix of what was appended,
 * which holds everything that was synced.
 *
 * Room: a checkpoint must always fit without overwriting the one before,
 * so the log keeps room for the live tree (the bound: what a checkpoint
 * would take, at most) beside what it has appended since the last one.
 * A change that would break that gets -ENOSPC; changes that shrink the
 * tree (remove, truncate, a knob's value of the same size) may use a
 * reserve that growth may not, so a full image can always be cleaned up.
 *
 * Layout: two superblock slots (0 and 4 KiB, written alternately, the
 * newest valid one wins), then the log area to the end of the file. Fields
 * are little-endian; this code assumes a little-endian host.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "uml/blk.h"
#include "uml/crc32c.h"
#include "uml/host.h"
#include "uml/machine.h"
#include "fs_internal.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the image format is little-endian");

#define SB_MAGIC    "UMLFSIMG"
#define SB_VERSION  1
#define SB_SLOT	    4096
#define AREA_OFF    (2 * SB_SLOT)
#define REC_MAGIC   0x524c4d55u /* "UMLR" */
#define CHUNK	    (32u << 10) /* data per record */
#define REC_MAX	    (CHUNK + 2 * VFS_NAME_MAX + VFS_PATH_MAX + 256)
#define NOTES_MAX   128
#define RESERVE_MIN (64u << 10)

enum rec_type {
	REC_CKPT_BEGIN = 1, /* u64 next client ino */
	REC_CKPT_ROOT,	    /* attrs of the root */
	REC_CKPT_ENTRY,	    /* dir id, name, id; the inode's attrs when first seen */
	REC_CKPT_TIMES,	    /* id, size and times, after its data and entries */
	REC_CKPT_NOTE,	    /* key, value */
	REC_CKPT_END,	    /* u64 inodes */
	REC_CREATE = 16,    /* dir id, name, id, attrs (and a symlink's target) */
	REC_WRITE,	    /* id, offset, bytes (also a checkpoint's data) */
	REC_SETDATA,	    /* id, the whole content */
	REC_SETATTR,	    /* id, mask, mode, uid, gid, size, atime, mtime */
	REC_LINK,	    /* id, dir id, name */
	REC_REMOVE,	    /* dir id, is a directory, name */
	REC_RENAME,	    /* from dir id, name, to dir id, name */
	REC_NOTE,	    /* key, value (empty: removed) */
};

struct rec_hdr {
	uint32_t magic;
	uint16_t type;
	uint16_t zero;
	uint32_t len; /* payload bytes after the header */
	uint32_t crc; /* CRC-32C from the previous record's, over header (crc 0) and payload */
	uint64_t lsn; /* stream position of this header */
	int64_t sec;  /* when the change was made */
	uint32_t nsec;
	uint32_t pad;
};
_Static_assert(sizeof(struct rec_hdr) == 40, "record header layout");

struct disk_sb {
	char magic[8];
	uint32_t version;
	uint32_t sb_size;
	uint64_t seq;	   /* newest wins; slot seq % 2 */
	uint64_t size;	   /* bytes of the image */
	uint64_t area_off; /* the log */
	uint64_t area_len;
	uint64_t ckpt_lsn;  /* the newest checkpoint's first record */
	uint32_t ckpt_prev; /* the CRC it chains from */
	uint32_t pad;
	uint8_t uuid[16];
	int64_t created;
	int64_t written;
	uint32_t crc; /* CRC-32C of the above with crc 0 */
	uint32_t pad2;
};

struct note {
	uint16_t klen, vlen;
	char kv[]; /* key, then value */
};

/* In the arena; every field guarded by the tree's lock unless said. */
struct vfs_state {
	struct blk_dev dev; /* its queue is the log */
	struct disk_sb sb;  /* as last written */
	uint64_t ckpt_lsn;  /* newest checkpoint on the device */
	uint64_t ckpt_len;  /* its length */
	uint32_t prev_crc;  /* of the last record appended */
	uint32_t mark;	    /* the checkpoint being written (ckpt_mark of inodes) */
	uint64_t bound;	    /* a checkpoint's size now, at most */
	uint64_t reserve;   /* log room growth may not take */
	uint64_t ninodes;
	uint64_t checkpoints, records, replayed, torn;
	int64_t checkpoint_at;
	int failed; /* a record could not be appended: the image is behind the tree */
	struct note *notes[NOTES_MAX];
};

static __thread bool replaying;
static __thread struct vfs_time replay_now;
/* The number and generation the record being replayed gives the inode it creates. */
static __thread struct vfs_ino replay_id;
/* Where this host thread's last record ends: its kernel threads share it, and a sync covers more.
 */
static __thread uint64_t my_lsn;
/* Records are built here, under the tree's lock. */
static uint8_t rec_buf[REC_MAX];

static struct vfs_state *state(void)
{
	return vfs_sb ? vfs_sb->state : NULL;
}

bool vfs_persist_replaying(void)
{
	return replaying;
}

struct vfs_time vfs_persist_now(void)
{
	return replay_now;
}

bool vfs_persist_take_id(struct vfs_ino *id)
{
	if (!replaying || !replay_id.ino)
		return false;
	*id = replay_id;
	replay_id = (struct vfs_ino){0, 0};
	return true;
}

bool vfs_persist_on(const struct vfs_inode *ip)
{
	return state() && (ip->flags & VFS_F_PERSIST) && !replaying;
}

bool vfs_persist_same(const struct vfs_inode *dp, const struct vfs_inode *ip)
{
	return !state() || !(dp->flags & VFS_F_PERSIST) == !(ip->flags & VFS_F_PERSIST);
}

/* ---- encoding ---- */

struct enc {
	uint8_t *p;
	size_t n, cap;
};

static void put(struct enc *e, const void *v, size_t len)
{
	if (e->n + len <= e->cap)
		memcpy(e->p + e->n, v, len);
	e->n += len;
}

#define PUT(e, v)                                                                                  \
	do {                                                                                       \
		__typeof__(v) v__ = (v);                                                           \
		put(e, &v__, sizeof(v__));                                                         \
	} while (0)

static void put_name(struct enc *e, const char *name, size_t len)
{
	PUT(e, (uint16_t)len);
	put(e, name, len);
}

static void put_id(struct enc *e, const struct vfs_inode *ip)
{
	PUT(e, ip->ino);
	PUT(e, ip->gen);
}

static void put_time(struct enc *e, struct vfs_time t)
{
	PUT(e, t.sec);
	PUT(e, t.nsec);
}

struct dec {
	const uint8_t *p;
	size_t n, off;
	bool bad;
};

static void get(struct dec *d, void *v, size_t len)
{
	if (d->bad || d->n - d->off < len) {
		d->bad = true;
		memset(v, 0, len);
		return;
	}
	memcpy(v, d->p + d->off, len);
	d->off += len;
}

#define GET(d, v) get(d, &(v), sizeof(v))

static const char *get_name(struct dec *d, size_t *len)
{
	uint16_t l = 0;
	const char *s;

	GET(d, l);
	if (d->bad || d->n - d->off < l) {
		d->bad = true;
		*len = 0;
		return "";
	}
	s = (const char *)d->p + d->off;
	d->off += l;
	*len = l;
	return s;
}

static struct vfs_ino get_id(struct dec *d)
{
	struct vfs_ino id = {0, 0};

	GET(d, id.ino);
	GET(d, id.gen);
	return id;
}

static struct vfs_time get_time(struct dec *d)
{
	struct vfs_time t = {0, 0};

	GET(d, t.sec);
	GET(d, t.nsec);
	return t;
}

/* ---- the log ---- */

#define ENTRY_FIXED (sizeof(struct rec_hdr) + 12 + 2 + 12 + 1)
#define ATTR_FIXED  (1 + 12 + 8 + 3 * 12 + 4)
#define TIMES_REC   (sizeof(struct rec_hdr) + 12 + 8 + 3 * 12)
#define DATA_FIXED  (sizeof(struct rec_hdr) + 12 + 8)

static uint64_t data_bound(uint64_t held)
{
	return held + (held / PAGE_SIZE + 1 + held / CHUNK) * DATA_FIXED;
}

static uint64_t inode_bound(const struct vfs_inode *ip)
{
	uint64_t b = ATTR_FIXED + TIMES_REC;

	if (!state() || !(ip->flags & VFS_F_PERSIST))
		return 0;
	for (const struct vfs_dirent *de = ip->aliases; de; de = de->alias_next)
		b += ENTRY_FIXED + de->len;
	if (ip->type == VFS_REG)
		b += data_bound(vfs_data_used(ip));
	else if (ip->type == VFS_LNK)
		b += ip->lnk.len;
	return b;
}

void vfs_persist_rebound(struct vfs_inode *ip)
{
	struct vfs_state *st = state();
	uint64_t b = inode_bound(ip);

	if (st && b) {
		st->bound = st->bound - ip->pbound + b;
		ip->pbound = b;
	}
}

void vfs_persist_forget(struct vfs_inode *ip)
{
	struct vfs_state *st = state();

	if (st && (ip->flags & VFS_F_PERSIST)) {
		st->bound -= ip->pbound;
		st->ninodes--;
	}
	ip->pbound = 0;
}

size_t vfs_persist_write_rec(size_t count)
{
	return (size_t)data_bound(count);
}

int64_t vfs_persist_data_grow(size_t count)
{
	return (int64_t)data_bound((uint64_t)count + 2 * PAGE_SIZE);
}

static void fail(struct vfs_state *st, int err)
{
	if (!st->failed)
		host_log("umlfs: %s: a change could not be logged (%s): the image takes no more "
			 "changes until the server restarts",
			 st->dev.path, strerror(-err));
	st->failed = err;
}

/* Append one record of @type with payload @pl/@len; the lock is held. */
static int rec_append(struct vfs_state *st, uint16_t type, const void *pl, size_t len)
{
	struct vfs_time now = vfs_now();
	struct rec_hdr h = {
	    .magic = REC_MAGIC,
	    .type = type,
	    .len = (uint32_t)len,
	    .lsn = st->dev.tail,
	    .sec = now.sec,
	    .nsec = now.nsec,
	};
	static uint8_t whole[sizeof(struct rec_hdr) + REC_MAX];
	uint64_t end;
	int err;

	if (len > REC_MAX)
		return -EINVAL;
	h.crc = crc32c(st->prev_crc, &h, sizeof(h));
	h.crc = crc32c(h.crc, pl, len);
	memcpy(whole, &h, sizeof(h));
	memcpy(whole + sizeof(h), pl, len);
	err = blk_append(&st->dev, whole, sizeof(h) + len, &end);
	if (err)
		return err;
	st->prev_crc = h.crc;
	st->records++;
	my_lsn = end;
	return 0;
}

/* A change's record: a failure leaves the image behind the tree, so it stops taking changes. */
static void log_change(uint16_t type, struct enc *e)
{
	struct vfs_state *st = state();
	int err;

	if (st->failed)
		return;
	err = e->n > e->cap ? -EINVAL : rec_append(st, type, e->p, e->n);
	if (err)
		fail(st, err);
}

static struct enc enc_start(void)
{
	return (struct enc){rec_buf, 0, sizeof(rec_buf)};
}

static void put_attrs(struct enc *e, const struct vfs_inode *ip)
{
	PUT(e, (uint8_t)ip->type);
	PUT(e, ip->mode);
	PUT(e, ip->uid);
	PUT(e, ip->gid);
	PUT(e, ip->size);
	put_time(e, ip->atime);
	put_time(e, ip->mtime);
	put_time(e, ip->ctime);
	PUT(e, ip->type == VFS_LNK ? ip->lnk.len : 0u);
	if (ip->type == VFS_LNK)
		put(e, ip->lnk.target, ip->lnk.len);
}

void vfs_persist_created(struct vfs_inode *dp, const char *name, size_t len, struct vfs_inode *ip)
{
	struct enc e = enc_start();

	if (!vfs_persist_on(dp))
		return;
	state()->ninodes++;
	vfs_persist_rebound(ip);
	put_id(&e, dp);
	put_name(&e, name, len);
	put_id(&e, ip);
	put_attrs(&e, ip);
	log_change(REC_CREATE, &e);
}

void vfs_persist_write(struct vfs_inode *ip, uint64_t off, const void *buf, size_t count)
{
	const char *src = buf;

	if (!vfs_persist_on(ip))
		return;
	for (size_t done = 0; done < count;) {
		size_t n = MIN(count - done, (size_t)CHUNK);
		struct enc e = enc_start();

		put_id(&e, ip);
		PUT(&e, off + done);
		put(&e, src + done, n);
		log_change(REC_WRITE, &e);
		done += n;
	}
}

void vfs_persist_setdata(struct vfs_inode *ip)
{
	uint64_t size = ip->size;

	if (!vfs_persist_on(ip))
		return;
	if (size <= CHUNK) {
		struct enc e = enc_start();
		size_t n = 0;

		put_id(&e, ip);
		vfs_data_read(ip, 0, rec_buf + e.n, (size_t)size, &n);
		e.n += n;
		log_change(REC_SETDATA, &e);
		return;
	}
	/* Only the application puts content this large (vfs_put): a truncate, then the data. */
	vfs_persist_setattr(ip, VFS_SET_SIZE | 0x8000);
	for (uint64_t off = 0; off < size; off += CHUNK) {
		struct enc e = enc_start();
		size_t n = 0;

		put_id(&e, ip);
		PUT(&e, off);
		vfs_data_read(ip, off, rec_buf + e.n, CHUNK, &n);
		e.n += n;
		log_change(REC_WRITE, &e);
	}
}

/* @mask: VFS_SET_* changed; 0x8000 with VFS_SET_SIZE: size 0 (setdata's first half). */
void vfs_persist_setattr(struct vfs_inode *ip, uint32_t mask)
{
	struct enc e = enc_start();

	if (!vfs_persist_on(ip))
		return;
	put_id(&e, ip);
	PUT(&e, mask & 0xff);
	PUT(&e, ip->mode);
	PUT(&e, ip->uid);
	PUT(&e, ip->gid);
	PUT(&e, (uint64_t)(mask & 0x8000 ? 0 : ip->size));
	put_time(&e, ip->atime);
	put_time(&e, ip->mtime);
	log_change(REC_SETATTR, &e);
}

void vfs_persist_link(struct vfs_inode *ip, struct vfs_inode *dp, const char *name, size_t len)
{
	struct enc e = enc_start();

	if (!vfs_persist_on(dp))
		return;
	put_id(&e, ip);
	put_id(&e, dp);
	put_name(&e, name, len);
	log_change(REC_LINK, &e);
}

void vfs_persist_remove(struct vfs_inode *dp, const char *name, size_t len, bool dir)
{
	struct enc e = enc_start();

	if (!vfs_persist_on(dp))
		return;
	put_id(&e, dp);
	PUT(&e, (uint8_t)dir);
	put_name(&e, name, len);
	log_change(REC_REMOVE, &e);
}

void vfs_persist_rename(struct vfs_inode *fdp, const char *fname, size_t flen,
			struct vfs_inode *tdp, const char *tname, size_t tlen)
{
	struct enc e = enc_start();

	if (!vfs_persist_on(fdp))
		return;
	put_id(&e, fdp);
	put_name(&e, fname, flen);
	put_id(&e, tdp);
	put_name(&e, tname, tlen);
	log_change(REC_RENAME, &e);
}

/* ---- superblock and checkpoints ---- */

static uint32_t sb_crc(const struct disk_sb *sb)
{
	struct disk_sb c = *sb;

	c.crc = 0;
	return crc32c(0, &c, sizeof(c));
}

static int sb_write(struct vfs_state *st, uint64_t ckpt_lsn, uint32_t ckpt_prev)
{
	struct disk_sb sb = st->sb;
	char slot[SB_SLOT] = {0};
	int err;

	sb.seq++;
	sb.ckpt_lsn = ckpt_lsn;
	sb.ckpt_prev = ckpt_prev;
	sb.written = vfs_now().sec;
	sb.crc = sb_crc(&sb);
	memcpy(slot, &sb, sizeof(sb));
	err = blk_write(&st->dev, (sb.seq % 2) * SB_SLOT, slot, sizeof(slot));
	if (!err)
		err = blk_flush(&st->dev);
	if (!err)
		st->sb = sb;
	return err;
}

/* Append @type with payload @e to the checkpoint being written. */
static int ck_rec(struct vfs_state *st, uint16_t type, struct enc *e)
{
	if (e->n > e->cap)
		return -EINVAL;
	return rec_append(st, type, e->p, e->n);
}

static int ck_times(struct vfs_state *st, struct vfs_inode *ip)
{
	struct enc e = enc_start();

	put_id(&e, ip);
	PUT(&e, ip->type == VFS_REG ? ip->size : 0);
	put_time(&e, ip->atime);
	put_time(&e, ip->mtime);
	put_time(&e, ip->ctime);
	return ck_rec(st, REC_CKPT_TIMES, &e);
}

static int ck_data(struct vfs_state *st, struct vfs_inode *ip)
{
	uint64_t off = 0, start, end;

	while (vfs_data_next(ip, off, &start, &end)) {
		for (uint64_t o = start; o < end; o += CHUNK) {
			struct enc e = enc_start();
			size_t n = 0;
			int err;

			put_id(&e, ip);
			PUT(&e, o);
			vfs_data_read(ip, o, rec_buf + e.n, (size_t)MIN((uint64_t)CHUNK, end - o),
				      &n);
			e.n += n;
			err = ck_rec(st, REC_WRITE, &e);
			if (err)
				return err;
		}
		off = end;
	}
	return 0;
}

/* One name of @ip in the checkpoint; its inode, data and times the first time it is met. */
static int ck_entry(struct vfs_state *st, struct vfs_dirent *de, uint64_t *bound)
{
	struct vfs_inode *ip = de->inode;
	bool first = ip->ckpt_mark != st->mark;
	struct enc e = enc_start();
	int err;

	put_id(&e, de->dir);
	put_name(&e, de->name, de->len);
	put_id(&e, ip);
	PUT(&e, (uint8_t)first);
	if (first)
		put_attrs(&e, ip);
	err = ck_rec(st, REC_CKPT_ENTRY, &e);
	if (err || !first)
		return err;
	ip->ckpt_mark = st->mark;
	ip->pbound = inode_bound(ip);
	*bound += ip->pbound;
	st->ninodes++;
	if (ip->type == VFS_REG)
		err = ck_data(st, ip);
	/* A directory's times come after its entries, which move them. */
	if (!err && ip->type != VFS_DIR)
		err = ck_times(st, ip);
	return err;
}

static int ck_notes(struct vfs_state *st)
{
	for (int i = 0; i < NOTES_MAX; i++) {
		struct note *n = st->notes[i];
		struct enc e = enc_start();
		int err;

		if (!n)
			continue;
		put_name(&e, n->kv, n->klen);
		put(&e, n->kv + n->klen, n->vlen);
		err = ck_rec(st, REC_CKPT_NOTE, &e);
		if (err)
			return err;
	}
	return 0;
}

/*
 * The persistent tree, walked depth first without recursion (kernel threads
 * have small stacks): a directory is left through its own entry in its
 * parent, the only one a directory has.
 */
static int ck_tree(struct vfs_state *st, uint64_t *bound)
{
	struct vfs_inode *root = vfs_sb->root, *dp = root;
	struct vfs_dirent *de = root->dir.first;
	int err;

	for (;;) {
		while (!de) {
			err = ck_times(st, dp);
			if (err || dp == root)
				return err;
			de = dp->aliases->next;
			dp = dp->dir.parent;
		}
		if (!(de->inode->flags & VFS_F_PERSIST)) {
			de = de->next;
			continue;
		}
		err = ck_entry(st, de, bound);
		if (err)
			return err;
		if (de->inode->type == VFS_DIR) {
			dp = de->inode;
			de = dp->dir.first;
		} else {
			de = de->next;
		}
	}
}

/*
 * Write a checkpoint at the log's tail and point the superblock at it once
 * it is durable. The old one stays intact until then: the room check
 * (vfs_persist_reserve) keeps the log from reaching it.
 */
static int checkpoint(struct vfs_state *st)
{
	uint64_t start = st->dev.tail, bound = sizeof(struct rec_hdr) * 3 + 64;
	uint32_t prev = st->prev_crc;
	struct enc e = enc_start();
	int err;

	if (st->failed)
		return st->failed;
	st->mark++;
	st->ninodes = 0;
	PUT(&e, vfs_sb->next_ino);
	err = ck_rec(st, REC_CKPT_BEGIN, &e);
	if (!err) {
		e = enc_start();
		put_attrs(&e, vfs_sb->root);
		err = ck_rec(st, REC_CKPT_ROOT, &e);
	}
	if (!err)
		err = ck_tree(st, &bound);
	if (!err)
		err = ck_notes(st);
	if (!err) {
		e = enc_start();
		PUT(&e, st->ninodes);
		err = ck_rec(st, REC_CKPT_END, &e);
	}
	/* Under the tree's lock: a kernel thread must not switch to one that wants it. */
	if (!err)
		err = blk_sync_held(&st->dev, st->dev.tail);
	if (!err)
		err = sb_write(st, start, prev);
	if (err) {
		fail(st, err);
		return err;
	}
	for (int i = 0; i < NOTES_MAX; i++)
		if (st->notes[i])
			bound +=
			    sizeof(struct rec_hdr) + 2 + st->notes[i]->klen + st->notes[i]->vlen;
	st->bound = bound;
	st->ckpt_lsn = start;
	st->ckpt_len = st->dev.tail - start;
	st->checkpoints++;
	st->checkpoint_at = vfs_now().sec;
	return 0;
}

int vfs_persist_reserve(size_t rec, int64_t grow)
{
	struct vfs_state *st = state();
	uint64_t len, limit, add;

	if (!st || replaying)
		return 0;
	if (st->failed)
		return -EIO;
	len = st->dev.area_len;
	add = grow > 0 ? (uint64_t)grow : 0;
	limit = grow > 0 ? len - st->reserve : len;
	/* Checkpoint once the log since the last one outgrows half the room it leaves. */
	if ((st->dev.tail - st->ckpt_lsn - st->ckpt_len) * 2 > len - st->ckpt_len - st->bound ||
	    st->dev.tail - st->ckpt_lsn + rec + st->bound + add > limit) {
		int err = checkpoint(st);

		if (err)
			return err;
	}
	if (st->dev.tail - st->ckpt_lsn + rec + st->bound + add > limit)
		return -ENOSPC;
	return 0;
}

void vfs_persist_recover(void)
{
	struct vfs_state *st = state();

	/* The dead holder's change may be in the tree and not the log, or the other way. */
	if (st && !st->failed && checkpoint(st) == 0)
		host_log("umlfs: %s: a process died changing the tree: checkpoint written",
			 st->dev.path);
}

int vfs_state_checkpoint(void)
{
	int err;

	vfs_lock();
	err = state() ? checkpoint(state()) : -ENODEV;
	vfs_unlock();
	return err;
}

/* ---- durability ---- */

uint64_t vfs_sync_pos(void)
{
	return my_lsn;
}

int vfs_sync(void)
{
	struct vfs_state *st = state();

	if (!st || !my_lsn)
		return 0;
	return blk_sync(&st->dev, my_lsn);
}

int vfs_sync_all(void)
{
	struct vfs_state *st = state();

	if (!st)
		return 0;
	return blk_sync(&st->dev, atomic_load(&st->dev.appended));
}

/* ---- notes ---- */

static int note_find(struct vfs_state *st, const char *key, size_t klen)
{
	for (int i = 0; i < NOTES_MAX; i++) {
		struct note *n = st->notes[i];

		if (n && n->klen == klen && memcmp(n->kv, key, klen) == 0)
			return i;
	}
	return -1;
}

/* Store @key = @val in memory (empty: remove); -ENOSPC when the table or machine is full. */
static int note_put(struct vfs_state *st, const char *key, size_t klen, const char *val,
		    size_t vlen)
{
	int i = note_find(st, key, klen);
	struct note *n = NULL;

	if (vlen) {
		n = kmalloc(sizeof(*n) + klen + vlen);
		if (!n)
			return -ENOSPC;
		n->klen = (uint16_t)klen;
		n->vlen = (uint16_t)vlen;
		memcpy(n->kv, key, klen);
		memcpy(n->kv + klen, val, vlen);
	}
	if (i < 0 && n) {
		for (i = 0; i < NOTES_MAX && st->notes[i]; i++)
			;
		if (i == NOTES_MAX) {
			kfree(n);
			return -ENOSPC;
		}
	}
	if (i >= 0) {
		if (st->notes[i])
			st->bound -=
			    sizeof(struct rec_hdr) + 2 + st->notes[i]->klen + st->notes[i]->vlen;
		kfree(st->notes[i]);
		st->notes[i] = n;
	}
	if (n)
		st->bound += sizeof(struct rec_hdr) + 2 + klen + vlen;
	return 0;
}

int vfs_state_note_get(const char *key, char *buf, size_t size)
{
	struct vfs_state *st;
	int i, len = -ENOENT;

	vfs_lock();
	st = state();
	i = st ? note_find(st, key, strlen(key)) : -1;
	if (i >= 0) {
		struct note *n = st->notes[i];

		len = n->vlen;
		if (size) {
			size_t c = MIN((size_t)n->vlen, size - 1);

			memcpy(buf, n->kv + n->klen, c);
			buf[c] = '\0';
		}
	}
	vfs_unlock();
	return st ? len : -ENODEV;
}

int vfs_state_note_set(const char *key, const char *value)
{
	size_t klen = strlen(key), vlen = strlen(value);
	struct vfs_state *st;
	struct enc e;
	int err;

	if (!klen || klen > VFS_NOTE_MAX || vlen > VFS_NOTE_MAX)
		return -EINVAL;
	vfs_lock();
	st = state();
	err = st ? vfs_persist_reserve(sizeof(struct rec_hdr) + 2 + klen + vlen,
				       (int64_t)(sizeof(struct rec_hdr) + 2 + klen + vlen))
		 : -ENODEV;
	if (!err)
		err = note_put(st, key, klen, value, vlen);
	if (!err) {
		e = enc_start();
		put_name(&e, key, klen);
		put(&e, value, vlen);
		log_change(REC_NOTE, &e);
		err = st->failed;
	}
	vfs_unlock();
	return err ? err : vfs_sync();
}

/* ---- loading ---- */

static const struct vfs_ctx replay_ctx;

struct loader {
	struct vfs_state *st;
	char *msg;
	size_t msglen;
	uint64_t end;	    /* the valid log ends here */
	uint32_t end_crc;   /* the chain's value there */
	uint64_t from;	    /* the newest complete checkpoint */
	uint32_t from_prev; /* what it chains from */
	uint64_t torn;	    /* bytes of a record begun at the end and never finished */
};

static int say(struct loader *l, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int say(struct loader *l, int err, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (l->msglen) {
		n = snprintf(l->msg, l->msglen, "%s: ", l->st->dev.path);
		va_start(ap, fmt);
		if (n >= 0 && (size_t)n < l->msglen)
			vsnprintf(l->msg + n, l->msglen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return err;
}

/*
 * The record at @pos if it is valid and chains from @prev: header in @h,
 * payload in rec_buf. false at the end of the valid log.
 */
static bool rec_read(struct vfs_state *st, uint64_t pos, uint32_t prev, struct rec_hdr *h)
{
	struct rec_hdr c;
	uint32_t crc;

	if (blk_stream_read(&st->dev, pos, h, sizeof(*h)) != 0 || h->magic != REC_MAGIC ||
	    h->lsn != pos || h->len > REC_MAX || h->zero || sizeof(*h) + h->len > st->dev.area_len)
		return false;
	if (blk_stream_read(&st->dev, pos + sizeof(*h), rec_buf, h->len) != 0)
		return false;
	c = *h;
	c.crc = 0;
	crc = crc32c(prev, &c, sizeof(c));
	crc = crc32c(crc, rec_buf, h->len);
	return crc == h->crc;
}

/*
 * Walk the valid log from the superblock's checkpoint: where it ends, and
 * the newest checkpoint in it that is complete (a process that died writing
 * one leaves it unfinished; the next holder of the lock writes another).
 */
static int log_scan(struct loader *l)
{
	struct vfs_state *st = l->st;
	uint64_t pos = st->sb.ckpt_lsn, begin = 0;
	uint32_t prev = st->sb.ckpt_prev, begin_prev = 0;
	bool open = false, any = false;
	struct rec_hdr h;

	while (pos - st->sb.ckpt_lsn < st->dev.area_len && rec_read(st, pos, prev, &h)) {
		if (h.type == REC_CKPT_BEGIN) {
			begin = pos;
			begin_prev = prev;
			open = true;
		} else if (h.type == REC_CKPT_END && open) {
			l->from = begin;
			l->from_prev = begin_prev;
			open = false;
			any = true;
		}
		prev = h.crc;
		pos += sizeof(h) + h.len;
	}
	if (!any)
		return say(l, -EUCLEAN,
			   "corrupt: the checkpoint the superblock points at (log position "
			   "%llu) is not whole",
			   (unsigned long long)st->sb.ckpt_lsn);
	l->end = pos;
	l->end_crc = prev;
	/* A header of this lap that fails its CRC: a write the crash tore. The next append replaces
	 * it. */
	if (blk_stream_read(&st->dev, pos, &h, sizeof(h)) == 0 && h.magic == REC_MAGIC &&
	    h.lsn == pos && h.len <= REC_MAX)
		l->torn = sizeof(h) + h.len;
	return 0;
}

static struct vfs_sattr sattr_of(uint32_t mode, uint32_t uid, uint32_t gid, struct vfs_time at,
				 struct vfs_time mt)
{
	return (struct vfs_sattr){
	    .mask = VFS_SET_MODE | VFS_SET_UID | VFS_SET_GID | VFS_SET_ATIME | VFS_SET_MTIME,
	    .mode = mode,
	    .uid = uid,
	    .gid = gid,
	    .atime = at,
	    .mtime = mt,
	};
}

/* The inode a record names must be in the image: anything else is a corrupt log. */
static int persistent(struct vfs_ino id, struct vfs_inode **out)
{
	struct vfs_inode *ip;

	vfs_lock();
	ip = inode_get(id);
	vfs_unlock();
	if (!ip || !(ip->flags & VFS_F_PERSIST))
		return -EUCLEAN;
	*out = ip;
	return 0;
}

/*
 * Whether the number a record gives a new inode is one it may have: not the
 * root's, nor one in use (whatever the generation), nor a client's number
 * with the built generation or the other way round.
 */
static bool ino_free(struct vfs_ino id)
{
	bool built = id.ino >= VFS_INO_BUILT && id.ino < VFS_INO_CLIENT2;
	struct vfs_inode *ip;

	if (id.ino <= VFS_INO_ROOT || built != (id.gen == VFS_GEN_BUILT))
		return false;
	vfs_lock();
	ip = vfs_sb->hash[id.ino % VFS_HASH_BUCKETS];
	while (ip && ip->ino != id.ino)
		ip = ip->hnext;
	vfs_unlock();
	return !ip;
}

/* Create @name in @dir as inode @id with these attributes, as the record says. */
static int replay_make(struct vfs_ino dir, const char *name, size_t len, struct vfs_ino id,
		       struct dec *d)
{
	struct vfs_ctx ctx = replay_ctx;
	struct vfs_time at, mt, ct;
	struct vfs_sattr s;
	struct vfs_inode *dp;
	uint32_t mode = 0, uid = 0, gid = 0, tlen = 0;
	uint64_t size = 0;
	uint8_t type = 0;
	struct vfs_ino got;
	const char *target;
	int err;

	GET(d, type);
	GET(d, mode);
	GET(d, uid);
	GET(d, gid);
	GET(d, size);
	at = get_time(d);
	mt = get_time(d);
	ct = get_time(d);
	GET(d, tlen);
	target = (const char *)d->p + d->off;
	if (d->bad || tlen > d->n - d->off || persistent(dir, &dp) || !ino_free(id))
		return -EUCLEAN;
	(void)ct;
	s = sattr_of(mode, uid, gid, at, mt);
	replay_id = id;
	if (type == VFS_REG)
		err = vfs_create(dir, name, len, &s, true, NULL, &ctx, &got);
	else if (type == VFS_DIR)
		err = vfs_mkdir(dir, name, len, &s, &ctx, &got);
	else if (type == VFS_LNK)
		err = vfs_symlink(dir, name, len, target, tlen, &s, &ctx, &got);
	else
		err = -EUCLEAN;
	replay_id = (struct vfs_ino){0, 0};
	if (!err && (got.ino != id.ino || got.gen != id.gen))
		err = -EUCLEAN;
	return err;
}

static int replay_times(struct dec *d)
{
	struct vfs_ino id = get_id(d);
	struct vfs_time at, mt, ct;
	struct vfs_inode *ip;
	uint64_t size = 0;
	int err;

	GET(d, size);
	at = get_time(d);
	mt = get_time(d);
	ct = get_time(d);
	if (d->bad || persistent(id, &ip))
		return -EUCLEAN;
	vfs_lock();
	err = ip->type == VFS_REG && size != ip->size ? vfs_data_truncate(ip, size) : 0;
	ip->atime = at;
	ip->mtime = mt;
	ip->ctime = ct;
	vfs_unlock();
	return err;
}

static int replay_setdata(struct dec *d)
{
	struct vfs_ino id = get_id(d);
	struct vfs_inode *ip;
	int err;

	if (d->bad || persistent(id, &ip))
		return -EUCLEAN;
	vfs_lock();
	err = vfs_data_set(ip, d->p + d->off, d->n - d->off);
	if (!err)
		inode_touch(ip, true);
	vfs_unlock();
	return err;
}

static int replay_setattr(struct dec *d)
{
	struct vfs_ctx ctx = replay_ctx;
	struct vfs_ino id = get_id(d);
	struct vfs_sattr s = {0};
	struct vfs_inode *ip;

	GET(d, s.mask);
	GET(d, s.mode);
	GET(d, s.uid);
	GET(d, s.gid);
	GET(d, s.size);
	s.atime = get_time(d);
	s.mtime = get_time(d);
	if (d->bad || persistent(id, &ip))
		return -EUCLEAN;
	s.mask &=
	    VFS_SET_MODE | VFS_SET_UID | VFS_SET_GID | VFS_SET_SIZE | VFS_SET_ATIME | VFS_SET_MTIME;
	return vfs_setattr(id, &s, &ctx, NULL);
}

static int replay_note(struct vfs_state *st, struct dec *d)
{
	size_t klen;
	const char *key = get_name(d, &klen);

	if (d->bad || !klen || klen > VFS_NOTE_MAX || d->n - d->off > VFS_NOTE_MAX)
		return -EUCLEAN;
	vfs_lock();
	note_put(st, key, klen, (const char *)d->p + d->off, d->n - d->off);
	vfs_unlock();
	return 0;
}

/* Apply one record to the tree. */
static int replay_one(struct vfs_state *st, const struct rec_hdr *h)
{
	struct dec d = {rec_buf, h->len, 0, false};
	struct vfs_ctx ctx = replay_ctx;
	struct vfs_inode *ip, *dp;
	struct vfs_ino id, dir, tdir;
	const char *name, *tname;
	size_t len, tlen;
	uint8_t first = 0;
	int err;

	replay_now = (struct vfs_time){h->sec, h->nsec};
	switch (h->type) {
	case REC_CKPT_BEGIN: {
		uint64_t next = 0;

		/* Clients' numbers stay out of the built ones' range. */
		GET(&d, next);
		if (d.bad || next <= VFS_INO_ROOT ||
		    (next > VFS_INO_BUILT && next < VFS_INO_CLIENT2))
			return -EUCLEAN;
		vfs_lock();
		vfs_sb->next_ino = MAX(vfs_sb->next_ino, next);
		vfs_unlock();
		return 0;
	}
	case REC_CKPT_ROOT: {
		struct vfs_time at, mt;
		uint32_t mode = 0, uid = 0, gid = 0;
		uint64_t size;
		uint8_t type = 0;

		GET(&d, type);
		GET(&d, mode);
		GET(&d, uid);
		GET(&d, gid);
		GET(&d, size);
		at = get_time(&d);
		mt = get_time(&d);
		if (d.bad || type != VFS_DIR)
			return -EUCLEAN;
		struct vfs_sattr s = sattr_of(mode, uid, gid, at, mt);

		return vfs_setattr(vfs_root(), &s, &ctx, NULL);
	}
	case REC_CKPT_ENTRY:
		dir = get_id(&d);
		name = get_name(&d, &len);
		id = get_id(&d);
		GET(&d, first);
		if (d.bad)
			return -EUCLEAN;
		if (first)
			return replay_make(dir, name, len, id, &d);
		if (persistent(id, &ip))
			return -EUCLEAN;
		return vfs_link(id, dir, name, len, &ctx);
	case REC_CKPT_TIMES:
		return replay_times(&d);
	case REC_CKPT_NOTE:
	case REC_NOTE:
		return replay_note(st, &d);
	case REC_CKPT_END:
		return 0;
	case REC_CREATE:
		dir = get_id(&d);
		name = get_name(&d, &len);
		id = get_id(&d);
		return d.bad ? -EUCLEAN : replay_make(dir, name, len, id, &d);
	case REC_WRITE: {
		uint64_t off = 0;

		id = get_id(&d);
		GET(&d, off);
		if (d.bad || persistent(id, &ip))
			return -EUCLEAN;
		return vfs_write(id, off, d.p + d.off, d.n - d.off, &ctx);
	}
	case REC_SETDATA:
		return replay_setdata(&d);
	case REC_SETATTR:
		return replay_setattr(&d);
	case REC_LINK:
		id = get_id(&d);
		dir = get_id(&d);
		name = get_name(&d, &len);
		if (d.bad || persistent(id, &ip) || persistent(dir, &dp))
			return -EUCLEAN;
		return vfs_link(id, dir, name, len, &ctx);
	case REC_REMOVE:
		dir = get_id(&d);
		GET(&d, first);
		name = get_name(&d, &len);
		if (d.bad || persistent(dir, &dp))
			return -EUCLEAN;
		return first ? vfs_rmdir(dir, name, len, &ctx) : vfs_remove(dir, name, len, &ctx);
	case REC_RENAME:
		dir = get_id(&d);
		name = get_name(&d, &len);
		tdir = get_id(&d);
		tname = get_name(&d, &tlen);
		if (d.bad || persistent(dir, &dp) || persistent(tdir, &ip))
			return -EUCLEAN;
		err = vfs_rename(dir, name, len, tdir, tname, tlen, &ctx);
		return err;
	default:
		return -EUCLEAN;
	}
}

static const char *rec_name(uint16_t type)
{
	static const char *const names[] = {
	    [REC_CKPT_BEGIN] = "checkpoint start",
	    [REC_CKPT_ROOT] = "checkpoint root",
	    [REC_CKPT_ENTRY] = "checkpoint entry",
	    [REC_CKPT_TIMES] = "checkpoint times",
	    [REC_CKPT_NOTE] = "checkpoint note",
	    [REC_CKPT_END] = "checkpoint end",
	    [REC_CREATE] = "create",
	    [REC_WRITE] = "write",
	    [REC_SETDATA] = "set content",
	    [REC_SETATTR] = "set attributes",
	    [REC_LINK] = "link",
	    [REC_REMOVE] = "remove",
	    [REC_RENAME] = "rename",
	    [REC_NOTE] = "note",
	};

	return type < sizeof(names) / sizeof(names[0]) && names[type] ? names[type] : "unknown";
}

/*
 * Replay from the newest complete checkpoint to the end of the valid log.
 * Checkpoint records after it belong to an unfinished one: the tree
 * already holds what they would say.
 */
static int log_replay(struct loader *l)
{
	struct vfs_state *st = l->st;
	uint64_t pos = l->from;
	uint32_t prev = l->from_prev;
	bool in_ckpt = true;
	struct rec_hdr h;
	int err;

	replaying = true;
	while (pos < l->end) {
		if (!rec_read(st, pos, prev, &h)) {
			err = say(l, -EIO, "the log changed while it was read, at %llu",
				  (unsigned long long)pos);
			goto out;
		}
		if (h.type < REC_CREATE && !in_ckpt) {
			/* an unfinished checkpoint */
		} else {
			err = replay_one(st, &h);
			if (err == -ENOSPC) {
				err =
				    say(l, -ENOSPC,
					"the machine has no room for what the image holds (at log "
					"position %llu): give it more memory",
					(unsigned long long)pos);
				goto out;
			}
			if (err) {
				err = say(
				    l, -EUCLEAN,
				    "corrupt: the %s record at log position %llu does not apply "
				    "to the tree (%s)",
				    rec_name(h.type), (unsigned long long)pos, strerror(-err));
				goto out;
			}
			st->replayed++;
		}
		if (h.type == REC_CKPT_END)
			in_ckpt = false;
		prev = h.crc;
		pos += sizeof(h) + h.len;
	}
	err = 0;
out:
	replaying = false;
	return err;
}

/* The superblock slots: the valid one with the highest sequence, or why there is none. */
static int sb_load(struct loader *l, uint64_t file_size)
{
	struct vfs_state *st = l->st;
	bool magic = false, version = false;
	struct disk_sb best = {0};
	uint32_t other = 0;

	if (file_size < AREA_OFF)
		return say(l, file_size ? -EINVAL : -EUCLEAN,
			   file_size ? "not a state image (%llu bytes)"
				     : "an empty file, not a state image (%llu bytes): remove it "
				       "and a new image is made",
			   (unsigned long long)file_size);
	for (int slot = 0; slot < 2; slot++) {
		struct disk_sb sb;

		if (blk_read(&st->dev, (uint64_t)slot * SB_SLOT, &sb, sizeof(sb)))
			return say(l, -EIO, "can't read the superblock");
		if (memcmp(sb.magic, SB_MAGIC, 8) != 0)
			continue;
		magic = true;
		if (sb.version != SB_VERSION) {
			other = sb.version;
			continue;
		}
		version = true;
		if (sb.sb_size != sizeof(sb) || sb.crc != sb_crc(&sb) ||
		    sb.seq % 2 != (uint64_t)slot)
			continue;
		if (sb.seq > best.seq)
			best = sb;
	}
	if (!magic)
		return say(l, -EINVAL, "not a state image (no superblock)");
	if (!version)
		return say(l, -EPROTONOSUPPORT,
			   "an image of version %u; this server reads version %u", other,
			   SB_VERSION);
	if (!best.seq)
		return say(l, -EUCLEAN, "corrupt: neither superblock is valid");
	if (best.size > file_size)
		return say(l, -EFBIG, "truncated: %llu bytes of the %llu it was made with",
			   (unsigned long long)file_size, (unsigned long long)best.size);
	if (best.area_off != AREA_OFF || best.area_len != best.size - AREA_OFF ||
	    best.area_len < BLK_RING_SIZE)
		return say(l, -EUCLEAN, "corrupt: the superblock's log area is impossible");
	st->sb = best;
	/* Where the log lies, for reading it; the queue is set up once it is replayed. */
	st->dev.area_off = best.area_off;
	st->dev.area_len = best.area_len;
	return 0;
}

static uint64_t tree_bound(struct vfs_state *st)
{
	uint64_t b = sizeof(struct rec_hdr) * 3 + 64;

	st->ninodes = 0;
	for (unsigned i = 0; i < VFS_HASH_BUCKETS; i++)
		for (struct vfs_inode *ip = vfs_sb->hash[i]; ip; ip = ip->hnext)
			if ((ip->flags & VFS_F_PERSIST) && ip != vfs_sb->root) {
				ip->pbound = inode_bound(ip);
				b += ip->pbound;
				st->ninodes++;
			}
	for (int i = 0; i < NOTES_MAX; i++)
		if (st->notes[i])
			b += sizeof(struct rec_hdr) + 2 + st->notes[i]->klen + st->notes[i]->vlen;
	return b;
}

static int format(struct loader *l, uint64_t size)
{
	struct vfs_state *st = l->st;
	struct disk_sb *sb = &st->sb;
	int err;

	memset(sb, 0, sizeof(*sb));
	memcpy(sb->magic, SB_MAGIC, 8);
	sb->version = SB_VERSION;
	sb->sb_size = sizeof(*sb);
	sb->size = size;
	sb->area_off = AREA_OFF;
	sb->area_len = size - AREA_OFF;
	host_random(sb->uuid, sizeof(sb->uuid));
	sb->created = vfs_now().sec;
	/* Slot 0 gets sequence 2 on the first checkpoint; zero slot 1 so nothing old survives. */
	err = blk_write(&st->dev, SB_SLOT, (char[SB_SLOT]){0}, SB_SLOT);
	if (!err)
		err = blk_queue_init(&st->dev, AREA_OFF, sb->area_len, 0);
	if (err)
		return say(l, err, "can't set the new image up (%s)", strerror(-err));
	return 0;
}

int vfs_state_open(const char *path, uint64_t size, unsigned flags, char *msg, size_t msglen)
{
	bool readonly = flags & VFS_STATE_READONLY, created;
	struct vfs_state *st;
	struct loader l = {.msg = msg, .msglen = msglen};
	int err;

	if (msglen)
		msg[0] = '\0';
	if (vfs_sb->state)
		return -EALREADY;
	if (size < VFS_STATE_SIZE_MIN)
		size = VFS_STATE_SIZE_MIN;
	st = kzalloc(sizeof(*st));
	if (!st)
		return -ENOMEM;
	l.st = st;
	err = blk_open(&st->dev, path, readonly, flags & VFS_STATE_CREATE, size, &created);
	if (err) {
		snprintf(msg, msglen, "%s: %s%s", path, strerror(-err),
			 err == -EBUSY ? " (another server has it open)" : "");
		kfree(st);
		return err;
	}
	st->reserve = MAX((uint64_t)RESERVE_MIN, st->dev.size / 64);
	vfs_lock();
	vfs_sb->state = st;
	vfs_sb->root->flags |= VFS_F_PERSIST;
	vfs_unlock();
	if (created) {
		err = format(&l, size);
		if (!err) {
			vfs_lock();
			err = checkpoint(st);
			vfs_unlock();
			if (err)
				say(&l, err, "can't write the new image (%s)", strerror(-err));
		}
		if (err)
			goto out_fail;
		return 0;
	}
	err = sb_load(&l, st->dev.size);
	if (!err)
		err = log_scan(&l);
	if (!err)
		err = log_replay(&l);
	if (err)
		goto out_fail;
	if (!readonly) {
		err = blk_queue_init(&st->dev, st->sb.area_off, st->sb.area_len, l.end);
		if (err) {
			say(&l, err, "no memory for the log's ring");
			goto out_fail;
		}
	} else {
		st->dev.tail = l.end;
	}
	vfs_lock();
	st->prev_crc = l.end_crc;
	st->ckpt_lsn = st->sb.ckpt_lsn;
	st->ckpt_len = 0;
	st->bound = tree_bound(st);
	vfs_unlock();
	st->torn = l.torn;
	return 0;

out_fail:
	vfs_lock();
	vfs_sb->state = NULL;
	vfs_sb->root->flags &= ~VFS_F_PERSIST;
	vfs_unlock();
	blk_close(&st->dev);
	for (int i = 0; i < NOTES_MAX; i++)
		kfree(st->notes[i]);
	kfree(st);
	return err;
}

int vfs_state_probe(const char *path, uint64_t size, char *msg, size_t msglen)
{
	/* No machine yet: the probe's state lives in this process. */
	static struct vfs_state st;
	struct loader l = {.st = &st, .msg = msg, .msglen = msglen};
	bool created;
	int err;

	if (msglen)
		msg[0] = '\0';
	memset(&st, 0, sizeof(st));
	err = blk_open(&st.dev, path, true, false, 0, &created);
	if (err == -ENOENT) {
		uint64_t free = 0;

		err = host_dir_writable(path, &free);
		if (err) {
			snprintf(msg, msglen, "%s: the directory for a new image %s (%s)", path,
				 err == -ENOENT ? "does not exist" : "is not writable",
				 strerror(-err));
		} else if (free < MAX(size, VFS_STATE_SIZE_MIN)) {
			err = -ENOSPC;
			snprintf(msg, msglen,
				 "%s: a new image of %llu bytes does not fit: its filesystem has "
				 "%llu free (%s)",
				 path, (unsigned long long)MAX(size, VFS_STATE_SIZE_MIN),
				 (unsigned long long)free, strerror(ENOSPC));
		}
		return err;
	}
	if (err) {
		snprintf(msg, msglen, "%s: %s%s", path, strerror(-err),
			 err == -EBUSY ? " (another server has it open)" : "");
		return err;
	}
	err = sb_load(&l, st.dev.size);
	blk_close(&st.dev);
	return err;
}

bool vfs_state_active(char *path, size_t size)
{
	struct vfs_state *st = state();

	if (st && path && size)
		snprintf(path, size, "%s", st->dev.path);
	return st != NULL;
}

/* What growth the image still takes, in bytes (see vfs_state_stat's free). */
static uint64_t image_room(const struct vfs_state *st)
{
	uint64_t need = st->reserve + 2 * st->bound;

	return need < st->dev.area_len ? (st->dev.area_len - need) / 2 : 0;
}

uint64_t vfs_persist_room(void)
{
	struct vfs_state *st = state();

	return st ? image_room(st) : UINT64_MAX;
}

int vfs_state_stat(struct vfs_state_stat *s)
{
	struct vfs_state *st;
	struct blk_stats bs;
	/* A status file renders it, and renders run under the lock. */
	bool held = vfs_lock_held();

	if (!held)
		vfs_lock();
	st = state();
	if (!st) {
		if (!held)
			vfs_unlock();
		return -ENODEV;
	}
	blk_stats(&st->dev, &bs);
	memset(s, 0, sizeof(*s));
	snprintf(s->path, sizeof(s->path), "%s", st->dev.path);
	s->size = st->dev.size;
	s->log_size = st->dev.area_len;
	s->used = st->dev.tail - st->ckpt_lsn;
	s->live = st->bound;
	/*
	 * After a checkpoint the log holds the tree once and must keep room
	 * for the next: growth may take half of what the reserve leaves.
	 */
	s->free = image_room(st);
	s->position = st->dev.tail;
	s->checkpoint = st->ckpt_lsn;
	s->checkpoints = st->checkpoints;
	s->checkpoint_at = st->checkpoint_at;
	s->records = st->records;
	s->flushes = bs.flushes;
	s->syncs = bs.syncs;
	s->inodes = st->ninodes;
	s->replayed = st->replayed;
	s->torn = st->torn;
	s->err = st->failed ? st->failed : bs.err;
	if (!held)
		vfs_unlock();
	return 0;
}

void vfs_state_close(void)
{
	struct vfs_state *st = state();

	if (!st)
		return;
	if (!st->dev.readonly)
		vfs_sync_all();
	blk_close(&st->dev);
}
