/*
 * The NFS service: MOUNT, NFS v3 and the lock programs (NLM v4, NSM v1) on
 * one port, served by the sunrpc transports (uml/svc.h) with the counters
 * kept in the arena and the export lists as the transports' admission
 * check. All the NFS wiring of the transports is here; they know nothing of
 * NFS.
 */
#include <errno.h>
#include "uml/nfs3.h"

static const struct rpc_program *const nfs_programs[] = {
    &mount3_program, /* MOUNT v3 (mount3.c) */
    &mount1_program, /* and v1, which clients may probe */
    &nfs3_program,   /* NFS v3 (nfs3proc.c) */
    &nlm4_program,   /* clients' locks (nlm4proc.c) */
    &nsm1_program,   /* their reboots (nsm1proc.c) */
};

const struct rpc_service nfs_service = {
    .progs = nfs_programs,
    .nprogs = ARRAY_SIZE(nfs_programs),
    .admit = nfs_peer_listed,
};

int nfs_svc_serve(const struct svc_listener *l, int stop_fd)
{
	struct nfs_state *st = nfs_state();

	if (!st)
		return -ENODEV;
	return rpc_svc_loop(&nfs_service, l, stop_fd, &st->rpc);
}

int nfs_svc_start(const struct svc_listener *l, struct svc_serv **out)
{
	struct nfs_state *st = nfs_state();

	if (!st)
		return -ENODEV;
	return rpc_svc_start(&nfs_service, l, &st->rpc, out);
}

void nfs_svc_stop(struct svc_serv *s)
{
	rpc_svc_stop(s);
}
