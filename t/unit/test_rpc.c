/*
 * ONC RPC dispatch with the MOUNT and NFS v3 programs, in process: records
 * are built by hand and fed to rpc_dispatch() as a transport would.
 *  1-8    RPC errors: NULL, PROG_UNAVAIL, PROG_MISMATCH (low/high), PROC_UNAVAIL,
 *         RPC_MISMATCH, AUTH_TOOWEAK, AUTH_BADCRED, GARBAGE_ARGS; a REPLY is dropped
 *  9-13   MOUNT: root handle and flavors; client outside the allowlist refused;
 *         unknown path; EXPORT lists paths and groups; MOUNT v1 answers
 * 14-19  handles: GETATTR; LOOKUP ".." at an export root stays there; BADHANDLE;
 *         STALE; another client's call refused (ACCES); ro export refuses writes (ROFS)
 * 20-24  WRITE with the boot verifier, READ back, CREATE GUARDED twice (EXIST),
 *         READDIR in pages of a small count, BAD_COOKIE on a wrong verifier
 * 25-26  errno mapping; every procedure's arguments and results fit the dispatcher
 * 27-28  every truncation of a valid call is answered GARBAGE_ARGS or dropped
 * 29-30  mutation fuzz of whole records: no crash, a well-formed reply or a drop
 * 31     counters: calls and garbage
 * 32-35  CREATE EXCLUSIVE retried with its verifier succeeds, another verifier is EXIST;
 *         SETATTR with a wrong guard is NOT_SYNC; MKNOD is NOTSUPP; a 256-byte name is
 *         NAMETOOLONG
 * 36     all of the above ran on a kernel thread with the NFS server's 64 KiB stack and
 *         left at least 12 KiB of it untouched (the depth counts this test's own
 *         8 KiB record buffers; dispatch alone is about 8 KiB)
 * 37-41  TCP record marking (rpc_record_next): a one-fragment record served in place and
 *         the next one after it; three fragments joined in place; a stream fed a byte at
 *         a time (marks split) finds the same record; a record over RPC_MAX_RECORD, in
 *         one fragment or in several, is -EMSGSIZE; a full buffer never asks for more
 * 42-44  a credential over 400 bytes is answered AUTH_ERROR BADCRED, a verifier over 400
 *         bytes BADVERF (both were dropped unanswered, so the client retried forever);
 *         a record too short for the header, or cut inside a credential, is still dropped
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "uml.h"
#include "uml/machine.h"
#include "uml/nfs3xdr.h"
#include "uml/rpc.h"

#define NFS_V3 NFS_PROGRAM, 3
#define MNT_V3 MOUNT_PROGRAM, 3

static uint8_t *scratch;
static uint8_t reply[RPC_MAX_REPLY];
static struct sockaddr_in peer_ok, peer_other;
static uint32_t next_xid = 1000;

struct call {
	uint8_t buf[8192];
	struct xdr x;
	uint32_t xid;
};

static void call_begin_flavor(struct call *c, uint32_t prog, uint32_t vers, uint32_t proc,
			      uint32_t flavor)
{
	xdr_init(&c->x, c->buf, sizeof(c->buf));
	c->xid = next_xid++;
	xdr_put_u32(&c->x, c->xid);
	xdr_put_u32(&c->x, 0); /* CALL */
	xdr_put_u32(&c->x, 2);
	xdr_put_u32(&c->x, prog);
	xdr_put_u32(&c->x, vers);
	xdr_put_u32(&c->x, proc);
	xdr_put_u32(&c->x, flavor);
	if (flavor == AUTH_SYS) {
		uint8_t cred[64];
		struct xdr cx;

		xdr_init(&cx, cred, sizeof(cred));
		xdr_put_u32(&cx, 1);		/* stamp */
		xdr_put_opaque(&cx, "test", 4); /* machine name */
		xdr_put_u32(&cx, 0);		/* uid: the monitor is root */
		xdr_put_u32(&cx, 0);
		xdr_put_u32(&cx, 1);
		xdr_put_u32(&cx, 0);
		xdr_put_opaque(&c->x, cred, cx.pos);
	} else {
		xdr_put_u32(&c->x, 0);
	}
	xdr_put_u32(&c->x, AUTH_NONE); /* verifier */
	xdr_put_u32(&c->x, 0);
}

static void call_begin(struct call *c, uint32_t prog, uint32_t vers, uint32_t proc)
{
	call_begin_flavor(c, prog, vers, proc, AUTH_SYS);
}

static size_t dispatch_from(const void *rec, size_t len, const struct sockaddr_in *peer)
{
	uint8_t *copy = malloc(len ? len : 1); /* exactly sized: ASan sees any overread */
	struct svc_req rq;
	size_t n;

	memset(&rq, 0, sizeof(rq));
	memcpy(&rq.peer, peer, sizeof(*peer));
	rq.peerlen = sizeof(*peer);
	snprintf(rq.client, sizeof(rq.client), "test:1");
	rq.scratch = scratch;
	rq.reply_max = sizeof(reply);
	rq.stats = &nfs_state()->rpc;
	memcpy(copy, rec, len);
	n = rpc_dispatch(&nfs_service, &rq, copy, len, reply);
	free(copy);
	return n;
}

/* The parsed head of a reply; @body is positioned at the results. */
struct rep {
	size_t len;
	uint32_t xid, mtype, rstat, stat, lo, hi;
	struct xdr body;
};

