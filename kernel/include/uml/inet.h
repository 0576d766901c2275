/*
 * kernel/net/inet: the machine's own TCP/IP stack (first floor: Ethernet,
 * ARP, IPv4 with fragments, ICMP, UDP) on TAP queues.
 *
 * The stack lives in the arena: interfaces (struct netif: addresses,
 * neighbours, fragments in reassembly, counters), the UDP socket table and
 * every packet buffer, so any CPU of any process of the machine may send,
 * and a datagram read by one process's queue wakes a kernel thread of
 * another. What belongs to one process -- the TAP queue's fd, its receive
 * thread, a test's capture hook, the clock hook -- is that process's alone
 * (struct netif_queue, in the caller's memory).
 *
 * Addresses and ports are in host byte order in every call. Calls return 0
 * or a negative errno unless said otherwise.
 */
#ifndef UML_INET_H
#define UML_INET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sched.h"

#define INET_MAX_IFS	 4
#define INET_ETH_ALEN	 6
#define INET_MTU_MIN	 576
#define INET_MTU6_MIN	 1280 /* RFC 8200 5: every IPv6 link carries this much */
#define INET_MTU_MAX	 1500 /* frames of one slab object; jumbo frames later */
#define INET_MEM_DEFAULT (4u << 20)

/* Counters of the whole stack, in the arena; names in inet_mib_names. */
enum inet_mib {
	INET_MIB_ETH_IN_DROPS,	    /* not for us, or a type we don't speak */
	INET_MIB_ETH_IN_ERRORS,	    /* shorter than a header, or a bad source */
	INET_MIB_ARP_IN,	    /* ARP packets taken */
	INET_MIB_ARP_IN_ERRORS,	    /* malformed or of another hardware/protocol */
	INET_MIB_ARP_CONFLICTS,	    /* someone else claims our address */
	INET_MIB_ARP_OUT_REQUESTS,  /* requests sent (probes and gratuitous) */
	INET_MIB_ARP_OUT_REPLIES,   /* replies sent */
	INET_MIB_ARP_FAILED,	    /* resolutions given up: their packets dropped */
	INET_MIB_ARP_PENDING_DROPS, /* packets dropped from a full pending queue */
	INET_MIB_ARP_EVICTIONS,	    /* entries pushed out of a full cache */
	INET_MIB_IP_IN,		    /* datagrams received */
	INET_MIB_IP_IN_HDR_ERRORS,  /* version, length, checksum, source */
	INET_MIB_IP_IN_ADDR_ERRORS, /* not addressed to us (we don't forward) */
	INET_MIB_IP_IN_UNKNOWN_PROTO,
	INET_MIB_IP_IN_DELIVERS,
	INET_MIB_IP_OUT_REQUESTS,
	INET_MIB_IP_OUT_NO_ROUTES,
	INET_MIB_IP_OUT_DISCARDS, /* no memory, or too big with DF */
	INET_MIB_IP_REASM_REQDS,  /* fragments received */
	INET_MIB_IP_REASM_OKS,
	INET_MIB_IP_REASM_FAILS, /* datagrams given up (overlap, limits, timeout) */
	INET_MIB_IP_REASM_OVERLAPS,
	INET_MIB_IP_REASM_DUPLICATES,
	INET_MIB_IP_REASM_TIMEOUTS,
	INET_MIB_IP_FRAG_OKS, /* datagrams sent in fragments */
	INET_MIB_IP_FRAG_CREATES,
	INET_MIB_ICMP_IN,
	INET_MIB_ICMP_IN_ERRORS, /* short or bad checksum */
	INET_MIB_ICMP_IN_ECHOS,
	INET_MIB_ICMP_IN_FRAG_NEEDED,
	INET_MIB_ICMP_OUT,
	INET_MIB_ICMP_OUT_RATELIMITED,
	INET_MIB_UDP_IN,
	INET_MIB_UDP_IN_ERRORS, /* short, bad length or checksum */
	INET_MIB_UDP_NO_PORTS,
	INET_MIB_UDP_RCVBUF_ERRORS,
	INET_MIB_UDP_OUT,
	/* TCP, as RFC 4022's tcp group and /proc/net/snmp's Tcp: line */
	INET_MIB_TCP_ACTIVE_OPENS,  /* CLOSED -> SYN-SENT */
	INET_MIB_TCP_PASSIVE_OPENS, /* LISTEN -> SYN-RECEIVED (or a cookie's connection) */
	INET_MIB_TCP_ATTEMPT_FAILS, /* SYN-SENT/SYN-RECEIVED -> CLOSED, or back to LISTEN */
	INET_MIB_TCP_ESTAB_RESETS,  /* ESTABLISHED/CLOSE-WAIT -> CLOSED by a reset */
	INET_MIB_TCP_IN_SEGS,
	INET_MIB_TCP_OUT_SEGS,
	INET_MIB_TCP_RETRANS_SEGS,
	INET_MIB_TCP_IN_ERRS, /* short, bad offset, bad checksum, bad options */
	INET_MIB_TCP_OUT_RSTS,
	INET_MIB_TCP_COOKIES_SENT,
	INET_MIB_TCP_COOKIES_OK,
	INET_MIB_TCP_COOKIES_BAD,
	INET_MIB_TCP_CHALLENGE_ACKS, /* RFC 5961 */
	INET_MIB_TCP_PAWS_DROPS,     /* RFC 7323 5 */
	INET_MIB_TCP_OOO_DROPS,	     /* out of order past its bound */
	INET_MIB_TCP_RCVQ_DROPS,     /* past the receive buffer */
	INET_MIB_TCP_LISTEN_DROPS,   /* SYN or cookie ACK with the accept queue full */
	INET_MIB_TCP_MEM_FAILS,	     /* no connection block or buffer */
	INET_MIB_TCP_FAST_RETRANS,
	INET_MIB_TCP_TIMEOUTS,	   /* retransmission timer expiries */
	INET_MIB_TCP_TW_EVICTIONS, /* TIME-WAIT ended early: a new connection needed its memory */
	INET_MIB_MEM_FAILS,	   /* a buffer refused: the stack's budget or the machine */
	INET_MIB_FAULT_DROPS,	   /* the fault injector's doings (fault.c) */
	INET_MIB_FAULT_DUPS,
	INET_MIB_FAULT_REORDERS,
	INET_MIB_FAULT_CORRUPTS,
	INET_MIB_FAULT_DELAYS,
	/* death (inet_reap, and the repairs of a lock taken from a dead holder) */
	INET_MIB_LOCK_TAKEOVERS,
	INET_MIB_REAPED_SOCKETS, /* sockets of dead processes closed */
	INET_MIB_REAPED_BUFFERS, /* buffers dead processes held, given back */
	/* the sender under loss (tcp_input.c, tcp_output.c) */
	INET_MIB_TCP_LOSS_PROBES,	    /* tail loss probes sent (RFC 8985 7) */
	INET_MIB_TCP_SPURIOUS_RTOS,	    /* timeouts found spurious (RFC 3522), undone */
	INET_MIB_TCP_SPURIOUS_FAST_RETRANS, /* fast retransmits D-SACKed whole (RFC 3708), undone */
	INET_MIB_TCP_PMTU_DROPS, /* a connection's MSS lowered by frag-needed (RFC 1191) */
	/* IPv6 (ipv6.c, icmp6.c, nd.c) */
	INET_MIB_IP6_IN,
	INET_MIB_IP6_IN_HDR_ERRORS,  /* version, length, source, extension headers */
	INET_MIB_IP6_IN_ADDR_ERRORS, /* not addressed to us */
	INET_MIB_IP6_IN_UNKNOWN_PROTO,
	INET_MIB_IP6_IN_DELIVERS,
	INET_MIB_IP6_REASM_REQDS, /* fragments received (reass.c, as IPv4's) */
	INET_MIB_IP6_REASM_OKS,
	INET_MIB_IP6_REASM_FAILS, /* datagrams given up (overlap, limits, timeout) */
	INET_MIB_IP6_REASM_OVERLAPS,
	INET_MIB_IP6_REASM_DUPLICATES,
	INET_MIB_IP6_REASM_TIMEOUTS,
	INET_MIB_IP6_OUT_REQUESTS,
	INET_MIB_IP6_OUT_NO_ROUTES,
	INET_MIB_IP6_OUT_DISCARDS, /* no memory, past 64 KiB, a source DAD has not passed */
	INET_MIB_IP6_FRAG_OKS,	   /* datagrams sent in fragments */
	INET_MIB_IP6_FRAG_CREATES, /* the fragments */
	INET_MIB_IP6_FRAG_FAILS,   /* datagrams that needed fragments and were not sent */
	INET_MIB_ICMP6_IN,
	INET_MIB_ICMP6_IN_ERRORS, /* short or bad checksum */
	INET_MIB_ICMP6_IN_ECHOS,
	INET_MIB_ICMP6_IN_PKT_TOO_BIG,
	INET_MIB_ICMP6_OUT,
	INET_MIB_ND_IN_ERRORS, /* NS/NA failing RFC 4861 7.1's checks */
	INET_MIB_ND_IN_SOLICITS,
	INET_MIB_ND_IN_ADVERTS,
	INET_MIB_ND_OUT_SOLICITS,
	INET_MIB_ND_OUT_ADVERTS,
	INET_MIB_ND_CONFLICTS, /* someone else advertises our address */
	INET_MIB_ND_DAD_FAILS, /* addresses found duplicate by DAD: never used */
	INET_MIB_ND_FAILED,    /* resolutions given up: their packets dropped */
	INET_MIB_ND_EVICTIONS, /* entries pushed out of a full cache */
	/* Checksum failures apart (each is also in its protocol's errors, as Linux counts) */
	INET_MIB_ICMP_IN_CSUM_ERRORS,
	INET_MIB_UDP_IN_CSUM_ERRORS,
	INET_MIB_TCP_IN_CSUM_ERRORS,
	INET_MIB_ICMP6_IN_CSUM_ERRORS,
	/* TCP's events as Linux's TcpExt counts them (status.c's inet_netstat has their names) */
	INET_MIB_TCP_TW_ENDED,		  /* TIME-WAITs over by their timer (TW) */
	INET_MIB_TCP_DELAYED_ACKS,	  /* ACKs sent by the delayed-ACK timer */
	INET_MIB_TCP_SACK_RECOVERY,	  /* fast recoveries begun with SACK */
	INET_MIB_TCP_RENO_RECOVERY,	  /* and without */
	INET_MIB_TCP_SACK_REORDER,	  /* a never resent segment delivered below one after it */
	INET_MIB_TCP_LOST_RETRANSMIT,	  /* retransmissions RACK found lost again */
	INET_MIB_TCP_LOSS_PROBE_RECOVERY, /* a loss repaired by a tail loss probe's copy */
	INET_MIB_TCP_DSACK_RECV,	  /* D-SACKs received (RFC 2883) */
	INET_MIB_TCP_OFO_QUEUE,		  /* segments put in the out-of-order queue */
	INET_MIB_TCP_ABORT_ON_DATA,	  /* reset: data after close */
	INET_MIB_TCP_ABORT_ON_CLOSE,	  /* reset: closed with data unread */
	INET_MIB_TCP_ABORT_ON_TIMEOUT,	  /* ended by a timer's retries (RTO, keepalive, persist) */
	INET_MIB_TCP_RCV_COALESCE,	  /* segments copied into the receive queue's last buffer */
	INET_MIB_COUNT
};
extern const char *const inet_mib_names[INET_MIB_COUNT];

