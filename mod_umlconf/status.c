/*
 * /status: read-only files generated on demand (render hooks run in the child
 * that serves the NFS call, just before GETATTR and READ), and the same
 * figures in mod_status's server-status page through its status_hook.
 *
 * Formats (one fact per line, stable for scripts):
 *   requests_in_flight  "N\n"
 *   queued              "N\n"
 *   rejected            "N\n"              503s sent by admission since boot
 *   admission           "waited N\nreleased N\nwakeups N\n" since boot: requests
 *                       admitted after a wait in the queue, slots released while
 *                       requests were queued, and wake-ups of queued requests
 *   generation          "N\n"              the config generation
 *   workers             "busy N\nidle N\n" from httpd's scoreboard
 *   listeners           "ADDR:PORT backlog N queue M\n" per listening socket
 *   children            "# cpu pid generation applied_ns\n" then one line per child
 *   errors              "<ISO8601> <client> <file> \"<value>\" <reason>\n", oldest first
 *   changes             "<ISO8601> <client> <knob> \"<old>\" \"<new>\" <source> \"<reason>\"\n",
 *                       the last 64 accepted changes of a knob's value in force or of
 *                       a layer, oldest first: client as in errors, "import" or "-"
 *                       (local); old and new the value in force before and after (a
 *                       change of the import's layer under a local value: that
 *                       layer's, "" for none); source the layer in force after it
 *                       (conf, import, local); reason the write's comment or "".
 *                       Quoted as errors quotes values (\n, \", \\, \xNN), whole
 *   config              "# knob value source applied conf import\n" then a line per knob:
 *                       the value in force, its layer (conf, import or local), when it
 *                       went in force (ISO8601), httpd.conf's value, the import's ("-")
 *   import              UmlConfImport, "key value\n" per line: url, state (new, ok,
 *                       stale, expired), last_ok, stale_since, changed, newest_mtime
 *                       (ISO8601 or "-"), version, passes, rpcs, files, dirs, skipped,
 *                       holder (pid), error (the rest of the line); "none\n" without one
 *   nfs                 "calls N\nerrors N\ngarbage N\nconnections N\nrefused N\n
 *                       unlisted N\n"
 *   metrics             Prometheus's text exposition format 0.0.4 (metrics.c names the
 *                       families); rendered at most every 100 ms per child, so that a
 *                       client's GETATTR and READs see the same bytes
 *   mm/buddyinfo, mm/slabinfo, mm/meminfo   as the kernel's mm writes them
 *   sched/cpus          "# cpu pid threads runnable timers switches remote_wakes io_wakes\n"
 *                       then one line per CPU (a child's host thread running kernel threads)
 *   sched/summary       "cpus N\nthreads N\nrunnable N\nswitches N\n", summed over CPUs
 *   fs                  the state image (UmlConfState), "key value\n" per line: path, size,
 *                       log_size, used, live, free (bytes), position, checkpoint (log
 *                       positions), checkpoints, checkpoint_at (Unix seconds, 0: none
 *                       since start), records, flushes, syncs, syncs_per_flush,
 *                       inodes, replayed, torn, error (0 or an errno name); "none\n"
 *                       without an image
 *   check               "ok\n" or "FAIL N\n", then a line per part audited and a
 *                       "FAIL ..." line per problem (uml_check); at most once a
 *                       second per child, the last result in between
 *   net/stack           the machine's own network (UmlConfInterface): "name value\n"
 *                       per counter of the stack and of each interface (uml_net_status)
 *   net/tcp             its TCP sockets as Linux's /proc/net/tcp lays them out: a
 *                       header, then listeners and connections (st in Linux's
 *                       numbers: 01 ESTABLISHED, 06 TIME_WAIT, 0A LISTEN, ...)
 *   net/tcp6            its IPv6 TCP sockets (and those on ::, both families) as
 *                       Linux's /proc/net/tcp6 lays them out
 *   net/snmp            its counters as Linux's /proc/net/snmp: "Ip:", "Icmp:", "Tcp:",
 *                       "Udp:" lines of names, each followed by one of values
 *   net/snmp6           its IPv6 counters as Linux's /proc/net/snmp6: a name and a
 *                       value a line (Ip6ReasmReqds, Ip6ReasmOKs, ...)
 *   net/netstat         its TCP event counters as Linux's /proc/net/netstat: a
 *                       "TcpExt:" line of names (Linux's: SyncookiesSent,
 *                       TCPTimeouts, ...), then one of values
 *                       The six are always there: without an interface, stack,
 *                       snmp, snmp6 and netstat are empty and tcp and tcp6 are their
 *                       headers alone.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "ap_mpm.h"
#include "apr_optional_hooks.h"
#include "http_protocol.h"
#include "mod_status.h"
#include "scoreboard.h"

#include "umlconf.h"

static size_t render_count(char *buf, size_t size, int64_t v)
{
	size_t len = 0;

	umlconf_buf_printf(buf, size, &len, "%" PRId64 "\n", v);
	return len;
}

static size_t render_in_flight(char *buf, size_t size)
{
	return render_count(buf, size, atomic_load(&umlconf_sh->in_flight));
}

static size_t render_queued(char *buf, size_t size)
{
	return render_count(buf, size, atomic_load(&umlconf_sh->queued));
}

static size_t render_rejected(char *buf, size_t size)
{
	return render_count(buf, size, (int64_t)atomic_load(&umlconf_sh->rejected));
}

static size_t render_admission(char *buf, size_t size)
{
	struct umlconf_shared *sh = umlconf_sh;
	size_t len = 0;

	umlconf_buf_printf(buf, size, &len,
			   "waited %" PRIu64 "\nreleased %" PRIu64 "\nwakeups %" PRIu64 "\n",
			   atomic_load(&sh->admit_waited), atomic_load(&sh->admit_released),
			   atomic_load(&sh->admit_wakeups));
	return len;
}

static size_t render_generation(char *buf, size_t size)
{
	return render_count(buf, size, uml_gen_read(&umlconf_sh->config_gen));
}

void umlconf_workers_count(int *busy, int *idle)
{
	int daemons = 0, threads = 0;

	*busy = *idle = 0;
	if (!ap_exists_scoreboard_image())
		return;
	ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &daemons);
	ap_mpm_query(AP_MPMQ_HARD_LIMIT_THREADS, &threads);
	if (threads < 1)
		threads = 1;
	for (int i = 0; i < daemons; i++) {
		process_score *ps = ap_get_scoreboard_process(i);

		if (!ps->pid || ps->quiescing)
			continue;
		for (int j = 0; j < threads; j++) {
			worker_score *ws = ap_get_scoreboard_worker_from_indexes(i, j);
			int st = ws->status;

			if (st == SERVER_READY)
				(*idle)++;
			else if (st != SERVER_DEAD && st != SERVER_STARTING &&
				 st != SERVER_IDLE_KILL)
				(*busy)++;
		}
	}
}

static size_t render_workers(char *buf, size_t size)
{
	size_t len = 0;
	int busy, idle;

	umlconf_workers_count(&busy, &idle);
	umlconf_buf_printf(buf, size, &len, "busy %d\nidle %d\n", busy, idle);
	return len;
}

static size_t render_listeners(char *buf, size_t size)
{
	return umlconf_listeners_render(buf, size);
}

static size_t render_children(char *buf, size_t size)
{
	/* config_gen first: a commit stores commit_ns and apply_config_gen before it. */
	uint32_t now_gen = uml_gen_read(&umlconf_sh->config_gen);
	uint64_t commit_ns = atomic_load(&umlconf_sh->commit_ns);
	size_t len = 0;

	umlconf_buf_printf(buf, size, &len, "# cpu pid generation applied_ns\n");
	for (int cpu = 0; cpu < UML_MAX_CPUS; cpu++) {
		struct umlconf_child *c = &umlconf_sh->child[cpu];
		uint32_t pid = atomic_load(&c->pid), gen;
		uint64_t ns;

		/* The parent reclaims the dead within a second; don't show them meanwhile. */
		if (!pid || !uml_task_alive(pid))
			continue;
		gen = atomic_load(&c->applied_gen);
		ns = atomic_load(&c->applied_ns);
		/*
		 * No write since that it must apply: it runs with the values of
		 * now (once its watcher has made its first round). Serial number
		 * arithmetic: the counters wrap.
		 */
		if (ns && (int32_t)(gen - atomic_load(&umlconf_sh->apply_config_gen)) >= 0 &&
		    (int32_t)(now_gen - gen) > 0) {
			gen = now_gen;
			ns = commit_ns > ns ? commit_ns : ns;
		}
		umlconf_buf_printf(buf, size, &len, "%d %u %u %" PRIu64 "\n", cpu, pid, gen, ns);
	}
	return len;
}

