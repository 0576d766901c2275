/*
 * What the files of kernel/net/inet share: packet buffers, the stack and
 * interface structures, wire formats and the calls between protocols.
 *
 * Locks (all LOCK_RANK_INET; none nests in another):
 *   inet.lock   the interface table, the UDP table and ephemeral ports, the
 *               ICMP rate limit and the PMTU notes (pmtu.c); a socket's
 *               receive queue is guarded by its wait queue's lock, taken
 *               under inet.lock to deliver (rank KWAIT is above)
 *   tcp_lock    every TCP socket and the TCP tables (tcp.h)
 *   netif.lock  that interface's neighbours, fragments in reassembly and
 *               fault injector state
 * Nothing is sent, and no host call made, while one is held: work that
 * sends collects its buffers under the lock and sends them after.
 */
#ifndef INET_INTERNAL_H
#define INET_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "uml/inet.h"
#include "uml/mm.h"
#include "uml/sched.h"
#include "uml/sync.h"

/* --- packet buffers (pkb.c) --- */

/*
 * One packet: data[off, off + len) within data[0, cap). Frames come from
 * the stack's slab cache (INET_PKB_CAP bytes of data), reassembled
 * datagrams from kmalloc (whole pages). Every buffer is charged to the
 * stack's budget (truesize) until freed.
 *
 * Death: a buffer names the process that holds it (owner). Allocating one
 * and taking one off any queue (pkb_queue_take, or pkb_own where a list is
 * cut by hand) make the caller's process its owner; putting one on a queue
 * leaves the owner as it was, and freeing one clears it. So a buffer whose
 * owner died is either in one of the stack's tables -- inet_reap adopts
 * those -- or was in the dead process's hands, and inet_reap frees it.
 */
#define INET_HEADROOM 64 /* Ethernet + IPv4 + UDP headers, rounded up */
#define INET_PKB_CAP  (INET_HEADROOM + 14 + INET_MTU_MAX + 32)
/*
 * The largest buffer (pkb_alloc refuses more): a frame of an IPv4 datagram
 * of 64 KiB. A TSO segment is cut to fit one 64 KiB kmalloc block with its
 * headroom (tcp_output.c); a segment the host coalesced takes the block
 * its length needs (netif.c), 128 KiB past 64 KiB less the headers.
 */
#define INET_PKB_BIG (INET_HEADROOM + 14 + 65535)
struct pkb {
	struct pkb *next; /* on one queue at a time */
	uint32_t cap;
	uint32_t off, len;
	uint32_t truesize; /* what it is charged */
	uint32_t owner;	   /* the pid whose thread holds it, or put it in a table (inet_reap) */
	uint64_t at_ms;	   /* delayed frames: when to release */
	/* What a layer tells the next; set on the way up. */
	uint32_t saddr, daddr; /* IPv4 source and destination */
	uint16_t sport;	       /* UDP source port */
	uint16_t frag_off;     /* reassembly: payload offset in the datagram */
	uint16_t ihl;	       /* IP header bytes (IPv6: with extensions), at data[off - ihl] */
	uint8_t bcast;	       /* the link-layer destination was broadcast */
	uint8_t sacked;	       /* TCP's send queue: the peer SACKed all of it */
	uint8_t lost;	       /* TCP's send queue: lost (RACK), not sent again yet */
	uint8_t rtx;	       /* TCP's send queue: sent more than once */
	uint32_t tx_no;	       /* TCP's send queue: its latest transmission's number */
	uint32_t seq;	       /* TCP: the sequence number of data[off] */
	uint8_t v6;	       /* IPv6: the header at data[off - ihl] has the addresses */
	/* Offloads (vnet.c). In: the host vouches for the transport checksum. */
	uint8_t csum_ok;
	uint8_t csum_offset; /* out: where the checksum lies in the transport header */
	uint8_t ifindex;     /* in: the interface it came by (netif_index) */
	uint16_t csum_start; /* out: data[] index the host sums from (0: summed here) */
	uint16_t gso_size;   /* out: the host cuts the segment into this much payload each */
	uint8_t data[];
};

struct pkb *pkb_alloc(size_t cap);
/* Charge @n bytes that are not a buffer (a TCP connection) to the budget: false when over. */
bool inet_mem_charge(uint32_t n);
void inet_mem_uncharge(uint32_t n);
/* Whether @n more bytes would be charged now (a look: nothing is taken). */
bool inet_mem_room(uint32_t n);
/*
 * A poll's POLLOUT: whether the budget has a send buffer's worth. When
 * not, TCP's tick looks again every 10 ms and, once it has, wakes every
 * socket's pollers, TCP's and UDP's (tcp.c; udp_budget_wake).
 */
