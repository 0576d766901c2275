/*
 * umlmon's dashboard (tools/umlmon/json.c, http.c) with a synthetic fleet:
 * the JSON as the page reads it, and the server as a browser and as an
 * attacker talk to it. Each test names what it pins down.
 *
 *   umlmon-http.t                  the tests (TAP)
 *   umlmon-http.t --serve SECONDS [host:port]
 *                                  serve the synthetic fleet, a sample a
 *                                  second, for t/umlmon/ and for people;
 *                                  prints "http://host:port/" when ready
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

extern const unsigned char mon_page_html[];
extern const size_t mon_page_html_len;

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

/* ------------------------------------------------------------------------ */
/* An HTTP client, as careful as the tests need                              */

static int port;

static int dial(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct timeval tv = {.tv_sec = 5};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		bail_out("connect to port %d: %s", port, strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static void say(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);

		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static void says(int fd, const char *s)
{
	say(fd, s, strlen(s));
}

struct client {
	int fd;
	char *buf;
	size_t len, cap;
};

struct resp {
	int status;
	char head[4096];
	char *body;
	size_t body_len;
};

/* More bytes into @c: how many, 0 at EOF, -1 on error or after 5 s. */
static ssize_t more(struct client *c)
{
	ssize_t r;

	if (c->cap - c->len < 65536) {
		c->cap = c->cap * 2 + 65536;
		if (!(c->buf = realloc(c->buf, c->cap)))
			bail_out("realloc");
	}
	r = recv(c->fd, c->buf + c->len, c->cap - c->len - 1, 0);
	if (r > 0)
		c->len += (size_t)r;
	c->buf[c->len] = '\0';
	return r;
}

/* Header @name's value in @r, or NULL. */
static const char *header(const struct resp *r, const char *name)
{
	static char val[1024];
	const char *p = strstr(r->head, "\r\n");
	size_t nl = strlen(name);

	while (p && p[2] != '\r') {
		const char *line = p + 2, *e = strstr(line, "\r\n");

		if (!strncasecmp(line, name, nl) && line[nl] == ':') {
			line += nl + 1;
			while (*line == ' ')
				line++;
			snprintf(val, sizeof(val), "%.*s", (int)(e - line), line);
			return val;
		}
		p = e;
	}
	return NULL;
}

/* The next response on @c (no body for HEAD). 0, or -1 when the connection ended first. */
static int response(struct client *c, struct resp *r, bool head_only)
{
	const char *v;
	size_t hl, cl = 0;
	char *e;

	memset(r, 0, sizeof(*r));
	while (!c->buf || !(e = memmem(c->buf, c->len, "\r\n\r\n", 4)))
		if (more(c) <= 0)
			return -1;
	hl = (size_t)(e + 4 - c->buf);
	if (hl >= sizeof(r->head))
		return -1;
	memcpy(r->head, c->buf, hl);
	r->status = atoi(r->head + 9);
	if ((v = header(r, "Content-Length")) && !head_only)
		cl = strtoul(v, NULL, 10);
	while (c->len < hl + cl)
		if (more(c) <= 0)
			return -1;
	if (!(r->body = malloc(cl + 1)))
		bail_out("malloc");
	memcpy(r->body, c->buf + hl, cl);
	r->body[cl] = '\0';
	r->body_len = cl;
	memmove(c->buf, c->buf + hl + cl, c->len - hl - cl);
	c->len -= hl + cl;
	return 0;
}

static void resp_free(struct resp *r)
{
	free(r->body);
	r->body = NULL;
}

static void client_close(struct client *c)
{
	close(c->fd);
	free(c->buf);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* Whether the server ends the connection within @ms (what it sends first is kept). */
static bool ends(struct client *c, int ms)
{
	double until = mono() + ms / 1000.0;

	for (;;) {
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		int left = (int)((until - mono()) * 1000);
		ssize_t r;

		if (left < 0 || poll(&p, 1, left) <= 0)
			return false;
		r = more(c);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
			return true;
	}
}

/* One request on a connection of its own: its response's status, or -1. */
static int ask(const char *req, struct resp *r, bool head_only, bool *closed)
{
	struct client c = {.fd = dial()};
	int rc;

	say(c.fd, req, strlen(req));
	rc = response(&c, r, head_only);
	if (closed)
		*closed = ends(&c, 2000);
	client_close(&c);
	return rc ? -1 : r->status;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own */
}

/* ------------------------------------------------------------------------ */
/* The server                                                                */

static void test_start(void)
{
	static const char *const bad[] = {
	    "",
	    "127.0.0.1",
	    "127.0.0.1:",
	    "127.0.0.1:65536",
	    "127.0.0.1:-1",
	    "127.0.0.1:8x",
	    "127.0.0.1: 80",
	    "::1:80",
	    "[::1]80",
	    "[::1",
	    "[::1]:",
	    ":::80",
	    "127.0.0.1:99999999999999999999",
	};
	char why[256];
	int wrong = 0, rc;

	is_int(mon_http_port(), -ENOTCONN, "16 no port before the server starts");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		rc = mon_http_start(&fl, bad[i], why, sizeof(why));
		if (rc != -EINVAL || !why[0]) {
			diag("    '%s': %d '%s'", bad[i], rc, why);
			wrong++;
			if (!rc)
				mon_http_stop();
		}
	}
	is_int(wrong, 0, "17 listen addresses without a port, or with a bad one: -EINVAL and why");
	rc = mon_http_start(&fl, "127.0.0.1:0", why, sizeof(why));
	if (rc)
		bail_out("mon_http_start: %s", why);
	port = mon_http_port();
	ok(port > 0 && mon_http_start(&fl, "127.0.0.1:0", why, sizeof(why)) == -EBUSY,
	   "18 port 0 picks a port, which mon_http_port tells; a second start is -EBUSY");
}

static bool secure(const struct resp *r)
{
	const char *v = header(r, "Content-Security-Policy");

	return header(r, "X-Content-Type-Options") &&
	       !strcmp(header(r, "X-Content-Type-Options"), "nosniff") && v &&
	       (v = header(r, "Content-Security-Policy")) && strstr(v, "default-src 'self'") &&
	       !strstr(v, "http") && !strstr(v, "*") && !strstr(v, "data:");
}

static void test_routes(void)
{
	struct resp r = {0};
	const char *page = (const char *)mon_page_html, *p;
	bool sec;
	int bad = 0;

	ok(ask("GET / HTTP/1.1\r\nHost: x\r\n\r\n", &r, false, NULL) == 200 &&
	       !strcmp(header(&r, "Content-Type"), "text/html; charset=utf-8") &&
	       r.body_len == mon_page_html_len && !memcmp(r.body, page, mon_page_html_len),
	   "19 GET / is the page, text/html in UTF-8, byte for byte");
	sec = secure(&r);
	resp_free(&r);
	ok(sec && ask("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", &r, false, NULL) == 404 &&
	       secure(&r),
	   "20 nosniff and a CSP of 'self' and inline only, on a page and on an error");
	resp_free(&r);

	/* The page may name one URL: SVG's namespace, which is not fetched. */
	for (p = page; (p = memmem(p, mon_page_html_len - (size_t)(p - page), "://", 3)); p++)
		bad += p < page + 4 || strncmp(p - 4, "http://www.w3.org/2000/svg\"", 27) != 0;
	ok(!bad && !memmem(page, mon_page_html_len, "src=", 4) &&
	       !memmem(page, mon_page_html_len, "url(", 4) &&
	       !memmem(page, mon_page_html_len, "@import", 7) &&
	       !memmem(page, mon_page_html_len, "innerHTML", 9),
	   "21 the page loads nothing from elsewhere, and writes no markup from data");

	ok(ask("GET /api/fleet HTTP/1.1\r\nHost: x\r\n\r\n", &r, false, NULL) == 200 &&
	       !strcmp(header(&r, "Content-Type"), "application/json") &&
	       !strcmp(header(&r, "Cache-Control"), "no-store") && j_valid(r.body) &&
	       j_len(j_get(r.body, "instances")) == fl.n && j_inst(r.body, "db-1"),
	   "22 GET /api/fleet: the fleet as JSON, not to be stored");
	resp_free(&r);
	ok(ask("GET /api/fleet?t=1764900000 HTTP/1.1\r\nHost: x\r\n\r\n", &r, false, NULL) == 200 &&
	       j_valid(r.body),
	   "23 a query string is ignored");
	resp_free(&r);
	ok(ask("GET http://dash.example:8080/api/fleet HTTP/1.1\r\nHost: x\r\n\r\n", &r, false,
	       NULL) == 200 &&
	       j_valid(r.body),
	   "24 the absolute form a proxy sends is served");
	resp_free(&r);
}

static void test_methods(void)
{
	static const char *const not_found[] = {
	    "/nope",	  "/api/fleet/", "/api/fleetx", "/../etc/passwd", "/%61pi/fleet",
	    "/API/FLEET", "//",		 "/index.html", "/api",
	};
	static const char *const other[] = {"POST / HTTP/1.1\r\n", "PUT /api/fleet HTTP/1.1\r\n",
					    "DELETE / HTTP/1.1\r\n", "OPTIONS * HTTP/1.1\r\n",
					    "PATCH /api/fleet HTTP/1.1\r\n"};
	struct client c = {.fd = dial()};
	struct resp r = {0}, g = {0};
	char req[256];
	int wrong = 0;
	bool closed;

	says(c.fd, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
	ok(!response(&c, &r, true) && r.status == 200 &&
	       strtoul(header(&r, "Content-Length"), NULL, 10) == mon_page_html_len &&
	       (says(c.fd, "GET /api/fleet HTTP/1.1\r\nHost: x\r\n\r\n"),
		!response(&c, &g, false)) &&
	       g.status == 200 && j_valid(g.body),
	   "25 HEAD / has the page's length and no body: the next answer on the connection is "
	   "whole");
	resp_free(&r);
	resp_free(&g);
	says(c.fd, "HEAD /api/fleet HTTP/1.1\r\nHost: x\r\n\r\n");
	ok(!response(&c, &r, true) && r.status == 200 &&
	       !strcmp(header(&r, "Content-Type"), "application/json") &&
	       strtoul(header(&r, "Content-Length"), NULL, 10) > 1000 && c.len == 0 &&
	       !ends(&c, 200),
	   "26 HEAD /api/fleet: headers only, and the connection stays");
	resp_free(&r);

	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		snprintf(req, sizeof(req), "%sHost: x\r\n\r\n", other[i]);
		say(c.fd, req, strlen(req));
		if (response(&c, &r, false) || r.status != 405 || !header(&r, "Allow") ||
		    strcmp(header(&r, "Allow"), "GET, HEAD")) {
			diag("    %.20s: %d", other[i], r.status);
			wrong++;
		}
		resp_free(&r);
	}
	is_int(wrong, 0, "27 POST, PUT, DELETE, OPTIONS, PATCH: 405 with Allow: GET, HEAD");
	for (size_t i = 0; i < sizeof(not_found) / sizeof(not_found[0]); i++) {
		snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", not_found[i]);
		say(c.fd, req, strlen(req));
		if (response(&c, &r, false) || r.status != 404) {
			diag("    %s: %d", not_found[i], r.status);
			wrong++;
		}
		resp_free(&r);
	}
	ok(!wrong && !ends(&c, 200), "28 404 for other paths, and the connection stays for more");
	client_close(&c);

	ok(ask("POST /api/fleet HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", &r, false,
	       &closed) == 405 &&
	       closed,
	   "29 a POST with a body: 405, and closed (its body is never read)");
	resp_free(&r);
	ok(ask("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", &r, false, &closed) ==
		   413 &&
	       closed &&
	       ask("GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", &g,
		   false, NULL) == 413,
	   "30 a GET with a body (Content-Length or chunked): 413, and closed");
	resp_free(&r);
	resp_free(&g);
	ok(ask("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 000\r\n\r\n", &r, false, NULL) == 200,
	   "31 Content-Length: 0 is no body");
	resp_free(&r);
}

static void test_garbage(void)
{
	static const char *const bad[] = {
	    "GET /\r\n\r\n",
	    "GET  / HTTP/1.1\r\nHost: x\r\n\r\n",
	    "GET / HTTP/1.1 \r\nHost: x\r\n\r\n",
	    "GET / HTTP/1.1\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost : x\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n",
	    "GET /\x7f HTTP/1.1\r\nHost: x\r\n\r\n",
	    "GET /\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n",
	    "G\xc3\x89T / HTTP/1.1\r\nHost: x\r\n\r\n",
	    "GET / HTTP/1.10\r\nHost: x\r\n\r\n",
	    "GET / http/1.1\r\nHost: x\r\n\r\n",
	    "GET x HTTP/1.1\r\nHost: x\r\n\r\n",
	    "\x16\x03\x01\x02\x31\x01\x01\x01\xfc\x03\x03\r\n\r\n", /* no NUL: ask() sends a C
								       string */
	};
	struct resp r = {0};
	int wrong = 0, code;
	bool closed;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		code = ask(bad[i], &r, false, &closed);
		if (code != 400 || !closed) {
			diag("    request %zu: %d%s", i, code, closed ? "" : ", not closed");
			wrong++;
		}
		resp_free(&r);
	}
	is_int(wrong, 0,
	       "32 400, and closed, for bad request lines, no or two Hosts, folded or nameless "
	       "lines, bad lengths, a TLS hello");
	{
		struct client c = {.fd = dial()};

		say(c.fd, "GET / HTTP/1.1\r\nHost: x\r\nX: a\0b\r\n\r\n", 35);
		code = response(&c, &r, false) ? -1 : r.status;
		ok(code == 400 && ends(&c, 2000), "33 a NUL in a header line: 400, closed");
		resp_free(&r);
		client_close(&c);
	}
	ok(ask("GET / HTTP/2.0\r\nHost: x\r\n\r\n", &r, false, &closed) == 505 && closed,
	   "34 HTTP/2.0 in a request line: 505");
	resp_free(&r);
}

/* A request head of exactly @n bytes (n >= 64). */
static char *head_of(size_t n)
{
	static const char start[] = "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ";
	char *h = malloc(n + 1);

	if (!h)
		bail_out("malloc");
	memcpy(h, start, sizeof(start) - 1);
	memset(h + sizeof(start) - 1, 'a', n - (sizeof(start) - 1) - 4);
	memcpy(h + n - 4, "\r\n\r\n", 5);
	return h;
}

static void test_bounds(void)
{
	char *h = head_of(8192), *big = head_of(8193), *huge = head_of(100000);
	struct resp r = {0}, g = {0};
	bool closed, closed2;

	ok(ask(h, &r, false, NULL) == 200 && ask(big, &g, false, &closed) == 431 && closed &&
	       g.body_len > 0,
	   "35 a head of 8192 bytes is served; of 8193: 431 read whole, then closed");
	resp_free(&r);
	resp_free(&g);
	ok(ask(huge, &r, false, &closed2) == 431 && closed2 &&
	       ask("GET / HTTP/1.1\r\nHost: x\r\n\r\n", &g, false, NULL) == 200,
	   "36 a head of 100 KB: 431 (its rest drained, no reset), and others are served after");
	resp_free(&r);
	resp_free(&g);
	free(h);
	free(big);
	free(huge);
}

static void test_keepalive(void)
{
	struct client c = {.fd = dial()};
	struct resp r[20] = {0};
	char many[20 * 32];
	int good = 0;
	bool closed;

	for (int i = 0; i < 5; i++) {
		says(c.fd, "GET /api/fleet HTTP/1.1\r\nHost: x\r\n\r\n");
		if (!response(&c, &r[0], false) && r[0].status == 200 &&
		    !strcmp(header(&r[0], "Connection"), "keep-alive"))
			good++;
		resp_free(&r[0]);
	}
	is_int(good, 5, "37 five requests, one after the other, on one kept-alive connection");
	says(c.fd, "GET / HTTP/1.1\r\nHost: x\r\nConnection: Close\r\n\r\n");
	ok(!response(&c, &r[0], false) && r[0].status == 200 &&
	       !strcmp(header(&r[0], "Connection"), "close") && ends(&c, 2000),
	   "38 Connection: close is honored: said, then done");
	resp_free(&r[0]);
	client_close(&c);

	ok(ask("GET / HTTP/1.0\r\n\r\n", &r[0], false, &closed) == 200 && closed &&
	       ask("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &r[1], false, &closed) ==
		   200 &&
	       !closed && !strcmp(header(&r[1], "Connection"), "keep-alive"),
	   "39 HTTP/1.0 closes unless it asks for keep-alive");
	resp_free(&r[0]);
	resp_free(&r[1]);

	c = (struct client){.fd = dial()};
	says(c.fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\nHEAD /api/fleet HTTP/1.1\r\nHost: x\r\n\r\n"
		   "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
	ok(!response(&c, &r[0], false) && !response(&c, &r[1], true) &&
	       !response(&c, &r[2], false) && r[0].status == 200 &&
	       r[0].body_len == mon_page_html_len && r[1].status == 200 &&
	       !strcmp(header(&r[1], "Content-Type"), "application/json") && r[2].status == 404,
	   "40 three pipelined requests in one packet: three answers, in order");
	for (int i = 0; i < 3; i++)
		resp_free(&r[i]);
	good = 0;
	many[0] = '\0';
	for (int i = 0; i < 20; i++)
		strcat(many, i % 2 ? "\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"
				   : "GET / HTTP/1.1\r\nHost: y\r\n\r\n");
	say(c.fd, many, strlen(many));
	for (int i = 0; i < 20; i++) {
		if (!response(&c, &r[i], false) && r[i].status == 200 &&
		    r[i].body_len == mon_page_html_len)
			good++;
		resp_free(&r[i]);
	}
	is_int(good, 20, "41 twenty pipelined GETs (with stray CRLFs between): twenty pages");
	client_close(&c);

	c = (struct client){.fd = dial()};
	says(c.fd, "GET /api/fleet HTTP/1.1\r\nHost: x\r\n\r\n");
	shutdown(c.fd, SHUT_WR);
	ok(!response(&c, &r[0], false) && r[0].status == 200 && j_valid(r[0].body) &&
	       ends(&c, 2000),
	   "42 a client that sends its request and shuts its side gets the answer, then EOF");
	resp_free(&r[0]);
	client_close(&c);
}

static void test_connections(void)
{
	struct client c[40], late;
	struct resp r = {0};
	int ended = 0, kept = 0;
	double t;

	for (int i = 0; i < 40; i++)
		c[i] = (struct client){.fd = dial()};
	usleep(300 * 1000);
	for (int i = 0; i < 40; i++) {
		bool e = ends(&c[i], 1);

		ended += e;
		kept += !e && i < 32;
	}
	ok(ended == 8 && kept == 32,
	   "43 of 40 connections, the server keeps the first 32 and closes 8 at once");
	if (ended != 8 || kept != 32)
		diag("    %d ended, %d kept", ended, kept);
	for (int i = 0; i < 40; i++)
		client_close(&c[i]);
	t = mono();
	late = (struct client){.fd = dial()};
	says(late.fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
	ok(!response(&late, &r, false) && r.status == 200 && mono() - t < 1,
	   "44 when they go, a newcomer is served at once");
	resp_free(&r);
	client_close(&late);

	/* A client that resets while its 100 KB answer is on the way. */
	for (int i = 0; i < 5; i++) {
		struct linger lg = {.l_onoff = 1, .l_linger = 0};
		int fd = dial();

		says(fd, "GET /api/fleet HTTP/1.1\r\nHost: x\r\n\r\n");
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fd);
	}
	ok(ask("GET /api/fleet HTTP/1.1\r\nHost: x\r\n\r\n", &r, false, NULL) == 200,
	   "45 clients that reset mid-answer leave the server serving");
	resp_free(&r);
}

/* A client that sends its head a byte every 200 ms, or nothing at all; when it was ended. */
struct slow {
	bool drip;
	pthread_t thread;
	double took; /* from connect to EOF */
	size_t got;  /* bytes the server sent */
	bool got408;
	volatile bool done;
};

static void *slow_main(void *arg)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ";
	struct slow *s = arg;
	struct client c = {.fd = dial()};
	double t0 = mono();

	for (size_t i = 0; mono() - t0 < 20; i++) {
		char ch = i < sizeof(req) - 1 ? req[i] : 'a';

		if (s->drip && send(c.fd, &ch, 1, MSG_NOSIGNAL) < 0)
			break;
		if (ends(&c, 200))
			break;
	}
	s->took = mono() - t0;
	s->got = c.len;
	s->got408 = c.buf && !strncmp(c.buf, "HTTP/1.1 408 ", 13);
	client_close(&c);
	s->done = true;
	return NULL;
}

static void test_slow(void)
{
	struct slow drip = {.drip = true}, idle = {.drip = false};
	double worst = 0, t;
	int served = 0, asked = 0;
	struct resp r = {0};

	pthread_create(&drip.thread, NULL, slow_main, &drip);
	pthread_create(&idle.thread, NULL, slow_main, &idle);
	while (!drip.done || !idle.done) {
		t = mono();
		asked++;
		served += ask(asked % 2 ? "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
					: "GET /api/fleet HTTP/1.1\r\nHost: x\r\n\r\n",
			      &r, false, NULL) == 200;
		resp_free(&r);
		t = mono() - t;
		if (t > worst)
			worst = t;
		usleep(100 * 1000);
	}
	pthread_join(drip.thread, NULL);
	pthread_join(idle.thread, NULL);
	ok(drip.took > 9.5 && drip.took < 11.5 && drip.got408,
	   "46 a slowloris (a head byte each 200 ms) gets 408 and EOF 10 s after it came");
	diag("    slowloris ended after %.2f s", drip.took);
	ok(idle.took > 9.5 && idle.took < 11.5 && idle.got == 0,
	   "47 a connection that says nothing is closed after 10 s, without a word");
	ok(served == asked && asked > 40 && worst < 1,
	   "48 meanwhile the others were served, each at once");
	diag("    %d of %d served, the slowest in %.0f ms", served, asked, worst * 1000);
}

static void test_stop(int fds_before)
{
	struct client c = {.fd = dial()};
	struct sockaddr_in6 sa6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	char why[256];
	struct resp r = {0};
	int fd, rc, n;

	says(c.fd, "GET / HTTP/1.1\r\nHost: x\r\n");
	mon_http_stop();
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	{
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};

		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ? errno : 0;
	}
	close(fd);
	ok(ends(&c, 1000) && rc == ECONNREFUSED && mon_http_port() == -ENOTCONN,
	   "49 mon_http_stop closes the connections in flight and the port");
	client_close(&c);

	/* IPv6, where the loopback has it. */
	fd = socket(AF_INET6, SOCK_STREAM, 0);
	rc = fd >= 0 ? bind(fd, (struct sockaddr *)&sa6, sizeof(sa6)) : -1;
	if (fd >= 0)
		close(fd);
	if (rc) {
		skip(1, "no IPv6 loopback");
	} else if ((rc = mon_http_start(&fl, "[::1]:0", why, sizeof(why)))) {
		ok(0, "50 [::1]:0 serves over IPv6");
		diag("    %s", why);
	} else {
		sa6.sin6_port = htons((uint16_t)mon_http_port());
		fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
		c = (struct client){.fd = fd};
		rc = connect(fd, (struct sockaddr *)&sa6, sizeof(sa6));
		says(fd, "GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n");
		ok(!rc && !response(&c, &r, false) && r.status == 200,
		   "50 [::1]:0 serves over IPv6");
		resp_free(&r);
		client_close(&c);
		mon_http_stop();
	}
	n = count_fds();
	ok(n == fds_before, "51 no descriptor left behind: %d open, as before the server", n);
}

/* ------------------------------------------------------------------------ */
/* --serve: the synthetic fleet for a browser, a sample a second            */

static int serve(int seconds, const char *listen)
{
	double now = mon_now(), born = now - 599;
	char why[256];
	const char *colon = strrchr(listen, ':');

	fleet_build(now);
	if (mon_http_start(&fl, listen, why, sizeof(why))) {
		fprintf(stderr, "%s\n", why);
		return 1;
	}
	printf("http://%.*s:%d/\n", colon ? (int)(colon - listen) : 0, listen, mon_http_port());
	fflush(stdout);
	for (int i = 600; i < 600 + seconds; i++) {
		sleep(1);
		now = mon_now();
		pthread_mutex_lock(&fl.lock);
		for (int k = 0; k < 2; k++) {
			struct mon_sample s = sample(k, i, now, k ? born + 1 : born);

			push(fl.inst[k], &s);
		}
		pthread_mutex_unlock(&fl.lock);
	}
	mon_http_stop();
	return 0;
}

int main(int argc, char **argv)
{
	int fds;

	if (argc >= 3 && !strcmp(argv[1], "--serve"))
		return serve(atoi(argv[2]), argc >= 4 ? argv[3] : "127.0.0.1:0");
	plan(51);
	fleet_build(mon_now());
	test_json();
	test_json_limits();
	fds = count_fds();
	test_start();
	test_routes();
	test_methods();
	test_garbage();
	test_bounds();
	test_keepalive();
	test_connections();
	test_slow();
	test_stop(fds);
	return done_testing();
}
