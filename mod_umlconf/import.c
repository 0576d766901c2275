/*
 * UmlConfImport: knobs from a central NFS server, so that one write there
 * changes a fleet.
 *
 *   UmlConfImport nfs://central:2049/fleet interval=1s ttl=0
 *
 * The machine's own NFS client keeps a read-only copy of the export at
 * /import (uml_mount_nfs): one child at a time polls it, and after each of
 * its passes this module, in that child, puts the import's layer of each
 * knob from /import/hosts/<ServerName>/config/<Knob> when there is one,
 * else from /import/config/<Knob>. The layers (knobs.c) decide what is in
 * force: httpd.conf < import < a local write, which overrides until it is
 * cleared with an empty write (`echo > /config/<Knob>`). An imported value
 * that does not validate is refused for that knob alone, reported in
 * /status/errors; the others apply.
 *
 * While the center is away the import is stale and the values stay; with a
 * ttl, once it has been stale that long the import's values are dropped
 * (httpd.conf's come back) until it answers again.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "apr_strings.h"

#include "umlconf.h"

#define IMPORT_DIR "/import"

/* This process's view, on the importer thread of the child that polls. */
static struct {
	bool seen_pass; /* this process has put the layers at least once */
	bool dirty;	/* a knob file changed since */
	bool stale;	/* logged as stale */
	bool expired;	/* the ttl ran out: the import's values are dropped */
} imp;

static int ttl_seconds;
/* UmlConfImport is in this configuration (the machine may keep an import a graceful restart
 * dropped). */
static bool import_on;

/* "500ms", "2s" or "2" (seconds) as milliseconds; -1 if neither. */
static long parse_interval(const char *v)
{
	char *end;
	long n = strtol(v, &end, 10);

	if (end == v || n < 0)
		return -1;
	if (!strcmp(end, "ms"))
		return n;
	if (!*end || !strcmp(end, "s"))
		return n > 3600 ? -1 : n * 1000;
	return -1;
}

const char *umlconf_import_directive(cmd_parms *cmd, void *dummy, int argc, char *const argv[])
{
	struct umlconf_conf *c = umlconf_conf_of(cmd->server);
	const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY), *opts = "";

	(void)dummy;
	if (err)
		return err;
	if (argc < 1 || strncmp(argv[0], "nfs://", 6) != 0)
		return "UmlConfImport: the first argument is nfs://host[:port]/path";
	c->import_url = argv[0];
	for (int i = 1; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		long ms;

		if (!eq)
			return apr_psprintf(cmd->pool, "UmlConfImport: '%s' is not name=value",
					    argv[i]);
		if (!strncmp(argv[i], "interval=", 9)) {
			ms = parse_interval(eq + 1);
			if (ms < 50 || ms > 3600000)
				return apr_psprintf(
				    cmd->pool,
				    "UmlConfImport: interval '%s' is not from 50ms to "
				    "3600s (500ms, 2s or 2)",
				    eq + 1);
			opts =
			    apr_psprintf(cmd->pool, "%s%sinterval=%ld", opts, *opts ? "," : "", ms);
		} else if (!strncmp(argv[i], "ttl=", 4)) {
			ms = parse_interval(eq + 1);
			if (ms < 0 || ms % 1000)
				return apr_psprintf(cmd->pool,
						    "UmlConfImport: ttl '%s' is not whole seconds "
						    "(0: keep the last values for ever)",
						    eq + 1);
			c->import_ttl = (int)(ms / 1000);
		} else {
			/* maxfile, maxentries, depth, uid, gid: the library checks them. */
			opts = apr_psprintf(cmd->pool, "%s%s%s", opts, *opts ? "," : "", argv[i]);
		}
	}
	c->import_opts = opts;
	return NULL;
}

static void layers_put(struct umlconf_shared *sh, uint64_t mtime_ns, const char *drop);

int umlconf_import_up(server_rec *s, struct umlconf_conf *conf, struct umlconf_shared *sh)
{
	char why[256] = "";
	int rc;

	ttl_seconds = conf->import_ttl;
	import_on = conf->import_url != NULL;
	if (!import_on) {
		/* Dropped at a graceful restart: its values go, nobody polls it. */
		layers_put(sh, 0, "UmlConfImport removed from httpd.conf");
		return 0;
	}
	rc = uml_mount_nfs(conf->import_url, IMPORT_DIR, conf->import_opts, why, sizeof(why));
	if (rc < 0) {
		ap_log_error(APLOG_MARK, APLOG_EMERG, -rc, s,
			     UMLCONF_LOGNO(10041) "UmlConfImport %s %s: %s", conf->import_url,
			     conf->import_opts ? conf->import_opts : "",
			     why[0] ? why : strerror(-rc));
		return -1;
	}
	return 0;
}

/*
 * The import's layer of every knob, from the copy; the host's directory
 * first. @drop: none at all, and why (the reason of the changes).
 */
