/*
 * The NLM lock table (kernel/net/nfs/lock.c): POSIX byte ranges between
 * owners, share reservations, the bounds, FREE_ALL/SM_NOTIFY's rule, the
 * lease, and a holder killed in the middle of a change.
 *  1-3   ranges: l_len 0 is to the end; offset + len = 2^64 is the last
 *        byte; past it is FBIG; a range goes back to the wire unchanged
 *  4-8   two owners: exclusive against anything, shared with shared,
 *        adjacent ranges apart; TEST names the first conflicting holder
 *  9-15  one owner: downgrade and upgrade in place, a split by UNLOCK, a
 *        merge of neighbours of one kind, UNLOCK of nothing, the whole
 *        file; it never conflicts with itself
 * 16-17  owner identity: another svid, oh, caller_name or address is
 *        another owner
 * 18-19  to the end of file, and an unlock that cuts it
 * 20-22  share reservations: mode against access both ways, UNSHARE
 * 23-26  bounds: 256 per address (a split past it too), 4096 in all, 64
 *        addresses; others still lock
 * 27-29  FREE_ALL/SM_NOTIFY: the right name from another address, another
 *        name from the right address free nothing; both right frees all
 * 30-33  the lease: an active holder is kept, a silent one broken only on
 *        a conflict (its other locks stay), lease 0 never breaks
 * 34     everything unlocked: the cache is empty, the check is clean
 * 35-36  a holder killed holding the lock, with a count wrong and an
 *        object linked nowhere: the next caller repairs, the check is clean
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "uml.h"
#include "uml/check.h"
#include "uml/host.h"
#include "uml/nfs3.h"

static struct nfs_lock_table *tab(void)
{
	return &nfs_state()->locks;
}

static struct xdr_bytes bytes(const char *s)
{
	return (struct xdr_bytes){(const uint8_t *)s, (uint32_t)strlen(s)};
}

/* An owner: caller @name at @addr, process @svid, owner handle "oh-<svid>" unless @oh. */
static struct nlm_owner owner(const char *addr, const char *name, int32_t svid, const char *oh)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(700)};
	char buf[32];
	struct nlm_owner o;

	inet_pton(AF_INET, addr, &sa.sin_addr);
	snprintf(buf, sizeof(buf), "oh-%d", (int)svid);
	nfs_lock_owner((struct sockaddr *)&sa, bytes(name), bytes(oh ? oh : buf), svid, &o);
	return o;
}

static struct sockaddr_in peer(const char *addr)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(800)};

	inet_pton(AF_INET, addr, &sa.sin_addr);
	return sa;
}

static struct nlm_range R(uint64_t start, uint64_t end) {
	return (struct nlm_range){start, end};
}

static struct vfs_ino
file(const char *path)
{
	struct vfs_ino f;

	if (vfs_put(path, 0644, "x", 1, &f))
		bail_out("put %s", path);
	return f;
}

/* @o's ranges of @f, by start: "S0-9 X10-19" (E for the end of file). */
static const char *ranges(struct vfs_ino f, const struct nlm_owner *o)
{
	static char out[512];
	struct nlm_range got[64];
	uint8_t kind[64];
	int n = 0;
	size_t len = 0;

	spin_lock(&tab()->lock);
	for (unsigned b = 0; b < NLM_BUCKETS; b++)
		for (struct nlm_entry *e = tab()->bucket[b]; e && n < 64; e = e->next)
			if (e->file.ino == f.ino && e->kind != NLM_SHARE && e->name == o->name &&
			    e->oh == o->oh && e->svid == o->svid) {
				int i = n++;

				while (i > 0 && got[i - 1].start > e->r.start) {
					got[i] = got[i - 1];
					kind[i] = kind[i - 1];
					i--;
				}
				got[i] = e->r;
				kind[i] = e->kind;
			}
	spin_unlock(&tab()->lock);
	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		char end[24];

		if (got[i].end == UINT64_MAX)
			snprintf(end, sizeof(end), "E");
		else
			snprintf(end, sizeof(end), "%llu", (unsigned long long)got[i].end);
		len += snprintf(out + len, sizeof(out) - len, "%s%c%llu-%s", i ? " " : "",
				kind[i] == NLM_EXCL ? 'X' : 'S', (unsigned long long)got[i].start,
				end);
	}
	return out;
}

static bool check_ok(void)
{
	char buf[4096];

	uml_check(buf, sizeof(buf));
	if (strncmp(buf, "ok", 2) != 0)
		diag("%s", buf);
	return strncmp(buf, "ok", 2) == 0;
}

