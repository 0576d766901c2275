/*
 * TCP input: the arrival rules of RFC 9293 3.10.7 for a segment whose
 * connection was found, with RFC 5961's defences (a reset or SYN that is
 * not exactly where we expect it earns a rate-limited challenge ACK; an
 * ACK of what was never sent is dropped), RFC 7323's PAWS, the receive
 * queues (in order: read by tcp_recv; out of order: bounded, reported by
 * SACK), and the ACK side of congestion control: what a tail loss probe's
 * ACK shows (RFC 8985 7.4), and undoing a reduction that the ACKs prove
 * needless -- a timeout by Eifel (RFC 3522, answered as RFC 4015 says), a
 * fast retransmit by D-SACKs (RFC 3708).
 *
 * Everything here is a peer's word: option lengths are checked before any
 * option is read, and a segment with a malformed option is dropped whole.
 */
#include <errno.h>
#include <string.h>

#include "tcp.h"

#define PAWS_IDLE_MS (24ull * 24 * 3600 * 1000) /* RFC 7323 5.5: 24 days */

int tcp_parse_options(const uint8_t *o, unsigned len, struct tcp_opts *out)
{
	unsigned i = 0;

	while (i < len) {
		uint8_t kind = o[i], olen;

		if (kind == OPT_EOL)
			break;
		if (kind == OPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= len)
			return -EINVAL;
		olen = o[i + 1];
		if (olen < 2 || i + olen > len)
			return -EINVAL;
		switch (kind) {
		case OPT_MSS:
			if (olen != 4)
				return -EINVAL;
			out->mss_ok = true;
			out->mss = get16(o + i + 2);
			break;
		case OPT_WS:
			if (olen != 3)
				return -EINVAL;
			out->ws_ok = true;
			out->ws = o[i + 2];
			break;
		case OPT_SACK_PERM:
			if (olen != 2)
				return -EINVAL;
			out->sack_ok = true;
			break;
		case OPT_TS:
			if (olen != 10)
				return -EINVAL;
			out->ts_ok = true;
			out->tsval = get32(o + i + 2);
			out->tsecr = get32(o + i + 6);
			break;
		case OPT_SACK:
			if (olen < 10 || (olen - 2) % 8)
				return -EINVAL;
			out->nsack = (uint8_t)MIN((olen - 2u) / 8, (unsigned)TCP_SACK_BLOCKS);
			for (unsigned b = 0; b < out->nsack; b++) {
				out->sack[b][0] = get32(o + i + 2 + 8 * b);
				out->sack[b][1] = get32(o + i + 6 + 8 * b);
			}
			break;
		default:
			break; /* RFC 9293 3.2: options we don't know are passed over */
		}
		i += olen;
	}
	return 0;
}

static bool challenge_ok(void)
{
	uint64_t now = inet_now_ms();

	if (now - inet_stack->tcp_challenge_ms >= 1000) {
		inet_stack->tcp_challenge_tokens = TCP_CHALLENGE_RATE;
		inet_stack->tcp_challenge_ms = now;
	}
	if (!inet_stack->tcp_challenge_tokens)
		return false;
	inet_stack->tcp_challenge_tokens--;
	inet_count(INET_MIB_TCP_CHALLENGE_ACKS);
	return true;
}

static void challenge_ack(struct tcp_sock *s, struct pkb_queue *out)
{
	if (challenge_ok())
		tcp_send_ack_locked(s, out);
}

static void arm_at(uint64_t *t, uint64_t when)
{
	*t = when;
	if (when < atomic_load(&inet_stack->tcp_next_ms))
		atomic_store(&inet_stack->tcp_next_ms, when);
}

static void enter_time_wait(struct tcp_sock *s)
{
	s->t_rtx = s->t_persist = s->t_keep = s->t_delack = 0;
	arm_at(&s->t_wait, inet_now_ms() + TCP_TIME_WAIT_MS);
	tcp_set_state(s, TCP_TIME_WAIT);
}

static void init_cwnd(struct tcp_sock *s)
{
	uint32_t m = tcp_eff_mss(s);

	/* RFC 5681 3.1's initial window. */
	s->cwnd = MIN(4 * m, MAX(2 * m, 4380u));
	s->ssthresh = UINT32_MAX;
	s->recover = s->snd_una;
}

/*
 * RFC 7323 4.1: the echoed timestamp times the round trip, if it is one we
 * could have sent. @bound_ms (0: none) is the time since the acknowledged
 * data was last sent: a peer that got only old duplicates echoes an old
 * TS.Recent, and that sample, minutes long under heavy loss, would set the
 * RTO to its ceiling.
 */
static void ts_sample(struct tcp_sock *s, const struct tcp_seg *sg, uint64_t bound_ms)
{
	uint32_t rtt = tcp_ts_now(s) - sg->o.tsecr;

	if (!sg->o.ts_ok || !sg->o.tsecr || rtt >= 3600000u)
		return;
	if (bound_ms && rtt > bound_ms)
		rtt = (uint32_t)bound_ms;
	tcp_rtt_sample(s, rtt);
}

/*
 * The handshake is over. RFC 5681 3.1: after a lost SYN or SYN-ACK the
 * initial window is one segment; RFC 6298 5.7: and without an RTT sample
 * the RTO starts again from 3 s, not the backed-off or the initial 1 s.
 */
