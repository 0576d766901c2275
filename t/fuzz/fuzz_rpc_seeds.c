/*
 * The RPC harness's seed corpus (fuzz-rpc.t -make-seeds DIR): scripts of
 * well-formed calls (fuzz_rpc.h) that reach every MOUNT v1/v3 and NFS v3
 * procedure, and the served NLM v4 and NSM v1 ones, with valid handles, on plain, validated and
 * generated files, through read-only and secure exports, from listed and foreign peers, over TCP
 * and UDP; plus the RPC-level refusals. The fuzzer mutates from there.
 *
 * Peers (ctl & 7, fuzz_tree.c): 0 127.0.0.1:700, 1 127.0.0.1:1024,
 * 2 127.0.0.2 (read-only client), 3 192.168.1.9 (foreign), 4 [::1]:700,
 * 5 [2001:db8::1] (foreign), 6 10.1.2.3:1023, 7 [::ffff:127.0.0.1]:40000.
 */
#include <stdbool.h>
#include <string.h>

#include "uml/nfs3.h"
#include "uml/rpc.h"
#include "uml/rpcb.h"
#include "uml/xdr.h"
#include "fuzz.h"
#include "fuzz_rpc.h"
#include "fuzz_tree.h"

enum { P_LOCAL, P_UNPRIV, P_RO, P_FOREIGN, P_V6, P_FOREIGN6, P_NET10, P_MAPPED };

/* The newest handle a reply handed out, the one before, ... */
#define NEWEST	 RPC_FH_RECENT
#define NEWEST_1 (RPC_FH_RECENT + 1)

struct script {
	uint8_t buf[16384];
	size_t len;
	struct xdr x; /* the record being written, after its step header */
	size_t head;  /* where that step header is */
	bool open;
	uint32_t xid;
};

static void end_step(struct script *s)
{
	size_t n = s->x.pos;

	if (!s->open)
		return;
	s->buf[s->head + 1] = (uint8_t)(n >> 8);
	s->buf[s->head + 2] = (uint8_t)n;
	s->len = s->head + 3 + n;
	s->open = false;
}

static void begin_step(struct script *s, uint8_t ctl)
{
	end_step(s);
	s->head = s->len;
	s->buf[s->head] = ctl;
	xdr_init(&s->x, s->buf + s->head + 3, sizeof(s->buf) - s->head - 3);
	s->open = true;
}

/* A call header with AUTH_SYS as @uid (or AUTH_NONE for uid ~0). */
static void call_as(struct script *s, uint8_t ctl, uint32_t prog, uint32_t vers, uint32_t proc,
		    uint32_t uid)
{
	struct xdr *x = &s->x;

	begin_step(s, ctl);
	xdr_put_u32(x, ++s->xid);
	xdr_put_u32(x, 0); /* CALL */
	xdr_put_u32(x, RPC_VERSION);
	xdr_put_u32(x, prog);
	xdr_put_u32(x, vers);
	xdr_put_u32(x, proc);
	if (uid == ~0u) {
		xdr_put_u32(x, AUTH_NONE);
		xdr_put_u32(x, 0);
	} else {
		uint8_t cred[64];
		struct xdr c;

		xdr_init(&c, cred, sizeof(cred));
		xdr_put_u32(&c, 1); /* stamp */
		xdr_put_opaque(&c, "monitor", 7);
		xdr_put_u32(&c, uid);
		xdr_put_u32(&c, uid);
		xdr_put_u32(&c, 1); /* one more group */
		xdr_put_u32(&c, 100);
		xdr_put_u32(x, AUTH_SYS);
		xdr_put_opaque(x, cred, c.pos);
	}
	xdr_put_u32(x, AUTH_NONE); /* verifier */
	xdr_put_u32(x, 0);
}

static void nfs(struct script *s, uint8_t ctl, uint32_t proc)
{
	call_as(s, ctl, NFS_PROGRAM, 3, proc, 0);
}

static void fh(struct script *s, uint8_t k)
{
	const uint8_t mark[4] = {RPC_FH_MARK0, RPC_FH_MARK1, RPC_FH_MARK2, k};

	xdr_put_u32(&s->x, NFS_FH_SIZE);
	xdr_put_fixed(&s->x, mark, 4);
}