static size_t render_nfs(char *buf, size_t size)
{
	struct uml_nfs_stats st = {0};
	struct uml_nfs_lock_stats lk = {0};
	size_t len = 0;

	uml_nfs_stats(&st);
	uml_nfs_lock_stats(&lk);
	umlconf_buf_printf(buf, size, &len,
			   "calls %" PRIu64 "\nerrors %" PRIu64 "\ngarbage %" PRIu64
			   "\nconnections %" PRIu64 "\nrefused %" PRIu64 "\nunlisted %" PRIu64 "\n",
			   st.calls, st.errors, st.garbage, st.connections, st.refused,
			   st.unlisted);
	/* Clients' locks (NLM): what is held now, then how requests were answered. */
	umlconf_buf_printf(buf, size, &len,
			   "locks_held %" PRIu64 "\nlock_shares %" PRIu64 "\nlock_hosts %" PRIu64
			   "\nlocks_granted %" PRIu64 "\nlocks_denied %" PRIu64
			   "\nlocks_blocked %" PRIu64 "\nlocks_nolocks %" PRIu64
			   "\nlocks_refused %" PRIu64 "\nlocks_freed_by_notify %" PRIu64
			   "\nlocks_broken_by_lease %" PRIu64 "\n",
			   lk.held, lk.shares, lk.hosts, lk.granted, lk.denied, lk.blocked,
			   lk.nolocks, lk.refused, lk.notify_freed, lk.lease_broken);
	return len;
}