static void handshake_done(struct tcp_sock *s, const struct tcp_seg *sg)
{
	/*
	 * RFC 6298 2.2's first measurement, from the SYN or SYN-ACK sent once
	 * to its ACK: with timestamps the echo times it (ts_sample), without
	 * them the time it went (tcp_send_syn_locked). Without it the RTO
	 * stayed 1 s until data was ACKed: a peer without timestamps (Windows
	 * by default) saw its first lost segment resent after a second.
	 */
	if (!s->retries) {
		if (s->ts_ok)
			ts_sample(s, sg, 0);
		else if (s->rtt_start_ms)
			tcp_rtt_sample(s, (uint32_t)(inet_now_ms() - s->rtt_start_ms));
	}
	init_cwnd(s);
	if (s->retries) {
		s->cwnd = tcp_eff_mss(s);
		if (!s->srtt_us)
			s->rto_ms = 3000;
	}
	s->retries = 0;
}

static void take_syn_options(struct tcp_sock *s, const struct tcp_seg *sg)
{
	uint32_t theirs = sg->o.mss_ok ? MAX(sg->o.mss, TCP_MSS_MIN) : tcp_mss_default(&s->laddr);

	s->mss = MIN(s->mss, theirs);
	s->mss_max = MIN(s->mss_max, theirs);
	s->ws_ok = sg->o.ws_ok;
	s->snd_wscale = s->ws_ok ? MIN(sg->o.ws, TCP_WSCALE_MAX) : 0;
	if (!s->ws_ok)
		s->rcv_wscale = 0;
	s->ts_ok = sg->o.ts_ok;
	if (s->ts_ok) {
		s->ts_recent = sg->o.tsval;
		s->ts_recent_ms = inet_now_ms();
	}
	s->sack_ok = sg->o.sack_ok;
}

static void syn_sent(struct tcp_sock *s, struct tcp_seg *sg, struct pkb_queue *out)
{
	bool ack_ok = false;

	if (sg->flags & TCP_ACK) {
		if (SEQ_LEQ(sg->ack, s->iss) || SEQ_GT(sg->ack, s->snd_max)) {
			if (!(sg->flags & TCP_RST)) {
				tcp_reply_rst(&s->laddr, &s->raddr, sg, out);
			}
			return;
		}
		ack_ok = true;
	}
	if (sg->flags & TCP_RST) {
		/* RFC 5961 3.2 leaves SYN-SENT to the ACK check: only an ACK of our SYN counts. */
		if (ack_ok)
			tcp_done_locked(s, -ECONNREFUSED);
		return;
	}
	if (!(sg->flags & TCP_SYN))
		return;
	s->irs = sg->seq;
	s->rcv_nxt = sg->seq + 1;
	/*
	 * The right edge our SYN offered, from the first byte the peer will
	 * send: the SYN's emit set it from a RCV.NXT of 0. Left there, one peer
	 * ISN in about 16,000 put RCV.NXT half the sequence space past it, the
	 * window looked shut, and every segment after the handshake, the
	 * peer's FIN among them, was refused; the others opened the window to
	 * up to 2 GB (acceptable()).
	 */
	s->rcv_adv = s->rcv_nxt + MIN(tcp_rcv_window(s), 65535u);
	take_syn_options(s, sg);
	s->snd_wl1 = sg->seq;
	s->snd_wl2 = sg->ack;
	s->snd_wnd = s->max_snd_wnd = sg->wnd; /* never scaled in a SYN */
	s->last_rcv_ms = inet_now_ms();
	if (ack_ok) {
		s->snd_una = sg->ack;
		s->t_rtx = 0;
		handshake_done(s, sg);
		tcp_set_state(s, TCP_ESTABLISHED);
		if (s->keep_idle_s)
			arm_at(&s->t_keep, inet_now_ms() + s->keep_idle_s * 1000ull);
		s->ack_now = true;
		tcp_output_locked(s, out);
		return;
	}
	/* Both sides opened at once (RFC 9293 3.5, figure 8). */
	s->state = TCP_SYN_RECEIVED;
	tcp_send_syn_locked(s, out);
}

/* RFC 9293 3.10.7.4 "first": is any of the segment within what we offered? */
static bool acceptable(const struct tcp_sock *s, const struct tcp_seg *sg, uint32_t seglen)
{
	uint32_t wnd = SEQ_GT(s->rcv_adv, s->rcv_nxt) ? s->rcv_adv - s->rcv_nxt : 0;

	if (seglen == 0) {
		if (wnd == 0)
			return sg->seq == s->rcv_nxt;
		return SEQ_GEQ(sg->seq, s->rcv_nxt) && SEQ_LT(sg->seq, s->rcv_nxt + wnd);
	}
	if (wnd == 0)
		return false;
	return (SEQ_GEQ(sg->seq, s->rcv_nxt) && SEQ_LT(sg->seq, s->rcv_nxt + wnd)) ||
	       (SEQ_GEQ(sg->seq + seglen - 1, s->rcv_nxt) &&
		SEQ_LT(sg->seq + seglen - 1, s->rcv_nxt + wnd));
}

