/*
 * umlmon: the fleet monitor. It polls each instance's /status/metrics over
 * NFS with the machine's own client, keeps a short history per instance,
 * runs its policies (drain, limit) and writes knobs with a reason, and shows
 * all of it three ways: a terminal view, a dashboard page, and its own NFS
 * export, through which it is steered the way it steers.
 *
 * Threads: one kernel thread per instance (poll, decide, act) and the NFS
 * service run on the machine's one CPU; the terminal view and the dashboard
 * run on host threads. Everything they share is in struct mon_fleet under
 * fleet.lock, a plain mutex: it is held only to copy a few fields, never
 * across a call that may block or switch kernel threads (a kernel thread
 * that switched away holding it would deadlock the CPU's next taker).
 */
#ifndef UMLMON_H
#define UMLMON_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MON_NAME_MAX	  31  /* instance name: letters, digits, '-', '_', '.' */
#define MON_URL_MAX	  256 /* nfs://host[:port]/path[?...] */
#define MON_MAX_INSTANCES 64
#define MON_HISTORY	  600 /* samples kept per instance: 10 minutes at 1 s */
#define MON_ACTIONS	  256 /* actions kept for the views */
#define MON_REASON_MAX	  160 /* as the instance accepts after '#' */
#define MON_ERR_MAX	  160

/* How an instance answered its last poll. */
enum mon_reach {
	MON_NEW,     /* not polled yet */
	MON_UP,	     /* metrics read and understood */
	MON_DOWN,    /* no answer: refused connection, timeout, reset */
	MON_REFUSED, /* the server answered but refused us: mount or access denied */
	MON_GARBAGE, /* an answer that is not NFS, or metrics we cannot read */
	MON_BADURL,  /* the configured URL does not parse or resolve */
};

/* One poll of one instance, as the views plot it. */
struct mon_sample {
	double t;			/* CLOCK_REALTIME, seconds */
	int32_t in_flight, queued;	/* umlconf_requests_in_flight, _queued */
	int32_t accept_queue;		/* sum of umlconf_listen_queue */
	int32_t max_request_workers;	/* knob values in force; -1: not reported */
	int32_t accepting, queue_limit; /* -1: not reported */
	float rps;			/* admitted requests finished per second since the last */
	float service_ms;		/* their mean service time; 0 without requests */
	float p99_ms;			/* their p99 service time, from the histogram's buckets */
	float wait_ms;			/* mean admission wait of those admitted */
	float rejected_ps;		/* 503s from admission per second */
};

/* What the policies remember of one instance between polls (policy.c). */
struct mon_policy_state {
	/* drain */
	bool draining;
	double over_since;   /* backlog >= high since then; 0: not over */
	double drained_at;   /* when the drain began or ended: its hold, the next one's */
	int32_t saved_limit; /* QueueLimit before the drain, when it was a local value */
	bool saved_local;    /* restore by writing saved_limit; else clear our write */
	unsigned hold_ms;    /* the least this drain lasts: dwell, doubled for drains in a row */
	bool drain_seen;     /* a poll since showed our QueueLimit=0 in force */
	/* limit */
	bool limit_paused;		   /* an operator wrote MaxRequestWorkers: hands off */
	int32_t our_limit;		   /* the last value we wrote; 0: none */
	bool limit_seen;		   /* a poll since showed it in force */
	double limit_at;		   /* when we last wrote it */
	double baseline_ms;		   /* lowest windowed service time seen lately */
	double shrunk_from_ms;		   /* service time when we last shrank; 0: none since */
	unsigned grow_ticks, shrink_ticks; /* consecutive polls that asked for it */
	double changes_at[8];		   /* our last changes, for the rate limit */
	/* What a policy noticed without acting (another writer's hand); poll.c logs it. */
	char note[MON_REASON_MAX];
};

struct mon_instance {
	char name[MON_NAME_MAX + 1];
	char url[MON_URL_MAX];
	bool drain_on, limit_on; /* this instance's switches (config, or its files) */

	/* reachability, written by its poller */
	enum mon_reach reach;
	int err;		 /* the last failure's negative errno; 0 when up */
	char error[MON_ERR_MAX]; /* what went wrong, for people */
	double reach_since;	 /* when reach last changed */
	unsigned failures;	 /* polls failed in a row */
	double next_try;	 /* no poll before this (backoff) */
	uint64_t polls, rpcs;	 /* polls made; NFS calls they took */
	double last_poll_ms;	 /* how long the last poll took */

	/* history, a ring: hist[(head + MON_HISTORY - 1) % MON_HISTORY] is the newest of nhist */
	struct mon_sample hist[MON_HISTORY];
	unsigned head, nhist;

