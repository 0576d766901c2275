/*
 * TCP output: segments built under tcp_lock into a queue that tcp_xmit
 * sends once the lock is dropped; what may be sent (windows, Nagle, the
 * sender's silly window rule); the timers (retransmission with RFC 6298's
 * estimator and Karn's rule, persist, delayed ACK, keepalive, TIME-WAIT);
 * and the congestion window of RFC 5681 with RFC 6582's recovery: without
 * SACK it retransmits the holes one per ACK, with SACK what RACK marked lost
 * goes while PRR's cwnd leaves room above pipe (tcp_recovery.c decides
 * both); the tail loss probe (RFC 8985 7), which
 * shares the retransmission timer (pto_armed says which it is), and what a
 * timeout keeps so that tcp_input.c can undo it (RFC 3522, RFC 4015).
 *
 * Over an interface with offloads (vnet.c) a segment's checksum is the
 * host's to finish, and new data goes in segments of up to TCP_TSO_MAX
 * that the host cuts into MSS-sized ones (TSO): whole MSS each but the
 * stream's last, within the windows as one segment would be. What goes
 * again -- retransmissions, probes -- goes an MSS at a time, as before:
 * the send queue's SACK marks are per MSS-sized buffer.
 */
#include <errno.h>
#include <string.h>

#include "tcp.h"

/*
 * A TSO segment's payload at most: with its headers and headroom it is one
 * 64 KiB kmalloc block (pkb.c), and its datagram stays under 64 KiB.
 */
#define TCP_TSO_MAX (65536u - sizeof(struct pkb) - INET_HEADROOM - TCP_HLEN - TCP_OPT_MAX)

static void arm(uint64_t *t, uint64_t when)
{
	*t = when;
	if (when < atomic_load(&inet_stack->tcp_next_ms))
		atomic_store(&inet_stack->tcp_next_ms, when);
}

uint32_t tcp_eff_mss(const struct tcp_sock *s)
{
	uint32_t m = s->mss - (s->ts_ok ? 12u : 0u);

	return MAX(m, 64u);
}

uint32_t tcp_flight(const struct tcp_sock *s)
{
	return s->snd_max - s->snd_una;
}

uint32_t tcp_ts_now(const struct tcp_sock *s)
{
	return (uint32_t)inet_now_ms() + s->ts_off;
}

uint32_t tcp_rcv_window(const struct tcp_sock *s)
{
	uint32_t w = s->rcvbuf > s->rcvq_bytes ? s->rcvbuf - s->rcvq_bytes : 0;
	uint32_t most = 65535u << (s->ws_ok ? s->rcv_wscale : 0);

	/* Receiver's silly window avoidance (RFC 9293 3.8.6.2.2): no slivers. */
	if (w < s->rcvbuf / 4 && w < s->mss)
		w = 0;
	return MIN(w, most);
}

void tcp_arm_rtx(struct tcp_sock *s)
{
	uint64_t rto = (uint64_t)s->rto_ms;

	s->pto_armed = false;
	arm(&s->t_rtx, inet_now_ms() + rto);
}

static bool sending_state(const struct tcp_sock *s);

/*
 * RFC 8985 7.2's PTO, or 0 when no probe is due: with SACK only (without
 * it the probe's ACK cannot show what else was lost), an RTT measured, not
 * in recovery or after a timeout, and no probe unanswered. One segment in
 * flight may wait for the peer's delayed ACK: that is added. A PTO past
 * the RTO is the RTO's (TLP_calc_PTO: the probe goes in the RTO's place):
 * a lone segment's PTO, 2 x SRTT + 200 ms, is past any RTO near its 200 ms
 * floor, and when the PTO was none instead, every lone segment lost (a
 * request's answer) cost an RTO -- cwnd one segment, ssthresh two, the
 * RTO doubled -- where the probe resends it at the same instant and its
 * ACK halves cwnd once.
 */
static uint32_t pto_ms(const struct tcp_sock *s)
{
	uint32_t pto;

	if (!s->sack_ok || !s->srtt_us || s->in_recovery || s->tlp_out || s->retries ||
	    SEQ_LT(s->snd_una, s->recover) || s->snd_una == s->snd_max || !s->snd_wnd ||
	    !sending_state(s))
		return 0;
	pto = 2 * s->srtt_us / 1000;
	if (tcp_flight(s) <= tcp_eff_mss(s))
		pto += TCP_WCDELACK_MS;
	pto = MAX(pto, (uint32_t)TCP_PTO_MIN_MS);
	return MIN(pto, s->rto_ms);
}

void tcp_arm_loss_timer(struct tcp_sock *s, bool restart)
{
	uint32_t pto = pto_ms(s);
	uint64_t now = inet_now_ms();

	if (pto) {
		uint64_t at = now + pto;

		/* An RTO running and due first: the probe takes its time (RFC 8985 7.2). */
		if (!restart && s->t_rtx && !s->pto_armed)
			at = MIN(at, s->t_rtx);
		arm(&s->t_rtx, at);
		s->pto_armed = true;
	} else if (restart || !s->t_rtx || s->pto_armed) {
		tcp_arm_rtx(s);
	}
}