/* Mark what the peer's SACK blocks cover: whether any of it is news. */
static bool take_sack(struct tcp_sock *s, const struct tcp_seg *sg)
{
	bool news = false;

	for (unsigned b = 0; b < sg->o.nsack; b++) {
		uint32_t l = sg->o.sack[b][0], r = sg->o.sack[b][1];

		/* Only blocks about data in flight mean anything (RFC 2018 and 6675). */
		if (!SEQ_LT(l, r) || SEQ_LT(l, s->snd_una) || SEQ_GT(r, s->snd_max))
			continue;
		for (struct pkb *p = s->sndq.head; p; p = p->next) {
			if (SEQ_GEQ(p->seq, r))
				break;
			if (!p->sacked && SEQ_GEQ(p->seq, l) && SEQ_LEQ(p->seq + p->len, r)) {
				tcp_rack_delivered(s, p, sg);
				p->sacked = 1;
				p->lost = 0;
				news = true;
			}
		}
		if (SEQ_GT(r, s->sack_high))
			s->sack_high = r;
	}
	return news;
}

/* Bytes the peer holds above snd_una (RFC 6675's IsLost(snd_una) counts them). */
static uint32_t sacked_bytes(const struct tcp_sock *s)
{
	uint32_t n = 0;

	if (!SEQ_GT(s->sack_high, s->snd_una))
		return 0; /* nothing SACKed: no walk on every ACK of a clean transfer */
	for (const struct pkb *p = s->sndq.head; p; p = p->next)
		if (p->sacked)
			n += p->len;
	return n;
}

/*
 * Drop acknowledged data from the send queue: @n bytes from its head, as
 * @sg acknowledged them. The latest time any of it was sent (0: none), for
 * the RTT sample's bound.
 */
static uint64_t sndq_trim(struct tcp_sock *s, uint32_t n, const struct tcp_seg *sg)
{
	uint64_t last = 0;
	struct pkb *p;

	while (n && (p = s->sndq.head)) {
		uint32_t k = MIN(n, p->len);

		last = MAX(last, p->at_ms);
		if (s->sack_ok && k == p->len && !p->sacked)
			tcp_rack_delivered(s, p, sg);
		p->off += k;
		p->len -= k;
		p->seq += k;
		s->sndq_bytes -= k;
		n -= k;
		if (!p->len)
			pkb_free(pkb_queue_take(&s->sndq));
	}
	return last;
}

/* Remember what a fast retransmit (or a probe's repair) is about to reduce. */
static void undo_mark_fr(struct tcp_sock *s, uint32_t low, uint32_t high)
{
	s->undo = TCP_UNDO_FR;
	s->undo_cwnd = s->cwnd;
	s->undo_ssthresh = s->ssthresh;
	s->undo_low = low;
	s->undo_high = high;
	s->undo_rtx = 0;
	s->undo_dsacked = false;
}

/* The reduction was needless: cwnd and ssthresh as they were before it. */
static void undo_reduction(struct tcp_sock *s)
{
	s->cwnd = MAX(s->cwnd, s->undo_cwnd);
	s->ssthresh = MAX(s->ssthresh, s->undo_ssthresh);
	s->undo = TCP_UNDO_NONE;
	s->dupacks = 0;
}

/*
 * RFC 3708: every retransmission of the episode D-SACKed, so the peer had
 * every original: nothing was lost. Only once recovery is over, so that a
 * hole still to be retransmitted is not taken for reordering.
 */
static void undo_fr_if_spurious(struct tcp_sock *s)
{
	if (s->undo != TCP_UNDO_FR || s->in_recovery || s->undo_rtx || !s->undo_dsacked)
		return;
	undo_reduction(s);
	inet_count(INET_MIB_TCP_SPURIOUS_FAST_RETRANS);
}

/*
 * RFC 2883's D-SACK: the first block, below the cumulative ACK or within
 * the second block, names a duplicate the peer got. False when none.
 */
static bool dsack_of(const struct tcp_seg *sg, uint32_t *l, uint32_t *r)
{
	if (!sg->o.nsack)
		return false;
	*l = sg->o.sack[0][0];
	*r = sg->o.sack[0][1];
	if (!SEQ_LT(*l, *r))
		return false;
	if (SEQ_LEQ(*r, sg->ack))
		return true;
	return sg->o.nsack > 1 && SEQ_GEQ(*l, sg->o.sack[1][0]) && SEQ_LEQ(*r, sg->o.sack[1][1]);
}

/* A D-SACK: for a retransmission of the episode (RFC 3708), or the probe's. */
static void take_dsack(struct tcp_sock *s, uint32_t l, uint32_t r)
{
	inet_count(INET_MIB_TCP_DSACK_RECV);
	tcp_rack_dsack(s);
	if (s->undo == TCP_UNDO_FR && s->undo_rtx && SEQ_GEQ(l, s->undo_low) &&
	    SEQ_LEQ(r, s->undo_high)) {
		s->undo_rtx--;
		s->undo_dsacked = true;
		undo_fr_if_spurious(s);
	}
	/* RFC 8985 7.4: the probe was a copy of what the peer had: no loss to answer. */
	if (s->tlp_out && s->tlp_rtx && SEQ_LEQ(l, s->tlp_seq) && SEQ_GT(r, s->tlp_seq))
		s->tlp_out = false;
}

