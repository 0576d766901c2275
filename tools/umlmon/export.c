/*
 * The monitor's own tree, exported over NFS like an instance's: the monitor
 * is steered the way it steers.
 *
 *   /fleet/NAME/state     (read-only) reachability and the last sample, "key value" lines
 *   /fleet/NAME/drain     on|off: this instance's drain policy
 *   /fleet/NAME/limit     on|off: its limit policy; writing on also resumes a
 *                         policy an operator's write paused
 *   /policy/drain/{on,high,low,for,dwell}
 *   /policy/limit/{on,min,max,tolerance,window,dwell,per_min}
 *   /policy/dry_run       on|off
 *   /policy/interval      the poll period (100ms .. 60s)
 *   /monitor/actions      (read-only) the last actions, oldest first:
 *                         "TIME INSTANCE KNOB FROM TO POLICY FLAGS REASON"
 *   /monitor/status       (read-only) the monitor's own figures
 *
 * A write is one value and a newline, checked as the config file checks it;
 * a bad one is refused with EINVAL or ERANGE and the old value stays.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "uml.h"
#include "umlmon.h"

enum setting_kind { SET_ONOFF, SET_INT, SET_MS, SET_REAL };

/* One writable file: where its value lives in struct mon_config, and its bounds. */
struct setting {
	const char *path;
	enum setting_kind kind;
	size_t off; /* offsetof(struct mon_config, ...) */
	long lo, hi;
};

#define CFG(field) offsetof(struct mon_config, field)

static const struct setting settings[] = {
    {"/policy/drain/on", SET_ONOFF, CFG(drain.on), 0, 1},
    {"/policy/drain/high", SET_INT, CFG(drain.high), 1, 1000000},
    {"/policy/drain/low", SET_INT, CFG(drain.low), 0, 1000000},
    {"/policy/drain/for", SET_MS, CFG(drain.for_ms), 0, 3600000},
    {"/policy/drain/dwell", SET_MS, CFG(drain.dwell_ms), 0, 3600000},
    {"/policy/limit/on", SET_ONOFF, CFG(limit.on), 0, 1},
    {"/policy/limit/min", SET_INT, CFG(limit.min), 1, 1000000},
    {"/policy/limit/max", SET_INT, CFG(limit.max), 1, 1000000},
    {"/policy/limit/tolerance", SET_REAL, CFG(limit.tolerance), 105, 1000},
    {"/policy/limit/window", SET_INT, CFG(limit.window), 1, 60},
    {"/policy/limit/dwell", SET_MS, CFG(limit.dwell_ms), 0, 3600000},
    {"/policy/limit/per_min", SET_INT, CFG(limit.per_min), 1, 8},
    {"/policy/dry_run", SET_ONOFF, CFG(dry_run), 0, 1},
    {"/policy/interval", SET_MS, CFG(interval_ms), 100, 60000},
};

/* A per-instance switch. */
struct inst_switch {
	struct mon_fleet *f;
	struct mon_instance *in;
	bool limit; /* else drain */
};

static struct inst_switch switches[MON_MAX_INSTANCES][2];
static struct mon_fleet *the_fleet;

/* The one token of a write, without its newline. */
static int token(const char *data, size_t len, char *out, size_t size)
{
	while (len && (data[len - 1] == '\n' || data[len - 1] == ' ' || data[len - 1] == '\r'))
		len--;
	if (!len || len >= size)
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if (data[i] <= ' ' || data[i] >= 0x7f)
			return -EINVAL;
	memcpy(out, data, len);
	out[len] = '\0';
	return 0;
}