static struct rep parse(size_t len)
{
	struct rep r = {.len = len};
	struct xdr *x = &r.body;

	xdr_init(x, reply, len);
	r.xid = xdr_get_u32(x);
	r.mtype = xdr_get_u32(x);
	r.rstat = xdr_get_u32(x);
	if (r.rstat == 0) {
		xdr_get_u32(x);
		xdr_get_opaque(x, 400);
		r.stat = xdr_get_u32(x);
		if (r.stat == RPC_PROG_MISMATCH) {
			r.lo = xdr_get_u32(x);
			r.hi = xdr_get_u32(x);
		}
	} else {
		r.stat = xdr_get_u32(x);
		if (r.stat == RPC_MISMATCH) {
			r.lo = xdr_get_u32(x);
			r.hi = xdr_get_u32(x);
		} else {
			r.lo = xdr_get_u32(x); /* auth_stat */
		}
	}
	return r;
}

static struct rep run_from(struct call *c, const struct sockaddr_in *peer)
{
	return parse(dispatch_from(c->buf, c->x.pos, peer));
}

static struct rep run(struct call *c)
{
	return run_from(c, &peer_ok);
}

struct fh {
	uint32_t len;
	uint8_t data[64];
};

static void put_fh(struct xdr *x, const struct fh *fh)
{
	xdr_put_opaque(x, fh->data, fh->len);
}

static struct fh get_fh(struct xdr *x)
{
	struct xdr_bytes b = xdr_get_opaque(x, 64);
	struct fh fh = {0};

	if (xdr_ok(x)) {
		fh.len = b.len;
		memcpy(fh.data, b.data, b.len);
	}
	return fh;
}

static void skip_post_attr(struct xdr *x)
{
	if (xdr_get_bool(x))
		xdr_get_fixed(x, NFS3_FATTR_SIZE);
}

static void skip_wcc(struct xdr *x)
{
	if (xdr_get_bool(x))
		xdr_get_fixed(x, 24);
	skip_post_attr(x);
}

static uint32_t mount(const char *path, const struct sockaddr_in *peer, struct fh *fh)
{
	struct call c;
	struct rep r;
	uint32_t st;

	call_begin(&c, MNT_V3, 1);
	xdr_put_opaque(&c.x, path, strlen(path));
	r = run_from(&c, peer);
	if (r.stat != RPC_SUCCESS)
		return 9999;
	st = xdr_get_u32(&r.body);
	if (st == 0 && fh)
		*fh = get_fh(&r.body);
	return st;
}

/* GETATTR; returns the nfsstat3 and the type in *type. */
static uint32_t getattr_from(const struct fh *fh, const struct sockaddr_in *peer, uint32_t *type)
{
	struct call c;
	struct rep r;
	uint32_t st;

	call_begin(&c, NFS_V3, 1);
	put_fh(&c.x, fh);
	r = run_from(&c, peer);
	st = xdr_get_u32(&r.body);
	if (st == 0 && type)
		*type = xdr_get_u32(&r.body);
	return st;
}

static uint32_t lookup(const struct fh *dir, const char *name, struct fh *out)
{
	struct call c;
	struct rep r;
	uint32_t st;

	call_begin(&c, NFS_V3, 3);
	put_fh(&c.x, dir);
	xdr_put_opaque(&c.x, name, strlen(name));
	r = run(&c);
	st = xdr_get_u32(&r.body);
	if (st == 0)
		*out = get_fh(&r.body);
	return st;
}

static void build_write(struct call *c, const struct fh *fh, uint64_t off, const char *data)
{
	call_begin(c, NFS_V3, 7);
	put_fh(&c->x, fh);
	xdr_put_u64(&c->x, off);
	xdr_put_u32(&c->x, strlen(data));
	xdr_put_u32(&c->x, 2); /* FILE_SYNC */
	xdr_put_opaque(&c->x, data, strlen(data));
}

