/*
 * mod_umlconf_httpd: httpd's own settings as live knobs of mod_umlconf, and
 * the example of a module registering its knobs (mod_umlconf.h).
 *
 *   LoadModule umlconf_module       modules/mod_umlconf.so
 *   LoadModule umlconf_httpd_module modules/mod_umlconf_httpd.so
 *
 * No directives. It adds, each in force in every child as soon as it is
 * written:
 *   /config/Timeout      seconds, 1..86400: the Timeout of new connections
 *                        and of every request from then on (socket reads
 *                        and writes); defaults to the main server's Timeout
 *   /config/LogLevel     what the LogLevel directive takes: a level and
 *                        module:level words ("info", "warn ssl:info"); the
 *                        whole setting, so modules not named follow the
 *                        level; defaults to the main server's LogLevel
 * Both are the main server's, and every virtual host's that does not set
 * its own in httpd.conf.
 *   /config/Maintenance  "none", "*" (every host), or ServerNames: requests
 *                        to those hosts get 503 with Retry-After before any
 *                        handler runs
 *
 * Not KeepAliveTimeout: the event MPM sizes its keep-alive queues from it
 * once, in post_config, so it cannot change without a restart there.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "httpd.h"
#include "http_config.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_strings.h"

#include "mod_umlconf.h"

module AP_MODULE_DECLARE_DATA umlconf_httpd_module;

#define RETRY_AFTER "60" /* seconds: what a client waits out a maintenance 503 for */

struct server_knobs {
	_Atomic int maintenance; /* 1: answer 503; written by the watcher, read by requests */
	/* The vhost set its own in httpd.conf: the knob leaves it alone. */
	bool own_timeout, own_loglevel;
};

/* The main server of this generation: the knobs apply to its whole chain. */
static server_rec *main_server;

static struct server_knobs *knobs_of(server_rec *s)
{
	return ap_get_module_config(s->module_config, &umlconf_httpd_module);
}

/* The words of a knob's content: at most one line, trailing newline allowed. */
static int words_of(const char *data, size_t len, char *buf, size_t size, char *why, size_t whylen)
{
	if (len > 0 && data[len - 1] == '\n')
		len--;
	if (len >= size) {
		snprintf(why, whylen, "too long (%zu bytes, at most %zu)", len, size - 1);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		if (data[i] == '\0' || data[i] == '\n' || data[i] == '\r') {
			snprintf(why, whylen, "one line of words expected");
			return -EINVAL;
		}
	}
	memcpy(buf, data, len);
	buf[len] = '\0';
	return 0;
}

/* Words into @out separated by single spaces, for the value in force. */
static void words_join(char *out, size_t size, size_t *used, const char *word)
{
	int n = snprintf(out + *used, size - *used, "%s%s", *used ? " " : "", word);

	if (n > 0 && (size_t)n < size - *used)
		*used += (size_t)n;
}

/* --- Timeout --- */

static void timeout_initial(server_rec *s, struct umlconf_value *v)
{
	v->n = apr_time_sec(s->timeout);
}

static int timeout_apply(const struct umlconf_value *v)
{
	apr_interval_time_t t = apr_time_from_sec(v->n);

	/* core_pre_connection gives each new connection its server's Timeout. */
	for (server_rec *s = main_server; s; s = s->next) {
		if (!knobs_of(s)->own_timeout)
			__atomic_store_n(&s->timeout, t, __ATOMIC_RELAXED);
	}
	return 0;
}

/* A kept-alive connection got its Timeout when it opened: give it today's. */
static int timeout_request(request_rec *r)
{
	apr_socket_t *sock = ap_get_conn_socket(r->connection);

	if (sock && !r->main && !r->prev)
		apr_socket_timeout_set(sock,
				       __atomic_load_n(&r->server->timeout, __ATOMIC_RELAXED));
	return DECLINED;
}

/* --- LogLevel --- */

/* By level (APLOG_EMERG 0 .. APLOG_TRACE8 15), as the directive spells them. */
static const char *const level_names[] = {
    "emerg",  "alert",	"crit",	  "error",  "warn",   "notice", "info",	  "debug",
    "trace1", "trace2", "trace3", "trace4", "trace5", "trace6", "trace7", "trace8",
};

static const char *level_name(int level)
{
	return level >= 0 && level < (int)(sizeof(level_names) / sizeof(level_names[0]))
		   ? level_names[level]
		   : "warn";
}

static module *module_named(const char *name)
{
	for (module **m = ap_loaded_modules; *m; m++) {
		const char *shortname = ap_find_module_short_name((*m)->module_index);

		if ((shortname && strcasecmp(shortname, name) == 0) ||
		    strcasecmp((*m)->name, name) == 0)
			return *m;
	}
	return NULL;
}

/*
 * "level [module:level]...", as the directive: the level of every module
 * not named in *@level (-1 when no bare level is given: the configured one
 * stays), one entry per module in @per (index, level; @nper entries).
 */