unsigned tcp_syn_options(uint8_t *o, uint32_t mss, bool sack, bool ts, uint32_t tsval,
			 uint32_t tsecr, bool ws, uint8_t wscale)
{
	unsigned n = 0;

	o[n++] = OPT_MSS;
	o[n++] = 4;
	put16(o + n, (uint16_t)MIN(mss, 65535u));
	n += 2;
	if (ts) {
		o[n++] = sack ? OPT_SACK_PERM : OPT_NOP;
		o[n++] = sack ? 2 : OPT_NOP;
		o[n++] = OPT_TS;
		o[n++] = 10;
		put32(o + n, tsval);
		put32(o + n + 4, tsecr);
		n += 8;
	} else if (sack) {
		o[n++] = OPT_NOP;
		o[n++] = OPT_NOP;
		o[n++] = OPT_SACK_PERM;
		o[n++] = 2;
	}
	if (ws) {
		o[n++] = OPT_NOP;
		o[n++] = OPT_WS;
		o[n++] = 3;
		o[n++] = wscale;
	}
	return n;
}

uint8_t tcp_wscale_for(uint32_t rcvbuf)
{
	uint8_t sh = 0;

	while (sh < TCP_WSCALE_MAX && (rcvbuf >> sh) > 65535u)
		sh++;
	return sh;
}

/* sack_blocks when the latest segment went into a hole: the whole queue, its block first. */
static unsigned sack_blocks_walk(const struct tcp_sock *s, uint32_t blk[][2], unsigned max)
{
	uint32_t l = s->ooo->seq, r = l, last = s->ooo_last;
	unsigned nb = 1;
	bool found = false;

	for (const struct pkb *p = s->ooo;; p = p->next) {
		if (p && p->seq == r) {
			r = p->seq + p->len;
			continue;
		}
		/* [l, r) is a block: the latest's goes first, the others while there is room. */
		if (!found && SEQ_GEQ(last, l) && SEQ_LT(last, r)) {
			blk[0][0] = l;
			blk[0][1] = r;
			found = true;
		} else if (nb < max) {
			blk[nb][0] = l;
			blk[nb][1] = r;
			nb++;
		}
		if (!p || (found && nb == max))
			break;
		l = p->seq;
		r = p->seq + p->len;
	}
	if (!found) {
		/* (Drained meanwhile: the lowest blocks, in order.) */
		for (unsigned i = 0; i + 1 < nb; i++) {
			blk[i][0] = blk[i + 1][0];
			blk[i][1] = blk[i + 1][1];
		}
		nb--;
	}
	return nb;
}

/*
 * The out-of-order queue's SACK blocks into @blk, at most @max: RFC 2018
 * 4's order, the block holding the latest segment first, then the others
 * from the lowest. The latest is nearly always in the tail's run, and
 * that block is [ooo_run, the tail's end) without a walk; the walk from
 * the head stops where the run begins, so a queue of one hole and a
 * window behind it costs the same at every ACK however long it grows
 * (the walk along the whole run was a window's worth of steps an ACK).
 * A segment that went into a hole (the latest elsewhere) walks it all
 * (sack_blocks_walk), so that its block is first wherever it lies.
 */
static unsigned sack_blocks(const struct tcp_sock *s, uint32_t blk[][2], unsigned max)
{
	const struct pkb *t = s->ooo_tail;
	uint32_t run = s->ooo_run, end = t->seq + t->len;
	unsigned nb = 1;

	if (!SEQ_GEQ(s->ooo_last, run) || !SEQ_LT(s->ooo_last, end))
		return sack_blocks_walk(s, blk, max);
	blk[0][0] = run;
	blk[0][1] = end;
	for (const struct pkb *p = s->ooo; p && SEQ_LT(p->seq, run); p = p->next) {
		if (nb > 1 && blk[nb - 1][1] == p->seq) {
			blk[nb - 1][1] = p->seq + p->len;
		} else if (nb < max) {
			blk[nb][0] = p->seq;
			blk[nb][1] = p->seq + p->len;
			nb++;
		} else {
			break;
		}
	}
	/* A block ending where the run begins is part of it. */
	if (nb > 1 && blk[nb - 1][1] == run) {
		blk[0][0] = blk[nb - 1][0];
		nb--;
	}
	return nb;
}

/* The options of a segment we send into @o: their length, a multiple of 4. */
static unsigned put_options(struct tcp_sock *s, uint8_t flags, uint8_t *o)
{
	unsigned n = 0;

	if (flags & TCP_SYN) {
		bool synack = flags & TCP_ACK;

		/* A SYN offers everything; a SYN-ACK agrees to what the SYN offered. */
		return tcp_syn_options(o, s->rcv_mss, !synack || s->sack_ok, !synack || s->ts_ok,
				       tcp_ts_now(s), synack ? s->ts_recent : 0,
				       !synack || s->ws_ok, s->rcv_wscale);
	}
	if (s->ts_ok) {
		o[n++] = OPT_NOP;
		o[n++] = OPT_NOP;
		o[n++] = OPT_TS;
		o[n++] = 10;
		put32(o + n, tcp_ts_now(s));
		put32(o + n + 4, s->ts_recent);
		n += 8;
	}
	if (s->sack_ok && (s->ooo || s->dsack_on) && (flags & TCP_ACK) && !(flags & TCP_RST)) {
		/*
		 * A D-SACK block first (RFC 2883), once; then RFC 2018 4's: the
		 * block holding the latest segment, then the others.
		 */
		uint32_t blk[TCP_SACK_BLOCKS][2];
		unsigned nb = 0, most = MIN((TCP_OPT_MAX - n - 4) / 8, (unsigned)TCP_SACK_BLOCKS);

		if (s->dsack_on) {
			blk[0][0] = s->dsack[0];
			blk[0][1] = s->dsack[1];
			s->dsack_on = false;
			nb = 1;
		}
		if (s->ooo && nb < most)
			nb += sack_blocks(s, blk + nb, most - nb);
		o[n++] = OPT_NOP;
		o[n++] = OPT_NOP;
		o[n++] = OPT_SACK;
		o[n++] = (uint8_t)(2 + 8 * nb);
		/* The order: the D-SACK, the latest, then the rest as they lie. */
		for (unsigned k = 0; k < nb; k++) {
			put32(o + n, blk[k][0]);
			put32(o + n + 4, blk[k][1]);
			n += 8;
		}
	}
	return n;
}

