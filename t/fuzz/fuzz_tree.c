/*
 * The machine behind the RPC harness: booting it, building and tearing down
 * its tree, its peers, and the snapshots that tell who changed what (see
 * fuzz_tree.h for the tree).
 *
 * The tree is torn down with the vfs calls a client's REMOVE and RMDIR use,
 * as root, after lifting the flags that protect the pinned files; iterative
 * walks throughout, since the fuzzer nests directories as deep as it likes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../mod_umlconf/knob_parse.h"
#include "uml.h"
#include "uml/machine.h"
#include "uml/mm.h"
#include "fuzz.h"
#include "fuzz_tree.h"

#define MEMORY (16 << 20)

static const char *const export_path[FX_COUNT] = {"/", "/rw", "/ro", "/secure"};
static struct vfs_ino export_root[FX_COUNT];

static struct fuzz_peer peers[FUZZ_NPEERS];
static const struct {
	int family;
	const char *addr;
	unsigned port, may;
} peer_spec[FUZZ_NPEERS] = {
    {AF_INET, "127.0.0.1", 700, 1u << FX_ROOT | 1u << FX_RW | 1u << FX_RO | 1u << FX_SECURE},
    {AF_INET, "127.0.0.1", 1024, 1u << FX_ROOT | 1u << FX_RW | 1u << FX_RO}, /* not privileged */
    {AF_INET, "127.0.0.2", 800, 1u << FX_RO},				     /* read-only client */
    {AF_INET, "192.168.1.9", 700, 0},					     /* foreign */
    {AF_INET6, "::1", 700, 1u << FX_RW | 1u << FX_RO | 1u << FX_SECURE},
    {AF_INET6, "2001:db8::1", 900, 0}, /* foreign */
    {AF_INET, "10.1.2.3", 1023, 1u << FX_RW},
    /* A v4 client of a dual-stack socket, from an unprivileged port. */
    {AF_INET6, "::ffff:127.0.0.1", 40000, 1u << FX_ROOT | 1u << FX_RW | 1u << FX_RO},
};

static struct vfs_ino base_ino[FH_NBASE];
static enum fuzz_export base_export[FH_NBASE];
static const struct fuzz_peer *serving;
static unsigned generation; /* resets so far: the generated file changes with it */
static uint64_t renders;

/* --- the knobs and status files, as mod_umlconf's --- */

struct knob {
	const char *path;
	int64_t min, max, initial;
	int64_t value; /* committed; back to initial at every reset, for replays */
};

static struct knob knobs[] = {
    {"/rw/config/MaxRequestWorkers", 1, 400, 150, 150},
    {"/rw/config/Accepting", 0, 1, 1, 1},
};

static int knob_validate(void *arg, const char *data, size_t len, const struct uml_client *who,
			 char *why, size_t whylen)
{
	const struct knob *k = arg;
	char reason[160];
	int64_t v;
	int rc;

	fuzz_check(serving && (serving->may & 1u << FX_RW),
		   "a write to %s from %s, which may not write /rw, reached validation", k->path,
		   who && who->addr ? who->addr : "(nobody)");
	rc = umlconf_knob_check(umlconf_parse_decimal, data, len, k->min, k->max, &v, reason,
				sizeof(reason));
	if (rc && why && whylen)
		snprintf(why, whylen, "%s", reason);
	return rc;
}

static void knob_commit(void *arg, const char *data, size_t len)
{
	struct knob *k = arg;
	char reason[160];
	int64_t v;

	/* Only what validate accepted is committed: it must parse, and be in range. */
	fuzz_check(umlconf_knob_check(umlconf_parse_decimal, data, len, k->min, k->max, &v, reason,
				      sizeof(reason)) == 0,
		   "%s committed content its validation refuses: %s", k->path, reason);
	k->value = v;
}

static size_t render_counter(void *arg, char *buf, size_t size)
{
	int n;

	(void)arg;
	n = snprintf(buf, size, "renders %llu\n", (unsigned long long)++renders);
	return n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}

static size_t render_big(void *arg, char *buf, size_t size)
{
	size_t n = size < 10000 ? size : 10000;

	(void)arg;
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)('a' + (i + generation) % 26);
	return n;
}

/* --- walking directories --- */

struct dent {
	char name[VFS_NAME_MAX + 1];
	size_t len;
	struct vfs_ino ino;
};

#define BATCH 64
static struct dent batch[BATCH];

struct batch_fill {
	size_t n;
	uint64_t last;
};