	struct mon_policy_state pol;
	char last_action[MON_REASON_MAX + 160]; /* "12:01:02 QueueLimit 256->0 drain: ..." */
};

/* One knob write the monitor made (or, with --dry-run, would have made). */
struct mon_action {
	double t;
	char instance[MON_NAME_MAX + 1];
	char knob[48];
	char from[24], to[24]; /* as written; to "" : the local value cleared */
	char policy[8];	       /* "drain", "limit" */
	char reason[MON_REASON_MAX];
	bool dry_run;
	int err; /* 0, or the instance's refusal (-ERANGE, ...) or the transport's */
};

/* The policies' settings: the config file's, then its export's files. */
struct mon_drain_conf {
	bool on;
	int32_t high, low; /* backlog (queued + accept queue) marks */
	unsigned for_ms;   /* over high this long before draining */
	unsigned dwell_ms; /* least a drain lasts; doubled for drains in a row, up to 16x */
};

struct mon_limit_conf {
	bool on;
	int32_t min, max;  /* MaxRequestWorkers stays within */
	double tolerance;  /* service time over tolerance x baseline means overload */
	unsigned window;   /* polls averaged per decision */
	unsigned dwell_ms; /* least time between two changes of one instance */
	unsigned per_min;  /* at most this many changes a minute per instance */
};

struct mon_config {
	unsigned interval_ms;  /* poll period (1000) */
	char nfs_listen[80];   /* its own export, "host:port"; "" none */
	char nfs_clients[160]; /* who may mount it (comma-separated); writes from them too */
	char http_listen[80];  /* the dashboard, "host:port"; "" none */
	unsigned history_s;    /* what the dashboard shows (600) */
	struct mon_drain_conf drain;
	struct mon_limit_conf limit;
	bool dry_run;
};

struct mon_fleet {
	pthread_mutex_t lock; /* guards everything below; see the top of this file */
	struct mon_config cfg;
	struct mon_instance *inst[MON_MAX_INSTANCES];
	int n;
	struct mon_action
	    actions[MON_ACTIONS]; /* a ring: actions[(nactions - 1) % MON_ACTIONS] newest */
	uint64_t nactions;
	double started;
};

extern struct mon_fleet fleet;

/* CLOCK_REALTIME in seconds. */
double mon_now(void);

/* --- conf.c: the config file and the parsers its settings share with the export --- */
void mon_conf_defaults(struct mon_config *c);
/* Settings that contradict each other (low >= high, min > max): -EINVAL with @why. */
int mon_conf_check(const struct mon_config *c, char *why, size_t whylen);
/* An instance to watch: 0, or -EINVAL (a bad name or URL, a name twice), -ENOSPC, -ENOMEM. */
int mon_instance_add(struct mon_fleet *f, const char *name, const char *url, char *why,
		     size_t whylen);
/* "250ms", "2s", "10m" or 0 in [@lo, @hi] ms; a decimal in [@lo, @hi]; on|off|1|0. -EINVAL or
 * -ERANGE.
 */
int mon_parse_duration(const char *s, unsigned lo, unsigned hi, unsigned *ms);
int mon_parse_int(const char *s, long lo, long hi, int32_t *out);
int mon_parse_onoff(const char *s, bool *on);
/* "host:port", "[v6]:port" or ":port" (0.0.0.0) into @host and @port: 0 or -EINVAL. */
int mon_parse_listen(const char *listen, char *host, size_t hostlen, int *port);
/* Read @path into @f (instances and settings). 0, or -EINVAL with "file:line: why" in @why. */
int mon_conf_load(struct mon_fleet *f, const char *path, char *why, size_t whylen);
/* Free @f's instances (mon_instance_add's) and forget them. */
void mon_instances_free(struct mon_fleet *f);

/* --- json.c: the fleet as JSON for the dashboard --- */
struct mon_buf {
	char *p;
	size_t len, cap;
	bool oom;
};
/*
 * Append the fleet as one JSON object to @b (takes fleet.lock itself):
 *
 * {"now":1764900000.123,"interval_ms":1000,"history_s":600,"dry_run":false,
 *  "instances":[{"name":"web1","url":"nfs://...","reach":"up","error":"",
 *     "reach_since":...,"drain":true,"limit":true,"last_action":"...",
 *     "knobs":{"MaxRequestWorkers":150,"Accepting":1,"QueueLimit":256},
 *     "series":{"t":[...],"in_flight":[...],"queued":[...],"accept_queue":[...],
 *               "max_request_workers":[...],"queue_limit":[...],"rps":[...],
 *               "p99_ms":[...]}}],
 *  "actions":[{"t":...,"instance":"web1","knob":"QueueLimit","from":"256","to":"0",
 *              "policy":"drain","reason":"...","dry_run":false,"error":""}]}
 *
 * series hold the samples of the last history_s seconds, oldest first.
 */