/*
 * The checksum, and where the segment goes: an IPv4 one's addresses in
 * p->saddr and p->daddr; an IPv6 one's in front of it, in the addresses'
 * places of the IPv6 header that ipv6_output will write there (tcp_xmit).
 */
static void finish(struct pkb *p, const struct inet_addr *saddr, const struct inet_addr *daddr)
{
	uint8_t *h = pkb_data(p), *ip;
	uint64_t pseudo;
	bool offload = false;

	offload = netif_offloads_to(daddr);
	if (inet_addr_is_v4(daddr)) {
		p->saddr = inet_addr_v4(saddr);
		p->daddr = inet_addr_v4(daddr);
		pseudo = inet_csum_pseudo(p->saddr, p->daddr, IPPROTO_TCP_, p->len);
	} else {
		ip = h - IPV6_HLEN; /* within seg_alloc's INET_HEADROOM */
		memcpy(ip + 8, saddr->a, 16);
		memcpy(ip + 24, daddr->a, 16);
		p->v6 = 1;
		pseudo = inet_csum_pseudo6(saddr, daddr, IPPROTO_TCP_, p->len);
	}
	if (offload) {
		/* The host sums from here on, over what the pseudo-header's sum starts. */
		put16(h + 16, (uint16_t)~inet_csum_fold(pseudo));
		p->csum_start = (uint16_t)p->off;
		p->csum_offset = TCP_CSUM_OFFSET;
	} else {
		put16(h + 16, inet_csum_fold(inet_csum_add(pseudo, h, p->len)));
	}
	inet_count(INET_MIB_TCP_OUT_SEGS);
}

static struct pkb *seg_alloc(uint32_t len)
{
	struct pkb *p = pkb_alloc(INET_HEADROOM + TCP_HLEN + TCP_OPT_MAX + len);

	if (!p) {
		inet_count(INET_MIB_TCP_MEM_FAILS);
		return NULL;
	}
	p->off = INET_HEADROOM;
	return p;
}

static void put_header(uint8_t *h, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
		       unsigned hlen, uint8_t flags, uint16_t wnd)
{
	put16(h, sport);
	put16(h + 2, dport);
	put32(h + 4, seq);
	put32(h + 8, ack);
	h[12] = (uint8_t)(hlen / 4 << 4);
	h[13] = flags;
	put16(h + 14, wnd);
	put16(h + 16, 0);
	put16(h + 18, 0);
}

/* @len bytes from @seq into @dst, from send queue buffer @p on (it holds @seq). */
static void copy_data(const struct pkb *p, uint32_t seq, uint8_t *dst, uint32_t len)
{
	for (; len; p = p->next) {
		uint32_t at = seq - p->seq, n = MIN(p->len - at, len);

		memcpy(dst, p->data + p->off + at, n);
		dst += n;
		seq += n;
		len -= n;
	}
}

/*
 * One segment of @s: @len bytes at @seq from send queue buffer @data on,
 * or fewer: the bytes it holds. RFC 6691: the options come out of the MSS,
 * so SACK blocks on a full segment shorten its data (and then the FIN,
 * after its last byte, waits). Past the MTU, with DF, the datagram would be
 * lost whole -- unless it is a TSO segment (@len past the effective MSS,
 * which only output() asks for, with offloads): the host cuts it into
 * pieces of the MSS less these options, each with this header.
 */
static uint32_t emit(struct tcp_sock *s, uint32_t seq, uint8_t flags, const struct pkb *data,
		     uint32_t len, struct pkb_queue *out)
{
	struct pkb *p = seg_alloc(len);
	uint8_t *h;
	unsigned olen;
	uint32_t wnd;

	if (!p)
		return len; /* as if lost on the way */
	h = pkb_data(p);
	olen = put_options(s, flags, h + TCP_HLEN);
	if (len > tcp_eff_mss(s)) {
		p->gso_size = (uint16_t)(s->mss - olen);
	} else if (len && len + olen > s->mss) {
		len = s->mss - olen;
		flags &= (uint8_t) ~(TCP_FIN | TCP_PSH);
	}
	if (flags & TCP_SYN) {
		wnd = MIN(tcp_rcv_window(s), 65535u);
		s->rcv_adv = s->rcv_nxt + wnd;
	} else {
		uint32_t w = tcp_rcv_window(s), sh = s->ws_ok ? s->rcv_wscale : 0;

		/*
		 * A window never shrinks (RFC 9293 3.8.6.2.2): the old right edge
		 * stands, rounded up to the scale so that it is not cut either.
		 */
		if (SEQ_LT(s->rcv_nxt + w, s->rcv_adv))
			w = s->rcv_adv - s->rcv_nxt + (1u << sh) - 1;
		wnd = MIN(w >> sh, 65535u);
		if (SEQ_GT(s->rcv_nxt + (wnd << sh), s->rcv_adv))
			s->rcv_adv = s->rcv_nxt + (wnd << sh);
	}
	put_header(h, s->lport, s->rport, seq, flags & TCP_ACK ? s->rcv_nxt : 0, TCP_HLEN + olen,
		   flags, (uint16_t)wnd);
	if (len)
		copy_data(data, seq, h + TCP_HLEN + olen, len);
	p->len = TCP_HLEN + olen + len;
	if (flags & TCP_ACK) {
		s->last_ack_sent = s->rcv_nxt;
		s->ack_now = false;
		s->t_delack = 0;
		s->segs_unacked = 0;
	}
	if (flags & TCP_RST)
		inet_count(INET_MIB_TCP_OUT_RSTS);
	finish(p, &s->laddr, &s->raddr);
	pkb_queue_put(out, p);
	return len;
}

