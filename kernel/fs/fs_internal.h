/* Internals of kernel/fs shared by its files; other layers use uml/vfs.h. */
#ifndef UML_FS_INTERNAL_H
#define UML_FS_INTERNAL_H

#include "uml/compiler.h"
#include "uml/mm.h"
#include "uml/sync.h"
#include "uml/vfs.h"

/* Set on inodes that some process has attached hooks to. */
#define VFS_F_HOOKED 0x100
/* Set on inodes clients created: what they hold is charged to the scratch cap. */
#define VFS_F_SCRATCH 0x200
/* Set on inodes kept in the state image (persist.c): inherited from the directory at creation. */
#define VFS_F_PERSIST  0x400
#define VFS_F_INTERNAL (VFS_F_HOOKED | VFS_F_SCRATCH | VFS_F_PERSIST) /* not vfs_set_flags' */
/* Generation of inodes built by the application (vfs_put/vfs_mkpath): the same
 * at every boot, so handles to them outlive a full restart. Inodes created by
 * clients get the machine's per-boot generation instead, so a handle from an
 * earlier boot is stale rather than pointing at a different file. */
#define VFS_GEN_BUILT 1
/*
 * Inode numbers. The root is 1. A built inode's number comes from its
 * directory's number and its name (VFS_INO_BUILT and up), so it is the same
 * at every boot whatever else was built before it; clients' inodes count up
 * from 2 below that, and from VFS_INO_CLIENT2 once that range is used up.
 * Both are stable across restarts when the state image keeps them.
 */
#define VFS_INO_ROOT	1
#define VFS_INO_BUILT	(1ull << 31)
#define VFS_INO_CLIENT2 (1ull << 32)

#define VFS_HASH_BUCKETS 1024

struct vfs_dirent {
	struct vfs_dirent *next, *prev;
	struct vfs_inode *inode;
	struct vfs_inode *dir;	       /* the directory holding this entry */
	struct vfs_dirent *alias_next; /* the next entry naming the same inode */
	uint64_t cookie; /* increasing in list order; resumes readdir after this entry */
	uint16_t len;
	bool scratch; /* a client made it: charged to the scratch cap */
	char name[];
};

struct vfs_inode {
	uint64_t ino;
	uint32_t gen;
	uint32_t flags; /* VFS_F_* */
	enum vfs_type type;
	uint32_t mode, nlink, uid, gid;
	uint64_t size;
	uint64_t change;
	struct vfs_time atime, mtime, ctime;
	uint32_t ckpt_mark;	 /* persist.c: the checkpoint that last wrote it */
	uint64_t pbound;	 /* persist.c: what it adds to a checkpoint, at most */
	struct vfs_inode *hnext; /* hash chain */
	/*
	 * Every entry naming this inode (its links; NULL for the root), so
	 * the export a file lies in can be found from the file alone, hard
	 * links included (vfs_within).
	 */
	struct vfs_dirent *aliases;
	union {
		struct {
			/*
			 * The page tree (ramfs.c): its top, a page at height
			 * 0 or else a struct vfs_node, ORed with its height,
			 * in one word so that a holder dying between two
			 * stores never leaves a height that lies about its top.
			 */
			uintptr_t tree;
			/*
			 * A small file's data instead (ramfs.c): one kmalloc
			 * object holding its first ksize() bytes, zeros past
			 * the size; NULL when the file has a tree instead.
			 */
			char *small;
			uint64_t npages; /* pages in the tree */
			uint32_t nnodes; /* nodes of the tree */
			/*
			 * Pages and nodes a write has allocated and not linked
			 * yet, chained through their first word: kept here,
			 * not on the writer's stack, so that what a holder
			 * killed half way leaves is found and freed.
			 */
			void *spare_pages;
			struct vfs_node *spare_nodes;
			uint8_t verf[8]; /* exclusive-create verifier */
			bool has_verf;
			/*
			 * Hooked files: truncated to empty, awaiting the write
			 * that follows (`echo > f` is a truncate, then a write).
			 * The content in force is kept, and comes back if the
			 * write is refused or never comes.
			 */
			uint64_t trunc_since; /* monotonic ns; 0: none pending */
		} reg;
		struct {
			struct vfs_dirent *first, *last;
			struct vfs_inode *parent;
			uint64_t next_cookie;
			uint32_t nentries;
		} dir;
		struct {
			char *target;
			uint32_t len;
		} lnk;
	};
};

