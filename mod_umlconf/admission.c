/*
 * Request admission: MaxRequestWorkers, Accepting and QueueLimit on the
 * request path.
 *
 * Runs first thing after httpd has read a request (post_read_request, really
 * first), before any handler. A request takes a slot when fewer than
 * MaxRequestWorkers requests are in flight across all children and Accepting
 * is 1; otherwise it waits in a queue of at most QueueLimit requests, asleep
 * on admit_gen (a futex: woken when a slot frees or a knob changes, never
 * polling), and gets 503 with Retry-After when the queue is full or its wait
 * (UmlConfQueue) runs out.
 *
 * QueueLimit bounds who may join the queue, not who stays in it: lowered
 * (to 0: shed), new requests that find no slot get 503 at once while the
 * queued ones keep waiting and are admitted as slots free, so a backlog
 * drains instead of being thrown away. Accepting=0 is the other tool: it
 * holds everyone, admitted by nobody until it is 1 again.
 *
 * Admitted requests are timed into the latency histograms (latency.c): the
 * wait from arrival to admission (0 for those admitted at once, which read
 * the clock once) and the service from admission to the end of the request,
 * when the request's pool is cleaned up.
 *
 * Wake-ups match slots: a release wakes one waiter, a raise of the limit (or
 * Accepting back to 1, or a dead child's slots) as many as slots are free,
 * never the whole queue of every child to fight for one slot. A waiter that
 * leaves on its deadline passes a free slot on, since it may have taken the
 * wake-up meant for it.
 *
 * Counting: every slot is counted twice, in this child's record and in the
 * global total, so the parent can subtract the share of a child that died
 * (SIGKILL) without running its cleanups. The child record is raised before
 * the global one and lowered after it: a child dying between the two makes
 * the parent subtract one too many, which admits one request more for a
 * moment, never one fewer forever.
 */
#include <errno.h>
#include <time.h>

#include "http_protocol.h"
#include "http_request.h"
#include "apr_strings.h"

#include "umlconf.h"

static bool admit_try(struct umlconf_shared *sh, struct umlconf_child *me)
{
	int64_t limit;
	int32_t cur;

	if (umlconf_knob_value(sh, UMLCONF_KNOB_ACCEPTING) != 1)
		return false;
	limit = umlconf_knob_value(sh, UMLCONF_KNOB_MAX_REQUEST_WORKERS);
	atomic_fetch_add(&me->in_flight, 1);
	cur = atomic_load(&sh->in_flight);
	while (cur < limit) {
		if (atomic_compare_exchange_weak(&sh->in_flight, &cur, cur + 1))
			return true;
	}
	atomic_fetch_sub(&me->in_flight, 1);
	return false;
}

/* An admitted request, until its pool's cleanup gives the slot back. */
struct admit_ticket {
	struct umlconf_child *me;
	int64_t admitted_us; /* CLOCK_MONOTONIC */
};

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static apr_status_t admit_release(void *arg)
{
	struct admit_ticket *t = arg;
	struct umlconf_child *me = t->me;
	struct umlconf_shared *sh = umlconf_sh;
	int64_t served = mono_us() - t->admitted_us;

	atomic_fetch_sub(&sh->in_flight, 1);
	atomic_fetch_sub(&me->in_flight, 1);
	/*
	 * Only a queue needs the wake-up (and its syscall). A waiter counts
	 * itself in queued before it looks at in_flight, so with sequentially
	 * consistent atomics either it sees our decrement or we see it queued.
	 */
	if (atomic_load(&sh->queued) > 0) {
		atomic_fetch_add_explicit(&sh->admit_released, 1, memory_order_relaxed);
		uml_gen_bump_n(&sh->admit_gen, 1);
	}
	/* After the slot is back: a waiter need not wait for our bookkeeping. */
	umlconf_latency_record(&sh->service, served > 0 ? (uint64_t)served : 0);
	return APR_SUCCESS;
}

void umlconf_admit_kick(struct umlconf_shared *sh)
{
	int64_t free_slots = 0, queued = atomic_load(&sh->queued);

	if (queued <= 0)
		return;
	if (umlconf_knob_value(sh, UMLCONF_KNOB_ACCEPTING) == 1)
		free_slots = umlconf_knob_value(sh, UMLCONF_KNOB_MAX_REQUEST_WORKERS) -
			     atomic_load(&sh->in_flight);
	if (free_slots > queued)
		free_slots = queued;
	if (free_slots > 0)
		uml_gen_bump_n(&sh->admit_gen,
			       free_slots > INT32_MAX ? INT32_MAX : (int)free_slots);
}