struct loglevels {
	int level;
	int nper;
	struct {
		int index, level;
	} per[24];
};

static int loglevel_parse_into(const char *data, size_t len, struct loglevels *ll, char *canon,
			       size_t csize, char *why, size_t whylen)
{
	char buf[UMLCONF_TEXT_MAX], *save = NULL, *w;
	size_t used = 0;
	int rc = words_of(data, len, buf, sizeof(buf), why, whylen);

	if (rc < 0)
		return rc;
	ll->level = -1;
	ll->nper = 0;
	canon[0] = '\0';
	for (w = apr_strtok(buf, " \t", &save); w; w = apr_strtok(NULL, " \t", &save)) {
		char *colon = strchr(w, ':');
		const char *err;
		int level;

		err = ap_parse_log_level(colon ? colon + 1 : w, &level);
		if (err) {
			snprintf(why, whylen,
				 "'%s': not a log level (emerg .. debug, trace1 .. "
				 "trace8)",
				 colon ? colon + 1 : w);
			return -EINVAL;
		}
		if (!colon) {
			if (ll->level >= 0) {
				snprintf(why, whylen, "two levels without a module");
				return -EINVAL;
			}
			ll->level = level;
		} else {
			module *m;

			*colon = '\0';
			m = module_named(w);
			if (!m) {
				snprintf(why, whylen, "no module '%s' is loaded", w);
				return -EINVAL;
			}
			if (ll->nper == (int)(sizeof(ll->per) / sizeof(ll->per[0]))) {
				snprintf(why, whylen, "more than %d modules",
					 (int)(sizeof(ll->per) / sizeof(ll->per[0])));
				return -EINVAL;
			}
			ll->per[ll->nper].index = m->module_index;
			ll->per[ll->nper++].level = level;
			*colon = ':';
		}
		words_join(canon, csize, &used, w);
	}
	if (ll->level < 0 && ll->nper == 0) {
		snprintf(why, whylen, "no value");
		return -EINVAL;
	}
	return 0;
}

static int loglevel_parse(const char *data, size_t len, struct umlconf_value *v, char *why,
			  size_t whylen)
{
	struct loglevels ll;

	return loglevel_parse_into(data, len, &ll, v->text, sizeof(v->text), why, whylen);
}

/* The main server's LogLevel as the directive would say it. */
static void loglevel_initial(server_rec *s, struct umlconf_value *v)
{
	size_t used = 0;

	v->text[0] = '\0';
	words_join(v->text, sizeof(v->text), &used, level_name(s->log.level));
	for (module **m = ap_loaded_modules; s->log.module_levels && *m; m++) {
		int level = s->log.module_levels[(*m)->module_index];

		char word[64];

		if (level < 0)
			continue;
		snprintf(word, sizeof(word), "%s:%s", ap_find_module_short_name((*m)->module_index),
			 level_name(level));
		words_join(v->text, sizeof(v->text), &used, word);
	}
}

static int loglevel_apply(const struct umlconf_value *v)
{
	struct loglevels ll;
	char canon[UMLCONF_TEXT_MAX], why[160];
	int rc;

	rc = loglevel_parse_into(v->text, strlen(v->text), &ll, canon, sizeof(canon), why,
				 sizeof(why));
	if (rc < 0)
		return rc;
	if (ll.level < 0)
		ll.level = main_server->log.level;
	for (server_rec *s = main_server; s; s = s->next) {
		if (knobs_of(s)->own_loglevel)
			continue;
		/* Every server got its own array in post_config. */
		for (module **m = ap_loaded_modules; *m; m++)
			__atomic_store_n(&s->log.module_levels[(*m)->module_index], (signed char)-1,
					 __ATOMIC_RELAXED);
		for (int i = 0; i < ll.nper; i++)
			__atomic_store_n(&s->log.module_levels[ll.per[i].index],
					 (signed char)ll.per[i].level, __ATOMIC_RELAXED);
		__atomic_store_n(&s->log.level, ll.level, __ATOMIC_RELAXED);
	}
	return 0;
}

/* --- Maintenance --- */

static server_rec *server_named(const char *name)
{
	for (server_rec *s = main_server; s; s = s->next) {
		if (s->server_hostname && strcasecmp(s->server_hostname, name) == 0)
			return s;
	}
	return NULL;
}

static int maintenance_parse(const char *data, size_t len, struct umlconf_value *v, char *why,
			     size_t whylen)
{
	char buf[UMLCONF_TEXT_MAX], *save = NULL, *w;
	size_t used = 0;
	int rc = words_of(data, len, buf, sizeof(buf), why, whylen), n = 0;
	bool special = false;

	if (rc < 0)
		return rc;
	v->text[0] = '\0';
	for (w = apr_strtok(buf, " \t", &save); w; w = apr_strtok(NULL, " \t", &save), n++) {
		if (strcmp(w, "none") == 0 || strcmp(w, "*") == 0)
			special = true;
		else if (!server_named(w)) {
			snprintf(why, whylen, "no virtual host has ServerName %s", w);
			return -EINVAL;
		}
		words_join(v->text, sizeof(v->text), &used, w);
	}
	if (n == 0 || (special && n > 1)) {
		snprintf(why, whylen, "expected none, * or ServerNames");
		return -EINVAL;
	}
	return 0;
}

