/*
 * The sender under loss, with SACK: RACK's loss detection (RFC 8985 6)
 * and PRR's congestion window in fast recovery (RFC 6937, its slow-start
 * reduction bound). The tail loss probe (RFC 8985 7) is tcp_output.c's,
 * and what its ACK says tcp_input.c's; this file decides what is lost
 * and how much may go while recovery lasts.
 *
 * RACK marks a segment lost when one sent after it (in the order of
 * transmission) was delivered and its RTT and a reordering window have
 * passed since it went: a lost retransmission is found as any other loss,
 * where the sequence-based rules (RFC 6675's DupThresh, NewReno's holes)
 * could only wait for the RTO. Times are the stack's milliseconds
 * (pkb.at_ms, the latest transmission of each send queue buffer).
 *
 * Everything here runs under tcp_lock, on a connection with SACK agreed.
 */
#include "tcp.h"

#define DUP_THRESH 3 /* RFC 6675 */

/*
 * RFC 8985 6.2's RACK_sent_after. Its order by time, then sequence, fails
 * within one millisecond tick (a retransmission would seem sent before the
 * segments that went ahead of it in that tick, and be lost again at once):
 * the transmissions are numbered instead (the buffers of one TSO segment
 * share a number: by sequence among them).
 */
static bool sent_after(uint32_t tx1, uint32_t end1, uint32_t tx2, uint32_t end2)
{
	return SEQ_GT(tx1, tx2) || (tx1 == tx2 && SEQ_GT(end1, end2));
}

void tcp_win_min_reset(struct tcp_win_min *f, uint32_t now_ms, uint32_t v)
{
	for (unsigned i = 0; i < 3; i++)
		f->s[i] = (struct tcp_win_sample){now_ms, v};
}

uint32_t tcp_win_min_update(struct tcp_win_min *f, uint32_t win_ms, uint32_t now_ms, uint32_t v)
{
	struct tcp_win_sample now = {now_ms, v};
	uint32_t age;

	/* A new least, or nothing of the window left: this sample is all there is. */
	if (v <= f->s[0].v || now_ms - f->s[2].at_ms > win_ms) {
		tcp_win_min_reset(f, now_ms, v);
		return v;
	}
	if (v <= f->s[1].v)
		f->s[1] = f->s[2] = now;
	else if (v <= f->s[2].v)
		f->s[2] = now;
	age = now_ms - f->s[0].at_ms;
	if (age > win_ms) {
		/* The least expired: the next best moves up, and again if it expired too. */
		f->s[0] = f->s[1];
		f->s[1] = f->s[2];
		f->s[2] = now;
		if (now_ms - f->s[0].at_ms > win_ms) {
			f->s[0] = f->s[1];
			f->s[1] = f->s[2];
		}
	} else if (f->s[1].at_ms == f->s[0].at_ms && age > win_ms / 4) {
		/*
		 * A quarter of the window without a second choice: this sample is
		 * one, so that the best's expiry does not leave the filter with
		 * nothing younger than it.
		 */
		f->s[1] = f->s[2] = now;
	} else if (f->s[2].at_ms == f->s[1].at_ms && age > win_ms / 2) {
		f->s[2] = now;
	}
	return f->s[0].v;
}

uint32_t tcp_pipe(const struct tcp_sock *s)
{
	uint32_t n = 0;

	for (const struct pkb *p = s->sndq.head; p && SEQ_LT(p->seq, s->snd_max); p = p->next) {
		uint32_t end = SEQ_LT(p->seq + p->len, s->snd_max) ? p->seq + p->len : s->snd_max;

		if (!p->sacked && !p->lost)
			n += end - p->seq;
	}
	return n;
}