/* An interface's counters, in the arena; each one atomic. */
struct netif_stats {
	_Atomic uint64_t rx_packets, rx_bytes, rx_drops, rx_errors;
	_Atomic uint64_t tx_packets, tx_bytes, tx_drops, tx_errors;
	/* with offloads: TCP segments of many MSS the host gave us, and we gave it */
	_Atomic uint64_t rx_gso, tx_gso;
	_Atomic uint64_t rx_csum_partial; /* frames whose checksum the host vouched for */
};

/*
 * Offloads (netif_config.offload): with AUTO the TAP queues ask the host
 * for virtio-net headers with checksum offload and TSO (kernel/host/tap.c)
 * and fall back to plain frames where it refuses; OFF keeps plain frames.
 * What an interface got is netif_offload's.
 */
enum netif_offload {
	NETIF_OFFLOAD_AUTO,
	NETIF_OFFLOAD_OFF,
};

/*
 * An address of either family, 16 bytes in network order: IPv6, or IPv4
 * as the v4-mapped ::ffff:a.b.c.d of RFC 4291 2.5.5.2, so that one
 * four-tuple, one lookup and one table serve both.
 */
struct inet_addr {
	uint8_t a[16];
};

static inline struct inet_addr inet_addr_from_v4(uint32_t v4)
{
	struct inet_addr x = {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, (uint8_t)(v4 >> 24),
			       (uint8_t)(v4 >> 16), (uint8_t)(v4 >> 8), (uint8_t)v4}};

	return x;
}