/* @text as @s's value into @c (a copy). */
static int setting_parse(const struct setting *s, const char *text, struct mon_config *c)
{
	char *p = (char *)c + s->off;
	int32_t n;
	int rc;

	switch (s->kind) {
	case SET_ONOFF:
		return mon_parse_onoff(text, (bool *)p);
	case SET_INT:
		rc = mon_parse_int(text, s->lo, s->hi, &n);
		if (!rc) {
			/* window and per_min are unsigned, the rest int32_t: same size. */
			_Static_assert(sizeof(unsigned) == sizeof(int32_t), "int sizes");
			memcpy(p, &n, sizeof(n));
		}
		return rc;
	case SET_MS:
		return mon_parse_duration(text, (unsigned)s->lo, (unsigned)s->hi, (unsigned *)p);
	case SET_REAL: {
		char *end;
		double v = strtod(text, &end);

		if (end == text || *end || !isfinite(v))
			return -EINVAL;
		if (v * 100 < s->lo || v * 100 > s->hi)
			return -ERANGE;
		*(double *)p = v;
		return 0;
	}
	}
	return -EINVAL;
}

static struct mon_config pending; /* validated, committed next: both under the fs lock */

static int setting_validate(void *arg, const char *data, size_t len, const struct uml_client *who,
			    char *why, size_t whylen)
{
	const struct setting *s = arg;
	char text[64];
	int rc;

	(void)who;
	pthread_mutex_lock(&the_fleet->lock);
	pending = the_fleet->cfg;
	pthread_mutex_unlock(&the_fleet->lock);
	rc = token(data, len, text, sizeof(text));
	if (!rc)
		rc = setting_parse(s, text, &pending);
	if (rc) {
		snprintf(why, whylen, "%s: %s", s->path,
			 rc == -ERANGE ? "out of range" : "not a valid value");
		return rc;
	}
	return mon_conf_check(&pending, why, whylen);
}

static void setting_commit(void *arg, const char *data, size_t len)
{
	const struct setting *s = arg;

	(void)data;
	(void)len;
	size_t n = s->kind == SET_ONOFF	 ? sizeof(bool)
		   : s->kind == SET_REAL ? sizeof(double)
					 : sizeof(int32_t);

	/* This field only: the others may have changed since validate copied them. */
	pthread_mutex_lock(&the_fleet->lock);
	memcpy((char *)&the_fleet->cfg + s->off, (char *)&pending + s->off, n);
	pthread_mutex_unlock(&the_fleet->lock);
	mon_logf("setting %s changed over NFS", s->path);
}

static size_t setting_render(void *arg, char *buf, size_t size)
{
	const struct setting *s = arg;
	struct mon_config c;
	const char *p;
	int n = 0;

	pthread_mutex_lock(&the_fleet->lock);
	c = the_fleet->cfg;
	pthread_mutex_unlock(&the_fleet->lock);
	p = (const char *)&c + s->off;
	switch (s->kind) {
	case SET_ONOFF:
		n = snprintf(buf, size, "%s\n", *(const bool *)p ? "on" : "off");
		break;
	case SET_INT:
		n = snprintf(buf, size, "%d\n", *(const int32_t *)p);
		break;
	case SET_MS:
		n = snprintf(buf, size, "%ums\n", *(const unsigned *)p);
		break;
	case SET_REAL:
		n = snprintf(buf, size, "%.2f\n", *(const double *)p);
		break;
	}
	return n < 0 ? 0 : (size_t)n >= size ? size - 1 : (size_t)n;
}

static bool switch_pending;

static int switch_validate(void *arg, const char *data, size_t len, const struct uml_client *who,
			   char *why, size_t whylen)
{
	struct inst_switch *sw = arg;
	char text[16];
	int rc;

	(void)who;
	rc = token(data, len, text, sizeof(text));
	if (!rc)
		rc = mon_parse_onoff(text, &switch_pending);
	if (rc)
		snprintf(why, whylen, "%s/%s: on or off", sw->in->name,
			 sw->limit ? "limit" : "drain");
	return rc;
}

static void switch_commit(void *arg, const char *data, size_t len)
{
	struct inst_switch *sw = arg;

	(void)data;
	(void)len;
	pthread_mutex_lock(&sw->f->lock);
	if (sw->limit) {
		sw->in->limit_on = switch_pending;
		if (switch_pending) {
			sw->in->pol.limit_paused = false;
			sw->in->pol.our_limit = 0;
		}
	} else {
		sw->in->drain_on = switch_pending;
	}
	pthread_mutex_unlock(&sw->f->lock);
}