static void test_rpc_errors(void)
{
	struct call c;
	struct rep r;
	size_t n;

	call_begin(&c, NFS_V3, 0);
	r = run(&c);
	ok(r.xid == c.xid && r.mtype == 1 && r.rstat == 0 && r.stat == RPC_SUCCESS && r.len == 24,
	   "1 NULL is answered SUCCESS with the call's xid");

	call_begin(&c, 100099, 1, 0);
	r = run(&c);
	is_int(r.stat, RPC_PROG_UNAVAIL, "2 an unknown program is PROG_UNAVAIL");

	call_begin(&c, NFS_PROGRAM, 2, 0);
	r = run(&c);
	call_begin(&c, MOUNT_PROGRAM, 2, 0);
	{
		struct rep m = run(&c);

		ok(r.stat == RPC_PROG_MISMATCH && r.lo == 3 && r.hi == 3 &&
		       m.stat == RPC_PROG_MISMATCH && m.lo == 1 && m.hi == 3,
		   "3 NFS v2 is PROG_MISMATCH 3..3, MOUNT v2 is 1..3");
	}

	call_begin(&c, NFS_V3, 22);
	r = run(&c);
	is_int(r.stat, RPC_PROC_UNAVAIL, "4 procedure 22 is PROC_UNAVAIL");

	call_begin(&c, NFS_V3, 0);
	c.buf[11] = 3; /* rpcvers */
	r = run(&c);
	ok(r.rstat == 1 && r.stat == RPC_MISMATCH && r.lo == 2 && r.hi == 2,
	   "5 RPC version 3 is denied with RPC_MISMATCH 2..2");

	call_begin_flavor(&c, NFS_V3, 0, 6 /* RPCSEC_GSS */);
	r = run(&c);
	ok(r.rstat == 1 && r.stat == RPC_AUTH_ERROR && r.lo == RPC_AUTH_TOOWEAK,
	   "6 an unsupported flavor is AUTH_ERROR TOOWEAK");

	/* AUTH_SYS with 17 groups. */
	{
		uint8_t cred[200];
		struct xdr cx;
		int i;

		xdr_init(&c.x, c.buf, sizeof(c.buf));
		xdr_put_u32(&c.x, 77);
		xdr_put_u32(&c.x, 0);
		xdr_put_u32(&c.x, 2);
		xdr_put_u32(&c.x, NFS_PROGRAM);
		xdr_put_u32(&c.x, 3);
		xdr_put_u32(&c.x, 0);
		xdr_put_u32(&c.x, AUTH_SYS);
		xdr_init(&cx, cred, sizeof(cred));
		xdr_put_u32(&cx, 0);
		xdr_put_opaque(&cx, "h", 1);
		xdr_put_u32(&cx, 1);
		xdr_put_u32(&cx, 1);
		xdr_put_u32(&cx, 17);
		for (i = 0; i < 17; i++)
			xdr_put_u32(&cx, i);
		xdr_put_opaque(&c.x, cred, cx.pos);
		xdr_put_u32(&c.x, 0);
		xdr_put_u32(&c.x, 0);
		r = run(&c);
		ok(r.rstat == 1 && r.stat == RPC_AUTH_ERROR && r.lo == RPC_AUTH_BADCRED,
		   "7 AUTH_SYS with 17 groups is AUTH_ERROR BADCRED");
	}

	call_begin(&c, NFS_V3, 1);
	xdr_put_u32(&c.x, 32); /* a handle length, then nothing */
	r = run(&c);
	c.buf[7] = 1; /* message type REPLY */
	n = dispatch_from(c.buf, c.x.pos, &peer_ok);
	ok(r.stat == RPC_GARBAGE_ARGS && n == 0,
	   "8 truncated arguments are GARBAGE_ARGS; a REPLY sent to us is dropped");
}

static struct fh root, ro_root;

static void test_mount(void)
{
	struct call c;
	struct rep r;
	uint32_t st, nflav, f1, f2;

	call_begin(&c, MNT_V3, 1);
	xdr_put_opaque(&c.x, "/", 1);
	r = run(&c);
	st = xdr_get_u32(&r.body);
	root = get_fh(&r.body);
	nflav = xdr_get_u32(&r.body);
	f1 = xdr_get_u32(&r.body);
	f2 = xdr_get_u32(&r.body);
	ok(st == MNT3_OK && root.len == NFS_FH_SIZE && nflav == 2 && f1 == AUTH_SYS &&
	       f2 == AUTH_NONE && xdr_ok(&r.body) && xdr_remaining(&r.body) == 0,
	   "9 MNT / gives a 32-byte handle and flavors AUTH_SYS, AUTH_NONE");

	is_int(mount("/", &peer_other, NULL), MNT3ERR_ACCES,
	       "10 MNT from a client outside the allowlist is ACCES");
	ok(mount("/nonexistent", &peer_ok, NULL) == MNT3ERR_NOENT &&
	       mount("/ro//", &peer_ok, &ro_root) == MNT3_OK,
	   "11 MNT of a missing path under an export is NOENT; '/ro//' is /ro");

	call_begin(&c, MNT_V3, 5);
	r = run(&c);
	{
		char paths[256] = "";
		int groups = 0;

		while (xdr_get_bool(&r.body)) {
			struct xdr_bytes p = xdr_get_opaque(&r.body, 1024);

			if (!xdr_ok(&r.body))
				break;
			strncat(paths, (const char *)p.data, p.len);
			strcat(paths, " ");
			while (xdr_get_bool(&r.body)) {
				xdr_get_opaque(&r.body, 1024);
				groups++;
			}
		}
		ok(xdr_ok(&r.body) && strcmp(paths, "/ /ro ") == 0 && groups == 3,
		   "12 EXPORT lists / and /ro with their 3 groups (got '%s', %d)", paths, groups);
	}

	call_begin(&c, MOUNT_PROGRAM, 1, 1);
	xdr_put_opaque(&c.x, "/", 1);
	r = run(&c);
	st = xdr_get_u32(&r.body);
	{
		const uint8_t *h = xdr_get_fixed(&r.body, NFS_FH_SIZE);

		ok(r.stat == RPC_SUCCESS && st == 0 && h && memcmp(h, root.data, 32) == 0,
		   "13 MOUNT v1 MNT returns the same handle as a fixed fhandle");
	}
}

