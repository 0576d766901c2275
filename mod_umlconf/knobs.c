/*
 * The knobs: files under /config whose content is a live setting.
 *
 * One row per knob (as Redis's config.c does): its name, where its first value
 * comes from, its bounds, how its text is parsed and how a child applies it.
 * Adding a knob is adding a row here and an id in umlconf.h.
 *
 * A write reaches us as the whole new content of the file (write, truncate or
 * an editor's rename onto the knob): validate decides, commit stores the value
 * in shared memory and bumps the config generation, and every child's watcher
 * then runs apply. Values live in the arena, so they survive a graceful
 * restart together with the files.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ap_mpm.h"
#include "mpm_common.h"

#include "umlconf.h"

struct umlconf_knob {
	const char *name; /* file name under /config */
	/* The value on a fresh machine: what httpd.conf says. */
	int64_t (*initial)(void);
	/* Allowed range; called at every post_config (may depend on the MPM). */
	void (*bounds)(int64_t *min, int64_t *max);
	/* Text to number (knob_parse.h). */
	umlconf_parse_fn *parse;
	/* Put @v in force in this child (watcher thread); NULL when the request
	 * path reads the shared value itself. */
	int (*apply)(int64_t v);
};

static int mpm_query(int what)
{
	int v = 0;

	if (ap_mpm_query(what, &v) != APR_SUCCESS)
		return 0;
	return v;
}

/* The MPM's threads per child; 1 for a non-threaded MPM. */
static int64_t mpm_threads(void)
{
	int threaded = mpm_query(AP_MPMQ_IS_THREADED);
	int64_t t = mpm_query(AP_MPMQ_MAX_THREADS);

	return threaded == AP_MPMQ_NOT_SUPPORTED || t < 1 ? 1 : t;
}

static int64_t mrw_initial(void)
{
	int64_t v = (int64_t)mpm_query(AP_MPMQ_MAX_DAEMONS) * mpm_threads();

	return v < 1 ? 1 : v;
}

/* The MPM's own limit is fixed at start: its capacity is the ceiling. */
static void mrw_bounds(int64_t *min, int64_t *max)
{
	int64_t hard = (int64_t)mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS) * mpm_threads();

	*min = 1;
	*max = hard < 1 ? 1 : hard;
}

static int64_t backlog_initial(void)
{
	return umlconf_listeners_configured_backlog();
}

/* listen(2) takes an int; the kernel caps it at net.core.somaxconn anyway. */
static void backlog_bounds(int64_t *min, int64_t *max)
{
	*min = 1;
	*max = 65535;
}

static int backlog_apply(int64_t v)
{
	static int64_t applied = -1; /* this child's last value: listen() only on change */

	if (v == applied)
		return 0;
	applied = v;
	return umlconf_listeners_backlog((int)v);
}

static int64_t accepting_initial(void)
{
	return 1;
}

static void accepting_bounds(int64_t *min, int64_t *max)
{
	*min = 0;
	*max = 1;
}

static const struct umlconf_knob knobs[UMLCONF_KNOB_COUNT] = {
    [UMLCONF_KNOB_MAX_REQUEST_WORKERS] =
	{
	    .name = "MaxRequestWorkers",
	    .initial = mrw_initial,
	    .bounds = mrw_bounds,
	    .parse = umlconf_parse_decimal,
	    .apply = NULL, /* admission reads the shared value on every request */
	},
    [UMLCONF_KNOB_LISTEN_BACKLOG] =
	{
	    .name = "ListenBacklog",
	    .initial = backlog_initial,
	    .bounds = backlog_bounds,
	    .parse = umlconf_parse_decimal,
	    .apply = backlog_apply,
	},
    [UMLCONF_KNOB_ACCEPTING] =
	{
	    .name = "Accepting",
	    .initial = accepting_initial,
	    .bounds = accepting_bounds,
	    .parse = umlconf_parse_decimal,
	    .apply = NULL, /* admission reads it */
	},
};

const char *umlconf_knob_name(int id)
{
	return knobs[id].name;
}

void umlconf_knobs_bounds(struct umlconf_shared *sh, bool fresh)
{
	for (int id = 0; id < UMLCONF_KNOB_COUNT; id++) {
		const struct umlconf_knob *k = &knobs[id];
		int64_t min, max, v;

		k->bounds(&min, &max);
		atomic_store(&sh->min[id], min);
		atomic_store(&sh->max[id], max);
		v = fresh ? k->initial() : atomic_load(&sh->value[id]);
		/* A restart may lower a bound (another MPM): keep the value legal. */
		if (v < min)
			v = min;
		if (v > max)
			v = max;
		atomic_store(&sh->value[id], v);
	}
}

static void knob_path(int id, char *buf, size_t size)
{
	snprintf(buf, size, "/config/%s", knobs[id].name);
}