bool inet_budget_room(void);
void udp_budget_wake(void);
void pkb_free(struct pkb *p);
/* This process holds @p now (a buffer taken off a list by hand). */
void pkb_own(struct pkb *p);
void pkb_free_list(struct pkb *p);
/*
 * Free the buffers a table's list or queue holds, emptying it first: they
 * are this process's (pkb_own) before it lets go, so a death midway leaves
 * them to inet_reap, never a table pointing at buffers already freed.
 */
void pkb_purge(struct pkb **head);
/* A copy of @p's data with INET_HEADROOM before it (for duplicates and fragments). */
struct pkb *pkb_clone(const struct pkb *p);
static inline uint8_t *pkb_data(struct pkb *p)
{
	return p->data + p->off;
}
/* Room for @n more bytes of header in front: the pointer, or NULL when there is none. */
uint8_t *pkb_push(struct pkb *p, uint32_t n);
/* A FIFO of packets. */
struct pkb_queue {
	struct pkb *head, *tail;
	uint32_t n, bytes;
};
void pkb_queue_put(struct pkb_queue *q, struct pkb *p);
struct pkb *pkb_queue_take(struct pkb_queue *q);
void pkb_queue_purge(struct pkb_queue *q);

/* --- the stack and its interfaces --- */

struct inet_neigh;
struct inet_reass;

/* A per-process door to an interface (netif.c). */
struct netif_queue {
	struct netif *nif;
	int fd;	      /* the TAP queue, -1 for a hook */
	bool vnet;    /* frames behind a virtio-net header (netif.offload NETIF_VNET_ON) */
	uint8_t *big; /* vnet: where the part of a frame past a slab buffer is read */
	int (*xmit)(void *arg, const void *frame, size_t len);
	void *arg;
	struct kthread *rx; /* joined by netif_queue_close */
	struct pkb *spare;  /* a buffer to read the next frame into */
	struct pkb *bigp;   /* vnet: one to read a segment of many MSS into in place */
	bool big_seen;	    /* such a segment came since the last tick */
	volatile int stop;
};

#define INET_NEIGH_BUCKETS 64
#define INET_NEIGH_MAX	   256 /* entries per interface */
#define INET_REASS_MAX	   64  /* datagrams in reassembly per interface */

/* A neighbour cache (neigh.c): ARP's or ND's of one interface, under its lock. */
struct neigh_table {
	struct inet_neigh *b[INET_NEIGH_BUCKETS];
	uint32_t n;
};

struct inet_fault_state {
	struct inet_fault_config cfg;
	bool on;
	uint64_t rng;
	struct pkb *held;	  /* a frame held back for reordering */
	struct pkb_queue delayed; /* frames held for cfg.delay_ms, in release order */
};

struct netif {
	char name[16];
	uint32_t index;
	uint8_t mac[INET_ETH_ALEN];
	uint16_t pad;
	uint32_t addr, mask, gateway; /* host order; immutable after create */
	uint32_t mtu;
	/* IPv6, immutable after create: has6 false when the MTU is below 1280 */
	bool has6, has_addr6;
	uint8_t prefix6_len;
	struct inet_addr ll6, addr6, gateway6; /* gateway6 all zero: none */
	/*
	 * Duplicate address detection (nd.c, RFC 4862 5.4): enum netif_dad of
	 * ll6 [0] and addr6 [1]; read by anyone, written under lock.
	 */
	_Atomic uint8_t dad[2];
	/*
	 * enum netif_vnet: decided by the first TAP queue opened (atomically),
	 * then every queue of the device opens alike (tap.c: the flags are
	 * the device's). offload_err: the host's refusal, if that was why.
	 */
	_Atomic uint32_t offload;
	int32_t offload_err;
	struct netif_stats stats;
	spinlock_t lock;	  /* LOCK_RANK_INET: everything below */
	struct neigh_table arp;	  /* IPv4 neighbours (arp.c) */
	struct neigh_table nd;	  /* IPv6 neighbours (nd.c) */
	uint64_t dad_ms[2];	  /* when a tentative address's DAD ends; 0: its NS not sent */
	struct inet_reass *reass; /* datagrams in reassembly, oldest first */
	uint32_t nreass;
	uint32_t reass_bytes;
	struct inet_fault_state fault;
};

#define INET_UDP_BUCKETS      64
#define INET_TCP_CONN_BUCKETS 256
#define INET_TCP_BIND_BUCKETS 64
#define INET_PMTU_NOTES	      64
#define INET_PMTU_AGE_MS      (10 * 60 * 1000) /* RFC 1191 6.3, RFC 8201 4 */
/* What a path said of its MTU (pmtu.c), under inet.lock. */
struct inet_pmtu_note {
	struct inet_addr daddr; /* IPv4 v4-mapped */
	uint32_t mtu;		/* 0: a free slot */
	uint64_t at_ms;		/* when it was made, lowered or said again */
};

