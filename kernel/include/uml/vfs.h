/*
 * kernel/fs: the machine's filesystem. One ramfs tree shared by every CPU,
 * guarded by one sleeping lock (vfs.lock); every call below takes and drops it
 * itself, so callers never hold it.
 *
 * Inodes are named by (ino, gen). The pair is what file handles carry; an inode
 * number is reused only with a new generation, so a stale handle is detected
 * (-ESTALE), never confused with another file. Inode numbers are handed out in
 * creation order, so a tree built the same way at every boot gives the same
 * handles to the same files.
 *
 * Hooked files: a process may attach hooks to an inode (vfs_set_hooks). The
 * hooks live in that process's memory, not in the arena, because code
 * addresses differ between processes that loaded the library separately (and
 * change when httpd reloads the module); every process that serves the tree
 * must attach them. Their contract is at struct vfs_hooks.
 *
 * All calls return 0 or a negative errno.
 */
#ifndef UML_VFS_H
#define UML_VFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define VFS_NAME_MAX 255
#define VFS_PATH_MAX 1024
/* Largest regular file, as Linux's MAX_LFS_FILESIZE: what it holds is bounded by memory. */
#define VFS_FILE_MAX ((uint64_t)INT64_MAX)
#define VFS_NGROUPS  16

enum vfs_type { VFS_REG = 1, VFS_DIR = 2, VFS_LNK = 5 }; /* values of NFSv3 ftype3 */

struct vfs_ino {
	uint64_t ino;
	uint32_t gen;
};

struct vfs_time {
	int64_t sec;
	uint32_t nsec;
};

struct vfs_attr {
	enum vfs_type type;
	uint32_t mode; /* permission bits only (07777) */
	uint32_t nlink;
	uint32_t uid, gid;
	uint64_t size;
	uint64_t used;	 /* bytes of storage held */
	uint64_t fileid; /* == ino */
	uint64_t change; /* bumps on every change of data or attributes */
	struct vfs_time atime, mtime, ctime;
};

/* Which attributes a SETATTR/CREATE sets. */
#define VFS_SET_MODE	  0x01
#define VFS_SET_UID	  0x02
#define VFS_SET_GID	  0x04
#define VFS_SET_SIZE	  0x08
#define VFS_SET_ATIME	  0x10 /* to atime */
#define VFS_SET_MTIME	  0x20 /* to mtime */
#define VFS_SET_ATIME_NOW 0x40
#define VFS_SET_MTIME_NOW 0x80

struct vfs_sattr {
	uint32_t mask; /* VFS_SET_* */
	uint32_t mode, uid, gid;
	uint64_t size;
	struct vfs_time atime, mtime;
};

/* Who is asking. uid 0 is not special unless the export allows it (root_squash is the caller's). */
struct vfs_cred {
	uint32_t uid, gid;
	uint32_t ngroups;
	uint32_t groups[VFS_NGROUPS];
};

/* The caller of one operation: credentials, and the peer for messages. */
struct vfs_ctx {
	struct vfs_cred cred;
	const char *client; /* e.g. "127.0.0.1:871", for error reports; may be NULL */
	char *why;	    /* hooks may explain a refusal here (NUL-terminated) */
	size_t whylen;
};

/* ACCESS bits, as NFSv3 ACCESS3_*. */
#define VFS_ACCESS_READ	   0x01
#define VFS_ACCESS_LOOKUP  0x02
#define VFS_ACCESS_MODIFY  0x04
#define VFS_ACCESS_EXTEND  0x08
#define VFS_ACCESS_DELETE  0x10
#define VFS_ACCESS_EXECUTE 0x20

/* Flags of inodes, for vfs_set_flags. */
#define VFS_F_PINNED   0x1 /* can't be removed or renamed away (knobs, /status) */
#define VFS_F_READONLY 0x2 /* no writes or setattr by anyone through vfs_* calls */
#define VFS_F_NOCREATE 0x4 /* directory: no new entries by clients */

/*
 * Hooks of one file in one process. The caller owns the structure and fills
 * the slots and @arg; vfs_set_hooks links it into this process's table and
 * keeps it, not a copy, until it calls @release. Any slot may be NULL, and an
 * empty slot has a meaning of its own (said at each), so a caller that wraps
 * other hooks fills a structure per file rather than pointing every file at
 * one table of wrappers.
 *
 * Every slot is called with the vfs lock held, in the process serving the
 * call, so it may not call vfs_* (they take that lock, which is not
 * recursive), and every client of the machine waits while it runs.
 */
