/*
 * The lock table: NFS clients' byte-range locks and share reservations, in
 * the arena so that every CPU of every process serving NFS sees the same
 * ones, under one spinlock (nfs_lock_table.lock, LOCK_RANK_NLM).
 *
 * A holder may be SIGKILLed at any instant, so every change is made of steps
 * each of which leaves a table the next holder can use:
 *  - an entry is written whole, then published by one pointer store at the
 *    head of its file's chain; it is never changed after;
 *  - it leaves by one pointer store, and is freed after;
 *  - a change of an owner's ranges first links all the new entries, then
 *    unlinks the old ones. Halfway, the owner holds both: the old ranges and
 *    the new overlap, for one owner, which conflicts with nobody new (a lock
 *    only grows what its owner held, an unlock only shrinks it) and which
 *    the owner's next call on those bytes folds back, since every piece is
 *    cut or merged by what overlaps it;
 *  - the counts are bumped after a link and dropped after an unlink.
 * So a death leaves at most wrong counts and an object taken from the cache
 * but linked nowhere. Whoever takes the lock from a dead holder (spin_lock
 * returns 1) counts again from the chains and gives such objects back
 * (kmem_cache_reclaim), and the client, which got no reply, asks again.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>
#include "uml/check.h"
#include "uml/host.h"
#include "uml/nfs3.h"

#define NLM_PIECES 5 /* the most new entries one change makes (lock_plan) */

static struct nfs_lock_table *lock_table(void)
{
	return &nfs_state()->locks;
}

static unsigned lock_bucket(struct vfs_ino f)
{
	return (unsigned)((f.ino * 0x9e3779b97f4a7c15ull) >> 56) % NLM_BUCKETS;
}

static bool lock_same_file(const struct nlm_entry *e, struct vfs_ino f)
{
	return e->file.ino == f.ino && e->file.gen == f.gen;
}

/* Count again from the chains and give back objects no chain holds. Lock held. */
static unsigned lock_repair_locked(struct nfs_lock_table *t)
{
	uint32_t per[NLM_MAX_HOSTS] = {0}, n = 0, i = 0;
	const void **owned;
	unsigned freed = 0;

	for (unsigned b = 0; b < NLM_BUCKETS; b++)
		for (struct nlm_entry *e = t->bucket[b]; e; e = e->next, n++)
			per[e->host]++;
	for (unsigned h = 0; h < NLM_MAX_HOSTS; h++)
		t->hosts[h].nentries = per[h];
	t->nentries = n;
	owned = n ? kmalloc(n * sizeof(*owned)) : NULL;
	if (n && !owned)
		return 0; /* no room to list them: the strays stay until the next repair */
	for (unsigned b = 0; b < NLM_BUCKETS; b++)
		for (struct nlm_entry *e = t->bucket[b]; e; e = e->next)
			owned[i++] = e;
	freed = kmem_cache_reclaim(t->cache, owned, n);
	kfree(owned);
	return freed;
}

static struct nfs_lock_table *lock_lock(void)
{
	struct nfs_lock_table *t = lock_table();

	if (unlikely(spin_lock(&t->lock))) {
		unsigned freed = lock_repair_locked(t);

		atomic_fetch_add(&t->c.repairs, 1);
		host_log("umlnfs: took the lock table over from a dead holder; %u entries held, %u "
			 "strays given back",
			 t->nentries, freed);
	}
	return t;
}

int nfs_lock_init(struct nfs_lock_table *t)
{
	spin_lock_init_rank(&t->lock, LOCK_RANK_NLM);
	if (host_random_strict(t->key, sizeof(t->key)))
		return -EIO;
	t->cache = kmem_cache_create("nlm_entry", sizeof(struct nlm_entry), 0);
	if (!t->cache)
		return -ENOMEM;
	atomic_store(&t->lease_s, NLM_LEASE_DEFAULT);
	return 0;
}