void mon_json(struct mon_fleet *f, struct mon_buf *b);

/* --- http.c: the dashboard's server --- */
/* Serve / (the page) and /api/fleet (mon_json) on @listen ("host:port") from a host thread. */
int mon_http_start(struct mon_fleet *f, const char *listen, char *why, size_t whylen);
void mon_http_stop(void);
/* The port the dashboard listens on (useful with port 0), or -ENOTCONN when it does not. */
int mon_http_port(void);

/* --- metrics.c: what an instance's /status/metrics says --- */
#define MON_BUCKETS 20
enum mon_source { MON_SRC_UNKNOWN, MON_SRC_CONF, MON_SRC_IMPORT, MON_SRC_LOCAL };
struct mon_knob {
	bool seen;
	int64_t value, min, max;
	enum mon_source source;
};
struct mon_metrics {
	int64_t in_flight, queued, accept_queue; /* accept_queue: summed over listeners */
	uint64_t rejected;			 /* umlconf_requests_rejected_total */
	struct mon_knob mrw, accepting, queue_limit;
	/* umlconf_request_duration_seconds, cumulative as exposed */
	unsigned nbuckets;
	double le[MON_BUCKETS]; /* upper bounds, ascending; the last is +Inf */
	uint64_t bucket[MON_BUCKETS];
	double dur_sum;
	uint64_t dur_count;
	/* umlconf_admission_wait_seconds */
	double wait_sum;
	uint64_t wait_count;
};
/*
 * Parse the Prometheus text exposition @text/@len. 0, or -EPROTO with what
 * is wrong in @why: a line that does not parse, or a family the monitor
 * needs (in flight, queued, MaxRequestWorkers, the duration histogram) that
 * is missing.
 */
int mon_metrics_parse(const char *text, size_t len, struct mon_metrics *m, char *why,
		      size_t whylen);
/*
 * The sample between two polls @a (older; NULL for the first) and @b, @dt
 * seconds apart: rates, the mean service time, and the p99 from the buckets
 * that moved (linear within a bucket, as Prometheus's histogram_quantile).
 */
void mon_sample_derive(const struct mon_metrics *a, const struct mon_metrics *b, double dt,
		       double t, struct mon_sample *s);

/* --- policy.c: drain and limit --- */
struct mon_decision {
	const char *policy; /* "drain", "limit" */
	const char *knob;
	char value[24]; /* the value to write; "" : clear our local value */
	char from[24];
	char reason[MON_REASON_MAX];
};
/*
 * Decide for one instance after a poll: its newest sample is
 * in->hist[(in->head + MON_HISTORY - 1) % MON_HISTORY], @m the metrics it came from. Fills up to
 * @max decisions and returns how many; the policy state in in->pol assumes they will be carried
 * out. mon_policy_failed undoes that for one the instance refused.
 */
int mon_policy_decide(const struct mon_config *cfg, struct mon_instance *in,
		      const struct mon_metrics *m, double now, struct mon_decision *d, int max);
void mon_policy_failed(struct mon_instance *in, const struct mon_decision *d, double now);
/* The decision that ends @in's drain (QueueLimit @from now), and the state after it; no reason. */
void mon_drain_end(struct mon_instance *in, int64_t from, double now, struct mon_decision *d);

/* --- poll.c: one kernel thread per instance --- */
int mon_pollers_start(struct mon_fleet *f);
void mon_pollers_stop(void);
/* After the CPU stopped: end the drains in progress, so no instance sheds for good. */
void mon_drains_undo(struct mon_fleet *f);
/* Record an action: the ring, the instance's last_action and the log. fleet.lock not held. */
void mon_action_record(struct mon_fleet *f, struct mon_instance *in, const struct mon_decision *d,
		       bool dry_run, int err);

/* --- export.c: the monitor's own tree, exported over NFS --- */
int mon_export_build(struct mon_fleet *f, char *why, size_t whylen);

/* --- view.c: the terminal view --- */
int mon_view_start(struct mon_fleet *f);
void mon_view_stop(void);
/* Where actions are logged as lines (stderr without the view; a file with -L). */
extern FILE *mon_log;
/* One line to mon_log (when there is one), after the time in ISO 8601 with milliseconds. */
void mon_logf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Ask the monitor to stop (main.c): from any thread, or a signal handler. */
void mon_request_stop(void);

/* Names for people and files. */
const char *mon_reach_name(enum mon_reach r);
const char *mon_source_name(enum mon_source s);

#endif
