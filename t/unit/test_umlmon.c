/*
 * umlmon's arithmetic, on a virtual clock: what it reads from an instance's
 * /status/metrics (text from the network: garbage must be refused, not read
 * as zeros), the samples it derives, its policies' decisions, and its
 * config file.
 *
 *  1-9    metrics: a real instance's shape; labels with escapes; garbage,
 *         a missing family, an endless line and a binary blob refused
 * 10-13   samples: rates, mean, p99 interpolated within a bucket, a
 *         restarted instance (counters back) gives no rates
 * 14-25   drain: not before `for`; QueueLimit=0 with the reason; held while
 *         the backlog is over low and during dwell; the old value back
 *         (cleared, or rewritten when it was a local one); another writer
 *         ends it, but a poll from before our write is no writer; none
 *         when QueueLimit is 0 already; a refused write is retried at the
 *         next poll; drains in a row hold longer each time; switching it
 *         off mid-drain restores
 * 26-35   limit: grows by about the queue while service time holds;
 *         stops once nothing waits (no flapping over 10 minutes of steady
 *         load); settles at a bottleneck it cannot see; shrinks when
 *         service time passes tolerance x baseline, once only when that
 *         does not help (a slower handler);
 *         dwell and per_min bound the writes; an operator's write pauses it
 * 36-43   config: a full file; each bad line refused with its number
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "../../tools/umlmon/umlmon.h"

struct mon_fleet fleet = {.lock = PTHREAD_MUTEX_INITIALIZER};
FILE *mon_log;

void mon_logf(const char *fmt, ...)
{
	(void)fmt;
}

void mon_request_stop(void)
{
}

/* A /status/metrics as an instance renders it (the parts the monitor reads and some it skips). */
static int metrics_text(char *buf, size_t size, int in_flight, int queued, int accq, int mrw,
			const char *mrw_src, int qlimit, unsigned long count, double sum,
			const unsigned long *buckets)
{
	static const char *const le[] = {"0.001", "0.01", "0.1", "1", "+Inf"};
	int n = snprintf(buf, size,
			 "# HELP umlconf_requests_in_flight Requests admitted and not finished.\n"
			 "# TYPE umlconf_requests_in_flight gauge\n"
			 "umlconf_requests_in_flight %d\n"
			 "umlconf_requests_queued %d\n"
			 "umlconf_requests_rejected_total 7\n"
			 "umlconf_listen_queue{listener=\"127.0.0.1:8080\"} %d\n"
			 "umlconf_listen_queue{listener=\"[::1]:8080\"} 1\n"
			 "umlconf_knob_value{knob=\"MaxRequestWorkers\",source=\"%s\"} %d\n"
			 "umlconf_knob_min{knob=\"MaxRequestWorkers\"} 1\n"
			 "umlconf_knob_max{knob=\"MaxRequestWorkers\"} 400\n"
			 "umlconf_knob_value{knob=\"QueueLimit\",source=\"conf\"} %d\n"
			 "umlconf_knob_value{knob=\"Accepting\",source=\"conf\"} 1\n"
			 "umlconf_workers{state=\"busy\"} 3\n",
			 in_flight, queued, accq, mrw_src, mrw, qlimit);

	for (int i = 0; i < 5; i++)
		n += snprintf(buf + n, size - (size_t)n,
			      "umlconf_request_duration_seconds_bucket{le=\"%s\"} %lu\n", le[i],
			      buckets[i]);
	n += snprintf(buf + n, size - (size_t)n,
		      "umlconf_request_duration_seconds_sum %.6f\n"
		      "umlconf_request_duration_seconds_count %lu\n"
		      "umlconf_admission_wait_seconds_sum 2.5\n"
		      "umlconf_admission_wait_seconds_count %lu\n",
		      sum, count, count);
	return n;
}

static int parse(const char *text, struct mon_metrics *m, char *why)
{
	return mon_metrics_parse(text, strlen(text), m, why, 160);
}