struct inet {
	spinlock_t lock; /* LOCK_RANK_INET: the tables below */
	struct netif *ifs[INET_MAX_IFS];
	uint32_t nifs;
	struct udp_sock *udp[INET_UDP_BUCKETS]; /* bound sockets by port */
	struct udp_sock *udp_users;		/* every open socket (inet_reap) */
	uint16_t next_port;			/* the next ephemeral port to try */
	uint32_t icmp_tokens;			/* rate limit: a token per reply */
	uint64_t icmp_last_ms;
	struct inet_pmtu_note pmtu[INET_PMTU_NOTES];
	_Atomic uint32_t pmtu_live; /* slots in use: 0 lets the tick skip the lock */
	_Atomic uint32_t pmtu_gen;  /* bumped at every change of a note */
	_Atomic uint64_t pmtu_hint; /* a bit per hash of a noted destination (pmtu.c) */
	_Atomic uint32_t ip_id;
	_Atomic uint32_t ip6_id;   /* IPv6 fragments' ids: this plus a keyed hash of the pair */
	_Atomic uint64_t mem_used; /* bytes of buffers held (truesize) */
	uint64_t mem_max;
	struct kmem_cache *pkb_cache, *neigh_cache, *reass_cache, *udp_cache, *tcp_cache;
	_Atomic uint64_t mib[INET_MIB_COUNT];
	_Atomic uint64_t icmp_in_type[256], icmp_out_type[256]; /* ICMP (v4) messages by type */
	/* TCP (tcp.h): never nests with inet.lock */
	spinlock_t tcp_lock; /* LOCK_RANK_INET: every TCP socket and these */
	struct tcp_sock *tcp_conn[INET_TCP_CONN_BUCKETS];  /* connections by their four addresses */
	struct tcp_sock *tcp_bound[INET_TCP_BIND_BUCKETS]; /* users' bound sockets by local port */
	uint16_t tcp_next_port;				   /* the next ephemeral port to try */
	uint32_t tcp_challenge_tokens; /* RFC 5961 7: challenge ACKs left this second */
	uint64_t tcp_challenge_ms;
	_Atomic uint32_t tcp_pmtu_gen; /* the pmtu_gen TCP's tick last followed (under tcp_lock) */
	_Atomic uint64_t tcp_next_ms;  /* the earliest timer of any connection */
	_Atomic uint32_t tcp_budget_wanted; /* a poll was refused POLLOUT for the budget alone */
	struct tcp_sock *tcp_users;	    /* every socket a user holds (tcp_open, tcp_accept) */
	struct tcp_sock *tcp_busy;	    /* the socket tcp_lock's holder is changing */
	uint8_t tcp_secret[16];		    /* ISNs (RFC 6528) and SYN cookies */
	struct inet_waits
	    *waits; /* every poll set and sleeping poll call (sock_poll.h), inet.lock */
};

/*
 * Death. inet_lock and netif_lock take inet.lock and @nif's lock, and
 * repair what a dead holder left (stack.c, netif.c): under inet.lock the
 * UDP sockets no table holds are given back; under a netif.lock the
 * interface's neighbours, fragments and held frames are dropped (they are
 * caches and copies a peer sends again) and their counts zeroed.
 */
void inet_lock(void);
void netif_lock(struct netif *nif);
unsigned udp_repair_locked(void);

/* inet_reap's dead processes, which tcp_reap and udp_reap take too. */
#define INET_REAP_PIDS 64
struct inet_pids {
	uint32_t pid[INET_REAP_PIDS];
	unsigned n;
};
static inline bool inet_pids_has(const struct inet_pids *s, uint32_t pid)
{
	for (unsigned i = 0; i < s->n; i++)
		if (s->pid[i] == pid)
			return true;
	return false;
}
/* The buffers of @list that the dead (a struct inet_pids) owned are the stack's now. */
void pkb_adopt(struct pkb *list, const void *dead);
unsigned udp_reap(const struct inet_pids *dead);
/* @fn on the pid of each UDP socket's opener. */
void udp_owners(void (*fn)(void *arg, uint32_t pid), void *arg);
/* pollset.c: the same for poll sets and sleeping poll calls; the dead's freed, after their sockets.
 */