void tcp_enter_recovery(struct tcp_sock *s, struct pkb_queue *out)
{
	uint32_t m = tcp_eff_mss(s);

	inet_count(s->sack_ok ? INET_MIB_TCP_SACK_RECOVERY : INET_MIB_TCP_RENO_RECOVERY);
	undo_mark_fr(s, s->snd_una, s->snd_max);
	s->tlp_out = false;
	/* RFC 6582 3.2 (2): one reduction per window of data. */
	s->recover = s->snd_max;
	s->ssthresh = MAX(tcp_flight(s) / 2, 2 * m);
	s->in_recovery = true;
	s->rtx_high = s->snd_una;
	if (!s->sack_ok) {
		s->cwnd = s->ssthresh + 3 * m;
		tcp_retransmit_hole(s, out);
		return;
	}
	/* The first lost segment goes now, whatever PRR's cwnd says. */
	tcp_prr_start(s);
	tcp_retransmit_lost(s, out, true);
}

/*
 * RFC 8985 7.4: what this ACK says of the unanswered probe. Acknowledged,
 * a probe that resent the last segment repaired a loss (no D-SACK said the
 * original came): cwnd is reduced as a fast recovery would have (from cwnd:
 * the flight it was sent in is acknowledged now), and a later D-SACK may
 * still undo it. SACKed above a hole, what lies before it is lost:
 * recovery starts now, not after three duplicates a tail cannot bring.
 */
static void tlp_ack(struct tcp_sock *s, struct pkb_queue *out)
{
	uint32_t m = tcp_eff_mss(s);

	if (s->in_recovery) {
		s->tlp_out = false;
		return;
	}
	if (SEQ_GEQ(s->snd_una, s->tlp_high)) {
		s->tlp_out = false;
		if (s->tlp_rtx) {
			inet_count(INET_MIB_TCP_LOSS_PROBE_RECOVERY);
			undo_mark_fr(s, s->tlp_seq, s->tlp_high);
			s->undo_rtx = 1;
			s->ssthresh = MAX(s->cwnd / 2, 2 * m);
			s->cwnd = s->ssthresh;
		}
		return;
	}
	for (struct pkb *p = s->sndq.head; p; p = p->next) {
		if (SEQ_GT(p->seq, s->tlp_seq))
			break;
		if (SEQ_LT(s->tlp_seq, p->seq + p->len)) {
			/* (RFC 6582's one reduction a window: not in what an RTO resends.) */
			if (p->sacked && SEQ_LT(s->snd_una, p->seq) &&
			    SEQ_GEQ(s->snd_una, s->recover)) {
				tcp_enter_recovery(s, out);
			}
			break;
		}
	}
}