static void test_metrics(void)
{
	unsigned long b[5] = {0, 10, 90, 100, 100};
	struct mon_metrics m;
	char text[4096], why[160] = "";
	char *blob;

	metrics_text(text, sizeof(text), 3, 40, 5, 150, "local", 256, 100, 4.5, b);
	is_int(parse(text, &m, why), 0, "1 an instance's metrics parse (%s)", why);
	ok(m.in_flight == 3 && m.queued == 40 && m.accept_queue == 6,
	   "2 in flight, queued, and the accept queues summed over listeners");
	ok(m.mrw.seen && m.mrw.value == 150 && m.mrw.source == MON_SRC_LOCAL && m.mrw.max == 400,
	   "3 MaxRequestWorkers with its source and bounds");
	ok(m.queue_limit.value == 256 && m.accepting.value == 1 && m.rejected == 7,
	   "4 QueueLimit, Accepting and the 503s");
	ok(m.nbuckets == 5 && m.bucket[2] == 90 && m.dur_count == 100 && m.dur_sum == 4.5,
	   "5 the duration histogram, +Inf bucket included");

	is_int(parse("umlconf_requests_in_flight 1\n<html>oops</html>\n", &m, why), -EPROTO,
	       "6 an HTML page is garbage (%s)", why);
	is_int(parse("umlconf_requests_in_flight 1\numlconf_requests_queued 0\n"
		     "umlconf_request_duration_seconds_count 5\n",
		     &m, why),
	       -EPROTO, "7 metrics without MaxRequestWorkers are refused (%s)", why);
	blob = malloc(8192);
	memset(blob, 'a', 8191);
	blob[8191] = '\0';
	is_int(parse(blob, &m, why), -EPROTO, "8 an endless line is refused (%s)", why);
	for (int i = 0; i < 8191; i++)
		blob[i] = (char)(i * 7 + 1);
	is_int(mon_metrics_parse(blob, 8192, &m, why, sizeof(why)), -EPROTO,
	       "9 binary bytes are refused (%s)", why);
	free(blob);
}

static void test_samples(void)
{
	unsigned long b1[5] = {0, 10, 90, 100, 100}, b2[5] = {0, 10, 190, 200, 300};
	struct mon_metrics a, b;
	struct mon_sample s;
	char t1[4096], t2[4096], why[160];

	metrics_text(t1, sizeof(t1), 3, 40, 5, 150, "conf", 256, 100, 4.5, b1);
	metrics_text(t2, sizeof(t2), 4, 20, 0, 150, "conf", 256, 300, 104.5, b2);
	parse(t1, &a, why);
	parse(t2, &b, why);
	mon_sample_derive(&a, &b, 2.0, 100.0, &s);
	ok(s.rps > 99.9 && s.rps < 100.1, "10 200 requests in 2 s: 100 req/s (%.2f)", s.rps);
	ok(s.service_ms > 499 && s.service_ms < 501, "11 mean service 500 ms (%.1f)", s.service_ms);
	/* 200 requests: 100 in (0.01,0.1], 100 over 1 s; rank 198 is past the last finite bound. */
	ok(s.p99_ms > 999 && s.p99_ms < 1001, "12 p99 reports the last finite bound (%.1f)",
	   s.p99_ms);
	mon_sample_derive(&b, &a, 2.0, 102.0, &s);
	ok(s.rps == 0 && s.service_ms == 0 && s.in_flight == 3,
	   "13 counters that went back (a restart) give no rates, the gauges still count");
}

/* A virtual instance for the policies: push one sample and its metrics. */
struct vinst {
	struct mon_instance in;
	struct mon_metrics m;
	double t;
};

static int vpoll(struct vinst *v, const struct mon_config *c, int queued, int accq, double rps,
		 double service_ms, int in_flight, struct mon_decision *d)
{
	struct mon_sample s = {.t = v->t,
			       .queued = queued,
			       .accept_queue = accq,
			       .in_flight = in_flight,
			       .rps = (float)rps,
			       .service_ms = (float)service_ms,
			       .max_request_workers = (int32_t)v->m.mrw.value,
			       .queue_limit = (int32_t)v->m.queue_limit.value};

	v->m.queued = queued;
	v->m.accept_queue = accq;
	v->m.in_flight = in_flight;
	v->in.hist[v->in.head] = s;
	v->in.head = (v->in.head + 1) % MON_HISTORY;
	if (v->in.nhist < MON_HISTORY)
		v->in.nhist++;
	return mon_policy_decide(c, &v->in, &v->m, v->t, d, 2);
}

