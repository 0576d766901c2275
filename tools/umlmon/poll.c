/*
 * The pollers: one kernel thread per instance, all on the machine's CPU.
 * Each keeps an NFS session to its instance, reads /status/metrics every
 * interval, turns two polls into a sample, asks the policies, and writes
 * the knobs they decide, with the reason after '#'.
 *
 * A call to an instance blocks only its own poller (the client waits on its
 * socket through the CPU), so a dead or slow instance delays nobody else.
 * A failed poll closes the session and backs off, doubling up to
 * BACKOFF_MAX_MS: a dead instance costs one connection attempt per backoff,
 * not one per interval.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "uml.h"
#include "umlmon.h"

#define METRICS_MAX    (256 * 1024) /* an instance's /status/metrics at most */
#define BACKOFF_MAX_MS 30000
#define POLLER_STACK   128 /* KiB: the NFS client's calls and the parser */

struct poller {
	struct mon_fleet *f;
	struct mon_instance *in;
	uml_thread_t *t;
	uml_nfs_session_t *s;
	char *buf;
	struct mon_metrics prev, cur;
	bool have_prev;
	double prev_t;
	/* An instance that refused a write with a reason: it takes bare values only. */
	bool no_reasons;
};

static struct poller pollers[MON_MAX_INSTANCES];
static int npollers;
static volatile bool stopping;

double mon_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *mon_reach_name(enum mon_reach r)
{
	static const char *const names[] = {
	    [MON_NEW] = "new",	       [MON_UP] = "up",		  [MON_DOWN] = "down",
	    [MON_REFUSED] = "refused", [MON_GARBAGE] = "garbage", [MON_BADURL] = "badurl",
	};

	return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "?";
}

