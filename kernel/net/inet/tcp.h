/*
 * What the TCP files share (tcp.c: sockets and tables; tcp_input.c: the
 * segment arrival rules of RFC 9293 3.10.7; tcp_output.c: building and
 * sending segments, timers, congestion control; tcp_recovery.c: RACK's loss
 * detection and PRR).
 *
 * Locking: every field of every struct tcp_sock, and the TCP tables of
 * struct inet, are guarded by inet.tcp_lock (LOCK_RANK_INET; it never
 * nests with inet.lock or a netif.lock). A socket's wait queue is taken
 * under it to wake (rank KWAIT is above). Segments are built under the
 * lock into a pkb_queue and sent after it is dropped (tcp_xmit).
 *
 * Death: whoever takes tcp_lock from a dead holder repairs under it
 * (tcp_repair_locked): the socket the holder was changing (inet.tcp_busy,
 * set by tcp_enter) is reset, or recounted if a listener; every listener's
 * counts are taken again from its children; sockets no table holds are
 * given back. A socket a user holds names its process (owner) and is on
 * inet.tcp_users, so inet_reap closes the sockets of a dead process.
 */
#ifndef INET_TCP_H
#define INET_TCP_H

#include "inet_internal.h"

/* RFC 9293 3.3.2's states; tcp_conn_info.state counts in this order. */
enum tcp_state {
	TCP_CLOSED,
	TCP_LISTEN,
	TCP_SYN_SENT,
	TCP_SYN_RECEIVED,
	TCP_ESTABLISHED,
	TCP_FIN_WAIT_1,
	TCP_FIN_WAIT_2,
	TCP_CLOSE_WAIT,
	TCP_CLOSING,
	TCP_LAST_ACK,
	TCP_TIME_WAIT,
};

#define TCP_HLEN    20
#define TCP_OPT_MAX 40
/* Option kinds (RFC 9293 3.2, RFC 7323, RFC 2018). */
#define OPT_EOL		   0
#define OPT_NOP		   1
#define OPT_MSS		   2
#define OPT_WS		   3
#define OPT_SACK_PERM	   4
#define OPT_SACK	   5
#define OPT_TS		   8
#define TCP_FIN		   0x01
#define TCP_SYN		   0x02
#define TCP_RST		   0x04
#define TCP_PSH		   0x08
#define TCP_ACK		   0x10
#define TCP_URG		   0x20
#define TCP_MSS_DEFAULT	   536	/* RFC 9293 3.7.1: when the peer sends no MSS option */
#define TCP_MSS_DEFAULT6   1220 /* the same over IPv6: its minimum MTU, 1280, less 60 */
#define TCP_MSS_MIN	   88	/* a peer's MSS below this is raised to it: no 1-byte segments */
#define TCP_WSCALE_MAX	   14
#define TCP_RTO_INIT_MS	   1000 /* RFC 6298 2.1 */
#define TCP_RTO_MIN_MS	   200	/* below RFC 6298's 1 s, as deployed stacks on LANs */
#define TCP_RTO_MAX_MS	   60000
#define TCP_DELACK_MS	   40
#define TCP_SYN_RETRIES	   6
#define TCP_SYNACK_RETRIES 5
#define TCP_DATA_RETRIES   15	 /* RFC 1122 4.2.3.5's R2, counted in retransmissions */
#define TCP_TIME_WAIT_MS   60000 /* 2 MSL with MSL 30 s */
#define TCP_FIN_WAIT_2_MS  60000 /* an orphan waiting for the peer's FIN */
#define TCP_KEEP_PROBES	   9
#define TCP_SACK_BLOCKS	   4
#define TCP_CHALLENGE_RATE 1000 /* challenge ACKs a second, the stack's (RFC 5961 7) */
#define TCP_PTO_MIN_MS	   10	/* a probe timeout no shorter: timers, and a peer's ACK path */
#define TCP_WCDELACK_MS	   200	/* RFC 8985 7.2's WCDelAckT: a peer's worst delayed ACK */
#define TCP_PMTU_MIN	   576	/* RFC 1191's 68 is too low: 536 bytes of MSS at least */

