/*
 * The fleet as JSON, for the dashboard (http.c serves it as /api/fleet; the
 * shape is in umlmon.h above mon_json).
 *
 * fleet.lock is held only to copy: each instance's fields and the samples of
 * the window go into a snapshot, and the text is made from the snapshot once
 * the lock is dropped. The pollers are kernel threads on the machine's one
 * CPU; one of them waiting for the lock while we print 64 x 600 samples
 * would stall that CPU, and the monitor's NFS service with it, for the tens
 * of milliseconds the printing takes.
 *
 * The text goes to a browser and carries what instances and config files
 * said (names, URLs, errors, reasons): every string is escaped so that it
 * stays one JSON string, and stays inert if a page or a log embeds it.
 */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "umlmon.h"

/* No text grows past this; a full fleet (64 x 600 samples, 256 actions) is about 1.8 MB. */
#define JSON_MAX (64u << 20)

/* The size of field @f of struct mon_instance, so that the copies follow umlmon.h. */
#define JSON_INST_FIELD(f) sizeof(((struct mon_instance *)0)->f)

/* An instance as mon_json prints it, copied under fleet.lock. */
struct json_inst {
	char name[JSON_INST_FIELD(name)];
	char url[JSON_INST_FIELD(url)];
	char error[JSON_INST_FIELD(error)];
	char last_action[JSON_INST_FIELD(last_action)];
	enum mon_reach reach;
	double reach_since;
	bool drain_on, limit_on;
	bool have_newest;
	struct mon_sample newest;	  /* its knobs are the ones in force, window or not */
	unsigned n;			  /* samples in the window */
	struct mon_sample s[MON_HISTORY]; /* oldest first */
};

struct json_snap {
	double now;
	unsigned interval_ms, history_s;
	bool dry_run;
	int n;
	struct json_inst inst[MON_MAX_INSTANCES];
	unsigned nact;			    /* actions kept */
	struct mon_action act[MON_ACTIONS]; /* oldest first */
};

/*
 * One snapshot, kept from call to call: allocated per call, its 2 MB would be
 * faulted in while fleet.lock is held. json_snap_lock serializes the callers
 * (the dashboard's thread, and any other view that wants the JSON).
 */
static pthread_mutex_t json_snap_lock = PTHREAD_MUTEX_INITIALIZER;
static struct json_snap *json_snap;

/* The series of an instance, one row each: the key and where a sample keeps it. */
enum json_kind {
	JSON_DOUBLE, /* a double */
	JSON_FLOAT,  /* a float */
	JSON_INT,    /* an int32_t */
	JSON_KNOB,   /* an int32_t, negative when the instance did not report it: null */
};
static const struct json_field {
	const char *key;
	size_t off;
	enum json_kind kind;
} json_series[] = {
    {"t", offsetof(struct mon_sample, t), JSON_DOUBLE},
    {"in_flight", offsetof(struct mon_sample, in_flight), JSON_INT},
    {"queued", offsetof(struct mon_sample, queued), JSON_INT},
    {"accept_queue", offsetof(struct mon_sample, accept_queue), JSON_INT},
    {"max_request_workers", offsetof(struct mon_sample, max_request_workers), JSON_KNOB},
    {"queue_limit", offsetof(struct mon_sample, queue_limit), JSON_KNOB},
    {"rps", offsetof(struct mon_sample, rps), JSON_FLOAT},
    {"p99_ms", offsetof(struct mon_sample, p99_ms), JSON_FLOAT},
};

/* The knobs in force, from the newest sample, under the names the instance uses. */
static const struct json_field json_knobs[] = {
    {"MaxRequestWorkers", offsetof(struct mon_sample, max_request_workers), JSON_KNOB},
    {"Accepting", offsetof(struct mon_sample, accepting), JSON_KNOB},
    {"QueueLimit", offsetof(struct mon_sample, queue_limit), JSON_KNOB},
};

