/*
 * An instance's /status/metrics (Prometheus text exposition, version 0.0.4)
 * read into the few figures the monitor acts on, and two polls turned into
 * one sample.
 *
 * The text comes from the network: nothing here trusts a length, a number
 * or a label. Lines the monitor has no use for are skipped, but each must
 * still parse; a file that is not the format at all is -EPROTO, so an
 * instance that answers garbage is reported as such rather than read as
 * zeros.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "umlmon.h"

#define LINE_MAX_LEN 1024
#define LABELS_MAX   4

struct label {
	char name[32];
	char value[96];
};

struct line {
	char name[96];
	struct label label[LABELS_MAX];
	int nlabels;
	double value;
};

static const char *label_get(const struct line *l, const char *name)
{
	for (int i = 0; i < l->nlabels; i++)
		if (strcmp(l->label[i].name, name) == 0)
			return l->label[i].value;
	return NULL;
}

static bool name_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
	       (!first && c >= '0' && c <= '9');
}

/* `{a="x",b="y"}` at *@p; labels past LABELS_MAX or too long are dropped, not refused. */
static int labels_parse(const char **p, const char *end, struct line *l)
{
	const char *s = *p + 1;

	for (;;) {
		char name[32], value[96];
		size_t n = 0, v = 0;

		while (s < end && (*s == ' ' || *s == ','))
			s++;
		if (s < end && *s == '}') {
			*p = s + 1;
			return 0;
		}
		while (s < end && name_char(*s, n == 0)) {
			if (n + 1 < sizeof(name))
				name[n++] = *s;
			s++;
		}
		name[n] = '\0';
		if (!n || s + 1 >= end || s[0] != '=' || s[1] != '"')
			return -EPROTO;
		s += 2;
		while (s < end && *s != '"') {
			char c = *s++;

			if (c == '\\') {
				if (s >= end)
					return -EPROTO;
				c = *s++;
				c = c == 'n' ? '\n' : c;
			}
			if (v + 1 < sizeof(value))
				value[v++] = c;
		}
		if (s >= end)
			return -EPROTO;
		s++;
		value[v] = '\0';
		if (l->nlabels < LABELS_MAX) {
			snprintf(l->label[l->nlabels].name, sizeof(l->label[0].name), "%s", name);
			snprintf(l->label[l->nlabels].value, sizeof(l->label[0].value), "%s",
				 value);
			l->nlabels++;
		}
	}
}

/* One sample line: name, labels, value (a timestamp after it is ignored). */
static int line_parse(const char *s, const char *end, struct line *l)
{
	char num[64];
	size_t n = 0;
	char *stop;

	l->nlabels = 0;
	while (s < end && name_char(*s, n == 0)) {
		if (n + 1 >= sizeof(l->name))
			return -EPROTO;
		l->name[n++] = *s++;
	}
	l->name[n] = '\0';
	if (!n)
		return -EPROTO;
	if (s < end && *s == '{' && labels_parse(&s, end, l))
		return -EPROTO;
	if (s >= end || (*s != ' ' && *s != '\t'))
		return -EPROTO;
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	for (n = 0; s < end && *s != ' ' && *s != '\t'; s++) {
		if (n + 1 >= sizeof(num))
			return -EPROTO;
		num[n++] = *s;
	}
	num[n] = '\0';
	if (!n)
		return -EPROTO;
	if (strcmp(num, "+Inf") == 0)
		l->value = INFINITY;
	else if (strcmp(num, "-Inf") == 0)
		l->value = -INFINITY;
	else if (strcmp(num, "NaN") == 0)
		l->value = NAN;
	else {
		l->value = strtod(num, &stop);
		if (*stop)
			return -EPROTO;
	}
	return 0;
}

static int64_t as_int(double v)
{
	if (!isfinite(v) || v < -1e15 || v > 1e15)
		return 0;
	return (int64_t)v;
}

static uint64_t as_count(double v)
{
	if (!isfinite(v) || v < 0 || v > 1.8e19)
		return 0;
	return (uint64_t)v;
}