static void test_ranges(void)
{
	struct nlm_range r;
	uint64_t off, len;

	ok(nfs_lock_range(5, 0, &r) == 0 && r.start == 5 && r.end == UINT64_MAX,
	   "1 l_len 0 runs to the end of file");
	ok(nfs_lock_range(UINT64_MAX - 9, 10, &r) == 0 && r.end == UINT64_MAX &&
	       nfs_lock_range(UINT64_MAX, 2, &r) == -EFBIG &&
	       nfs_lock_range(2, UINT64_MAX, &r) == -EFBIG,
	   "2 offset + len may reach 2^64, not pass it (FBIG)");
	nfs_lock_range(100, 10, &r);
	nfs_lock_range_wire(r, &off, &len);
	ok(off == 100 && len == 10 && (nfs_lock_range_wire(R(7, UINT64_MAX), &off, &len), len == 0),
	   "3 back to the wire: the same offset and length; to the end is 0");
}

static void test_two_owners(void)
{
	struct vfs_ino f = file("/two");
	struct nlm_owner a = owner("10.0.0.1", "alpha", 1, NULL),
			 b = owner("10.0.0.2", "beta", 2, NULL);
	struct nlm_holder h = {0};

	is_int(nfs_lock_lock(f, &a, R(0, 99), true), NLM4_GRANTED, "4 A locks 0-99 exclusive");
	ok(nfs_lock_lock(f, &b, R(50, 59), false) == NLM4_DENIED &&
	       nfs_lock_lock(f, &b, R(99, 99), true) == NLM4_DENIED,
	   "5 B is denied a shared and an exclusive lock inside it");
	ok(nfs_lock_test(f, &b, R(90, 200), false, &h) == NLM4_DENIED && h.exclusive &&
	       h.svid == 1 && h.r.start == 0 && h.r.end == 99 && h.ohlen == 4 &&
	       memcmp(h.oh, "oh-1", 4) == 0,
	   "6 TEST names the holder: exclusive, svid 1, oh-1, 0-99");
	ok(nfs_lock_lock(f, &b, R(100, 199), false) == NLM4_GRANTED &&
	       nfs_lock_lock(f, &a, R(150, 160), false) == NLM4_GRANTED,
	   "7 adjacent ranges are apart; shared and shared do not conflict");
	ok(nfs_lock_lock(f, &a, R(150, 160), true) == NLM4_DENIED &&
	       nfs_lock_test(f, &a, R(150, 150), true, &h) == NLM4_DENIED && h.svid == 2 &&
	       !h.exclusive,
	   "8 upgrading over B's shared range is denied; TEST names B's shared lock");
	nfs_lock_unlock(f, &a, R(0, UINT64_MAX));
	nfs_lock_unlock(f, &b, R(0, UINT64_MAX));
}

static void test_one_owner(void)
{
	struct vfs_ino f = file("/one");
	struct nlm_owner a = owner("10.0.0.1", "alpha", 1, NULL);
	struct nlm_holder h;

	nfs_lock_lock(f, &a, R(0, 99), true);
	ok(nfs_lock_lock(f, &a, R(0, 99), false) == NLM4_GRANTED && !strcmp(ranges(f, &a), "S0-99"),
	   "9 a shared lock over its own exclusive one downgrades it in place");
	ok(nfs_lock_lock(f, &a, R(40, 59), true) == NLM4_GRANTED &&
	       !strcmp(ranges(f, &a), "S0-39 X40-59 S60-99"),
	   "10 an exclusive lock in the middle upgrades that part: %s", ranges(f, &a));
	ok(nfs_lock_unlock(f, &a, R(45, 49)) == NLM4_GRANTED &&
	       !strcmp(ranges(f, &a), "S0-39 X40-44 X50-59 S60-99"),
	   "11 UNLOCK of a sub-range splits it: %s", ranges(f, &a));
	ok(nfs_lock_lock(f, &a, R(45, 49), true) == NLM4_GRANTED &&
	       !strcmp(ranges(f, &a), "S0-39 X40-59 S60-99"),
	   "12 locking the hole merges the neighbours of its kind: %s", ranges(f, &a));
	ok(nfs_lock_lock(f, &a, R(40, 59), false) == NLM4_GRANTED &&
	       nfs_lock_lock(f, &a, R(100, 199), false) == NLM4_GRANTED &&
	       !strcmp(ranges(f, &a), "S0-199"),
	   "13 downgraded back and extended: one range, %s", ranges(f, &a));
	ok(nfs_lock_test(f, &a, R(0, UINT64_MAX), true, &h) == NLM4_GRANTED &&
	       nfs_lock_lock(f, &a, R(10, 20), true) == NLM4_GRANTED,
	   "14 an owner never conflicts with itself");
	ok(nfs_lock_unlock(f, &a, R(500, 600)) == NLM4_GRANTED &&
	       nfs_lock_unlock(f, &a, R(0, UINT64_MAX)) == NLM4_GRANTED &&
	       !strcmp(ranges(f, &a), "") &&
	       nfs_lock_unlock(f, &a, R(0, UINT64_MAX)) == NLM4_GRANTED,
	   "15 UNLOCK of nothing, of everything, and again: GRANTED, nothing left");
}

