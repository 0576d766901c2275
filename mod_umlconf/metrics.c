/*
 * The instance's figures in Prometheus's text exposition format (0.0.4), for
 * a fleet monitor: /status/metrics over NFS, and the same text over HTTP
 *
 *   <Location /metrics>
 *       SetHandler umlconf-metrics
 *   </Location>
 *
 * (GET and HEAD; 405 otherwise). The names are an interface: a monitor
 * parses them, so a family is never renamed, only added.
 *
 * Size: every family is a few hundred bytes but the per-knob ones (four
 * lines of at most ~130 bytes for each of UMLCONF_KNOB_SLOTS knobs, about
 * 17 KiB for 32) and the per-listener ones (two lines of at most ~100 bytes
 * each); with 16 listeners the whole stays under 28 KiB, well inside
 * UMLCONF_METRICS_MAX. A render that would not fit is cut at the end (the
 * families at the end are the small ones), never overflows.
 *
 * Nothing here takes a lock on the request path: the figures are atomics,
 * but for the layer in force of each knob (knobs_lock, one knob at a time)
 * and the count of refused writes (errors_lock).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "http_protocol.h"
#include "http_request.h"

#include "umlconf.h"

struct out {
	char *buf;
	size_t size, len;
};

#define emit(o, ...) umlconf_buf_printf((o)->buf, (o)->size, &(o)->len, __VA_ARGS__)

/* # HELP and # TYPE of a family, before its samples. */
static void family(struct out *o, const char *name, const char *type, const char *help)
{
	emit(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter(struct out *o, const char *name, const char *help, uint64_t v)
{
	family(o, name, "counter", help);
	emit(o, "%s %" PRIu64 "\n", name, v);
}

static void gauge(struct out *o, const char *name, const char *help, int64_t v)
{
	family(o, name, "gauge", help);
	emit(o, "%s %" PRId64 "\n", name, v);
}

/* A label value as the format wants it: backslash, double quote and newline escaped. */
static const char *label(char *out, size_t size, const char *in)
{
	size_t o = 0;

	for (; *in && o + 2 < size; in++) {
		if (*in == '\\' || *in == '"' || *in == '\n') {
			out[o++] = '\\';
			out[o++] = *in == '\n' ? 'n' : *in;
		} else {
			out[o++] = *in;
		}
	}
	out[o] = '\0';
	return out;
}

static void histogram(struct out *o, const char *name, const char *help,
		      const struct umlconf_histogram *h)
{
	uint64_t cum[UMLCONF_BUCKETS], sum_us, n = umlconf_latency_read(h, cum, &sum_us);

	family(o, name, "histogram", help);
	for (unsigned b = 0; b < UMLCONF_BUCKETS; b++)
		emit(o, "%s_bucket{le=\"%s\"} %" PRIu64 "\n", name, umlconf_latency_le[b], cum[b]);
	emit(o, "%s_sum %" PRIu64 ".%06" PRIu64 "\n%s_count %" PRIu64 "\n", name, sum_us / 1000000,
	     sum_us % 1000000, name, n);
}

static void listener_backlog(const struct umlconf_listener *l, void *arg)
{
	char lb[2 * sizeof(l->addr)];

	emit((struct out *)arg, "umlconf_listen_backlog{listener=\"%s\"} %u\n",
	     label(lb, sizeof(lb), l->addr), l->backlog);
}

static void listener_queue(const struct umlconf_listener *l, void *arg)
{
	char lb[2 * sizeof(l->addr)];

	emit((struct out *)arg, "umlconf_listen_queue{listener=\"%s\"} %u\n",
	     label(lb, sizeof(lb), l->addr), l->queue);
}

/* One knob's slot as the metrics need it, read at one instant. */
struct knob_view {
	char name[2 * (UMLCONF_KNOB_NAME_MAX + 1)]; /* as a label value */
	bool numeric;
	uint32_t source;
	int64_t value, min, max;
	uint64_t changed;
};

static int knob_views(struct umlconf_shared *sh, struct knob_view *kv)
{
	int n = 0;

	for (int slot = 0; slot < UMLCONF_KNOB_SLOTS; slot++) {
		struct umlconf_knob_slot *ks = &sh->knob[slot];
		struct knob_view *v = &kv[n];

		if (!ks->name[0])
			continue;
		label(v->name, sizeof(v->name), ks->name);
		v->numeric = !(ks->flags & UMLCONF_KNOB_TEXT);
		/* The value and its layer together: a change moves both under the lock. */
		uml_lock(sh->knobs_lock);
		v->source = ks->source;
		v->value = atomic_load(&ks->value);
		uml_unlock(sh->knobs_lock);
		v->min = atomic_load(&ks->min);
		v->max = atomic_load(&ks->max);
		v->changed = atomic_load(&ks->changed);
		n++;
	}
	return n;
}

static void knobs(struct out *o, struct umlconf_shared *sh)
{
	struct knob_view kv[UMLCONF_KNOB_SLOTS];
	int n = knob_views(sh, kv);

	family(o, "umlconf_knob_value", "gauge",
	       "The value in force of each numeric knob under /config, and the layer it comes "
	       "from (conf, import, local).");
	for (int i = 0; i < n; i++)
		if (kv[i].numeric)
			emit(o, "umlconf_knob_value{knob=\"%s\",source=\"%s\"} %" PRId64 "\n",
			     kv[i].name, umlconf_source_name(kv[i].source), kv[i].value);
	family(o, "umlconf_knob_min", "gauge", "The lowest value each numeric knob takes.");
	for (int i = 0; i < n; i++)
		if (kv[i].numeric)
			emit(o, "umlconf_knob_min{knob=\"%s\"} %" PRId64 "\n", kv[i].name,
			     kv[i].min);
	family(o, "umlconf_knob_max", "gauge", "The highest value each numeric knob takes.");
	for (int i = 0; i < n; i++)
		if (kv[i].numeric)
			emit(o, "umlconf_knob_max{knob=\"%s\"} %" PRId64 "\n", kv[i].name,
			     kv[i].max);
	family(o, "umlconf_knob_changes_total", "counter",
	       "Accepted changes of each knob's value in force or of one of its layers (the "
	       "lines of /status/changes).");
	for (int i = 0; i < n; i++)
		emit(o, "umlconf_knob_changes_total{knob=\"%s\"} %" PRIu64 "\n", kv[i].name,
		     kv[i].changed);
}

size_t umlconf_metrics_render(char *buf, size_t size)
{
	struct umlconf_shared *sh = umlconf_sh;
	struct out o = {.buf = buf, .size = size};
	struct uml_import_stat imp;
	struct uml_nfs_stats nfs = {0};
	struct uml_nfs_lock_stats locks = {0};
	uint64_t switches = 0;
	uint32_t errors;
	int busy, idle, children = 0;

	if (!sh || !size)
		return 0;
	buf[0] = '\0';
	gauge(&o, "umlconf_requests_in_flight",
	      "Admitted requests not yet finished, across all children.",
	      atomic_load(&sh->in_flight));
	gauge(&o, "umlconf_requests_queued", "Requests waiting for admission.",
	      atomic_load(&sh->queued));
	counter(&o, "umlconf_requests_rejected_total",
		"Requests answered 503 by admission (queue full, shed, waited too long).",
		atomic_load(&sh->rejected));
	histogram(&o, "umlconf_request_duration_seconds",
		  "Service time of admitted requests, from admission to the end of the request.",
		  &sh->service);
	histogram(&o, "umlconf_admission_wait_seconds",
		  "Time admitted requests waited for admission (0 when admitted at once).",
		  &sh->wait);
	counter(&o, "umlconf_admission_waited_total",
		"Requests admitted after a wait in the queue.", atomic_load(&sh->admit_waited));
	counter(&o, "umlconf_admission_released_total",
		"Admission slots released while requests were queued.",
		atomic_load(&sh->admit_released));
	counter(&o, "umlconf_admission_wakeups_total", "Wake-ups of queued requests.",
		atomic_load(&sh->admit_wakeups));

	family(&o, "umlconf_listen_backlog", "gauge",
	       "The listen() backlog in effect on each listening socket.");
	umlconf_listeners_each(listener_backlog, &o);
	family(&o, "umlconf_listen_queue", "gauge",
	       "Connections waiting in each listening socket's accept queue.");
	umlconf_listeners_each(listener_queue, &o);

	umlconf_workers_count(&busy, &idle);
	family(&o, "umlconf_workers", "gauge", "httpd's workers by state, from its scoreboard.");
	emit(&o, "umlconf_workers{state=\"busy\"} %d\numlconf_workers{state=\"idle\"} %d\n", busy,
	     idle);

	knobs(&o, sh);
	gauge(&o, "umlconf_config_generation",
	      "The config generation, bumped by every accepted "
	      "knob write.",
	      uml_gen_read(&sh->config_gen));
	uml_lock(sh->errors_lock);
	errors = sh->errors_total;
	uml_unlock(sh->errors_lock);
	counter(&o, "umlconf_errors_total", "Refused writes recorded (/status/errors).", errors);

	for (int cpu = 0; cpu < UML_MAX_CPUS; cpu++) {
		uint32_t pid = atomic_load(&sh->child[cpu].pid);
		struct uml_sched_stats st;

		/* The parent reclaims the dead within a second; they don't count meanwhile. */
		if (pid && uml_task_alive(pid))
			children++;
		if (uml_sched_stats(cpu, &st) == 0)
			switches += st.switches;
	}
	gauge(&o, "umlconf_children", "Live httpd children that are CPUs of the machine.",
	      children);

	uml_nfs_stats(&nfs);
	counter(&o, "umlconf_nfs_calls_total", "NFS and MOUNT calls served.", nfs.calls);
	counter(&o, "umlconf_nfs_errors_total", "NFS calls answered with an error.", nfs.errors);
	counter(&o, "umlconf_nfs_garbage_total", "RPC records that could not be decoded.",
		nfs.garbage);
	counter(&o, "umlconf_nfs_connections_total", "NFS connections accepted.", nfs.connections);
	counter(&o, "umlconf_nfs_refused_total",
		"NFS connections closed at once: their client held its share, or no room was left.",
		nfs.refused);
	counter(&o, "umlconf_nfs_unlisted_total",
		"Connections and datagrams of hosts no export lists, closed unread.", nfs.unlisted);

	uml_nfs_lock_stats(&locks);
	gauge(&o, "umlconf_nfs_locks_held", "Byte-range locks NFS clients hold (NLM).", locks.held);
	gauge(&o, "umlconf_nfs_lock_hosts", "Client addresses holding NLM locks or shares.",
	      locks.hosts);
	counter(&o, "umlconf_nfs_locks_granted_total", "NLM lock and share requests granted.",
		locks.granted);
	counter(&o, "umlconf_nfs_locks_denied_total",
		"NLM lock requests refused or told to wait: another owner holds the range.",
		locks.denied + locks.blocked);
	counter(&o, "umlconf_nfs_locks_nolocks_total",
		"NLM lock requests refused for room: a client's or the server's bound.",
		locks.nolocks);

	if (umlconf_import_state(&imp) == 0) {
		gauge(&o, "umlconf_import_up",
		      "1 when UmlConfImport's last pass reached the center, else 0.",
		      imp.state == UML_IMPORT_OK);
		family(&o, "umlconf_import_last_ok_timestamp_seconds", "gauge",
		       "When UmlConfImport last reached the center (Unix time; 0: never).");
		emit(&o, "umlconf_import_last_ok_timestamp_seconds %" PRIu64 ".%03" PRIu64 "\n",
		     imp.last_ok_ns / 1000000000, imp.last_ok_ns / 1000000 % 1000);
	}
	counter(&o, "umlconf_sched_context_switches_total",
		"Kernel-thread context switches of the live CPUs (a child that ends takes its "
		"share: a reset).",
		switches);
	return o.len;
}

int umlconf_metrics_handler(request_rec *r)
{
	char *buf;
	size_t len;

	if (!r->handler || strcmp(r->handler, "umlconf-metrics") != 0)
		return DECLINED;
	/* What a 405's Allow lists (HEAD comes with GET); HEAD is a GET with header_only. */
	ap_allow_standard_methods(r, REPLACE_ALLOW, M_GET, -1);
	if (r->method_number != M_GET)
		return HTTP_METHOD_NOT_ALLOWED;
	if (!umlconf_sh)
		return HTTP_SERVICE_UNAVAILABLE;
	buf = apr_palloc(r->pool, UMLCONF_METRICS_MAX);
	len = umlconf_metrics_render(buf, UMLCONF_METRICS_MAX);
	ap_set_content_type(r, "text/plain; version=0.0.4; charset=utf-8");
	ap_set_content_length(r, (apr_off_t)len);
	if (!r->header_only)
		ap_rwrite(buf, (int)len, r);
	return OK;
}