static size_t render_sched_summary(char *buf, size_t size)
{
	uint64_t switches = 0;
	unsigned cpus = 0, threads = 0, runnable = 0;
	size_t len = 0;

	for (int i = 0; i < UML_MAX_CPUS; i++) {
		struct uml_sched_stats st;

		if (uml_sched_stats(i, &st))
			continue;
		cpus++;
		threads += st.threads;
		runnable += st.runnable;
		switches += st.switches;
	}
	umlconf_buf_printf(buf, size, &len,
			   "cpus %u\nthreads %u\nrunnable %u\nswitches %" PRIu64 "\n", cpus,
			   threads, runnable, switches);
	return len;
}

/*
 * The machine's self-check walks every page under the allocator's lock: a
 * client that reads it in a loop must not stall every child's allocations.
 * Each child runs it at most once a second and serves the last result in
 * between (renders run under the vfs lock, so the cache needs no other).
 */
#define CHECK_EVERY_US 1000000

static size_t render_check(char *buf, size_t size)
{
	static char last[16384];
	static size_t last_len;
	static apr_time_t last_at;
	apr_time_t now = apr_time_now();

	if (!last_len || now - last_at >= CHECK_EVERY_US || now < last_at) {
		last_len = uml_check(last, sizeof(last));
		last_len = last_len < sizeof(last) ? last_len : sizeof(last) - 1;
		last_at = now;
	}
	if (size)
		memcpy(buf, last, last_len < size ? last_len : size);
	return last_len;
}

/*
 * A client reads a file with a GETATTR (its size) and then READs, and each
 * renders it again; the metrics' counters move in between (the read itself
 * switches threads), and a client that trusts the size (libnfs, the Linux
 * client between its attribute refreshes) would get a file cut short. Each
 * child renders them at most every 100 ms and serves the same bytes in
 * between (renders run under the vfs lock, so the cache needs no other):
 * long enough for a GETATTR and its READ, short enough that a monitor
 * polling every 250 ms sees its own write in its next poll.
 */
#define METRICS_EVERY_US 100000

static size_t render_metrics(char *buf, size_t size)
{
	static char last[UMLCONF_METRICS_MAX];
	static size_t last_len;
	static apr_time_t last_at;
	apr_time_t now = apr_time_now();

	if (!last_len || now - last_at >= METRICS_EVERY_US || now < last_at) {
		last_len = umlconf_metrics_render(last, sizeof(last));
		last_at = now;
	}
	if (size)
		memcpy(buf, last, last_len < size ? last_len : size);
	return last_len < size ? last_len : size;
}

