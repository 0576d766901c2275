/*
 * The policies: what the monitor writes to an instance after a poll.
 *
 * drain: the backlog is the requests waiting at an instance, in its
 *   admission queue or not yet accepted (umlconf_requests_queued plus
 *   umlconf_listen_queue). When it stays at or above `high` for `for`, the
 *   instance stops taking more: QueueLimit=0, so a request that finds no free
 *   slot gets 503 and Retry-After at once while the queued ones are still
 *   served. At or below `low`, and not before its hold has passed, the old
 *   QueueLimit is back. The hold is `dwell`, doubled for each drain that
 *   follows the last one closely (a sustained overload is shed steadily,
 *   not in short bursts that let the queue refill between them). Accepting=0
 *   would not do: it holds new requests in the queue, which grows the
 *   backlog it means to drain.
 *
 * limit: keeps MaxRequestWorkers within [min, max] by what queueing and
 *   service time say, in the spirit of the gradient concurrency limiters
 *   (TCP Vegas's idea applied to requests): while requests queue and the
 *   service time stays near its baseline, the instance has room, so the
 *   limit grows by about the queue; when the service time climbs past
 *   tolerance x baseline with the slots full, the instance is past its
 *   knee, so the limit shrinks in proportion. Between the two (the upper
 *   half of the band) it holds, so it settles at a knee it cannot see. Two polls in a row must
 * agree, changes are `dwell` apart and at most `per_min` a minute: it never flaps. An operator's
 * own write to the knob pauses the policy for that instance.
 *
 * Everything here is arithmetic on samples: the threads and the writes are
 * poll.c's, so the decisions can be tested on a virtual clock.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "umlmon.h"

#define BASELINE_MIN_REQUESTS 20 /* a window with fewer says nothing about service time */
/* A drain's hold doubles for drains in a row, up to this many times dwell. */
#define HOLD_MAX 16
/* A write not seen in force after this long was undone by someone else. */
#define WRITE_SEEN_S 2.0

static int decision(struct mon_decision *d, const char *policy, const char *knob, const char *value,
		    int64_t from)
{
	memset(d, 0, sizeof(*d));
	d->policy = policy;
	d->knob = knob;
	snprintf(d->value, sizeof(d->value), "%s", value);
	snprintf(d->from, sizeof(d->from), "%lld", (long long)from);
	return 1;
}

void mon_drain_end(struct mon_instance *in, int64_t from, double now, struct mon_decision *d)
{
	struct mon_policy_state *ps = &in->pol;
	char v[24] = "";

	/* The local value an operator had set before the drain comes back; else ours goes. */
	if (ps->saved_local && ps->saved_limit > 0)
		snprintf(v, sizeof(v), "%d", ps->saved_limit);
	decision(d, "drain", "QueueLimit", v, from);
	ps->draining = false;
	ps->drained_at = now;
	ps->over_since = 0;
}

static int drain_decide(const struct mon_config *cfg, struct mon_instance *in,
			const struct mon_metrics *m, double now, struct mon_decision *d)
{
	const struct mon_drain_conf *c = &cfg->drain;
	struct mon_policy_state *ps = &in->pol;
	int64_t backlog = m->queued + m->accept_queue;
	bool on = c->on && in->drain_on;

	if (!m->queue_limit.seen) /* an instance without QueueLimit cannot shed */
		return 0;
	if (ps->draining) {
		if (m->queue_limit.value == 0)
			ps->drain_seen = true;
		/*
		 * Someone else set it meanwhile: theirs stands, the drain is
		 * over. A poll may still show the value from before our write
		 * (an instance renders its metrics every 100 ms): judge only
		 * once ours was seen, or after WRITE_SEEN_S.
		 */
		if (m->queue_limit.value != 0 && !cfg->dry_run &&
		    (ps->drain_seen || now - ps->drained_at > WRITE_SEEN_S)) {
			ps->draining = false;
			ps->drained_at = now;
			ps->over_since = 0;
			snprintf(ps->note, sizeof(ps->note),
				 "drain ended by another write (QueueLimit=%lld)",
				 (long long)m->queue_limit.value);
			return 0;
		}
		if (on && (backlog > c->low || now - ps->drained_at < ps->hold_ms / 1000.0))
			return 0;
		mon_drain_end(in, m->queue_limit.value, now, d);
		if (on)
			snprintf(d->reason, sizeof(d->reason),
				 "drain over: backlog %lld <= %d (queued %lld, accept queue %lld)",
				 (long long)backlog, c->low, (long long)m->queued,
				 (long long)m->accept_queue);
		else
			snprintf(d->reason, sizeof(d->reason), "drain switched off");
		return 1;
	}
	/* Already shedding (someone set QueueLimit=0): nothing to add. */
	if (!on || backlog < c->high || m->queue_limit.value == 0) {
		ps->over_since = 0;
		return 0;
	}
	if (!ps->over_since)
		ps->over_since = now;
	/*
	 * No pause between drains on top of `for`: a queue that refills at
	 * once would sit over high all that while, and the doubled hold below
	 * already bounds how often a drain can start.
	 */
	if (now - ps->over_since < c->for_ms / 1000.0)
		return 0;
	/*
	 * A drain that follows the last one closely means the overload
	 * outlasted it: hold this one twice as long (up to HOLD_MAX times
	 * dwell), so a sustained overload is shed steadily instead of
	 * refilling the queue between short drains; a quiet spell resets it.
	 */
	if (ps->drained_at && ps->hold_ms && now - ps->drained_at < 2 * ps->hold_ms / 1000.0)
		ps->hold_ms = ps->hold_ms * 2 > c->dwell_ms * HOLD_MAX ? c->dwell_ms * HOLD_MAX
								       : ps->hold_ms * 2;
	else
		ps->hold_ms = c->dwell_ms;
	decision(d, "drain", "QueueLimit", "0", m->queue_limit.value);
	snprintf(d->reason, sizeof(d->reason),
		 "drain: backlog %lld >= %d for %.1fs (queued %lld, accept queue %lld)",
		 (long long)backlog, c->high, now - ps->over_since, (long long)m->queued,
		 (long long)m->accept_queue);
	ps->saved_local = m->queue_limit.source == MON_SRC_LOCAL;
	ps->saved_limit = (int32_t)m->queue_limit.value;
	ps->draining = true;
	ps->drain_seen = false;
	ps->drained_at = now;
	return 1;
}