/* What a reduction of cwnd was (tcp_sock.undo), so that it can be taken back. */
enum tcp_undo {
	TCP_UNDO_NONE,
	TCP_UNDO_RTO, /* a timeout: Eifel (RFC 3522) on the first ACK after it */
	TCP_UNDO_FR,  /* fast retransmit or a probe's repair: D-SACKs (RFC 3708) */
};

/* A value a lost object's memory is unlikely to hold (tcp.c's reclaim_strays_locked). */
#define TCP_CHARGED 0x7c9a46e1u

#define SEQ_LT(a, b)  ((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)
#define SEQ_LEQ(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) <= 0)
#define SEQ_GT(a, b)  SEQ_LT(b, a)
#define SEQ_GEQ(a, b) SEQ_LEQ(b, a)

/*
 * A windowed minimum (Kathleen Nichols' filter): the least value of the
 * last @win ms, kept as three samples -- the best, and the best of what
 * came after each -- so that when the best grows older than the window,
 * the next best is at hand without a history. When every sample is older
 * than the window, a new one starts it again. Times are inet_now_ms()
 * cut to 32 bits (compared by difference: 49 days of wrap).
 */
struct tcp_win_sample {
	uint32_t at_ms, v;
};
struct tcp_win_min {
	struct tcp_win_sample s[3]; /* s[0] the least; s[1], s[2] the least of what came after */
};

/* RACK's min_rtt forgets older round trips (Linux's tcp_min_rtt_wlen, 5 minutes). */
#define TCP_MIN_RTT_WIN_MS 300000

/* Options parsed from a segment (tcp_parse_options). */
struct tcp_opts {
	bool mss_ok, ws_ok, ts_ok, sack_ok;
	uint16_t mss;
	uint8_t ws;
	uint8_t nsack;
	uint32_t tsval, tsecr;
	uint32_t sack[TCP_SACK_BLOCKS][2];
};

/* The MSS a peer that sends no MSS option takes, by the family of our address @laddr. */
static inline uint32_t tcp_mss_default(const struct inet_addr *laddr)
{
	return inet_addr_is_v4(laddr) ? TCP_MSS_DEFAULT : TCP_MSS_DEFAULT6;
}

/* A segment as it arrived: header fields in host order, payload at pkb_data(p). */
struct tcp_seg {
	uint16_t sport, dport;
	uint32_t seq, ack, len; /* len: payload bytes */
	uint32_t wnd;		/* unscaled */
	uint8_t flags;
	struct tcp_opts o;
	uint32_t pmtu; /* a SYN's: the path MTU noted for its sender, 0 for none */
};

struct tcp_sock {
	struct tcp_sock *hnext;	 /* in inet.tcp_conn, by the four addresses */
	struct tcp_sock *bnext;	 /* in inet.tcp_bound, by local port: a user's bound socket */
	struct tcp_sock *qnext;	 /* a listener's accept queue */
	struct tcp_sock *parent; /* the listener of a child not yet accepted */
	enum tcp_state state;
	/* IPv4 v4-mapped; a bound laddr of ::ffff:0.0.0.0 is every IPv4 address, :: every one */
	struct inet_addr laddr, raddr;
	uint16_t lport, rport;
	bool hashed, bound;
	bool opened;	  /* connect or accept made it a connection once */
	bool user;	  /* a handle is out: tcp_close/abort has not been called */
	uint32_t owner;	  /* while user: the pid that opened or accepted it */
	uint32_t charged; /* TCP_CHARGED: on the stack's budget (a stray may not be) */
	struct tcp_sock *unext, **uprev; /* while user: on inet.tcp_users */
	bool nodelay;			 /* Nagle off */
	bool shut_wr;			 /* the user asked for a FIN */
	bool fin_sent;			 /* our FIN has a sequence number: fin_seq */
	bool fin_rcvd;			 /* the peer's FIN is in rcv_nxt */
	bool ack_now;			 /* an ACK is owed at the next output */
	bool in_recovery;		 /* fast recovery (RFC 6582) until snd_una passes recover */
	bool rtt_timing;		 /* rtt_seq is being timed (without timestamps) */
	bool ws_ok, ts_ok, sack_ok;
	uint8_t snd_wscale, rcv_wscale;
	int err;	 /* what ended it (-ECONNRESET, -ECONNREFUSED, -ETIMEDOUT), reported once */
	bool err_pipe;	 /* after the reset was reported, sends say -EPIPE */
	struct kwait wq; /* every waiter of this socket: readers, writers, accept, connect */
	struct inet_pollent *pollers; /* the poll calls waiting on it (sock_poll.h) */