static size_t render_fs(char *buf, size_t size)
{
	struct uml_state_stat st;
	size_t len = 0;

	if (uml_state_stat(&st) < 0) {
		umlconf_buf_printf(buf, size, &len, "none\n");
		return len;
	}
	umlconf_buf_printf(
	    buf, size, &len,
	    "path %s\nsize %" PRIu64 "\nlog_size %" PRIu64 "\nused %" PRIu64 "\nlive %" PRIu64
	    "\nfree %" PRIu64 "\nposition %" PRIu64 "\ncheckpoint %" PRIu64 "\ncheckpoints %" PRIu64
	    "\ncheckpoint_at %" PRId64 "\nrecords %" PRIu64 "\nflushes %" PRIu64 "\nsyncs %" PRIu64
	    "\nsyncs_per_flush %.2f\ninodes %" PRIu64 "\nreplayed %" PRIu64 "\ntorn %" PRIu64
	    "\nerror %s\n",
	    st.path, st.size, st.log_size, st.used, st.live, st.free, st.position, st.checkpoint,
	    st.checkpoints, st.checkpoint_at, st.records, st.flushes, st.syncs,
	    st.flushes ? (double)st.syncs / (double)st.flushes : 0.0, st.inodes, st.replayed,
	    st.torn, st.err ? strerrorname_np(-st.err) : "0");
	return len;
}

struct status_file {
	const char *path;
	/*
	 * Write the content into @buf (at most @size bytes, NUL included);
	 * return its length, or what it would be when cut.
	 */
	size_t (*render)(char *buf, size_t size);
};

static const struct status_file status_files[] = {
    {"/status/requests_in_flight", render_in_flight},
    {"/status/queued", render_queued},
    {"/status/rejected", render_rejected},
    {"/status/admission", render_admission},
    {"/status/generation", render_generation},
    {"/status/workers", render_workers},
    {"/status/listeners", render_listeners},
    {"/status/children", render_children},
    {"/status/metrics", render_metrics},
    {"/status/errors", umlconf_errors_render},
    {"/status/changes", umlconf_changes_render},
    {"/status/config", umlconf_knobs_render},
    {"/status/import", umlconf_import_render},
    {"/status/nfs", render_nfs},
    {"/status/mm/buddyinfo", uml_mm_buddyinfo},
    {"/status/mm/slabinfo", uml_mm_slabinfo},
    {"/status/mm/meminfo", uml_mm_meminfo},
    {"/status/fs", render_fs},
    {"/status/check", render_check},
    {"/status/sched/cpus", uml_sched_status},
    {"/status/sched/summary", render_sched_summary},
    {"/status/net/stack", uml_net_status},
    {"/status/net/tcp", uml_net_tcp_table},
    {"/status/net/tcp6", uml_net_tcp6_table},
    {"/status/net/snmp", uml_net_snmp},
    {"/status/net/snmp6", uml_net_snmp6},
    {"/status/net/netstat", uml_net_netstat},
};

static const char *const status_dirs[] = {"/status", "/status/mm", "/status/sched", "/status/net"};

static size_t status_render(void *arg, char *buf, size_t size)
{
	const struct status_file *f = arg;
	size_t n;

	if (!umlconf_sh || size == 0)
		return 0;
	/* libuml's renderers say what the whole text needs, as snprintf: keep what fits. */
	n = f->render(buf, size);
	return n < size ? n : size - 1;
}

/* Read-only files normally never get here; if a write does, say who tried. */
static int status_validate(void *arg, const char *data, size_t len, const struct uml_client *who,
			   char *why, size_t whylen)
{
	const struct status_file *f = arg;

	if (why && whylen)
		snprintf(why, whylen, "%s is read-only", f->path);
	umlconf_error_record(umlconf_sh, who ? who->addr : NULL, f->path, data, len,
			     "read-only status file");
	return -EACCES;
}

