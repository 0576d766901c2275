/*
 * Imports: a remote export kept as a read-only copy in the tree (see
 * uml/nfsimport.h for the contract).
 *
 * The table of imports is in the arena, found by the machine root
 * "nfs.imports"; it is written by nfsimport_add (the application's set-up,
 * before its processes fork) and by the holders' status updates. Everything
 * a holder needs to poll -- the client, the handles, the attributes it saw
 * -- is its process's own, so a holder that dies takes nothing shared with
 * it but the lease, which the next importer to look takes over.
 *
 * A pass lists every directory with READDIRPLUS (its entries' attributes
 * come with the listing) and reads a file only when its fileid, size,
 * mtime or ctime differ from what the holder saw last; a new holder starts
 * with nothing seen, reads everything once, and changes the copy only where
 * the content differs. Names the server no longer lists are removed from
 * the copy. A failure keeps the copy as it is and marks the import stale;
 * the next pass starts again from a new connection.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uml/host.h"
#include "uml/machine.h"
#include "uml/mm.h"
#include "uml/nfsclnt.h"
#include "uml/nfsimport.h"
#include "uml/sched.h"
#include "uml/sync.h"
#include "uml/vfs.h"

#define IMPORT_ROOT	   "nfs.imports"
#define IMPORT_REL_MAX	   512
#define IMPORT_STACK_ORDER 4 /* 64 KiB: a pass keeps paths of VFS_PATH_MAX on it */
#define IMPORT_MIN_IVL_MS  50

/* One import, in the arena. */
struct nfsimport {
	/* Written by nfsimport_add under the table's lock. */
	char url[NFSIMPORT_URL_MAX];
	char path[NFSIMPORT_PATH_MAX];
	uint32_t interval_ms, maxfile, maxentries, depth, uid, gid;
	bool has_uid, has_gid;
	_Atomic uint32_t config_gen; /* bumped by every add: holders start over */

	_Atomic uint32_t holder; /* host tid of the polling thread, 0: none */
	_Atomic uint32_t holder_pid;
	/* The holder's report; status[] under the table's lock. */
	struct nfsimport_status status;
};

struct nfsimport_table {
	spinlock_t lock; /* guards n, imp[].url..gid and imp[].status */
	uint32_t n;
	struct nfsimport imp[NFSIMPORT_MAX];
};

static struct nfsimport_table *table(void)
{
	return machine_root_get(IMPORT_ROOT);
}

static uint64_t wall_ns(void)
{
	int64_t s;
	uint32_t ns;

	host_wall(&s, &ns);
	return (uint64_t)s * 1000000000ull + ns;
}

/* --- options --- */

static int opt_u32(const char *v, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long long n;

	if (!*v || *v == '-')
		return -EINVAL;
	n = strtoull(v, &end, 10);
	if (*end || n < min || n > max)
		return -EINVAL;
	*out = (uint32_t)n;
	return 0;
}

static int options_parse(const char *opts, struct nfsimport *im, char *why, size_t whylen)
{
	char buf[256], *save = NULL, *tok;

	im->interval_ms = 1000;
	im->maxfile = 65536;
	im->maxentries = 1024;
	im->depth = 8;
	im->has_uid = im->has_gid = false;
	if (!opts || !*opts)
		return 0;
	if (strlen(opts) >= sizeof(buf)) {
		snprintf(why, whylen, "options longer than %zu bytes", sizeof(buf) - 1);
		return -EINVAL;
	}
	strcpy(buf, opts);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		int rc = -EINVAL;

		if (eq) {
			*eq++ = '\0';
			if (!strcmp(tok, "interval"))
				rc = opt_u32(eq, IMPORT_MIN_IVL_MS, 3600000, &im->interval_ms);
			else if (!strcmp(tok, "maxfile"))
				rc = opt_u32(eq, 1, 16 << 20, &im->maxfile);
			else if (!strcmp(tok, "maxentries"))
				rc = opt_u32(eq, 1, 100000, &im->maxentries);
			else if (!strcmp(tok, "depth"))
				rc = opt_u32(eq, 0, 32, &im->depth);
			else if (!strcmp(tok, "uid") &&
				 !(rc = opt_u32(eq, 0, UINT32_MAX, &im->uid)))
				im->has_uid = true;
			else if (!strcmp(tok, "gid") &&
				 !(rc = opt_u32(eq, 0, UINT32_MAX, &im->gid)))
				im->has_gid = true;
		}
		if (rc) {
			snprintf(why, whylen,
				 "option \"%s%s%s\": expected interval=MS (%u..3600000), "
				 "maxfile=BYTES, maxentries=N, depth=N, uid=N or gid=N",
				 tok, eq ? "=" : "", eq ? eq : "", IMPORT_MIN_IVL_MS);
			return -EINVAL;
		}
	}
	return 0;
}