/* RFC 9293 3.10.7.4 "fifth": false when the segment goes no further. */
static bool take_ack(struct tcp_sock *s, struct tcp_seg *sg, struct pkb_queue *out)
{
	uint32_t m = tcp_eff_mss(s), wnd = sg->wnd << s->snd_wscale, dl, dr, una0, sacked0 = 0;
	bool news = false;

	if (s->state == TCP_SYN_RECEIVED) {
		struct tcp_sock *l = s->parent;

		if (SEQ_LEQ(sg->ack, s->snd_una) || SEQ_GT(sg->ack, s->snd_max)) {
			tcp_reply_rst(&s->laddr, &s->raddr, sg, out);
			return false;
		}
		if (l && l->nacc >= l->backlog) {
			/* No room to be accepted: as if the ACK was lost; our SYN-ACK will come
			 * again. */
			inet_count(INET_MIB_TCP_LISTEN_DROPS);
			return false;
		}
		if (l) {
			l->nsyn--;
			if (l->acc_tail)
				l->acc_tail->qnext = s;
			else
				l->acc_head = s;
			l->acc_tail = s;
			s->qnext = NULL;
			l->nacc++;
			tcp_wake(l);
		}
		s->snd_wnd = s->max_snd_wnd = wnd;
		s->snd_wl1 = sg->seq;
		s->snd_wl2 = sg->ack;
		s->snd_una = sg->ack;
		handshake_done(s, sg);
		s->t_rtx = 0;
		tcp_set_state(s, s->shut_wr ? TCP_FIN_WAIT_1 : TCP_ESTABLISHED);
		if (s->keep_idle_s)
			arm_at(&s->t_keep, inet_now_ms() + s->keep_idle_s * 1000ull);
		return true;
	}
	/* RFC 5961 5.2: an ACK of what was never sent, or far older than any window. */
	if (SEQ_GT(sg->ack, s->snd_max)) {
		challenge_ack(s, out);
		return false;
	}
	if (SEQ_LT(sg->ack, s->snd_una - MAX(s->max_snd_wnd, 1u))) {
		challenge_ack(s, out);
		return false;
	}
	/*
	 * Within what is in flight: a new connection's sack_high was never set,
	 * nor a SYN cookie's recover (0 from the slab: ahead of snd_una for half
	 * the ISNs, which kept its fast retransmit off until the numbers wrapped).
	 */
	if (SEQ_LT(s->sack_high, s->snd_una) || SEQ_GT(s->sack_high, s->snd_max))
		s->sack_high = s->snd_una;
	if (SEQ_GT(s->recover, s->snd_max))
		s->recover = s->snd_una;
	/* RFC 6937's DeliveredData: what snd_una and the SACKed bytes moved. */
	una0 = s->snd_una;
	if (s->sack_ok)
		sacked0 = sacked_bytes(s);
	if (s->sack_ok && sg->o.nsack) {
		if (dsack_of(sg, &dl, &dr))
			take_dsack(s, dl, dr);
		news = take_sack(s, sg);
	}
	if (SEQ_GT(sg->ack, s->snd_una)) {
		uint32_t acked = sg->ack - s->snd_una, data_end = s->snd_end;
		uint64_t sent_ms;
		uint32_t data = (SEQ_LT(sg->ack, data_end) ? sg->ack : data_end) - s->snd_una;
		bool spurious = false;

		/*
		 * Eifel (RFC 3522): the first ACK after a timeout echoes a
		 * timestamp older than the retransmission's, so the original
		 * arrived. Its echo is then a true RTT, not one to bound.
		 */
		if (s->undo == TCP_UNDO_RTO) {
			s->undo = TCP_UNDO_NONE;
			spurious = sg->o.ts_ok && sg->o.tsecr && SEQ_LT(sg->o.tsecr, s->undo_tsval);
		}
		if (SEQ_GT(s->snd_una, data_end))
			data = 0;
		sent_ms = sndq_trim(s, data, sg);
		if (s->ts_ok && sg->o.ts_ok && sg->o.tsecr)
			ts_sample(s, sg, sent_ms && !spurious ? inet_now_ms() - sent_ms + 1 : 0);
		else if (s->rtt_timing && SEQ_GT(sg->ack, s->rtt_seq)) {
			s->rtt_timing = false;
			tcp_rtt_sample(s, (uint32_t)(inet_now_ms() - s->rtt_start_ms));
		}
		s->retries = 0;
		if (spurious) {
			/* RFC 4015: the reduction taken back, and no go-back-N after it. */
			undo_reduction(s);
			s->snd_nxt = s->snd_max;
			inet_count(INET_MIB_TCP_SPURIOUS_RTOS);
		}
		if (s->in_recovery) {
			if (SEQ_GEQ(sg->ack, s->recover)) {
				/* RFC 6582 3.2 (3): a full ACK ends recovery. */
				s->in_recovery = false;
				s->cwnd = MIN(s->ssthresh, s->snd_max - sg->ack + m);
				if (s->sack_ok)
					tcp_recovery_done(s);
				undo_fr_if_spurious(s);
			} else if (!s->sack_ok) {
				/* (5): a partial ACK: the next hole goes now; deflate by what was
				 * acked. */
				s->snd_una = sg->ack;
				if (SEQ_LT(s->rtx_high, s->snd_una))
					s->rtx_high = s->snd_una;
				tcp_retransmit_hole(s, out);
				s->cwnd = s->cwnd > acked ? s->cwnd - acked : m;
				if (acked >= m)
					s->cwnd += m;
				tcp_arm_rtx(s);
			}
		} else if (s->cwnd < s->ssthresh) {
			s->cwnd += MIN(acked, m); /* slow start, RFC 3465's L of one segment */
		} else {
			/*
			 * Congestion avoidance by bytes (RFC 3465 2.1): a segment a
			 * window, however many ACKs that window earns -- counted per
			 * ACK, a peer's delayed ACKs halved the growth.
			 */
			s->cwnd += MAX((uint32_t)((uint64_t)m * MIN(acked, s->cwnd) / s->cwnd), 1u);
		}
		s->cwnd = MIN(s->cwnd, 1u << 30);
		s->dupacks = 0;
		s->snd_una = sg->ack;
		if (SEQ_LT(s->snd_nxt, s->snd_una))
			s->snd_nxt = s->snd_una;
		if (SEQ_LT(s->sack_high, s->snd_una))
			s->sack_high = s->snd_una;
		if (s->snd_una == s->snd_max)
			s->t_rtx = 0;
		else if (!s->in_recovery)
			tcp_arm_loss_timer(s, true); /* RFC 6298 5.3, or RFC 8985 7.2's probe */
		else
			tcp_arm_rtx(s);
		tcp_wake(s);
	} else if (sg->ack == s->snd_una && sg->len == 0 && !(sg->flags & (TCP_SYN | TCP_FIN)) &&
		   (s->sack_ok ? news : wnd == s->snd_wnd && wnd) && s->snd_una != s->snd_max) {
		/*
		 * RFC 5681 2's duplicate ACK; with SACK, RFC 6675 2's alternative: an
		 * ACK that SACKs new data, though the reader moved the window
		 * meanwhile, and not one that says nothing new -- a D-SACK of a copy
		 * the peer had (counting those made every old copy send another), or
		 * an ACK the network duplicated. Nor one with the window still shut:
		 * that is the answer to a window probe (the probe's byte is what is
		 * outstanding), not news of a loss; the third once sent the probe's
		 * byte again at once, a fast retransmit into a zero window (BSD
		 * counts no duplicates while it persists, Linux's probes hold no
		 * data).
		 */
		s->dupacks++;
		s->dup_acks_seen++;
		/* With SACK, PRR sets cwnd and RACK says what is lost (tcp_rack_ack). */
		if (s->in_recovery && !s->sack_ok) {
			s->cwnd += m;
			tcp_retransmit_hole(s, out);
		} else if (!s->in_recovery && !(s->sack_ok && s->rack_on) &&
			   SEQ_GEQ(s->snd_una, s->recover) &&
			   (s->dupacks >= 3 || (s->sack_ok && sacked_bytes(s) >= 3 * m))) {
			tcp_enter_recovery(s, out);
		}
	}
	/* RACK and PRR where there is something to find: SACKs, a recovery, a timer running. */
	if (s->sack_ok && SEQ_GEQ(s->snd_una, una0) &&
	    (news || sacked0 || s->in_recovery || s->t_reo)) {
		int64_t delivered = (int64_t)(s->snd_una - una0) + sacked_bytes(s) - sacked0;

		tcp_rack_ack(s, (uint32_t)MAX(delivered, 0), out);
	}
	if (s->tlp_out)
		tlp_ack(s, out);
	/* RFC 9293 3.10.7.4: the window from the newest segment only. */
	if (SEQ_LT(s->snd_wl1, sg->seq) ||
	    (s->snd_wl1 == sg->seq && SEQ_LEQ(s->snd_wl2, sg->ack))) {
		bool opened = s->snd_wnd == 0 && wnd > 0;

		s->snd_wnd = wnd;
		s->snd_wl1 = sg->seq;
		s->snd_wl2 = sg->ack;
		s->max_snd_wnd = MAX(s->max_snd_wnd, wnd);
		if (opened) {
			s->t_persist = 0;
			s->probes = 0;
			if (s->snd_una != s->snd_max)
				tcp_arm_rtx(s);
		}
	}
	if (s->snd_wnd == 0 && SEQ_LT(s->snd_una, s->snd_end)) {
		/* The peer takes nothing now: probe it rather than retransmit. */
		s->t_rtx = 0;
		if (!s->t_persist)
			arm_at(&s->t_persist, inet_now_ms() + s->rto_ms);
	}
	if (s->fin_sent && SEQ_GT(sg->ack, s->fin_seq)) {
		switch (s->state) {
		case TCP_FIN_WAIT_1:
			tcp_set_state(s, TCP_FIN_WAIT_2);
			s->t_rtx = 0;
			if (!s->user)
				arm_at(&s->t_wait, inet_now_ms() + TCP_FIN_WAIT_2_MS);
			break;
		case TCP_CLOSING:
			enter_time_wait(s);
			break;
		case TCP_LAST_ACK:
			tcp_done_locked(s, 0);
			return false;
		default:
			break;
		}
	}
	return true;
}