static void test_identity(void)
{
	struct vfs_ino f = file("/ident");
	struct nlm_owner a = owner("10.0.0.1", "alpha", 1, NULL);
	struct nlm_owner svid = owner("10.0.0.1", "alpha", 9, "oh-1"),
			 oh = owner("10.0.0.1", "alpha", 1, "other"),
			 name = owner("10.0.0.1", "gamma", 1, NULL),
			 addr = owner("10.0.0.3", "alpha", 1, NULL);

	nfs_lock_lock(f, &a, R(0, 9), true);
	ok(nfs_lock_lock(f, &svid, R(0, 0), false) == NLM4_DENIED &&
	       nfs_lock_lock(f, &oh, R(0, 0), false) == NLM4_DENIED,
	   "16 another svid, another oh: another owner");
	ok(nfs_lock_lock(f, &name, R(0, 0), false) == NLM4_DENIED &&
	       nfs_lock_lock(f, &addr, R(0, 0), false) == NLM4_DENIED,
	   "17 another caller_name, another address: another owner");
	nfs_lock_unlock(f, &a, R(0, UINT64_MAX));
}

static void test_to_end(void)
{
	struct vfs_ino f = file("/eof");
	struct nlm_owner a = owner("10.0.0.1", "alpha", 1, NULL),
			 b = owner("10.0.0.2", "beta", 2, NULL);
	struct nlm_holder h;
	struct nlm_range r;

	nfs_lock_range(10, 0, &r);
	nfs_lock_lock(f, &a, r, true);
	ok(nfs_lock_test(f, &b, R(1ull << 62, 1ull << 62), false, &h) == NLM4_DENIED &&
	       h.r.end == UINT64_MAX && nfs_lock_lock(f, &b, R(0, 9), true) == NLM4_GRANTED,
	   "18 a lock to the end of file covers 2^62; the bytes before it are free");
	ok(nfs_lock_unlock(f, &a, R(20, UINT64_MAX)) == NLM4_GRANTED &&
	       !strcmp(ranges(f, &a), "X10-19") &&
	       nfs_lock_lock(f, &b, R(20, UINT64_MAX), true) == NLM4_GRANTED,
	   "19 unlocking from 20 on leaves 10-19; B takes the rest");
	nfs_lock_unlock(f, &a, R(0, UINT64_MAX));
	nfs_lock_unlock(f, &b, R(0, UINT64_MAX));
}

enum { FSA_R = 1, FSA_W = 2, FSM_DN = 0, FSM_DR = 1, FSM_DW = 2 };

static void test_shares(void)
{
	struct vfs_ino f = file("/share");
	struct nlm_owner a = owner("10.0.0.1", "alpha", 0, "pc-a"),
			 b = owner("10.0.0.2", "beta", 0, "pc-b");

	ok(nfs_lock_share(f, &a, FSM_DW, FSA_R) == NLM4_GRANTED &&
	       nfs_lock_share(f, &b, FSM_DN, FSA_W) == NLM4_DENIED,
	   "20 A reads denying writers: B may not write");
	ok(nfs_lock_share(f, &b, FSM_DN, FSA_R) == NLM4_GRANTED &&
	       nfs_lock_share(f, &b, FSM_DR, FSA_R) == NLM4_DENIED,
	   "21 B may read beside it, but not deny the reading A does");
	ok(nfs_lock_unshare(f, &a) == NLM4_GRANTED &&
	       nfs_lock_share(f, &b, FSM_DN, FSA_W | FSA_R) == NLM4_GRANTED &&
	       nfs_lock_unshare(f, &b) == NLM4_GRANTED && nfs_lock_unshare(f, &b) == NLM4_GRANTED,
	   "22 after A's UNSHARE B writes; B's own reservation is replaced, UNSHARE twice is fine");
}