static int batch_add(void *arg, const char *name, size_t len, struct vfs_ino ino, uint64_t cookie)
{
	struct batch_fill *f = arg;

	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.')) {
		f->last = cookie;
		return 0;
	}
	if (f->n == BATCH)
		return 1; /* this one comes first in the next batch */
	memcpy(batch[f->n].name, name, len);
	batch[f->n].name[len] = '\0';
	batch[f->n].len = len;
	batch[f->n].ino = ino;
	f->n++;
	f->last = cookie;
	return 0;
}

/* The entries of @dir after *@cookie, at most BATCH of them, into batch[]. */
static size_t read_batch(struct vfs_ino dir, uint64_t *cookie)
{
	struct batch_fill f = {0, *cookie};
	uint64_t verf = 0;

	if (vfs_readdir(dir, *cookie, &verf, batch_add, &f))
		return 0;
	*cookie = f.last;
	return f.n;
}

/* A growing stack of directories still to visit, with their names for rmdir. */
struct dstack {
	struct {
		struct vfs_ino ino, parent;
		char name[VFS_NAME_MAX + 1];
	} * v;
	size_t n, cap;
};

static void dstack_push(struct dstack *s, struct vfs_ino ino, struct vfs_ino parent,
			const char *name)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		fuzz_check(s->v, "out of memory");
	}
	s->v[s->n].ino = ino;
	s->v[s->n].parent = parent;
	snprintf(s->v[s->n].name, sizeof(s->v[s->n].name), "%s", name);
	s->n++;
}

static struct vfs_ctx root_ctx(void)
{
	struct vfs_ctx ctx = {.client = "fuzz-tree"};

	return ctx;
}

/* Remove everything under the root, depth first, without recursion. */
static int tree_clear(void)
{
	struct dstack s = {0};
	struct vfs_ctx ctx = root_ctx();
	int err = 0;

	dstack_push(&s, vfs_root(), vfs_root(), "");
	while (s.n && !err) {
		struct vfs_ino dir = s.v[s.n - 1].ino;
		uint64_t cookie = 0;
		size_t n = read_batch(dir, &cookie);

		if (n == 0) {
			/* Empty: remove it from its parent (the root stays). */
			s.n--;
			if (s.n)
				err = vfs_rmdir(s.v[s.n].parent, s.v[s.n].name,
						strlen(s.v[s.n].name), &ctx);
			continue;
		}
		for (size_t i = 0; i < n && !err; i++) {
			struct vfs_attr a;

			err = vfs_set_flags(batch[i].ino, 0);
			if (!err)
				err = vfs_getattr(batch[i].ino, &a);
			if (err)
				break;
			if (a.type == VFS_DIR) {
				dstack_push(&s, batch[i].ino, dir, batch[i].name);
				break; /* batch[] is reused below it */
			}
			err = vfs_remove(dir, batch[i].name, batch[i].len, &ctx);
		}
	}
	free(s.v);
	return err;
}

static bool is_hooked(struct vfs_ino ino)
{
	static const enum fuzz_base_fh hooked[] = {FH_KNOB_MRW, FH_KNOB_ACCEPT, FH_COUNTER,
						   FH_BIG_GEN};

	for (size_t i = 0; i < sizeof(hooked) / sizeof(hooked[0]); i++)
		if (base_ino[hooked[i]].ino == ino.ino && base_ino[hooked[i]].gen == ino.gen)
			return true;
	return false;
}

static void listing_add(struct fuzz_listing *l, struct vfs_ino dir, struct vfs_ino ino,
			const char *name, size_t len, bool attrs)
{
	struct fuzz_entry *e;
	struct vfs_attr a;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 256;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		fuzz_check(l->v, "out of memory");
	}
	if (l->nlen + len + 1 > l->ncap) {
		l->ncap = 2 * (l->ncap + len + 1);
		l->names = realloc(l->names, l->ncap);
		fuzz_check(l->names, "out of memory");
	}
	e = &l->v[l->n++];
	memset(e, 0, sizeof(*e));
	e->dir = dir;
	e->ino = ino;
	e->name = l->nlen;
	memcpy(l->names + l->nlen, name, len);
	l->names[l->nlen + len] = '\0';
	l->nlen += len + 1;
	/*
	 * Not atime, which a READ moves, nor ctime and change, which follow the
	 * rest; nothing of hooked files, whose hooks watch them (a generated
	 * file changes when read).
	 */
	if (!attrs || is_hooked(ino) || vfs_getattr(ino, &a))
		return;
	e->type = a.type;
	e->mode = a.mode;
	e->nlink = a.nlink;
	e->uid = a.uid;
	e->gid = a.gid;
	e->size = a.size;
	e->mtime = a.mtime;
}