void nfs_lock_owner(const struct sockaddr *peer, struct xdr_bytes name, struct xdr_bytes oh,
		    int32_t svid, struct nlm_owner *o)
{
	const struct nfs_lock_table *t = lock_table();

	memset(o, 0, sizeof(*o));
	rpc_client_key(peer, &o->addr);
	o->name = siphash24(t->key, name.data, name.len);
	o->oh = siphash24(t->key, oh.data, oh.len);
	o->svid = svid;
	o->ohlen = (uint8_t)MIN(oh.len, NLM_OH_KEEP);
	memcpy(o->ohkeep, oh.data, o->ohlen);
}

int nfs_lock_range(uint64_t offset, uint64_t len, struct nlm_range *r)
{
	r->start = offset;
	if (len == 0) {
		r->end = UINT64_MAX;
		return 0;
	}
	/* offset + len may be 2^64 exactly (the last byte is UINT64_MAX), not more. */
	if (len - 1 > UINT64_MAX - offset)
		return -EFBIG;
	r->end = offset + (len - 1);
	return 0;
}

void nfs_lock_range_wire(struct nlm_range r, uint64_t *offset, uint64_t *len)
{
	*offset = r.start;
	*len = r.end == UINT64_MAX ? 0 : r.end - r.start + 1;
}

static bool lock_overlap(struct nlm_range a, struct nlm_range b)
{
	return a.start <= b.end && b.start <= a.end;
}

/* Overlapping, or one ends right before the other starts. */
static bool lock_touch(struct nlm_range a, struct nlm_range b)
{
	return lock_overlap(a, b) || (a.end != UINT64_MAX && a.end + 1 == b.start) ||
	       (b.end != UINT64_MAX && b.end + 1 == a.start);
}

/* The slot of @addr, or -1. Lock held. */
static int lock_host_find(struct nfs_lock_table *t, const struct in6_addr *addr)
{
	for (int i = 0; i < NLM_MAX_HOSTS; i++)
		if (t->hosts[i].nentries && memcmp(&t->hosts[i].addr, addr, sizeof(*addr)) == 0)
			return i;
	return -1;
}

/*
 * A call of @addr that may add entries: its slot, made when missing, with
 * its lease started again; -1 when every slot is taken. Lock held.
 */
static int lock_host_get(struct nfs_lock_table *t, const struct in6_addr *addr, uint64_t now)
{
	int h = lock_host_find(t, addr);

	if (h >= 0) {
		atomic_store(&t->hosts[h].seen_ns, now);
		return h;
	}
	for (int i = 0; i < NLM_MAX_HOSTS; i++)
		if (t->hosts[i].nentries == 0) {
			t->hosts[i].addr = *addr;
			atomic_store(&t->hosts[i].seen_ns, now);
			return i;
		}
	return -1;
}

/* A call of @addr: its lease starts again. Returns its slot or -1. Lock held. */
static int lock_host_touch(struct nfs_lock_table *t, const struct in6_addr *addr, uint64_t now)
{
	int h = lock_host_find(t, addr);

	if (h >= 0)
		atomic_store(&t->hosts[h].seen_ns, now);
	return h;
}

static bool lock_expired(const struct nfs_lock_table *t, unsigned h, uint64_t now)
{
	uint64_t lease = atomic_load(&t->lease_s), seen = atomic_load(&t->hosts[h].seen_ns);

	return lease && now > seen && now - seen > lease * 1000000000ull;
}

static bool lock_is_owner(const struct nlm_entry *e, int h, const struct nlm_owner *o)
{
	return e->host == h && e->name == o->name && e->oh == o->oh && e->svid == o->svid;
}

/* Link @e, whole, at the head of its chain; then count it. Lock held. */
static void lock_link(struct nfs_lock_table *t, struct nlm_entry *e)
{
	struct nlm_entry **head = &t->bucket[lock_bucket(e->file)];

	e->next = *head;
	__atomic_store_n(head, e, __ATOMIC_RELEASE);
	t->hosts[e->host].nentries++;
	t->nentries++;
}