static void str(struct script *s, const char *v)
{
	xdr_put_opaque(&s->x, v, (uint32_t)strlen(v));
}

static void u32(struct script *s, uint32_t v)
{
	xdr_put_u32(&s->x, v);
}

static void u64(struct script *s, uint64_t v)
{
	xdr_put_u64(&s->x, v);
}

/* sattr3: mode and size when not ~0, times left alone or set to the server's. */
static void sattr(struct script *s, uint32_t mode, uint64_t size, bool touch)
{
	u32(s, mode != ~0u);
	if (mode != ~0u)
		u32(s, mode);
	u32(s, 0); /* uid */
	u32(s, 0); /* gid */
	u32(s, size != ~0ull);
	if (size != ~0ull)
		u64(s, size);
	u32(s, touch ? 1 : 0); /* atime: SET_TO_SERVER_TIME or DONT_CHANGE */
	u32(s, touch ? 1 : 0);
}

static void diropargs(struct script *s, uint8_t dir, const char *name)
{
	fh(s, dir);
	str(s, name);
}

static void mnt(struct script *s, uint8_t ctl, uint32_t vers, const char *path)
{
	call_as(s, ctl, MOUNT_PROGRAM, vers, MNT_MNT, 0);
	str(s, path);
}

static void write_data(struct script *s, uint8_t ctl, uint8_t file, uint64_t off, const char *data,
		       uint32_t stable)
{
	nfs(s, ctl, PROC3_WRITE);
	fh(s, file);
	u64(s, off);
	u32(s, (uint32_t)strlen(data));
	u32(s, stable);
	str(s, data);
}

static void read_data(struct script *s, uint8_t ctl, uint8_t file, uint64_t off, uint32_t count)
{
	nfs(s, ctl, PROC3_READ);
	fh(s, file);
	u64(s, off);
	u32(s, count);
}

static void create(struct script *s, uint8_t ctl, uint8_t dir, const char *name, uint32_t how)
{
	nfs(s, ctl, PROC3_CREATE);
	diropargs(s, dir, name);
	u32(s, how);
	if (how == 2)
		xdr_put_fixed(&s->x, "verf0001", 8);
	else
		sattr(s, 0644, ~0ull, false);
}

static void readdir(struct script *s, uint8_t ctl, uint8_t dir, bool plus, uint32_t count)
{
	nfs(s, ctl, plus ? PROC3_READDIRPLUS : PROC3_READDIR);
	fh(s, dir);
	u64(s, 0);
	xdr_put_fixed(&s->x, "\0\0\0\0\0\0\0\0", 8);
	if (plus)
		u32(s, count / 4); /* dircount */
	u32(s, count);
}

static void on_fh(struct script *s, uint8_t ctl, uint32_t proc, uint8_t k)
{
	nfs(s, ctl, proc);
	fh(s, k);
}

/* An NLM v4 call with a lock (TEST, LOCK, NM_LOCK, CANCEL, UNLOCK: each has its fields). */
static void nlm(struct script *s, uint8_t ctl, uint32_t proc, uint8_t file, const char *caller,
		uint32_t svid, uint64_t off, uint64_t len, bool excl)
{
	bool locking = proc == NLMPROC4_LOCK || proc == NLMPROC4_NM_LOCK;

	call_as(s, ctl, NLM_PROGRAM, 4, proc, 0);
	str(s, "cookie");
	if (locking || proc == NLMPROC4_CANCEL)
		u32(s, 1); /* block */
	if (proc != NLMPROC4_UNLOCK)
		u32(s, excl);
	str(s, caller);
	fh(s, file);
	str(s, "oh");
	u32(s, svid);
	u64(s, off);
	u64(s, len);
	if (locking) {
		u32(s, 0); /* reclaim */
		u32(s, 3); /* state */
	}
}

static void nlm_share(struct script *s, uint8_t ctl, uint32_t proc, const char *caller,
		      uint32_t mode, uint32_t access)
{
	call_as(s, ctl, NLM_PROGRAM, 4, proc, 0);
	str(s, "cookie");
	str(s, caller);
	fh(s, FH_DATA_FILE);
	str(s, "oh");
	u32(s, mode);
	u32(s, access);
	u32(s, 0);
}