void tcp_send_syn_locked(struct tcp_sock *s, struct pkb_queue *out)
{
	/* Our window scale: the least that lets the whole buffer be offered. */
	if (s->state == TCP_SYN_SENT || s->ws_ok)
		s->rcv_wscale = tcp_wscale_for(s->rcvbuf);
	emit(s, s->iss, s->state == TCP_SYN_SENT ? TCP_SYN : TCP_SYN | TCP_ACK, NULL, 0, out);
	/* Timed by the handshake's ACK when there are no timestamps; Karn: the first only. */
	if (!s->retries)
		s->rtt_start_ms = inet_now_ms();
	s->snd_nxt = s->iss + 1;
	if (SEQ_GT(s->snd_nxt, s->snd_max))
		s->snd_max = s->snd_nxt;
	tcp_arm_rtx(s);
}

/*
 * A segment without data says SND.MAX, not SND.NXT: after a timeout
 * rewinds snd_nxt to resend, the peer has seen sequence numbers up to
 * snd_max, and a bare ACK below its RCV.NXT is unacceptable to it (RFC
 * 9293 3.10.7.4): the ACKs of both sides were being thrown away, each side
 * retransmitting what the other already had, until the connection died.
 */
void tcp_send_ack_locked(struct tcp_sock *s, struct pkb_queue *out)
{
	emit(s, s->snd_max, TCP_ACK, NULL, 0, out);
}

void tcp_send_rst_locked(struct tcp_sock *s, struct pkb_queue *out)
{
	emit(s, s->snd_max, TCP_RST | TCP_ACK, NULL, 0, out);
}

void tcp_reply_rst(const struct inet_addr *laddr, const struct inet_addr *raddr,
		   const struct tcp_seg *sg, struct pkb_queue *out)
{
	struct pkb *p;
	uint32_t seq = 0, ack = 0;
	uint8_t flags = TCP_RST;

	if (sg->flags & TCP_RST)
		return;
	if (sg->flags & TCP_ACK) {
		seq = sg->ack;
	} else {
		ack = sg->seq + sg->len + (sg->flags & TCP_SYN ? 1 : 0) +
		      (sg->flags & TCP_FIN ? 1 : 0);
		flags |= TCP_ACK;
	}
	p = seg_alloc(0);
	if (!p)
		return;
	put_header(pkb_data(p), sg->dport, sg->sport, seq, ack, TCP_HLEN, flags, 0);
	p->len = TCP_HLEN;
	inet_count(INET_MIB_TCP_OUT_RSTS);
	finish(p, laddr, raddr);
	pkb_queue_put(out, p);
}

void tcp_send_synack_raw(const struct inet_addr *laddr, uint16_t lport,
			 const struct inet_addr *raddr, uint16_t rport, uint32_t iss, uint32_t ack,
			 uint16_t mss, const struct tcp_cookie_opts *co, struct pkb_queue *out)
{
	struct pkb *p = seg_alloc(0);
	uint8_t *h;
	unsigned olen;

	if (!p)
		return;
	h = pkb_data(p);
	olen = tcp_syn_options(h + TCP_HLEN, mss, co->sack, co->ts, co->tsval, co->tsecr, co->ws,
			       co->rcv_ws);
	put_header(h, lport, rport, iss, ack, TCP_HLEN + olen, TCP_SYN | TCP_ACK,
		   (uint16_t)MIN(INET_TCP_RCVBUF_DEFAULT, 65535u));
	p->len = TCP_HLEN + olen;
	finish(p, laddr, raddr);
	pkb_queue_put(out, p);
}

void tcp_xmit(struct pkb_queue *out)
{
	struct pkb *p;

	/* DF on every segment: a hop too small for it says so (RFC 1191), tcp_pmtu_locked. */
	while ((p = pkb_queue_take(out))) {
		struct inet_addr src, dst;
		struct netif *nif;
		int err;

		if (!p->v6) {
			ipv4_output(p, p->saddr, p->daddr, IPPROTO_TCP_, true);
			continue;
		}
		memcpy(src.a, pkb_data(p) - IPV6_HLEN + 8, 16);
		memcpy(dst.a, pkb_data(p) - IPV6_HLEN + 24, 16);
		/* A link-local peer: by the interface our link-local address is on. */
		nif = ipv6_route_scope(&dst, 0, &src, &err);
		if (nif) {
			ipv6_output(nif, p, &src, &dst, IPPROTO_TCP_, 0);
		} else {
			inet_count(INET_MIB_IP6_OUT_NO_ROUTES);
			pkb_free(p);
		}
	}
}

/* The buffer of the send queue holding @seq (NULL: none). */
static struct pkb *find_seq(struct tcp_sock *s, uint32_t seq)
{
	for (struct pkb *p = s->sndq.head; p; p = p->next)
		if (SEQ_GEQ(seq, p->seq) && SEQ_LT(seq, p->seq + p->len))
			return p;
	return NULL;
}