static void test_bounds(void)
{
	struct vfs_ino f = file("/bounds");
	struct nlm_owner c = owner("10.1.0.1", "flood", 1, NULL),
			 d = owner("10.1.0.2", "other", 1, NULL);
	struct nlm_holder hd;
	struct sockaddr_in sa;
	char addr[32];
	int granted = 0;

	for (int i = 0; i < NLM_MAX_PER_HOST; i++)
		granted += nfs_lock_lock(f, &c, R(4 * i, 4 * i + 2), true) == NLM4_GRANTED;
	ok(granted == NLM_MAX_PER_HOST &&
	       nfs_lock_lock(f, &c, R(5000, 5000), true) == NLM4_DENIED_NOLOCKS &&
	       nfs_lock_lock(f, &d, R(5000, 5000), true) == NLM4_GRANTED,
	   "23 one address stops at %d entries (DENIED_NOLOCKS), another still locks",
	   NLM_MAX_PER_HOST);
	ok(nfs_lock_unlock(f, &c, R(5, 5)) == NLM4_DENIED_NOLOCKS &&
	       nfs_lock_test(f, &d, R(5, 5), false, &hd) == NLM4_DENIED && hd.r.start == 4 &&
	       hd.r.end == 6,
	   "24 an UNLOCK that would split past the bound is DENIED_NOLOCKS");
	sa = peer("10.1.0.1");
	nfs_lock_free_host((struct sockaddr *)&sa, bytes("flood"));
	nfs_lock_unlock(f, &d, R(0, UINT64_MAX));

	granted = 0;
	for (int h = 0; h < NLM_MAX_ENTRIES / NLM_MAX_PER_HOST; h++) {
		char path[32];
		struct vfs_ino g;
		struct nlm_owner o;

		snprintf(path, sizeof(path), "/bounds%d", h);
		g = file(path);
		snprintf(addr, sizeof(addr), "10.2.0.%d", h + 1);
		o = owner(addr, "many", 1, NULL);
		for (int i = 0; i < NLM_MAX_PER_HOST; i++)
			granted += nfs_lock_lock(g, &o, R(2 * i, 2 * i), false) == NLM4_GRANTED;
	}
	ok(granted == NLM_MAX_ENTRIES && nfs_lock_lock(f, &d, R(0, 0), true) == NLM4_DENIED_NOLOCKS,
	   "25 %d entries in all, then DENIED_NOLOCKS for anyone", NLM_MAX_ENTRIES);
	for (int h = 0; h < NLM_MAX_ENTRIES / NLM_MAX_PER_HOST; h++) {
		snprintf(addr, sizeof(addr), "10.2.0.%d", h + 1);
		sa = peer(addr);
		nfs_lock_free_host((struct sockaddr *)&sa, bytes("many"));
	}

	granted = 0;
	for (int h = 0; h < NLM_MAX_HOSTS; h++) {
		struct nlm_owner o;

		snprintf(addr, sizeof(addr), "10.3.0.%d", h + 1);
		o = owner(addr, "host", 1, NULL);
		granted += nfs_lock_lock(f, &o, R(h, h), false) == NLM4_GRANTED;
	}
	ok(granted == NLM_MAX_HOSTS &&
	       nfs_lock_lock(f, &d, R(1000, 1000), true) == NLM4_DENIED_NOLOCKS,
	   "26 %d addresses hold locks: a new one gets DENIED_NOLOCKS", NLM_MAX_HOSTS);
	for (int h = 0; h < NLM_MAX_HOSTS; h++) {
		snprintf(addr, sizeof(addr), "10.3.0.%d", h + 1);
		sa = peer(addr);
		nfs_lock_free_host((struct sockaddr *)&sa, bytes("host"));
	}
}

static void test_free_host(void)
{
	struct vfs_ino f = file("/free"), g = file("/free2");
	struct nlm_owner a = owner("10.4.0.1", "alpha", 1, NULL),
			 a2 = owner("10.4.0.1", "alpha", 2, NULL),
			 other = owner("10.4.0.1", "other", 3, NULL);
	struct sockaddr_in right = peer("10.4.0.1"), wrong = peer("10.4.0.2");

	nfs_lock_lock(f, &a, R(0, 9), true);
	nfs_lock_lock(g, &a2, R(0, 9), false);
	nfs_lock_share(g, &a2, FSM_DN, FSA_R);
	nfs_lock_lock(f, &other, R(20, 29), true);
	is_int(nfs_lock_free_host((struct sockaddr *)&wrong, bytes("alpha")), 0,
	       "27 the right name from another address frees nothing");
	is_int(nfs_lock_free_host((struct sockaddr *)&right, bytes("alph")), 0,
	       "28 another name from the right address frees nothing");
	ok(nfs_lock_free_host((struct sockaddr *)&right, bytes("alpha")) == 3 &&
	       !strcmp(ranges(f, &a), "") && !strcmp(ranges(f, &other), "X20-29"),
	   "29 both right: its 3 entries go, another name's of that address stays");
	nfs_lock_unlock(f, &other, R(0, UINT64_MAX));
}

