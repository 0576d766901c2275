/*
 * The export table: in the arena, so every CPU serves the same one, guarded
 * by a spinlock because the configuring process may replace it while CPUs
 * serve. Readers copy what they need under the lock and never keep pointers
 * into the table.
 *
 * An entry is written whole, with a sum of its bytes: whoever takes the lock
 * from a dead holder drops the entries whose sum is wrong (a copy cut
 * short), so a torn allowlist is never served; the export is refused until
 * it is configured again, which is the safe side.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "uml/check.h"
#include "uml/host.h"
#include "uml/machine.h"
#include "uml/mm.h"
#include "uml/nfs3.h"

/* FNV-1a over the entry up to its sum (padding included: entries are built zeroed). */
static uint64_t export_sum(const struct nfs_export *ex)
{
	const unsigned char *p = (const unsigned char *)ex;
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < offsetof(struct nfs_export, sum); i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

/* Drop what a dead holder left torn. Lock held. Returns the entries dropped. */
static unsigned exports_repair_locked(struct nfs_state *st)
{
	uint32_t n = st->nexports < NFS_MAX_EXPORTS ? st->nexports : NFS_MAX_EXPORTS, kept = 0;

	for (uint32_t i = 0; i < n; i++)
		if (st->exports[i].sum == export_sum(&st->exports[i]))
			memmove(&st->exports[kept++], &st->exports[i], sizeof(st->exports[i]));
	st->nexports = kept;
	return n - kept;
}

static void exports_lock(struct nfs_state *st)
{
	if (unlikely(spin_lock(&st->lock)))
		host_log("umlnfs: took the export table over from a dead holder; dropped %u torn "
			 "entries",
			 exports_repair_locked(st));
}

void nfs_check(struct kcheck *r)
{
	struct nfs_state *st = nfs_state();
	uint32_t bad = 0, n;

	if (!st)
		return;
	exports_lock(st);
	n = st->nexports;
	if (n > NFS_MAX_EXPORTS)
		kcheck_fail(r, "nfs: %u exports listed, room for %d", n, NFS_MAX_EXPORTS);
	for (uint32_t i = 0; i < n && i < NFS_MAX_EXPORTS; i++)
		if (st->exports[i].sum != export_sum(&st->exports[i]) ||
		    st->exports[i].nclients > NFS_MAX_CLIENTS) {
			kcheck_fail(r, "nfs: export %u (%.64s) is torn", i, st->exports[i].path);
			bad++;
		}
	spin_unlock(&st->lock);
	kcheck_line(r, "nfs: %u exports, %u torn", n, bad);
	nfs_lock_check(r);
}

struct nfs_state *nfs_state(void)
{
	return machine ? __atomic_load_n(&machine->nfs, __ATOMIC_ACQUIRE) : NULL;
}

int nfs_init(void)
{
	struct nfs_state *st;
	int rc;

	if (!machine)
		return -EINVAL;
	if (machine->nfs)
		return 0;
	st = kzalloc(sizeof(*st));
	if (!st)
		return -ENOMEM;
	spin_lock_init_rank(&st->lock, LOCK_RANK_EXPORTS);
	if (nfs_fh_key_new(st->fh_key)) {
		kfree(st);
		return -EIO;
	}
	rc = nfs_lock_init(&st->locks);
	if (rc) {
		if (st->locks.cache)
			kmem_cache_destroy(st->locks.cache);
		kfree(st);
		return rc;
	}
	/* Idempotent even when two processes race to set the service up. */
	if (!__atomic_compare_exchange_n(&machine->nfs, &(struct nfs_state *){NULL}, st, false,
					 __ATOMIC_RELEASE, __ATOMIC_RELAXED)) {
		kmem_cache_destroy(st->locks.cache);
		kfree(st);
	}
	return 0;
}

void nfs_exports_clear(void)
{
	struct nfs_state *st = nfs_state();

	if (!st)
		return;
	exports_lock(st);
	st->nexports = 0;
	spin_unlock(&st->lock);
}

/* @s as an allowlist entry: the address set, and the text for the EXPORT listing. */
static int nfs_client_parse(const char *s, struct nfs_client_match *m)
{
	memset(m, 0, sizeof(*m));
	if (!s || strlen(s) >= sizeof(m->text))
		return -EINVAL;
	strcpy(m->text, s);
	return rpc_cidr_parse(s, &m->cidr);
}

int nfs_client_valid(const char *spec)
{
	struct nfs_client_match m;

	return nfs_client_parse(spec, &m);
}

/* The peer's source port, host order. */
static unsigned nfs_peer_port(const struct sockaddr *peer)
{
	if (peer->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)peer)->sin_port);
	if (peer->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)peer)->sin6_port);
	return 0;
}