/*
 * The newest @n samples whose interval began at or after @since (our last
 * change: a sample that straddles it mixes two limits and says nothing of
 * either). Returns how many there were.
 */
static unsigned window_stats(const struct mon_instance *in, unsigned n, double since,
			     double *service_ms, double *queued, double *in_flight,
			     double *requests)
{
	double w = 0, sum = 0, q = 0, f = 0;
	unsigned got = 0;

	for (unsigned i = 0; got < n && i + 1 < in->nhist; i++) {
		const struct mon_sample *s =
		    &in->hist[(in->head + MON_HISTORY - 1 - i) % MON_HISTORY];
		double dt = s->t - in->hist[(in->head + MON_HISTORY - 2 - i) % MON_HISTORY].t;
		double reqs = s->rps * (dt > 0 ? dt : 0);

		if (s->t - dt < since)
			break;

		w += reqs;
		sum += reqs * s->service_ms;
		q += s->queued + s->accept_queue;
		f += s->in_flight;
		got++;
	}
	*service_ms = w > 0 ? sum / w : 0;
	*queued = got ? q / got : 0;
	*in_flight = got ? f / got : 0;
	*requests = w;
	return got;
}

static bool rate_ok(const struct mon_limit_conf *c, const struct mon_policy_state *ps, double now)
{
	unsigned recent = 0;

	for (unsigned i = 0; i < sizeof(ps->changes_at) / sizeof(ps->changes_at[0]); i++)
		recent += ps->changes_at[i] && now - ps->changes_at[i] < 60;
	return recent < c->per_min;
}

static void limit_changed(struct mon_policy_state *ps, int32_t v, double now)
{
	size_t n = sizeof(ps->changes_at) / sizeof(ps->changes_at[0]), oldest = 0;

	for (size_t i = 1; i < n; i++)
		if (ps->changes_at[i] < ps->changes_at[oldest])
			oldest = i;
	ps->changes_at[oldest] = now;
	ps->our_limit = v;
	ps->limit_seen = false;
	ps->limit_at = now;
	ps->grow_ticks = ps->shrink_ticks = 0;
}