static void test_handles(void)
{
	struct fh dotdot, cfg, bad, stale;
	uint32_t type = 0;
	struct nfs_fh raw;
	struct call c;
	struct rep r;

	ok(getattr_from(&root, &peer_ok, &type) == NFS3_OK && type == VFS_DIR,
	   "14 GETATTR of the root handle: a directory");
	ok(lookup(&root, "..", &dotdot) == NFS3_OK && memcmp(&dotdot, &root, sizeof(root)) == 0,
	   "15 LOOKUP .. at the export root is the root");

	bad = root;
	bad.len = 31;
	is_int(getattr_from(&bad, &peer_ok, NULL), NFS3ERR_BADHANDLE,
	       "16 a 31-byte handle is BADHANDLE");

	nfs_fh_decode(root.data, root.len, &raw);
	raw.ino.ino = 999999;
	stale.len = NFS_FH_SIZE;
	nfs_fh_encode(&raw, stale.data);
	is_int(getattr_from(&stale, &peer_ok, NULL), NFS3ERR_STALE,
	       "17 a handle of an inode that does not exist is STALE");

	is_int(getattr_from(&root, &peer_other, NULL), NFS3ERR_ACCES,
	       "18 a valid handle used by a client outside the allowlist is ACCES");

	lookup(&ro_root, "a", &cfg);
	build_write(&c, &cfg, 0, "200\n");
	r = run(&c);
	is_int(xdr_get_u32(&r.body), NFS3ERR_ROFS, "19 WRITE through a read-only export is ROFS");
}

static void test_io(void)
{
	struct fh cfg, f;
	struct call c;
	struct rep r;
	uint32_t st, count, committed, pages = 0, entries = 0;
	const uint8_t *verf;
	uint64_t cookie = 0;
	uint8_t cverf[8] = {0};
	bool eof = false;
	char got[64] = "";
	int i;

	lookup(&root, "config", &cfg);
	lookup(&cfg, "a", &f);
	build_write(&c, &f, 0, "200\n");
	r = run(&c);
	st = xdr_get_u32(&r.body);
	skip_wcc(&r.body);
	count = xdr_get_u32(&r.body);
	committed = xdr_get_u32(&r.body);
	verf = xdr_get_fixed(&r.body, 8);
	ok(st == NFS3_OK && count == 4 && committed == 2 && verf &&
	       memcmp(verf, machine->boot_verf, 8) == 0,
	   "20 WRITE is FILE_SYNC with the boot verifier");

	call_begin(&c, NFS_V3, 6);
	put_fh(&c.x, &f);
	xdr_put_u64(&c.x, 0);
	xdr_put_u32(&c.x, 100);
	r = run(&c);
	st = xdr_get_u32(&r.body);
	skip_post_attr(&r.body);
	count = xdr_get_u32(&r.body);
	eof = xdr_get_bool(&r.body);
	{
		struct xdr_bytes d = xdr_get_opaque(&r.body, 100);

		if (xdr_ok(&r.body))
			memcpy(got, d.data, d.len);
	}
	ok(st == NFS3_OK && count == 4 && eof && strcmp(got, "200\n") == 0,
	   "21 READ returns what was written, with eof");

	for (i = 0; i < 2; i++) {
		call_begin(&c, NFS_V3, 8);
		put_fh(&c.x, &root);
		xdr_put_opaque(&c.x, "new", 3);
		xdr_put_u32(&c.x, 1); /* GUARDED */
		xdr_put_u32(&c.x, 0); /* no mode, uid, gid, size; don't change times */
		xdr_put_u32(&c.x, 0);
		xdr_put_u32(&c.x, 0);
		xdr_put_u32(&c.x, 0);
		xdr_put_u32(&c.x, 0);
		xdr_put_u32(&c.x, 0);
		r = run(&c);
		st = xdr_get_u32(&r.body);
		if (i == 0)
			count = st;
	}
	ok(count == NFS3_OK && st == NFS3ERR_EXIST, "22 CREATE GUARDED succeeds, then is EXIST");

	for (i = 0; i < 40; i++) {
		char name[32];

		snprintf(name, sizeof(name), "d%02d", i);
		uml_put_file("/many/x", 0644, "", 0);
		snprintf(got, sizeof(got), "/many/%s", name);
		uml_put_file(got, 0644, "x", 1);
	}
	lookup(&root, "many", &f);
	eof = false;
	while (!eof && pages < 100) {
		call_begin(&c, NFS_V3, 16);
		put_fh(&c.x, &f);
		xdr_put_u64(&c.x, cookie);
		xdr_put_fixed(&c.x, cverf, 8);
		xdr_put_u32(&c.x, 400);
		r = run(&c);
		if (xdr_get_u32(&r.body) != NFS3_OK)
			break;
		skip_post_attr(&r.body);
		memcpy(cverf, xdr_get_fixed(&r.body, 8) ?: cverf, 8);
		while (xdr_get_bool(&r.body)) {
			xdr_get_u64(&r.body);
			xdr_get_opaque(&r.body, 255);
			cookie = xdr_get_u64(&r.body);
			entries++;
		}
		eof = xdr_get_bool(&r.body);
		if (!xdr_ok(&r.body) || r.len > 400 + 24)
			break;
		pages++;
	}
	ok(eof && entries == 43 && pages > 3,
	   "23 READDIR with count 400 lists . .. x and 40 files over %u pages", pages);

	call_begin(&c, NFS_V3, 16);
	put_fh(&c.x, &f);
	xdr_put_u64(&c.x, 3);
	xdr_put_fixed(&c.x, "badverf!", 8);
	xdr_put_u32(&c.x, 4096);
	r = run(&c);
	is_int(xdr_get_u32(&r.body), NFS3ERR_BAD_COOKIE,
	       "24 READDIR with a cookie and a wrong verifier is BAD_COOKIE");
}