/* Names, inodes and attributes of the tree under @top, not entering @skip. */
static void list_from(struct fuzz_listing *l, struct vfs_ino top, const struct vfs_ino *skip,
		      size_t nskip)
{
	struct dstack s = {0};

	l->n = l->nlen = 0;
	listing_add(l, top, top, ".", 1, true);
	dstack_push(&s, top, top, "");
	for (size_t at = 0; at < s.n; at++) {
		struct vfs_ino dir = s.v[at].ino;
		uint64_t cookie = 0;
		size_t n;

		while ((n = read_batch(dir, &cookie)) > 0) {
			for (size_t i = 0; i < n; i++) {
				bool skipped = false;

				for (size_t k = 0; k < nskip; k++)
					skipped |= skip[k].ino == batch[i].ino.ino;
				listing_add(l, dir, batch[i].ino, batch[i].name, batch[i].len,
					    !skipped);
				if (!skipped && l->v[l->n - 1].type == VFS_DIR)
					dstack_push(&s, batch[i].ino, dir, "");
			}
		}
	}
	free(s.v);
}

void fuzz_tree_snapshot(struct fuzz_snapshot *s, unsigned regions)
{
	const struct vfs_ino skip[] = {export_root[FX_RW], export_root[FX_SECURE]};

	s->regions = regions;
	if (regions & 1u << FR_FIXED)
		list_from(&s->r[FR_FIXED], vfs_root(), skip, 2);
	if (regions & 1u << FR_RW)
		list_from(&s->r[FR_RW], export_root[FX_RW], NULL, 0);
	if (regions & 1u << FR_SECURE)
		list_from(&s->r[FR_SECURE], export_root[FX_SECURE], NULL, 0);
}

static bool entry_same(const struct fuzz_listing *a, const struct fuzz_entry *x,
		       const struct fuzz_listing *b, const struct fuzz_entry *y)
{
	return x->dir.ino == y->dir.ino && x->ino.ino == y->ino.ino && x->ino.gen == y->ino.gen &&
	       strcmp(a->names + x->name, b->names + y->name) == 0 && x->type == y->type &&
	       x->mode == y->mode && x->nlink == y->nlink && x->uid == y->uid && x->gid == y->gid &&
	       x->size == y->size && x->mtime.sec == y->mtime.sec && x->mtime.nsec == y->mtime.nsec;
}

static void entry_describe(char *buf, size_t size, const struct fuzz_listing *l,
			   const struct fuzz_entry *e)
{
	snprintf(buf, size,
		 "'%s' (ino %llu in dir %llu: type %u mode %o nlink %u uid %u size %llu "
		 "mtime %lld.%09u)",
		 l->names + e->name, (unsigned long long)e->ino.ino, (unsigned long long)e->dir.ino,
		 e->type, e->mode, e->nlink, e->uid, (unsigned long long)e->size,
		 (long long)e->mtime.sec, e->mtime.nsec);
}

bool fuzz_tree_same(const struct fuzz_snapshot *before, const struct fuzz_snapshot *after,
		    enum fuzz_region r, char *why, size_t size)
{
	const struct fuzz_listing *a = &before->r[r], *b = &after->r[r];
	char x[512] = "nothing", y[512] = "nothing";
	size_t i;

	if (!(before->regions & after->regions & 1u << r))
		return true;
	for (i = 0; i < a->n && i < b->n; i++)
		if (!entry_same(a, &a->v[i], b, &b->v[i]))
			break;
	if (i == a->n && i == b->n)
		return true;
	if (i < a->n)
		entry_describe(x, sizeof(x), a, &a->v[i]);
	if (i < b->n)
		entry_describe(y, sizeof(y), b, &b->v[i]);
	snprintf(why, size, "entry %zu was %s, is %s", i, x, y);
	return false;
}

/* --- building --- */

static int put(const char *path, unsigned mode, const char *text)
{
	return uml_put_file(path, mode, text, strlen(text));
}