/* Whether @ex's allowlist matches @peer's address (its port aside). */
static bool nfs_addr_listed(const struct nfs_export *ex, const struct sockaddr *peer)
{
	for (uint32_t i = 0; i < ex->nclients; i++)
		if (rpc_cidr_match(&ex->clients[i].cidr, peer))
			return true;
	return false;
}

/*
 * True when @peer is matched by one of @ex's allowlist entries and, for a
 * secure export, calls from a privileged port.
 */
static bool nfs_client_allowed(const struct nfs_export *ex, const struct sockaddr *peer)
{
	/* Only root may bind below 1024 on the client: nfsd's "secure", no more than that. */
	if (ex->secure && nfs_peer_port(peer) >= 1024)
		return false;
	return nfs_addr_listed(ex, peer);
}

bool nfs_peer_listed(const struct sockaddr *peer)
{
	struct nfs_state *st = nfs_state();
	bool listed = false;

	if (!st)
		return false;
	exports_lock(st);
	for (uint32_t i = 0; i < st->nexports && !listed; i++)
		listed = nfs_addr_listed(&st->exports[i], peer);
	spin_unlock(&st->lock);
	return listed;
}

int nfs_path_normalize(const char *in, char *out, size_t size)
{
	size_t o = 0;

	if (in[0] != '/')
		return -EINVAL;
	while (*in) {
		const char *c;
		size_t n;

		while (*in == '/')
			in++;
		if (!*in)
			break;
		c = in;
		while (*in && *in != '/')
			in++;
		n = in - c;
		if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return -EINVAL;
		if (o + 1 + n + 1 > size)
			return -ENAMETOOLONG;
		out[o++] = '/';
		memcpy(out + o, c, n);
		o += n;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = '\0';
	return 0;
}

int nfs_export_add(const char *path, unsigned flags, const char *const *clients, size_t nclients,
		   char *err, size_t errlen)
{
	struct nfs_state *st = nfs_state();
	struct nfs_export ex, *slot;
	struct vfs_attr a;
	uint32_t i;
	int rc;

	if (!st) {
		snprintf(err, errlen, "NFS is not initialized (no machine)");
		return -EINVAL;
	}
	memset(&ex, 0, sizeof(ex));
	rc = nfs_path_normalize(path, ex.path, sizeof(ex.path));
	if (rc) {
		snprintf(err, errlen, "export path '%s' is not a plain absolute path", path);
		return -EINVAL;
	}
	if (nclients == 0 || nclients > NFS_MAX_CLIENTS) {
		snprintf(err, errlen, "export %s: give 1 to %d clients", ex.path, NFS_MAX_CLIENTS);
		return -EINVAL;
	}
	for (i = 0; i < nclients; i++) {
		if (nfs_client_parse(clients[i], &ex.clients[i])) {
			snprintf(err, errlen,
				 "export %s: '%s' is not an address, a CIDR prefix or '*'", ex.path,
				 clients[i]);
			return -EINVAL;
		}
	}
	ex.nclients = nclients;
	if (flags & ~(NFS_EXPORT_RW | NFS_EXPORT_SECURE)) {
		snprintf(err, errlen, "export %s: unknown flags %#x", ex.path, flags);
		return -EINVAL;
	}
	ex.rw = flags & NFS_EXPORT_RW;
	ex.secure = flags & NFS_EXPORT_SECURE;
	rc = vfs_walk(ex.path, &ex.root);
	if (!rc)
		rc = vfs_getattr(ex.root, &a);
	if (rc) {
		snprintf(err, errlen, "export %s: no such directory", ex.path);
		return -ENOENT;
	}
	if (a.type != VFS_DIR) {
		snprintf(err, errlen, "export %s: not a directory", ex.path);
		return -EINVAL;
	}

	exports_lock(st);
	for (i = 0; i < st->nexports; i++)
		if (strcmp(st->exports[i].path, ex.path) == 0)
			break;
	if (i == NFS_MAX_EXPORTS) {
		spin_unlock(&st->lock);
		snprintf(err, errlen, "export %s: at most %d exports", ex.path, NFS_MAX_EXPORTS);
		return -ENOSPC;
	}
	/* Exporting a path again replaces its entry. */
	ex.sum = export_sum(&ex);
	slot = &st->exports[i];
	memcpy(slot, &ex, sizeof(ex));
	if (i == st->nexports)
		st->nexports++;
	spin_unlock(&st->lock);
	return 0;
}

int nfs_export_check(struct vfs_ino root, const struct sockaddr *peer, struct nfs_export_view *v)
{
	struct nfs_state *st = nfs_state();
	int rc = -EACCES;
	uint32_t i;

	exports_lock(st);
	for (i = 0; i < st->nexports; i++) {
		const struct nfs_export *ex = &st->exports[i];

		if (ex->root.ino != root.ino || ex->root.gen != root.gen)
			continue;
		if (!nfs_client_allowed(ex, peer))
			continue; /* the same directory may be exported again to others */
		v->root = ex->root;
		v->rw = ex->rw;
		rc = 0;
		break;
	}
	spin_unlock(&st->lock);
	return rc;
}

/* Is @pre (normalized) @path itself or one of its ancestors? */
static bool nfs_path_under(const char *pre, const char *path)
{
	size_t n = strlen(pre);

	if (n == 1)
		return true; /* "/" */
	return strncmp(pre, path, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

int nfs_export_for_path(const char *path, const struct sockaddr *peer, struct nfs_export_view *v)
{
	struct nfs_state *st = nfs_state();
	size_t best = 0;
	int rc = -ENOENT;
	uint32_t i;

	exports_lock(st);
	for (i = 0; i < st->nexports; i++) {
		const struct nfs_export *ex = &st->exports[i];
		size_t n = strlen(ex->path);

		if (!nfs_path_under(ex->path, path))
			continue;
		if (!nfs_client_allowed(ex, peer)) {
			if (rc == -ENOENT)
				rc = -EACCES;
			continue;
		}
		if (n >= best) {
			best = n;
			v->root = ex->root;
			v->rw = ex->rw;
			rc = 0;
		}
	}
	spin_unlock(&st->lock);
	return rc;
}

uint32_t nfs_export_snapshot(struct nfs_export *out, uint32_t max)
{
	struct nfs_state *st = nfs_state();
	uint32_t n;

	exports_lock(st);
	n = MIN(st->nexports, max);
	memcpy(out, st->exports, n * sizeof(*out));
	spin_unlock(&st->lock);
	return n;
}

void nfs_stats(struct nfs_stats *s)
{
	struct nfs_state *st = nfs_state();
	int i;

	memset(s, 0, sizeof(*s));
	if (!st)
		return;
	s->calls = atomic_load(&st->rpc.calls);
	s->garbage = atomic_load(&st->rpc.garbage);
	s->connections = atomic_load(&st->rpc.connections);
	s->refused = atomic_load(&st->rpc.refused);
	s->unlisted = atomic_load(&st->rpc.unlisted);
	s->errors = atomic_load(&st->errors);
	for (i = 0; i < NFS3_NPROCS; i++)
		s->proc[i] = atomic_load(&st->proc[i]);
}
