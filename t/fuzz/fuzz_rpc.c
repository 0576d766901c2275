/*
 * Harness: the ONC RPC dispatcher with MOUNT v1/v3 and NFS v3 (rpc_dispatch
 * with nfs_service) in front of a live ramfs, called as the transports call
 * it, from peers that may do more or less (fuzz_tree.h); calls to program
 * 100000 go to the machine's rpcbind (svc_rpcbind, with no listener behind
 * it: its decoders and refusals, its tables empty).
 *
 * Input: a script of calls (fuzz_rpc.h). Each record is copied into a buffer
 * of its exact size, the reply buffer is exactly reply_max bytes (65507 for
 * UDP), so ASan sees a byte read or written past either.
 *
 * State. One machine per process, and its tree is kept from input to
 * input: files an input creates are there for the next, as on a real
 * server, so the fuzzer reaches states no single input builds. The tree is
 * rebuilt every FUZZ_RPC_RESET inputs (default 2000) and whenever less than
 * a quarter of the machine's 16 MiB is free, which bounds memory (and keeps
 * directories short enough for their linear lookups); each rebuilt tree must
 * leave as many pages free as the first, so a remove path that leaks is
 * caught. The machine's memory is one mmap, which LeakSanitizer does not
 * track: the ramfs growing between resets is not reported as a leak, while
 * whatever an input mallocs it frees. The replay test (replay.c) rebuilds
 * the tree before every file, so a file replays alike whatever ran before
 * it; a crash that needs an earlier input's files is saved as one input of
 * several calls (t/fuzz/README).
 *
 * Handles. A handle carries a MAC under the installation's key, which a
 * mutator never guesses. So an input names handles by number (fuzz_rpc.h):
 * the base handles, made afresh for the files of each rebuilt tree, and the
 * handles replies handed out, which the harness keeps (any 32-byte run of a
 * reply that decodes under our key). A mutation of a marker moves a call to
 * another valid handle, or breaks the marker into a bad handle of its own.
 * The key is a fixed one, loaded from a key file, so that a tree built the
 * same way gets the same handles in every run.
 *
 * Invariants, per call:
 *  - a record whose header decodes (as an independent decoder reads it) is
 *    answered, any other dropped; a reply is a well-formed REPLY to the
 *    call's xid, a multiple of 4 bytes, within reply_max;
 *  - an NFS call succeeds only on a good handle of an export the peer may
 *    use (listed address; for a secure export, a port < 1024), and RENAME
 *    and LINK only within one export; MNT hands out only such handles;
 *  - nothing outside /rw and /secure ever changes (exports / and /ro are
 *    read-only); /secure changes only for the peers it lists, from
 *    privileged ports; /rw only for the peers it lists;
 *  - a knob write reaches validation only from a peer that may write /rw,
 *    and only content validation accepts is committed (fuzz_tree.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uml/nfs3.h"
#include "uml/rpc.h"
#include "uml/rpcb.h"
#include "uml/svc.h"
#include "fuzz.h"
#include "fuzz_rpc.h"
#include "fuzz_tree.h"

const char fuzz_name[] = "rpc";

#define NRECENT 48

static uint8_t recent[NRECENT][NFS_FH_SIZE]; /* newest first */
static unsigned nrecent;
static uint8_t *scratch, *reply_tcp, *reply_udp;
static unsigned long since_reset, reset_every = 2000;
static bool trace; /* FUZZ_RPC_TRACE=1: one line per call, to see what a seed does */
/*
 * Pages free with the tree just built. Rebuilt, it must give them all back
 * but for a few that slab placement may keep (measured: within 2).
 */
#define RESET_SLACK 16
static uint32_t free_at_boot;

static void reset(void)
{
	uint32_t free_now;
	int rc = fuzz_tree_reset();

	fuzz_check(rc == 0, "the tree could not be rebuilt: %d", rc);
	free_now = fuzz_tree_free_pages();
	fuzz_check(free_now + RESET_SLACK >= free_at_boot,
		   "the tree rebuilt leaves %u pages free, %u at boot: removed files leak memory",
		   free_now, free_at_boot);
	nrecent = 0;
	since_reset = 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *every = getenv("FUZZ_RPC_RESET");
	int rc;

	(void)argc;
	(void)argv;
	if (every && atol(every) > 0)
		reset_every = (unsigned long)atol(every);
	trace = getenv("FUZZ_RPC_TRACE") != NULL;
	rc = fuzz_tree_boot();
	fuzz_check(rc == 0, "the machine did not boot: %d", rc);
	free_at_boot = fuzz_tree_free_pages();
	scratch = malloc(RPC_SCRATCH_MAX);
	reply_tcp = malloc(RPC_MAX_REPLY);
	reply_udp = malloc(RPC_UDP_MAX);
	fuzz_check(scratch && reply_tcp && reply_udp, "out of memory");
	return 0;
}