const char *mon_source_name(enum mon_source s)
{
	static const char *const names[] = {
	    [MON_SRC_UNKNOWN] = "-",
	    [MON_SRC_CONF] = "conf",
	    [MON_SRC_IMPORT] = "import",
	    [MON_SRC_LOCAL] = "local",
	};

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

/* What a failed call says about the instance. */
static enum mon_reach classify(int rc, bool opening)
{
	switch (rc) {
	case -EACCES:
	case -EPERM:
	case -ENOENT:
	case -ENOTDIR:
	case -EISDIR:
		return MON_REFUSED;
	case -EPROTO:
	case -EFBIG:
	case -EBADMSG:
		return MON_GARBAGE;
	case -EINVAL:
		return opening ? MON_BADURL : MON_GARBAGE;
	default:
		return MON_DOWN;
	}
}

static void reach_set(struct poller *p, enum mon_reach r, int err, const char *what)
{
	struct mon_instance *in = p->in;
	double now = mon_now();
	bool changed;

	pthread_mutex_lock(&p->f->lock);
	changed = in->reach != r;
	if (changed)
		in->reach_since = now;
	in->reach = r;
	in->err = err;
	snprintf(in->error, sizeof(in->error), "%s", what);
	pthread_mutex_unlock(&p->f->lock);
	if (changed)
		mon_logf("%s %s%s%s", in->name, mon_reach_name(r), what[0] ? ": " : "", what);
}

/* A poll failed: drop the session, say why, and wait longer before the next. */
static void poll_failed(struct poller *p, int rc, const char *why, bool opening)
{
	struct mon_instance *in = p->in;
	char what[MON_ERR_MAX];
	unsigned backoff;

	if (p->s) {
		uml_nfs_session_close(p->s);
		p->s = NULL;
	}
	p->have_prev = false;
	snprintf(what, sizeof(what), "%s%s",
		 opening ? "mount: " : "metrics: ", why && why[0] ? why : strerror(-rc));
	reach_set(p, classify(rc, opening), rc, what);
	pthread_mutex_lock(&p->f->lock);
	in->failures++;
	backoff = p->f->cfg.interval_ms;
	for (unsigned i = 1; i < in->failures && backoff < BACKOFF_MAX_MS; i++)
		backoff *= 2;
	if (backoff > BACKOFF_MAX_MS)
		backoff = BACKOFF_MAX_MS;
	in->next_try = mon_now() + backoff / 1000.0;
	pthread_mutex_unlock(&p->f->lock);
}

/* The text written for @d: "VALUE # umlmon POLICY: REASON\n", or without the comment. */
static size_t action_text(const struct poller *p, const struct mon_decision *d, char *buf,
			  size_t size)
{
	int n;

	if (p->no_reasons)
		n = snprintf(buf, size, "%s\n", d->value);
	else
		n = snprintf(buf, size, "%s%s# umlmon %s\n", d->value, d->value[0] ? " " : "",
			     d->reason);
	return n < 0 ? 0 : (size_t)n >= size ? size - 1 : (size_t)n;
}

static void act(struct poller *p, const struct mon_decision *d)
{
	char path[80], text[MON_REASON_MAX + 64];
	bool dry = p->f->cfg.dry_run;
	size_t len;
	int rc = 0;

	if (!dry) {
		snprintf(path, sizeof(path), "config/%s", d->knob);
		len = action_text(p, d, text, sizeof(text));
		rc = uml_nfs_session_write(p->s, path, text, len);
		if (rc == -EINVAL && !p->no_reasons) {
			/* An instance older than reasons refuses the comment: the bare value then.
			 */
			p->no_reasons = true;
			len = action_text(p, d, text, sizeof(text));
			rc = uml_nfs_session_write(p->s, path, text, len);
			if (rc)
				p->no_reasons = false;
		}
		if (rc) {
			pthread_mutex_lock(&p->f->lock);
			mon_policy_failed(p->in, d, mon_now());
			pthread_mutex_unlock(&p->f->lock);
		}
	}
	mon_action_record(p->f, p->in, d, dry, rc);
}

static void poll_once(struct poller *p)
{
	struct mon_instance *in = p->in;
	struct mon_decision d[2];
	struct mon_sample s;
	char why[MON_ERR_MAX] = "", note[MON_REASON_MAX];
	double t0 = mon_now(), now;
	uint64_t calls;
	long n;
	int rc, nd;

	if (!p->s) {
		rc = uml_nfs_session_open(in->url, &p->s, why, sizeof(why));
		if (rc) {
			p->s = NULL;
			poll_failed(p, rc, why, true);
			return;
		}
	}
	calls = uml_nfs_session_calls(p->s);
	n = uml_nfs_session_read(p->s, "status/metrics", p->buf, METRICS_MAX);
	if (n < 0) {
		poll_failed(p, (int)n, NULL, false);
		return;
	}
	rc = mon_metrics_parse(p->buf, (size_t)n, &p->cur, why, sizeof(why));
	if (rc) {
		poll_failed(p, rc, why, false);
		return;
	}
	now = mon_now();
	mon_sample_derive(p->have_prev ? &p->prev : NULL, &p->cur, now - p->prev_t, now, &s);
	reach_set(p, MON_UP, 0, "");

	pthread_mutex_lock(&p->f->lock);
	in->failures = 0;
	in->next_try = 0;
	in->polls++;
	in->hist[in->head] = s;
	in->head = (in->head + 1) % MON_HISTORY;
	if (in->nhist < MON_HISTORY)
		in->nhist++;
	nd = p->have_prev ? mon_policy_decide(&p->f->cfg, in, &p->cur, now, d, 2) : 0;
	memcpy(note, in->pol.note, sizeof(note));
	in->pol.note[0] = '\0';
	pthread_mutex_unlock(&p->f->lock);
	if (note[0])
		mon_logf("%s %s", in->name, note);

	p->prev = p->cur;
	p->prev_t = now;
	p->have_prev = true;
	for (int i = 0; i < nd && p->s; i++)
		act(p, &d[i]);
	pthread_mutex_lock(&p->f->lock);
	if (p->s)
		in->rpcs += uml_nfs_session_calls(p->s) - calls;
	in->last_poll_ms = (mon_now() - t0) * 1000;
	pthread_mutex_unlock(&p->f->lock);
}

static int poller_main(void *arg)
{
	struct poller *p = arg;
	double next = mon_now();

	while (!stopping) {
		double now = mon_now(), wait, retry;
		unsigned interval;

		pthread_mutex_lock(&p->f->lock);
		retry = p->in->next_try;
		interval = p->f->cfg.interval_ms;
		pthread_mutex_unlock(&p->f->lock);
		if (retry > next)
			next = retry;
		wait = next - now;
		if (wait > 0 && uml_thread_sleep_ms((unsigned)(wait * 1000) + 1) == -EINTR)
			break;
		poll_once(p);
		/* On the interval's grid, skipping the ticks a slow poll overran. */
		next += interval / 1000.0;
		now = mon_now();
		if (next < now)
			next = now + interval / 1000.0;
	}
	if (p->s)
		uml_nfs_session_close(p->s);
	p->s = NULL;
	return 0;
}

int mon_pollers_start(struct mon_fleet *f)
{
	for (int i = 0; i < f->n; i++) {
		struct poller *p = &pollers[i];
		int rc;

		memset(p, 0, sizeof(*p));
		p->f = f;
		p->in = f->inst[i];
		p->buf = malloc(METRICS_MAX);
		if (!p->buf)
			return -ENOMEM;
		rc = uml_thread_create_stack(&p->t, p->in->name, POLLER_STACK, poller_main, p);
		if (rc)
			return rc;
		npollers++;
	}
	return 0;
}

void mon_pollers_stop(void)
{
	stopping = true;
	for (int i = 0; i < npollers; i++)
		uml_thread_interrupt(pollers[i].t);
}

/*
 * On the way out, on the main thread once the CPU has stopped (the NFS
 * client works on a plain host thread too): end every drain in progress as
 * its end would have. Otherwise an instance would shed for good: a monitor
 * started later takes QueueLimit=0 for someone else's and leaves it be.
 */
void mon_drains_undo(struct mon_fleet *f)
{
	for (int i = 0; i < npollers; i++) {
		struct poller *p = &pollers[i];
		struct mon_decision d;
		char why[MON_ERR_MAX];
		int rc;

		if (!p->in->pol.draining || f->cfg.dry_run)
			continue;
		mon_drain_end(p->in, 0, mon_now(), &d);
		snprintf(d.reason, sizeof(d.reason), "drain over: umlmon stopping");
		rc = uml_nfs_session_open(p->in->url, &p->s, why, sizeof(why));
		if (rc) {
			p->s = NULL;
			mon_action_record(f, p->in, &d, false, rc);
			continue;
		}
		act(p, &d);
		uml_nfs_session_close(p->s);
		p->s = NULL;
	}
}

void mon_action_record(struct mon_fleet *f, struct mon_instance *in, const struct mon_decision *d,
		       bool dry_run, int err)
{
	struct mon_action *a;
	double now = mon_now();
	char when[32];
	time_t secs = (time_t)now;
	struct tm tm;

	pthread_mutex_lock(&f->lock);
	a = &f->actions[f->nactions++ % MON_ACTIONS];
	memset(a, 0, sizeof(*a));
	a->t = now;
	snprintf(a->instance, sizeof(a->instance), "%s", in->name);
	snprintf(a->knob, sizeof(a->knob), "%s", d->knob);
	snprintf(a->from, sizeof(a->from), "%s", d->from);
	snprintf(a->to, sizeof(a->to), "%s", d->value);
	snprintf(a->policy, sizeof(a->policy), "%s", d->policy);
	snprintf(a->reason, sizeof(a->reason), "%s", d->reason);
	a->dry_run = dry_run;
	a->err = err;
	gmtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	snprintf(in->last_action, sizeof(in->last_action), "%s %s %s->%s%s%s %s", when, d->knob,
		 d->from, d->value[0] ? d->value : "(cleared)", dry_run ? " dry-run" : "",
		 err ? " FAILED" : "", d->reason);
	pthread_mutex_unlock(&f->lock);
	mon_logf("%s %s %s -> %s %s%s%s%s%s", in->name, d->knob, d->from,
		 d->value[0] ? d->value : "(cleared)", d->reason, dry_run ? " [dry-run]" : "",
		 err ? " [refused: " : "", err ? strerror(-err) : "", err ? "]" : "");
}
