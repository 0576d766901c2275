/*
 * libuml's NFS calls: thin wrappers over kernel/net. The service state is
 * created on first use, so an application that never exports pays nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "uml.h"
#include "uml/nfs3.h"
#include "uml/rpcb.h"

int uml_nfs_listen(const char *host, int port, unsigned protos, struct uml_nfs_listener *l)
{
	struct svc_listener sl;
	int err;

	if (!host || !l || (protos & ~(UML_NFS_TCP | UML_NFS_UDP)))
		return -EINVAL;
	err = nfs_init();
	if (err)
		return err;
	err = svc_listen(
	    host, port, (protos & UML_NFS_TCP ? SVC_TCP : 0) | (protos & UML_NFS_UDP ? SVC_UDP : 0),
	    &sl);
	if (err)
		return err;
	l->tcp_fd = sl.tcp_fd;
	l->udp_fd = sl.udp_fd;
	l->net_tcp = l->net_udp = NULL;
	l->net_rpcb_tcp = l->net_rpcb_udp = NULL;
	return 0;
}

int uml_nfs_client_valid(const char *spec)
{
	return nfs_client_valid(spec);
}

void uml_nfs_exports_clear(void)
{
	if (nfs_init() == 0)
		nfs_exports_clear();
}

int uml_nfs_export(const char *path, unsigned flags, const char *const *clients, size_t n,
		   char *err, size_t errlen)
{
	int rc = nfs_init();

	if (rc) {
		if (errlen)
			snprintf(err, errlen, "no machine: call uml_boot first");
		return rc;
	}
	if (flags & ~(UML_NFS_RW | UML_NFS_SECURE)) {
		if (errlen)
			snprintf(err, errlen, "export %s: unknown flags %#x", path, flags);
		return -EINVAL;
	}
	return nfs_export_add(path,
			      (flags & UML_NFS_RW ? NFS_EXPORT_RW : 0) |
				  (flags & UML_NFS_SECURE ? NFS_EXPORT_SECURE : 0),
			      clients, n, err, errlen);
}

int uml_nfs_key_file(const char *path, char *err, size_t errlen)
{
	int rc = nfs_init();

	if (rc) {
		if (errlen)
			snprintf(err, errlen, "no machine: call uml_boot first");
		return rc;
	}
	return nfs_fh_key_file(path, err, errlen);
}

int uml_nfs_serve(const struct uml_nfs_listener *l, int stop_fd)
{
	struct svc_listener sl = {.tcp_fd = l->tcp_fd,
				  .udp_fd = l->udp_fd,
				  .inet_tcp = l->net_tcp,
				  .inet_udp = l->net_udp,
				  .rpcb_tcp = l->net_rpcb_tcp,
				  .rpcb_udp = l->net_rpcb_udp};

	return nfs_svc_serve(&sl, stop_fd);
}

int uml_nfs_start(const struct uml_nfs_listener *l, uml_nfs_server_t **srv)
{
	struct svc_listener sl = {.tcp_fd = l->tcp_fd,
				  .udp_fd = l->udp_fd,
				  .inet_tcp = l->net_tcp,
				  .inet_udp = l->net_udp,
				  .rpcb_tcp = l->net_rpcb_tcp,
				  .rpcb_udp = l->net_rpcb_udp};

	return nfs_svc_start(&sl, (struct svc_serv **)srv);
}

void uml_nfs_stop(uml_nfs_server_t *srv)
{
	nfs_svc_stop((struct svc_serv *)srv);
}

void uml_nfs_stats(struct uml_nfs_stats *st)
{
	struct nfs_stats s;

	nfs_stats(&s);
	st->calls = s.calls;
	st->errors = s.errors;
	st->garbage = s.garbage;
	st->connections = s.connections;
	st->refused = s.refused;
	st->unlisted = s.unlisted;
}

/* Put the report (or, when rpcbind was never reached, why) into @msg. */
static void nfs_rpcb_msg(int err, const struct rpcb_report *r, char *msg, size_t msglen)
{
	if (!msg || !msglen)
		return;
	if (err == -ENOENT)
		snprintf(msg, msglen,
			 "no rpcbind runs here (nothing at /run/rpcbind.sock or 127.0.0.1:111)");
	else if (!r->via[0])
		snprintf(msg, msglen, "rpcbind did not answer: %s", strerror(-err));
	else
		rpc_register_format(r, msg, msglen);
}

int uml_nfs_register(const struct uml_nfs_listener *l, unsigned flags, char *msg, size_t msglen)
{
	struct rpcb_report r;
	int err;

	if (msg && msglen)
		msg[0] = '\0';
	if (!l || (flags & ~UML_NFS_REGISTER_FORCE))
		return -EINVAL;
	err = rpc_register(&nfs_service, l->tcp_fd, l->udp_fd,
			   flags & UML_NFS_REGISTER_FORCE ? RPCB_FORCE : RPCB_AUTO, &r);
	nfs_rpcb_msg(err, &r, msg, msglen);
	return err;
}

int uml_nfs_unregister(const struct uml_nfs_listener *l, char *msg, size_t msglen)
{
	struct rpcb_report r;
	int err;

	if (msg && msglen)
		msg[0] = '\0';
	if (!l)
		return -EINVAL;
	err = rpc_unregister(&nfs_service, l->tcp_fd, l->udp_fd, &r);
	nfs_rpcb_msg(err, &r, msg, msglen);
	return err;
}

int uml_nfs_lock_lease(unsigned seconds)
{
	int rc = nfs_init();

	if (rc)
		return rc;
	nfs_lock_set_lease(seconds);
	return 0;
}

void uml_nfs_lock_stats(struct uml_nfs_lock_stats *st)
{
	struct nfs_lock_stats s;

	nfs_lock_stats(&s);
	st->held = s.held;
	st->shares = s.shares;
	st->hosts = s.hosts;
	st->granted = s.granted;
	st->denied = s.denied;
	st->blocked = s.blocked;
	st->nolocks = s.nolocks;
	st->refused = s.refused;
	st->notify_freed = s.notify_freed;
	st->lease_broken = s.lease_broken;
	st->repairs = s.repairs;
}