struct vfs_hooks {
	/*
	 * A write, truncate or rename-over would make the file's content
	 * @data/@len. Return 0 to accept, or a negative errno (-EINVAL,
	 * -ERANGE, ...) to refuse; the content then stays as it was. Writing
	 * an explanation to ctx->why is welcome. A truncate to empty (the first
	 * half of `echo > file`) doesn't come here: the file reads as empty
	 * while the vfs waits for the write that follows, which is validated
	 * against empty content; if it is refused, or none comes within two
	 * seconds, the content in force is back. On a VFS_F_READONLY file
	 * validate only hears of attempts when @refused is NULL, to report
	 * them: they are refused with -EACCES whatever it answers. NULL: no
	 * change of the file's content is accepted in this process (-EACCES).
	 * Called with the vfs lock held; may not call vfs_*.
	 */
	int (*validate)(void *arg, const char *data, size_t len, struct vfs_ctx *ctx);
	/*
	 * The content is now @data/@len (accepted by validate). NULL: nobody
	 * is told. Called with the vfs lock held; may not call vfs_*.
	 */
	void (*commit)(void *arg, const char *data, size_t len);
	/*
	 * Produce the content of a generated file into @buf (at most @size
	 * bytes); return the length. Called before GETATTR and READ so size and
	 * data agree. The vfs stores the result; mtime moves only when it
	 * changed. NULL: the stored content is served as it is. Called with
	 * the vfs lock held; may not call vfs_*.
	 */
	size_t (*render)(void *arg, char *buf, size_t size);
	/*
	 * The vfs refused a change on its own, whatever validate would say:
	 * content past VFS_HOOKED_MAX (4096) bytes (-EINVAL), no memory left to
	 * store content validate accepted (-ENOSPC), a change of mode or owner
	 * (-EPERM), a write to a VFS_F_READONLY file (-EACCES). @err is what
	 * the caller gets and @why says why; @data/@len is what the client sent
	 * (the bytes of a write, at most the first 4096; the accepted content;
	 * empty for a truncate or an attribute). For reports only: the refusal
	 * stands. NULL: a VFS_F_READONLY file's validate hears of the attempt
	 * instead, as above. Called with the vfs lock held; may not call vfs_*.
	 */
	void (*refused)(void *arg, const char *data, size_t len, int err, const char *why,
			struct vfs_ctx *ctx);
	/*
	 * The vfs has let go of these hooks: they were replaced or detached
	 * (vfs_set_hooks), or this process removed the file. It never touches
	 * the structure again, so the caller may free it here. NULL: the
	 * caller's storage outlives the hooks. Called with the vfs lock held;
	 * may not call vfs_*.
	 */
	void (*release)(void *arg);
	void *arg; /* handed back to every slot */
	/* The vfs's while it holds the hooks: the file, and the next hooks in its chain. */
	struct vfs_ino id;
	struct vfs_hooks *next;
};

struct vfs_statfs {
	uint64_t tbytes, fbytes, abytes; /* total, free, free to users */
	uint64_t tfiles, ffiles, afiles;
};

/* At boot, in the arena: creates the root directory (ino 1). */
int vfs_init(void);
struct kcheck;
/*
 * Audit the tree into @r (uml/check.h), under the vfs lock: taken here, or
 * already held by this thread when called from a hook (a render of
 * /status/check).
 */
void vfs_check(struct kcheck *r);
/* In a process that attached to a booted machine. */
void vfs_use(void);

struct vfs_ino vfs_root(void);

int vfs_getattr(struct vfs_ino f, struct vfs_attr *a);
int vfs_setattr(struct vfs_ino f, const struct vfs_sattr *s, struct vfs_ctx *ctx,
		struct vfs_attr *out);
int vfs_lookup(struct vfs_ino dir, const char *name, size_t len, struct vfs_ino *out);
/*
 * Whether @f lies in the tree under directory @root: @root itself, or
 * reachable from it by names (a file with several links when one of them
 * is). Returns 0, or -ESTALE when it is not (or either no longer exists).
 */
int vfs_within(struct vfs_ino root, struct vfs_ino f);
/* Which of @want (VFS_ACCESS_*) @cred may do; stored in *granted. */
int vfs_access(struct vfs_ino f, const struct vfs_cred *cred, uint32_t want, uint32_t *granted);
int vfs_readlink(struct vfs_ino f, char *buf, size_t size, size_t *len);
/* Up to @count bytes at @off into @buf; *@n bytes read, *@eof at end of file. */
int vfs_read(struct vfs_ino f, uint64_t off, void *buf, size_t count, size_t *n, bool *eof);
/* Write @count bytes at @off; hooked files see the whole resulting content first. */
int vfs_write(struct vfs_ino f, uint64_t off, const void *buf, size_t count, struct vfs_ctx *ctx);

/*
 * Create a regular file. @excl: fail with -EEXIST if the name exists;
 * otherwise an existing regular file is opened (and truncated when @s sets
 * size 0). @verf (may be NULL) is an exclusive-create verifier: a retried
 * exclusive create with the same verifier succeeds.
 */