	/* listener */
	uint32_t backlog;
	uint32_t nsyn; /* children in SYN-RECEIVED */
	uint32_t nacc; /* children established, not yet accepted */
	struct tcp_sock *acc_head, *acc_tail;

	/* send side (RFC 9293 3.3.1) */
	uint32_t iss, snd_una, snd_nxt, snd_max, snd_wnd, snd_wl1, snd_wl2;
	uint32_t max_snd_wnd; /* the largest window the peer offered (RFC 5961 5.2) */
	uint32_t snd_end;     /* after the last byte queued */
	uint32_t fin_seq;
	uint32_t mss;	       /* the most payload of a segment we send, options not counted */
	uint32_t rcv_mss;      /* what our MSS option says: the path's MTU less the headers */
	uint32_t mss_max;      /* the MSS both ends allow, before the path's notes (tcp_path_mss) */
	struct pkb_queue sndq; /* data from snd_una on; p->seq its first byte */
	uint32_t sndq_bytes;   /* payload in sndq */
	uint32_t sndbuf, rcvbuf; /* bytes of payload at most */
	uint32_t cwnd, ssthresh, recover, dupacks;
	uint32_t sack_high; /* the highest sequence the peer SACKed */
	uint32_t rtx_high;  /* in recovery: holes before this were retransmitted */
	uint32_t snd_sml;   /* after the last short segment sent (Nagle, Minshall's rule) */
	uint32_t rtt_seq;
	uint64_t rtt_start_ms;
	uint32_t srtt_us, rttvar_us, rto_ms;
	uint32_t retries; /* retransmissions of the same data (backoff) */
	/* Tail loss probe (RFC 8985 7): once per flight, before the RTO. */
	bool pto_armed;	   /* t_rtx is the probe timeout, not the RTO */
	bool tlp_out;	   /* a probe is unanswered: none other until it is */
	bool tlp_rtx;	   /* it was the last segment again, not new data */
	uint32_t tlp_seq;  /* where the probe began */
	uint32_t tlp_high; /* snd_max once it was sent */
	/* Undoing a reduction found spurious (RFC 3522, 3708; RFC 4015's response). */
	uint8_t undo;			   /* enum tcp_undo */
	uint32_t undo_cwnd, undo_ssthresh; /* before the reduction */
	uint32_t undo_tsval;		   /* RTO: our timestamp on its first retransmission */
	uint32_t undo_low, undo_high;	   /* fast retransmit: what was in flight at its start */
	uint32_t undo_rtx;		   /* retransmissions of that episode not yet D-SACKed */
	bool undo_dsacked;		   /* a D-SACK counted toward undo_rtx */
	uint32_t probes;		   /* persist probes since the window closed */
	uint32_t kprobes;		   /* keepalive probes unanswered */
	/*
	 * RACK (RFC 8985 6), with SACK: the segment most recently sent of those
	 * delivered (SACKed or cumulatively ACKed) says which sent before it
	 * are lost. Times are inet_now_ms(), as pkb.at_ms.
	 */
	uint32_t tx_no;		   /* transmissions of data so far: pkb.tx_no orders them */
	bool rack_on;		   /* rack_xmit_ms is a sample */
	bool rack_reordering;	   /* a segment never resent was delivered below rack_fack */
	bool rack_dsack_on;	   /* rack_dsack_round is open */
	uint8_t rack_reo_mult;	   /* reo_wnd in quarters of min_rtt (0: 1), grown by D-SACKs */
	uint8_t rack_reo_persist;  /* recoveries left before rack_reo_mult goes back to 1 */
	uint64_t rack_xmit_ms;	   /* that segment's latest transmission */
	uint32_t rack_tx_no;	   /* and its number (tx_no) */
	uint32_t rack_end_seq;	   /* after its last byte */
	uint32_t rack_rtt_ms;	   /* the round trip it measured */
	uint32_t rack_min_rtt_ms;  /* the least of those in the window (min_rtt's s[0]) */
	uint32_t rack_fack;	   /* after the highest byte delivered */
	uint32_t rack_dsack_round; /* a D-SACK grows reo_wnd once until snd_una passes this */
	/* PRR (RFC 6937), in fast recovery with SACK: delivered and sent since it began. */
	uint32_t prr_delivered, prr_out, recover_fs;
	/* RFC 8985's min_rtt: RACK's round trips of the last TCP_MIN_RTT_WIN_MS. */
	struct tcp_win_min min_rtt;