static int build(void)
{
	static const char *const rw_clients[] = {"127.0.0.1", "10.0.0.0/8", "::1"};
	static const char *const ro_clients[] = {"127.0.0.0/30", "::1"};
	static const char *const local[] = {"127.0.0.1", "::1"};
	static const struct {
		const char *path;
		enum fuzz_export ex;
	} base[FH_NBASE] = {
	    [FH_ROOT] = {"/", FX_ROOT},
	    [FH_RW] = {"/rw", FX_RW},
	    [FH_RO] = {"/ro", FX_RO},
	    [FH_SECURE] = {"/secure", FX_SECURE},
	    [FH_CONFIG] = {"/rw/config", FX_RW},
	    [FH_KNOB_MRW] = {"/rw/config/MaxRequestWorkers", FX_RW},
	    [FH_KNOB_ACCEPT] = {"/rw/config/Accepting", FX_RW},
	    [FH_STATUS] = {"/rw/status", FX_RW},
	    [FH_COUNTER] = {"/rw/status/counter", FX_RW},
	    [FH_BIG_GEN] = {"/rw/status/big", FX_RW},
	    [FH_DATA] = {"/rw/data", FX_RW},
	    [FH_DATA_FILE] = {"/rw/data/file", FX_RW},
	    [FH_MANY] = {"/rw/many", FX_RW},
	    [FH_LINK] = {"/rw/link", FX_RW},
	    [FH_RO_FILE] = {"/ro/a", FX_RO},
	    [FH_SECURE_FILE] = {"/secure/s", FX_SECURE},
	    [FH_RO_VIA_ROOT] = {"/ro", FX_ROOT},
	    [FH_CROSS] = {"/rw/data/file", FX_RO},
	};
	struct vfs_sattr link_mode = {.mask = VFS_SET_MODE, .mode = 0777};
	struct vfs_ctx ctx = root_ctx();
	static char bigdata[20000];
	struct vfs_ino data;
	char err[256], path[64];
	int rc = 0;

	rc = rc ?: uml_mkdir_p("/ro/sub", 0755);
	rc = rc ?: put("/ro/a", 0644, "1\n");
	rc = rc ?: put("/ro/sub/b", 0644, "read-only\n");
	rc = rc ?: uml_mkdir_p("/rw/config", 0777);
	rc = rc ?: uml_mkdir_p("/rw/status", 0755);
	rc = rc ?: uml_mkdir_p("/rw/data", 0777);
	rc = rc ?: uml_mkdir_p("/rw/many", 0777);
	rc = rc ?: uml_mkdir_p("/secure", 0777);
	for (size_t i = 0; i < sizeof(knobs) / sizeof(knobs[0]) && !rc; i++) {
		struct uml_file_hooks h = {
		    .validate = knob_validate, .commit = knob_commit, .arg = &knobs[i]};
		char text[32];

		knobs[i].value = knobs[i].initial;
		snprintf(text, sizeof(text), "%lld\n", (long long)knobs[i].value);
		rc = rc ?: put(knobs[i].path, 0666, text);
		rc = rc ?: uml_file_hooks(knobs[i].path, &h);
		rc = rc ?: uml_file_flags(knobs[i].path, UML_FILE_PINNED);
	}
	{
		struct uml_file_hooks counter = {.render = render_counter};
		struct uml_file_hooks big = {.render = render_big};

		rc = rc ?: put("/rw/status/counter", 0444, "");
		rc = rc ?: uml_file_hooks("/rw/status/counter", &counter);
		rc =
		    rc ?: uml_file_flags("/rw/status/counter", UML_FILE_PINNED | UML_FILE_READONLY);
		rc = rc ?: put("/rw/status/big", 0444, "");
		rc = rc ?: uml_file_hooks("/rw/status/big", &big);
		rc = rc ?: uml_file_flags("/rw/status/big", UML_FILE_PINNED | UML_FILE_READONLY);
		rc = rc ?: uml_file_flags("/rw/status", UML_FILE_PINNED | UML_DIR_NOCREATE);
		rc = rc ?: uml_file_flags("/rw/config", UML_FILE_PINNED);
	}
	rc = rc ?: put("/rw/data/file", 0666, "hello, world\n");
	for (size_t i = 0; i < sizeof(bigdata); i++)
		bigdata[i] = (char)(' ' + i % 95);
	rc = rc ?: uml_put_file("/rw/data/big", 0644, bigdata, sizeof(bigdata));
	for (int i = 0; i < 40 && !rc; i++) {
		snprintf(path, sizeof(path), "/rw/many/f%02d", i);
		rc = put(path, 0644, "x");
	}
	rc = rc ?: vfs_walk("/rw", &data);
	rc = rc ?: vfs_symlink(data, "link", 4, "data/file", 9, &link_mode, &ctx, &data);
	rc = rc ?: put("/secure/s", 0600, "secret\n");
	if (rc)
		return rc;

	uml_nfs_exports_clear();
	rc = rc ?: uml_nfs_export("/", 0, local, 1, err, sizeof(err));
	rc = rc ?: uml_nfs_export("/rw", UML_NFS_RW, rw_clients, 3, err, sizeof(err));
	rc = rc ?: uml_nfs_export("/ro", 0, ro_clients, 2, err, sizeof(err));
	rc = rc
		 ?: uml_nfs_export("/secure", UML_NFS_RW | UML_NFS_SECURE, local, 2, err,
				   sizeof(err));
	if (rc) {
		fprintf(stderr, "fuzz-tree: %s\n", err);
		return rc;
	}
	for (int i = 0; i < FX_COUNT && !rc; i++)
		rc = vfs_walk(export_path[i], &export_root[i]);
	for (int i = 0; i < FH_NBASE && !rc; i++) {
		rc = vfs_walk(base[i].path, &base_ino[i]);
		base_export[i] = base[i].ex;
	}
	return rc;
}