static bool sending_state(const struct tcp_sock *s)
{
	switch (s->state) {
	case TCP_ESTABLISHED:
	case TCP_CLOSE_WAIT:
	case TCP_FIN_WAIT_1:
	case TCP_CLOSING:
	case TCP_LAST_ACK:
		return true;
	default:
		return false;
	}
}

/* Send @len bytes from @seq (a retransmission when below snd_max): the bytes that went. */
static uint32_t send_data(struct tcp_sock *s, struct pkb *p, uint32_t seq, uint32_t len, bool fin,
			  struct pkb_queue *out)
{
	uint8_t flags = TCP_ACK;
	uint32_t want = len;

	if (seq + len == s->snd_end)
		flags |= TCP_PSH;
	if (fin)
		flags |= TCP_FIN;
	len = emit(s, seq, flags, p, len, out);
	/* Their latest transmission: bounds RTT samples, and RACK orders by it. */
	s->tx_no++;
	for (struct pkb *q = p; q && SEQ_LT(q->seq, seq + len); q = q->next) {
		q->at_ms = inet_now_ms();
		q->tx_no = s->tx_no;
		if (SEQ_LT(seq, s->snd_max)) {
			q->rtx = 1;
			if (SEQ_LEQ(q->seq + q->len, seq + len))
				q->lost = 0;
		}
	}
	if (s->in_recovery && s->sack_ok)
		s->prr_out += len; /* RFC 6937: prr_out, new data or not */
	if (SEQ_LT(seq, s->snd_max)) {
		inet_count(INET_MIB_TCP_RETRANS_SEGS);
		s->retransmits++;
		/* RFC 3708: the episode is spurious once each of these is D-SACKed. */
		if (s->undo == TCP_UNDO_FR && SEQ_GEQ(seq, s->undo_low) &&
		    SEQ_LT(seq, s->undo_high))
			s->undo_rtx++;
		if (s->rtt_timing && SEQ_LEQ(seq, s->rtt_seq))
			s->rtt_timing = false; /* Karn: a retransmitted segment is not timed */
	} else {
		s->bytes_sent += len;
		if (want < tcp_eff_mss(s)) /* short by intent, not for SACK blocks */
			s->snd_sml = seq + len;
		if (!s->ts_ok && !s->rtt_timing) {
			s->rtt_timing = true;
			s->rtt_seq = seq;
			s->rtt_start_ms = inet_now_ms();
		}
	}
	if (!s->t_rtx)
		tcp_arm_rtx(s);
	return len;
}

/* @force: the persist timer's turn, when a sliver of a window is better than none. */
static void output(struct tcp_sock *s, struct pkb_queue *out, bool force)
{
	uint32_t emss = tcp_eff_mss(s), n;
	uint32_t tso = netif_offloads_to(&s->raddr) ? TCP_TSO_MAX / emss * emss : 0;
	bool sent = false, blocked = false, fresh = false;
	/* In recovery with SACK, PRR's cwnd bounds pipe, not the flight: the room it leaves. */
	bool prr = s->in_recovery && s->sack_ok;
	uint32_t room = 0;

	if (prr) {
		uint32_t pipe = tcp_pipe(s);

		room = s->cwnd > pipe ? s->cwnd - pipe : 0;
	}

	if (!sending_state(s)) {
		if (s->ack_now && s->state != TCP_CLOSED && s->state != TCP_LISTEN &&
		    s->state != TCP_SYN_SENT)
			tcp_send_ack_locked(s, out);
		return;
	}
	for (;;) {
		/*
		 * RFC 3042's limited transmit: each of the first two duplicate ACKs
		 * lets one new segment past cwnd, so that a small window still gets
		 * its three duplicates and a fast retransmit instead of an RTO.
		 */
		uint32_t lt = s->in_recovery ? 0 : MIN(s->dupacks, 2u) * emss;
		uint32_t win = MIN(s->snd_wnd, s->cwnd + lt), edge = s->snd_una + win, len, avail;
		struct pkb *p;
		bool last, fin;

		if (SEQ_GEQ(s->snd_nxt, s->snd_end))
			break;
		p = find_seq(s, s->snd_nxt);
		if (!p)
			break;
		if (p->sacked && SEQ_LT(s->snd_nxt, s->snd_max)) {
			s->snd_nxt = p->seq + p->len; /* the peer has it */
			continue;
		}
		len = MIN(p->seq + p->len - s->snd_nxt, emss);
		if (tso > emss && SEQ_GEQ(s->snd_nxt, s->snd_max))
			len = MIN(s->snd_end - s->snd_nxt, tso);
		avail = SEQ_GT(edge, s->snd_nxt) ? edge - s->snd_nxt : 0;
		if (prr) {
			avail = SEQ_GT(s->snd_una + s->snd_wnd, s->snd_nxt)
				    ? s->snd_una + s->snd_wnd - s->snd_nxt
				    : 0;
			avail = MIN(avail, room);
		}
		if (len > avail) {
			/* Sender's silly window avoidance: no sliver of a window unless half. */
			if (avail == 0 || (avail < emss && avail < s->max_snd_wnd / 2 && !force)) {
				blocked = true;
				break;
			}
			len = avail;
			force = false;
		}
		/* Whole MSS in a TSO segment: its tail goes with what follows, not alone. */
		if (len > emss && s->snd_nxt + len != s->snd_end)
			len -= len % emss;
		last = s->snd_nxt + len == s->snd_end;
		/*
		 * Nagle (RFC 896) with Minshall's refinement: a short segment waits
		 * only while another short one is unacknowledged, so the tail of a
		 * bulk write does not wait for a delayed ACK of full segments.
		 */
		if (len < emss && last && !s->nodelay && !s->shut_wr &&
		    SEQ_GEQ(s->snd_nxt, s->snd_max) && SEQ_GT(s->snd_sml, s->snd_una))
			break;
		fin = last && s->shut_wr;
		n = send_data(s, p, s->snd_nxt, len, fin, out);
		fin = fin && n == len;
		s->snd_nxt += n + (fin ? 1 : 0);
		room -= MIN(room, n);
		if (fin) {
			s->fin_sent = true;
			s->fin_seq = s->snd_end;
		}
		if (SEQ_GT(s->snd_nxt, s->snd_max)) {
			s->snd_max = s->snd_nxt;
			fresh = true;
		}
		sent = true;
	}
	/* RFC 8985 7.2: new data (re)starts the probe timer. */
	if (fresh)
		tcp_arm_loss_timer(s, false);
	if (s->shut_wr && s->snd_nxt == s->snd_end) {
		/* The FIN alone (first or again): it needs no window. */
		send_data(s, NULL, s->snd_nxt, 0, true, out);
		s->snd_nxt++;
		s->fin_sent = true;
		s->fin_seq = s->snd_end;
		if (SEQ_GT(s->snd_nxt, s->snd_max))
			s->snd_max = s->snd_nxt;
		sent = true;
	}
	/*
	 * Data waits on a window that is closed, or too small to use, and no ACK
	 * will come to change that: the persist timer (RFC 9293 3.8.6.1-2).
	 */
	if (blocked && s->snd_una == s->snd_max && !s->t_persist) {
		s->t_rtx = 0;
		arm(&s->t_persist, inet_now_ms() + s->rto_ms);
	}
	if (s->ack_now && !sent)
		tcp_send_ack_locked(s, out);
}