int umlconf_status_tree(struct umlconf_shared *sh)
{
	char probe[1];
	int rc;

	(void)sh;
	rc = uml_mkdir_p("/status/mm", 0755);
	if (rc == 0)
		rc = uml_mkdir_p("/status/net", 0755);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < sizeof(status_files) / sizeof(status_files[0]); i++) {
		/* Keep existing inodes: file handles must survive restarts. */
		if (uml_get_file(status_files[i].path, probe, sizeof(probe)) >= 0)
			continue;
		rc = uml_put_file(status_files[i].path, 0444, "", 0);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int umlconf_status_hooks(struct umlconf_shared *sh)
{
	int rc;

	(void)sh;
	for (size_t i = 0; i < sizeof(status_files) / sizeof(status_files[0]); i++) {
		struct uml_file_hooks h = {
		    .validate = status_validate,
		    .render = status_render,
		    .arg = (void *)&status_files[i],
		};

		rc = uml_file_hooks(status_files[i].path, &h);
		if (rc == 0)
			rc = uml_file_flags(status_files[i].path,
					    UML_FILE_PINNED | UML_FILE_READONLY);
		if (rc < 0)
			return rc;
	}
	for (size_t i = 0; i < sizeof(status_dirs) / sizeof(status_dirs[0]); i++) {
		rc = uml_file_flags(status_dirs[i], UML_FILE_PINNED | UML_DIR_NOCREATE);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* server-status: the knobs and the admission figures, in both page styles. */
static int umlconf_status_hook(request_rec *r, int flags)
{
	struct umlconf_shared *sh = umlconf_sh;
	uint64_t cum[UMLCONF_BUCKETS], served, waited, service_us, wait_us;
	char value[UMLCONF_TEXT_MAX];

	if (!sh)
		return OK;
	/* A few loads each: cheap enough for every server-status request. */
	served = umlconf_latency_read(&sh->service, cum, &service_us);
	waited = umlconf_latency_read(&sh->wait, cum, &wait_us);
	if (flags & AP_STATUS_SHORT) {
		for (int slot = 0; slot < UMLCONF_KNOB_SLOTS; slot++) {
			if (!sh->knob[slot].name[0])
				continue;
			umlconf_knob_show(sh, slot, value, sizeof(value));
			ap_rprintf(r, "UmlConf%s: %s\n", sh->knob[slot].name, value);
		}
		ap_rprintf(r,
			   "UmlConfInFlight: %d\nUmlConfQueued: %d\nUmlConfRejected: %" PRIu64
			   "\nUmlConfGeneration: %u\n",
			   atomic_load(&sh->in_flight), atomic_load(&sh->queued),
			   atomic_load(&sh->rejected), uml_gen_read(&sh->config_gen));
		ap_rprintf(r,
			   "UmlConfServed: %" PRIu64 "\nUmlConfServiceSeconds: %" PRIu64
			   ".%06" PRIu64 "\nUmlConfAdmitted: %" PRIu64
			   "\nUmlConfWaitSeconds: %" PRIu64 ".%06" PRIu64 "\n",
			   served, service_us / 1000000, service_us % 1000000, waited,
			   wait_us / 1000000, wait_us % 1000000);
		return OK;
	}
	ap_rputs("<hr />\n<h2>mod_umlconf</h2>\n<dl>\n", r);
	for (int slot = 0; slot < UMLCONF_KNOB_SLOTS; slot++) {
		if (!sh->knob[slot].name[0])
			continue;
		umlconf_knob_show(sh, slot, value, sizeof(value));
		ap_rprintf(r, "<dt>%s: %s</dt>\n", sh->knob[slot].name,
			   ap_escape_html(r->pool, value));
	}
	ap_rprintf(r,
		   "<dt>Requests in flight: %d, queued: %d, refused (503): %" PRIu64 "</dt>\n"
		   "<dt>Served: %" PRIu64 ", mean service time %.3f ms; admitted: %" PRIu64
		   ", mean admission wait %.3f ms</dt>\n"
		   "<dt>Config generation: %u</dt>\n</dl>\n",
		   atomic_load(&sh->in_flight), atomic_load(&sh->queued),
		   atomic_load(&sh->rejected), served,
		   served ? (double)service_us / 1000.0 / (double)served : 0.0, waited,
		   waited ? (double)wait_us / 1000.0 / (double)waited : 0.0,
		   uml_gen_read(&sh->config_gen));
	return OK;
}

void umlconf_status_register(void)
{
	APR_OPTIONAL_HOOK(ap, status_hook, umlconf_status_hook, NULL, NULL, APR_HOOK_MIDDLE);
}