/*
 * Put @p (payload at pkb_data, p->seq set) in the out-of-order queue: false
 * if not kept. Its bounds are take_data's, in bytes: what lies past the
 * window we advertised was cut off, and the buffers' true size stays
 * within twice the receive buffer with the in-order queue's. A segment
 * after the last one held -- the common case, a window arriving behind a
 * hole -- is put at the tail without a walk, and one that follows the
 * tail's data and fits in its room is copied there, as rcvq_put does (a
 * peer's small segments then cost a buffer per buffer's worth of bytes).
 * Only a segment into a hole walks the queue, from its head.
 */
static bool ooo_insert(struct tcp_sock *s, struct pkb *p)
{
	struct pkb **pp = &s->ooo, *prev = NULL, *t = s->ooo_tail;

	if (t && SEQ_GEQ(p->seq, t->seq)) {
		if (p->seq == t->seq + t->len && p->len <= t->cap - t->off - t->len) {
			memcpy(pkb_data(t) + t->len, pkb_data(p), p->len);
			t->len += p->len;
			s->ooo_bytes += p->len;
			s->ooo_last = p->seq;
			inet_count(INET_MIB_TCP_OFO_QUEUE);
			inet_count(
			    INET_MIB_TCP_RCV_COALESCE); /* Linux's tcp_try_coalesce counts these */
			pkb_free(p);
			return true;
		}
		prev = t;
		pp = &t->next;
	}
	while (*pp && SEQ_LEQ((*pp)->seq, p->seq)) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (prev && SEQ_GT(prev->seq + prev->len, p->seq)) {
		uint32_t cut = prev->seq + prev->len - p->seq;

		if (cut >= p->len)
			return false; /* all of it held already */
		p->off += cut;
		p->len -= cut;
		p->seq += cut;
	}
	while (*pp && SEQ_LEQ((*pp)->seq + (*pp)->len, p->seq + p->len)) {
		struct pkb *gone = *pp; /* wholly covered by the newcomer */

		pkb_own(gone); /* before it leaves the table: a death then leaves it to inet_reap */
		*pp = gone->next;
		s->ooo_n--;
		s->ooo_bytes -= gone->len;
		s->ooo_true -= gone->truesize;
		pkb_free(gone);
	}
	if (*pp && SEQ_GT(p->seq + p->len, (*pp)->seq))
		p->len = (*pp)->seq - p->seq;
	inet_count(INET_MIB_TCP_OFO_QUEUE);
	p->next = *pp;
	*pp = p;
	/*
	 * The tail's run (the SACK block output finds without a walk): a new
	 * tail begins one unless it follows a buffer of the run; a segment
	 * reaching the run from below begins it.
	 */
	if (!p->next) {
		if (!prev || prev->seq + prev->len != p->seq || s->ooo_tail != prev)
			s->ooo_run = p->seq;
		s->ooo_tail = p;
	} else if (SEQ_LT(p->seq, s->ooo_run) && SEQ_GEQ(p->seq + p->len, s->ooo_run)) {
		s->ooo_run = p->seq;
	}
	s->ooo_n++;
	s->ooo_bytes += p->len;
	s->ooo_true += p->truesize;
	s->ooo_last = p->seq;
	return true;
}