/* Unlink the entry *@pp points to, uncount and free it. Lock held. */
static void lock_unlink(struct nfs_lock_table *t, struct nlm_entry **pp)
{
	struct nlm_entry *e = *pp;

	__atomic_store_n(pp, e->next, __ATOMIC_RELEASE);
	t->hosts[e->host].nentries--;
	t->nentries--;
	kmem_cache_free(t->cache, e);
}

/* A new entry of @o's: NULL when out of memory. Lock held. */
static struct nlm_entry *lock_new(struct nfs_lock_table *t, struct vfs_ino f, int h,
				  const struct nlm_owner *o, uint8_t kind)
{
	struct nlm_entry *e = kmem_cache_zalloc(t->cache);

	if (!e)
		return NULL;
	e->file = f;
	e->name = o->name;
	e->oh = o->oh;
	e->svid = o->svid;
	e->host = (uint16_t)h;
	e->kind = kind;
	e->ohlen = o->ohlen;
	memcpy(e->ohkeep, o->ohkeep, o->ohlen);
	return e;
}

/* Do @e's holder and a request of @kind (lock kinds) or @mode/@access (share) conflict? */
static bool lock_conflicts(const struct nlm_entry *e, uint8_t kind, struct nlm_range r,
			   uint32_t mode, uint32_t access)
{
	if (kind == NLM_SHARE)
		return e->kind == NLM_SHARE && ((access & e->mode) || (mode & e->access));
	return e->kind != NLM_SHARE && lock_overlap(e->r, r) &&
	       (kind == NLM_EXCL || e->kind == NLM_EXCL);
}

/*
 * Look for other owners' entries of @f that conflict with the request. Live
 * ones: returns the one that starts first. None: the ones of silent clients (past the lease)
 * don't count, and are broken when @take (TEST only asks: it leaves them,
 * and the LOCK that follows breaks them). Lock held.
 */
static const struct nlm_entry *lock_conflict(struct nfs_lock_table *t, struct vfs_ino f, int h,
					     const struct nlm_owner *o, uint8_t kind,
					     struct nlm_range r, uint32_t mode, uint32_t access,
					     bool take)
{
	const struct nlm_entry *first = NULL;
	struct nlm_entry **pp, *e;
	uint64_t now = host_mono_ns();
	bool stale = false;

	for (e = t->bucket[lock_bucket(f)]; e; e = e->next) {
		if (!lock_same_file(e, f) || lock_is_owner(e, h, o) ||
		    !lock_conflicts(e, kind, r, mode, access))
			continue;
		if (lock_expired(t, e->host, now))
			stale = true;
		else if (!first || e->r.start < first->r.start)
			first = e;
	}
	if (first)
		return first;
	for (pp = &t->bucket[lock_bucket(f)]; stale && take && (e = *pp);) {
		if (lock_same_file(e, f) && !lock_is_owner(e, h, o) &&
		    lock_conflicts(e, kind, r, mode, access)) {
			lock_unlink(t, pp);
			atomic_fetch_add(&t->c.lease_broken, 1);
		} else {
			pp = &e->next;
		}
	}
	return NULL;
}

/* The pieces a change leaves of the owner's ranges it touches. */
struct lock_plan {
	unsigned n;
	struct {
		uint8_t kind;
		struct nlm_range r;
	} p[NLM_PIECES];
	unsigned removed; /* old entries that go */
};

/*
 * Add a piece, merged into one of its kind that it touches. Pieces of one
 * kind that stay apart are at most one each side of the request: the plan
 * never grows past NLM_PIECES.
 */
static void lock_plan_add(struct lock_plan *pl, uint8_t kind, struct nlm_range r)
{
	for (unsigned i = 0; i < pl->n; i++)
		if (pl->p[i].kind == kind && lock_touch(pl->p[i].r, r)) {
			pl->p[i].r.start = MIN(pl->p[i].r.start, r.start);
			pl->p[i].r.end = MAX(pl->p[i].r.end, r.end);
			return;
		}
	assert(pl->n < NLM_PIECES);
	pl->p[pl->n].kind = kind;
	pl->p[pl->n++].r = r;
}