void fuzz_replay_reset(void)
{
	reset();
}

/* --- handles --- */

/* A handle seen again (LOOKUP "..") becomes the newest, as one seen first. */
static void keep_handle(const uint8_t *fh)
{
	unsigned at = nrecent; /* the slot that goes: its own, or the oldest */

	for (unsigned i = 0; i < nrecent; i++)
		if (memcmp(recent[i], fh, NFS_FH_SIZE) == 0) {
			at = i;
			break;
		}
	if (at == nrecent && nrecent < NRECENT)
		nrecent++;
	else if (at == NRECENT)
		at = NRECENT - 1;
	memmove(recent[1], recent[0], at * sizeof(recent[0]));
	memcpy(recent[0], fh, NFS_FH_SIZE);
}

/* Keep every handle of ours in a reply: fixed (MOUNT v1) or opaque, they start aligned. */
static void harvest(const uint8_t *reply, size_t n)
{
	for (size_t at = 0; at + NFS_FH_SIZE <= n; at += 4)
		if (reply[at] == NFS_FH_VERSION &&
		    fuzz_tree_export_of(reply + at, NFS_FH_SIZE) >= 0)
			keep_handle(reply + at);
}

static void handle_for(uint8_t k, uint8_t out[NFS_FH_SIZE])
{
	if (k >= RPC_FH_RECENT && nrecent) {
		memcpy(out, recent[(k - RPC_FH_RECENT) % nrecent], NFS_FH_SIZE);
		return;
	}
	fuzz_tree_base_fh(k % FH_NBASE, out);
}

static bool is_mark(const uint8_t *p, size_t left)
{
	return left >= 4 && p[0] == RPC_FH_MARK0 && p[1] == RPC_FH_MARK1 && p[2] == RPC_FH_MARK2;
}

/* The record with its handle markers replaced, in a buffer of its exact size. */
static uint8_t *expand(const uint8_t *rec, size_t len, size_t *out_len)
{
	size_t marks = 0, o = 0;
	uint8_t *out;

	for (size_t i = 0; i < len; i++)
		if (is_mark(rec + i, len - i)) {
			marks++;
			i += 3;
		}
	*out_len = len + marks * (NFS_FH_SIZE - 4);
	out = malloc(*out_len ? *out_len : 1);
	fuzz_check(out, "out of memory");
	for (size_t i = 0; i < len; i++) {
		if (is_mark(rec + i, len - i)) {
			handle_for(rec[i + 3], out + o);
			o += NFS_FH_SIZE;
			i += 3;
		} else {
			out[o++] = rec[i];
		}
	}
	return out;
}

/* --- what a reply must be --- */

/* The call's header as an independent decoder reads it (RFC 5531 section 9). */
struct call_head {
	bool answerable; /* a CALL whose header decodes: it must get a reply */
	uint32_t xid, prog, vers, proc;
	size_t args; /* where the arguments start; 0 when the header stops short of them */
};