static enum mon_source source_parse(const char *s)
{
	if (!s)
		return MON_SRC_UNKNOWN;
	if (strcmp(s, "conf") == 0)
		return MON_SRC_CONF;
	if (strcmp(s, "import") == 0)
		return MON_SRC_IMPORT;
	if (strcmp(s, "local") == 0)
		return MON_SRC_LOCAL;
	return MON_SRC_UNKNOWN;
}

static struct mon_knob *knob_of(struct mon_metrics *m, const char *name)
{
	if (!name)
		return NULL;
	if (strcmp(name, "MaxRequestWorkers") == 0)
		return &m->mrw;
	if (strcmp(name, "Accepting") == 0)
		return &m->accepting;
	if (strcmp(name, "QueueLimit") == 0)
		return &m->queue_limit;
	return NULL;
}

/* The bucket of bound @le: its index, added in ascending order; -1 when full. */
static int bucket_slot(struct mon_metrics *m, double le)
{
	for (unsigned i = 0; i < m->nbuckets; i++)
		if (m->le[i] == le)
			return (int)i;
	if (m->nbuckets == MON_BUCKETS || (m->nbuckets && le < m->le[m->nbuckets - 1]))
		return -1;
	m->le[m->nbuckets] = le;
	return (int)m->nbuckets++;
}

enum { SEEN_IN_FLIGHT = 1, SEEN_QUEUED = 2, SEEN_COUNT = 4 };

static void line_use(struct mon_metrics *m, const struct line *l, unsigned *seen)
{
	const char *n = l->name;
	struct mon_knob *k;

	if (strncmp(n, "umlconf_", 8) != 0)
		return;
	n += 8;
	if (strcmp(n, "requests_in_flight") == 0) {
		m->in_flight = as_int(l->value);
		*seen |= SEEN_IN_FLIGHT;
	} else if (strcmp(n, "requests_queued") == 0) {
		m->queued = as_int(l->value);
		*seen |= SEEN_QUEUED;
	} else if (strcmp(n, "requests_rejected_total") == 0) {
		m->rejected = as_count(l->value);
	} else if (strcmp(n, "listen_queue") == 0) {
		m->accept_queue += as_int(l->value);
	} else if (strcmp(n, "request_duration_seconds_bucket") == 0) {
		const char *le = label_get(l, "le");
		char *stop;
		double b;
		int i;

		if (!le)
			return;
		b = strcmp(le, "+Inf") == 0 ? INFINITY : strtod(le, &stop);
		if (isnan(b) || (b != INFINITY && *stop))
			return;
		i = bucket_slot(m, b);
		if (i >= 0)
			m->bucket[i] = as_count(l->value);
	} else if (strcmp(n, "request_duration_seconds_sum") == 0) {
		m->dur_sum = isfinite(l->value) ? l->value : 0;
	} else if (strcmp(n, "request_duration_seconds_count") == 0) {
		m->dur_count = as_count(l->value);
		*seen |= SEEN_COUNT;
	} else if (strcmp(n, "admission_wait_seconds_sum") == 0) {
		m->wait_sum = isfinite(l->value) ? l->value : 0;
	} else if (strcmp(n, "admission_wait_seconds_count") == 0) {
		m->wait_count = as_count(l->value);
	} else if ((k = knob_of(m, label_get(l, "knob")))) {
		if (strcmp(n, "knob_value") == 0) {
			k->seen = true;
			k->value = as_int(l->value);
			k->source = source_parse(label_get(l, "source"));
		} else if (strcmp(n, "knob_min") == 0) {
			k->min = as_int(l->value);
		} else if (strcmp(n, "knob_max") == 0) {
			k->max = as_int(l->value);
		}
	}
}