void inet_waits_owners(void (*fn)(void *arg, uint32_t pid), void *arg);
unsigned inet_waits_reap(const struct inet_pids *dead);
/* inet_reap's walks: @fn on each list of buffers @nif's tables hold (lock held). */
typedef void (*pkb_list_fn)(struct pkb *head, const void *arg);
void neigh_lists_locked(struct neigh_table *t, pkb_list_fn fn, const void *arg);
void inet_reass_lists_locked(struct netif *nif, pkb_list_fn fn, const void *arg);
void inet_fault_lists_locked(struct netif *nif, pkb_list_fn fn, const void *arg);
void neigh_flush_locked(struct neigh_table *t, struct pkb_queue *drop);
void inet_reass_flush_locked(struct netif *nif, struct pkb_queue *drop);
void inet_fault_flush_locked(struct netif *nif, struct pkb_queue *drop);

/* This machine's stack (NULL before inet_init); this process's view. */
extern struct inet *inet_stack;
static inline void inet_count(enum inet_mib m)
{
	atomic_fetch_add_explicit(&inet_stack->mib[m], 1, memory_order_relaxed);
}
static inline void netif_count(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/*
 * Whether a socket bound to @bound takes what is sent to our address @a: 2
 * when it is @a, 1 as a wildcard (:: every address, ::ffff:0.0.0.0 every
 * IPv4 one), 0 not at all.
 */
static inline int inet_addr_covers(const struct inet_addr *bound, const struct inet_addr *a)
{
	static const struct inet_addr any6;

	if (!memcmp(bound, a, sizeof(*a)))
		return 2;
	return !memcmp(bound, &any6, sizeof(*a)) ||
	       (inet_addr_is_v4(bound) && inet_addr_v4(bound) == 0 && inet_addr_is_v4(a));
}

/* The interface whose subnet holds @addr, else the first with a gateway; NULL: none. */
struct netif *netif_route(uint32_t daddr, uint32_t *nexthop);
/* The interface that owns @addr as its address (NULL: none of ours). */
struct netif *netif_by_addr(uint32_t addr);
/* Whether @addr is @nif's address, its subnet's broadcast or the limited broadcast. */
bool netif_is_local(const struct netif *nif, uint32_t addr, bool *bcast);
/* Whether @a is within @nif's IPv6 prefix (on-link). */
bool netif_on_link6(const struct netif *nif, const struct inet_addr *a);
/* Put a whole frame (Ethernet header at pkb_data) on the wire; consumes @p. */
void netif_xmit(struct netif *nif, struct pkb *p);
/* What an interface's queues carry (netif.offload). */
enum netif_vnet {
	NETIF_VNET_UNDECIDED, /* no TAP queue yet */
	NETIF_VNET_ON,	      /* virtio-net headers, checksum offload and TSO */
	NETIF_VNET_OFF,	      /* plain frames */
};
/* Whether a datagram to @daddr leaves by an interface with offloads (TSO, checksums). */
bool netif_offloads_to(const struct inet_addr *daddr);

/* --- wire formats, in network byte order --- */

#define ETH_HLEN	 14
#define ETH_P_IPV4	 0x0800
#define ETH_P_ARP	 0x0806
#define ETH_P_IPV6	 0x86dd
#define ETH_ZLEN	 60 /* the shortest frame, padded */
#define IPV4_HLEN	 20
#define IPV4_MAX_LEN	 65535
#define IPV4_DF		 0x4000
#define IPV4_MF		 0x2000
#define IPV4_OFFMASK	 0x1fff
#define IPPROTO_ICMP_	 1
#define IPPROTO_TCP_	 6
#define IPPROTO_UDP_	 17
#define UDP_HLEN	 8
#define ICMP_HLEN	 8
#define INET_TTL	 64
#define INET_BCAST	 0xffffffffu
#define IPV6_HLEN	 40
#define IPV6_MAX_PAYLOAD 65535 /* no jumbograms (RFC 2675) */
#define IPV6_FRAG_HLEN	 8
#define IPPROTO_ICMPV6_	 58
#define INET_HOPS	 64

static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}
static inline uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/*
 * The virtio-net header (virtio 1.x 5.1.6, the legacy 10 bytes without
 * num_buffers) in front of each frame of a TAP queue with offloads; its
 * 16-bit fields in the host's byte order, as a legacy device's are.
 */
#define VNET_HLEN	  10
#define VNET_F_NEEDS_CSUM 1 /* sum from csum_start to the end, store at csum_start + offset */
#define VNET_F_DATA_VALID 2 /* the host checked the checksum */
#define VNET_GSO_NONE	  0
#define VNET_GSO_TCPV4	  1
#define VNET_GSO_UDP	  3
#define VNET_GSO_TCPV6	  4
#define VNET_GSO_UDP_L4	  5
#define VNET_GSO_ECN	  0x80
#define TCP_CSUM_OFFSET	  16
struct vnet_hdr {
	uint8_t flags, gso_type;
	uint16_t hdr_len, gso_size, csum_start, csum_offset;
};