/*
 * Does the change of @o's ranges to @kind over @r (0: unlock) take @e away?
 * A lock takes the owner's entries it overlaps and those of its kind it
 * touches (they merge); an unlock those it overlaps.
 */
static bool lock_plan_takes(const struct nlm_entry *e, struct vfs_ino f, int h,
			    const struct nlm_owner *o, uint8_t kind, struct nlm_range r)
{
	if (!lock_same_file(e, f) || e->kind == NLM_SHARE || !lock_is_owner(e, h, o))
		return false;
	return lock_overlap(e->r, r) || (kind == e->kind && lock_touch(e->r, r));
}

/* What a lock (@kind) or an unlock (0) of @r leaves of @o's ranges around it. Lock held. */
static void lock_plan(struct nfs_lock_table *t, struct vfs_ino f, int h, const struct nlm_owner *o,
		      uint8_t kind, struct nlm_range r, struct lock_plan *pl)
{
	struct nlm_range merged = r;

	memset(pl, 0, sizeof(*pl));
	for (struct nlm_entry *e = t->bucket[lock_bucket(f)]; e; e = e->next) {
		if (!lock_plan_takes(e, f, h, o, kind, r))
			continue;
		pl->removed++;
		if (e->kind == kind) {
			merged.start = MIN(merged.start, e->r.start);
			merged.end = MAX(merged.end, e->r.end);
			continue;
		}
		if (e->r.start < r.start)
			lock_plan_add(pl, e->kind, (struct nlm_range){e->r.start, r.start - 1});
		if (e->r.end > r.end)
			lock_plan_add(pl, e->kind, (struct nlm_range){r.end + 1, e->r.end});
	}
	if (kind)
		lock_plan_add(pl, kind, merged);
}

/*
 * Carry out @pl: link its pieces, then unlink what it takes. Returns
 * NLM4_GRANTED, or NLM4_DENIED_NOLOCKS (a bound, or no memory: then nothing
 * changed). Lock held.
 */
static uint32_t lock_apply(struct nfs_lock_table *t, struct vfs_ino f, int h,
			   const struct nlm_owner *o, uint8_t kind, struct nlm_range r,
			   const struct lock_plan *pl)
{
	struct nlm_entry *made[NLM_PIECES], **pp, *e;
	unsigned i, skip;

	if (pl->n > pl->removed) {
		unsigned more = pl->n - pl->removed;

		if (t->hosts[h].nentries + more > NLM_MAX_PER_HOST ||
		    t->nentries + more > NLM_MAX_ENTRIES)
			return NLM4_DENIED_NOLOCKS;
	}
	for (i = 0; i < pl->n; i++) {
		made[i] = lock_new(t, f, h, o, pl->p[i].kind);
		if (!made[i]) {
			while (i--)
				kmem_cache_free(t->cache, made[i]);
			return NLM4_DENIED_NOLOCKS;
		}
		made[i]->r = pl->p[i].r;
	}
	for (i = 0; i < pl->n; i++)
		lock_link(t, made[i]);
	/* The new pieces are the first pl->n of the chain; the old ones follow. */
	pp = &t->bucket[lock_bucket(f)];
	for (skip = pl->n; skip; skip--)
		pp = &(*pp)->next;
	while ((e = *pp)) {
		if (lock_plan_takes(e, f, h, o, kind, r))
			lock_unlink(t, pp);
		else
			pp = &e->next;
	}
	return NLM4_GRANTED;
}

