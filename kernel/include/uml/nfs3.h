/*
 * kernel/net/nfs internals: the export table in the arena, the file-handle
 * codec, and the MOUNT and NFS v3 programs (RFC 1813) served by nfs_svc_serve
 * (with NLM and NSM, uml/nlm.h).
 */
#ifndef UML_NFS3_H
#define UML_NFS3_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include "uml/nfs.h"
#include "uml/nlm.h"
#include "uml/rpc.h"
#include "uml/siphash.h"
#include "uml/sync.h"
#include "uml/vfs.h"

#define NFS_PROGRAM   100003
#define MOUNT_PROGRAM 100005
#define NFS3_NPROCS   22

#define NFS3_FHSIZE_MAX 64 /* nfs_fh3 limit on the wire */
#define NFS3_MAXDATA	(64 * 1024)
#define MNT_PATH_MAX	1024

/* Procedure numbers: the server's tables and the client's calls (nfs3clnt.c). */
enum {
	MOUNTPROC_NULL,
	MOUNTPROC_MNT,
	MOUNTPROC_DUMP,
	MOUNTPROC_UMNT,
	MOUNTPROC_UMNTALL,
	MOUNTPROC_EXPORT,
	MOUNTPROC_COUNT
};

enum {
	NFSPROC3_NULL,
	NFSPROC3_GETATTR,
	NFSPROC3_SETATTR,
	NFSPROC3_LOOKUP,
	NFSPROC3_ACCESS,
	NFSPROC3_READLINK,
	NFSPROC3_READ,
	NFSPROC3_WRITE,
	NFSPROC3_CREATE,
	NFSPROC3_MKDIR,
	NFSPROC3_SYMLINK,
	NFSPROC3_MKNOD,
	NFSPROC3_REMOVE,
	NFSPROC3_RMDIR,
	NFSPROC3_RENAME,
	NFSPROC3_LINK,
	NFSPROC3_READDIR,
	NFSPROC3_READDIRPLUS,
	NFSPROC3_FSSTAT,
	NFSPROC3_FSINFO,
	NFSPROC3_PATHCONF,
	NFSPROC3_COMMIT,
};

enum nfsstat3 {
	NFS3_OK = 0,
	NFS3ERR_PERM = 1,
	NFS3ERR_NOENT = 2,
	NFS3ERR_IO = 5,
	NFS3ERR_NXIO = 6,
	NFS3ERR_ACCES = 13,
	NFS3ERR_EXIST = 17,
	NFS3ERR_XDEV = 18,
	NFS3ERR_NODEV = 19,
	NFS3ERR_NOTDIR = 20,
	NFS3ERR_ISDIR = 21,
	NFS3ERR_INVAL = 22,
	NFS3ERR_FBIG = 27,
	NFS3ERR_NOSPC = 28,
	NFS3ERR_ROFS = 30,
	NFS3ERR_MLINK = 31,
	NFS3ERR_NAMETOOLONG = 63,
	NFS3ERR_NOTEMPTY = 66,
	NFS3ERR_DQUOT = 69,
	NFS3ERR_STALE = 70,
	NFS3ERR_REMOTE = 71,
	NFS3ERR_BADHANDLE = 10001,
	NFS3ERR_NOT_SYNC = 10002,
	NFS3ERR_BAD_COOKIE = 10003,
	NFS3ERR_NOTSUPP = 10004,
	NFS3ERR_TOOSMALL = 10005,
	NFS3ERR_SERVERFAULT = 10006,
	NFS3ERR_BADTYPE = 10007,
	NFS3ERR_JUKEBOX = 10008,
};

enum mountstat3 {
	MNT3_OK = 0,
	MNT3ERR_PERM = 1,
	MNT3ERR_NOENT = 2,
	MNT3ERR_IO = 5,
	MNT3ERR_ACCES = 13,
	MNT3ERR_NOTDIR = 20,
	MNT3ERR_INVAL = 22,
	MNT3ERR_NAMETOOLONG = 63,
	MNT3ERR_NOTSUPP = 10004,
	MNT3ERR_SERVERFAULT = 10006,
};

/* Map a vfs errno (negative) to nfsstat3; 0 maps to NFS3_OK. */
uint32_t nfs3_errno(int err);

/* --- file handles (fh.c) --- */