int vfs_create(struct vfs_ino dir, const char *name, size_t len, const struct vfs_sattr *s,
	       bool excl, const uint8_t verf[8], struct vfs_ctx *ctx, struct vfs_ino *out);
int vfs_mkdir(struct vfs_ino dir, const char *name, size_t len, const struct vfs_sattr *s,
	      struct vfs_ctx *ctx, struct vfs_ino *out);
int vfs_symlink(struct vfs_ino dir, const char *name, size_t len, const char *target, size_t tlen,
		const struct vfs_sattr *s, struct vfs_ctx *ctx, struct vfs_ino *out);
int vfs_link(struct vfs_ino f, struct vfs_ino dir, const char *name, size_t len,
	     struct vfs_ctx *ctx);
int vfs_remove(struct vfs_ino dir, const char *name, size_t len, struct vfs_ctx *ctx);
int vfs_rmdir(struct vfs_ino dir, const char *name, size_t len, struct vfs_ctx *ctx);
/*
 * Rename; an existing target is replaced as POSIX rename(2) does. When the
 * target is a hooked file, the source's content is validated and written
 * into the target (which keeps its inode) and the source name goes away.
 */
int vfs_rename(struct vfs_ino fdir, const char *fname, size_t flen, struct vfs_ino tdir,
	       const char *tname, size_t tlen, struct vfs_ctx *ctx);

/*
 * Call @fn for each entry of @dir after @cookie (0: from the start; "." and
 * ".." are included first). Each entry's cookie resumes after it and stays
 * valid while the entry exists. @fn returns non-zero to stop. *@verf is a
 * verifier that changes when earlier cookies may have become invalid.
 */
typedef int (*vfs_filldir_t)(void *arg, const char *name, size_t len, struct vfs_ino ino,
			     uint64_t cookie);
int vfs_readdir(struct vfs_ino dir, uint64_t cookie, uint64_t *verf, vfs_filldir_t fn, void *arg);

/*
 * Free to users (abytes, afiles) is what the scratch cap leaves clients, when
 * the machine has that much.
 */
int vfs_statfs(struct vfs_statfs *st);

/*
 * The scratch cap: the memory that clients' files may hold -- the data,
 * symlink targets, directory entries and inodes of what clients create (and
 * every entry a client makes, by link or rename too). Growth past it gets
 * -ENOSPC, and so does growth past clients' first sixteenth of the
 * machine that would leave less than 5/16 of it free (the quarter new
 * connections need, and room for some), while files the application builds (vfs_put, vfs_mkpath)
 * and hooked files have the rest, so knobs and status keep working on a full tree. Clients' inodes
 * are capped at half of the inode table alike. @bytes 0: the default, half of the machine's memory.
 * A cap below what clients hold already refuses growth until they remove enough. Returns 0, or
 * -EINVAL when @bytes is more than the machine's memory.
 */
int vfs_set_scratch_limit(uint64_t bytes);
/*
 * What clients' files hold and the cap, in bytes. Reads without the lock
 * (status renders run under it): the two may be a moment apart.
 */
void vfs_scratch_stat(uint64_t *used, uint64_t *limit);

/* --- for code that builds the tree (libuml), not for clients --- */

/* Resolve an absolute path; -ENOENT if any part is missing. */
int vfs_walk(const char *path, struct vfs_ino *out);
/* mkdir -p; mode for new directories. */
int vfs_mkpath(const char *path, uint32_t mode, struct vfs_ino *out);
/* Create or replace the content of a file without hooks or permission checks. */
int vfs_put(const char *path, uint32_t mode, const void *data, size_t len, struct vfs_ino *out);
/*
 * Make @data/@len the whole content of regular file @f in one change, as a
 * client's write would: a hooked file's validate sees it (with @ctx, whose
 * client names the writer and whose why gets the reason of a refusal) and
 * its commit follows. No permission checks. 0, or the refusal's errno.
 */
int vfs_replace(struct vfs_ino f, const void *data, size_t len, struct vfs_ctx *ctx);
int vfs_set_flags(struct vfs_ino f, uint32_t flags);
/*
 * Attach @h to regular file @f in this process (the arena holds no code
 * addresses: every process that serves @f attaches its own; a forked child
 * starts with a copy of its parent's). The vfs keeps @h itself until it calls
 * h->release, so @h serves one file at a time; hooks this process held on @f
 * before are released first (unless they are @h). NULL detaches: this
 * process's hooks on @f are released, and @f is no longer hooked in any
 * process. The table has no fixed size: every regular file may be hooked.
 * Returns 0; -ESTALE (@f is gone) or -EINVAL (not a regular file), and then
 * @h was not taken.
 */