static void layers_put(struct umlconf_shared *sh, uint64_t mtime_ns, const char *drop)
{
	const char *host = umlconf_server && umlconf_server->server_hostname
			       ? umlconf_server->server_hostname
			       : "";
	char data[UMLCONF_TEXT_MAX + UMLCONF_REASON_MAX + 64]; /* a value, a comment, blanks */

	for (int slot = 0; slot < UMLCONF_KNOB_SLOTS; slot++) {
		const char *name = sh->knob[slot].name;
		char where[UMLCONF_KNOB_NAME_MAX + 320] = "";
		long n = -ENOENT;

		if (!name[0])
			continue;
		if (!drop && host[0] && !strchr(host, '/')) {
			snprintf(where, sizeof(where), IMPORT_DIR "/hosts/%s/config/%s", host,
				 name);
			n = uml_get_file(where, data, sizeof(data));
		}
		if (!drop && n < 0) {
			snprintf(where, sizeof(where), IMPORT_DIR "/config/%s", name);
			n = uml_get_file(where, data, sizeof(data));
		}
		/* Longer than any value: validated as what it is, too long. */
		umlconf_knob_import(sh, name, n >= 0 ? data : NULL, n >= 0 ? (size_t)n : 0, where,
				    mtime_ns, drop);
	}
}

static void import_changed(void *arg, int idx, const char *rel)
{
	struct umlconf_shared *sh = umlconf_sh;
	struct uml_import_stat st;
	uint64_t now = umlconf_now_ns();

	(void)arg;
	if (rel) {
		imp.dirty |= !strncmp(rel, "config/", 7) || !strncmp(rel, "hosts/", 6);
		return;
	}
	if (!sh || uml_import_stat(idx, &st) < 0)
		return;
	if (st.state == UML_IMPORT_STALE) {
		if (!imp.stale)
			ap_log_error(APLOG_MARK, APLOG_WARNING, 0, umlconf_server,
				     UMLCONF_LOGNO(10043) "UmlConfImport %s is stale: %s; the "
							  "imported values stay in force",
				     st.url, st.error);
		imp.stale = true;
		if (ttl_seconds && !imp.expired &&
		    now - st.stale_since_ns >= (uint64_t)ttl_seconds * 1000000000ull) {
			ap_log_error(APLOG_MARK, APLOG_WARNING, 0, umlconf_server,
				     UMLCONF_LOGNO(10044) "UmlConfImport %s: stale for %d s, its "
							  "ttl: the imported values are dropped",
				     st.url, ttl_seconds);
			imp.expired = true;
			layers_put(sh, 0, "the import expired: stale past its ttl");
		}
		return;
	}
	if (imp.stale)
		ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, umlconf_server,
			     UMLCONF_LOGNO(10042) "UmlConfImport %s answers again", st.url);
	if (imp.dirty || !imp.seen_pass || imp.expired)
		layers_put(sh, st.newest_mtime_ns, NULL);
	imp.stale = imp.expired = imp.dirty = false;
	imp.seen_pass = true;
}

void umlconf_import_start(void)
{
	int rc;

	if (!import_on || uml_import_count() <= 0)
		return;
	rc = uml_import_start(import_changed, NULL);
	if (rc < 0)
		ap_log_error(APLOG_MARK, APLOG_ERR, -rc, umlconf_server,
			     UMLCONF_LOGNO(10045) "child %ld cannot start its importer thread; "
						  "other children still import",
			     (long)getpid());
}

int umlconf_import_state(struct uml_import_stat *st)
{
	if (!import_on || uml_import_count() <= 0 || uml_import_stat(0, st) < 0)
		return -ENOENT;
	return 0;
}

size_t umlconf_import_render(char *buf, size_t size)
{
	static const char *const state[] = {"new", "ok", "stale"};
	char last_ok[32], since[32], changed[32], newest[32];
	struct uml_import_stat st;
	size_t len = 0;

	if (umlconf_import_state(&st) < 0) {
		umlconf_buf_printf(buf, size, &len, "none\n");
		return len;
	}
	umlconf_time_format(st.last_ok_ns, last_ok, sizeof(last_ok));
	umlconf_time_format(st.stale_since_ns, since, sizeof(since));
	umlconf_time_format(st.changed_ns, changed, sizeof(changed));
	umlconf_time_format(st.newest_mtime_ns, newest, sizeof(newest));
	umlconf_buf_printf(
	    buf, size, &len,
	    "url %s\nstate %s\nlast_ok %s\nstale_since %s\nchanged %s\nnewest_mtime %s\n"
	    "version %llu\npasses %llu\nrpcs %llu\nfiles %u\ndirs %u\nskipped %u\nholder %u\n"
	    "error %s\n",
	    st.url,
	    ttl_seconds && st.state == UML_IMPORT_STALE &&
		    umlconf_now_ns() - st.stale_since_ns >= (uint64_t)ttl_seconds * 1000000000ull
		? "expired"
		: state[st.state < 3 ? st.state : 0],
	    last_ok, since, changed, newest, (unsigned long long)st.version,
	    (unsigned long long)st.passes, (unsigned long long)st.rpcs, st.files, st.dirs,
	    st.skipped, st.holder_pid, st.error);
	return len;
}