static const char *const json_reach[] = {
    [MON_NEW] = "new",	       [MON_UP] = "up",		  [MON_DOWN] = "down",
    [MON_REFUSED] = "refused", [MON_GARBAGE] = "garbage", [MON_BADURL] = "badurl",
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Room for @n more bytes and a terminating NUL. On failure (no memory, or
 * past JSON_MAX) the buffer is marked oom and every later append is dropped,
 * so the caller checks once, at the end.
 */
static bool json_reserve(struct mon_buf *b, size_t n)
{
	size_t cap;
	char *p;

	assert(b->len <= b->cap);
	if (b->oom)
		return false;
	if (b->cap - b->len > n)
		return true;
	if (n >= JSON_MAX || b->len >= JSON_MAX - n) {
		b->oom = true;
		return false;
	}
	cap = b->cap ? b->cap : 4096;
	while (cap - b->len <= n)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

static void json_put(struct mon_buf *b, const void *s, size_t n)
{
	if (!json_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void json_puts(struct mon_buf *b, const char *s)
{
	json_put(b, s, strlen(s));
}

/* Decimal digits of @v, right-aligned to end before @end; returns the first. */
static char *json_digits(char *end, unsigned long long v)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return end;
}

static void json_int(struct mon_buf *b, long long v)
{
	char tmp[24], *e = tmp + sizeof(tmp), *p;

	p = json_digits(e, v < 0 ? -(unsigned long long)v : (unsigned long long)v);
	if (v < 0)
		*--p = '-';
	json_put(b, p, (size_t)(e - p));
}

/*
 * A number to the millisecond (times, rates, latencies need no more), without
 * trailing zeros; null for NaN and infinities, which JSON has no words for.
 * Printed by hand: snprintf would take a third of the time of the whole
 * text, and its radix is the locale's, which a terminal view may have set
 * to a comma.
 */
static void json_num(struct mon_buf *b, double v)
{
	char tmp[40], *e = tmp + sizeof(tmp), *p = e;
	unsigned long long a;
	unsigned frac, digits = 3;
	long long m;
	int n;

	if (!isfinite(v)) {
		json_puts(b, "null");
		return;
	}
	if (fabs(v) >= 1e15) {
		/* Past what milliseconds in a long long hold; never a real reading. */
		n = snprintf(tmp, sizeof(tmp), "%.17g", v);
		for (p = tmp; p < tmp + n; p++)
			if (*p == ',')
				*p = '.';
		json_put(b, tmp, (size_t)n);
		return;
	}
	m = llround(v * 1000);
	a = m < 0 ? -(unsigned long long)m : (unsigned long long)m;
	frac = (unsigned)(a % 1000);
	if (frac) {
		while (frac % 10 == 0) {
			frac /= 10;
			digits--;
		}
		while (digits--) {
			*--p = (char)('0' + frac % 10);
			frac /= 10;
		}
		*--p = '.';
	}
	p = json_digits(p, a / 1000);
	if (m < 0)
		*--p = '-';
	json_put(b, p, (size_t)(e - p));
}

static void json_bool(struct mon_buf *b, bool v)
{
	json_puts(b, v ? "true" : "false");
}

/* The length of the valid UTF-8 sequence at @p (RFC 3629), or 0. */
static size_t json_utf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (*p >= 0xc2 && *p <= 0xdf)
		n = 2;
	else if (*p >= 0xe0 && *p <= 0xef)
		n = 3;
	else if (*p >= 0xf0 && *p <= 0xf4)
		n = 4;
	else
		return 0;
	/* The second byte's range excludes overlong forms, surrogates and > U+10FFFF. */
	if (*p == 0xe0)
		lo = 0xa0;
	else if (*p == 0xed)
		hi = 0x9f;
	else if (*p == 0xf0)
		lo = 0x90;
	else if (*p == 0xf4)
		hi = 0x8f;
	if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/*
 * @s, at most @max bytes of it (the fields are fixed arrays, and one filled
 * to the brim has no NUL), as a JSON string. Control characters, quotes and
 * backslashes are escaped as JSON requires; '<', '>' and '&' too, so that no
 * "</script>" or markup survives an embedding in HTML; U+2028 and U+2029,
 * which end a line in older JavaScript. Valid UTF-8 passes; each byte of an
 * invalid sequence becomes U+FFFD.
 */
static void json_str(struct mon_buf *b, const char *s, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s, *end = p + strnlen(s, max), *run;
	char esc[8];
	size_t n;

	json_put(b, "\"", 1);
	while (p < end) {
		for (run = p; p < end && *p >= 0x20 && *p < 0x7f; p++)
			if (*p == '"' || *p == '\\' || *p == '<' || *p == '>' || *p == '&')
				break;
		json_put(b, run, (size_t)(p - run));
		if (p == end)
			break;
		if (*p < 0x80) {
			switch (*p) {
			case '"':
				json_puts(b, "\\\"");
				break;
			case '\\':
				json_puts(b, "\\\\");
				break;
			case '\n':
				json_puts(b, "\\n");
				break;
			case '\r':
				json_puts(b, "\\r");
				break;
			case '\t':
				json_puts(b, "\\t");
				break;
			default:
				memcpy(esc, "\\u00", 4);
				esc[4] = hex[*p >> 4];
				esc[5] = hex[*p & 15];
				json_put(b, esc, 6);
			}
			p++;
			continue;
		}
		n = json_utf8_len(p, end);
		if (!n) {
			json_puts(b, "\\ufffd");
			p++;
		} else if (n == 3 && p[0] == 0xe2 && p[1] == 0x80 &&
			   (p[2] == 0xa8 || p[2] == 0xa9)) {
			json_puts(b, p[2] == 0xa8 ? "\\u2028" : "\\u2029");
			p += n;
		} else {
			json_put(b, p, n);
			p += n;
		}
	}
	json_put(b, "\"", 1);
}

/* "key": (our keys need no escaping) */
static void json_key(struct mon_buf *b, const char *key)
{
	json_put(b, "\"", 1);
	json_puts(b, key);
	json_put(b, "\":", 2);
}

static void json_field(struct mon_buf *b, const struct mon_sample *s, const struct json_field *f)
{
	const char *p = (const char *)s + f->off;
	int32_t i;
	float fl;
	double d;

	switch (f->kind) {
	case JSON_DOUBLE:
		memcpy(&d, p, sizeof(d));
		json_num(b, d);
		break;
	case JSON_FLOAT:
		memcpy(&fl, p, sizeof(fl));
		json_num(b, fl);
		break;
	case JSON_INT:
	case JSON_KNOB:
		memcpy(&i, p, sizeof(i));
		if (f->kind == JSON_KNOB && i < 0)
			json_puts(b, "null");
		else
			json_int(b, i);
		break;
	}
}

/* The newest sample is one before head. (head + H - 1) % H, not (head - 1) % H: head is unsigned.
 */
static unsigned json_ring_newest(const struct mon_instance *in)
{
	return (in->head % MON_HISTORY + MON_HISTORY - 1) % MON_HISTORY;
}

/* Called with fleet.lock held: copies, nothing else. */
static void json_copy_inst(struct json_inst *d, const struct mon_instance *in, double cutoff)
{
	unsigned nh = in->nhist < MON_HISTORY ? in->nhist : MON_HISTORY;
	unsigned newest = json_ring_newest(in), k = 0, i;

	memcpy(d->name, in->name, sizeof(d->name));
	memcpy(d->url, in->url, sizeof(d->url));
	memcpy(d->error, in->error, sizeof(d->error));
	memcpy(d->last_action, in->last_action, sizeof(d->last_action));
	d->reach = in->reach;
	d->reach_since = in->reach_since;
	d->drain_on = in->drain_on;
	d->limit_on = in->limit_on;
	d->have_newest = nh > 0;
	if (nh)
		d->newest = in->hist[newest];
	while (k < nh && in->hist[(newest + MON_HISTORY - k) % MON_HISTORY].t >= cutoff)
		k++;
	for (i = 0; i < k; i++)
		d->s[i] = in->hist[(newest + MON_HISTORY - (k - 1 - i)) % MON_HISTORY];
	d->n = k;
}

static void json_copy(struct json_snap *s, struct mon_fleet *f, double now)
{
	uint64_t kept, first, i;
	double cutoff;
	int n;

	pthread_mutex_lock(&f->lock);
	s->now = now;
	s->interval_ms = f->cfg.interval_ms;
	s->history_s = f->cfg.history_s;
	s->dry_run = f->cfg.dry_run;
	cutoff = now - s->history_s;
	n = f->n < 0 ? 0 : f->n > MON_MAX_INSTANCES ? MON_MAX_INSTANCES : f->n;
	s->n = 0;
	for (int j = 0; j < n; j++)
		if (f->inst[j])
			json_copy_inst(&s->inst[s->n++], f->inst[j], cutoff);
	kept = f->nactions < MON_ACTIONS ? f->nactions : MON_ACTIONS;
	first = f->nactions - kept;
	for (i = 0; i < kept; i++)
		s->act[i] = f->actions[(first + i) % MON_ACTIONS];
	s->nact = (unsigned)kept;
	pthread_mutex_unlock(&f->lock);
}

static void json_print_inst(struct mon_buf *b, const struct json_inst *in)
{
	size_t i;
	unsigned j;

	json_puts(b, "{\"name\":");
	json_str(b, in->name, sizeof(in->name));
	json_puts(b, ",\"url\":");
	json_str(b, in->url, sizeof(in->url));
	json_puts(b, ",\"reach\":\"");
	json_puts(b, (unsigned)in->reach < ARRAY_SIZE(json_reach) && json_reach[in->reach]
			 ? json_reach[in->reach]
			 : "unknown");
	json_put(b, "\"", 1);
	json_puts(b, ",\"error\":");
	json_str(b, in->error, sizeof(in->error));
	json_puts(b, ",\"reach_since\":");
	json_num(b, in->reach_since);
	json_puts(b, ",\"drain\":");
	json_bool(b, in->drain_on);
	json_puts(b, ",\"limit\":");
	json_bool(b, in->limit_on);
	json_puts(b, ",\"last_action\":");
	json_str(b, in->last_action, sizeof(in->last_action));
	json_puts(b, ",\"knobs\":{");
	for (i = 0; i < ARRAY_SIZE(json_knobs); i++) {
		if (i)
			json_put(b, ",", 1);
		json_key(b, json_knobs[i].key);
		if (in->have_newest)
			json_field(b, &in->newest, &json_knobs[i]);
		else
			json_puts(b, "null");
	}
	json_puts(b, "},\"series\":{");
	for (i = 0; i < ARRAY_SIZE(json_series); i++) {
		if (i)
			json_put(b, ",", 1);
		json_key(b, json_series[i].key);
		json_put(b, "[", 1);
		for (j = 0; j < in->n; j++) {
			if (j)
				json_put(b, ",", 1);
			json_field(b, &in->s[j], &json_series[i]);
		}
		json_put(b, "]", 1);
	}
	json_puts(b, "}}");
}

/* "" for success, else the errno's name and words: "ERANGE: Numerical result out of range". */
static void json_errno(struct mon_buf *b, int err)
{
	const char *name, *desc;
	char tmp[160];
	int e = err < 0 ? -err : err;

	if (!err) {
		json_puts(b, "\"\"");
		return;
	}
	name = strerrorname_np(e);
	desc = strerrordesc_np(e);
	if (name && desc)
		snprintf(tmp, sizeof(tmp), "%s: %s", name, desc);
	else
		snprintf(tmp, sizeof(tmp), "error %d", err);
	json_str(b, tmp, sizeof(tmp));
}

static void json_print_action(struct mon_buf *b, const struct mon_action *a)
{
	json_puts(b, "{\"t\":");
	json_num(b, a->t);
	json_puts(b, ",\"instance\":");
	json_str(b, a->instance, sizeof(a->instance));
	json_puts(b, ",\"knob\":");
	json_str(b, a->knob, sizeof(a->knob));
	json_puts(b, ",\"from\":");
	json_str(b, a->from, sizeof(a->from));
	json_puts(b, ",\"to\":");
	json_str(b, a->to, sizeof(a->to));
	json_puts(b, ",\"policy\":");
	json_str(b, a->policy, sizeof(a->policy));
	json_puts(b, ",\"reason\":");
	json_str(b, a->reason, sizeof(a->reason));
	json_puts(b, ",\"dry_run\":");
	json_bool(b, a->dry_run);
	json_puts(b, ",\"error\":");
	json_errno(b, a->err);
	json_put(b, "}", 1);
}

static void json_print(struct mon_buf *b, const struct json_snap *s)
{
	size_t need = 256 + (size_t)s->nact * (sizeof(struct mon_action) * 2);
	int i;

	/* One allocation for the common case: a sample prints in about 80 bytes. */
	for (i = 0; i < s->n; i++)
		need += sizeof(struct json_inst) - sizeof(s->inst[i].s) + s->inst[i].n * 96;
	json_reserve(b, need);

	json_puts(b, "{\"now\":");
	json_num(b, s->now);
	json_puts(b, ",\"interval_ms\":");
	json_int(b, s->interval_ms);
	json_puts(b, ",\"history_s\":");
	json_int(b, s->history_s);
	json_puts(b, ",\"dry_run\":");
	json_bool(b, s->dry_run);
	json_puts(b, ",\"instances\":[");
	for (i = 0; i < s->n; i++) {
		if (i)
			json_put(b, ",", 1);
		json_print_inst(b, &s->inst[i]);
	}
	json_puts(b, "],\"actions\":[");
	for (unsigned j = 0; j < s->nact; j++) {
		if (j)
			json_put(b, ",", 1);
		json_print_action(b, &s->act[j]);
	}
	json_puts(b, "]}");
}

void mon_json(struct mon_fleet *f, struct mon_buf *b)
{
	pthread_mutex_lock(&json_snap_lock);
	if (!json_snap) {
		/* Touched now, so that the first copy under fleet.lock faults nothing in. */
		json_snap = malloc(sizeof(*json_snap));
		if (json_snap)
			memset(json_snap, 0, sizeof(*json_snap));
	}
	if (!json_snap) {
		b->oom = true;
	} else {
		json_copy(json_snap, f, mon_now());
		json_print(b, json_snap);
	}
	pthread_mutex_unlock(&json_snap_lock);
}
