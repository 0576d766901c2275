/*
 * kernel/net: the NFSv3 service (MOUNT v3 + NFS v3 over ONC RPC, TCP and UDP
 * on one port) serving the vfs, and its export table.
 *
 * Exports live in the arena so that every CPU serves the same table; the
 * process that configures the machine sets them (nfs_export_*), the CPUs
 * serve them (nfs_svc_serve, over the sunrpc transports of uml/svc.h). A
 * client outside an export's allowlist is refused at MOUNT and at every NFS
 * call made with a handle of that export.
 */
#ifndef UML_NFS_H
#define UML_NFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "uml/svc.h"

#define NFS_MAX_EXPORTS	    16
#define NFS_MAX_CLIENTS	    16 /* allowlist entries per export */
#define NFS_EXPORT_PATH_MAX 256

/* At boot, in the arena. */
int nfs_init(void);

/* Drop every export (a new configuration replaces the old). */
void nfs_exports_clear(void);
/* Flags of an export. */
#define NFS_EXPORT_RW	  0x1 /* clients may change the tree (else read-only) */
#define NFS_EXPORT_SECURE 0x2 /* calls must come from a privileged port (< 1024) */

/*
 * Export @path (an existing directory of the vfs) with NFS_EXPORT_* @flags.
 * @clients are addresses or CIDR prefixes ("127.0.0.1", "10.1.0.0/16",
 * "::1", "*" for anyone). Returns 0, or -EINVAL/-ENOENT/-ENOSPC with a
 * message in @err.
 */
int nfs_export_add(const char *path, unsigned flags, const char *const *clients, size_t nclients,
		   char *err, size_t errlen);
/*
 * Whether @spec would be taken as a client of an export: what
 * rpc_cidr_parse accepts, in at most 47 bytes (the table keeps the text).
 * 0 or -EINVAL.
 */
int nfs_client_valid(const char *spec);
/* True when @peer is listed by some export: the others are refused at accept. */
bool nfs_peer_listed(const struct sockaddr *peer);

/*
 * Serve the exports on @l (uml/svc.h) from the calling host thread until
 * @stop_fd becomes readable. Many CPUs may serve one listener at once; each
 * connection is served by the CPU that accepted it. Memory per connection
 * is bounded; a malformed record is answered with an RPC error or the
 * connection is dropped. Returns 0 when stopped, -ENODEV before nfs_init,
 * or a negative errno when it could not run.
 */
int nfs_svc_serve(const struct svc_listener *l, int stop_fd);
/*
 * Serve @l with kernel threads of the calling CPU, next to its other
 * threads, until nfs_svc_stop (called on that CPU).
 */
int nfs_svc_start(const struct svc_listener *l, struct svc_serv **out);
void nfs_svc_stop(struct svc_serv *s);

struct nfs_stats {
	uint64_t calls, errors, garbage, connections, refused, unlisted;
	uint64_t proc[22]; /* NFSv3 calls by procedure number */
};
void nfs_stats(struct nfs_stats *st);

#endif
