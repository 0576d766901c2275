/*
 * umlmon's dashboard (tools/umlmon/json.c) with a synthetic fleet: the
 * JSON as the page reads it. Each test names what it pins down.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "tap.h"
#include "../../tools/umlmon/umlmon.h"

/* What the core defines; the dashboard needs only the clock. */
double mon_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------------ */
/* The synthetic fleet                                                       */

static struct mon_fleet fl;

/* A name that tries everything: a quote, markup, control bytes, invalid UTF-8. */
static const char hostile_name[] = "\"</script>\x01\x7f\xff\xc0\xaf\xc3\xa9\xe2\x80\xa8<b>";
/* What it must read as, once the JSON is decoded: each bad byte a U+FFFD. */
static const char hostile_decoded[] =
    "\"</script>\x01\x7f\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xc3\xa9\xe2\x80\xa8<b>";
static const char hostile_reason[] = "</script><img src=x onerror=alert(1)>\"\\\n\x02\xfe end";

static void push(struct mon_instance *in, const struct mon_sample *s)
{
	in->hist[in->head] = *s;
	in->head = (in->head + 1) % MON_HISTORY;
	if (in->nhist < MON_HISTORY)
		in->nhist++;
}

/* The sample @i seconds into instance @k's life: smooth load, a burst, knobs that move. */
static struct mon_sample sample(int k, int i, double t, double born)
{
	struct mon_sample s = {.t = t};
	double x = i / 37.0 + k,
	       burst = fabs(t - (born + 330)) < 40 ? 40 - fabs(t - (born + 330)) : 0;

	s.in_flight = (int32_t)(30 + 18 * sin(x) + 6 * sin(x * 3.1) + burst / 2);
	s.queued = (int32_t)(burst + (k == 1 ? 4 + 3 * sin(x * 2) : 0));
	s.accept_queue = (int32_t)(burst / 3);
	s.max_request_workers = t < born + 450 ? 150 : 120;
	s.queue_limit = t >= born + 330 && t < born + 390 ? 0 : 256;
	s.accepting = 1;
	s.rps = (float)(120 + 40 * sin(x / 2));
	s.service_ms = (float)(20 + 5 * sin(x));
	s.p99_ms = (float)(45 + 20 * sin(x * 1.7) + burst * 2.5);
	s.wait_ms = (float)burst;
	return s;
}

static struct mon_instance *add(const char *name, const char *url, enum mon_reach reach)
{
	struct mon_instance *in = calloc(1, sizeof(*in));

	if (!in)
		bail_out("calloc");
	snprintf(in->name, sizeof(in->name), "%s", name);
	snprintf(in->url, sizeof(in->url), "%s", url);
	in->reach = reach;
	in->drain_on = in->limit_on = true;
	fl.inst[fl.n++] = in;
	return in;
}

static void act(double t, const char *inst, const char *knob, const char *from, const char *to,
		const char *policy, const char *reason, bool dry, int err)
{
	struct mon_action *a = &fl.actions[fl.nactions++ % MON_ACTIONS];

	memset(a, 0, sizeof(*a));
	a->t = t;
	snprintf(a->instance, sizeof(a->instance), "%s", inst);
	snprintf(a->knob, sizeof(a->knob), "%s", knob);
	snprintf(a->from, sizeof(a->from), "%s", from);
	snprintf(a->to, sizeof(a->to), "%s", to);
	snprintf(a->policy, sizeof(a->policy), "%s", policy);
	snprintf(a->reason, sizeof(a->reason), "%s", reason);
	a->dry_run = dry;
	a->err = err;
}

/*
 * web1: up for ten minutes, a sample a second, one NaN p99 and one infinite
 * rps; web2: a ring that wrapped, a sample every 2 s for 20 minutes, of
 * which the window holds 10; web3: not polled yet; db-1: down for a minute,
 * knobs not reported; the hostile one; refused and badurl ones.
 */