static uint32_t create_excl(const char *name, const char *verf, struct fh *out)
{
	struct call c;
	struct rep r;
	uint32_t st;

	call_begin(&c, NFS_V3, 8);
	put_fh(&c.x, &root);
	xdr_put_opaque(&c.x, name, strlen(name));
	xdr_put_u32(&c.x, 2); /* EXCLUSIVE */
	xdr_put_fixed(&c.x, verf, 8);
	r = run(&c);
	st = xdr_get_u32(&r.body);
	if (st == NFS3_OK && xdr_get_bool(&r.body))
		*out = get_fh(&r.body);
	return st;
}

static void test_more_procs(void)
{
	struct fh a = {0}, b = {0};
	char longname[257];
	struct call c;
	struct rep r;
	uint32_t st1, st2;

	st1 = create_excl("excl", "verf0001", &a);
	st2 = create_excl("excl", "verf0001", &b);
	ok(st1 == NFS3_OK && st2 == NFS3_OK && a.len == 32 && memcmp(&a, &b, sizeof(a)) == 0 &&
	       create_excl("excl", "verf0002", &b) == NFS3ERR_EXIST,
	   "32 CREATE EXCLUSIVE: a retry with the same verifier gets the same file, another "
	   "verifier EXIST");

	call_begin(&c, NFS_V3, 2);
	put_fh(&c.x, &a);
	xdr_put_u32(&c.x, 1); /* set mode 0600 */
	xdr_put_u32(&c.x, 0600);
	xdr_put_u32(&c.x, 0);
	xdr_put_u32(&c.x, 0);
	xdr_put_u32(&c.x, 0);
	xdr_put_u32(&c.x, 0);
	xdr_put_u32(&c.x, 0);
	xdr_put_u32(&c.x, 1); /* guard: ctime 1.0, which it is not */
	xdr_put_u32(&c.x, 1);
	xdr_put_u32(&c.x, 0);
	r = run(&c);
	is_int(xdr_get_u32(&r.body), NFS3ERR_NOT_SYNC, "33 SETATTR with a stale ctime guard");

	call_begin(&c, NFS_V3, 11);
	put_fh(&c.x, &root);
	xdr_put_opaque(&c.x, "fifo", 4);
	xdr_put_u32(&c.x, 7); /* NF3FIFO */
	for (int i = 0; i < 6; i++)
		xdr_put_u32(&c.x, 0);
	r = run(&c);
	is_int(xdr_get_u32(&r.body), NFS3ERR_NOTSUPP, "34 MKNOD is NOTSUPP");

	memset(longname, 'n', 256);
	longname[256] = '\0';
	is_int(lookup(&root, longname, &b), NFS3ERR_NAMETOOLONG, "35 a 256-byte name");
}

static void test_tables(void)
{
	const struct rpc_program *const progs[] = {&mount3_program, &mount1_program, &nfs3_program};
	int bad = 0;
	size_t i, p;

	ok(nfs3_errno(-ENOENT) == NFS3ERR_NOENT && nfs3_errno(-ERANGE) == NFS3ERR_INVAL &&
	       nfs3_errno(-ENOMEM) == NFS3ERR_NOSPC && nfs3_errno(-ESTALE) == NFS3ERR_STALE &&
	       nfs3_errno(-E2BIG) == NFS3ERR_SERVERFAULT && nfs3_errno(0) == NFS3_OK,
	   "25 errno maps to nfsstat3 (ERANGE from a hook is INVAL, unknown is SERVERFAULT)");
	for (p = 0; p < ARRAY_SIZE(progs); p++)
		for (i = 0; i < progs[p]->nprocs; i++)
			if (!progs[p]->procs[i].name || progs[p]->procs[i].argsize > RPC_ARGS_MAX ||
			    progs[p]->procs[i].ressize > RPC_RES_MAX)
				bad++;
	ok(bad == 0 && nfs3_program.nprocs == 22,
	   "26 all 22 NFS and 6 MOUNT procedures exist and fit the dispatcher");
}

/* A reply is either absent or a well-formed REPLY to the call's xid. */
static bool reply_sane(size_t n, uint32_t xid)
{
	struct rep r;

	if (n == 0)
		return true;
	if (n > sizeof(reply) || n % 4)
		return false;
	r = parse(n);
	return xdr_ok(&r.body) && r.xid == xid && r.mtype == 1 && r.rstat <= 1;
}

static void test_truncation(void)
{
	struct call c[3];
	int bad = 0, k;
	size_t cut;

	build_write(&c[0], &root, 0, "hello");
	call_begin(&c[1], NFS_V3, 14); /* RENAME */
	put_fh(&c[1].x, &root);
	xdr_put_opaque(&c[1].x, "a", 1);
	put_fh(&c[1].x, &root);
	xdr_put_opaque(&c[1].x, "b", 1);
	call_begin(&c[2], MNT_V3, 1);
	xdr_put_opaque(&c[2].x, "/ro", 3);

	for (k = 0; k < 3; k++) {
		for (cut = 0; cut < c[k].x.pos; cut++) {
			uint8_t *p = malloc(cut ? cut : 1);
			struct rep r;
			size_t n;

			memcpy(p, c[k].buf, cut);
			n = dispatch_from(p, cut, &peer_ok);
			free(p);
			r = parse(n);
			if (n != 0 && !(reply_sane(n, c[k].xid) && r.stat == RPC_GARBAGE_ARGS))
				bad++;
		}
	}
	is_int(bad, 0, "27 every truncation of WRITE, RENAME and MNT is GARBAGE_ARGS or dropped");
	{
		struct rep r = run(&c[2]);

		ok(r.stat == RPC_SUCCESS, "28 the untruncated MNT succeeds");
	}
}