int umlconf_knobs_tree(struct umlconf_shared *sh, bool fresh)
{
	char path[128], text[32];
	int rc, len;

	/* Editors create temporaries next to the knobs: /config is writable. */
	rc = uml_mkdir_p("/config", 0777);
	if (rc < 0)
		return rc;
	for (int id = 0; id < UMLCONF_KNOB_COUNT; id++) {
		knob_path(id, path, sizeof(path));
		/* After a restart the file already holds the value in force. */
		if (!fresh && uml_get_file(path, text, sizeof(text)) >= 0)
			continue;
		len = snprintf(text, sizeof(text), "%" PRId64 "\n", atomic_load(&sh->value[id]));
		/* Anyone the export lets write may write: the export is the access control. */
		rc = uml_put_file(path, 0666, text, (size_t)len);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Hook context: which knob. The row's address is stable while this DSO is loaded. */
static int knob_validate(void *arg, const char *data, size_t len, const struct uml_client *who,
			 char *why, size_t whylen)
{
	const struct umlconf_knob *k = arg;
	int id = (int)(k - knobs);
	struct umlconf_shared *sh = umlconf_sh;
	char path[128], reason[160];
	int64_t v;
	int rc;

	/*
	 * A truncation (the first half of `echo N >`) never gets here: the
	 * filesystem holds it until the write that follows, and puts the value
	 * in force back if that write is refused. Empty content is "no value".
	 */
	reason[0] = '\0';
	rc = umlconf_knob_check(k->parse, data, len, atomic_load(&sh->min[id]),
				atomic_load(&sh->max[id]), &v, reason, sizeof(reason));
	if (rc == 0)
		return 0;
	if (why && whylen)
		snprintf(why, whylen, "%s: %s", k->name, reason);
	knob_path(id, path, sizeof(path));
	umlconf_error_record(sh, who ? who->addr : NULL, path, data, len, reason);
	return rc;
}

static void knob_commit(void *arg, const char *data, size_t len)
{
	const struct umlconf_knob *k = arg;
	int id = (int)(k - knobs);
	struct umlconf_shared *sh = umlconf_sh;
	char why[8];
	int64_t v;

	if (k->parse(data, len, &v, why, sizeof(why)) < 0)
		return;
	atomic_store(&sh->value[id], v);
	uml_gen_bump(&sh->config_gen);
	/* A higher limit or Accepting=1 must wake the queue now. */
	uml_gen_bump(&sh->admit_gen);
}

/*
 * The filesystem refused a write before asking us (too long for any knob,
 * a chmod) or after (no memory to store it): reported like a refused value.
 */
static void knob_refused(void *arg, const char *data, size_t len, int err, const char *reason,
			 const struct uml_client *who)
{
	const struct umlconf_knob *k = arg;
	char path[128];

	(void)err;
	knob_path((int)(k - knobs), path, sizeof(path));
	umlconf_error_record(umlconf_sh, who ? who->addr : NULL, path, data, len, reason);
}

int umlconf_knobs_hooks(struct umlconf_shared *sh)
{
	char path[128];
	int rc;

	(void)sh;
	for (int id = 0; id < UMLCONF_KNOB_COUNT; id++) {
		struct uml_file_hooks h = {
		    .validate = knob_validate,
		    .commit = knob_commit,
		    .refused = knob_refused,
		    .arg = (void *)&knobs[id],
		};

		knob_path(id, path, sizeof(path));
		rc = uml_file_hooks(path, &h);
		if (rc == 0)
			rc = uml_file_flags(path, UML_FILE_PINNED);
		if (rc < 0)
			return rc;
	}
	return uml_file_flags("/config", UML_FILE_PINNED);
}

void umlconf_knobs_apply(struct umlconf_shared *sh)
{
	for (int id = 0; id < UMLCONF_KNOB_COUNT; id++) {
		if (knobs[id].apply)
			knobs[id].apply(atomic_load(&sh->value[id]));
	}
}

void umlconf_error_record(struct umlconf_shared *sh, const char *client, const char *file,
			  const char *data, size_t len, const char *reason)
{
	char stamp[32], value[200];
	struct timespec ts;
	struct tm tm;
	uint32_t slot;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	umlconf_quote_value(value, sizeof(value), data, len);
	if (!client)
		client = "local";

	/* A holder killed mid-write leaves at worst one garbled line: nothing to repair. */
	uml_lock(sh->errors_lock);
	slot = sh->errors_total++ % UMLCONF_ERRORS;
	snprintf(sh->errors[slot], UMLCONF_ERRLINE, "%s %s %s \"%s\" %s", stamp, client, file,
		 value, reason);
	uml_unlock(sh->errors_lock);

	ap_log_error(APLOG_MARK, APLOG_WARNING, 0, umlconf_server,
		     UMLCONF_LOGNO(10003) "refused write to %s from %s: \"%s\": %s; the value in "
					  "force is unchanged",
		     file, client, value, reason);
}

void umlconf_buf_printf(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (size == 0 || *len >= size - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *len, size - *len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	*len += (size_t)n;
	if (*len >= size)
		*len = size - 1; /* truncated: the last line is cut, the NUL stays */
}

uint64_t umlconf_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}