/*
 * A node of a file's page tree (ramfs.c): slot i of a node at level l >= 1
 * leads to the node (l > 1) or page (l == 1) holding page indices
 * i * 64^(l-1) onwards of the node's range; NULL is a hole. Nodes come from
 * vfs_sb->node_cache, aligned to VFS_NODE_SLOTS bytes so that the low bits of
 * a pointer to one are free for the tree's height.
 */
#define VFS_NODE_SHIFT 6
#define VFS_NODE_SLOTS (1u << VFS_NODE_SHIFT)
struct vfs_node {
	void *slot[VFS_NODE_SLOTS];
};

/* In the arena. Every field is guarded by lock. */
struct vfs_sb {
	kmutex_t lock; /* LOCK_RANK_VFS (sync.h): the outermost lock */
	uint64_t next_ino;
	uint32_t client_gen; /* generation for client-created inodes, per boot */
	uint64_t ninodes;
	uint64_t max_inodes;
	/*
	 * What clients' files hold (VFS_F_SCRATCH inodes, their pages, tree
	 * nodes and symlink targets, and the entries clients made), in bytes
	 * and in inodes, and the caps on both (vfs_scratch_charge). Written with
	 * __atomic stores under lock, so vfs_scratch_stat may read them
	 * without it.
	 */
	uint64_t scratch_used, scratch_limit;
	uint64_t scratch_inodes, scratch_max_inodes;
	struct kmem_cache *inode_cache;
	struct kmem_cache *node_cache; /* struct vfs_node */
	struct vfs_inode *root;
	/*
	 * A hooked file whose content is being replaced and committed
	 * (hooks.c); set only while the lock is held, so seen set by the next
	 * holder only when the last one died half way.
	 */
	struct vfs_inode *committing;
	struct vfs_state *state; /* persist.c: the state image, NULL when none */
	struct vfs_inode *hash[VFS_HASH_BUCKETS];
};

extern struct vfs_sb *vfs_sb;

void vfs_lock(void);
void vfs_unlock(void);
bool vfs_lock_held(void); /* by this host thread */
struct kcheck;
/* check.c: vfs_check with the lock held. */
void vfs_check_locked(struct kcheck *r);
/*
 * check.c: after the lock was taken over from a dead holder, free the
 * inodes it left without a name and set every link and entry count to what
 * the names say. Returns how many things it fixed.
 */
unsigned vfs_repair_locked(void);

/*
 * inode.c: a new inode numbered @ino (0: the next client number), of
 * generation @gen; the state image's replay may impose both (persist.c).
 */
struct vfs_inode *inode_new_ino(enum vfs_type type, uint32_t mode, const struct vfs_cred *cred,
				uint32_t gen, uint64_t ino);
/* The number of built inode @name in directory @dp: stable across boots. */
uint64_t inode_built_ino(const struct vfs_inode *dp, const char *name, size_t len);

/* inode.c: the scratch cap; called with the lock held. 0, or -ENOSPC past the cap. */
/* inode.c: set what the cap holds, counted again from the tree (check.c). */
void vfs_scratch_set(uint64_t used, uint64_t inodes);
int vfs_scratch_charge(uint64_t bytes);
void vfs_scratch_uncharge(uint64_t bytes);

/* inode.c; all called with the lock held */
struct vfs_inode *inode_get(struct vfs_ino id); /* NULL: stale */
/* The inode as a regular file: 0, -ESTALE, -EISDIR or -EINVAL (a symlink). */
int inode_get_reg(struct vfs_ino id, struct vfs_inode **out);
/* The inode as a directory: 0, -ESTALE or -ENOTDIR. */
int inode_get_dir(struct vfs_ino id, struct vfs_inode **out);
/* NULL when out of room; a client's inode (@gen not VFS_GEN_BUILT) is charged as scratch. */
struct vfs_inode *inode_new(enum vfs_type type, uint32_t mode, const struct vfs_cred *cred,
			    uint32_t gen);