int mon_metrics_parse(const char *text, size_t len, struct mon_metrics *m, char *why, size_t whylen)
{
	const char *p = text, *end = text + len;
	unsigned seen = 0, lineno = 0;

	memset(m, 0, sizeof(*m));
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *stop = eol ? eol : end;
		struct line l;

		lineno++;
		if (stop - p > LINE_MAX_LEN) {
			snprintf(why, whylen, "metrics line %u is longer than %d bytes", lineno,
				 LINE_MAX_LEN);
			return -EPROTO;
		}
		if (stop > p && *p != '#') {
			if (line_parse(p, stop, &l)) {
				snprintf(why, whylen, "metrics line %u is not the text format",
					 lineno);
				return -EPROTO;
			}
			line_use(m, &l, &seen);
		}
		p = stop + 1;
	}
	if (!(seen & SEEN_IN_FLIGHT) || !(seen & SEEN_QUEUED) || !(seen & SEEN_COUNT) ||
	    !m->mrw.seen) {
		snprintf(why, whylen, "metrics lack %s",
			 !(seen & SEEN_IN_FLIGHT) ? "umlconf_requests_in_flight"
			 : !(seen & SEEN_QUEUED)  ? "umlconf_requests_queued"
			 : !(seen & SEEN_COUNT)	  ? "umlconf_request_duration_seconds"
						  : "MaxRequestWorkers in umlconf_knob_value");
		return -EPROTO;
	}
	return 0;
}

/* The @q quantile of the requests that fell in each bucket between @a and @b, in ms. */
static double quantile_ms(const struct mon_metrics *a, const struct mon_metrics *b, double q)
{
	uint64_t total, rank, prev = 0;
	double lower = 0;

	if (!b->nbuckets || !a || a->nbuckets != b->nbuckets)
		return 0;
	total = b->bucket[b->nbuckets - 1] - a->bucket[a->nbuckets - 1];
	if (!total || b->bucket[b->nbuckets - 1] < a->bucket[a->nbuckets - 1])
		return 0;
	rank = (uint64_t)ceil(q * (double)total);
	for (unsigned i = 0; i < b->nbuckets; i++) {
		uint64_t c = b->bucket[i] >= a->bucket[i] ? b->bucket[i] - a->bucket[i] : 0;

		if (c >= rank) {
			/* Past the last finite bound nothing says how far: report that bound. */
			if (isinf(b->le[i]))
				return lower * 1000;
			if (c == prev)
				return b->le[i] * 1000;
			return (lower +
				(b->le[i] - lower) * (double)(rank - prev) / (double)(c - prev)) *
			       1000;
		}
		prev = c;
		lower = b->le[i];
	}
	return lower * 1000;
}

void mon_sample_derive(const struct mon_metrics *a, const struct mon_metrics *b, double dt,
		       double t, struct mon_sample *s)
{
	memset(s, 0, sizeof(*s));
	s->t = t;
	s->in_flight = (int32_t)b->in_flight;
	s->queued = (int32_t)b->queued;
	s->accept_queue = (int32_t)b->accept_queue;
	s->max_request_workers = b->mrw.seen ? (int32_t)b->mrw.value : -1;
	s->accepting = b->accepting.seen ? (int32_t)b->accepting.value : -1;
	s->queue_limit = b->queue_limit.seen ? (int32_t)b->queue_limit.value : -1;
	/* A counter that went back is a restarted instance: no rates from that pair. */
	if (!a || dt <= 0 || b->dur_count < a->dur_count || b->rejected < a->rejected)
		return;
	if (b->dur_count > a->dur_count) {
		double n = (double)(b->dur_count - a->dur_count);

		s->rps = (float)(n / dt);
		s->service_ms = (float)((b->dur_sum - a->dur_sum) * 1000 / n);
		s->p99_ms = (float)quantile_ms(a, b, 0.99);
	}
	if (b->wait_count > a->wait_count)
		s->wait_ms = (float)((b->wait_sum - a->wait_sum) * 1000 /
				     (double)(b->wait_count - a->wait_count));
	s->rejected_ps = (float)((double)(b->rejected - a->rejected) / dt);
}