	/* receive side */
	uint32_t irs, rcv_nxt, rcv_adv; /* rcv_adv: the right edge we advertised */
	uint32_t last_ack_sent;
	struct pkb_queue rcvq; /* in order, unread: pkb_data is the payload */
	uint32_t rcvq_bytes;   /* payload unread */
	struct pkb *ooo;       /* out of order, by seq, not overlapping */
	struct pkb *ooo_tail;  /* its last buffer: a segment after it is put there in O(1) */
	uint32_t ooo_run;      /* a buffer's seq: from it to ooo_tail's end, all is held */
	uint32_t ooo_n, ooo_bytes, ooo_true;
	uint32_t ooo_last; /* where the latest out-of-order segment began */
	uint32_t dsack[2]; /* RFC 2883: a duplicate to report in the next ACK */
	bool dsack_on;
	uint32_t segs_unacked; /* full segments received since our last ACK */
	uint32_t ts_recent, ts_off;
	uint64_t ts_recent_ms;
	uint64_t last_rcv_ms;

	/* timers: the inet_now_ms() at which each fires, 0 when off */
	uint64_t t_rtx, t_persist, t_delack, t_keep, t_wait;
	uint64_t t_reo; /* RACK's reordering timer (RFC 8985 6.3) */
	unsigned keep_idle_s;

	uint64_t bytes_sent, bytes_received, retransmits, dup_acks_seen;
};

/* tcp.c */
/* Take tcp_lock (repairing after a dead holder) to change @s (NULL: no socket yet). */
void tcp_enter(struct tcp_sock *s);
void tcp_leave(void);
void tcp_repair_locked(void);
/* inet_reap: close the sockets of the dead @pids, adopt their buffers in TCP's queues. */
unsigned tcp_reap(const struct inet_pids *dead);
void tcp_input(struct netif *nif, struct pkb *p);
void tcp_tick(uint64_t now);
/* The earliest TCP timer (UINT64_MAX: none), for the receive thread's wait. */
uint64_t tcp_next_timer(void);

void tcp_hash_locked(struct tcp_sock *s);
void tcp_unhash_locked(struct tcp_sock *s);
struct tcp_sock *tcp_lookup_locked(const struct inet_addr *laddr, uint16_t lport,
				   const struct inet_addr *raddr, uint16_t rport);
struct tcp_sock *tcp_listener_locked(const struct inet_addr *laddr, uint16_t lport);
struct tcp_sock *tcp_new_locked(void);
/* Enter CLOSED: off the tables, buffers freed, waiters woken; freed when nobody holds it. */
void tcp_done_locked(struct tcp_sock *s, int err);
void tcp_set_state(struct tcp_sock *s, enum tcp_state st);
void tcp_wake(struct tcp_sock *s);
uint32_t tcp_new_iss(const struct inet_addr *laddr, uint16_t lport, const struct inet_addr *raddr,
		     uint16_t rport);
/* RFC 7323 5.4: a timestamp offset per connection, from a keyed hash (no host call). */
uint32_t tcp_new_ts_off(const struct inet_addr *laddr, uint16_t lport,
			const struct inet_addr *raddr, uint16_t rport);