static inline bool inet_addr_is_v4(const struct inet_addr *x)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	for (int i = 0; i < 12; i++)
		if (x->a[i] != mapped[i])
			return false;
	return true;
}

/* The IPv4 address of a v4-mapped @x (host order). */
static inline uint32_t inet_addr_v4(const struct inet_addr *x)
{
	return (uint32_t)x->a[12] << 24 | (uint32_t)x->a[13] << 16 | (uint32_t)x->a[14] << 8 |
	       x->a[15];
}

/*
 * How an interface is set up (netif_create). Every interface has an IPv6
 * link-local address made from its MAC; a global one is optional.
 */
struct netif_config {
	char name[16];		    /* the host's TAP device, or any name without one */
	uint8_t mac[INET_ETH_ALEN]; /* all zero: a random locally administered one */
	uint32_t addr;		    /* the machine's IPv4 address */
	unsigned prefix_len;	    /* 1..30 */
	uint32_t gateway;	    /* 0: none; on-link when set */
	unsigned mtu;		    /* 0: INET_MTU_MAX */
	struct inet_addr addr6;	    /* all zero: none; else a global unicast address */
	unsigned prefix6_len;	    /* with addr6: 1..128 */
	struct inet_addr gateway6;  /* all zero: none; link-local or within addr6's prefix */
	unsigned offload;	    /* enum netif_offload */
};