static uint32_t rnd(void)
{
	static uint64_t s = 88172645463325252ULL;

	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return (uint32_t)s;
}

static void test_fuzz(void)
{
	static uint8_t rec[4096];
	static struct call seeds[24]; /* 192 KiB: not on a kernel thread's stack */
	int bad = 0, i, nseeds = 0, proc;
	struct fh cfg;

	lookup(&root, "config", &cfg);
	/* One valid-looking call per NFS procedure, arguments loosely shaped. */
	for (proc = 0; proc < 22; proc++) {
		struct call *c = &seeds[nseeds++];

		call_begin(c, NFS_V3, proc);
		put_fh(&c->x, proc % 3 ? &cfg : &root);
		xdr_put_opaque(&c->x, "name", 4);
		xdr_put_u64(&c->x, 0);
		xdr_put_u32(&c->x, 64);
		xdr_put_u32(&c->x, 1);
		put_fh(&c->x, &root);
		xdr_put_opaque(&c->x, "other", 5);
	}
	call_begin(&seeds[nseeds++], MNT_V3, 5);
	call_begin(&seeds[nseeds], MNT_V3, 1);
	xdr_put_opaque(&seeds[nseeds++].x, "/config", 7);

	for (i = 0; i < 30000; i++) {
		struct call *s = &seeds[rnd() % nseeds];
		size_t len = s->x.pos, n;
		int flips = 1 + rnd() % 4, j;

		memcpy(rec, s->buf, len);
		for (j = 0; j < flips; j++) {
			switch (rnd() % 4) {
			case 0: /* a random byte */
				rec[rnd() % len] = rnd();
				break;
			case 1: /* a large or small word where a length may be */
				if (len >= 4) {
					size_t at = (rnd() % (len / 4)) * 4;
					uint32_t v =
					    rnd() % 2 ? 0xffffffffu - rnd() % 8 : rnd() % 300;

					rec[at] = v >> 24;
					rec[at + 1] = v >> 16;
					rec[at + 2] = v >> 8;
					rec[at + 3] = v;
				}
				break;
			case 2: /* cut */
				len = 1 + rnd() % len;
				break;
			default: /* grow with random bytes */
				while (len < sizeof(rec) - 1 && rnd() % 8)
					rec[len++] = rnd();
			}
		}
		n = dispatch_from(rec, len, &peer_ok);
		if (!reply_sane(n, (uint32_t)rec[0] << 24 | rec[1] << 16 | rec[2] << 8 | rec[3]))
			bad++;
	}
	is_int(bad, 0, "29 30000 mutated calls: each answered well-formed or dropped");

	for (i = 0; i < 5000; i++) {
		size_t len = rnd() % 512, j, n;

		for (j = 0; j < len; j++)
			rec[j] = rnd();
		n = dispatch_from(rec, len, &peer_ok);
		if (len >= 4 &&
		    !reply_sane(n, (uint32_t)rec[0] << 24 | rec[1] << 16 | rec[2] << 8 | rec[3]))
			bad++;
	}
	is_int(bad, 0, "30 5000 random records: each answered well-formed or dropped");
}

/*
 * Stack depth: the body runs on a kernel thread whose unused stack below the
 * first frame is painted; afterwards the lowest byte that changed tells how
 * deep the calls went. Skipped under the sanitizers and valgrind, which
 * watch that memory themselves.
 */
#define PAINT	   0xa5
#define PAINT_SPAN (56 * 1024) /* of the thread's 60 KiB above its guard page */
static volatile uint8_t *paint_lo;
static size_t stack_used;

static int run_tests(void *arg);
static void run_later_tests(void);

static void __attribute__((noinline)) paint_below(void)
{
	/* From PAINT_SPAN below this frame up to 512 bytes short of it: unused stack. */
	paint_lo = (volatile uint8_t *)((uintptr_t)__builtin_frame_address(0) - PAINT_SPAN);
	for (size_t i = 0; i < PAINT_SPAN - 512; i++)
		paint_lo[i] = PAINT;
}

static int stack_body(void *arg)
{
	size_t i = 0;

	paint_below();
	run_tests(arg);
	while (i < PAINT_SPAN - 512 && paint_lo[i] == PAINT)
		i++;
	stack_used = PAINT_SPAN - i;
	return 0;
}

static bool measure_stack(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return false;
#else
	return !getenv("UML_VALGRIND");
#endif
}