static void fleet_build(double now)
{
	struct mon_instance *in;
	struct mon_sample s;
	double born = now - 599;

	pthread_mutex_init(&fl.lock, NULL);
	fl.cfg.interval_ms = 1000;
	fl.cfg.history_s = 600;
	fl.started = now - 1200;

	in = add("web1", "nfs://10.0.0.11/status", MON_UP);
	in->reach_since = now - 1190;
	for (int i = 0; i < 600; i++) {
		s = sample(0, i, born + i, born);
		if (i == 100)
			s.p99_ms = NAN;
		if (i == 101)
			s.rps = INFINITY;
		push(in, &s);
	}
	snprintf(in->last_action, sizeof(in->last_action), "MaxRequestWorkers 150->120 limit");

	in = add("web2", "nfs://10.0.0.12:2049/status", MON_UP);
	in->reach_since = now - 1300;
	for (int i = 0; i < 750; i++) {
		s = sample(1, i, now - 1498 + 2 * i, now - 1498 + 900);
		push(in, &s);
	}
	in->limit_on = false;

	in = add("web3", "nfs://10.0.0.13/status", MON_NEW);

	in = add("db-1", "nfs://10.0.0.21/status", MON_DOWN);
	in->reach_since = now - 60;
	in->err = -ECONNREFUSED;
	snprintf(in->error, sizeof(in->error), "connect 10.0.0.21:2049: Connection refused");
	for (int i = 0; i < 300; i++) {
		s = sample(2, i, now - 360 + i, now - 660);
		s.max_request_workers = s.queue_limit = s.accepting = -1;
		push(in, &s);
	}

	in = add(hostile_name, "nfs://x/\"></a><script>alert(1)</script>", MON_GARBAGE);
	in->reach_since = now - 5;
	snprintf(in->error, sizeof(in->error), "%s", "bad\tmetrics:\r\n\"\\\x1b[31m");
	snprintf(in->last_action, sizeof(in->last_action), "%s", hostile_reason);

	in = add("cache-a", "nfs://10.0.0.31/status", MON_REFUSED);
	in->reach_since = now - 200;
	snprintf(in->error, sizeof(in->error), "mount /status: access denied");
	in = add("typo", "nfs//10.0.0.99", MON_BADURL);
	snprintf(in->error, sizeof(in->error), "URL does not parse");

	act(now - 270, "web1", "QueueLimit", "256", "0", "drain",
	    "backlog 52 >= high 40 for 5000 ms", false, 0);
	act(now - 210, "web1", "QueueLimit", "0", "", "drain", "backlog 3 <= low 8 after the dwell",
	    false, 0);
	act(now - 150, "web1", "MaxRequestWorkers", "150", "120", "limit",
	    "service 48 ms > 1.5 x baseline 30 ms for 5 polls", false, 0);
	act(now - 95, "web2", "MaxRequestWorkers", "150", "135", "limit",
	    "service 41 ms > 1.5 x baseline 26 ms", true, 0);
	act(now - 40, "db-1", "QueueLimit", "256", "0", "drain", "backlog 61 >= high 40", false,
	    -ETIMEDOUT);
	act(now - 20, "web2", "MaxRequestWorkers", "135", "5000", "limit", "grow to the max", false,
	    -ERANGE);
	act(now - 10, hostile_name, "QueueLimit", "256", "0", "drain", hostile_reason, false, 0);
}

/* ------------------------------------------------------------------------ */
/* A JSON checker (RFC 8259), and a way through a checked text               */

static const char *j_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static size_t utf8_ok(const unsigned char *p)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (*p >= 0xc2 && *p <= 0xdf)
		n = 2;
	else if (*p >= 0xe0 && *p <= 0xef)
		n = 3;
	else if (*p >= 0xf0 && *p <= 0xf4)
		n = 4;
	else
		return 0;
	lo = *p == 0xe0 ? 0xa0 : *p == 0xf0 ? 0x90 : 0x80;
	hi = *p == 0xed ? 0x9f : *p == 0xf4 ? 0x8f : 0xbf;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

static const char *j_str(const char *p)
{
	if (*p++ != '"')
		return NULL;
	while (*p != '"') {
		unsigned char c = (unsigned char)*p;
		size_t n;

		if (c < 0x20)
			return NULL;
		if (c == '\\') {
			p++;
			if (*p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!strchr("0123456789abcdefABCDEF", p[i]) || !p[i])
						return NULL;
				p += 5;
			} else if (*p && strchr("\"\\/bfnrt", *p)) {
				p++;
			} else {
				return NULL;
			}
		} else if (c >= 0x80) {
			if (!(n = utf8_ok((const unsigned char *)p)))
				return NULL;
			p += n;
		} else {
			p++;
		}
	}
	return p + 1;
}