/* The MSS our interface for @laddr can take: its MTU less 40 bytes of headers (IPv6: 60). */
uint32_t tcp_local_mss(const struct inet_addr *laddr);
/* The IP header's length for a connection from @laddr. */
static inline uint32_t tcp_ip_hlen(const struct inet_addr *laddr)
{
	return inet_addr_is_v4(laddr) ? IPV4_HLEN : IPV6_HLEN;
}
/* @mss, or less when @pmtu (a path MTU noted for the peer; 0: none) is smaller. */
static inline uint32_t tcp_path_mss(const struct inet_addr *laddr, uint32_t mss, uint32_t pmtu)
{
	uint32_t hlen = tcp_ip_hlen(laddr) + TCP_HLEN;

	return pmtu && pmtu - hlen < mss ? pmtu - hlen : mss;
}
/* The four addresses of a segment as it arrived (before the TCP header is taken off). */
void tcp_seg_addrs(const struct pkb *p, struct inet_addr *saddr, struct inet_addr *daddr);

/* tcp_output.c */
/* Send what may be sent now (data, FIN, an owed ACK) into @out. */
void tcp_output_locked(struct tcp_sock *s, struct pkb_queue *out);
void tcp_send_syn_locked(struct tcp_sock *s, struct pkb_queue *out);
void tcp_send_ack_locked(struct tcp_sock *s, struct pkb_queue *out);
void tcp_send_rst_locked(struct tcp_sock *s, struct pkb_queue *out);
/* A reset for a segment nobody owns (RFC 9293 3.10.7.1). */
void tcp_reply_rst(const struct inet_addr *laddr, const struct inet_addr *raddr,
		   const struct tcp_seg *sg, struct pkb_queue *out);
/* What a SYN cookie's SYN-ACK agrees to besides the MSS (tcp_cookie.c). */
struct tcp_cookie_opts {
	bool ts, sack, ws;
	uint8_t rcv_ws; /* our window scale */
	uint32_t tsval, tsecr;
};
/* A SYN-ACK for a SYN-cookie answer: no state kept. */
void tcp_send_synack_raw(const struct inet_addr *laddr, uint16_t lport,
			 const struct inet_addr *raddr, uint16_t rport, uint32_t iss, uint32_t ack,
			 uint16_t mss, const struct tcp_cookie_opts *co, struct pkb_queue *out);
/* A SYN's or SYN-ACK's options into @o: their length, a multiple of 4. */
unsigned tcp_syn_options(uint8_t *o, uint32_t mss, bool sack, bool ts, uint32_t tsval,
			 uint32_t tsecr, bool ws, uint8_t wscale);
/* The least window scale that lets @rcvbuf be offered whole. */
uint8_t tcp_wscale_for(uint32_t rcvbuf);
void tcp_xmit(struct pkb_queue *out);
/* Fire what is due; false when the connection is gone (and @s freed, perhaps). */
bool tcp_timers_locked(struct tcp_sock *s, uint64_t now, struct pkb_queue *out);
void tcp_rtt_sample(struct tcp_sock *s, uint32_t rtt_ms);
uint32_t tcp_rcv_window(const struct tcp_sock *s);
uint32_t tcp_ts_now(const struct tcp_sock *s);
void tcp_arm_rtx(struct tcp_sock *s);
/*
 * After new data went out (@restart false) or an ACK took some (true): the
 * probe timer when a probe is due (RFC 8985 7.2), else the RTO -- started
 * if off, restarted only when @restart.
 */
void tcp_arm_loss_timer(struct tcp_sock *s, bool restart);
/* Retransmit the next hole: not SACKed, past rtx_high (fast retransmit, partial ACKs). */
void tcp_retransmit_hole(struct tcp_sock *s, struct pkb_queue *out);
/*
 * With SACK: resend what is marked lost, oldest first, while pipe stays
 * below cwnd; @force sends the first one whatever cwnd says (the fast
 * retransmit itself). Only below snd_nxt: after an RTO, output() resends
 * the rest in order.
 */