/* --- virtio-net headers (vnet.c) --- */

/*
 * Check header @h against the frame at pkb_data(@p) (every field is the
 * sender's word): 0, and p->csum_ok set when the host left the TCP
 * checksum for us to finish (a sender on the host: CHECKSUM_PARTIAL) --
 * other partial checksums are finished here; -EPROTO for a header that
 * lies about its frame; -EPROTONOSUPPORT for what we do not take (a GSO
 * kind other than TCP over IPv4). *@gso: a segment of many MSS.
 */
int netif_vnet_rx(struct pkb *p, const struct vnet_hdr *h, bool *gso);
/* The header for frame @p (Ethernet at pkb_data) as we send it. */
void netif_vnet_tx(const struct pkb *p, struct vnet_hdr *h);
void netif_vnet_get(struct vnet_hdr *h, const uint8_t b[VNET_HLEN]);
void netif_vnet_put(uint8_t b[VNET_HLEN], const struct vnet_hdr *h);

/* --- checksums (csum.c) --- */

/* Add @len bytes (big-endian words, an odd last byte padded) to @sum. */
uint64_t inet_csum_add(uint64_t sum, const void *p, size_t len);
/* Fold and complement: the value to store, in host order. */
uint16_t inet_csum_fold(uint64_t sum);
/* The IPv4 pseudo-header's sum for a transport checksum. */
uint64_t inet_csum_pseudo(uint32_t saddr, uint32_t daddr, uint8_t proto, uint32_t len);
/* The IPv6 pseudo-header's (RFC 8200 8.1). */
uint64_t inet_csum_pseudo6(const struct inet_addr *saddr, const struct inet_addr *daddr,
			   uint8_t proto, uint32_t len);

/* --- the protocols --- */

/* ether.c: one frame in (consumes @p); an IPv4 packet out to @dst's MAC. */
void ether_input(struct netif *nif, struct pkb *p);
/* Put an Ethernet header in front of @p and send it (consumes @p). */
void ether_output(struct netif *nif, struct pkb *p, const uint8_t dst[INET_ETH_ALEN],
		  uint16_t type);
extern const uint8_t ether_bcast[INET_ETH_ALEN];
/* The MAC of IPv6 multicast @group (RFC 2464 7). */
void ether_multicast6(const struct inet_addr *group, uint8_t mac[INET_ETH_ALEN]);

/*
 * neigh.c: the neighbour cache of both families, the protocols' choices in
 * a struct neigh_ops (arp.c's, nd.c's). States (RFC 4861 7.3.2; ARP's use
 * only the first two).
 */
enum neigh_state { NEIGH_INCOMPLETE, NEIGH_REACHABLE, NEIGH_STALE, NEIGH_DELAY, NEIGH_PROBE };
struct neigh_ops {
	uint16_t ethertype;    /* of the packets it holds and sends */
	uint32_t retrans_ms;   /* between solicitations */
	uint8_t tries;	       /* solicitations before an entry is given up */
	uint32_t reach_ms;     /* REACHABLE after an answer */
	uint32_t stale_ms;     /* then STALE this long; 0: forgotten at once (ARP) */
	uint32_t delay_ms;     /* DELAY before PROBE */
	enum inet_mib evicted; /* an entry pushed out of a full table */
	enum inet_mib failed;  /* an entry given up unanswered */
	/* Ask for @ip: its group or broadcast, or (@unicast, PROBE) the neighbour itself. */
	void (*solicit)(struct netif *nif, const struct inet_addr *ip, bool unicast);
};
/* With the interface's lock: the entry for @a, or NULL. */
struct inet_neigh *neigh_find_locked(struct neigh_table *t, const struct inet_addr *a);
/* With the lock: a new entry, pushing out the least recently used of a full table into @drop. */
struct inet_neigh *neigh_add_locked(struct neigh_table *t, const struct neigh_ops *ops,
				    const struct inet_addr *a, uint64_t now,
				    struct pkb_queue *drop);
/* With the lock: @n learns @mac (NULL: keeps its own) in @state; its waiting packets go to @go. */
void neigh_learn_locked(struct inet_neigh *n, const struct neigh_ops *ops, const uint8_t *mac,
			enum neigh_state state, uint64_t now, struct pkb_queue *go);
/* With the lock: a REACHABLE @n is STALE (RFC 4861 7.2.5: another address, not overriding). */
void neigh_doubt_locked(struct inet_neigh *n, const struct neigh_ops *ops, uint64_t now);
bool neigh_incomplete(const struct inet_neigh *n);
bool neigh_mac_differs(const struct inet_neigh *n, const uint8_t *mac);
/* The packets of @go out to @mac. */
void neigh_send(struct netif *nif, const struct neigh_ops *ops, struct pkb_queue *go,
		const uint8_t *mac);