static bool take(size_t *pos, size_t len, size_t n)
{
	if (n > len - *pos)
		return false;
	*pos += n;
	return true;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static struct call_head read_head(const uint8_t *c, size_t len)
{
	struct call_head h = {0};
	size_t pos = 32, n;

	/* xid, mtype, rpcvers, prog, vers, proc, cred flavor, cred length */
	if (len < pos || be32(c + 4) != 0)
		return h;
	h.xid = be32(c);
	h.prog = be32(c + 12);
	h.vers = be32(c + 16);
	h.proc = be32(c + 20);
	n = be32(c + 28);
	if (n > RPC_AUTH_BODY_MAX) {
		h.answerable = true; /* denied BADCRED, the rest unread */
		return h;
	}
	if (!take(&pos, len, (n + 3) & ~(size_t)3) || !take(&pos, len, 8))
		return h;
	n = be32(c + pos - 4);
	if (n > RPC_AUTH_BODY_MAX) {
		h.answerable = true; /* denied BADVERF */
		return h;
	}
	if (!take(&pos, len, (n + 3) & ~(size_t)3))
		return h;
	h.answerable = true;
	h.args = pos;
	return h;
}

/* Step over an XDR opaque at *@pos of @c; false when it runs off the end. */
static bool skip_opaque(const uint8_t *c, size_t len, size_t *pos)
{
	return *pos <= len && len - *pos >= 4 &&
	       take(pos, len, 4 + ((be32(c + *pos) + 3ull) & ~3ull));
}

/* The export of the 32-byte handle at @pos, or -1 (none, or not one of ours). */
static int handle_export_at(const uint8_t *c, size_t len, size_t pos)
{
	if (!pos || pos > len || len - pos < 4 + NFS_FH_SIZE || be32(c + pos) != NFS_FH_SIZE)
		return -1;
	return fuzz_tree_export_of(c + pos + 4, NFS_FH_SIZE);
}

/* Where the second handle of a RENAME (after a handle and a name) or LINK is, or 0. */
static size_t second_handle(const uint8_t *c, size_t len, const struct call_head *h)
{
	size_t pos = h->args;

	if (!pos || !skip_opaque(c, len, &pos))
		return 0;
	if (h->proc == PROC3_RENAME && !skip_opaque(c, len, &pos))
		return 0;
	return pos;
}

static void check_reply(const uint8_t *call, size_t clen, const uint8_t *reply, size_t n,
			size_t reply_max, const struct fuzz_peer *peer)
{
	struct call_head h = read_head(call, clen);
	uint32_t rstat, stat, vlen;
	size_t pos = 12;
	int ex;

	if (n == 0) {
		fuzz_check(!h.answerable, "a call (xid %#x, %u/%u/%u) got no reply", h.xid, h.prog,
			   h.vers, h.proc);
		return;
	}
	fuzz_check(h.answerable, "a record that is no call got a %zu-byte reply", n);
	fuzz_check(n % 4 == 0 && n <= reply_max && n >= 16, "a %zu-byte reply (room for %zu)", n,
		   reply_max);
	fuzz_check(be32(reply) == h.xid && be32(reply + 4) == 1,
		   "the reply's xid %#x or type %u is wrong", be32(reply), be32(reply + 4));
	rstat = be32(reply + 8);
	fuzz_check(rstat <= 1, "reply_stat %u", rstat);
	if (rstat == 1)
		return; /* denied: RPC_MISMATCH or AUTH_ERROR */
	/* Accepted: our verifier, then accept_stat. */
	fuzz_check(n >= 24 && (vlen = be32(reply + 16)) <= RPC_AUTH_BODY_MAX &&
		       take(&pos, n, 8 + ((vlen + 3) & ~3u)) && take(&pos, n, 4),
		   "a reply's verifier runs off its end");
	stat = be32(reply + pos - 4);
	fuzz_check(stat <= RPC_SYSTEM_ERR, "accept_stat %u", stat);
	if (stat != RPC_SUCCESS || pos + 4 > n)
		return;
	stat = be32(reply + pos);

	if (h.prog == NFS_PROGRAM && h.vers == 3 && h.proc >= 1 && h.proc < NFS3_NPROCS &&
	    stat == NFS3_OK) {
		/* Every procedure but NULL starts with a handle, which must be good and allowed. */
		ex = handle_export_at(call, clen, h.args);
		fuzz_check(ex >= 0 && peer->may & 1u << ex,
			   "NFS proc %u on a handle of export %d succeeded for %s", h.proc, ex,
			   peer->client);
		if (h.proc == PROC3_RENAME || h.proc == PROC3_LINK) {
			int ex2 = handle_export_at(call, clen, second_handle(call, clen, &h));

			fuzz_check(ex2 == ex, "NFS proc %u across exports %d and %d succeeded",
				   h.proc, ex, ex2);
		}
	}
	if (h.prog == MOUNT_PROGRAM && h.proc == MNT_MNT && stat == 0) {
		/* MNT v3: status, opaque handle; v1: status, fixed handle. */
		size_t at = pos + 4 + (h.vers == 3 ? 4 : 0);

		ex = at + NFS_FH_SIZE <= n ? fuzz_tree_export_of(reply + at, NFS_FH_SIZE) : -1;
		fuzz_check(ex >= 0 && peer->may & 1u << ex, "MNT gave %s a handle of export %d",
			   peer->client, ex);
	}
}

/* prog/vers/proc from peer: the reply's accept or reject status, then its first word. */
static void trace_call(const uint8_t *call, size_t clen, const uint8_t *reply, size_t n,
		       const struct fuzz_peer *peer, bool udp)
{
	struct call_head h = read_head(call, clen);
	size_t at;

	if (n == 0) {
		fprintf(stderr, "fuzz-rpc: %zu bytes from %s: dropped\n", clen, peer->client);
		return;
	}
	at = 24 + ((be32(reply + 16) + 3) & ~3u); /* after accept_stat (check_reply passed) */
	fprintf(stderr, "fuzz-rpc: %u/%u/%u from %s%s: %s %u", h.prog, h.vers, h.proc, peer->client,
		udp ? " (udp)" : "", be32(reply + 8) ? "denied" : "accepted",
		be32(reply + (be32(reply + 8) ? 12 : at - 4)));
	if (!be32(reply + 8) && !be32(reply + at - 4) && at + 4 <= n)
		fprintf(stderr, ", status %u", be32(reply + at));
	fprintf(stderr, ", %zu bytes\n", n);
}

/* --- one call --- */

/* What @peer may not have changed must be as it was; say what changed if not. */
static void check_unchanged(const struct fuzz_peer *peer, const struct fuzz_snapshot *before,
			    const struct fuzz_snapshot *after)
{
	static const char *const what[FR_COUNT] = {"a read-only export", "/rw", "/secure"};
	char why[1200];

	for (int r = 0; r < FR_COUNT; r++)
		fuzz_check(fuzz_tree_same(before, after, r, why, sizeof(why)),
			   "%s changed %s, which it may not: %s", peer->client, what[r], why);
}

static void step(uint8_t ctl, const uint8_t *rec, size_t len)
{
	static struct fuzz_snapshot before, after; /* buffers kept from call to call */
	const struct fuzz_peer *peer = fuzz_tree_peer(ctl & RPC_CTL_PEER);
	bool udp = ctl & RPC_CTL_UDP;
	/* The regions the peer may not change: taken before and after its call. */
	unsigned watch = 1u << FR_FIXED | (peer->may & 1u << FX_RW ? 0 : 1u << FR_RW) |
			 (peer->may & 1u << FX_SECURE ? 0 : 1u << FR_SECURE);
	uint8_t *reply = udp ? reply_udp : reply_tcp;
	struct svc_req rq;
	size_t clen, n;
	uint8_t *call = expand(rec, len, &clen);
	uint8_t *orig = malloc(clen ? clen : 1);

	fuzz_check(orig, "out of memory");
	memcpy(orig, call, clen); /* the dispatcher may decode in place */
	fuzz_tree_snapshot(&before, watch);
	memset(&rq, 0, sizeof(rq));
	memcpy(&rq.peer, &peer->sa, peer->len);
	rq.peerlen = peer->len;
	memcpy(rq.client, peer->client, sizeof(rq.client));
	rq.datagram = udp;
	rq.scratch = scratch;
	rq.reply_max = udp ? RPC_UDP_MAX : RPC_MAX_REPLY;
	rq.stats = &nfs_state()->rpc;

	fuzz_tree_serving(peer);
	/* Program 100000 is the machine's rpcbind, which its transports serve beside NFS. */
	n = rpc_dispatch(clen >= 16 && be32(call + 12) == RPCB_PROGRAM ? &svc_rpcbind
								       : &nfs_service,
			 &rq, call, clen, reply);
	fuzz_tree_serving(NULL);

	if (trace)
		trace_call(orig, clen, reply, n, peer, udp);
	check_reply(orig, clen, reply, n, rq.reply_max, peer);
	harvest(reply, n);
	fuzz_tree_snapshot(&after, watch);
	check_unchanged(peer, &before, &after);
	free(orig);
	free(call);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t pos = 0;

	if (since_reset >= reset_every || fuzz_tree_low_memory())
		reset();
	since_reset++;
	for (int i = 0; i < RPC_STEPS_MAX && size - pos >= 3; i++) {
		uint8_t ctl = data[pos];
		size_t len = (size_t)data[pos + 1] << 8 | data[pos + 2];

		pos += 3;
		if (len > size - pos)
			len = size - pos;
		step(ctl, data + pos, len);
		pos += len;
	}
	return 0;
}