/*
 * A handle names the export (by the inode of its root, which a rebuilt tree
 * gives back unchanged, unlike a slot number that moves when the
 * configuration does) and the file (ino, gen), and carries a MAC over both
 * under the installation's key (fh.c), so it can be neither forged nor
 * moved to another export.
 */
#define NFS_FH_SIZE    32
#define NFS_FH_VERSION 2

struct nfs_fh {
	struct vfs_ino root; /* the export's root directory */
	struct vfs_ino ino;  /* the file */
};

void nfs_fh_encode(const struct nfs_fh *fh, uint8_t out[NFS_FH_SIZE]);
/* Returns 0, or -EBADF when @p/@len is not a handle we made under our key. */
int nfs_fh_decode(const uint8_t *p, size_t len, struct nfs_fh *fh);
/* A fresh random key: 0 or a negative errno. */
int nfs_fh_key_new(uint8_t key[SIPHASH_KEY_SIZE]);
/*
 * Key the handles with the secret in @path (32 hex digits), made there with
 * mode 0600 when the file does not exist. A file that others may read is
 * refused (-EPERM). Returns 0, or a negative errno with a message in @err.
 */
int nfs_fh_key_file(const char *path, char *err, size_t errlen);

/* --- exports (export.c) --- */

struct kcheck;
/* Audit the export table into @r (uml/check.h). */
void nfs_check(struct kcheck *r);

/* One allowlist entry (nfs_client_valid says which texts fit). */
struct nfs_client_match {
	struct rpc_cidr cidr;
	char text[48]; /* as configured, for the EXPORT listing */
};

struct nfs_export {
	char path[NFS_EXPORT_PATH_MAX];
	bool rw;
	bool secure; /* privileged source ports only */
	struct vfs_ino root;
	uint32_t nclients;
	struct nfs_client_match clients[NFS_MAX_CLIENTS];
	/*
	 * Of every byte above: an entry a dead configurer left half copied
	 * doesn't match it, and is dropped rather than served (export.c).
	 */
	uint64_t sum;
};

/* The service's state in the arena (machine->nfs). */
struct nfs_state {
	spinlock_t lock; /* guards nexports and exports[]; LOCK_RANK_EXPORTS (sync.h) */
	/* The handles' MAC key: set at nfs_init, or from a key file before serving. */
	uint8_t fh_key[SIPHASH_KEY_SIZE];
	uint32_t nexports;
	struct nfs_export exports[NFS_MAX_EXPORTS];

	/* NFS clients' locks (lock.c): its own lock guards it. */
	struct nfs_lock_table locks;

	/* Counters: atomics, no lock. */
	struct rpc_stats rpc;
	_Atomic uint64_t errors; /* NFS replies with a status other than NFS3_OK */
	_Atomic uint64_t proc[NFS3_NPROCS];
};

/* What a call needs to know about the export of a handle. */
struct nfs_export_view {
	struct vfs_ino root;
	bool rw;
};

/*
 * Canonical form of an absolute path: no repeated or trailing '/'. Returns 0,
 * -EINVAL (relative, or a "." or ".." component) or -ENAMETOOLONG.
 */
int nfs_path_normalize(const char *in, char *out, size_t size);
/*
 * The export whose root is @root, if @peer may use it. Returns 0, or -EACCES
 * (not allowed, or no such export: during a reconfiguration a handle's export
 * may be missing for a moment, and a refusal is better than a permanent
 * ESTALE in the client).
 */
int nfs_export_check(struct vfs_ino root, const struct sockaddr *peer, struct nfs_export_view *v);
/*
 * For MOUNT: the export @peer may use whose path is the longest prefix of the
 * normalized absolute @path. Returns 0, -EACCES (exported, not to @peer) or
 * -ENOENT (not exported).
 */
int nfs_export_for_path(const char *path, const struct sockaddr *peer, struct nfs_export_view *v);
/* Copy the table (at most @max entries) for the EXPORT listing; returns the count. */
uint32_t nfs_export_snapshot(struct nfs_export *out, uint32_t max);

/* --- programs (mount3.c, nfs3proc.c) --- */

extern const struct rpc_program mount3_program;
extern const struct rpc_program mount1_program;
extern const struct rpc_program nfs3_program;
/* MOUNT v1 and v3, NFS v3, NLM v4 and NSM v1 (uml/nlm.h): what nfs_svc_serve answers. */
extern const struct rpc_service nfs_service;

/* The arena's service state, or NULL before nfs_init. */
struct nfs_state *nfs_state(void);

#endif