/* Send @p to @nexthop, asking for it first if need be (consumes @p). */
void neigh_output(struct netif *nif, struct neigh_table *t, const struct neigh_ops *ops,
		  struct pkb *p, const struct inet_addr *nexthop);
/* The table's timers: solicitations again, entries aged, given up. */
void neigh_tick(struct netif *nif, struct neigh_table *t, const struct neigh_ops *ops,
		uint64_t now);
int neigh_lookup(struct netif *nif, struct neigh_table *t, const struct inet_addr *a,
		 uint8_t mac[INET_ETH_ALEN]);
uint32_t neigh_count(struct netif *nif, const struct neigh_table *t);
void neigh_flush(struct netif *nif, struct neigh_table *t);

/* arp.c */
void arp_input(struct netif *nif, struct pkb *p);
/* Send IPv4 packet @p to @nexthop on @nif, resolving its MAC first if need be. */
void arp_output(struct netif *nif, struct pkb *p, uint32_t nexthop);
void arp_tick(struct netif *nif, uint64_t now);
int arp_announce(struct netif *nif);
/* Tests: the cached MAC of @ip (0) or -ENOENT / -EINPROGRESS (being resolved). */
int arp_lookup(struct netif *nif, uint32_t ip, uint8_t mac[INET_ETH_ALEN]);
uint32_t arp_count(struct netif *nif);
void arp_flush(struct netif *nif);

/* ipv4.c */
void ipv4_input(struct netif *nif, struct pkb *p);
/* Deliver a whole datagram whose header is at data[off - ihl] (reass.c, ipv4.c). */
void ipv4_deliver(struct netif *nif, struct pkb *p);
/*
 * Send @p (the transport header and payload at pkb_data, INET_HEADROOM in
 * front) from @saddr (0: the interface's) to @daddr; consumes @p.
 * 0, -ENETUNREACH, -EMSGSIZE, -ENOBUFS.
 */
int ipv4_output(struct pkb *p, uint32_t saddr, uint32_t daddr, uint8_t proto, bool df);

/*
 * pmtu.c: the path MTU notes of both families. inet_pmtu_check: a hop said
 * @mtu about a datagram of @sent_len bytes (its IP header on) we sent to
 * @daddr: the MTU to believe (raised to the family's floor), or 0 for
 * none; inet_pmtu_learn notes it (a lower note stands).
 * inet_pmtu_noted: the live note's MTU, 0 for none; inet_pmtu: what a
 * datagram to @daddr on @nif may be. inet_pmtu_tick forgets notes past
 * INET_PMTU_AGE_MS. TCP, which may not take inet.lock under its own, reads
 * a copy: inet_pmtu_snapshot (its pmtu_gen) and inet_pmtu_find.
 */
uint32_t inet_pmtu_check(const struct inet_addr *daddr, uint32_t mtu, uint32_t sent_len);
void inet_pmtu_learn(const struct inet_addr *daddr, uint32_t mtu);
uint32_t inet_pmtu_noted(const struct inet_addr *daddr);
uint32_t inet_pmtu(const struct netif *nif, const struct inet_addr *daddr);
void inet_pmtu_tick(uint64_t now);
uint32_t inet_pmtu_snapshot(struct inet_pmtu_note t[INET_PMTU_NOTES]);
uint32_t inet_pmtu_find(struct inet_pmtu_note t[INET_PMTU_NOTES], const struct inet_addr *daddr,
			uint64_t now);
/* Tests: the slots in use. */
unsigned inet_pmtu_count(void);

/*
 * reass.c (both families): take fragment @p -- its payload at pkb_data,
 * p->frag_off its offset, its IP header (IPv6: up to and with the fragment
 * header) at data[off - ihl] -- of the datagram @k names; consumes @p. The
 * whole datagram goes to ipv4_deliver or ipv6_reassembled.
 */
struct inet_frag_key {
	struct inet_addr saddr, daddr; /* IPv4 v4-mapped */
	uint32_t id;
	uint8_t proto; /* IPv6: the fragment header's next header */
	bool more;     /* more fragments follow (IPv4 MF, IPv6 M) */
	bool v6;
};
void inet_reass_input(struct netif *nif, struct pkb *p, const struct inet_frag_key *k);
void inet_reass_tick(struct netif *nif, uint64_t now);
void inet_reass_flush(struct netif *nif);
#define INET_REASS_TIMEOUT_MS  30000
#define INET_REASS6_TIMEOUT_MS 60000	  /* RFC 8200 4.5 */
#define INET_REASS_FRAGS       64	  /* fragments of one datagram at most */
#define INET_REASS_BYTES       (1u << 20) /* buffers held per interface at most */
#define INET_REASS_OBJ	       128	  /* the reassembly cache's object size */