static int limit_decide(const struct mon_config *cfg, struct mon_instance *in,
			const struct mon_metrics *m, double now, struct mon_decision *d)
{
	const struct mon_limit_conf *c = &cfg->limit;
	struct mon_policy_state *ps = &in->pol;
	double svc, queued, in_flight, reqs, bound, grow_bound;
	int64_t cur = m->mrw.value, want = cur, hi;
	char v[24];

	if (!c->on || !in->limit_on)
		return 0;
	/*
	 * Our last write is not what is in force: an operator's hand. Leave it
	 * be. As for the drain, a poll may predate our write.
	 */
	if (ps->our_limit && cur == ps->our_limit)
		ps->limit_seen = true;
	if (!cfg->dry_run && ps->our_limit && !ps->limit_paused &&
	    (ps->limit_seen || now - ps->limit_at > WRITE_SEEN_S) &&
	    (cur != ps->our_limit || m->mrw.source != MON_SRC_LOCAL)) {
		ps->limit_paused = true;
		snprintf(ps->note, sizeof(ps->note),
			 "limit paused: MaxRequestWorkers set to %lld by another writer",
			 (long long)cur);
	}
	if (ps->limit_paused)
		return 0;
	if (window_stats(in, c->window, ps->limit_at, &svc, &queued, &in_flight, &reqs) <
	    (c->window < 2 ? c->window : 2))
		return 0; /* too little seen since our last change */
	if (reqs >= BASELINE_MIN_REQUESTS && svc > 0) {
		if (ps->baseline_ms <= 0 || svc < ps->baseline_ms)
			ps->baseline_ms = svc;
		/*
		 * A shrink that did not bring the service time down (a dwell
		 * later, the window all after it) says it is the handler's own,
		 * not the load's: a slower handler after a deploy. It is the new
		 * baseline; else the limit would shrink to min for ever. Near a
		 * knee the service time does follow the limit, and the baseline
		 * stays (a slow upward drift would walk the limit past the knee).
		 */
		if (ps->shrunk_from_ms > 0 && now - ps->limit_at >= c->dwell_ms / 1000.0) {
			if (svc >= 0.9 * ps->shrunk_from_ms)
				ps->baseline_ms = svc;
			ps->shrunk_from_ms = 0;
		}
	}
	/*
	 * Hysteresis: grow only while the service time is in the lower half
	 * of the band up to tolerance x baseline, shrink only past the band.
	 * In between (near a bottleneck the monitor cannot see, where each
	 * slot more only adds service time) the limit stays: no hunting.
	 */
	bound = c->tolerance * ps->baseline_ms;
	grow_bound = (1 + c->tolerance) / 2 * ps->baseline_ms;
	if (cur < c->min || cur > c->max) {
		want = cur < c->min ? c->min : c->max;
	} else if (ps->baseline_ms > 0 && svc > bound && in_flight >= 0.8 * (double)cur) {
		ps->grow_ticks = 0;
		if (++ps->shrink_ticks >= 2) {
			double g = bound / svc;

			want = (int64_t)floor((double)cur * (g < 0.5 ? 0.5 : g));
		}
	} else if (queued >= 1 && (ps->baseline_ms <= 0 || svc <= grow_bound)) {
		int64_t step = (int64_t)ceil(queued), most = cur / 2 > 1 ? cur / 2 : 1;

		ps->shrink_ticks = 0;
		if (++ps->grow_ticks >= 2)
			want = cur + (step > most ? most : step);
	} else {
		ps->grow_ticks = ps->shrink_ticks = 0;
	}
	/* Never past what the instance takes (its MPM's ceiling), when it says. */
	hi = m->mrw.max > 0 && m->mrw.max < c->max ? m->mrw.max : c->max;
	want = want < c->min ? c->min : want > hi ? hi : want;
	if (want == cur || now - ps->limit_at < c->dwell_ms / 1000.0 || !rate_ok(c, ps, now))
		return 0;
	ps->shrunk_from_ms = want < cur ? svc : 0;
	snprintf(v, sizeof(v), "%lld", (long long)want);
	decision(d, "limit", "MaxRequestWorkers", v, cur);
	if (cur < c->min || cur > c->max)
		snprintf(d->reason, sizeof(d->reason), "limit: %lld is outside [%d, %d]",
			 (long long)cur, c->min, c->max);
	else if (want < cur)
		snprintf(d->reason, sizeof(d->reason),
			 "limit: service %.0fms > %.2f x baseline %.0fms at %.0f in flight", svc,
			 c->tolerance, ps->baseline_ms, in_flight);
	else
		snprintf(
		    d->reason, sizeof(d->reason),
		    "limit: %.1f waiting while service %.0fms is within %.2f x baseline %.0fms",
		    queued, svc, c->tolerance, ps->baseline_ms);
	limit_changed(ps, (int32_t)want, now);
	return 1;
}

int mon_policy_decide(const struct mon_config *cfg, struct mon_instance *in,
		      const struct mon_metrics *m, double now, struct mon_decision *d, int max)
{
	int n = 0;

	if (n < max)
		n += drain_decide(cfg, in, m, now, &d[n]);
	if (n < max)
		n += limit_decide(cfg, in, m, now, &d[n]);
	return n;
}

void mon_policy_failed(struct mon_instance *in, const struct mon_decision *d, double now)
{
	struct mon_policy_state *ps = &in->pol;

	if (strcmp(d->policy, "drain") == 0) {
		/* The drain did not start (or end): try again at the next poll. */
		ps->draining = d->value[0] != '0' || d->value[1];
		ps->drained_at = 0;
	} else {
		/* Nothing of ours is in force; the next poll decides afresh. */
		ps->our_limit = 0;
		ps->limit_at = now;
	}
}