int main(void)
{
	struct uml_boot_params bp = {.memory = 16 << 20};

	plan(44);
	if (uml_boot(&bp))
		bail_out("uml_boot failed");
	if (!measure_stack()) {
		run_tests(NULL);
		skip(1, "stack depth is not measured under ASan or valgrind");
		run_later_tests();
		return done_testing();
	}
	if (uml_cpu_init() || uml_thread_create(NULL, "rpc-tests", stack_body, NULL))
		bail_out("no kernel thread");
	uml_cpu_stop();
	uml_cpu_run(true);
	ok(stack_used > 1024 && stack_used <= PAINT_SPAN - 8 * 1024,
	   "36 on a 64 KiB kernel thread stack the deepest call took %zu bytes", stack_used);
	run_later_tests();
	return done_testing();
}

static int run_tests(void *arg)
{
	const char *local[] = {"127.0.0.1", "10.0.0.0/8"}, *ro_clients[] = {"127.0.0.0/30"};
	struct nfs_stats st;
	char err[256];

	(void)arg;
	if (uml_put_file("/config/a", 0644, "150\n", 4) || uml_put_file("/ro/a", 0644, "1\n", 2))
		bail_out("cannot build the tree");
	uml_nfs_exports_clear();
	if (uml_nfs_export("/", UML_NFS_RW, local, 2, err, sizeof(err)) ||
	    uml_nfs_export("/ro", 0, ro_clients, 1, err, sizeof(err)))
		bail_out("export: %s", err);
	scratch = malloc(RPC_SCRATCH_MAX);
	peer_ok.sin_family = AF_INET;
	peer_ok.sin_port = htons(700);
	inet_pton(AF_INET, "127.0.0.1", &peer_ok.sin_addr);
	peer_other = peer_ok;
	inet_pton(AF_INET, "192.168.1.9", &peer_other.sin_addr);

	test_rpc_errors();
	test_mount();
	test_handles();
	test_io();
	test_tables();
	test_truncation();
	test_fuzz();

	nfs_stats(&st);
	ok(st.calls > 5000 && st.garbage > 5000 && st.errors > 0 && st.proc[1] > 5,
	   "31 counters: %llu calls, %llu garbage, %llu errors", (unsigned long long)st.calls,
	   (unsigned long long)st.garbage, (unsigned long long)st.errors);
	test_more_procs();
	free(scratch);
	return 0;
}

/* --- record marking --- */

static void put_mark(uint8_t *p, uint32_t mark)
{
	p[0] = mark >> 24;
	p[1] = mark >> 16;
	p[2] = mark >> 8;
	p[3] = mark;
}

/* Append a fragment of @len bytes of @fill to @stream at *@at. */
static void put_frag(uint8_t *stream, size_t *at, size_t len, uint8_t fill, bool last)
{
	put_mark(stream + *at, (last ? 0x80000000u : 0) | (uint32_t)len);
	memset(stream + *at + 4, fill, len);
	*at += 4 + len;
}

static void test_record(void)
{
	size_t cap = RPC_MAX_RECORD + 4, at = 0, len = 0, used = 0, i;
	uint8_t *buf = malloc(cap), *stream = malloc(cap), *rec = NULL;
	struct rpc_recbuf b = {.buf = buf, .cap = cap};
	int rc, rc2, bad = 0;

	/* Two pipelined one-fragment records. */
	put_frag(buf, &at, 12, 'a', true);
	put_frag(buf, &at, 8, 'b', true);
	b.in_len = at;
	rc = rpc_record_next(&b, &rec, &len, &used);
	rc = rc == 1 && rec == buf + 4 && len == 12 && used == 16 && rec[11] == 'a' &&
	     b.rec_len == 0;
	rpc_record_consume(&b, used);
	rc2 =
	    rpc_record_next(&b, &rec, &len, &used) == 1 && len == 8 && rec[0] == 'b' && used == 12;
	rpc_record_consume(&b, used);
	ok(rc && rc2 && b.in_len == 0 && rpc_record_next(&b, &rec, &len, &used) == 0,
	   "37 a one-fragment record is served where it lies, the next after it once consumed");

	/* Three fragments, then the start of another record. */
	at = 0;
	put_frag(buf, &at, 5, 'x', false);
	put_frag(buf, &at, 0, 0, false);
	put_frag(buf, &at, 7, 'y', true);
	put_frag(buf, &at, 3, 'z', false);
	b.in_len = at;
	b.rec_len = 0;
	rc = rpc_record_next(&b, &rec, &len, &used);
	ok(rc == 1 && rec == buf && len == 12 && used == 12 &&
	       memcmp(buf, "xxxxxyyyyyyy", 12) == 0 && b.rec_len == 0 && b.in_len == 12 + 4 + 3,
	   "38 three fragments are joined in place into one record");
	rpc_record_consume(&b, used);

	/* The same stream, a byte at a time: no record until its last byte. */
	at = 0;
	put_frag(stream, &at, 5, 'x', false);
	put_frag(stream, &at, 7, 'y', true);
	put_frag(stream, &at, 2, 'w', true);
	b.in_len = b.rec_len = 0;
	for (i = 0; i < 4 + 5 + 4 + 7; i++) {
		buf[b.in_len++] = stream[i];
		rc = rpc_record_next(&b, &rec, &len, &used);
		if (rc != (i == 4 + 5 + 4 + 6 ? 1 : 0))
			bad++;
	}
	rc = len == 12 && memcmp(rec, "xxxxxyyyyyyy", 12) == 0;
	rpc_record_consume(&b, used);
	memcpy(buf + b.in_len, stream + i, 6);
	b.in_len += 6;
	rc2 = rpc_record_next(&b, &rec, &len, &used) == 1 && len == 2 && rec[1] == 'w';
	ok(bad == 0 && rc && rc2,
	   "39 fed a byte at a time, marks split, a record comes with its last byte");

	/* Too big: one 2 GiB fragment; fragments adding up past the limit; the limit itself. */
	put_mark(buf, 0xffffffffu);
	b.in_len = 4;
	b.rec_len = 0;
	rc = rpc_record_next(&b, &rec, &len, &used);
	at = 0;
	put_frag(buf, &at, RPC_MAX_RECORD - 8, 'm', false);
	put_mark(buf + at, 0x80000000u | 9);
	b.in_len = at + 4;
	b.rec_len = 0;
	rc2 = rpc_record_next(&b, &rec, &len, &used);
	/* Both marks do not fit the buffer at once: the first goes once its fragment is in. */
	at = 0;
	put_frag(buf, &at, RPC_MAX_RECORD - 8, 'm', false);
	b.in_len = at;
	b.rec_len = 0;
	bad = rpc_record_next(&b, &rec, &len, &used) != 0 || b.in_len != RPC_MAX_RECORD - 8;
	at = b.in_len;
	put_frag(buf, &at, 8, 'n', true);
	b.in_len = at;
	ok(rc == -EMSGSIZE && rc2 == -EMSGSIZE && !bad && b.in_len == b.cap &&
	       rpc_record_next(&b, &rec, &len, &used) == 1 && len == RPC_MAX_RECORD,
	   "40 past RPC_MAX_RECORD, in one fragment or in two, is EMSGSIZE; the limit is served");

	/* A buffer smaller than the record: full, it says so rather than asking for more. */
	b = (struct rpc_recbuf){.buf = buf, .cap = 16};
	at = 0;
	put_frag(buf, &at, 20, 'q', true);
	b.in_len = 16;
	rc = rpc_record_next(&b, &rec, &len, &used);
	b = (struct rpc_recbuf){.buf = buf, .cap = 3, .in_len = 3};
	ok(rc == -EMSGSIZE && rpc_record_next(&b, &rec, &len, &used) == -EMSGSIZE,
	   "41 a full buffer without a record is EMSGSIZE, never a request for more");
	free(stream);
	free(buf);
}