/*
 * The fault injector on an interface's frame input (fault.c): each frame
 * read is dropped, duplicated, held back behind the next one (reorder),
 * has one byte flipped (corrupt) or is held for delay_ms (delay), each
 * with its chance in parts per 10000, drawn from a generator seeded with
 * @seed: the same seed and frames give the same faults.
 */
struct inet_fault_config {
	uint64_t seed;
	uint16_t drop, dup, reorder, corrupt, delay; /* per 10000 */
	uint32_t delay_ms;
};

struct netif;
struct netif_queue;
struct udp_sock;

/*
 * The stack in this machine, made once (the first call makes it, with
 * @mem_max bytes of packet buffers at most, 0: INET_MEM_DEFAULT; later
 * calls find it). -ENODEV without a machine, -ENOMEM.
 */
int inet_init(size_t mem_max);
/* A counter of the stack (0 before inet_init). */
uint64_t inet_mib(enum inet_mib m);
/* Bytes of packet buffers held now, and the budget. */
void inet_mem(size_t *used, size_t *max);
/* Render every counter and interface as "name value" lines; the length the text needs. */
size_t inet_status(char *buf, size_t size);
/*
 * Take back what processes of the machine that died held in the stack:
 * their TCP and UDP sockets are closed (TCP's gracefully, as the host's
 * kernel closes a dead process's), buffers they queued become the stack's,
 * and buffers they held in hand -- a receive thread's frame, a datagram
 * being read -- are freed and leave the budget. Any process may call it, at
 * any time (uml_reap does). Returns how many processes it found dead.
 */