static void test_lease(void)
{
	struct vfs_ino f = file("/lease"), g = file("/lease2"), z = file("/lease3");
	struct nlm_owner a = owner("10.5.0.1", "silent", 1, NULL),
			 b = owner("10.5.0.2", "new", 2, NULL),
			 c = owner("10.5.0.3", "busy", 3, NULL);
	struct nfs_lock_stats st0, st1;
	struct nlm_holder h;

	nfs_lock_set_lease(1);
	nfs_lock_lock(f, &a, R(0, 9), true);
	nfs_lock_lock(g, &a, R(0, 9), true);
	nfs_lock_lock(z, &c, R(0, 9), true);
	is_int(nfs_lock_lock(f, &b, R(5, 5), true), NLM4_DENIED,
	       "30 within the lease the holder is obeyed");
	usleep(1300 * 1000);
	nfs_lock_test(g, &c, R(100, 100), false, &h); /* c calls: its lease starts again */
	nfs_lock_set_lease(0);
	ok(nfs_lock_lock(f, &b, R(5, 5), true) == NLM4_DENIED,
	   "31 lease 0: a silent holder is never broken");
	nfs_lock_set_lease(1);
	nfs_lock_stats(&st0);
	ok(nfs_lock_lock(z, &b, R(5, 5), true) == NLM4_DENIED,
	   "32 a holder that called within the lease is kept");
	ok(nfs_lock_test(f, &b, R(5, 5), true, &h) == NLM4_GRANTED &&
	       (nfs_lock_stats(&st1), st1.lease_broken == st0.lease_broken) &&
	       nfs_lock_lock(f, &b, R(5, 5), true) == NLM4_GRANTED &&
	       (nfs_lock_stats(&st1), st1.lease_broken == st0.lease_broken + 1) &&
	       !strcmp(ranges(g, &a), "X0-9"),
	   "33 past the lease TEST says GRANTED and breaks nothing; LOCK breaks the silent "
	   "holder's "
	   "conflicting lock, its others stay");
	nfs_lock_set_lease(NLM_LEASE_DEFAULT);
	nfs_lock_unlock(g, &a, R(0, UINT64_MAX));
	nfs_lock_unlock(f, &b, R(0, UINT64_MAX));
	nfs_lock_unlock(z, &c, R(0, UINT64_MAX));
}

static void test_empty(void)
{
	struct nfs_lock_stats st;

	nfs_lock_stats(&st);
	ok(st.held == 0 && st.shares == 0 && st.hosts == 0 &&
	       kmem_cache_in_use(tab()->cache) == 0 && check_ok(),
	   "34 everything unlocked: no entry, no host, the cache empty, the check clean");
}

static void test_death(void)
{
	struct vfs_ino f = file("/death");
	struct nlm_owner a = owner("10.6.0.1", "alpha", 1, NULL),
			 b = owner("10.6.0.2", "beta", 2, NULL);
	struct nfs_lock_stats st;
	int status;
	pid_t pid;

	nfs_lock_lock(f, &a, R(0, 9), true);
	pid = fork();
	if (pid == 0) {
		/* Killed between taking an object and linking it, with the count bumped too early.
		 */
		spin_lock(&tab()->lock);
		kmem_cache_alloc(tab()->cache);
		tab()->nentries += 5;
		raise(SIGKILL);
	}
	waitpid(pid, &status, 0);
	ok(WIFSIGNALED(status) && nfs_lock_lock(f, &b, R(5, 5), true) == NLM4_DENIED &&
	       (nfs_lock_stats(&st), st.repairs == 1 && st.held == 1),
	   "35 after a holder is killed inside, the next call repairs and A's lock holds");
	uml_reap();
	ok(kmem_cache_in_use(tab()->cache) == 1 && check_ok(),
	   "36 the stray object is back in the cache, the counts match, the check is clean");
	nfs_lock_unlock(f, &a, R(0, UINT64_MAX));
}

int main(void)
{
	struct uml_boot_params bp = {.memory = 8 << 20};

	plan(36);
	if (uml_boot(&bp) || nfs_init())
		bail_out("boot");
	test_ranges();
	test_two_owners();
	test_one_owner();
	test_identity();
	test_to_end();
	test_shares();
	test_bounds();
	test_free_host();
	test_lease();
	test_empty();
	test_death();
	return done_testing();
}