int vfs_set_hooks(struct vfs_ino f, struct vfs_hooks *h);
/*
 * Release every hooks structure of this process, leaving the files marked
 * hooked: other processes keep theirs, and this one refuses writes to them
 * until it sets hooks again. For code about to be unloaded (an httpd module
 * at a graceful restart), whose hooks would otherwise outlive it.
 */
void vfs_hooks_release_all(void);

/* --- the state image (persist.c): a persistent tree on a block device --- */

/*
 * What the state image holds and how its log is doing (vfs_state_stat).
 * Positions are bytes of the log's stream, which only grows.
 */
struct vfs_state_stat {
	char path[256];
	uint64_t size;	       /* bytes of the image file */
	uint64_t log_size;     /* of it, the circular log */
	uint64_t used;	       /* log bytes from the newest checkpoint on */
	uint64_t live;	       /* what a checkpoint of the tree would take, at most */
	uint64_t free;	       /* room for growth before -ENOSPC */
	uint64_t position;     /* the log's tail */
	uint64_t checkpoint;   /* where the newest checkpoint starts */
	uint64_t checkpoints;  /* written since the image was opened */
	int64_t checkpoint_at; /* wall seconds of the newest, 0 if none this boot */
	uint64_t records;      /* appended since open */
	uint64_t flushes;      /* syncs of the image file */
	uint64_t syncs;	       /* durable changes asked for (several share a flush) */
	uint64_t inodes;       /* inodes kept in the image */
	uint64_t replayed;     /* records replayed at open */
	uint64_t torn;	       /* bytes of an unfinished tail discarded at open */
	int err;	       /* the device's first error; the image takes no changes since */
};

#define VFS_STATE_CREATE   0x1 /* make the image when the file does not exist */
#define VFS_STATE_READONLY 0x2 /* load and check only; nothing is written (umlfsck) */
#define VFS_STATE_SIZE_MIN (1ull << 20)

/*
 * Keep the tree in the image at @path from now on: load what the image
 * holds into the tree (with each inode's number and generation, so file
 * handles stay valid across restarts), and from then on every change of the
 * root and of what is created after this call is logged; what the
 * application built before (its generated files) stays in memory only. With
 * VFS_STATE_CREATE a missing file is made, @size bytes (at least
 * VFS_STATE_SIZE_MIN). An existing image is never rewritten when it can't
 * be loaded. Returns 0 or a negative errno with a sentence in @msg:
 * -ENOENT/-EACCES/-ENOSPC (the file, or the directory for a new one),
 * -EBUSY (another machine has it open), -EINVAL (not a state image),
 * -EPROTONOSUPPORT (an image of another version), -EUCLEAN (corrupt or
 * inconsistent), -EFBIG (truncated: shorter than it says), -EALREADY (a
 * state is open), -ENOMEM, -ENOSPC (the tree can't hold what it holds).
 */
int vfs_state_open(const char *path, uint64_t size, unsigned flags, char *msg, size_t msglen);
/*
 * Without a machine (before booting one): would vfs_state_open of @path
 * with VFS_STATE_CREATE and @size get past the file and its superblock? A
 * missing file needs a writable directory with @size bytes free. The log is
 * checked only by the open. 0, or the open's error and sentence.
 */
int vfs_state_probe(const char *path, uint64_t size, char *msg, size_t msglen);
/* Whether a state image is open; its path in @path (may be NULL). */
bool vfs_state_active(char *path, size_t size);
/* Under the lock: taken here, or already held by this thread (a status file's render). */
int vfs_state_stat(struct vfs_state_stat *st);
/*
 * Make durable every change this thread made to the image (NFS replies
 * for changes come after it): 0 at once when there is none, or the
 * device's error.
 */
int vfs_sync(void);
/* The same for every change anybody made (NFS COMMIT). */
int vfs_sync_all(void);
/* Where this thread's last change ends in the log: moves when a change is logged. */
uint64_t vfs_sync_pos(void);
/* Write a checkpoint now: 0, -ENODEV (no state), -ENOSPC or the device's error. */
int vfs_state_checkpoint(void);
/*
 * Notes: small named values the application keeps in the image, not in
 * the tree (mod_umlconf: the httpd.conf value of each knob when it was
 * saved). Get copies the value (NUL-terminated) and returns its length,
 * or -ENOENT; set stores it durably (empty @value removes it). Keys and
 * values are at most VFS_NOTE_MAX bytes.
 */
#define VFS_NOTE_MAX 256
int vfs_state_note_get(const char *key, char *buf, size_t size);
int vfs_state_note_set(const char *key, const char *value);
/* At a clean stop: everything logged, unstable writes too, made durable; the device closed. */
void vfs_state_close(void);

#endif