/* Carry a decision out on the virtual instance, as the instance would. */
static void vapply(struct vinst *v, const struct mon_decision *d)
{
	struct mon_knob *k = strcmp(d->knob, "QueueLimit") == 0 ? &v->m.queue_limit : &v->m.mrw;

	if (d->value[0]) {
		k->value = atoll(d->value);
		k->source = MON_SRC_LOCAL;
	} else {
		k->value = 256; /* the conf layer's */
		k->source = MON_SRC_CONF;
	}
}

static void vinit(struct vinst *v, int mrw, int qlimit)
{
	memset(v, 0, sizeof(*v));
	v->in.drain_on = v->in.limit_on = true;
	v->m.mrw = (struct mon_knob){.seen = true, .value = mrw, .source = MON_SRC_CONF};
	v->m.queue_limit = (struct mon_knob){.seen = true, .value = qlimit, .source = MON_SRC_CONF};
	v->t = 1000;
}

static void test_drain(void)
{
	struct mon_config c;
	struct mon_decision d[2];
	struct vinst v;
	int n, i;

	mon_conf_defaults(&c); /* high 64, low 8, for 2 s, dwell 5 s */
	vinit(&v, 10, 256);
	n = vpoll(&v, &c, 70, 0, 10, 100, 10, d);
	v.t += 1;
	n += vpoll(&v, &c, 70, 0, 10, 100, 10, d);
	is_int(n, 0, "14 a backlog over high for 1 s of 2: nothing yet");
	v.t += 1;
	n = vpoll(&v, &c, 60, 10, 10, 100, 10, d);
	ok(n == 1 && !strcmp(d[0].knob, "QueueLimit") && !strcmp(d[0].value, "0") &&
	       strstr(d[0].reason, "backlog 70 >= 64"),
	   "15 over high for 2 s: QueueLimit=0 with the reason (%s)", n ? d[0].reason : "-");
	vapply(&v, &d[0]);
	v.t += 1;
	n = vpoll(&v, &c, 5, 0, 10, 100, 10, d);
	is_int(n, 0, "16 under low but within dwell: still draining");
	v.t += 4;
	n = vpoll(&v, &c, 30, 0, 10, 100, 10, d);
	is_int(n, 0, "17 past dwell but over low: still draining");
	v.t += 1;
	n = vpoll(&v, &c, 8, 0, 10, 100, 10, d);
	ok(n == 1 && d[0].value[0] == '\0' && strstr(d[0].reason, "drain over"),
	   "18 at low after dwell: our write cleared, httpd.conf's value back (%s)",
	   n ? d[0].reason : "-");
	vapply(&v, &d[0]);

	/* An operator's local QueueLimit=100 comes back as 100, not as httpd.conf's. */
	v.m.queue_limit.value = 100;
	v.m.queue_limit.source = MON_SRC_LOCAL;
	for (i = 0, n = 0; i < 10 && !n; i++) {
		v.t += 1;
		n = vpoll(&v, &c, 200, 0, 10, 100, 10, d);
	}
	vapply(&v, &d[0]);
	for (i = 0, n = 0; i < 10 && !n; i++) {
		v.t += 1;
		n = vpoll(&v, &c, 0, 0, 10, 100, 10, d);
	}
	ok(n == 1 && !strcmp(d[0].value, "100"),
	   "19 a local value before the drain is written back");
	vapply(&v, &d[0]);

	/*
	 * Another writer during a drain: theirs stands. A poll rendered before
	 * our write (the instance caches its metrics for 100 ms) is no writer.
	 */
	for (i = 0, n = 0; i < 10 && !n; i++) {
		v.t += 1;
		n = vpoll(&v, &c, 200, 0, 10, 100, 10, d);
	}
	v.t += 0.25;
	n = vpoll(&v, &c, 200, 0, 10, 100, 10, d);
	ok(n == 0 && v.in.pol.draining,
	   "20 a poll that still shows the old QueueLimit does not end the drain");
	vapply(&v, &d[0]);
	v.t += 0.25;
	vpoll(&v, &c, 200, 0, 10, 100, 10, d);
	v.m.queue_limit.value = 50;
	v.t += 0.25;
	n = vpoll(&v, &c, 200, 0, 10, 100, 10, d);
	ok(n == 0 && !v.in.pol.draining, "21 a write by someone else after ours was seen ends it");
	v.m.queue_limit.value = 0;
	for (i = 0, n = 0; i < 10 && !n; i++) {
		v.t += 1;
		n = vpoll(&v, &c, 200, 0, 10, 100, 10, d);
	}
	ok(n == 0 && !v.in.pol.draining,
	   "22 QueueLimit already 0 (someone sheds): no drain, nothing saved to restore");

	/* A refused drain write: the next poll tries again. */
	vinit(&v, 10, 256);
	for (i = 0, n = 0; i < 10 && !n; i++) {
		v.t += 1;
		n = vpoll(&v, &c, 200, 0, 10, 100, 10, d);
	}
	mon_policy_failed(&v.in, &d[0], v.t);
	v.t += 1;
	n = vpoll(&v, &c, 200, 0, 10, 100, 10, d);
	ok(n == 1 && !strcmp(d[0].value, "0"),
	   "23 a refused drain is tried again at the next poll");
	vapply(&v, &d[0]);

	/* Sustained overload: each drain right after the last holds twice as long. */
	{
		struct vinst w;
		double started = 0, holds[3];
		int k = 0;

		vinit(&w, 10, 256);
		for (i = 0; i < 600 && k < 3; i++) {
			bool shed = w.m.queue_limit.value == 0;

			w.t += 0.25;
			/* Shedding empties the queue; without it the queue refills at once. */
			n = vpoll(&w, &c, shed ? 0 : 100, 0, 10, 100, 10, d);
			if (n && !strcmp(d[0].value, "0"))
				started = w.t;
			else if (n)
				holds[k++] = w.t - started;
			if (n)
				vapply(&w, &d[0]);
		}
		ok(k == 3 && holds[0] >= 5 && holds[0] < 6 && holds[1] >= 10 && holds[1] < 11 &&
			   holds[2] >= 20 &&
			   holds[2]<21, "24 drains in a row hold 5 s, 10 s, 20 s (%.2f %.2f %.2f)",
				    k> 0
		       ? holds[0]
		       : 0,
		   k > 1 ? holds[1] : 0, k > 2 ? holds[2] : 0);
	}
	v.in.drain_on = false;
	v.t += 1;
	n = vpoll(&v, &c, 200, 0, 10, 100, 10, d);
	ok(n == 1 && d[0].value[0] == '\0' && strstr(d[0].reason, "switched off"),
	   "25 switched off mid-drain: the old value is back at once");
}