void tcp_rack_delivered(struct tcp_sock *s, const struct pkb *p, const struct tcp_seg *sg)
{
	uint64_t now = inet_now_ms();
	uint32_t end = p->seq + p->len, rtt;

	if (!p->at_ms || now < p->at_ms)
		return;
	rtt = (uint32_t)MIN(now - p->at_ms, (uint64_t)TCP_RTO_MAX_MS);
	/*
	 * Step 2: a resent segment's ACK may be the original's. With
	 * timestamps the echo says which; without, an RTT below the least seen
	 * is taken for one.
	 */
	if (p->rtx) {
		if (s->ts_ok && sg->o.ts_ok && sg->o.tsecr &&
		    SEQ_LT(sg->o.tsecr, (uint32_t)p->at_ms + s->ts_off))
			return;
		if (s->rack_on && rtt < s->rack_min_rtt_ms)
			return;
	}
	/* Step 3: delivered below what was delivered before, and never resent: reordering. */
	if (s->rack_on && !p->rtx && SEQ_LT(end, s->rack_fack)) {
		s->rack_reordering = true;
		inet_count(INET_MIB_TCP_SACK_REORDER);
	}
	if (!s->rack_on || SEQ_GT(end, s->rack_fack))
		s->rack_fack = end;
	/*
	 * RFC 8985 wants min_rtt over a window: a route change to a longer
	 * path must raise reo_wnd's basis, which the least ever seen never did.
	 */
	if (!s->rack_on) {
		tcp_win_min_reset(&s->min_rtt, (uint32_t)now, rtt);
		s->rack_min_rtt_ms = rtt;
	} else {
		s->rack_min_rtt_ms =
		    tcp_win_min_update(&s->min_rtt, TCP_MIN_RTT_WIN_MS, (uint32_t)now, rtt);
	}
	if (!s->rack_on || sent_after(p->tx_no, end, s->rack_tx_no, s->rack_end_seq)) {
		s->rack_xmit_ms = p->at_ms;
		s->rack_tx_no = p->tx_no;
		s->rack_end_seq = end;
		s->rack_rtt_ms = rtt;
	}
	s->rack_on = true;
}

void tcp_rack_dsack(struct tcp_sock *s)
{
	if (s->rack_dsack_on && SEQ_GEQ(s->snd_una, s->rack_dsack_round))
		s->rack_dsack_on = false;
	if (s->rack_dsack_on)
		return;
	s->rack_dsack_on = true;
	s->rack_dsack_round = s->snd_max;
	s->rack_reo_mult = (uint8_t)MIN(MAX(s->rack_reo_mult, 1u) + 1u, 255u);
	s->rack_reo_persist = 16;
}

/*
 * RFC 8985 6.2 step 4: none while nothing says the path reorders and
 * recovery is on or DupThresh segments are SACKed (then RACK is at least
 * as quick as RFC 6675); else a quarter of min_rtt per D-SACKed round,
 * at most SRTT.
 */
static uint32_t reo_wnd(const struct tcp_sock *s, unsigned nsacked)
{
	/* At least the clock's tick: a quarter of a sub-millisecond min_rtt is 0 here. */
	uint32_t w = MAX(MAX(s->rack_reo_mult, 1u) * s->rack_min_rtt_ms / 4, 1u);

	if (!s->rack_reordering &&
	    (s->in_recovery || SEQ_LT(s->snd_una, s->recover) || nsacked >= DUP_THRESH))
		return 0;
	return MIN(w, s->srtt_us / 1000);
}

/*
 * Step 5: every segment sent before RACK's that has waited its RTT and
 * reo_wnd since is lost. The wait of the latest of the rest (0: none) arms
 * the reordering timer. True when it marked any.
 */