/* icmp.c */
void icmp_input(struct netif *nif, struct pkb *p);
/* Say @type/@code about datagram @p (its header at data[off - ihl]); @p stays the caller's. */
void icmp_error(struct netif *nif, const struct pkb *p, uint8_t type, uint8_t code);
/* The token bucket every ICMP and ICMPv6 message out takes one from: false when empty. */
bool icmp_rate_ok(void);
#define ICMP_ECHOREPLY	    0
#define ICMP_UNREACH	    3
#define ICMP_ECHO	    8
#define ICMP_TIMXCEED	    11
#define ICMP_UNREACH_PROTO  2
#define ICMP_UNREACH_PORT   3
#define ICMP_UNREACH_FRAG   4
#define ICMP_TIMXCEED_REASS 1
#define INET_ICMP_RATE	    100 /* messages per second out */
#define INET_ICMP_BURST	    50

/* ipv6.c */
void ipv6_input(struct netif *nif, struct pkb *p);
/*
 * A datagram reassembled (reass.c; consumes @p): the IPv6 header at
 * pkb_data, the walk over its headers goes on at @unfrag (past the
 * unfragmentable part) with the next header named by the byte at @nxt_at.
 */
void ipv6_reassembled(struct netif *nif, struct pkb *p, unsigned unfrag, unsigned nxt_at);
/*
 * Send @p (the transport header and payload at pkb_data, INET_HEADROOM in
 * front) on @nif from @saddr to @daddr with hop limit @hops (0:
 * INET_HOPS); consumes @p. The next hop is @daddr when on-link (link-local,
 * multicast or in the prefix), else the gateway. A datagram past the
 * path's MTU (inet_pmtu) that is not a TSO segment leaves in fragments
 * (RFC 8200 4.5); one of more than 65535 bytes of payload is refused.
 * 0, -ENETUNREACH, -EMSGSIZE, -ENOBUFS, -EADDRNOTAVAIL.
 */
int ipv6_output(struct netif *nif, struct pkb *p, const struct inet_addr *saddr,
		const struct inet_addr *daddr, uint8_t proto, uint8_t hops);
/*
 * The interface to @daddr: the one whose prefix holds it, else the first
 * with a gateway; a link-local or multicast @daddr names no interface, and
 * goes out of the first with IPv6 (ipv6_route_scope picks its zone). NULL:
 * none.
 */
struct netif *ipv6_route(const struct inet_addr *daddr);
/*
 * The interface to @daddr in zone @scope (netif_index; 0: none given), for
 * a sender at @saddr (NULL: any). A global @daddr goes as ipv6_route says;
 * a link-local or multicast one by interface @scope, else by the interface
 * whose link-local address @saddr is, else by the machine's only IPv6
 * interface. NULL with *@err: -ENODEV (no interface @scope with IPv6),
 * -EINVAL (@scope and @saddr disagree, or several interfaces and no zone),
 * -ENETUNREACH (no route).
 */
struct netif *ipv6_route_scope(const struct inet_addr *daddr, uint32_t scope,
			       const struct inet_addr *saddr, int *err);
/* The zone of our address @a: the interface whose link-local address it is; 0: not one. */
uint32_t ipv6_scope_of(const struct inet_addr *a);
/*
 * The source address @nif sends to @daddr from: the link-local one within
 * the link; only an address DAD passed; :: when there is none (and
 * ipv6_output refuses to send from it but a DAD NS).
 */
void ipv6_source(const struct netif *nif, const struct inet_addr *daddr, struct inet_addr *out);
/* An address's DAD state (netif.dad). */
enum netif_dad {
	NETIF_DAD_TENTATIVE, /* DAD not done: it neither answers nor sources traffic */
	NETIF_DAD_PREFERRED, /* DAD passed: in use */
	NETIF_DAD_FAILED,    /* another node has it: never used */
};
/* Which of @nif's addresses @a is: 0 the link-local, 1 the global one, -1 neither. */
int ipv6_addr_slot(const struct netif *nif, const struct inet_addr *a);
/* Whether @a is one of @nif's unicast addresses, in whatever DAD state (binding). */
bool ipv6_is_ours(const struct netif *nif, const struct inet_addr *a);
/* Whether @a is one of @nif's addresses and DAD passed: it may receive and send. */
bool ipv6_is_usable(const struct netif *nif, const struct inet_addr *a);
/* The IPv6 header of a datagram delivered to a transport (p->v6). */
static inline const uint8_t *ipv6_hdr(const struct pkb *p)
{
	return p->data + p->off - p->ihl;
}
static inline bool ipv6_is_multicast(const struct inet_addr *a)
{
	return a->a[0] == 0xff;
}
static inline bool ipv6_is_linklocal(const struct inet_addr *a)
{
	return a->a[0] == 0xfe && (a->a[1] & 0xc0) == 0x80;
}
static inline bool ipv6_is_unspecified(const struct inet_addr *a)
{
	static const struct inet_addr zero;

	return !memcmp(a, &zero, sizeof(zero));
}
/* The solicited-node multicast address of @a (RFC 4291 2.7.1). */
void ipv6_solicited(const struct inet_addr *a, struct inet_addr *out);
#define IPV6_EXT_MAX 8 /* extension headers walked at most before the payload */