int inet_reap(void);
/*
 * The TCP sockets (listeners, then connections) in the layout of Linux's
 * /proc/net/tcp, and the counters in that of /proc/net/snmp (Ip, Icmp, Tcp,
 * Udp: a line of names, a line of values), into @buf (cut to @size,
 * always terminated when @size > 0); the length the whole text needs, as
 * snprintf. status.c says which of Linux's fields are left out.
 */
size_t inet_tcp_table(char *buf, size_t size);
/* The IPv6 sockets (and those on ::) as Linux's /proc/net/tcp6 lays them out. */
size_t inet_tcp6_table(char *buf, size_t size);
size_t inet_snmp(char *buf, size_t size);
/* The IPv6 counters kept, in the layout of Linux's /proc/net/snmp6 (a name and a value a line). */
size_t inet_snmp6(char *buf, size_t size);
/*
 * TCP's event counters kept, in the layout of Linux's /proc/net/netstat:
 * "TcpExt:" and the names, then "TcpExt:" and the values (Linux's names,
 * in its order; what this stack does not count is left out).
 */
size_t inet_netstat(char *buf, size_t size);

/*
 * The clock of the stack's timers (ARP, reassembly, rate limits, delays),
 * in ms, for this process: @now_ms NULL puts back the host's monotonic
 * clock. Tests drive it by hand.
 */
void inet_clock_set(uint64_t (*now_ms)(void));
uint64_t inet_now_ms(void);

/*
 * Interfaces. netif_create makes one in the arena (-EINVAL for a bad
 * address, prefix or MTU, -ENOSPC past INET_MAX_IFS, -EEXIST for a name
 * in use); netif_find finds one by name (NULL: none). Interfaces live as
 * long as the machine.
 */
int netif_create(const struct netif_config *cfg, struct netif **out);
struct netif *netif_find(const char *name);
/*
 * An interface's index, 1 to INET_MAX_IFS in the order they were made: the
 * zone of its IPv6 link-local addresses (sockaddr_in6's sin6_scope_id).
 */
unsigned netif_index(const struct netif *nif);
void netif_stats(const struct netif *nif, struct netif_stats *st);
void netif_mac(const struct netif *nif, uint8_t mac[INET_ETH_ALEN]);
/*
 * Whether @nif's queues carry virtio-net headers with checksum offload and
 * TSO (true) or plain frames; with plain frames *@why (may be NULL) says
 * why: 0 when not asked for (OFF, or no TAP queue opened yet), else the
 * host's refusal (a negative errno).
 */
bool netif_offload(const struct netif *nif, int *why);
/* Set (or with NULL, switch off) the fault injector of @nif's input. */
void netif_fault_set(struct netif *nif, const struct inet_fault_config *cfg);

/*
 * Queues: this process's door to an interface, in its own memory.
 * netif_queue_open_tap opens a queue of the host's TAP device named as
 * @nif (host_tap_open's errors), netif_queue_open_hook one whose frames
 * out go to @xmit (a test's wire: it returns 0 or a negative errno, and
 * must not block). Each process sends through the queue it opened last
 * for an interface. A queue without a receive thread is fed by hand
 * (netif_input).
 */
int netif_queue_open_tap(struct netif *nif, struct netif_queue **out);
int netif_queue_open_hook(struct netif *nif, int (*xmit)(void *arg, const void *frame, size_t len),
			  void *arg, struct netif_queue **out);
/*
 * A hook as a TAP queue with offloads sees the wire (tests): every frame
 * to @xmit has its virtio-net header (HOST_TAP_VNET_HLEN bytes) in front,
 * and TCP leaves checksums and cutting to the hook. An interface's hooks
 * and TAP queues must agree (-EBUSY).
 */
int netif_queue_open_hook_vnet(struct netif *nif,
			       int (*xmit)(void *arg, const void *frame, size_t len), void *arg,
			       struct netif_queue **out);
/*
 * Start the queue's receive thread on the calling CPU: it reads frames as
 * its watch reports them, runs the interface's timers every 100 ms, and
 * sends a gratuitous ARP as it starts. -EINVAL for a hook queue.
 */