void tcp_output_locked(struct tcp_sock *s, struct pkb_queue *out)
{
	output(s, out, false);
}

/*
 * A quoted sequence not in flight is anyone's word (RFC 5927 4.1): ignored,
 * as is an MTU that would not lower the MSS. The segments that were too
 * big were dropped by the path, not by congestion: cwnd stays, and what is
 * unacked and unSACKed goes again now (as an RTO would resend it).
 */
bool tcp_pmtu_locked(struct tcp_sock *s, uint32_t seq, uint32_t mtu, struct pkb_queue *out)
{
	uint32_t floor = inet_addr_is_v4(&s->laddr) ? TCP_PMTU_MIN : INET_MTU6_MIN;
	uint32_t mss = MAX(mtu, floor) - tcp_ip_hlen(&s->laddr) - TCP_HLEN;

	if (!sending_state(s) || SEQ_LT(seq, s->snd_una) || SEQ_GEQ(seq, s->snd_max))
		return false;
	if (mss >= s->mss)
		return true;
	s->mss = mss;
	inet_count(INET_MIB_TCP_PMTU_DROPS);
	/*
	 * A recovery the drops began (RACK finds them lost as soon as a smaller
	 * segment behind them is SACKed) was the path's doing: its reduction
	 * is taken back, and the resending below is not PRR's to pace.
	 */
	if (s->in_recovery) {
		s->in_recovery = false;
		if (s->undo == TCP_UNDO_FR) {
			s->cwnd = MAX(s->cwnd, s->undo_cwnd);
			s->ssthresh = MAX(s->ssthresh, s->undo_ssthresh);
			s->undo = TCP_UNDO_NONE;
		}
	}
	for (struct pkb *p = s->sndq.head; p; p = p->next)
		p->lost = 0;
	s->snd_nxt = s->snd_una;
	output(s, out, false);
	return true;
}

void tcp_retransmit_hole(struct tcp_sock *s, struct pkb_queue *out)
{
	uint32_t from = SEQ_GT(s->rtx_high, s->snd_una) ? s->rtx_high : s->snd_una;

	for (struct pkb *p = s->sndq.head; p; p = p->next) {
		uint32_t start, len;

		if (SEQ_LEQ(p->seq + p->len, from) || p->sacked)
			continue;
		if (SEQ_GEQ(p->seq, s->snd_max))
			break;
		/* With SACK, only what lies below data the peer has is a hole. */
		if (s->sack_ok && SEQ_GT(s->sack_high, s->snd_una) && SEQ_GEQ(p->seq, s->sack_high))
			break;
		start = SEQ_GT(from, p->seq) ? from : p->seq;
		len = MIN(p->seq + p->len - start, tcp_eff_mss(s));
		if (SEQ_GT(start + len, s->snd_max))
			len = s->snd_max - start;
		if (!len)
			break;
		inet_count(INET_MIB_TCP_FAST_RETRANS);
		s->rtx_high = start + send_data(s, p, start, len, false, out);
		return;
	}
	/* Only the FIN is missing. */
	if (s->fin_sent && s->snd_una == s->fin_seq && SEQ_LT(s->rtx_high, s->fin_seq + 1)) {
		send_data(s, NULL, s->fin_seq, 0, true, out);
		s->rtx_high = s->fin_seq + 1;
	}
}