/*
 * Queue @p in order (it is the queue's, or freed). A segment that fits in
 * the room after the last buffer's data is copied there: a peer sending
 * tiny segments then costs a buffer per buffer's worth of bytes, not one
 * per segment, and the receive buffer's bound is not spent on overheads.
 */
static void rcvq_put(struct tcp_sock *s, struct pkb *p)
{
	struct pkb *t = s->rcvq.tail;
	uint32_t n = p->len;

	if (t && n <= t->cap - t->off - t->len) {
		memcpy(pkb_data(t) + t->len, pkb_data(p), n);
		t->len += n;
		inet_count(INET_MIB_TCP_RCV_COALESCE);
		pkb_free(p);
	} else {
		pkb_queue_put(&s->rcvq, p);
	}
	s->rcvq_bytes += n;
	s->rcv_nxt += n;
	s->bytes_received += n;
}

/* What came in order out of the out-of-order queue. */
static void ooo_drain(struct tcp_sock *s)
{
	struct pkb *p;

	while ((p = s->ooo) && SEQ_LEQ(p->seq, s->rcv_nxt)) {
		uint32_t cut = s->rcv_nxt - p->seq;

		pkb_own(p);
		s->ooo = p->next;
		if (!s->ooo)
			s->ooo_tail = NULL;
		s->ooo_n--;
		s->ooo_bytes -= p->len;
		s->ooo_true -= p->truesize;
		if (cut >= p->len) {
			pkb_free(p);
			continue;
		}
		p->off += cut;
		p->len -= cut;
		p->seq += cut;
		rcvq_put(s, p);
	}
	/* What is left of the tail's run begins at the head, if that was in it. */
	if (s->ooo && SEQ_LT(s->ooo_run, s->ooo->seq))
		s->ooo_run = s->ooo->seq;
}

/* RFC 9293 3.10.7.4 "seventh": data; true when @p was kept. */
static bool take_data(struct tcp_sock *s, struct pkb *p, struct tcp_seg *sg)
{
	uint32_t seq = sg->seq, len = sg->len, m = tcp_eff_mss(s);
	bool had_ooo = s->ooo != NULL;

	if (SEQ_LT(seq, s->rcv_nxt)) {
		uint32_t cut = s->rcv_nxt - seq;

		if (cut >= len) {
			/* A duplicate: say where we are, and (RFC 2883) that it was one. */
			s->ack_now = true;
			s->dsack[0] = seq;
			s->dsack[1] = seq + len;
			s->dsack_on = s->sack_ok;
			return false;
		}
		p->off += cut;
		p->len -= cut;
		seq += cut;
		len -= cut;
	}
	if (SEQ_GT(seq + len, s->rcv_adv)) {
		len = SEQ_GT(s->rcv_adv, seq) ? s->rcv_adv - seq : 0;
		p->len = len;
		sg->flags &= (uint8_t)~TCP_FIN; /* the FIN lay past the window */
		if (!len) {
			s->ack_now = true;
			return false;
		}
	}
	/* The buffers' true size stays within twice the buffer, else the segment goes. */
	if (s->rcvq.bytes + s->ooo_true + p->truesize > 2 * s->rcvbuf) {
		if (seq == s->rcv_nxt && s->ooo) {
			/* Out-of-order data must not starve what comes in order (RFC 2018 8). */
			pkb_purge(&s->ooo);
			s->ooo_tail = NULL;
			s->ooo_n = s->ooo_bytes = s->ooo_true = 0;
		}
		if (s->rcvq.bytes + s->ooo_true + p->truesize > 2 * s->rcvbuf) {
			inet_count(INET_MIB_TCP_RCVQ_DROPS);
			s->ack_now = true;
			return false;
		}
	}
	p->seq = seq;
	if (seq != s->rcv_nxt) {
		/* A hole before it: say so at once, with SACK blocks (RFC 5681 4.2). */
		s->ack_now = true;
		sg->flags &= (uint8_t)~TCP_FIN; /* not kept with it; the peer sends it again */
		/*
		 * The stack's last quarter of its budget is not for data that may
		 * never be read: in-order data, ACKs and other connections need it.
		 */
		if (!inet_mem_room((uint32_t)(inet_stack->mem_max / 4))) {
			inet_count(INET_MIB_TCP_OOO_DROPS);
			return false;
		}
		return ooo_insert(s, p);
	}
	rcvq_put(s, p);
	ooo_drain(s);
	/* A segment the host coalesced (offloads, vnet.c) counts as the MSS it holds. */
	s->segs_unacked += len / m;
	/* An ACK at least every second full segment, at once when a hole was being filled. */
	if (had_ooo || s->segs_unacked >= 2)
		s->ack_now = true;
	else if (!s->t_delack)
		arm_at(&s->t_delack, inet_now_ms() + TCP_DELACK_MS);
	tcp_wake(s);
	return true;
}

void tcp_segment_locked(struct tcp_sock *s, struct pkb *p, struct tcp_seg *sg,
			struct pkb_queue *out, struct pkb **consumed)
{
	uint32_t seglen = sg->len + (sg->flags & TCP_SYN ? 1 : 0) + (sg->flags & TCP_FIN ? 1 : 0);
	uint32_t fin_at;