static bool detect_loss(struct tcp_sock *s)
{
	uint64_t now = inet_now_ms(), wait = 0;
	unsigned nsacked = 0;
	uint32_t reo;
	bool any = false;

	s->t_reo = 0;
	if (!s->rack_on)
		return false;
	for (const struct pkb *p = s->sndq.head; p && SEQ_LT(p->seq, s->snd_max); p = p->next)
		nsacked += p->sacked;
	reo = reo_wnd(s, nsacked);
	for (struct pkb *p = s->sndq.head; p && SEQ_LT(p->seq, s->snd_max); p = p->next) {
		uint64_t due;

		if (p->sacked || p->lost || !p->at_ms ||
		    !sent_after(s->rack_tx_no, s->rack_end_seq, p->tx_no, p->seq + p->len))
			continue;
		due = p->at_ms + s->rack_rtt_ms + reo;
		if (due <= now) {
			if (p->rtx)
				inet_count(INET_MIB_TCP_LOST_RETRANSMIT);
			p->lost = 1;
			any = true;
		} else {
			wait = MAX(wait, due - now);
		}
	}
	if (wait) {
		s->t_reo = now + wait;
		if (s->t_reo < atomic_load(&inet_stack->tcp_next_ms))
			atomic_store(&inet_stack->tcp_next_ms, s->t_reo);
	}
	return any;
}

/*
 * RFC 6937 3.1 on an ACK in recovery: sndcnt from what was delivered, and
 * cwnd = pipe + sndcnt. Above ssthresh, sending keeps the proportion
 * ssthresh / RecoverFS of what the peer took; at or below it, the
 * slow-start reduction bound lets pipe grow back to ssthresh, at most a
 * segment more than was delivered.
 */
static void prr_ack(struct tcp_sock *s, uint32_t delivered)
{
	uint32_t m = tcp_eff_mss(s), pipe = tcp_pipe(s);
	int64_t sndcnt;

	s->prr_delivered += delivered;
	if (pipe > s->ssthresh) {
		uint64_t fs = MAX(s->recover_fs, 1u);

		sndcnt = (int64_t)(((uint64_t)s->prr_delivered * s->ssthresh + fs - 1) / fs) -
			 s->prr_out;
	} else {
		int64_t limit = MAX((int64_t)s->prr_delivered - s->prr_out, (int64_t)delivered) + m;

		sndcnt = MIN((int64_t)(s->ssthresh - pipe), limit);
	}
	s->cwnd = pipe + (uint32_t)MAX(sndcnt, 0);
}

void tcp_rack_ack(struct tcp_sock *s, uint32_t delivered, struct pkb_queue *out)
{
	bool lost = detect_loss(s);

	if (s->snd_una == s->snd_max)
		return;
	if (!s->in_recovery) {
		/* RFC 8985 in place of DupThresh: a loss starts recovery, once a window. */
		if (lost && SEQ_GEQ(s->snd_una, s->recover)) {
			tcp_enter_recovery(s, out);
		} else if (lost) {
			/* After an RTO: what it resent and was lost again goes now, within cwnd. */
			tcp_retransmit_lost(s, out, false);
			return;
		} else {
			return;
		}
	}
	if (delivered)
		prr_ack(s, delivered);
	tcp_retransmit_lost(s, out, false);
}

void tcp_prr_start(struct tcp_sock *s)
{
	struct pkb *p = s->sndq.head, *first = NULL;

	s->prr_delivered = s->prr_out = 0;
	s->recover_fs = tcp_flight(s);
	for (; p && SEQ_LT(p->seq, s->snd_max); p = p->next) {
		if (p->lost)
			break;
		if (!p->sacked && !first)
			first = p;
	}
	if (!p && first)
		first->lost = 1;
	s->cwnd = tcp_pipe(s);
}

void tcp_recovery_done(struct tcp_sock *s)
{
	s->cwnd = s->ssthresh;
	if (s->rack_reo_persist && !--s->rack_reo_persist)
		s->rack_reo_mult = 1;
}

void tcp_rack_timeout(struct tcp_sock *s, struct pkb_queue *out)
{
	if (!s->sack_ok || s->snd_una == s->snd_max)
		return;
	tcp_rack_ack(s, 0, out);
	tcp_output_locked(s, out);
}