static const char *j_num(const char *p)
{
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (*p >= '0' && *p <= '9')
			p++;
	else
		return NULL;
	if (*p == '.') {
		if (*++p < '0' || *p > '9')
			return NULL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		if (*++p == '+' || *p == '-')
			p++;
		if (*p < '0' || *p > '9')
			return NULL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return p;
}

/* The end of the JSON value at @p, or NULL if there is none. */
static const char *j_skip(const char *p, int depth)
{
	p = j_ws(p);
	if (depth > 32)
		return NULL;
	if (*p == '{' || *p == '[') {
		char close = *p == '{' ? '}' : ']';

		p = j_ws(p + 1);
		if (*p == close)
			return p + 1;
		for (;;) {
			if (close == '}') {
				if (!(p = j_str(j_ws(p))))
					return NULL;
				p = j_ws(p);
				if (*p++ != ':')
					return NULL;
			}
			if (!(p = j_skip(p, depth + 1)))
				return NULL;
			p = j_ws(p);
			if (*p == close)
				return p + 1;
			if (*p++ != ',')
				return NULL;
		}
	}
	if (*p == '"')
		return j_str(p);
	if (!strncmp(p, "true", 4))
		return p + 4;
	if (!strncmp(p, "false", 5))
		return p + 5;
	if (!strncmp(p, "null", 4))
		return p + 4;
	return j_num(p);
}

static bool j_valid(const char *text)
{
	const char *e = j_skip(text, 0);

	return e && !*j_ws(e);
}

/* The string at @p decoded into @out (\u escapes to UTF-8; no surrogate pairs here). */
static char *j_decode(const char *p, char *out, size_t n)
{
	size_t o = 0;

	if (!p || *p != '"') {
		snprintf(out, n, "(not a string)");
		return out;
	}
	for (p++; *p != '"' && o + 4 < n; p++) {
		unsigned u;

		if (*p != '\\') {
			out[o++] = *p;
			continue;
		}
		switch (*++p) {
		case 'n':
			out[o++] = '\n';
			break;
		case 'r':
			out[o++] = '\r';
			break;
		case 't':
			out[o++] = '\t';
			break;
		case 'b':
			out[o++] = '\b';
			break;
		case 'f':
			out[o++] = '\f';
			break;
		case 'u':
			sscanf(p + 1, "%4x", &u);
			p += 4;
			if (u < 0x80) {
				out[o++] = (char)u;
			} else if (u < 0x800) {
				out[o++] = (char)(0xc0 | u >> 6);
				out[o++] = (char)(0x80 | (u & 63));
			} else {
				out[o++] = (char)(0xe0 | u >> 12);
				out[o++] = (char)(0x80 | ((u >> 6) & 63));
				out[o++] = (char)(0x80 | (u & 63));
			}
			break;
		default:
			out[o++] = *p;
		}
	}
	out[o] = '\0';
	return out;
}

/* In the object at @p, the value of @key; NULL without one. */
static const char *j_get(const char *p, const char *key)
{
	char k[64];

	if (!p || *(p = j_ws(p)) != '{')
		return NULL;
	p = j_ws(p + 1);
	while (*p == '"') {
		j_decode(p, k, sizeof(k));
		if (!(p = j_str(p)) || *(p = j_ws(p)) != ':')
			return NULL;
		p = j_ws(p + 1);
		if (!strcmp(k, key))
			return p;
		if (!(p = j_skip(p, 0)))
			return NULL;
		if (*(p = j_ws(p)) == ',')
			p = j_ws(p + 1);
	}
	return NULL;
}

/* In the array at @p, element @i; NULL past its end. */
static const char *j_at(const char *p, int i)
{
	if (!p || *(p = j_ws(p)) != '[')
		return NULL;
	p = j_ws(p + 1);
	if (*p == ']')
		return NULL;
	while (i--) {
		if (!(p = j_skip(p, 0)) || *(p = j_ws(p)) != ',')
			return NULL;
		p = j_ws(p + 1);
	}
	return p;
}

/* The number at @p, NaN for null or anything else. */
static double j_num_at(const char *p)
{
	return p && (*p == '-' || (*p >= '0' && *p <= '9')) ? strtod(p, NULL) : NAN;
}

/* The elements of the array at @p as numbers (NaN for null) into @out; how many there are. */
static int j_nums(const char *p, double *out, int max)
{
	int n = 0;

	if (!p || *(p = j_ws(p)) != '[')
		return -1;
	p = j_ws(p + 1);
	if (*p == ']')
		return 0;
	for (;;) {
		if (n < max)
			out[n] = j_num_at(p);
		n++;
		if (!(p = j_skip(p, 0)) || *(p = j_ws(p)) != ',')
			return n;
		p = j_ws(p + 1);
	}
}

static int j_len(const char *p)
{
	return j_nums(p, NULL, 0);
}

static bool j_is(const char *p, const char *word)
{
	return p && !strncmp(p, word, strlen(word));
}

/* The instance named @name in the fleet's JSON @doc. */
static const char *j_inst(const char *doc, const char *name)
{
	const char *inst = j_get(doc, "instances"), *i;
	char got[256];

	for (int n = 0; (i = j_at(inst, n)); n++)
		if (!strcmp(j_decode(j_get(i, "name"), got, sizeof(got)), name))
			return i;
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* mon_json                                                                  */

static char *fleet_json(struct mon_fleet *f, size_t *len)
{
	struct mon_buf b = {0};

	mon_json(f, &b);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	if (len)
		*len = b.len;
	return b.p;
}

static const char *const series_keys[] = {
    "t",	   "in_flight", "queued", "accept_queue", "max_request_workers",
    "queue_limit", "rps",	"p99_ms",
};
#define NKEYS (int)(sizeof(series_keys) / sizeof(series_keys[0]))

/* Whether each of @inst's series has @n values and its times rise. */
static bool series_ok(const char *inst, int n)
{
	const char *s = j_get(inst, "series");
	static double t[MON_HISTORY + 1];
	bool good = j_nums(j_get(s, "t"), t, MON_HISTORY + 1) == n;

	for (int k = 1; k < NKEYS; k++)
		if (j_len(j_get(s, series_keys[k])) != n) {
			diag("    %s has %d values, t %d", series_keys[k],
			     j_len(j_get(s, series_keys[k])), n);
			good = false;
		}
	for (int i = 1; i < n && good; i++)
		good = t[i] > t[i - 1];
	return good;
}

static void test_json(void)
{
	double now = mon_now(), v[MON_HISTORY + 1];
	char *doc = fleet_json(&fl, NULL), got[512];
	const char *w1, *w2, *w3, *db, *ho, *acts, *a;
	int n, bad;

	if (!doc)
		bail_out("mon_json: out of memory");
	ok(j_valid(doc) && fabs(j_num_at(j_get(doc, "now")) - now) < 5 &&
	       j_num_at(j_get(doc, "interval_ms")) == 1000 &&
	       j_num_at(j_get(doc, "history_s")) == 600 && j_is(j_get(doc, "dry_run"), "false"),
	   "1 mon_json gives one valid JSON object with now, interval_ms, history_s, dry_run");
	ok(pthread_mutex_trylock(&fl.lock) == 0 && pthread_mutex_unlock(&fl.lock) == 0,
	   "2 and gives fleet.lock back");

	n = j_len(j_get(doc, "instances"));
	bad = 0;
	for (int i = 0; i < fl.n && i < n; i++) {
		const char *want = i == 4 ? hostile_decoded : fl.inst[i]->name;

		j_decode(j_get(j_at(j_get(doc, "instances"), i), "name"), got, sizeof(got));
		if (strcmp(got, want)) {
			diag("    instance %d is '%s'", i, got);
			bad++;
		}
	}
	ok(n == fl.n && !bad,
	   "3 every instance, in the fleet's order, its name as stored (bad UTF-8 as U+FFFD)");

	w1 = j_inst(doc, "web1");
	ok(series_ok(w1, 600), "4 web1's 8 series hold its 600 samples, oldest first");

	/* web2's ring wrapped (head 150): 750 samples 2 s apart, 300 of them in the window. */
	w2 = j_inst(doc, "web2");
	n = j_nums(j_get(j_get(w2, "series"), "t"), v, MON_HISTORY + 1);
	ok(fl.inst[1]->head == 150 && series_ok(w2, n) && n >= 299 && n <= 301 &&
	       v[0] >= now - 600 - 1 && fabs(v[n - 1] - fl.inst[1]->hist[149].t) < 0.001,
	   "5 a wrapped ring gives the last history_s seconds only, oldest first, to its newest");
	if (n < 299 || n > 301)
		diag("    web2 has %d samples in the window", n);

	n = j_nums(j_get(j_get(w1, "series"), "p99_ms"), v, MON_HISTORY + 1);
	bad = isnan(v[100]) && !isnan(v[99]) && !isnan(v[102]);
	n = j_nums(j_get(j_get(w1, "series"), "rps"), v, MON_HISTORY + 1);
	ok(bad && isnan(v[101]) && !isnan(v[100]) &&
	       j_is(j_at(j_get(j_get(w1, "series"), "rps"), 101), "null"),
	   "6 a NaN p99 and an infinite rate are null, their neighbours numbers");

	db = j_inst(doc, "db-1");
	w3 = j_inst(doc, "web3");
	n = j_nums(j_get(j_get(db, "series"), "max_request_workers"), v, MON_HISTORY + 1);
	bad = n != 300;
	for (int i = 0; i < n && i < MON_HISTORY; i++)
		bad += !isnan(v[i]);
	ok(j_num_at(j_get(j_get(w1, "knobs"), "MaxRequestWorkers")) == 120 &&
	       j_num_at(j_get(j_get(w1, "knobs"), "QueueLimit")) == 256 &&
	       j_num_at(j_get(j_get(w1, "knobs"), "Accepting")) == 1 &&
	       j_is(j_get(j_get(db, "knobs"), "QueueLimit"), "null") && !bad,
	   "7 the knobs in force come from the newest sample; one not reported (-1) is null");
	ok(j_is(j_get(j_get(w3, "knobs"), "MaxRequestWorkers"), "null") && series_ok(w3, 0) &&
	       j_is(j_get(w3, "reach"), "\"new\"") && j_is(j_get(db, "reach"), "\"down\""),
	   "8 an instance not polled yet: reach new, knobs null, series empty");

	bad = 0;
	for (const unsigned char *p = (const unsigned char *)doc; *p; p++)
		if (*p < 0x20 || *p == '<' || *p == '>' || *p == 0x7f)
			bad++;
	ok(!bad && !strstr(doc, "\xe2\x80\xa8") && strstr(doc, "\\u2028") &&
	       strstr(doc, "\\u003c/script\\u003e"),
	   "9 no control byte, '<' or '>' and no U+2028 raw: '</script>' cannot end a script");

	ho = j_inst(doc, hostile_decoded);
	ok(ho &&
	       !strcmp(j_decode(j_get(ho, "error"), got, sizeof(got)),
		       "bad\tmetrics:\r\n\"\\\x1b[31m") &&
	       !strcmp(j_decode(j_get(ho, "last_action"), got, sizeof(got)),
		       "</script><img src=x onerror=alert(1)>\"\\\n\x02\xef\xbf\xbd end") &&
	       !strcmp(j_decode(j_get(ho, "url"), got, sizeof(got)),
		       "nfs://x/\"></a><script>alert(1)</script>"),
	   "10 hostile errors, reasons and URLs decode back to what was stored");

	acts = j_get(doc, "actions");
	n = j_nums(acts, v, 0);
	bad = 0;
	for (int i = 1; i < n; i++)
		bad += !(j_num_at(j_get(j_at(acts, i), "t")) >
			 j_num_at(j_get(j_at(acts, i - 1), "t")));
	a = j_at(acts, 5);
	ok(n == 7 && !bad && j_is(j_get(j_at(acts, 3), "dry_run"), "true") &&
	       j_is(j_get(j_at(acts, 1), "to"), "\"\"") &&
	       j_is(j_get(a, "error"), "\"ERANGE: Numerical result out of range\"") &&
	       j_is(j_get(j_at(acts, 4), "error"), "\"ETIMEDOUT: ") &&
	       j_is(j_get(j_at(acts, 0), "error"), "\"\"") &&
	       j_is(j_get(a, "policy"), "\"limit\"") &&
	       j_is(j_get(a, "knob"), "\"MaxRequestWorkers\"") && j_is(j_get(a, "from"), "\"135\""),
	   "11 actions oldest first: dry_run, a cleared value, an errno as its name and words");
	free(doc);
}

/* A fleet of its own: @n instances of @samples samples a second up to now, @nact actions. */
static struct mon_fleet *fleet_big(int n, int samples, int nact)
{
	struct mon_fleet *f = calloc(1, sizeof(*f));
	double now = mon_now();

	if (!f)
		bail_out("calloc");
	pthread_mutex_init(&f->lock, NULL);
	f->cfg.interval_ms = 1000;
	f->cfg.history_s = 600;
	for (int k = 0; k < n; k++) {
		struct mon_instance *in = calloc(1, sizeof(*in));

		if (!in)
			bail_out("calloc");
		snprintf(in->name, sizeof(in->name), "node-%02d", k);
		snprintf(in->url, sizeof(in->url), "nfs://10.1.0.%d/status", k);
		in->reach = MON_UP;
		for (int i = 0; i < samples; i++) {
			struct mon_sample s = sample(k, i, now - samples + 1 + i, now - samples);

			push(in, &s);
		}
		f->inst[f->n++] = in;
	}
	for (int i = 0; i < nact; i++) {
		struct mon_action *a = &f->actions[f->nactions++ % MON_ACTIONS];

		memset(a, 0, sizeof(*a));
		a->t = now - nact + i;
		snprintf(a->instance, sizeof(a->instance), "node-00");
		snprintf(a->reason, sizeof(a->reason), "action %d", i);
	}
	return f;
}

static void fleet_free(struct mon_fleet *f)
{
	for (int k = 0; k < f->n; k++)
		free(f->inst[k]);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

static void test_json_limits(void)
{
	struct mon_fleet *f = fleet_big(1, 10, 300);
	struct mon_buf b;
	char *doc = fleet_json(f, NULL), got[64];
	const char *acts = j_get(doc, "actions");
	size_t len;
	double t0;
	int bad = 0;

	ok(doc && j_len(acts) == MON_ACTIONS &&
	       !strcmp(j_decode(j_get(j_at(acts, 0), "reason"), got, sizeof(got)), "action 44") &&
	       !strcmp(j_decode(j_get(j_at(acts, 255), "reason"), got, sizeof(got)), "action 299"),
	   "12 300 actions made: the 256 kept, from the 45th, oldest first");
	free(doc);
	fleet_free(f);

	f = fleet_big(MON_MAX_INSTANCES, MON_HISTORY, MON_ACTIONS);
	t0 = mono();
	doc = fleet_json(f, &len);
	t0 = mono() - t0;
	for (int k = 0; doc && k < MON_MAX_INSTANCES; k++)
		bad += !series_ok(j_at(j_get(doc, "instances"), k), MON_HISTORY);
	ok(doc && j_valid(doc) && !bad && len < (4u << 20),
	   "13 a full fleet (64 x 600 samples, 256 actions) is valid JSON under 4 MB");
	diag("    %zu bytes in %.1f ms", len, t0 * 1000);
	free(doc);

	/* A buffer at the end of the address space: any write through it would crash. */
	b = (struct mon_buf){.p = NULL, .len = SIZE_MAX - 8, .cap = SIZE_MAX - 8};
	mon_json(f, &b);
	ok(b.oom && b.len == SIZE_MAX - 8 && !b.p,
	   "14 a buffer that cannot grow comes back oom, untouched");
	fleet_free(f);

	b = (struct mon_buf){0};
	mon_json(&fl, &b);
	len = b.len;
	mon_json(&fl, &b);
	ok(!b.oom && b.len > len && !memcmp(b.p, b.p + len, 8) && b.p[b.len] == '\0',
	   "15 mon_json appends to what the buffer holds, and ends it with a NUL");
	free(b.p);
}

int main(void)
{
	plan(15);
	fleet_build(mon_now());
	test_json();
	test_json_limits();
	return done_testing();
}