void inode_put_link(struct vfs_inode *ip);	   /* drop one link; frees at zero */
void inode_free(struct vfs_inode *ip);		   /* unhash and free, data and all */
void inode_touch(struct vfs_inode *ip, bool data); /* ctime (and mtime if @data) to now */
/* Mode, owner and times as @s says (size is the caller's business). */
void inode_set_attrs(struct vfs_inode *ip, const struct vfs_sattr *s);
bool inode_may(const struct vfs_inode *ip, const struct vfs_cred *cred, uint32_t rwx);
struct vfs_time vfs_now(void);
static inline struct vfs_ino inode_id(const struct vfs_inode *ip)
{
	return (struct vfs_ino){ip->ino, ip->gen};
}

/*
 * ramfs.c: file data; all called with the lock held. A hole (a page never
 * written, or past a truncate that extended the file) reads as zeros.
 */
/* Up to @count bytes at @off into @buf, *@n of them (short at the end of the file): 0. */
int vfs_data_read(struct vfs_inode *ip, uint64_t off, void *buf, size_t count, size_t *n);
/*
 * Write @count bytes of @buf at @off, extending the file if it ends past its
 * size (zeros fill any gap: a hole). All or nothing: 0; -EFBIG when the write
 * would end past VFS_FILE_MAX (offset + count overflowing included); -ENOSPC
 * when the machine or the scratch cap has no room for the pages and nodes it
 * needs, and then nothing has changed. Hooked files are the caller's business
 * (vfs_hooks_edit validates first).
 */
int vfs_data_write(struct vfs_inode *ip, uint64_t off, const void *buf, size_t count);
/*
 * The first range [*@start, *@end) at or after @off, within the size, that
 * holds stored data, so a sparse file can be copied without walking its
 * holes: true, or false when nothing is stored at or past @off. Ranges are
 * runs of whole pages, or a small file's buffer, clipped to @off and the
 * size: one may hold zeros that were written or left by a truncate, but no
 * byte that is not zero is ever outside every range.
 */
bool vfs_data_next(struct vfs_inode *ip, uint64_t off, uint64_t *start, uint64_t *end);
/* Cut or extend to @size, freeing what lies past it: 0, or -EFBIG past VFS_FILE_MAX. */
int vfs_data_truncate(struct vfs_inode *ip, uint64_t size);
/*
 * Replace the whole content. A hooked file keeps its first page even when
 * emptied, so storing a value of at most a page never allocates.
 */
int vfs_data_set(struct vfs_inode *ip, const void *buf, size_t len);
/*
 * Give hooked @ip's content the page vfs_data_set keeps, moving a small
 * file's buffer there: 0, or -ENOSPC, and then its first change takes one.
 */
int vfs_data_hooked(struct vfs_inode *ip);
/* Whether the content is exactly @buf/@len. */
bool vfs_data_equal(struct vfs_inode *ip, const void *buf, size_t len);
void vfs_data_free(struct vfs_inode *ip);
/* Bytes @ip's data holds (the `used` attribute): pages, nodes and small buffer. */
uint64_t vfs_data_used(const struct vfs_inode *ip);
/* What @ip's data holds, counted by walking it (check.c). */
struct vfs_data_count {
	uint64_t pages, nodes;
	uint64_t bytes; /* all it holds, as charged to the scratch cap */
	uint64_t spare; /* allocated, not linked: only a holder that died leaves any */
};
void vfs_data_count(const struct vfs_inode *ip, struct vfs_data_count *c);
/*
 * check.c, after a holder died: free what its write left allocated and not
 * linked, and set @ip's counts from its tree. Returns how many things it fixed.
 */
unsigned vfs_data_repair(struct vfs_inode *ip);