static void test_limit(void)
{
	struct mon_config c;
	struct mon_decision d[2];
	struct vinst v;
	int n, writes = 0, turns = 0, last_dir = 0, i;
	int64_t start;

	mon_conf_defaults(&c);
	c.drain.on = false;
	c.limit.on = true;
	c.limit.min = 4;
	c.limit.max = 200;
	c.limit.dwell_ms = 2000;

	/*
	 * 64 clients against a 100 ms handler (sleep: service time does not
	 * grow with concurrency) and MaxRequestWorkers 8: 56 wait.
	 */
	vinit(&v, 8, 256);
	start = v.m.mrw.value;
	for (i = 0; i < 600; i++) {
		int64_t cur = v.m.mrw.value;
		int queued = cur < 64 ? (int)(64 - cur) : 0;
		int in_flight = cur < 64 ? (int)cur : 64;

		v.t += 1;
		n = vpoll(&v, &c, queued, 0, (double)in_flight * 10, 100, in_flight, d);
		for (int j = 0; j < n; j++) {
			int dir = atoll(d[j].value) > cur ? 1 : -1;

			turns += last_dir && dir != last_dir;
			last_dir = dir;
			writes++;
			vapply(&v, &d[j]);
		}
		if (i == 60)
			ok(v.m.mrw.value >= 64,
			   "26 within a minute the limit covers the demand (%lld)",
			   (long long)v.m.mrw.value);
	}
	ok(start == 8 && v.m.mrw.value >= 64 && v.m.mrw.value <= 96,
	   "27 it settles just above the 64 clients (%lld)", (long long)v.m.mrw.value);
	ok(writes <= 8 && turns == 0, "28 10 minutes: %d writes, %d reversals: no flapping", writes,
	   turns);

	/*
	 * A bottleneck the monitor cannot see (8 interpreters behind the
	 * slots): past 8 in flight each request waits inside its service
	 * time. The limit settles near the knee after at most one correction.
	 */
	mon_conf_defaults(&c);
	c.drain.on = false;
	c.limit.on = true;
	c.limit.min = 4;
	c.limit.max = 200;
	c.limit.dwell_ms = 2000;
	vinit(&v, 8, 256);
	writes = turns = last_dir = 0;
	{
		double settled_at = 0;

		for (i = 0; i < 600; i++) {
			int64_t cur = v.m.mrw.value;
			int in_flight = cur < 64 ? (int)cur : 64, queued = 64 - in_flight;
			double svc = in_flight > 8 ? 100.0 * in_flight / 8 : 100;

			v.t += 1;
			n = vpoll(&v, &c, queued, 0, in_flight * 1000 / svc, svc, in_flight, d);
			for (int j = 0; j < n; j++) {
				int dir = atoll(d[j].value) > cur ? 1 : -1;

				turns += last_dir && dir != last_dir;
				last_dir = dir;
				writes++;
				settled_at = v.t;
				vapply(&v, &d[j]);
			}
		}
		ok(v.m.mrw.value >= 10 && v.m.mrw.value <= 12 && turns <= 1 &&
		       v.t - settled_at > 500,
		   "29 a hidden knee at 8: settles at %lld (10..12) after %d writes, %d "
		   "reversal(s), "
		   "then stays",
		   (long long)v.m.mrw.value, writes, turns);
	}

	/* CPU-bound: service time rises with the load past the knee. */
	vinit(&v, 100, 256);
	for (i = 0; i < 10; i++) {
		v.t += 1;
		vpoll(&v, &c, 0, 0, 100, 50, 20, d); /* the baseline: 50 ms */
	}
	for (i = 0, n = 0; i < 10 && !n; i++) {
		v.t += 1;
		n = vpoll(&v, &c, 0, 0, 100, 200, 100, d);
	}
	ok(n == 1 && atoll(d[0].value) < 100 && atoll(d[0].value) >= 50,
	   "30 service 4x the baseline with the slots full: the limit shrinks by at most half "
	   "(%s)",
	   n ? d[0].value : "-");
	ok(n == 1 && strstr(d[0].reason, "baseline"), "31 the reason says why (%s)",
	   n ? d[0].reason : "-");
	vapply(&v, &d[0]);
	v.t += 1;
	n = vpoll(&v, &c, 0, 0, 100, 200, 60, d);
	is_int(n, 0, "32 within dwell: no second write");

	/*
	 * A deploy made the handler 4x slower at any load: one shrink, which
	 * does not bring the service time down, and that is the new baseline
	 * (no walk down to min).
	 */
	vinit(&v, 100, 256);
	for (i = 0; i < 10; i++) {
		v.t += 1;
		vpoll(&v, &c, 0, 0, 100, 50, 20, d);
	}
	writes = 0;
	for (i = 0; i < 120; i++) {
		v.t += 1;
		n = vpoll(&v, &c, 0, 0, 100, 200, (int)v.m.mrw.value, d);
		for (int j = 0; j < n; j++, writes++)
			vapply(&v, &d[j]);
	}
	ok(writes == 1 && v.m.mrw.value == 50 && v.in.pol.baseline_ms > 190,
	   "33 a handler slower at any load: one shrink, then its service time is the baseline "
	   "(%d writes, limit %lld, baseline %.0f ms)",
	   writes, (long long)v.m.mrw.value, v.in.pol.baseline_ms);

	/* per_min: at most that many a minute, whatever the dwell. */
	vinit(&v, 8, 256);
	c.limit.dwell_ms = 0;
	c.limit.per_min = 3;
	writes = 0;
	for (i = 0; i < 60; i++) {
		v.t += 1;
		n = vpoll(&v, &c, 500, 0, 100, 100, (int)v.m.mrw.value, d);
		for (int j = 0; j < n; j++, writes++)
			vapply(&v, &d[j]);
	}
	is_int(writes, 3, "34 per_min 3: three writes in a minute of pressure");

	/* An operator sets MaxRequestWorkers: the policy keeps its hands off. */
	v.m.mrw.value = 77;
	v.t += 120;
	n = vpoll(&v, &c, 500, 0, 100, 100, 77, d);
	v.t += 1;
	n += vpoll(&v, &c, 500, 0, 100, 100, 77, d);
	ok(n == 0 && v.in.pol.limit_paused, "35 an operator's write pauses the limit policy");
}