void tcp_retransmit_lost(struct tcp_sock *s, struct pkb_queue *out, bool force)
{
	uint32_t emss = tcp_eff_mss(s), pipe = tcp_pipe(s);

	for (struct pkb *p = s->sndq.head; p && SEQ_LT(p->seq, s->snd_nxt); p = p->next) {
		uint32_t end = SEQ_LT(p->seq + p->len, s->snd_nxt) ? p->seq + p->len : s->snd_nxt;

		if (!p->lost || p->sacked)
			continue;
		if (!force && pipe + MIN(end - p->seq, emss) > s->cwnd)
			break;
		force = false;
		inet_count(INET_MIB_TCP_FAST_RETRANS);
		/* A buffer past the MSS (a lowered PMTU) goes in pieces, all now. */
		for (uint32_t at = p->seq, n; SEQ_LT(at, end); at += MAX(n, 1u))
			n = send_data(s, p, at, MIN(end - at, emss), false, out);
		pipe += end - p->seq;
	}
}

void tcp_rtt_sample(struct tcp_sock *s, uint32_t rtt_ms)
{
	uint32_t r = MAX(rtt_ms, 1u) * 1000u, rto;

	/* RFC 6298 2.2 and 2.3, with alpha 1/8 and beta 1/4. */
	if (!s->srtt_us) {
		s->srtt_us = r;
		s->rttvar_us = r / 2;
	} else {
		uint32_t d = s->srtt_us > r ? s->srtt_us - r : r - s->srtt_us;

		s->rttvar_us = s->rttvar_us - s->rttvar_us / 4 + d / 4;
		s->srtt_us = s->srtt_us - s->srtt_us / 8 + r / 8;
	}
	rto = (s->srtt_us + MAX(4 * s->rttvar_us, 1000u)) / 1000u;
	s->rto_ms = MIN(MAX(rto, (uint32_t)TCP_RTO_MIN_MS), (uint32_t)TCP_RTO_MAX_MS);
}

static void backoff(struct tcp_sock *s)
{
	s->rto_ms = MIN(s->rto_ms * 2, (uint32_t)TCP_RTO_MAX_MS);
}

/* False when it gave the connection up. */
static bool rtx_timeout(struct tcp_sock *s, struct pkb_queue *out)
{
	uint32_t emss = tcp_eff_mss(s);

	if (s->state == TCP_SYN_SENT || s->state == TCP_SYN_RECEIVED) {
		inet_count(INET_MIB_TCP_TIMEOUTS);
		if (++s->retries >
		    (s->state == TCP_SYN_SENT ? TCP_SYN_RETRIES : TCP_SYNACK_RETRIES)) {
			inet_count(INET_MIB_TCP_ABORT_ON_TIMEOUT);
			tcp_done_locked(s, -ETIMEDOUT);
			return false;
		}
		backoff(s);
		inet_count(INET_MIB_TCP_RETRANS_SEGS);
		s->retransmits++;
		tcp_send_syn_locked(s, out);
		return true;
	}
	if (s->snd_una == s->snd_max)
		return true; /* all ACKed meanwhile: no timeout to count */
	inet_count(INET_MIB_TCP_TIMEOUTS);
	if (++s->retries > TCP_DATA_RETRIES) {
		inet_count(INET_MIB_TCP_ABORT_ON_TIMEOUT);
		tcp_send_rst_locked(s, out);
		tcp_done_locked(s, -ETIMEDOUT);
		return false;
	}
	/*
	 * Eifel (RFC 3522): with timestamps, the first ACK after the first
	 * retransmission tells whether the original arrived after all (its echo
	 * is older than the retransmission's timestamp), and then RFC 4015 takes
	 * the reduction back. Later timeouts of the same data keep that record.
	 */
	if (s->retries == 1) {
		s->undo = s->ts_ok ? TCP_UNDO_RTO : TCP_UNDO_NONE;
		s->undo_cwnd = s->cwnd;
		s->undo_ssthresh = s->ssthresh;
		s->undo_tsval = tcp_ts_now(s);
	}
	s->tlp_out = false;
	/* RFC 5681 3.1 (4): one segment, and half of what was in flight as the threshold. */
	s->ssthresh = MAX(tcp_flight(s) / 2, 2 * emss);
	s->cwnd = emss;
	s->in_recovery = false;
	s->dupacks = 0;
	s->rtt_timing = false;
	/*
	 * What the peer SACKed is kept, so the timeout resends the holes, not
	 * everything after snd_una (against Linux that was every segment two or
	 * three times, each copy D-SACKed). A SACKed head means the peer reneged
	 * (nothing lies before it): its mark goes; and from the second timeout
	 * on all marks go (RFC 2018 8), should the peer have reneged on more.
	 */
	if (s->sndq.head)
		s->sndq.head->sacked = 0;
	if (s->retries >= 2) {
		for (struct pkb *p = s->sndq.head; p; p = p->next)
			p->sacked = 0;
		s->sack_high = s->snd_una;
	}
	s->recover = s->snd_max; /* RFC 6582 4: no fast retransmit for what the RTO resends */
	backoff(s);
	s->snd_nxt = s->snd_una;
	s->t_rtx = 0;
	tcp_output_locked(s, out);
	if (!s->t_rtx)
		tcp_arm_rtx(s);
	return true;
}

/*
 * RFC 8985 7.3: the probe timer fired. One segment: new data if the peer's
 * window takes it (cwnd is not asked), else the last segment sent again;
 * its ACK -- a SACK of it above holes, or a D-SACK -- tells tcp_input.c
 * what was lost. Then the RTO, as if no probe had gone.
 */
