/*
 * fhcost: the server's work for one GETATTR, in process, for callgrind.
 *
 *   fhcost [N]      N GETATTR calls (default 100000) through rpc_dispatch
 *
 * Boots a machine with /a/b/c/file and exports "/" and "/a" (rw to
 * 127.0.0.1), mounts both through MOUNT, looks the file up from each, then
 * dispatches N GETATTR of the file with the handle of "/" (phase "root") and
 * N with the handle of "/a" (phase "nested": three parents to walk). Each
 * phase is its own function, so `callgrind --toggle-collect=phase_root`
 * counts exactly one of them. It uses nothing newer than the tree of the
 * first floors, so bench/run builds it against an older commit too, and the
 * ratio of instructions per call is what the handle MAC and the export
 * containment check cost.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uml.h"
#include "uml/nfs3.h"
#include "uml/xdr.h"

static uint8_t *scratch, reply[RPC_MAX_REPLY];
static struct sockaddr_in peer;
static uint32_t xid;

static size_t call_init(uint8_t *buf, size_t size, uint32_t prog, uint32_t proc, const void *fh,
			size_t fhlen, const char *name)
{
	struct xdr x;

	xdr_init(&x, buf, size);
	xdr_put_u32(&x, ++xid);
	xdr_put_u32(&x, 0); /* CALL */
	xdr_put_u32(&x, 2);
	xdr_put_u32(&x, prog);
	xdr_put_u32(&x, 3);
	xdr_put_u32(&x, proc);
	xdr_put_u32(&x, AUTH_NONE);
	xdr_put_u32(&x, 0);
	xdr_put_u32(&x, AUTH_NONE);
	xdr_put_u32(&x, 0);
	if (fh)
		xdr_put_opaque(&x, fh, fhlen);
	if (name)
		xdr_put_opaque(&x, name, strlen(name));
	return xdr_ok(&x) ? x.pos : 0;
}

static size_t dispatch(uint8_t *call, size_t len)
{
	struct svc_req rq;

	memset(&rq, 0, sizeof(rq));
	memcpy(&rq.peer, &peer, sizeof(peer));
	rq.peerlen = sizeof(peer);
	snprintf(rq.client, sizeof(rq.client), "127.0.0.1:700");
	rq.scratch = scratch;
	rq.reply_max = sizeof(reply);
	rq.stats = &nfs_state()->rpc;
	return rpc_dispatch(&nfs_service, &rq, call, len, reply);
}

/* The status word of an accepted reply (after xid, type, stat, verf, accept stat). */
static uint32_t reply_status(void)
{
	return (uint32_t)reply[24] << 24 | reply[25] << 16 | reply[26] << 8 | reply[27];
}

/* A handle from an opaque result at @off of the reply. */
static size_t take_fh(size_t off, uint8_t fh[NFS3_FHSIZE_MAX])
{
	size_t len =
	    (size_t)reply[off] << 24 | reply[off + 1] << 16 | reply[off + 2] << 8 | reply[off + 3];

	if (len > NFS3_FHSIZE_MAX)
		exit(1);
	memcpy(fh, reply + off + 4, len);
	return len;
}

/* The file's handle through the export @path: MNT, then LOOKUP down to it. */
static size_t file_handle(const char *path, const char *const *names, uint8_t fh[64])
{
	uint8_t call[512];
	size_t len = 0, n;

	n = call_init(call, sizeof(call), MOUNT_PROGRAM, 1, NULL, 0, path);
	if (!dispatch(call, n) || reply_status() != 0)
		return 0;
	len = take_fh(28, fh);
	for (; *names; names++) {
		n = call_init(call, sizeof(call), NFS_PROGRAM, 3, fh, len, *names);
		if (!dispatch(call, n) || reply_status() != 0)
			return 0;
		len = take_fh(28, fh);
	}
	return len;
}

static unsigned long getattr_loop(uint8_t *call, size_t len, unsigned long n)
{
	unsigned long ok = 0;

	for (unsigned long i = 0; i < n; i++)
		ok += dispatch(call, len) && reply_status() == 0;
	return ok;
}

__attribute__((noinline)) unsigned long phase_root(uint8_t *call, size_t len, unsigned long n);
__attribute__((noinline)) unsigned long phase_nested(uint8_t *call, size_t len, unsigned long n);

unsigned long phase_root(uint8_t *call, size_t len, unsigned long n)
{
	return getattr_loop(call, len, n);
}

unsigned long phase_nested(uint8_t *call, size_t len, unsigned long n)
{
	return getattr_loop(call, len, n);
}

int main(int argc, char **argv)
{
	static const char *const from_root[] = {"a", "b", "c", "file", NULL};
	static const char *const from_a[] = {"b", "c", "file", NULL};
	static const char *const local[] = {"127.0.0.1"};
	unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000, ok;
	struct uml_boot_params bp = {.memory = 16 << 20};
	uint8_t fh_root[64], fh_a[64], call_root[256], call_a[256];
	size_t lr, la, cr, ca;
	char err[128];

	scratch = malloc(RPC_SCRATCH_MAX);
	peer.sin_family = AF_INET;
	peer.sin_port = htons(700);
	peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* The second argument is "rw" in every version of the call: 1. */
	if (!scratch || uml_boot(&bp) || uml_put_file("/a/b/c/file", 0644, "x", 1) ||
	    uml_nfs_export("/", 1, local, 1, err, sizeof(err)) ||
	    uml_nfs_export("/a", 1, local, 1, err, sizeof(err))) {
		fprintf(stderr, "fhcost: setup failed\n");
		return 1;
	}
	lr = file_handle("/", from_root, fh_root);
	la = file_handle("/a", from_a, fh_a);
	cr = call_init(call_root, sizeof(call_root), NFS_PROGRAM, 1, fh_root, lr, NULL);
	ca = call_init(call_a, sizeof(call_a), NFS_PROGRAM, 1, fh_a, la, NULL);
	if (!lr || !la || !cr || !ca) {
		fprintf(stderr, "fhcost: no handles\n");
		return 1;
	}
	ok = phase_root(call_root, cr, n);
	ok += phase_nested(call_a, ca, n);
	printf("fhcost: %lu of %lu GETATTR answered NFS3_OK, handle %zu bytes\n", ok, 2 * n, lr);
	return ok == 2 * n ? 0 : 1;
}