/* hooks.c; all called with the lock held */
/* Finish the change of vfs_sb->committing a dead holder left, if this process has its hooks. */
void vfs_hooks_recover(void);
/* This process removes hooked @ip: release its hooks here (vfs_hooks.release). */
void vfs_hooks_forget(struct vfs_inode *ip);
/* Run a hooked file's render hook and store the result. */
void vfs_hooks_refresh(struct vfs_inode *ip);
/*
 * Edit hooked @ip as a client asked: write @count bytes of @buf at @off
 * (zeros fill any gap), or with @truncate make @off its new size. The content
 * so made is built without allocating, then validated, stored and
 * committed; content past VFS_HOOKED_MAX is refused (and reported) with
 * -EINVAL.
 */
int vfs_hooks_edit(struct vfs_inode *ip, uint64_t off, const void *buf, size_t count, bool truncate,
		   struct vfs_ctx *ctx);
/* A rename of regular file @src onto hooked @ip: @ip's content would become @src's. */
int vfs_hooks_replace_from(struct vfs_inode *ip, struct vfs_inode *src, struct vfs_ctx *ctx);
/*
 * The vfs refuses a change of hooked @ip with @err whatever its validator
 * says (@data/@len: what the client sent, or empty). Tell the hooks, so the
 * refusal is reported, put the reason (printf @fmt) in ctx->why, and return
 * @err.
 */
int vfs_hooks_refuse(struct vfs_inode *ip, int err, const char *data, size_t len,
		     struct vfs_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
#define VFS_HOOKED_MAX	     4096	   /* largest content of a validated file */
#define VFS_TRUNC_PENDING_NS 2000000000ull /* how long a truncate waits for its write */
/* Whether a truncate-to-empty of hooked @ip awaits its write (clears it when stale). */
bool vfs_trunc_pending(struct vfs_inode *ip);

/*
 * persist.c: the state image. Every change of an inode marked VFS_F_PERSIST
 * is described by a record appended to the image's log, under the lock, in
 * the order the tree changed. A change first asks for room
 * (vfs_persist_reserve: it may write a checkpoint, or refuse with -ENOSPC
 * when the image is full, or -EIO once the device failed), then changes
 * the tree, then logs. vfs_persist_rebound after a change of an inode's
 * names or data keeps the image's count of what a checkpoint would take.
 */
struct vfs_state;
bool vfs_persist_on(const struct vfs_inode *ip); /* a change of @ip must be logged */
uint64_t vfs_persist_room(void); /* growth the image still takes (UINT64_MAX: none open) */
/* @grow: bytes the change may add to a checkpoint (<= 0: it shrinks; may use the reserve). */
int vfs_persist_reserve(size_t rec, int64_t grow);
void vfs_persist_rebound(struct vfs_inode *ip);
void vfs_persist_forget(struct vfs_inode *ip); /* @ip is being freed */
/* Whether a name for @ip may go in @dp: both in the image or both outside (else -EXDEV). */
bool vfs_persist_same(const struct vfs_inode *dp, const struct vfs_inode *ip);
/* A data record's worst case for @count bytes (vfs_persist_reserve's @rec). */
size_t vfs_persist_write_rec(size_t count);
int64_t vfs_persist_data_grow(size_t count);
void vfs_persist_created(struct vfs_inode *dp, const char *name, size_t len, struct vfs_inode *ip);
void vfs_persist_write(struct vfs_inode *ip, uint64_t off, const void *buf, size_t count);
void vfs_persist_setdata(struct vfs_inode *ip);		       /* the whole content changed */
void vfs_persist_setattr(struct vfs_inode *ip, uint32_t mask); /* these attributes changed */
void vfs_persist_link(struct vfs_inode *ip, struct vfs_inode *dp, const char *name, size_t len);
void vfs_persist_remove(struct vfs_inode *dp, const char *name, size_t len, bool dir);
void vfs_persist_rename(struct vfs_inode *fdp, const char *fname, size_t flen,
			struct vfs_inode *tdp, const char *tname, size_t tlen);
/* After the lock was taken over from a dead holder: put the image in step with the tree. */
void vfs_persist_recover(void);
/* The clock of changes: the record's time while the image is replayed. */
bool vfs_persist_replaying(void);
/* The inode being made takes the number the replayed record gives it (true), once. */
bool vfs_persist_take_id(struct vfs_ino *id);
struct vfs_time vfs_persist_now(void);

#endif
