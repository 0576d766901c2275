/*
 * kernel/net/nfs: byte-range locks and share reservations for NFS clients,
 * served over NLM v4 (program 100021) with the bits of NSM v1 (100024) a
 * server needs, on the NFS port (RFC 1813's "Network Lock Manager
 * protocol" section and the X/Open XNFS book).
 *
 * The lock table (lock.c) is in the arena, so every CPU of every process
 * that serves NFS sees the same locks; the programs (nlm4proc.c,
 * nsm1proc.c) decode the wire, check the handle, and ask the table.
 */
#ifndef UML_NLM_H
#define UML_NLM_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include "uml/mm.h"
#include "uml/rpc.h"
#include "uml/siphash.h"
#include "uml/sync.h"
#include "uml/vfs.h"

#define NLM_PROGRAM 100021
#define NSM_PROGRAM 100024

#define NLM_MAXSTRLEN  1024 /* LM_MAXSTRLEN: caller_name */
#define NLM_MAXNAMELEN 1025 /* LM_MAXNAMELEN: nlm4_notify.name */
#define NLM_MAXNETOBJ  1024 /* MAXNETOBJ_SZ: cookie, fh, oh */
#define NSM_MAXSTRLEN  1024 /* SM_MAXSTRLEN: mon_name */

enum nlm4_stats {
	NLM4_GRANTED = 0,
	NLM4_DENIED = 1,
	NLM4_DENIED_NOLOCKS = 2,
	NLM4_BLOCKED = 3,
	NLM4_DENIED_GRACE_PERIOD = 4,
	NLM4_DEADLCK = 5,
	NLM4_ROFS = 6,
	NLM4_STALE_FH = 7,
	NLM4_FBIG = 8,
	NLM4_FAILED = 9,
};

enum {
	NLMPROC4_NULL = 0,
	NLMPROC4_TEST = 1,
	NLMPROC4_LOCK = 2,
	NLMPROC4_CANCEL = 3,
	NLMPROC4_UNLOCK = 4,
	NLMPROC4_GRANTED = 5, /* 5..15: callbacks, not served */
	NLMPROC4_SHARE = 20,
	NLMPROC4_UNSHARE = 21,
	NLMPROC4_NM_LOCK = 22,
	NLMPROC4_FREE_ALL = 23,
	NLMPROC4_COUNT
};

enum {
	SM_NULL = 0,
	SM_STAT = 1,
	SM_MON = 2,
	SM_UNMON = 3,
	SM_UNMON_ALL = 4,
	SM_SIMU_CRASH = 5,
	SM_NOTIFY = 6,
	SM_COUNT
};

/*
 * Bounds: what one client address, and all of them, may hold (locks and
 * share reservations together), and how many client addresses may hold
 * anything at once. Past them a request gets NLM4_DENIED_NOLOCKS.
 */
#define NLM_MAX_PER_HOST  256
#define NLM_MAX_ENTRIES	  4096
#define NLM_MAX_HOSTS	  64
#define NLM_BUCKETS	  256 /* chains of entries, by file */
#define NLM_OH_KEEP	  32  /* bytes of an owner handle kept, for TEST's holder */
#define NLM_LEASE_DEFAULT 600

/*
 * Who holds a lock: the client address (rpc_client_key), its caller_name,
 * its svid and its owner handle. caller_name and oh come from the network,
 * up to 1024 bytes each: the table keeps them as SipHash-2-4 values under a
 * key of the boot (so nobody can make two names collide on purpose), plus
 * the first NLM_OH_KEEP bytes of oh to show in TEST's holder.
 */
struct nlm_owner {
	struct in6_addr addr;
	uint64_t name; /* hash of caller_name */
	uint64_t oh;   /* hash of the owner handle */
	int32_t svid;
	uint8_t ohlen; /* bytes of ohkeep used */
	uint8_t ohkeep[NLM_OH_KEEP];
};

/* A byte range, both ends included: [start, end]; end UINT64_MAX is "to the end of file". */
struct nlm_range {
	uint64_t start, end;
};

/* One lock or share reservation. Immutable once linked (see lock.c). */
struct nlm_entry {
	struct nlm_entry *next; /* in its file's bucket */
	struct vfs_ino file;
	struct nlm_range r; /* locks */
	uint64_t name, oh;
	int32_t svid;
	uint16_t host;	/* index in nfs_lock_table.hosts */
	uint8_t kind;	/* NLM_SHARED, NLM_EXCL or NLM_SHARE */
	uint8_t mode;	/* share: fsh4_mode (what others may not do) */
	uint8_t access; /* share: fsh4_access (what this owner does) */
	uint8_t ohlen;
	uint8_t ohkeep[NLM_OH_KEEP];
};
enum { NLM_SHARED = 1, NLM_EXCL = 2, NLM_SHARE = 3 };

/* A client address that holds something. */
struct nlm_host {
	struct in6_addr addr;
	_Atomic uint64_t seen_ns; /* its last NLM call, host_mono_ns */
	uint32_t nentries;	  /* entries it holds; 0: the slot is free */
	uint32_t pad;
};