int netif_queue_start(struct netif_queue *q);
/* Stop the receive thread (from a thread of its CPU: waits for it), close and free @q. */
void netif_queue_close(struct netif_queue *q);
/* Feed one frame in as if read from the wire (the fault injector first). */
void netif_input(struct netif_queue *q, const void *frame, size_t len);
/*
 * The same for a frame behind a virtio-net header of HOST_TAP_VNET_HLEN
 * (10) bytes, as a TAP queue with offloads reads it (tests, fuzzing): the
 * header is checked against the frame, which may be a TCP segment of up to
 * 64 KiB.
 */
void netif_input_vnet(struct netif_queue *q, const void *buf, size_t len);
/* Run @nif's timers now: ARP retries and expiry, reassembly timeouts, delayed frames. */
void netif_tick(struct netif *nif);
/* Send a gratuitous ARP for @nif's address, and an unsolicited NA for each IPv6 one. */
int netif_announce(struct netif *nif);
/* @nif's IPv6 link-local address (fe80::/64 with the MAC's modified EUI-64, RFC 4291 2.5.1). */
void netif_addr6_ll(const struct netif *nif, struct inet_addr *out);
/*
 * The machine's address that what it sends to @peer leaves from: the IPv4
 * address of the interface the route takes, or ipv6_source's choice (the
 * link-local address for a link-local peer, the global one otherwise).
 * 0, or -ENETUNREACH (no route, or no address of that family yet usable).
 */
int inet_source_in(const struct inet_addr *peer, struct inet_addr *out);

/*
 * UDP sockets, for kernel threads (and host threads: they sleep on a
 * futex). udp_bind takes @port (0: a free one from 49152..65535) on @addr
 * (0: every address of the machine): -EADDRINUSE, -EINVAL when bound
 * already. udp_sendto sends one datagram of at most 65507 bytes (fragmented
 * past the MTU): @len, -EMSGSIZE, -ENETUNREACH (no route), -ENOBUFS (no
 * buffer; nothing sent), -EDESTADDRREQ (port 0). An unbound socket gets a
 * port at its first send. udp_recvfrom takes the next datagram, waiting at
 * most @timeout_ms (0: not at all, < 0: no limit): its length (cut to @len
 * when longer), -EAGAIN (nothing and @timeout_ms 0), -ETIMEDOUT, -EINTR.
 * A socket holds at most INET_UDP_RCVBUF bytes of datagrams; more are
 * dropped. udp_close frees it: nobody may be in udp_recvfrom on it then.
 */
#define INET_UDP_RCVBUF (256u << 10)
int udp_open(struct udp_sock **out);
int udp_bind(struct udp_sock *s, uint32_t addr, uint16_t port);
int udp_local(const struct udp_sock *s, uint32_t *addr, uint16_t *port);
ssize_t udp_sendto(struct udp_sock *s, const void *buf, size_t len, uint32_t daddr, uint16_t dport);
ssize_t udp_recvfrom(struct udp_sock *s, void *buf, size_t len, uint32_t *saddr, uint16_t *sport,
		     int timeout_ms);
/*
 * The same for either family. udp_bind's 0 is every IPv4 address of ours;
 * udp_bind_in takes :: for every address of either family, a v4-mapped
 * address for IPv4, or one of our IPv6 addresses (-EADDRNOTAVAIL). Over
 * IPv6 too a datagram past the MTU leaves in fragments. A socket
 * bound to an address of one family can't send to the other:
 * -EAFNOSUPPORT; :: is no destination: -EINVAL. udp_recvfrom gives 0 as the sender of an IPv6
 * datagram; udp_recvfrom_in gives it whole. udp_local gives 0 for an IPv6 address.
 */
int udp_bind_in(struct udp_sock *s, const struct inet_addr *addr, uint16_t port);
int udp_local_in(const struct udp_sock *s, struct inet_addr *addr, uint16_t *port);
ssize_t udp_sendto_in(struct udp_sock *s, const void *buf, size_t len,
		      const struct inet_addr *daddr, uint16_t dport);
ssize_t udp_recvfrom_in(struct udp_sock *s, void *buf, size_t len, struct inet_addr *saddr,
			uint16_t *sport, int timeout_ms);