static void loss_probe(struct tcp_sock *s, struct pkb_queue *out)
{
	uint32_t emss = tcp_eff_mss(s), dend, start, len = 0;
	struct pkb *p;

	if (s->snd_una == s->snd_max || !sending_state(s))
		return;
	p = s->snd_nxt == s->snd_max ? find_seq(s, s->snd_nxt) : NULL;
	if (p) {
		len = MIN(p->seq + p->len - s->snd_nxt, emss);
		if (SEQ_LT(s->snd_una + s->snd_wnd, s->snd_nxt + len))
			p = NULL;
	}
	if (p) {
		bool fin = s->snd_nxt + len == s->snd_end && s->shut_wr;
		uint32_t n;

		s->tlp_rtx = false;
		s->tlp_seq = s->snd_nxt;
		n = send_data(s, p, s->snd_nxt, len, fin, out);
		fin = fin && n == len;
		s->snd_nxt += n + (fin ? 1 : 0);
		if (fin) {
			s->fin_sent = true;
			s->fin_seq = s->snd_end;
		}
		s->snd_max = s->snd_nxt;
	} else {
		/* The highest segment sent; with the FIN if that went too. */
		dend = s->fin_sent && SEQ_GT(s->snd_max, s->fin_seq) ? s->fin_seq : s->snd_max;
		p = SEQ_GT(dend, s->snd_una) ? find_seq(s, dend - 1) : NULL;
		start = p ? (dend - p->seq > emss ? dend - emss : p->seq) : dend;
		s->tlp_rtx = true;
		s->tlp_seq = start;
		send_data(s, p, start, dend - start, s->fin_sent && dend == s->fin_seq, out);
	}
	s->tlp_out = true;
	s->tlp_high = s->snd_max;
	inet_count(INET_MIB_TCP_LOSS_PROBES);
	tcp_arm_rtx(s);
}

static bool persist_timeout(struct tcp_sock *s, struct pkb_queue *out)
{
	uint32_t seq;
	struct pkb *p;
	uint64_t t;

	if (SEQ_GEQ(s->snd_una, s->snd_end))
		return true;
	if (!s->user && s->probes >= TCP_DATA_RETRIES) {
		/* An orphan whose peer never opens its window would live for ever. */
		inet_count(INET_MIB_TCP_ABORT_ON_TIMEOUT);
		tcp_send_rst_locked(s, out);
		tcp_done_locked(s, -ETIMEDOUT);
		return false;
	}
	if (s->snd_wnd) {
		s->probes = 0;
		output(s, out, true);
		return true;
	}
	/* One byte past the window (RFC 9293 3.8.6.1), the same byte until it is taken. */
	seq = s->snd_nxt == s->snd_una ? s->snd_nxt : s->snd_una;
	p = find_seq(s, seq);
	if (!p)
		return true;
	emit(s, seq, TCP_ACK, p, 1, out);
	if (seq == s->snd_nxt) {
		s->snd_nxt++;
		s->bytes_sent++;
		if (SEQ_GT(s->snd_nxt, s->snd_max))
			s->snd_max = s->snd_nxt;
	}
	s->probes++;
	t = (uint64_t)s->rto_ms << MIN(s->probes, 8u);
	arm(&s->t_persist, inet_now_ms() + MIN(t, (uint64_t)TCP_RTO_MAX_MS));
	return true;
}

static bool keep_timeout(struct tcp_sock *s, uint64_t now, struct pkb_queue *out)
{
	uint64_t idle = (uint64_t)s->keep_idle_s * 1000u;
	uint64_t intvl = MIN(MAX(idle, 1000u), 75000u);

	if (!s->keep_idle_s || s->state != TCP_ESTABLISHED)
		return true;
	if (now - s->last_rcv_ms < idle) {
		arm(&s->t_keep, s->last_rcv_ms + idle);
		return true;
	}
	if (s->kprobes >= TCP_KEEP_PROBES) {
		inet_count(INET_MIB_TCP_ABORT_ON_TIMEOUT);
		tcp_send_rst_locked(s, out);
		tcp_done_locked(s, -ETIMEDOUT);
		return false;
	}
	/* RFC 1122 4.2.3.6: a segment the peer must ACK, with a sequence number it has. */
	emit(s, s->snd_una - 1, TCP_ACK, NULL, 0, out);
	s->kprobes++;
	arm(&s->t_keep, now + intvl);
	return true;
}

bool tcp_timers_locked(struct tcp_sock *s, uint64_t now, struct pkb_queue *out)
{
	if (s->t_wait && s->t_wait <= now) {
		s->t_wait = 0;
		if (s->state == TCP_TIME_WAIT || s->state == TCP_FIN_WAIT_2) {
			if (s->state == TCP_TIME_WAIT)
				inet_count(INET_MIB_TCP_TW_ENDED);
			tcp_done_locked(s, 0);
			return false;
		}
	}
	if (s->t_delack && s->t_delack <= now) {
		s->t_delack = 0;
		s->ack_now = true;
		inet_count(INET_MIB_TCP_DELAYED_ACKS);
		tcp_output_locked(s, out);
	}
	if (s->t_rtx && s->t_rtx <= now) {
		s->t_rtx = 0;
		if (s->pto_armed) {
			s->pto_armed = false;
			loss_probe(s, out);
		} else if (!rtx_timeout(s, out)) {
			return false;
		}
	}
	if (s->t_reo && s->t_reo <= now) {
		s->t_reo = 0;
		if (sending_state(s))
			tcp_rack_timeout(s, out);
	}
	if (s->t_persist && s->t_persist <= now) {
		s->t_persist = 0;
		if (!persist_timeout(s, out))
			return false;
	}
	if (s->t_keep && s->t_keep <= now) {
		s->t_keep = 0;
		return keep_timeout(s, now, out);
	}
	return true;
}
