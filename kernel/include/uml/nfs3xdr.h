/*
 * NFS v3 arguments and results as C structures, with their XDR codecs
 * (kernel/net/nfs/nfs3xdr.c). Every result starts with its nfsstat3 so the
 * program can count errors without knowing the procedure.
 */
#ifndef UML_NFS3XDR_H
#define UML_NFS3XDR_H

#include "uml/nfs3.h"
#include "uml/xdr.h"

struct nfs3_fh_arg {
	uint32_t len;
	uint8_t data[NFS3_FHSIZE_MAX];
};

struct nfs3_diropargs {
	struct nfs3_fh_arg dir;
	struct xdr_bytes name;
};

struct nfs3_setattr_args {
	struct nfs3_fh_arg fh;
	struct vfs_sattr s;
	bool guard;
	struct vfs_time guard_ctime;
};

struct nfs3_access_args {
	struct nfs3_fh_arg fh;
	uint32_t access;
};

/* READ and COMMIT */
struct nfs3_io_args {
	struct nfs3_fh_arg fh;
	uint64_t offset;
	uint32_t count;
};

enum nfs3_stable { NFS3_UNSTABLE = 0, NFS3_DATA_SYNC = 1, NFS3_FILE_SYNC = 2 };

struct nfs3_write_args {
	struct nfs3_fh_arg fh;
	uint64_t offset;
	uint32_t count;
	uint32_t stable;
	struct xdr_bytes data;
};

enum nfs3_createmode { NFS3_UNCHECKED = 0, NFS3_GUARDED = 1, NFS3_EXCLUSIVE = 2 };

/* CREATE, MKDIR, SYMLINK and MKNOD */
struct nfs3_create_args {
	struct nfs3_diropargs where;
	uint32_t mode; /* CREATE: enum nfs3_createmode; MKNOD: ftype3 */
	struct vfs_sattr s;
	uint8_t verf[8];	 /* CREATE EXCLUSIVE */
	struct xdr_bytes target; /* SYMLINK */
};

struct nfs3_rename_args {
	struct nfs3_diropargs from, to;
};

struct nfs3_link_args {
	struct nfs3_fh_arg fh;
	struct nfs3_diropargs link;
};

/* READDIR (dircount unused) and READDIRPLUS */
struct nfs3_readdir_args {
	struct nfs3_fh_arg dir;
	uint64_t cookie;
	uint8_t verf[8];
	uint32_t dircount;
	uint32_t maxcount;
};

struct nfs3_post_attr {
	bool present;
	struct vfs_attr a;
};

struct nfs3_wcc {
	bool pre_present;
	uint64_t pre_size;
	struct vfs_time pre_mtime, pre_ctime;
	struct nfs3_post_attr post;
};

/* Results that are a status and optional attributes (GETATTR: present on OK). */
struct nfs3_attr_res {
	uint32_t status;
	struct nfs3_post_attr attr;
};

/* Results that are a status and the wcc data of one object (SETATTR, REMOVE, RMDIR). */
struct nfs3_wcc_res {
	uint32_t status;
	struct nfs3_wcc wcc;
};

struct nfs3_lookup_res {
	uint32_t status;
	uint8_t fh[NFS_FH_SIZE];
	struct nfs3_post_attr obj, dir;
};

struct nfs3_access_res {
	uint32_t status;
	struct nfs3_post_attr attr;
	uint32_t access;
};

/* READLINK and READ: the data sits in the request's scratch. */
struct nfs3_data_res {
	uint32_t status;
	struct nfs3_post_attr attr;
	const uint8_t *data;
	uint32_t count;
	bool eof;
};

struct nfs3_write_res {
	uint32_t status;
	struct nfs3_wcc wcc;
	uint32_t count;
	uint32_t committed;
	uint8_t verf[8];
};