/* icmp6.c */
void icmp6_input(struct netif *nif, struct pkb *p);
/*
 * Say @type/@code (@param: the pointer of a parameter problem, or the MTU
 * of packet too big) about datagram @p (its header at data[off - ihl]);
 * @p stays the caller's.
 */
void icmp6_error(struct netif *nif, const struct pkb *p, uint8_t type, uint8_t code,
		 uint32_t param);
/* The ICMPv6 checksum of @m put in, and @m sent: the ICMP_OUT count. */
int icmp6_send(struct netif *nif, struct pkb *m, const struct inet_addr *saddr,
	       const struct inet_addr *daddr, uint8_t hops);
#define ICMP6_DST_UNREACH    1
#define ICMP6_PKT_TOO_BIG    2
#define ICMP6_TIME_EXCEEDED  3
#define ICMP6_PARAM_PROB     4
#define ICMP6_ECHO_REQUEST   128
#define ICMP6_ECHO_REPLY     129
#define ICMP6_NS	     135
#define ICMP6_NA	     136
#define ICMP6_UNREACH_PORT   4
#define ICMP6_PARAM_HEADER   0 /* erroneous header field */
#define ICMP6_PARAM_NEXTHDR  1 /* unrecognised next header */
#define ICMP6_PARAM_OPTION   2 /* unrecognised option */
#define ICMP6_TIMXCEED_REASS 1 /* fragment reassembly time exceeded */

/* nd.c: RFC 4861 neighbour discovery (NS and NA) and the v6 neighbour cache. */
void nd_input(struct netif *nif, struct pkb *p);
/* Send IPv6 packet @p to @nexthop on @nif, resolving it first if need be (consumes @p). */
void nd_output(struct netif *nif, struct pkb *p, const struct inet_addr *nexthop);
void nd_tick(struct netif *nif, uint64_t now);
/*
 * DAD's NS for each tentative address of @nif whose DAD has not begun, and
 * an unsolicited NA (to all nodes) for each one DAD passed.
 */
int nd_announce(struct netif *nif);
/* Tests: the cached MAC of @a (0) or -ENOENT / -EINPROGRESS (being resolved). */
int nd_lookup(struct netif *nif, const struct inet_addr *a, uint8_t mac[INET_ETH_ALEN]);
uint32_t nd_count(struct netif *nif);
void nd_flush(struct netif *nif);

/* udp.c */
void udp_input(struct netif *nif, struct pkb *p);

/* tcp.c: a segment in (consumes @p); the timers of every connection. */
void tcp_input(struct netif *nif, struct pkb *p);
void tcp_tick(uint64_t now);
uint64_t tcp_next_timer(void);
/*
 * ICMP about a segment we sent (the quoted IP header and 8 bytes at @q);
 * @mtu: frag-needed's. For frag-needed, whether the quote is of a segment
 * a connection has in flight (only then is the path's word noted).
 */
bool tcp_icmp_error(uint8_t type, uint8_t code, const uint8_t *q, uint32_t qlen, uint32_t mtu);
/*
 * ICMPv6 packet too big about a segment we sent (the quoted IPv6 header
 * and 8 bytes at @q): the same.
 */
bool tcp_icmp6_too_big(const uint8_t *q, uint32_t qlen, uint32_t mtu);
/*
 * Port unreachable for a datagram @laddr:@lport sent to @raddr:@rport: the
 * socket connected to that peer has -ECONNREFUSED for its next receive or
 * send, as a BSD connected socket (udp.c). Unconnected sockets never hear
 * of it (an off-path sender would have to guess the connection's ports).
 */
void udp_icmp_unreach(const struct inet_addr *laddr, uint16_t lport, const struct inet_addr *raddr,
		      uint16_t rport);

/* fault.c: the frames to go on with now, in order (consumes @p). */
void inet_fault_input(struct netif *nif, struct pkb *p, struct pkb_queue *out);
void inet_fault_tick(struct netif *nif, uint64_t now, struct pkb_queue *out);
void inet_fault_flush(struct netif *nif);

#endif