/* --- the machine --- */

/* Handles must not change from run to run: a key of our own, through a key file. */
static int load_fixed_key(void)
{
	static const char key[] = "00112233445566778899aabbccddeeff\n";
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char dir[4096], path[4200], err[256];
	int fd, rc;

	snprintf(dir, sizeof(dir), "%s/fuzz-rpc-XXXXXX", tmp);
	if (!mkdtemp(dir))
		return -errno;
	snprintf(path, sizeof(path), "%s/key", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	rc = fd < 0 ? -errno : 0;
	if (!rc && write(fd, key, sizeof(key) - 1) != (ssize_t)sizeof(key) - 1)
		rc = -EIO;
	if (fd >= 0)
		close(fd);
	if (!rc) {
		rc = uml_nfs_key_file(path, err, sizeof(err));
		if (rc)
			fprintf(stderr, "fuzz-tree: %s\n", err);
	}
	unlink(path);
	rmdir(dir);
	return rc;
}

int fuzz_tree_boot(void)
{
	struct uml_boot_params bp = {.memory = MEMORY};
	int rc = uml_boot(&bp);

	for (int i = 0; i < FUZZ_NPEERS; i++) {
		struct fuzz_peer *p = &peers[i];

		memset(p, 0, sizeof(*p));
		if (peer_spec[i].family == AF_INET) {
			struct sockaddr_in *in = (struct sockaddr_in *)&p->sa;

			in->sin_family = AF_INET;
			in->sin_port = htons(peer_spec[i].port);
			inet_pton(AF_INET, peer_spec[i].addr, &in->sin_addr);
			p->len = sizeof(*in);
		} else {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&p->sa;

			in6->sin6_family = AF_INET6;
			in6->sin6_port = htons(peer_spec[i].port);
			inet_pton(AF_INET6, peer_spec[i].addr, &in6->sin6_addr);
			p->len = sizeof(*in6);
		}
		rpc_format_peer((struct sockaddr *)&p->sa, p->len, p->client, sizeof(p->client));
		p->may = peer_spec[i].may;
	}
	rc = rc ?: load_fixed_key();
	return rc ?: build();
}

uint32_t fuzz_tree_free_pages(void)
{
	/* What this thread keeps cached, and empty slabs, count as free. */
	mm_drain();
	mm_shrink();
	return __atomic_load_n(&machine->mm.nfree, __ATOMIC_RELAXED);
}

int fuzz_tree_reset(void)
{
	int rc;

	/* Pinned files can't be removed, and a removed hooked file would keep its hook slot. */
	for (size_t i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++)
		uml_file_hooks(knobs[i].path, NULL);
	uml_file_hooks("/rw/status/counter", NULL);
	uml_file_hooks("/rw/status/big", NULL);
	rc = tree_clear();
	if (rc)
		return rc;
	generation++;
	return build();
}

bool fuzz_tree_low_memory(void)
{
	const struct mm_zone *z = &machine->mm;

	return __atomic_load_n(&z->nfree, __ATOMIC_RELAXED) < z->npages / 4;
}

const struct fuzz_peer *fuzz_tree_peer(unsigned i)
{
	return &peers[i % FUZZ_NPEERS];
}

void fuzz_tree_base_fh(enum fuzz_base_fh which, uint8_t out[NFS_FH_SIZE])
{
	struct nfs_fh fh = {.root = export_root[base_export[which]], .ino = base_ino[which]};

	nfs_fh_encode(&fh, out);
}

int fuzz_tree_export_of(const uint8_t *p, size_t len)
{
	struct nfs_fh fh;

	if (nfs_fh_decode(p, len, &fh))
		return -1;
	for (int i = 0; i < FX_COUNT; i++)
		if (fh.root.ino == export_root[i].ino && fh.root.gen == export_root[i].gen)
			return i;
	return -1;
}

void fuzz_tree_serving(const struct fuzz_peer *p)
{
	serving = p;
}