struct nfs3_create_res {
	uint32_t status;
	bool has_fh;
	uint8_t fh[NFS_FH_SIZE];
	struct nfs3_post_attr obj;
	struct nfs3_wcc dir;
};

struct nfs3_rename_res {
	uint32_t status;
	struct nfs3_wcc from, to;
};

struct nfs3_link_res {
	uint32_t status;
	struct nfs3_post_attr attr;
	struct nfs3_wcc dir;
};

/* One directory entry collected into the scratch, 8-byte aligned. */
struct nfs3_dirent {
	struct vfs_ino ino;
	uint64_t cookie;
	uint8_t fh[NFS_FH_SIZE];    /* READDIRPLUS */
	struct nfs3_post_attr attr; /* READDIRPLUS */
	uint16_t len;
	char name[];
};

struct nfs3_readdir_res {
	uint32_t status;
	bool plus;
	struct nfs3_post_attr attr;
	uint8_t verf[8];
	const uint8_t *entries; /* n packed struct nfs3_dirent */
	uint32_t n;
	bool eof;
};

struct nfs3_fsstat_res {
	uint32_t status;
	struct nfs3_post_attr attr;
	struct vfs_statfs st;
};

struct nfs3_fsinfo_res {
	uint32_t status;
	struct nfs3_post_attr attr;
	uint32_t rtmax, rtpref, rtmult, wtmax, wtpref, wtmult, dtpref;
	uint64_t maxfilesize;
	uint32_t properties;
};

struct nfs3_commit_res {
	uint32_t status;
	struct nfs3_wcc wcc;
	uint8_t verf[8];
};

/* Bytes of one entry3 / entryplus3 on the wire, and of the pieces around the list. */
#define NFS3_FATTR_SIZE 84
size_t nfs3_dirent_size(size_t namelen, bool plus);
/* Packed size of a struct nfs3_dirent holding a name of @namelen bytes. */
size_t nfs3_dirent_stride(size_t namelen);

/* Argument decoders: false when the arguments are malformed. */
bool nfs3_dec_fh(struct xdr *x, void *args);
bool nfs3_dec_setattr(struct xdr *x, void *args);
bool nfs3_dec_diropargs(struct xdr *x, void *args);
bool nfs3_dec_access(struct xdr *x, void *args);
bool nfs3_dec_io(struct xdr *x, void *args);
bool nfs3_dec_write(struct xdr *x, void *args);
bool nfs3_dec_create(struct xdr *x, void *args);
bool nfs3_dec_mkdir(struct xdr *x, void *args);
bool nfs3_dec_symlink(struct xdr *x, void *args);
bool nfs3_dec_mknod(struct xdr *x, void *args);
bool nfs3_dec_rename(struct xdr *x, void *args);
bool nfs3_dec_link(struct xdr *x, void *args);
bool nfs3_dec_readdir(struct xdr *x, void *args);
bool nfs3_dec_readdirplus(struct xdr *x, void *args);

/* Result encoders. */
void nfs3_enc_getattr(struct xdr *x, const void *res);
void nfs3_enc_wcc(struct xdr *x, const void *res);
void nfs3_enc_lookup(struct xdr *x, const void *res);
void nfs3_enc_access(struct xdr *x, const void *res);
void nfs3_enc_readlink(struct xdr *x, const void *res);
void nfs3_enc_read(struct xdr *x, const void *res);
void nfs3_enc_write(struct xdr *x, const void *res);
void nfs3_enc_create(struct xdr *x, const void *res);
void nfs3_enc_rename(struct xdr *x, const void *res);
void nfs3_enc_link(struct xdr *x, const void *res);
void nfs3_enc_readdir(struct xdr *x, const void *res);
void nfs3_enc_fsstat(struct xdr *x, const void *res);
void nfs3_enc_fsinfo(struct xdr *x, const void *res);
void nfs3_enc_pathconf(struct xdr *x, const void *res);
void nfs3_enc_commit(struct xdr *x, const void *res);

#endif