void tcp_retransmit_lost(struct tcp_sock *s, struct pkb_queue *out, bool force);
/*
 * RFC 1191: a segment of @s at @seq did not fit a hop of @mtu. If @seq is in
 * flight, the MSS comes down (not below TCP_PMTU_MIN's) and what is unacked
 * goes again in segments that fit. Whether @seq was in flight.
 */
bool tcp_pmtu_locked(struct tcp_sock *s, uint32_t seq, uint32_t mtu, struct pkb_queue *out);
/* The effective payload of a data segment (options taken off). */
uint32_t tcp_eff_mss(const struct tcp_sock *s);
uint32_t tcp_flight(const struct tcp_sock *s);

/* tcp_recovery.c: RACK-TLP's loss detection (RFC 8985 6) and PRR (RFC 6937), with SACK. */
/* RFC 6675's pipe: bytes in flight neither SACKed nor marked lost. */
uint32_t tcp_pipe(const struct tcp_sock *s);
/* @v at @now_ms is all @f has seen (a first sample). */
void tcp_win_min_reset(struct tcp_win_min *f, uint32_t now_ms, uint32_t v);
/* Take @v at @now_ms into @f, the least of the last @win_ms: that least, now. */
uint32_t tcp_win_min_update(struct tcp_win_min *f, uint32_t win_ms, uint32_t now_ms, uint32_t v);
/* @p, sent and not yet delivered, is now (SACKed, or ACKed): RFC 8985 6.2 steps 2-3. */
void tcp_rack_delivered(struct tcp_sock *s, const struct pkb *p, const struct tcp_seg *sg);
/* A D-SACK came: reo_wnd grows a quarter of min_rtt, once a round (RFC 8985 6.2 step 4). */
void tcp_rack_dsack(struct tcp_sock *s);
/*
 * After an ACK was taken: mark what RACK finds lost (arming the reordering
 * timer for the rest), start recovery if so, and in recovery let PRR set
 * cwnd for the @delivered bytes and resend what is lost.
 */
void tcp_rack_ack(struct tcp_sock *s, uint32_t delivered, struct pkb_queue *out);
/*
 * Fast recovery begins (RFC 6937 3.1): prr_delivered and prr_out from 0,
 * RecoverFS the flight, cwnd pipe; the first hole is lost (RFC 6675) if
 * RACK has not said so of anything yet.
 */
void tcp_prr_start(struct tcp_sock *s);
/* Fast recovery is over (a full ACK): cwnd = ssthresh (RFC 6937), reo_wnd's persistence. */
void tcp_recovery_done(struct tcp_sock *s);
/* The reordering timer fired (RFC 8985 6.3). */
void tcp_rack_timeout(struct tcp_sock *s, struct pkb_queue *out);

/* tcp_input.c */
/* Fast recovery from now (RFC 6582 one reduction a window; with SACK, PRR's start). */
void tcp_enter_recovery(struct tcp_sock *s, struct pkb_queue *out);
int tcp_parse_options(const uint8_t *o, unsigned len, struct tcp_opts *out);
void tcp_segment_locked(struct tcp_sock *s, struct pkb *p, struct tcp_seg *sg,
			struct pkb_queue *out, struct pkb **consumed);

/* tcp_cookie.c */
uint32_t tcp_cookie_make(const struct inet_addr *laddr, uint16_t lport,
			 const struct inet_addr *raddr, uint16_t rport, uint32_t seq,
			 uint16_t *mss);
/*
 * A cookie's timestamp: below every later one of the connection (PAWS), its
 * low 6 bits the peer's window scale (15: none) and SACK, which the ACK's
 * TSecr brings back.
 */
uint32_t tcp_cookie_tsval(uint32_t ts_now, bool ws, uint8_t wscale, bool sack);
void tcp_cookie_ts_decode(uint32_t tsecr, bool *ws, uint8_t *wscale, bool *sack);
/* The MSS the cookie in @ack - 1 encodes, or 0 when it is not ours or too old. */
uint16_t tcp_cookie_check(const struct inet_addr *laddr, uint16_t lport,
			  const struct inet_addr *raddr, uint16_t rport, uint32_t seq,
			  uint32_t cookie);

#endif