/* Counters: atomics, read without the lock. */
struct nlm_counters {
	_Atomic uint64_t granted; /* LOCK, NM_LOCK and SHARE answered GRANTED */
	_Atomic uint64_t denied;  /* answered DENIED (a conflict, not blocking) */
	_Atomic uint64_t blocked; /* answered BLOCKED (a conflict, blocking: the client polls) */
	_Atomic uint64_t nolocks; /* answered DENIED_NOLOCKS: a bound or the memory */
	_Atomic uint64_t refused; /* STALE_FH, ROFS, FBIG, FAILED */
	_Atomic uint64_t notify_freed; /* entries freed by FREE_ALL and SM_NOTIFY */
	_Atomic uint64_t lease_broken; /* entries broken: a silent holder's, on a conflict */
	_Atomic uint64_t repairs;      /* takeovers of the lock from a dead holder */
};

/*
 * The table, inside struct nfs_state in the arena. lock guards every field
 * but the counters, seen_ns (atomic) and lease_s (atomic). Invariants, true
 * whenever lock is free: an entry is in exactly one chain, the one of its
 * file; hosts[e->host].nentries counts the entries naming it; nentries is
 * their sum; every entry came from cache. A holder that dies breaks at most
 * the counts and leaves an object unlinked: the next holder repairs both
 * (lock.c).
 */
struct nfs_lock_table {
	spinlock_t lock; /* LOCK_RANK_NLM */
	uint8_t key[SIPHASH_KEY_SIZE];
	struct kmem_cache *cache; /* struct nlm_entry */
	uint32_t nentries;
	_Atomic uint32_t lease_s; /* 0: never break */
	struct nlm_entry *bucket[NLM_BUCKETS];
	struct nlm_host hosts[NLM_MAX_HOSTS];
	struct nlm_counters c;
};

/* Set up @t in the arena (nfs_init). 0 or -ENOMEM. */
int nfs_lock_init(struct nfs_lock_table *t);

/*
 * The owner of a call: @peer's address, the hashes of @name and @oh, @svid.
 * The table's key must be set (nfs_lock_init).
 */
void nfs_lock_owner(const struct sockaddr *peer, struct xdr_bytes name, struct xdr_bytes oh,
		    int32_t svid, struct nlm_owner *o);
/* l_offset and l_len of the wire as a range: 0, or -EFBIG when they pass 2^64. */
int nfs_lock_range(uint64_t offset, uint64_t len, struct nlm_range *r);
/* The range as l_offset and l_len (0: to the end of file). */
void nfs_lock_range_wire(struct nlm_range r, uint64_t *offset, uint64_t *len);

/* What TEST reports of the first conflicting holder. */
struct nlm_holder {
	bool exclusive;
	int32_t svid;
	uint8_t ohlen;
	uint8_t oh[NLM_OH_KEEP];
	struct nlm_range r;
};

/*
 * The calls: each refreshes the caller's lease first, and each answers an
 * nlm4_stats. A conflicting holder whose client has been silent longer
 * than the lease is not obeyed: lock and share break its entries that
 * conflict (only those), test reports GRANTED and leaves them.
 *
 * test:    GRANTED when @o could lock @r of @file; else DENIED and *@h.
 * lock:    GRANTED (the owner's ranges of @file now hold @r as asked,
 *          merged with its neighbours of the same kind, its other kind cut
 *          out), DENIED (another owner holds a conflicting range), or
 *          DENIED_NOLOCKS (a bound, or no memory). Changes nothing unless
 *          GRANTED.
 * unlock:  GRANTED (nothing of @r is held by @o now, nothing held before
 *          included), or DENIED_NOLOCKS when a split would pass a bound.
 * share:   GRANTED, DENIED (another owner's reservation conflicts: its mode
 *          denies what @access does, or its access what @mode denies), or
 *          DENIED_NOLOCKS. An owner's new reservation replaces its old one.
 * unshare: GRANTED, whether there was one or not.
 */
uint32_t nfs_lock_test(struct vfs_ino file, const struct nlm_owner *o, struct nlm_range r,
		       bool exclusive, struct nlm_holder *h);
uint32_t nfs_lock_lock(struct vfs_ino file, const struct nlm_owner *o, struct nlm_range r,
		       bool exclusive);
uint32_t nfs_lock_unlock(struct vfs_ino file, const struct nlm_owner *o, struct nlm_range r);
uint32_t nfs_lock_share(struct vfs_ino file, const struct nlm_owner *o, uint32_t mode,
			uint32_t access);
uint32_t nfs_lock_unshare(struct vfs_ino file, const struct nlm_owner *o);
/*
 * FREE_ALL and SM_NOTIFY: free what the client at @peer's address holds
 * under caller_name @name, nothing of other addresses or names. Returns the
 * number of entries freed.
 */
unsigned nfs_lock_free_host(const struct sockaddr *peer, struct xdr_bytes name);

/* The lease in seconds (0: a silent client's locks are never broken). */
void nfs_lock_set_lease(unsigned seconds);
unsigned nfs_lock_lease(void);

struct nfs_lock_stats {
	uint64_t held;	 /* locks held now */
	uint64_t shares; /* share reservations held now */
	uint64_t hosts;	 /* client addresses holding either */
	uint64_t granted, denied, blocked, nolocks, refused, notify_freed, lease_broken, repairs;
};
void nfs_lock_stats(struct nfs_lock_stats *s);

struct kcheck;
/* Audit the table into @r: chains, counts, the cache's objects. */
void nfs_lock_check(struct kcheck *r);

/* --- programs (nlm4proc.c, nsm1proc.c) --- */

extern const struct rpc_program nlm4_program;
extern const struct rpc_program nsm1_program;

#endif