static bool word_in(const char *words, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = words; *p;) {
		size_t w = strcspn(p, " ");

		if (w == n && strncasecmp(p, name, n) == 0)
			return true;
		p += w;
		p += strspn(p, " ");
	}
	return false;
}

static int maintenance_apply(const struct umlconf_value *v)
{
	bool all = strcmp(v->text, "*") == 0;

	for (server_rec *s = main_server; s; s = s->next)
		atomic_store(&knobs_of(s)->maintenance,
			     all || (s->server_hostname && word_in(v->text, s->server_hostname)));
	return 0;
}

static int maintenance_request(request_rec *r)
{
	/* An internal redirect to an ErrorDocument must not be refused again. */
	if (r->main || r->prev || !atomic_load(&knobs_of(r->server)->maintenance))
		return DECLINED;
	apr_table_setn(r->err_headers_out, "Retry-After", RETRY_AFTER);
	return HTTP_SERVICE_UNAVAILABLE;
}

/* --- registration --- */

static const struct umlconf_knob_def knobs[] = {
    {
	.name = "Timeout",
	.min = 1,
	.max = 86400,
	.initial = timeout_initial,
	.apply = timeout_apply,
    },
    {
	.name = "LogLevel",
	.flags = UMLCONF_KNOB_TEXT,
	.parse = loglevel_parse,
	.initial = loglevel_initial,
	.apply = loglevel_apply,
    },
    {
	.name = "Maintenance",
	.flags = UMLCONF_KNOB_TEXT,
	.dflt_text = "none",
	.parse = maintenance_parse,
	.apply = maintenance_apply,
    },
};

/* pre_config: mod_umlconf builds /config in its post_config (see mod_umlconf.h). */
static int umlconf_httpd_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
	APR_OPTIONAL_FN_TYPE(umlconf_register_knob) *register_knob =
	    APR_RETRIEVE_OPTIONAL_FN(umlconf_register_knob);

	(void)pconf;
	(void)plog;
	(void)ptemp;
	if (!register_knob) {
		ap_log_error(APLOG_MARK, APLOG_WARNING, 0, NULL,
			     UMLCONF_LOGNO(10033) "mod_umlconf_httpd does nothing without "
						  "mod_umlconf: load umlconf_module too");
		return OK;
	}
	/* A refusal is logged by mod_umlconf; the other knobs still work. */
	for (size_t i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++)
		register_knob(&knobs[i]);
	return OK;
}

static int umlconf_httpd_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
				     server_rec *s)
{
	(void)plog;
	(void)ptemp;
	main_server = s;
	/*
	 * Each server gets its own maintenance switch, and its own module
	 * array for LogLevel's apply to store into (a vhost without its own
	 * LogLevel shares the main server's, or has none).
	 */
	for (; s; s = s->next) {
		signed char *old = s->log.module_levels;
		struct server_knobs *k = apr_pcalloc(pconf, sizeof(*k));

		/* httpd gives a vhost without our directives the main server's record. */
		ap_set_module_config(s->module_config, &umlconf_httpd_module, k);
		/* What a vhost inherits, httpd's merge copied from the main server. */
		k->own_timeout = s != main_server && s->timeout != main_server->timeout;
		k->own_loglevel = s != main_server && (s->log.level != main_server->log.level ||
						       old != main_server->log.module_levels);
		s->log.module_levels = NULL;
		ap_set_module_loglevel(pconf, &s->log, 0, -1); /* allocates; -1: unset */
		for (module **m = ap_loaded_modules; old && *m; m++)
			s->log.module_levels[(*m)->module_index] = old[(*m)->module_index];
	}
	return OK;
}

static void umlconf_httpd_register_hooks(apr_pool_t *p)
{
	(void)p;
	ap_hook_pre_config(umlconf_httpd_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
	ap_hook_post_config(umlconf_httpd_post_config, NULL, NULL, APR_HOOK_MIDDLE);
	ap_hook_post_read_request(maintenance_request, NULL, NULL, APR_HOOK_MIDDLE);
	ap_hook_post_read_request(timeout_request, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(umlconf_httpd) = {
    STANDARD20_MODULE_STUFF,
    NULL,			 /* per-directory config creator */
    NULL,			 /* per-directory config merger */
    NULL,			 /* per-server config creator: in post_config */
    NULL,			 /* per-server config merger */
    NULL,			 /* directives: none */
    umlconf_httpd_register_hooks /* hooks */
};