static size_t switch_render(void *arg, char *buf, size_t size)
{
	struct inst_switch *sw = arg;
	bool on;
	int n;

	pthread_mutex_lock(&sw->f->lock);
	on = sw->limit ? sw->in->limit_on : sw->in->drain_on;
	pthread_mutex_unlock(&sw->f->lock);
	n = snprintf(buf, size, "%s\n", on ? "on" : "off");
	return n < 0 ? 0 : (size_t)n >= size ? size - 1 : (size_t)n;
}

static void time_iso(double t, char *buf, size_t size)
{
	time_t secs = (time_t)t;
	struct tm tm;

	if (t <= 0) {
		snprintf(buf, size, "-");
		return;
	}
	gmtime_r(&secs, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

#define APPEND(...)                                                                                \
	do {                                                                                       \
		int n_ = snprintf(buf + len, len < size ? size - len : 0, __VA_ARGS__);            \
		if (n_ > 0)                                                                        \
			len += (size_t)n_;                                                         \
	} while (0)

static size_t state_render(void *arg, char *buf, size_t size)
{
	struct mon_instance *in = arg;
	struct mon_sample s = {0};
	size_t len = 0;
	char since[32];

	pthread_mutex_lock(&the_fleet->lock);
	if (in->nhist)
		s = in->hist[(in->head + MON_HISTORY - 1) % MON_HISTORY];
	time_iso(in->reach_since, since, sizeof(since));
	APPEND("reach %s\nsince %s\nerror %s\nfailures %u\npolls %llu\nrpcs %llu\npoll_ms %.1f\n",
	       mon_reach_name(in->reach), since, in->error[0] ? in->error : "-", in->failures,
	       (unsigned long long)in->polls, (unsigned long long)in->rpcs, in->last_poll_ms);
	APPEND("in_flight %d\nqueued %d\naccept_queue %d\nmax_request_workers %d\n"
	       "queue_limit %d\naccepting %d\nrps %.1f\nservice_ms %.1f\np99_ms %.1f\n"
	       "wait_ms %.1f\nrejected_ps %.1f\n",
	       s.in_flight, s.queued, s.accept_queue, s.max_request_workers, s.queue_limit,
	       s.accepting, s.rps, s.service_ms, s.p99_ms, s.wait_ms, s.rejected_ps);
	APPEND("draining %d\nlimit_paused %d\nbaseline_ms %.1f\nlast_action %s\n", in->pol.draining,
	       in->pol.limit_paused, in->pol.baseline_ms,
	       in->last_action[0] ? in->last_action : "-");
	pthread_mutex_unlock(&the_fleet->lock);
	return len < size ? len : size - 1;
}

static size_t actions_render(void *arg, char *buf, size_t size)
{
	struct mon_fleet *f = arg;
	size_t len = 0;
	uint64_t first;

	pthread_mutex_lock(&f->lock);
	first = f->nactions > MON_ACTIONS ? f->nactions - MON_ACTIONS : 0;
	for (uint64_t i = first; i < f->nactions && len < size; i++) {
		const struct mon_action *a = &f->actions[i % MON_ACTIONS];
		char when[32];

		time_iso(a->t, when, sizeof(when));
		APPEND("%s %s %s %s %s %s %s%s%s %s\n", when, a->instance, a->knob, a->from,
		       a->to[0] ? a->to : "-", a->policy, a->dry_run ? "dry-run" : "applied",
		       a->err ? ",refused:" : "", a->err ? strerrorname_np(-a->err) : "",
		       a->reason);
	}
	pthread_mutex_unlock(&f->lock);
	return len < size ? len : size - 1;
}

static size_t status_render(void *arg, char *buf, size_t size)
{
	struct mon_fleet *f = arg;
	unsigned up = 0;
	uint64_t polls = 0, rpcs = 0;
	size_t len = 0;

	pthread_mutex_lock(&f->lock);
	for (int i = 0; i < f->n; i++) {
		up += f->inst[i]->reach == MON_UP;
		polls += f->inst[i]->polls;
		rpcs += f->inst[i]->rpcs;
	}
	APPEND("instances %d\nup %u\nactions %llu\npolls %llu\nrpcs %llu\nuptime_s %.0f\n"
	       "dry_run %s\ninterval_ms %u\n",
	       f->n, up, (unsigned long long)f->nactions, (unsigned long long)polls,
	       (unsigned long long)rpcs, mon_now() - f->started, f->cfg.dry_run ? "on" : "off",
	       f->cfg.interval_ms);
	pthread_mutex_unlock(&f->lock);
	return len < size ? len : size - 1;
}

static int readonly_validate(void *arg, const char *data, size_t len, const struct uml_client *who,
			     char *why, size_t whylen)
{
	(void)arg;
	(void)data;
	(void)len;
	(void)who;
	snprintf(why, whylen, "read-only");
	return -EACCES;
}

static int file_add(const char *path, unsigned mode, const struct uml_file_hooks *h)
{
	int rc = uml_put_file(path, mode, "", 0);

	if (!rc)
		rc = uml_file_hooks(path, h);
	if (!rc)
		rc = uml_file_flags(path, UML_FILE_PINNED | (mode & 0222 ? 0 : UML_FILE_READONLY));
	return rc;
}

int mon_export_build(struct mon_fleet *f, char *why, size_t whylen)
{
	static const char *const dirs[] = {"/fleet", "/policy/drain", "/policy/limit", "/monitor"};
	char path[128];
	int rc = 0;

	the_fleet = f;
	for (size_t i = 0; !rc && i < sizeof(dirs) / sizeof(dirs[0]); i++)
		rc = uml_mkdir_p(dirs[i], 0755);
	for (size_t i = 0; !rc && i < sizeof(settings) / sizeof(settings[0]); i++) {
		struct uml_file_hooks h = {.validate = setting_validate,
					   .commit = setting_commit,
					   .render = setting_render,
					   .arg = (void *)&settings[i]};

		rc = file_add(settings[i].path, 0666, &h);
	}
	for (int i = 0; !rc && i < f->n; i++) {
		struct mon_instance *in = f->inst[i];
		struct uml_file_hooks st = {
		    .validate = readonly_validate, .render = state_render, .arg = in};

		snprintf(path, sizeof(path), "/fleet/%s", in->name);
		rc = uml_mkdir_p(path, 0755);
		if (!rc) {
			snprintf(path, sizeof(path), "/fleet/%s/state", in->name);
			rc = file_add(path, 0444, &st);
		}
		for (int l = 0; !rc && l < 2; l++) {
			struct inst_switch *sw = &switches[i][l];
			struct uml_file_hooks h = {.validate = switch_validate,
						   .commit = switch_commit,
						   .render = switch_render,
						   .arg = sw};

			*sw = (struct inst_switch){.f = f, .in = in, .limit = l == 1};
			snprintf(path, sizeof(path), "/fleet/%s/%s", in->name,
				 l ? "limit" : "drain");
			rc = file_add(path, 0666, &h);
		}
	}
	if (!rc) {
		struct uml_file_hooks a = {
		    .validate = readonly_validate, .render = actions_render, .arg = f};
		struct uml_file_hooks s = {
		    .validate = readonly_validate, .render = status_render, .arg = f};

		rc = file_add("/monitor/actions", 0444, &a);
		if (!rc)
			rc = file_add("/monitor/status", 0444, &s);
	}
	for (size_t i = 0; !rc && i < sizeof(dirs) / sizeof(dirs[0]); i++)
		rc = uml_file_flags(dirs[i], UML_DIR_NOCREATE);
	if (!rc)
		rc = uml_file_flags("/policy", UML_DIR_NOCREATE);
	if (!rc)
		rc = uml_file_flags("/", UML_DIR_NOCREATE);
	if (rc)
		snprintf(why, whylen, "building the export's tree: %s", strerror(-rc));
	return rc;
}
