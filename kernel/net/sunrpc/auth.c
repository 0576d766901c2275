/*
 * RPC credentials: AUTH_NONE (the caller is nobody) and AUTH_SYS (RFC 5531
 * appendix A). Other flavors (RPCSEC_GSS, ...) are refused as too weak for
 * what they ask, which tells a client to fall back to AUTH_SYS.
 */
#include <string.h>
#include "uml/rpc.h"

int rpc_auth_decode(struct svc_req *rq, uint32_t flavor, struct xdr_bytes body)
{
	struct vfs_cred *c = &rq->cred;
	struct xdr x;
	uint32_t i, n;

	memset(c, 0, sizeof(*c));
	rq->flavor = flavor;
	switch (flavor) {
	case AUTH_NONE:
		c->uid = c->gid = RPC_NOBODY;
		return RPC_AUTH_OK;
	case AUTH_SYS:
		break;
	default:
		return RPC_AUTH_TOOWEAK;
	}

	xdr_init(&x, (uint8_t *)body.data, body.len);
	xdr_get_u32(&x); /* stamp */
	xdr_get_opaque(&x, RPC_AUTH_SYS_NAME_MAX);
	c->uid = xdr_get_u32(&x);
	c->gid = xdr_get_u32(&x);
	n = xdr_get_u32(&x);
	if (n > RPC_AUTH_SYS_GIDS_MAX || n > VFS_NGROUPS)
		return RPC_AUTH_BADCRED;
	for (i = 0; i < n; i++)
		c->groups[i] = xdr_get_u32(&x);
	c->ngroups = n;
	if (!xdr_ok(&x) || xdr_remaining(&x) != 0)
		return RPC_AUTH_BADCRED;
	return RPC_AUTH_OK;
}