uint32_t nfs_lock_test(struct vfs_ino file, const struct nlm_owner *o, struct nlm_range r,
		       bool exclusive, struct nlm_holder *hd)
{
	struct nfs_lock_table *t = lock_lock();
	int h = lock_host_touch(t, &o->addr, host_mono_ns());
	const struct nlm_entry *e =
	    lock_conflict(t, file, h, o, exclusive ? NLM_EXCL : NLM_SHARED, r, 0, 0, false);

	if (e) {
		hd->exclusive = e->kind == NLM_EXCL;
		hd->svid = e->svid;
		hd->ohlen = e->ohlen;
		memcpy(hd->oh, e->ohkeep, e->ohlen);
		hd->r = e->r;
	}
	spin_unlock(&t->lock);
	return e ? NLM4_DENIED : NLM4_GRANTED;
}

uint32_t nfs_lock_lock(struct vfs_ino file, const struct nlm_owner *o, struct nlm_range r,
		       bool exclusive)
{
	struct nfs_lock_table *t = lock_lock();
	uint8_t kind = exclusive ? NLM_EXCL : NLM_SHARED;
	int h = lock_host_get(t, &o->addr, host_mono_ns());
	struct lock_plan pl;
	uint32_t st;

	if (h < 0)
		st = NLM4_DENIED_NOLOCKS;
	else if (lock_conflict(t, file, h, o, kind, r, 0, 0, true))
		st = NLM4_DENIED;
	else {
		lock_plan(t, file, h, o, kind, r, &pl);
		st = lock_apply(t, file, h, o, kind, r, &pl);
	}
	spin_unlock(&t->lock);
	return st;
}

uint32_t nfs_lock_unlock(struct vfs_ino file, const struct nlm_owner *o, struct nlm_range r)
{
	struct nfs_lock_table *t = lock_lock();
	int h = lock_host_touch(t, &o->addr, host_mono_ns());
	struct lock_plan pl;
	uint32_t st = NLM4_GRANTED;

	if (h >= 0) {
		lock_plan(t, file, h, o, 0, r, &pl);
		st = lock_apply(t, file, h, o, 0, r, &pl);
	}
	spin_unlock(&t->lock);
	return st;
}

/* Unlink @o's share reservations of @f, but for the first @skip entries of the chain. Lock held. */
static void lock_unshare_locked(struct nfs_lock_table *t, struct vfs_ino f, int h,
				const struct nlm_owner *o, unsigned skip)
{
	struct nlm_entry **pp = &t->bucket[lock_bucket(f)], *e;

	for (; skip; skip--)
		pp = &(*pp)->next;
	while ((e = *pp)) {
		if (lock_same_file(e, f) && e->kind == NLM_SHARE && lock_is_owner(e, h, o))
			lock_unlink(t, pp);
		else
			pp = &e->next;
	}
}

uint32_t nfs_lock_share(struct vfs_ino file, const struct nlm_owner *o, uint32_t mode,
			uint32_t access)
{
	struct nfs_lock_table *t = lock_lock();
	int h = lock_host_get(t, &o->addr, host_mono_ns());
	struct nlm_entry *e;
	uint32_t st = NLM4_GRANTED;

	if (h < 0)
		st = NLM4_DENIED_NOLOCKS;
	else if (lock_conflict(t, file, h, o, NLM_SHARE, (struct nlm_range){0, 0}, mode, access,
			       true))
		st = NLM4_DENIED;
	else if (t->hosts[h].nentries >= NLM_MAX_PER_HOST || t->nentries >= NLM_MAX_ENTRIES ||
		 !(e = lock_new(t, file, h, o, NLM_SHARE)))
		st = NLM4_DENIED_NOLOCKS;
	else {
		e->mode = (uint8_t)mode;
		e->access = (uint8_t)access;
		lock_link(t, e);
		lock_unshare_locked(t, file, h, o, 1);
	}
	spin_unlock(&t->lock);
	return st;
}

uint32_t nfs_lock_unshare(struct vfs_ino file, const struct nlm_owner *o)
{
	struct nfs_lock_table *t = lock_lock();
	int h = lock_host_touch(t, &o->addr, host_mono_ns());

	if (h >= 0)
		lock_unshare_locked(t, file, h, o, 0);
	spin_unlock(&t->lock);
	return NLM4_GRANTED;
}