	if (s->state == TCP_SYN_SENT) {
		syn_sent(s, sg, out);
		return;
	}
	/* RFC 7323 5.3: PAWS, before anything else is believed. */
	if (s->ts_ok && !(sg->flags & TCP_RST)) {
		if (!sg->o.ts_ok)
			return;
		if (SEQ_LT(sg->o.tsval, s->ts_recent) &&
		    inet_now_ms() - s->ts_recent_ms < PAWS_IDLE_MS) {
			inet_count(INET_MIB_TCP_PAWS_DROPS);
			/*
			 * An old copy of data we have: a D-SACK says so (RFC 2883),
			 * as for a duplicate that passed -- a reordered original
			 * behind its retransmission lands here, and that D-SACK is
			 * what lets its sender undo (RFC 3708).
			 */
			if (sg->len && SEQ_LT(sg->seq, s->rcv_nxt)) {
				s->dsack[0] = sg->seq;
				s->dsack[1] = SEQ_LT(sg->seq + sg->len, s->rcv_nxt)
						  ? sg->seq + sg->len
						  : s->rcv_nxt;
				s->dsack_on = s->sack_ok;
			}
			s->ack_now = true;
			tcp_output_locked(s, out);
			return;
		}
	}
	if (s->state == TCP_SYN_RECEIVED && (sg->flags & TCP_SYN) && !(sg->flags & TCP_ACK) &&
	    sg->seq == s->irs) {
		/* Our SYN-ACK was lost: the peer asks again. */
		tcp_send_syn_locked(s, out);
		return;
	}
	if (!acceptable(s, sg, seglen)) {
		if (!(sg->flags & TCP_RST)) {
			/* In TIME-WAIT that is the peer's FIN again: our ACK was lost. */
			if (s->state == TCP_TIME_WAIT && (sg->flags & TCP_FIN))
				arm_at(&s->t_wait, inet_now_ms() + TCP_TIME_WAIT_MS);
			s->ack_now = true;
			tcp_output_locked(s, out);
		}
		return;
	}
	s->last_rcv_ms = inet_now_ms();
	s->kprobes = 0;
	/* RFC 7323 4.3: remember the newest timestamp of what we were waiting for. */
	if (s->ts_ok && sg->o.ts_ok && SEQ_GEQ(sg->o.tsval, s->ts_recent) &&
	    SEQ_LEQ(sg->seq, s->last_ack_sent)) {
		s->ts_recent = sg->o.tsval;
		s->ts_recent_ms = inet_now_ms();
	}
	if (sg->flags & TCP_RST) {
		/* RFC 5961 3.2: only a reset exactly at RCV.NXT ends it; others are challenged. */
		if (sg->seq != s->rcv_nxt) {
			challenge_ack(s, out);
			return;
		}
		switch (s->state) {
		case TCP_SYN_RECEIVED:
			tcp_done_locked(s, s->parent ? 0 : -ECONNREFUSED);
			break;
		case TCP_CLOSING:
		case TCP_LAST_ACK:
		case TCP_TIME_WAIT:
			tcp_done_locked(s, 0);
			break;
		default:
			tcp_done_locked(s, -ECONNRESET);
			break;
		}
		return;
	}
	if (sg->flags & TCP_SYN) {
		/* RFC 5961 4.2: a SYN on a synchronized connection, wherever it lies. */
		challenge_ack(s, out);
		return;
	}
	if (!(sg->flags & TCP_ACK))
		return;
	if (!take_ack(s, sg, out))
		return;
	fin_at = sg->seq + sg->len;
	switch (s->state) {
	case TCP_FIN_WAIT_1:
	case TCP_FIN_WAIT_2:
		if (sg->len && !s->user && !s->parent) {
			/* RFC 1122 4.2.2.13: data after close has no reader; say it was lost. */
			inet_count(INET_MIB_TCP_ABORT_ON_DATA);
			tcp_send_rst_locked(s, out);
			tcp_done_locked(s, 0);
			return;
		}
		/* fall through */
	case TCP_ESTABLISHED:
		if (sg->len && take_data(s, p, sg))
			*consumed = p;
		break;
	case TCP_TIME_WAIT:
		if (sg->flags & TCP_FIN) {
			/* The peer's FIN again: our ACK was lost. Again, and 2 MSL more. */
			s->ack_now = true;
			arm_at(&s->t_wait, inet_now_ms() + TCP_TIME_WAIT_MS);
		}
		sg->flags &= (uint8_t)~TCP_FIN;
		break;
	default:
		break; /* after the peer's FIN there is no more data */
	}
	if ((sg->flags & TCP_FIN) && fin_at == s->rcv_nxt && !s->fin_rcvd) {
		s->rcv_nxt++;
		s->fin_rcvd = true;
		s->ack_now = true;
		tcp_wake(s);
		switch (s->state) {
		case TCP_ESTABLISHED:
			tcp_set_state(s, TCP_CLOSE_WAIT);
			break;
		case TCP_FIN_WAIT_1:
			tcp_set_state(s, TCP_CLOSING);
			break;
		case TCP_FIN_WAIT_2:
			enter_time_wait(s);
			break;
		default:
			break;
		}
	}
	tcp_output_locked(s, out);
}