static void test_conf(void)
{
	static const struct {
		const char *text;
		int line;
	} bad[] = {
	    {"interval 10ms\n", 1},
	    {"instance web1 nfs://127.0.0.1/\ninstance web1 nfs://127.0.0.2/\n", 2},
	    {"drain on high=10 low=20\n", 0},
	    {"# fine\nlimit on tolerance=nan\n", 2},
	    {"instance ../x nfs://h/\n", 1},
	};
	char path[] = "/tmp/umlmon-conf-XXXXXX", why[200];
	struct mon_fleet f;
	FILE *fp;
	int fd, rc;

	fd = mkstemp(path);
	fp = fdopen(fd, "w");
	fputs("# a fleet\ninterval 500ms\nhistory 5m\nnfs 127.0.0.1:20490 clients 10.0.0.0/8\n"
	      "http 127.0.0.1:8090\ndrain on high=100 low=10 for=3s dwell=10s\n"
	      "limit on min=4 max=300 tolerance=2 window=3 dwell=8s per_min=4\n"
	      "instance web1 nfs://127.0.0.1:12049/?mountport=12049 limit=off\n"
	      "instance web2 nfs://[::1]/ drain=off\n",
	      fp);
	fclose(fp);
	memset(&f, 0, sizeof(f));
	mon_conf_defaults(&f.cfg);
	rc = mon_conf_load(&f, path, why, sizeof(why));
	ok(rc == 0 && f.n == 2 && f.cfg.interval_ms == 500 && f.cfg.history_s == 300,
	   "36 a full config file loads (%s)", rc ? why : "ok");
	ok(f.cfg.drain.high == 100 && f.cfg.drain.for_ms == 3000 && f.cfg.limit.max == 300 &&
	       f.cfg.limit.tolerance == 2 && f.cfg.limit.per_min == 4,
	   "37 the policies' settings");
	ok(!f.inst[0]->limit_on && f.inst[0]->drain_on && !f.inst[1]->drain_on &&
	       !strcmp(f.cfg.nfs_clients, "10.0.0.0/8"),
	   "38 per-instance switches and the export's clients");
	mon_instances_free(&f);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char want[32];

		fp = fopen(path, "w");
		fputs(bad[i].text, fp);
		fclose(fp);
		memset(&f, 0, sizeof(f));
		mon_conf_defaults(&f.cfg);
		rc = mon_conf_load(&f, path, why, sizeof(why));
		snprintf(want, sizeof(want), ":%d:", bad[i].line);
		if (i < 3)
			ok(rc == -EINVAL && (bad[i].line == 0 || strstr(why, want)),
			   "%zu a bad config is refused, with its line (%s)", 39 + i, why);
		else if (i == 3)
			ok(rc == -EINVAL && strstr(why, want), "42 tolerance=nan refused (%s)",
			   why);
		else
			ok(rc == -EINVAL, "43 an instance named ../x refused (%s)", why);
		mon_instances_free(&f);
	}
	unlink(path);
}

int main(void)
{
	plan(43);
	test_metrics();
	test_samples();
	test_drain();
	test_limit();
	test_conf();
	return done_testing();
}