unsigned nfs_lock_free_host(const struct sockaddr *peer, struct xdr_bytes name)
{
	struct nfs_lock_table *t = lock_lock();
	uint64_t hash = siphash24(t->key, name.data, name.len);
	struct in6_addr addr;
	unsigned freed = 0;
	int h;

	rpc_client_key(peer, &addr);
	h = lock_host_find(t, &addr);
	for (unsigned b = 0; h >= 0 && b < NLM_BUCKETS; b++) {
		struct nlm_entry **pp = &t->bucket[b], *e;

		while ((e = *pp)) {
			if (e->host == h && e->name == hash) {
				lock_unlink(t, pp);
				freed++;
			} else {
				pp = &e->next;
			}
		}
	}
	spin_unlock(&t->lock);
	atomic_fetch_add(&t->c.notify_freed, freed);
	return freed;
}

void nfs_lock_set_lease(unsigned seconds)
{
	atomic_store(&lock_table()->lease_s, seconds);
}

unsigned nfs_lock_lease(void)
{
	return atomic_load(&lock_table()->lease_s);
}

void nfs_lock_stats(struct nfs_lock_stats *s)
{
	struct nfs_state *st = nfs_state();
	struct nfs_lock_table *t;

	memset(s, 0, sizeof(*s));
	if (!st)
		return;
	t = lock_lock();
	for (unsigned b = 0; b < NLM_BUCKETS; b++)
		for (struct nlm_entry *e = t->bucket[b]; e; e = e->next) {
			if (e->kind == NLM_SHARE)
				s->shares++;
			else
				s->held++;
		}
	for (unsigned h = 0; h < NLM_MAX_HOSTS; h++)
		s->hosts += t->hosts[h].nentries != 0;
	spin_unlock(&t->lock);
	s->granted = atomic_load(&t->c.granted);
	s->denied = atomic_load(&t->c.denied);
	s->blocked = atomic_load(&t->c.blocked);
	s->nolocks = atomic_load(&t->c.nolocks);
	s->refused = atomic_load(&t->c.refused);
	s->notify_freed = atomic_load(&t->c.notify_freed);
	s->lease_broken = atomic_load(&t->c.lease_broken);
	s->repairs = atomic_load(&t->c.repairs);
}

void nfs_lock_check(struct kcheck *r)
{
	struct nfs_state *st = nfs_state();
	uint32_t per[NLM_MAX_HOSTS] = {0}, n = 0, bad = 0;
	struct nfs_lock_table *t;
	uint64_t in_use;

	if (!st)
		return;
	t = lock_lock();
	for (unsigned b = 0; b < NLM_BUCKETS; b++)
		for (struct nlm_entry *e = t->bucket[b]; e && n <= NLM_MAX_ENTRIES; e = e->next) {
			n++;
			if (e->host >= NLM_MAX_HOSTS || lock_bucket(e->file) != b ||
			    e->kind < NLM_SHARED || e->kind > NLM_SHARE ||
			    (e->kind != NLM_SHARE && e->r.start > e->r.end)) {
				bad++;
				continue;
			}
			per[e->host]++;
		}
	for (unsigned h = 0; h < NLM_MAX_HOSTS; h++)
		if (per[h] != t->hosts[h].nentries)
			kcheck_fail(r, "nlm: host slot %u counts %u entries, holds %u", h,
				    t->hosts[h].nentries, per[h]);
	if (n != t->nentries)
		kcheck_fail(r, "nlm: %u entries counted, %u in the chains", t->nentries, n);
	if (bad)
		kcheck_fail(r, "nlm: %u entries out of place or torn", bad);
	in_use = kmem_cache_in_use(t->cache);
	if (in_use != n)
		kcheck_fail(r, "nlm: the cache has %llu entries out, the chains %u",
			    (unsigned long long)in_use, n);
	spin_unlock(&t->lock);
	kcheck_line(r, "nlm: %u entries", n);
}