static void queue_leave(struct umlconf_shared *sh, struct umlconf_child *me)
{
	atomic_fetch_sub(&sh->queued, 1);
	atomic_fetch_sub(&me->queued, 1);
}

static int admit_refuse(request_rec *r, struct umlconf_shared *sh, const char *why)
{
	struct umlconf_conf *conf = umlconf_conf_of(umlconf_server);

	atomic_fetch_add(&sh->rejected, 1);
	apr_table_setn(r->err_headers_out, "Retry-After",
		       apr_psprintf(r->pool, "%d", conf->retry_after));
	ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
		      UMLCONF_LOGNO(10008) "503 for %s: %s (MaxRequestWorkers %ld, Accepting %ld, "
					   "QueueLimit %ld)",
		      r->uri, why, (long)umlconf_knob_value(sh, UMLCONF_KNOB_MAX_REQUEST_WORKERS),
		      (long)umlconf_knob_value(sh, UMLCONF_KNOB_ACCEPTING),
		      (long)umlconf_knob_value(sh, UMLCONF_KNOB_QUEUE_LIMIT));
	return HTTP_SERVICE_UNAVAILABLE;
}

int umlconf_admit(request_rec *r)
{
	struct umlconf_shared *sh = umlconf_sh;
	struct umlconf_conf *conf;
	struct umlconf_child *me;
	struct admit_ticket *t;
	int64_t arrived, admitted, deadline, left, limit;
	uint32_t seen;

	/* Internal redirects and subrequests ride on their parent's slot. */
	if (r->main || r->prev)
		return DECLINED;
	if (!sh)
		return DECLINED;
	/* Not a CPU of the machine, or no watcher: its knobs would be stale (logged). */
	if (umlconf_cpu < 0 || atomic_load(&umlconf_cpu_down))
		return admit_refuse(r, sh, "this child could not become a CPU of the machine");
	me = &sh->child[umlconf_cpu];
	/* One clock read for a request admitted at once: its wait is 0 by definition. */
	arrived = admitted = mono_us();
	if (admit_try(sh, me))
		goto admitted;

	/*
	 * Counted before the check, so that two requests can't both take the
	 * last place. A limit lowered below the queue refuses newcomers only.
	 */
	limit = umlconf_knob_value(sh, UMLCONF_KNOB_QUEUE_LIMIT);
	if (atomic_fetch_add(&sh->queued, 1) >= limit) {
		atomic_fetch_sub(&sh->queued, 1);
		return admit_refuse(r, sh,
				    limit ? "admission queue full" : "shedding (QueueLimit is 0)");
	}
	/* The directives are global: the main server's values apply to every vhost. */
	conf = umlconf_conf_of(umlconf_server);
	atomic_fetch_add(&me->queued, 1);
	deadline = arrived + (int64_t)conf->queue_timeout * 1000000;
	for (;;) {
		/* Read the generation before looking, so a bump in between is not lost. */
		seen = uml_gen_read(&sh->admit_gen);
		if (admit_try(sh, me)) {
			queue_leave(sh, me);
			atomic_fetch_add_explicit(&sh->admit_waited, 1, memory_order_relaxed);
			admitted = mono_us();
			goto admitted;
		}
		left = deadline - mono_us();
		if (left <= 0) {
			queue_leave(sh, me);
			umlconf_admit_kick(sh);
			return admit_refuse(r, sh, "waited too long for admission");
		}
		if (uml_gen_wait(&sh->admit_gen, seen, (int)((left + 999) / 1000)) == 0)
			atomic_fetch_add_explicit(&sh->admit_wakeups, 1, memory_order_relaxed);
	}

admitted:
	umlconf_latency_record(&sh->wait, (uint64_t)(admitted - arrived));
	t = apr_palloc(r->pool, sizeof(*t));
	t->me = me;
	t->admitted_us = admitted;
	apr_pool_cleanup_register(r->pool, t, admit_release, apr_pool_cleanup_null);
	return DECLINED;
}