static int save(struct script *s, const char *dir, const char *name)
{
	int err;

	end_step(s);
	err = fuzz_write_seed(dir, name, s->buf, s->len);
	memset(s, 0, sizeof(*s));
	return err;
}

int fuzz_make_seeds(const char *dir)
{
	static struct script sc;
	struct script *s = &sc;
	int err = 0;

#define SAVE(name) err = err ?: save(s, dir, name)

	/* --- every NFS procedure once, on fitting files --- */
	nfs(s, P_LOCAL, PROC3_NULL);
	SAVE("nfs-00-null");
	on_fh(s, P_LOCAL, PROC3_GETATTR, FH_RW);
	on_fh(s, P_LOCAL, PROC3_GETATTR, FH_COUNTER);
	on_fh(s, P_LOCAL, PROC3_GETATTR, FH_KNOB_MRW);
	SAVE("nfs-01-getattr-dir-generated-knob");
	nfs(s, P_LOCAL, PROC3_SETATTR);
	fh(s, FH_DATA_FILE);
	sattr(s, 0600, 5, true);
	u32(s, 0); /* no guard */
	nfs(s, P_LOCAL, PROC3_SETATTR);
	fh(s, FH_DATA_FILE);
	sattr(s, ~0u, ~0ull, false);
	u32(s, 1); /* guard: a ctime it does not have */
	u32(s, 1);
	u32(s, 0);
	SAVE("nfs-02-setattr-truncate-then-guard");
	nfs(s, P_LOCAL, PROC3_LOOKUP);
	diropargs(s, FH_RW, "data");
	nfs(s, P_LOCAL, PROC3_LOOKUP);
	diropargs(s, FH_RW, "..");
	nfs(s, P_LOCAL, PROC3_LOOKUP);
	diropargs(s, FH_MANY, "f17");
	nfs(s, P_LOCAL, PROC3_LOOKUP);
	diropargs(s, FH_RW, "nonexistent");
	SAVE("nfs-03-lookup");
	nfs(s, P_LOCAL, PROC3_ACCESS);
	fh(s, FH_KNOB_ACCEPT);
	u32(s, 0x3f);
	nfs(s, P_LOCAL, PROC3_ACCESS);
	fh(s, FH_STATUS);
	u32(s, 0x3f);
	SAVE("nfs-04-access");
	on_fh(s, P_LOCAL, PROC3_READLINK, FH_LINK);
	on_fh(s, P_LOCAL, PROC3_READLINK, FH_DATA_FILE);
	SAVE("nfs-05-readlink");
	read_data(s, P_LOCAL, FH_DATA_FILE, 0, 100);
	read_data(s, P_LOCAL, FH_BIG_GEN, 4000, 8192);
	read_data(s, P_LOCAL, FH_KNOB_MRW, 0, 32);
	SAVE("nfs-06-read-file-generated-knob");
	write_data(s, P_LOCAL, FH_DATA_FILE, 7, "fuzzer", 2);
	write_data(s, P_LOCAL, FH_DATA_FILE, 100000, "far", 0);
	SAVE("nfs-07-write");
	create(s, P_LOCAL, FH_RW, "new", 0);
	create(s, P_LOCAL, FH_RW, "new", 1);
	create(s, P_LOCAL, FH_RW, "excl", 2);
	create(s, P_LOCAL, FH_RW, "excl", 2);
	SAVE("nfs-08-create-unchecked-guarded-exclusive");
	nfs(s, P_LOCAL, PROC3_MKDIR);
	diropargs(s, FH_RW, "dir");
	sattr(s, 0755, ~0ull, false);
	SAVE("nfs-09-mkdir");
	nfs(s, P_LOCAL, PROC3_SYMLINK);
	diropargs(s, FH_RW, "sym");
	sattr(s, 0777, ~0ull, false);
	str(s, "../ro/a");
	on_fh(s, P_LOCAL, PROC3_READLINK, NEWEST);
	SAVE("nfs-10-symlink-readlink");
	nfs(s, P_LOCAL, PROC3_MKNOD);
	diropargs(s, FH_RW, "fifo");
	u32(s, 7); /* NF3FIFO */
	sattr(s, 0644, ~0ull, false);
	nfs(s, P_LOCAL, PROC3_MKNOD);
	diropargs(s, FH_RW, "chr");
	u32(s, 3); /* NF3CHR */
	sattr(s, 0644, ~0ull, false);
	u32(s, 1);
	u32(s, 3);
	SAVE("nfs-11-mknod");
	nfs(s, P_LOCAL, PROC3_REMOVE);
	diropargs(s, FH_MANY, "f03");
	nfs(s, P_LOCAL, PROC3_REMOVE);
	diropargs(s, FH_CONFIG, "Accepting"); /* pinned */
	SAVE("nfs-12-remove-plain-and-pinned");
	nfs(s, P_LOCAL, PROC3_RMDIR);
	diropargs(s, FH_RW, "many"); /* not empty */
	nfs(s, P_LOCAL, PROC3_RMDIR);
	diropargs(s, FH_RW, "status"); /* pinned */
	SAVE("nfs-13-rmdir");
	nfs(s, P_LOCAL, PROC3_RENAME);
	diropargs(s, FH_MANY, "f01");
	diropargs(s, FH_RW, "moved");
	nfs(s, P_LOCAL, PROC3_RENAME);
	diropargs(s, FH_RW, "moved");
	diropargs(s, FH_MANY, "f02"); /* over an existing file */
	SAVE("nfs-14-rename");
	nfs(s, P_LOCAL, PROC3_LINK);
	fh(s, FH_DATA_FILE);
	diropargs(s, FH_MANY, "hard");
	SAVE("nfs-15-link");
	readdir(s, P_LOCAL, FH_MANY, false, 400);
	readdir(s, P_LOCAL, FH_CONFIG, false, 4096);
	SAVE("nfs-16-readdir");
	readdir(s, P_LOCAL, FH_RW, true, 4096);
	readdir(s, P_LOCAL, FH_MANY, true, 1000);
	SAVE("nfs-17-readdirplus");
	on_fh(s, P_LOCAL, PROC3_FSSTAT, FH_RW);
	on_fh(s, P_LOCAL, PROC3_FSINFO, FH_RO);
	on_fh(s, P_LOCAL, PROC3_PATHCONF, FH_SECURE);
	SAVE("nfs-18-20-fsstat-fsinfo-pathconf");
	nfs(s, P_LOCAL, PROC3_COMMIT);
	fh(s, FH_DATA_FILE);
	u64(s, 0);
	u32(s, 0);
	SAVE("nfs-21-commit");

	/* --- what clients do, as sequences on handles replies hand out --- */
	mnt(s, P_LOCAL, 3, "/rw/data");
	create(s, P_LOCAL, NEWEST, "log", 0);
	write_data(s, P_LOCAL, NEWEST, 0, "line one\n", 0);
	write_data(s, P_LOCAL, NEWEST, 9, "line two\n", 1);
	nfs(s, P_LOCAL, PROC3_COMMIT);
	fh(s, NEWEST);
	u64(s, 0);
	u32(s, 18);
	read_data(s, P_LOCAL, NEWEST, 0, 4096);
	nfs(s, P_LOCAL, PROC3_RENAME);
	diropargs(s, NEWEST_1, "log");
	diropargs(s, NEWEST_1, "log.1");
	nfs(s, P_LOCAL, PROC3_REMOVE);
	diropargs(s, NEWEST_1, "log.1");
	on_fh(s, P_LOCAL, PROC3_GETATTR, NEWEST); /* now stale */
	SAVE("seq-create-write-commit-read-rename-remove");
	nfs(s, P_LOCAL, PROC3_MKDIR);
	diropargs(s, FH_RW, "d");
	sattr(s, 0777, ~0ull, false);
	create(s, P_LOCAL, NEWEST, "inner", 1);
	nfs(s, P_LOCAL, PROC3_MKDIR);
	diropargs(s, NEWEST_1, "deeper");
	sattr(s, 0700, ~0ull, false);
	nfs(s, P_LOCAL, PROC3_RMDIR);
	diropargs(s, FH_RW, "d");
	nfs(s, P_LOCAL, PROC3_LOOKUP);
	diropargs(s, NEWEST, "..");
	readdir(s, P_LOCAL, NEWEST, true, 8192);
	SAVE("seq-mkdir-nest-rmdir-notempty");
	/* An editor saves a knob: a temporary next to it, renamed over it. */
	create(s, P_LOCAL, FH_CONFIG, ".MaxRequestWorkers.swp", 0);
	write_data(s, P_LOCAL, NEWEST, 0, "250\n", 2);
	nfs(s, P_LOCAL, PROC3_RENAME);
	diropargs(s, FH_CONFIG, ".MaxRequestWorkers.swp");
	diropargs(s, FH_CONFIG, "MaxRequestWorkers");
	read_data(s, P_LOCAL, FH_KNOB_MRW, 0, 32);
	SAVE("knob-editor-rename-over");
	/* echo N > knob: truncate, then write; then values out of range and not numbers. */
	nfs(s, P_LOCAL, PROC3_SETATTR);
	fh(s, FH_KNOB_MRW);
	sattr(s, ~0u, 0, false);
	u32(s, 0);
	write_data(s, P_LOCAL, FH_KNOB_MRW, 0, "300\n", 2);
	write_data(s, P_LOCAL, FH_KNOB_ACCEPT, 0, "2\n", 2);
	write_data(s, P_LOCAL, FH_KNOB_ACCEPT, 0, "x\n", 2);
	write_data(s, P_LOCAL, FH_KNOB_MRW, 1, "0", 2);
	SAVE("knob-echo-truncate-write-and-refusals");
	write_data(s, P_LOCAL, FH_COUNTER, 0, "1", 2);
	nfs(s, P_LOCAL, PROC3_SETATTR);
	fh(s, FH_BIG_GEN);
	sattr(s, 0666, 0, false);
	u32(s, 0);
	create(s, P_LOCAL, FH_STATUS, "new", 0);
	SAVE("generated-readonly-nocreate");

	/* PROC3_RENAME's refusals: into itself, dir over file, file over dir, over a full dir,
	 * pinned. */
	nfs(s, P_LOCAL, PROC3_MKDIR);
	diropargs(s, FH_RW, "a");
	sattr(s, 0777, ~0ull, false);
	nfs(s, P_LOCAL, PROC3_MKDIR);
	diropargs(s, NEWEST, "b");
	sattr(s, 0777, ~0ull, false);
	nfs(s, P_LOCAL, PROC3_RENAME);
	diropargs(s, FH_RW, "a");
	diropargs(s, NEWEST, "inside");
	nfs(s, P_LOCAL, PROC3_RENAME);
	diropargs(s, FH_RW, "a");
	diropargs(s, FH_DATA, "file");
	nfs(s, P_LOCAL, PROC3_RENAME);
	diropargs(s, FH_DATA, "file");
	diropargs(s, FH_RW, "a");
	nfs(s, P_LOCAL, PROC3_RENAME);
	diropargs(s, FH_RW, "many");
	diropargs(s, FH_RW, "a");
	nfs(s, P_LOCAL, PROC3_RENAME);
	diropargs(s, NEWEST_1, "b");
	diropargs(s, FH_RW, "many");
	nfs(s, P_LOCAL, PROC3_RENAME);
	diropargs(s, FH_RW, "a");
	diropargs(s, FH_CONFIG, "Accepting"); /* a directory onto a knob */
	nfs(s, P_LOCAL, PROC3_RENAME);
	diropargs(s, FH_RW, "config");
	diropargs(s, FH_RW, "cfg");
	nfs(s, P_LOCAL, PROC3_RENAME);
	diropargs(s, FH_MANY, "f05");
	diropargs(s, FH_STATUS, "f05");
	nfs(s, P_LOCAL, PROC3_RENAME);
	diropargs(s, NEWEST_1, "b");
	diropargs(s, FH_RW, "b");
	nfs(s, P_LOCAL, PROC3_RENAME);
	diropargs(s, FH_RW, "b");
	diropargs(s, FH_RW, "a"); /* a dir over an empty dir */
	SAVE("seq-rename-refusals");
	/* Names: too long, with a slash, empty, dot-dot; a hard link to a dir; PROC3_CREATE over
	 * dir. */
	{
		char longname[300];

		memset(longname, 'n', 256);
		longname[256] = '\0';
		create(s, P_LOCAL, FH_RW, longname, 0);
		nfs(s, P_LOCAL, PROC3_LOOKUP);
		diropargs(s, FH_RW, longname);
	}
	create(s, P_LOCAL, FH_RW, "a/b", 0);
	create(s, P_LOCAL, FH_RW, "", 0);
	nfs(s, P_LOCAL, PROC3_MKDIR);
	diropargs(s, FH_RW, "..");
	sattr(s, 0777, ~0ull, false);
	nfs(s, P_LOCAL, PROC3_REMOVE);
	diropargs(s, FH_RW, ".");
	nfs(s, P_LOCAL, PROC3_LINK);
	fh(s, FH_MANY);
	diropargs(s, FH_RW, "dirlink");
	create(s, P_LOCAL, FH_RW, "many", 0);
	create(s, P_LOCAL, FH_RW, "data", 2);
	nfs(s, P_LOCAL, PROC3_CREATE); /* UNCHECKED over a file, truncating it */
	diropargs(s, FH_DATA, "file");
	u32(s, 0);
	sattr(s, ~0u, 0, false);
	nfs(s, P_LOCAL, PROC3_MKDIR);
	diropargs(s, FH_RW, "many");
	sattr(s, 0777, ~0ull, false);
	SAVE("names-and-types");

	/* --- MOUNT v3 and v1 --- */
	call_as(s, P_LOCAL, MOUNT_PROGRAM, 3, MNT_NULL, 0);
	mnt(s, P_LOCAL, 3, "/rw");
	on_fh(s, P_LOCAL, PROC3_GETATTR, NEWEST);
	mnt(s, P_LOCAL, 3, "/ro//sub/");
	mnt(s, P_LOCAL, 3, "");
	mnt(s, P_LOCAL, 3, "/rw/../secure");
	mnt(s, P_LOCAL, 3, "/nonexistent");
	mnt(s, P_LOCAL, 3, "/rw/data/file");
	SAVE("mount3-null-mnt");
	call_as(s, P_LOCAL, MOUNT_PROGRAM, 3, MNT_DUMP, 0);
	call_as(s, P_LOCAL, MOUNT_PROGRAM, 3, MNT_UMNT, 0);
	str(s, "/rw");
	call_as(s, P_LOCAL, MOUNT_PROGRAM, 3, MNT_UMNTALL, 0);
	call_as(s, P_FOREIGN, MOUNT_PROGRAM, 3, MNT_EXPORT, ~0u);
	SAVE("mount3-dump-umnt-umntall-export");
	call_as(s, P_LOCAL, MOUNT_PROGRAM, 1, MNT_NULL, 0);
	mnt(s, P_LOCAL, 1, "/rw/config");
	on_fh(s, P_LOCAL, PROC3_GETATTR, NEWEST);
	call_as(s, P_LOCAL, MOUNT_PROGRAM, 1, MNT_EXPORT, 0);
	SAVE("mount1-null-mnt-export");

	/* --- who may do what --- */
	mnt(s, P_FOREIGN, 3, "/");
	mnt(s, P_FOREIGN6, 3, "/rw");
	on_fh(s, P_FOREIGN, PROC3_GETATTR, FH_RW);
	write_data(s, P_FOREIGN6, FH_DATA_FILE, 0, "owned", 2);
	write_data(s, P_FOREIGN, FH_KNOB_MRW, 0, "1\n", 2);
	SAVE("peer-foreign");
	mnt(s, P_RO, 3, "/ro");
	mnt(s, P_RO, 3, "/rw");
	write_data(s, P_RO, FH_RO_FILE, 0, "2\n", 2);
	create(s, P_RO, FH_RO, "new", 0);
	on_fh(s, P_RO, PROC3_GETATTR, FH_DATA_FILE);
	write_data(s, P_LOCAL, FH_RO_VIA_ROOT, 0, "x", 2);
	create(s, P_LOCAL, FH_ROOT, "new", 0);
	SAVE("peer-readonly-exports");
	on_fh(s, P_UNPRIV, PROC3_GETATTR, FH_SECURE);
	write_data(s, P_UNPRIV, FH_SECURE_FILE, 0, "x", 2);
	mnt(s, P_MAPPED, 3, "/secure");
	on_fh(s, P_NET10, PROC3_GETATTR, FH_SECURE_FILE);
	write_data(s, P_V6, FH_SECURE_FILE, 0, "v6 ", 2);
	mnt(s, P_V6, 3, "/secure");
	SAVE("peer-secure-ports-v6-mapped");
	on_fh(s, P_LOCAL, PROC3_GETATTR, FH_CROSS);
	nfs(s, P_LOCAL, PROC3_LINK);
	fh(s, FH_RO_FILE);
	diropargs(s, FH_RW, "stolen");
	nfs(s, P_LOCAL, PROC3_RENAME);
	diropargs(s, FH_RW, "link");
	diropargs(s, FH_SECURE, "link");
	nfs(s, P_LOCAL, PROC3_LOOKUP);
	diropargs(s, FH_RO, "..");
	SAVE("cross-export-handles");
	call_as(s, P_LOCAL, NFS_PROGRAM, 3, PROC3_WRITE, 1000);
	fh(s, FH_SECURE_FILE);
	u64(s, 0);
	u32(s, 1);
	u32(s, 2);
	str(s, "x");
	call_as(s, P_LOCAL, NFS_PROGRAM, 3, PROC3_CREATE, ~0u); /* AUTH_NONE: nobody */
	diropargs(s, FH_SECURE, "anon");
	u32(s, 0);
	sattr(s, ~0u, ~0ull, false);
	call_as(s, P_LOCAL, NFS_PROGRAM, 3, PROC3_ACCESS, 1000);
	fh(s, FH_SECURE_FILE);
	u32(s, 0x3f);
	SAVE("uid-permissions");

	/* --- UDP: replies must fit a datagram --- */
	read_data(s, P_LOCAL | RPC_CTL_UDP, FH_BIG_GEN, 0, 65536);
	read_data(s, P_LOCAL | RPC_CTL_UDP, FH_DATA_FILE, 0, 65536);
	readdir(s, P_LOCAL | RPC_CTL_UDP, FH_MANY, true, 65536);
	mnt(s, P_V6 | RPC_CTL_UDP, 3, "/ro");
	SAVE("udp-large-replies");
	nfs(s, P_FOREIGN | RPC_CTL_UDP, PROC3_NULL);
	on_fh(s, P_FOREIGN | RPC_CTL_UDP, PROC3_GETATTR, FH_ROOT);
	SAVE("udp-foreign");

	/* --- NLM v4 and NSM v1 --- */
	call_as(s, P_LOCAL, NLM_PROGRAM, 4, NLMPROC4_NULL, 0);
	nlm(s, P_LOCAL, NLMPROC4_LOCK, FH_DATA_FILE, "alpha", 1, 0, 100, true);
	nlm(s, P_V6, NLMPROC4_TEST, FH_DATA_FILE, "beta", 2, 50, 1, false);
	nlm(s, P_V6, NLMPROC4_LOCK, FH_DATA_FILE, "beta", 2, 50, 0, true);
	nlm(s, P_V6, NLMPROC4_CANCEL, FH_DATA_FILE, "beta", 2, 50, 0, true);
	nlm(s, P_LOCAL, NLMPROC4_UNLOCK, FH_DATA_FILE, "alpha", 1, 40, 20, false);
	nlm(s, P_LOCAL, NLMPROC4_NM_LOCK, FH_DATA_FILE, "alpha", 1, 45, 5, false);
	nlm(s, P_RO, NLMPROC4_LOCK, FH_RO_FILE, "ro", 3, 0, 1, true);
	nlm(s, P_FOREIGN, NLMPROC4_TEST, FH_DATA_FILE, "foreign", 4, 0, 1, true);
	SAVE("nlm-lock-test-cancel-unlock");
	nlm_share(s, P_LOCAL, NLMPROC4_SHARE, "alpha", 2, 1);
	nlm_share(s, P_V6, NLMPROC4_SHARE, "beta", 0, 2);
	nlm_share(s, P_LOCAL, NLMPROC4_UNSHARE, "alpha", 2, 1);
	call_as(s, P_LOCAL, NLM_PROGRAM, 4, NLMPROC4_FREE_ALL, 0);
	str(s, "alpha");
	u32(s, 5);
	call_as(s, P_LOCAL, NSM_PROGRAM, 1, SM_NOTIFY, 0);
	str(s, "beta");
	u32(s, 5);
	call_as(s, P_LOCAL, NSM_PROGRAM, 1, SM_STAT, 0);
	str(s, "beta");
	SAVE("nlm-share-free-all-nsm-notify");

	/* --- the machine's rpcbind (rpcb_svc.c) --- */
	call_as(s, P_LOCAL, RPCB_PROGRAM, 2, RPCBPROC_GETADDR, ~0u); /* PMAP GETPORT */
	u32(s, NFS_PROGRAM);
	u32(s, 3);
	u32(s, 6);
	u32(s, 0);
	call_as(s, P_LOCAL, RPCB_PROGRAM, 4, RPCBPROC_GETADDR, ~0u);
	u32(s, MOUNT_PROGRAM);
	u32(s, 3);
	str(s, "tcp6");
	str(s, "");
	str(s, "superuser");
	call_as(s, P_LOCAL, RPCB_PROGRAM, 3, RPCBPROC_DUMP, ~0u);
	call_as(s, P_LOCAL, RPCB_PROGRAM, 4, RPCBPROC_GETADDRLIST, ~0u);
	u32(s, NFS_PROGRAM);
	u32(s, 3);
	str(s, "");
	str(s, "");
	str(s, "");
	call_as(s, P_FOREIGN, RPCB_PROGRAM, 2, RPCBPROC_SET, ~0u);
	u32(s, NFS_PROGRAM);
	u32(s, 3);
	u32(s, 6);
	u32(s, 4444);
	call_as(s, P_LOCAL, RPCB_PROGRAM, 2, RPCBPROC_CALLIT, ~0u);
	SAVE("rpcbind-getport-getaddr-dump-set-callit");

	/* --- RPC-level refusals --- */
	call_as(s, P_LOCAL, NFS_PROGRAM, 2, PROC3_NULL, 0);
	call_as(s, P_LOCAL, MOUNT_PROGRAM, 2, MNT_NULL, 0);
	call_as(s, P_LOCAL, 100099, 1, 0, 0);
	call_as(s, P_LOCAL, NFS_PROGRAM, 3, 22, 0);
	call_as(s, P_LOCAL, MOUNT_PROGRAM, 3, 6, 0);
	SAVE("rpc-prog-mismatch-unavail-proc-unavail");
	nfs(s, P_LOCAL, PROC3_NULL);
	s->buf[3 + 11] = 3; /* rpcvers 3 */
	begin_step(s, P_LOCAL);
	u32(s, 77);
	u32(s, 0);
	u32(s, RPC_VERSION);
	u32(s, NFS_PROGRAM);
	u32(s, 3);
	u32(s, PROC3_GETATTR);
	u32(s, 6); /* RPCSEC_GSS */
	u32(s, 0);
	u32(s, 0);
	u32(s, 0);
	begin_step(s, P_LOCAL);
	u32(s, 78);
	u32(s, 0);
	u32(s, RPC_VERSION);
	u32(s, NFS_PROGRAM);
	u32(s, 3);
	u32(s, PROC3_GETATTR);
	u32(s, AUTH_SYS);
	u32(s, 401); /* a credential over the limit */
	on_fh(s, P_LOCAL, PROC3_GETATTR, FH_RW);
	s->x.pos -= 4; /* the handle's bytes cut off */
	begin_step(s, P_LOCAL);
	u32(s, 79);
	u32(s, 1); /* a REPLY sent to us */
	SAVE("rpc-denied-badcred-garbage-reply");
#undef SAVE
	return err;
}