/*
 * With zones: udp_sendto_scope sends to a link-local @daddr in zone @scope
 * (as tcp_connect_scope picks it; also -ENODEV and -EINVAL), and
 * udp_recvfrom_scope gives a link-local sender's zone, the interface its
 * datagram came by (0 for other senders).
 */
ssize_t udp_sendto_scope(struct udp_sock *s, const void *buf, size_t len,
			 const struct inet_addr *daddr, uint32_t scope, uint16_t dport);
ssize_t udp_recvfrom_scope(struct udp_sock *s, void *buf, size_t len, struct inet_addr *saddr,
			   uint32_t *scope, uint16_t *sport, int timeout_ms);
/*
 * Hear only @addr:@port from now on, as a connected BSD socket: datagrams
 * from anyone else are answered as by a closed port. Bound to an ephemeral
 * port of its family's wildcard first if it was not bound. 0, -EINVAL (no
 * port, or a wildcard address), -EAFNOSUPPORT (bound to the other
 * family), or udp_bind_in's errors.
 */
int udp_connect_in(struct udp_sock *s, const struct inet_addr *addr, uint16_t port);
/* The same undone: every sender heard again, the socket still bound. */
void udp_disconnect(struct udp_sock *s);
void udp_close(struct udp_sock *s);

/*
 * TCP (tcp*.c), for kernel threads and host threads, like UDP. Sockets and
 * connections live in the arena; any CPU of any process may use them.
 *
 * tcp_bind: @port on @addr as udp_bind (0: ephemeral). tcp_listen: at most
 * @backlog connections (1..INET_TCP_BACKLOG_MAX) established and not yet
 * accepted, and as many half-open; beyond that SYN cookies answer.
 * tcp_accept: the next established connection, waiting at most
 * @timeout_ms (0: not at all, < 0: no limit) -- -EAGAIN, -ETIMEDOUT,
 * -EINTR, -EINVAL when not listening. tcp_connect: the three-way
 * handshake, waiting at most @timeout_ms: 0, -ECONNREFUSED (RST),
 * -ETIMEDOUT (no answer after the SYN retries), -ENETUNREACH, -EINTR,
 * -EISCONN. With @timeout_ms 0 the SYN goes and -EINPROGRESS is returned;
 * asked again: -EALREADY while it is under way, then -EISCONN once
 * connected, or the error that ended it (once). tcp_send: queue bytes in
 * the send buffer, waiting for room (at most @timeout_ms) when it is full:
 * the bytes taken (> 0), -EAGAIN, -ETIMEDOUT, -EPIPE (shut down for
 * sending, or closed by the peer's RST: then -ECONNRESET once), -ENOTCONN
 * (never connected), -ENOBUFS (the stack's budget is spent), -EINTR.
 * tcp_recv: bytes received in order,
 * waiting at most @timeout_ms: their count, 0 at the peer's FIN, -EAGAIN,
 * -ETIMEDOUT, -ECONNRESET, -EINTR. tcp_shutdown: a FIN after what is
 * queued. tcp_close: gives the handle up; the connection ends gracefully
 * in the stack (FIN, TIME_WAIT) -- with a RST when unread data was left
 * (RFC 1122 4.2.2.13) -- and a listener's pending connections are reset.
 * tcp_abort: a RST now, and the handle is gone.
 */
#define INET_TCP_SNDBUF_DEFAULT (256u << 10)
#define INET_TCP_RCVBUF_DEFAULT (256u << 10)
#define INET_TCP_BACKLOG_MAX	1024

struct tcp_sock;

/* A connection's figures (tcp_info). */
struct tcp_conn_info {
	unsigned state;	       /* enum tcp_state in tcp.h order: the RFC 9293 states */
	uint32_t laddr, raddr; /* IPv4's; 0 for IPv6 (laddr_in, raddr_in) */
	uint16_t lport, rport;
	uint32_t mss;			/* sending MSS */
	uint8_t snd_wscale, rcv_wscale; /* 0xff: no window scaling */
	bool ts, sack;			/* timestamps and SACK agreed */
	uint32_t srtt_us, rttvar_us, rto_ms;
	uint32_t cwnd, ssthresh; /* bytes */
	uint32_t snd_wnd, rcv_wnd;
	uint32_t unacked, sndbuf_used, rcvbuf_used; /* bytes */
	uint64_t bytes_sent, bytes_received, retransmits, dup_acks;
	struct inet_addr laddr_in, raddr_in; /* either family's */
};

