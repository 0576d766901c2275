/*
 * The machine's NFSv3 client: ONC RPC over TCP (RFC 5531, record marking),
 * MOUNT3 and the NFS3 calls an importer needs (RFC 1813).
 *
 * kernel/net/sunrpc/clnt.c holds the RPC transport: a connection, XIDs,
 * retransmission with backoff, reconnection, AUTH_SYS. kernel/net/nfs/
 * nfs3clnt.c holds the MOUNT3 and NFS3 calls and their codecs.
 *
 * A client belongs to the process that opened it (its socket and buffers
 * are that process's, not the arena's) and is used by one thread at a time.
 * A call blocks its caller only: on a kernel thread it waits for the socket
 * with kthread_wait_fd, so the CPU runs its other threads meanwhile; on a
 * host thread it polls. Request threads never call it.
 *
 * Every call returns 0 or a negative errno. NFS3 statuses map to errnos
 * (NFS3ERR_NOENT -ENOENT, NFS3ERR_STALE -ESTALE, NFS3ERR_ACCES -EACCES, ...);
 * a server that does not answer within the retries is -ETIMEDOUT, one that
 * refuses the connection -ECONNREFUSED, a reply that does not decode -EPROTO.
 */
#ifndef UML_NFSCLNT_H
#define UML_NFSCLNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NFSCLNT_FH_MAX	 64   /* NFS3_FHSIZE */
#define NFSCLNT_NAME_MAX 255  /* longest name a call takes or a listing returns */
#define NFSCLNT_PATH_MAX 1024 /* longest export path */

/* Where and how to reach a server; nfsclnt_url_parse fills it from a URL. */
struct nfsclnt_opts {
	char host[64];		       /* a numeric IPv4 or IPv6 address */
	uint16_t port;		       /* NFS; 0: 2049 */
	uint16_t mount_port;	       /* MOUNT; 0: the NFS port */
	char export[NFSCLNT_PATH_MAX]; /* the path MOUNT is asked for */
	uint32_t uid, gid;	       /* AUTH_SYS credentials */
	uint32_t timeout_ms;	       /* first try's wait before a retransmission; 0: 1000 */
	uint32_t retries;	       /* retransmissions before -ETIMEDOUT; 0: 3 (wait doubles) */
};

/*
 * nfs://host[:port]/path[?mountport=N&uid=N&gid=N&timeo=MS&retrans=N]; an
 * IPv6 host is in brackets. Returns 0, or -EINVAL with the reason in @why.
 */
int nfsclnt_url_parse(const char *url, struct nfsclnt_opts *o, char *why, size_t whylen);

struct nfsclnt_fh {
	uint32_t len;
	uint8_t data[NFSCLNT_FH_MAX];
};

enum nfsclnt_type {
	NFSCLNT_REG = 1,
	NFSCLNT_DIR,
	NFSCLNT_BLK,
	NFSCLNT_CHR,
	NFSCLNT_LNK,
	NFSCLNT_SOCK,
	NFSCLNT_FIFO
};

struct nfsclnt_time {
	uint32_t sec, nsec;
};

/* fattr3 */
struct nfsclnt_attr {
	uint32_t type; /* enum nfsclnt_type */
	uint32_t mode, nlink, uid, gid;
	uint64_t size, used, fsid, fileid;
	struct nfsclnt_time atime, mtime, ctime;
};

struct nfsclnt_stats {
	uint64_t calls;	      /* calls answered */
	uint64_t retransmits; /* tries after the first */
	uint64_t reconnects;  /* connections made after the first */
	uint64_t timeouts;    /* calls that ended in -ETIMEDOUT */
};

struct nfsclnt;

/*
 * Connect and MOUNT @o->export. Returns 0 with *out and the export's root
 * handle in *root; -ECONNREFUSED, -ETIMEDOUT, -EACCES (the server refused
 * the mount), -ENOENT (no such export), -ENOMEM.
 */
int nfsclnt_open(const struct nfsclnt_opts *o, struct nfsclnt **out, struct nfsclnt_fh *root);
/* UMNT (best effort), close, free. */
void nfsclnt_close(struct nfsclnt *c);
/*
 * Close and free without UMNT: for a server that stopped answering, whose
 * UMNT would only wait out the retries (a mount table entry there is
 * harmless; RFC 1813 makes UMNT advisory).
 */
void nfsclnt_abandon(struct nfsclnt *c);
void nfsclnt_stats(const struct nfsclnt *c, struct nfsclnt_stats *st);

int nfsclnt_getattr(struct nfsclnt *c, const struct nfsclnt_fh *fh, struct nfsclnt_attr *attr);
/* @attr may be NULL. */
int nfsclnt_lookup(struct nfsclnt *c, const struct nfsclnt_fh *dir, const char *name,
		   struct nfsclnt_fh *fh, struct nfsclnt_attr *attr);
/* ACCESS3 bits (RFC 1813 section 3.3.4) */
#define ACCESS3_READ	0x01
#define ACCESS3_LOOKUP	0x02
#define ACCESS3_MODIFY	0x04
#define ACCESS3_EXTEND	0x08
#define ACCESS3_DELETE	0x10
#define ACCESS3_EXECUTE 0x20
/* ACCESS3: the bits of @want (ACCESS3_READ ...) the server grants, in *granted. */
int nfsclnt_access(struct nfsclnt *c, const struct nfsclnt_fh *fh, uint32_t want,
		   uint32_t *granted);
/* Up to @len bytes at @off; *got and *eof say what came. */
int nfsclnt_read(struct nfsclnt *c, const struct nfsclnt_fh *fh, uint64_t off, void *buf,
		 size_t len, size_t *got, bool *eof);

/*
 * A directory's whole listing (READDIRPLUS, continued by cookie). @fn is
 * called for each entry but "." and ".."; attr or fh is NULL when the server
 * left it out. A non-zero return from @fn stops the listing and is
 * returned. More than @max_entries entries: -EFBIG after @max_entries calls.
 */
typedef int (*nfsclnt_entry_fn)(void *arg, const char *name, const struct nfsclnt_fh *fh,
				const struct nfsclnt_attr *attr);
int nfsclnt_readdirplus(struct nfsclnt *c, const struct nfsclnt_fh *dir, uint32_t max_entries,
			nfsclnt_entry_fn fn, void *arg);

/* WRITE3 FILE_SYNC of @len bytes at @off (several calls if the server's wtmax asks). */
int nfsclnt_write(struct nfsclnt *c, const struct nfsclnt_fh *fh, uint64_t off, const void *buf,
		  size_t len);
/* CREATE3 UNCHECKED (an existing file is opened, not truncated); *fh may be NULL. */
int nfsclnt_create(struct nfsclnt *c, const struct nfsclnt_fh *dir, const char *name, uint32_t mode,
		   struct nfsclnt_fh *fh);
/* SETATTR3 of the size only (truncate or extend). */
int nfsclnt_truncate(struct nfsclnt *c, const struct nfsclnt_fh *fh, uint64_t size);

#endif