/* --- oversized opaque_auth --- */

/* A NULL call whose credential (or verifier) body declares @n bytes, @have of them present. */
static size_t auth_call(struct call *c, bool verifier, uint32_t n, size_t have)
{
	xdr_init(&c->x, c->buf, sizeof(c->buf));
	c->xid = next_xid++;
	xdr_put_u32(&c->x, c->xid);
	xdr_put_u32(&c->x, 0);
	xdr_put_u32(&c->x, 2);
	xdr_put_u32(&c->x, NFS_PROGRAM);
	xdr_put_u32(&c->x, 3);
	xdr_put_u32(&c->x, 0);
	if (verifier) {
		xdr_put_u32(&c->x, AUTH_NONE);
		xdr_put_u32(&c->x, 0);
	}
	xdr_put_u32(&c->x, verifier ? AUTH_NONE : AUTH_SYS);
	xdr_put_u32(&c->x, n);
	memset(c->buf + c->x.pos, 0, have);
	c->x.pos += have;
	if (!verifier && have == n) {
		xdr_put_u32(&c->x, AUTH_NONE);
		xdr_put_u32(&c->x, 0);
	}
	return c->x.pos;
}

static void test_auth_limits(void)
{
	struct call c;
	struct rep r;
	size_t n;
	int dropped = 0;

	n = auth_call(&c, false, 404, 404);
	r = parse(dispatch_from(c.buf, n, &peer_ok));
	n = auth_call(&c, false, 0xffffffffu, 0);
	{
		struct rep r2 = parse(dispatch_from(c.buf, n, &peer_ok));

		ok(r.xid == c.xid - 1 && r.mtype == 1 && r.rstat == 1 && r.stat == RPC_AUTH_ERROR &&
		       r.lo == RPC_AUTH_BADCRED && r.len == 20 && r2.xid == c.xid &&
		       r2.stat == RPC_AUTH_ERROR && r2.lo == RPC_AUTH_BADCRED,
		   "42 a 404-byte credential, or one claiming 4 GiB, is AUTH_ERROR BADCRED");
	}

	n = auth_call(&c, true, 401, 404);
	r = parse(dispatch_from(c.buf, n, &peer_ok));
	ok(r.xid == c.xid && r.rstat == 1 && r.stat == RPC_AUTH_ERROR && r.lo == RPC_AUTH_BADVERF,
	   "43 a 401-byte verifier is AUTH_ERROR BADVERF");

	/* Cut inside the header (before the credential's length), or inside a legal credential. */
	n = auth_call(&c, false, 404, 404);
	for (size_t cut = 0; cut < 7 * 4; cut++)
		dropped += dispatch_from(c.buf, cut, &peer_ok) == 0;
	n = auth_call(&c, false, 400, 100);
	dropped += dispatch_from(c.buf, n, &peer_ok) == 0;
	is_int(
	    dropped, 7 * 4 + 1,
	    "44 a record cut before the credential's length, or inside a credential, is dropped");
}

static void run_later_tests(void)
{
	test_record();
	scratch = malloc(RPC_SCRATCH_MAX);
	test_auth_limits();
	free(scratch);
}