int tcp_open(struct tcp_sock **out);
int tcp_bind(struct tcp_sock *s, uint32_t addr, uint16_t port);
int tcp_listen(struct tcp_sock *s, int backlog);
int tcp_accept(struct tcp_sock *s, struct tcp_sock **out, uint32_t *raddr, uint16_t *rport,
	       int timeout_ms);
int tcp_connect(struct tcp_sock *s, uint32_t daddr, uint16_t dport, int timeout_ms);
ssize_t tcp_send(struct tcp_sock *s, const void *buf, size_t len, int timeout_ms);
ssize_t tcp_recv(struct tcp_sock *s, void *buf, size_t len, int timeout_ms);
int tcp_shutdown(struct tcp_sock *s);
void tcp_close(struct tcp_sock *s);
void tcp_abort(struct tcp_sock *s);
/*
 * connect(AF_UNSPEC) on TCP, as Linux's tcp_disconnect: an abort that keeps
 * the handle. A synchronized connection sends a RST and its error becomes
 * -ECONNRESET (a connecting one's too, without the RST); a listener stops
 * listening, its pending connections reset. The queues are dropped, the
 * port given back, and the socket is CLOSED: connect, or bind and listen,
 * again. Returns 0.
 */
int tcp_disconnect(struct tcp_sock *s);
int tcp_local(const struct tcp_sock *s, uint32_t *addr, uint16_t *port);
/*
 * The same for either family (struct inet_addr: IPv4 v4-mapped). tcp_bind's
 * 0 is every IPv4 address of ours; tcp_bind_in takes :: for every address
 * of either family, or one of ours (-EADDRNOTAVAIL). A socket bound to an
 * address of one family can't connect to the other: -EAFNOSUPPORT. Over
 * IPv6 the MSS is the MTU less 60. The uint32_t calls give 0 for an IPv6
 * address. tcp_peer_in: the remote end once connected (-ENOTCONN before).
 */
int tcp_bind_in(struct tcp_sock *s, const struct inet_addr *addr, uint16_t port);
int tcp_accept_in(struct tcp_sock *s, struct tcp_sock **out, struct inet_addr *raddr,
		  uint16_t *rport, int timeout_ms);
int tcp_connect_in(struct tcp_sock *s, const struct inet_addr *daddr, uint16_t dport,
		   int timeout_ms);
/*
 * tcp_connect_in to a link-local @daddr in zone @scope (netif_index; 0:
 * the machine's only IPv6 interface, or the zone of the address bound):
 * also -ENODEV (no such interface) and -EINVAL (several, and no zone).
 * A connection's segments leave by the interface of its link-local
 * address, both ways (tcp_xmit), so one accepted from a zone stays in it.
 */
int tcp_connect_scope(struct tcp_sock *s, const struct inet_addr *daddr, uint32_t scope,
		      uint16_t dport, int timeout_ms);
int tcp_local_in(const struct tcp_sock *s, struct inet_addr *addr, uint16_t *port);
int tcp_peer_in(const struct tcp_sock *s, struct inet_addr *addr, uint16_t *port);
int tcp_info(const struct tcp_sock *s, struct tcp_conn_info *out);
/* Options: Nagle off (@on true), keepalive (idle s, 0: off), buffer sizes (before connect/listen).
 */
int tcp_set_nodelay(struct tcp_sock *s, bool on);
int tcp_set_keepalive(struct tcp_sock *s, unsigned idle_s);
int tcp_set_buffers(struct tcp_sock *s, uint32_t sndbuf, uint32_t rcvbuf);

/* The Internet checksum of @len bytes, folded and complemented (csum.c). */
uint16_t inet_csum(const void *p, size_t len);

#endif