/* --- registration --- */

int nfsimport_add(const char *url, const char *path, const char *options, char *why, size_t whylen)
{
	struct nfsimport_table *t = table();
	struct nfsclnt_opts co;
	struct nfsimport im = {0};
	struct vfs_ino dir;
	int idx, rc;

	if (!machine)
		return -ENODEV;
	if (!url || strlen(url) >= sizeof(im.url)) {
		snprintf(why, whylen, "the URL is longer than %zu bytes", sizeof(im.url) - 1);
		return -EINVAL;
	}
	if (!path || path[0] != '/' || !path[1] || strlen(path) >= sizeof(im.path)) {
		snprintf(why, whylen,
			 "the directory must be an absolute path under %zu bytes, not /",
			 sizeof(im.path));
		return -EINVAL;
	}
	rc = nfsclnt_url_parse(url, &co, why, whylen);
	if (rc)
		return rc;
	rc = options_parse(options, &im, why, whylen);
	if (rc)
		return rc;
	if (!t) {
		t = kzalloc(sizeof(*t));
		if (!t)
			return -ENOMEM;
		spin_lock_init(&t->lock);
		rc = machine_root_set(IMPORT_ROOT, t);
		if (rc) {
			kfree(t);
			return rc;
		}
	}
	rc = vfs_mkpath(path, 0555, &dir);
	if (rc) {
		snprintf(why, whylen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	vfs_set_flags(dir, VFS_F_PINNED | VFS_F_NOCREATE);
	spin_lock(&t->lock);
	for (idx = 0; idx < (int)t->n; idx++)
		if (!strcmp(t->imp[idx].path, path))
			break;
	if (idx == NFSIMPORT_MAX) {
		spin_unlock(&t->lock);
		snprintf(why, whylen, "no more than %d imports", NFSIMPORT_MAX);
		return -ENOSPC;
	}
	{
		struct nfsimport *p = &t->imp[idx];

		snprintf(p->url, sizeof(p->url), "%s", url);
		snprintf(p->path, sizeof(p->path), "%s", path);
		p->interval_ms = im.interval_ms;
		p->maxfile = im.maxfile;
		p->maxentries = im.maxentries;
		p->depth = im.depth;
		p->uid = im.uid;
		p->gid = im.gid;
		p->has_uid = im.has_uid;
		p->has_gid = im.has_gid;
		snprintf(p->status.url, sizeof(p->status.url), "%s", url);
		snprintf(p->status.path, sizeof(p->status.path), "%s", path);
		p->status.interval_ms = im.interval_ms;
		atomic_fetch_add(&p->config_gen, 1);
		if (idx == (int)t->n)
			t->n++;
	}
	spin_unlock(&t->lock);
	return idx;
}

int nfsimport_count(void)
{
	struct nfsimport_table *t = table();

	return t ? (int)__atomic_load_n(&t->n, __ATOMIC_ACQUIRE) : 0;
}

int nfsimport_status(int idx, struct nfsimport_status *st)
{
	struct nfsimport_table *t = table();

	if (!t || idx < 0 || idx >= nfsimport_count())
		return -ENOENT;
	spin_lock(&t->lock);
	*st = t->imp[idx].status;
	spin_unlock(&t->lock);
	st->holder_pid =
	    atomic_load(&t->imp[idx].holder) ? atomic_load(&t->imp[idx].holder_pid) : 0;
	return 0;
}

/* --- the holder's private state --- */

/* What the holder saw of one remote name at the last pass. */
struct seen {
	char rel[IMPORT_REL_MAX];
	bool dir, present;
	uint32_t depth;
	uint64_t fileid, size;
	struct nfsclnt_time mtime, ctime;
};

/* An entry of a listing, kept until the listing is done (no call may run inside it). */
struct entry {
	char name[NFSCLNT_NAME_MAX + 1];
	bool has_fh, has_attr;
	struct nfsclnt_fh fh;
	struct nfsclnt_attr attr;
};

struct pending_dir {
	struct nfsclnt_fh fh;
	char rel[IMPORT_REL_MAX];
	uint32_t depth;
};

struct importer {
	struct kthread *thread;
	int idx;
	uint32_t gen;
	struct nfsclnt *c;
	struct nfsclnt_fh root;
	/* Private memory (host_map_private), sized by the import's bounds. */
	struct seen *seen;
	uint32_t nseen, cap;
	struct entry *ents;
	uint32_t nents;
	struct pending_dir *dirs;
	uint32_t ndirs;
	char *buf, *local; /* maxfile + 1 bytes each */
	size_t mapped;
	void *map;
	/* This pass. */
	uint32_t skipped, listed;
	bool truncated; /* the pass saw less than the whole export: remove nothing */
	uint64_t rpcs0, newest;
	char err[NFSIMPORT_ERR_MAX];
	char changed[64][IMPORT_REL_MAX];
	uint32_t nchanged;
	bool overflow; /* more changes than changed[] holds: report the pass only */
};

static struct importer *importers[NFSIMPORT_MAX];
static nfsimport_changed_fn changed_fn;
static void *changed_arg;

static void importer_free_maps(struct importer *ip)
{
	if (ip->map)
		host_unmap(ip->map, ip->mapped);
	ip->map = NULL;
	ip->seen = NULL;
	ip->nseen = ip->cap = 0;
}

static int importer_maps(struct importer *ip, const struct nfsimport *im)
{
	size_t seen = (size_t)im->maxentries * sizeof(struct seen);
	size_t ents = (size_t)im->maxentries * sizeof(struct entry);
	size_t dirs = (size_t)im->maxentries * sizeof(struct pending_dir);
	size_t bufs = 2 * ((size_t)im->maxfile + 1);
	char *p;

	importer_free_maps(ip);
	ip->mapped = seen + ents + dirs + bufs;
	ip->map = host_map_private(ip->mapped);
	if (!ip->map)
		return -ENOMEM;
	p = ip->map;
	ip->seen = (struct seen *)p;
	ip->ents = (struct entry *)(p += seen);
	ip->dirs = (struct pending_dir *)(p += ents);
	ip->buf = (p += dirs);
	ip->local = p + im->maxfile + 1;
	ip->cap = im->maxentries;
	return 0;
}

static void pass_error(struct importer *ip, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void pass_error(struct importer *ip, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ip->err, sizeof(ip->err), fmt, ap);
	va_end(ap);
}

static struct seen *seen_find(struct importer *ip, const char *rel)
{
	for (uint32_t i = 0; i < ip->nseen; i++)
		if (!strcmp(ip->seen[i].rel, rel))
			return &ip->seen[i];
	return NULL;
}

static struct seen *seen_add(struct importer *ip, const char *rel)
{
	struct seen *s = seen_find(ip, rel);

	if (s || ip->nseen == ip->cap)
		return s;
	s = &ip->seen[ip->nseen++];
	memset(s, 0, sizeof(*s));
	snprintf(s->rel, sizeof(s->rel), "%s", rel);
	return s;
}

static void note_change(struct importer *ip, const char *rel)
{
	if (ip->nchanged < sizeof(ip->changed) / sizeof(ip->changed[0]))
		snprintf(ip->changed[ip->nchanged++], IMPORT_REL_MAX, "%s", rel);
	else
		ip->overflow = true;
}

static int collect(void *arg, const char *name, const struct nfsclnt_fh *fh,
		   const struct nfsclnt_attr *attr)
{
	struct importer *ip = arg;
	struct entry *e;

	if (ip->nents == ip->cap)
		return -EFBIG;
	e = &ip->ents[ip->nents++];
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->has_fh = fh != NULL;
	e->has_attr = attr != NULL;
	if (fh)
		e->fh = *fh;
	if (attr)
		e->attr = *attr;
	return 0;
}

/* A name we are willing to make in the copy: no path tricks, nothing unprintable. */
static bool name_ok(const char *name)
{
	if (!name[0] || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p == '/' || *p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

static int local_path(const struct nfsimport *im, const char *rel, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/%s", im->path, rel);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* The whole remote file into ip->buf; -EFBIG past maxfile. */
static int read_whole(struct importer *ip, const struct nfsimport *im, const struct nfsclnt_fh *fh,
		      size_t *len)
{
	size_t have = 0;

	for (;;) {
		size_t got = 0, want = (size_t)im->maxfile + 1 - have;
		bool eof = false;
		int rc;

		if (want > 65536)
			want = 65536;
		rc = nfsclnt_read(ip->c, fh, have, ip->buf + have, want, &got, &eof);
		if (rc)
			return rc;
		have += got;
		if (have > im->maxfile)
			return -EFBIG;
		if (eof || !got)
			break;
	}
	*len = have;
	return 0;
}

/* Whether the copy of @path already holds @len bytes of ip->buf. */
static bool local_same(struct importer *ip, const char *path, size_t len)
{
	struct vfs_ino f;
	size_t n = 0;
	bool eof = false;

	if (vfs_walk(path, &f))
		return false;
	if (vfs_read(f, 0, ip->local, len + 1, &n, &eof))
		return false;
	return n == len && !memcmp(ip->local, ip->buf, len);
}

static uint64_t time_ns(struct nfsclnt_time t)
{
	return (uint64_t)t.sec * 1000000000ull + t.nsec;
}

static void sync_file(struct importer *ip, const struct nfsimport *im, const char *rel,
		      const struct entry *e, uint32_t depth)
{
	struct seen *s = seen_add(ip, rel);
	char path[VFS_PATH_MAX];
	struct vfs_ino f;
	size_t len = 0;
	int rc;

	if (!s) {
		ip->skipped++;
		ip->truncated = true;
		return;
	}
	s->present = true;
	s->depth = depth;
	if (time_ns(e->attr.mtime) > ip->newest)
		ip->newest = time_ns(e->attr.mtime);
	if (!s->dir && s->fileid == e->attr.fileid && s->size == e->attr.size &&
	    !memcmp(&s->mtime, &e->attr.mtime, sizeof(s->mtime)) &&
	    !memcmp(&s->ctime, &e->attr.ctime, sizeof(s->ctime)))
		return;
	if (e->attr.size > im->maxfile) {
		ip->skipped++;
		pass_error(ip, "%s: %" PRIu64 " bytes, over the import's maxfile of %u: left out",
			   rel, e->attr.size, im->maxfile);
		return;
	}
	rc = read_whole(ip, im, &e->fh, &len);
	if (rc == -EFBIG) {
		ip->skipped++;
		pass_error(ip, "%s: grew past the import's maxfile of %u: left out", rel,
			   im->maxfile);
		return;
	}
	if (rc) {
		pass_error(ip, "%s: READ: %s", rel, strerror(-rc));
		return;
	}
	if (local_path(im, rel, path, sizeof(path)))
		return;
	if (!local_same(ip, path, len)) {
		rc = vfs_put(path, 0444, ip->buf, len, &f);
		if (rc) {
			pass_error(ip, "%s: the copy could not be written: %s", rel, strerror(-rc));
			return;
		}
		vfs_set_flags(f, VFS_F_PINNED | VFS_F_READONLY);
		note_change(ip, rel);
	}
	s->dir = false;
	s->fileid = e->attr.fileid;
	s->size = e->attr.size;
	s->mtime = e->attr.mtime;
	s->ctime = e->attr.ctime;
}

static void sync_dir_entry(struct importer *ip, const struct nfsimport *im, const char *rel,
			   const struct entry *e, uint32_t depth)
{
	struct seen *s;
	char path[VFS_PATH_MAX];
	struct vfs_ino d;

	if (depth > im->depth) {
		ip->skipped++;
		pass_error(ip, "%s: deeper than the import's depth of %u: left out", rel,
			   im->depth);
		return;
	}
	if (ip->ndirs == ip->cap || !(s = seen_add(ip, rel))) {
		ip->skipped++;
		ip->truncated = true;
		return;
	}
	if (local_path(im, rel, path, sizeof(path)) || vfs_mkpath(path, 0555, &d)) {
		pass_error(ip, "%s: the copy's directory could not be made", rel);
		return;
	}
	vfs_set_flags(d, VFS_F_PINNED | VFS_F_NOCREATE);
	s->present = true;
	s->dir = true;
	s->depth = depth;
	ip->dirs[ip->ndirs].fh = e->fh;
	snprintf(ip->dirs[ip->ndirs].rel, IMPORT_REL_MAX, "%s", rel);
	ip->dirs[ip->ndirs].depth = depth;
	ip->ndirs++;
}

/* Take away what the server no longer lists: files first, then directories, deepest first. */
static void sweep(struct importer *ip, const struct nfsimport *im)
{
	struct vfs_ctx root = {0};

	for (int dirs = 0; dirs < 2; dirs++) {
		for (int depth = (int)im->depth + 1; depth >= 0; depth--) {
			for (uint32_t i = 0; i < ip->nseen; i++) {
				struct seen *s = &ip->seen[i];
				char path[VFS_PATH_MAX], *slash;
				struct vfs_ino f, d;

				if (s->present || s->dir != (bool)dirs || (int)s->depth != depth)
					continue;
				if (!local_path(im, s->rel, path, sizeof(path)) &&
				    !vfs_walk(path, &f)) {
					vfs_set_flags(f, 0);
					slash = strrchr(path, '/');
					*slash = '\0';
					if (!vfs_walk(path, &d)) {
						if (dirs)
							vfs_rmdir(d, slash + 1, strlen(slash + 1),
								  &root);
						else
							vfs_remove(d, slash + 1, strlen(slash + 1),
								   &root);
					}
				}
				if (!dirs)
					note_change(ip, s->rel);
				/* Forget it: the last entry takes its place. */
				*s = ip->seen[--ip->nseen];
				i--;
			}
		}
	}
}

static int pass(struct importer *ip, struct nfsimport *im)
{
	struct nfsclnt_stats st;
	uint32_t next = 0;
	int rc;

	if (!ip->c) {
		struct nfsclnt_opts o;
		char why[160];

		rc = nfsclnt_url_parse(im->url, &o, why, sizeof(why));
		if (rc) {
			pass_error(ip, "%s", why);
			return rc;
		}
		/*
		 * Shorter than a client's defaults unless the URL says: a pass
		 * that meets a dead center ends (stale) within 1.5 s, and the
		 * next interval tries again anyway.
		 */
		if (!o.timeout_ms)
			o.timeout_ms = 500;
		if (!o.retries)
			o.retries = 1;
		if (im->has_uid)
			o.uid = im->uid;
		if (im->has_gid)
			o.gid = im->gid;
		rc = nfsclnt_open(&o, &ip->c, &ip->root);
		if (rc) {
			pass_error(ip, "mount %s: %s", im->url, strerror(-rc));
			return rc;
		}
		/* The handles we saw belonged to the last connection's mount: read all again. */
		ip->nseen = 0;
	}
	for (uint32_t i = 0; i < ip->nseen; i++)
		ip->seen[i].present = false;
	ip->listed = ip->skipped = 0;
	ip->truncated = false;
	ip->ndirs = 0;
	ip->dirs[ip->ndirs].fh = ip->root;
	ip->dirs[ip->ndirs].rel[0] = '\0';
	ip->dirs[ip->ndirs].depth = 0;
	ip->ndirs++;
	nfsclnt_stats(ip->c, &st);
	ip->rpcs0 = st.calls;
	while (next < ip->ndirs) {
		struct pending_dir *pd = &ip->dirs[next++];

		ip->nents = 0;
		rc = nfsclnt_readdirplus(ip->c, &pd->fh, ip->cap - ip->listed, collect, ip);
		if (rc == -EFBIG) {
			ip->skipped++;
			ip->truncated = true;
			pass_error(ip,
				   "%s/: more than the import's maxentries of %u names: the rest "
				   "left out",
				   pd->rel, im->maxentries);
		} else if (rc) {
			pass_error(ip, "%s/: READDIRPLUS: %s", pd->rel, strerror(-rc));
			return rc;
		}
		ip->listed += ip->nents;
		for (uint32_t i = 0; i < ip->nents; i++) {
			struct entry *e = &ip->ents[i];
			char rel[IMPORT_REL_MAX];
			int n;

			if (!name_ok(e->name)) {
				ip->skipped++;
				continue;
			}
			n = snprintf(rel, sizeof(rel), "%s%s%s", pd->rel, pd->rel[0] ? "/" : "",
				     e->name);
			if (n < 0 || (size_t)n >= sizeof(rel)) {
				ip->skipped++;
				continue;
			}
			if (!e->has_fh || !e->has_attr) {
				rc = nfsclnt_lookup(ip->c, &pd->fh, e->name, &e->fh, &e->attr);
				if (rc) {
					pass_error(ip, "%s: LOOKUP: %s", rel, strerror(-rc));
					return rc;
				}
			}
			if (e->attr.type == NFSCLNT_DIR)
				sync_dir_entry(ip, im, rel, e, pd->depth + 1);
			else if (e->attr.type == NFSCLNT_REG)
				sync_file(ip, im, rel, e, pd->depth + 1);
			else
				ip->skipped++;
		}
	}
	/*
	 * A center past the bounds may list names we never reached in another
	 * order next time (a config/ after a huge directory): what we did not
	 * see is not gone, so nothing is removed after such a pass.
	 */
	if (!ip->truncated)
		sweep(ip, im);
	return 0;
}

static void report(struct importer *ip, struct nfsimport *im, int rc)
{
	struct nfsimport_table *t = table();
	struct nfsimport_status *s = &im->status;
	struct nfsclnt_stats st = {0};
	uint64_t now = wall_ns();
	uint32_t files = 0, dirs = 0;

	if (ip->c)
		nfsclnt_stats(ip->c, &st);
	for (uint32_t i = 0; i < ip->nseen; i++)
		ip->seen[i].dir ? dirs++ : files++;
	spin_lock(&t->lock);
	s->passes++;
	s->rpcs += st.calls >= ip->rpcs0 ? st.calls - ip->rpcs0 : 0;
	if (rc == 0) {
		s->state = NFSIMPORT_OK;
		s->last_ok_ns = now;
		s->stale_since_ns = 0;
		s->files = files;
		s->dirs = dirs;
		s->skipped = ip->skipped;
		if (ip->newest)
			s->newest_mtime_ns = ip->newest;
	} else {
		if (s->state != NFSIMPORT_STALE)
			s->stale_since_ns = now;
		s->state = NFSIMPORT_STALE;
	}
	if (ip->nchanged || ip->overflow) {
		s->version++;
		s->changed_ns = now;
	}
	snprintf(s->error, sizeof(s->error), "%s", ip->err);
	spin_unlock(&t->lock);
}

static bool lease_take(struct nfsimport *im)
{
	uint32_t me = host_tid(), h = atomic_load(&im->holder);

	if (h == me)
		return true;
	if (h && host_task_alive(h))
		return false;
	if (!atomic_compare_exchange_strong(&im->holder, &h, me))
		return false;
	atomic_store(&im->holder_pid, host_pid());
	return true;
}

static void lease_drop(struct nfsimport *im)
{
	uint32_t me = host_tid();

	atomic_compare_exchange_strong(&im->holder, &me, 0);
}

static void client_drop(struct importer *ip)
{
	if (ip->c)
		nfsclnt_close(ip->c);
	ip->c = NULL;
}

static int importer_main(void *arg)
{
	struct importer *ip = arg;
	struct nfsimport_table *t = table();
	struct nfsimport *im = &t->imp[ip->idx];
	int rc = 0;

	for (;;) {
		uint32_t gen = atomic_load(&im->config_gen);
		uint64_t ivl;

		if (gen != ip->gen || !ip->map) {
			client_drop(ip);
			ip->gen = gen;
			if (importer_maps(ip, im)) {
				kthread_sleep_ns(1000000000ull);
				continue;
			}
		}
		if (lease_take(im)) {
			ip->nchanged = 0;
			ip->overflow = false;
			ip->newest = 0;
			ip->err[0] = '\0';
			rc = pass(ip, im);
			if (rc == -ESTALE) {
				/* The server forgot our handles: look everything up again, now. */
				client_drop(ip);
				ip->err[0] = '\0';
				rc = pass(ip, im);
			}
			if (rc)
				client_drop(ip);
			report(ip, im, rc);
			if (changed_fn) {
				for (uint32_t i = 0; i < ip->nchanged; i++)
					changed_fn(changed_arg, ip->idx, ip->changed[i]);
				changed_fn(changed_arg, ip->idx, NULL);
			}
		}
		ivl = im->interval_ms;
		if (kthread_sleep_ns(ivl * 1000000ull) == -EINTR)
			break;
	}
	client_drop(ip);
	lease_drop(im);
	importer_free_maps(ip);
	ip->thread = NULL;
	return 0;
}

int nfsimport_start(nfsimport_changed_fn fn, void *arg)
{
	int n = nfsimport_count(), started = 0;

	changed_fn = fn;
	changed_arg = arg;
	for (int i = 0; i < n; i++) {
		struct importer *ip = importers[i];
		int rc;

		if (ip && ip->thread)
			continue;
		if (!ip) {
			ip = host_map_private(sizeof(*ip));
			if (!ip)
				return started ? started : -ENOMEM;
			importers[i] = ip;
		}
		memset(ip, 0, sizeof(*ip));
		ip->idx = i;
		rc = kthread_create_stack(&ip->thread, "nfs-import", SCHED_PRIO_DEFAULT,
					  IMPORT_STACK_ORDER, importer_main, ip);
		if (rc)
			return started ? started : rc;
		/* It frees what it holds itself when interrupted: nobody joins it. */
		kthread_detach(ip->thread);
		started++;
	}
	return started;
}

void nfsimport_stop(void)
{
	for (int i = 0; i < NFSIMPORT_MAX; i++)
		if (importers[i] && importers[i]->thread)
			kthread_interrupt(importers[i]->thread);
}
