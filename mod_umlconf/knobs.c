/*
 * The knobs: files under /config whose content is a live setting.
 *
 * A knob is a row of data (struct umlconf_knob_def, mod_umlconf.h), as in
 * Redis's config.c: its name, flags, bounds and default as values, a parser
 * and an apply function; functions stand in for values only where httpd
 * decides at start (MaxRequestWorkers' ceiling comes from the MPM). This
 * module's rows are in builtin[] below; other modules add theirs with
 * umlconf_register_knob in their pre_config. Adding a knob is adding a row.
 *
 * Each knob owns a slot in the arena (struct umlconf_knob_slot), found by
 * name after a graceful restart, so values survive it; the built-in knobs
 * own the first slots, which the request path reads by id.
 *
 * A write reaches us as the whole new content of the file (write, truncate
 * or an editor's rename onto the knob): validate parses and checks it once
 * and hands the value to commit, which stores it in the slot and bumps the
 * config generation; every child's watcher then applies each knob whose
 * value changed.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ap_mpm.h"
#include "mpm_common.h"
#include "apr_optional.h"

#include "umlconf.h"

/* --- this module's rows --- */

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

static void mrw_initial(server_rec *s, struct umlconf_value *v)
{
	(void)s;
	v->n = (int64_t)mpm_query(AP_MPMQ_MAX_DAEMONS) * mpm_threads();
	if (v->n < 1)
		v->n = 1;
}

/* The MPM's own limit is fixed at start: its capacity is the ceiling. */
static void mrw_bounds(int64_t *min, int64_t *max)
{
	int64_t hard = (int64_t)mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS) * mpm_threads();

	*min = 1;
	*max = hard < 1 ? 1 : hard;
}

static void backlog_initial(server_rec *s, struct umlconf_value *v)
{
	(void)s;
	v->n = umlconf_listeners_configured_backlog();
}

static int backlog_apply(const struct umlconf_value *v)
{
	return umlconf_listeners_backlog((int)v->n);
}

/* UmlConfQueue's size is the most that may wait, and the default. */
static void queue_initial(server_rec *s, struct umlconf_value *v)
{
	v->n = umlconf_conf_of(s)->queue_size;
}

/* Called from post_config, after umlconf_server is set to the main server. */
static void queue_bounds(int64_t *min, int64_t *max)
{
	*min = 0;
	*max = umlconf_conf_of(umlconf_server)->queue_size;
}

/* In the order of enum umlconf_knob_id: their slots. */
static const struct umlconf_knob_def builtin[UMLCONF_KNOB_COUNT] = {
    [UMLCONF_KNOB_MAX_REQUEST_WORKERS] =
	{
	    .name = "MaxRequestWorkers", .bounds = mrw_bounds, .initial = mrw_initial,
	    /* no apply: admission reads the slot on every request */
	},
    [UMLCONF_KNOB_LISTEN_BACKLOG] =
	{
	    .name = "ListenBacklog",
	    .min = 1,
	    .max = 65535, /* listen(2) takes an int; net.core.somaxconn caps it anyway */
	    .initial = backlog_initial,
	    .apply = backlog_apply,
	},
    [UMLCONF_KNOB_ACCEPTING] =
	{
	    .name = "Accepting", .min = 0, .max = 1, .dflt = 1,
	    /* no apply: admission reads it */
	},
    [UMLCONF_KNOB_QUEUE_LIMIT] =
	{
	    .name = "QueueLimit", .bounds = queue_bounds, .initial = queue_initial,
	    /* no apply: admission reads it */
	},
};

/* --- the registry: every row of this configuration pass --- */

/*
 * Rows registered by other modules since pre_config; they stay valid while
 * those modules are loaded, which is until the configuration pool goes.
 * Written by the parent only, before any child exists.
 */
static const struct umlconf_knob_def *registered[UMLCONF_KNOB_SLOTS - UMLCONF_KNOB_COUNT];
static int nregistered;
static bool registry_closed; /* /config is laid out: too late to register */

/*
 * One knob in this process, by slot. Set up by the parent in post_config
 * and inherited by the children; parsed, parsed_clear, client and reason
 * are written by validate and read by the commit that follows it, both
 * under the filesystem lock; applied and started belong to the child's
 * watcher thread.
 */
static struct knob {
	const struct umlconf_knob_def *def; /* NULL: no knob in this slot */
	int slot;
	struct umlconf_value parsed;
	bool parsed_clear;		     /* the write was empty: it clears the local layer */
	char client[UMLCONF_CLIENT_MAX];     /* who wrote it, for /status/changes */
	char reason[UMLCONF_REASON_MAX + 1]; /* the reason it carried, or "" */
	uint32_t applied; /* the slot's changes when this child last applied it */
	bool started;	  /* applied at least once in this child */
} knobs[UMLCONF_KNOB_SLOTS];

static const struct umlconf_knob_def *row(int i)
{
	return i < UMLCONF_KNOB_COUNT ? &builtin[i] : registered[i - UMLCONF_KNOB_COUNT];
}

static bool name_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > UMLCONF_KNOB_NAME_MAX || name[0] == '.')
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
	       n;
}

static int umlconf_register_knob(const struct umlconf_knob_def *def)
{
	const char *why = NULL;
	int rc = 0;

	if (registry_closed) {
		rc = -EBUSY;
		why = "registered after mod_umlconf's post_config: register in pre_config";
	} else if (!def || !name_valid(def->name)) {
		rc = -EINVAL;
		why = "the name must be 1 to 47 letters, digits, '.', '-' or '_'";
	} else if ((def->flags & UMLCONF_KNOB_TEXT) && !def->parse) {
		rc = -EINVAL;
		why = "a text knob needs a parser";
	} else if (nregistered == (int)(sizeof(registered) / sizeof(registered[0]))) {
		rc = -ENOSPC;
		why = "no knob slot left";
	}
	for (int i = 0; rc == 0 && i < UMLCONF_KNOB_COUNT + nregistered; i++) {
		if (strcmp(row(i)->name, def->name) == 0) {
			rc = -EEXIST;
			why = "the name is taken";
		}
	}
	if (rc < 0) {
		ap_log_error(APLOG_MARK, APLOG_ERR, 0, NULL,
			     UMLCONF_LOGNO(10032) "knob %s not registered: %s",
			     def && def->name ? def->name : "(no name)", why);
		return rc;
	}
	registered[nregistered++] = def;
	return 0;
}

void umlconf_knobs_offer(void)
{
	APR_REGISTER_OPTIONAL_FN(umlconf_register_knob);
}

void umlconf_knobs_reset(void)
{
	nregistered = 0;
	registry_closed = false;
}

/* --- slots --- */

static int slot_find(struct umlconf_shared *sh, const char *name)
{
	for (int i = 0; i < UMLCONF_KNOB_SLOTS; i++) {
		if (strcmp(sh->knob[i].name, name) == 0)
			return i;
	}
	return -1;
}

/* The value as the file shows it: the number or the text, and a newline. */
static int value_render(const struct umlconf_knob_def *def, const struct umlconf_value *v,
			char *buf, size_t size)
{
	if (def->flags & UMLCONF_KNOB_TEXT)
		return snprintf(buf, size, "%s\n", v->text);
	return snprintf(buf, size, "%" PRId64 "\n", v->n);
}

/* @data as a value of @def within the slot's bounds: 0, or an error with a reason. */
static int value_parse(const struct umlconf_knob_def *def, struct umlconf_knob_slot *ks,
		       const char *data, size_t len, struct umlconf_value *v, char *reason,
		       size_t rlen)
{
	int rc;

	if (def->parse) {
		rc = def->parse(data, len, v, reason, rlen);
		if (rc == 0 && !(def->flags & UMLCONF_KNOB_TEXT))
			rc = umlconf_knob_range(v->n, atomic_load(&ks->min), atomic_load(&ks->max),
						reason, rlen);
		return rc;
	}
	return umlconf_knob_check(umlconf_parse_decimal, data, len, atomic_load(&ks->min),
				  atomic_load(&ks->max), &v->n, reason, rlen);
}

/* The value in force as the file shows it, without the newline. */
static void value_text(const struct umlconf_knob_def *def, const struct umlconf_value *v, char *buf,
		       size_t size)
{
	if (def->flags & UMLCONF_KNOB_TEXT)
		snprintf(buf, size, "%s", v->text);
	else
		snprintf(buf, size, "%" PRId64, v->n);
}

/* slot_read with knobs_lock held. */
static void slot_read_locked(struct umlconf_knob_slot *ks, struct umlconf_value *v)
{
	v->n = atomic_load(&ks->value);
	memcpy(v->text, ks->text, sizeof(v->text));
	v->text[sizeof(v->text) - 1] = '\0';
}

static void slot_read(struct umlconf_shared *sh, int slot, struct umlconf_value *v)
{
	struct umlconf_knob_slot *ks = &sh->knob[slot];

	v->n = atomic_load(&ks->value);
	v->text[0] = '\0';
	if (ks->flags & UMLCONF_KNOB_TEXT) {
		uml_lock(sh->knobs_lock);
		memcpy(v->text, ks->text, sizeof(v->text));
		uml_unlock(sh->knobs_lock);
	}
}

/* Store @v in force; the caller holds knobs_lock and bumps the generation. */
static void slot_write_locked(struct umlconf_shared *sh, int slot, const struct umlconf_value *v)
{
	struct umlconf_knob_slot *ks = &sh->knob[slot];

	if (ks->flags & UMLCONF_KNOB_TEXT) {
		memmove(ks->text, v->text, sizeof(ks->text));
		ks->text[sizeof(ks->text) - 1] = '\0';
	}
	atomic_store(&ks->value, v->n);
	ks->applied_ns = umlconf_now_ns();
	/* After the value: a watcher that sees the new count reads the new value. */
	atomic_fetch_add(&ks->changes, 1);
}

static void slot_write(struct umlconf_shared *sh, int slot, const struct umlconf_value *v)
{
	uml_lock(sh->knobs_lock);
	slot_write_locked(sh, slot, v);
	uml_unlock(sh->knobs_lock);
}

/*
 * Put the highest layer set in force: local (@local_v, a local write's new
 * value; NULL: the local value in force stays), else the import, else
 * httpd.conf. knobs_lock held; the caller announces the change.
 */
static void layers_settle_locked(struct umlconf_shared *sh, int slot,
				 const struct umlconf_value *local_v)
{
	struct umlconf_knob_slot *ks = &sh->knob[slot];

	if (ks->local && local_v) {
		ks->source = UMLCONF_SRC_LOCAL;
		slot_write_locked(sh, slot, local_v);
	} else if (ks->local) {
		return; /* a local value stays in force over whatever changed below it */
	} else if (ks->imported) {
		ks->source = UMLCONF_SRC_IMPORT;
		slot_write_locked(sh, slot, &ks->import);
	} else {
		ks->source = UMLCONF_SRC_CONF;
		slot_write_locked(sh, slot, &ks->conf);
	}
}

/*
 * A change about to be made to @k's slot: what is in force before it.
 * knobs_lock held from here to change_end_locked.
 */
static void change_begin_locked(struct umlconf_shared *sh, const struct knob *k,
				struct umlconf_change *c, const char *client, const char *reason)
{
	struct umlconf_value v;

	memset(c, 0, sizeof(*c));
	snprintf(c->client, sizeof(c->client), "%s", client);
	snprintf(c->knob, sizeof(c->knob), "%s", k->def->name);
	snprintf(c->reason, sizeof(c->reason), "%s", reason ? reason : "");
	slot_read_locked(&sh->knob[k->slot], &v);
	value_text(k->def, &v, c->old, sizeof(c->old));
}

/*
 * The change is made: what is in force now (or @layer_new, the new value of
 * a layer under a local value), into the ring. knobs_lock held.
 */
static void change_end_locked(struct umlconf_shared *sh, const struct knob *k,
			      struct umlconf_change *c, const char *layer_new)
{
	struct umlconf_knob_slot *ks = &sh->knob[k->slot];
	struct umlconf_value v;

	slot_read_locked(ks, &v);
	if (layer_new)
		snprintf(c->new, sizeof(c->new), "%s", layer_new);
	else
		value_text(k->def, &v, c->new, sizeof(c->new));
	c->source = ks->source;
	c->ns = umlconf_now_ns();
	atomic_fetch_add(&ks->changed, 1);
	umlconf_change_record_locked(sh, c);
}

/* After a new value went in force: wake whoever applies it. knobs_lock held. */
static void knob_announce(struct umlconf_shared *sh, const struct umlconf_knob_def *def)
{
	atomic_store(&sh->commit_ns, umlconf_now_ns());
	/* Changes are serialized by knobs_lock: the next generation is ours. */
	if (def->apply)
		atomic_store(&sh->apply_config_gen, uml_gen_read(&sh->config_gen) + 1);
	uml_gen_bump(&sh->config_gen);
	if (def->apply)
		uml_gen_bump(&sh->apply_gen); /* after config_gen: see the watcher */
	/* A higher limit or Accepting=1 lets that many waiters in now. */
	umlconf_admit_kick(sh);
}

/* Content that says "no value": nothing but a newline or blanks. */
static bool content_empty(const char *data, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (data[i] != '\n' && data[i] != ' ' && data[i] != '\t' && data[i] != '\r')
			return false;
	return true;
}

/* @data/@len is the NUL-terminated @text, byte for byte. */
static bool text_is(const char *data, size_t len, const char *text)
{
	return strlen(text) == len && memcmp(data, text, len) == 0;
}

static void knob_path(const struct umlconf_knob_def *def, char *buf, size_t size)
{
	snprintf(buf, size, "/config/%s", def->name);
}

/* What httpd.conf (or the built-in default) says @def is, within its bounds. */
static void conf_value(const struct umlconf_knob_def *def, server_rec *s, int64_t min, int64_t max,
		       struct umlconf_value *v)
{
	memset(v, 0, sizeof(*v));
	v->n = def->dflt;
	snprintf(v->text, sizeof(v->text), "%s", def->dflt_text ? def->dflt_text : "");
	if (def->initial)
		def->initial(s, v);
	if (!(def->flags & UMLCONF_KNOB_TEXT))
		v->n = v->n < min ? min : v->n > max ? max : v->n;
}

/*
 * Bounds and, for a knob new to the machine, the default; a restart may
 * lower a bound (another MPM), so a kept value is clamped into range.
 */
static void slot_setup(struct umlconf_shared *sh, int slot, const struct umlconf_knob_def *def,
		       bool fresh, server_rec *s)
{
	struct umlconf_knob_slot *ks = &sh->knob[slot];
	struct umlconf_value v = {.n = def->dflt};
	int64_t min = def->min, max = def->max;

	if (def->bounds)
		def->bounds(&min, &max);
	if (fresh) {
		snprintf(ks->name, sizeof(ks->name), "%s", def->name);
		ks->flags = def->flags;
		conf_value(def, s, INT64_MIN, INT64_MAX, &v);
	} else {
		ks->flags = def->flags;
		slot_read(sh, slot, &v);
	}
	if (!(def->flags & UMLCONF_KNOB_TEXT)) {
		if (v.n < min)
			v.n = min;
		if (v.n > max)
			v.n = max;
	}
	atomic_store(&ks->min, min);
	atomic_store(&ks->max, max);
	uml_lock(sh->knobs_lock);
	/* httpd.conf's layer on every pass: a graceful restart may change it. */
	conf_value(def, s, min, max, &ks->conf);
	if (fresh) {
		ks->local = ks->imported = false;
		ks->source = UMLCONF_SRC_CONF;
		ks->import_mtime_ns = 0;
	} else if (ks->imported && !(def->flags & UMLCONF_KNOB_TEXT)) {
		ks->import.n = ks->import.n < min ? min : ks->import.n > max ? max : ks->import.n;
	}
	slot_write_locked(sh, slot, &v);
	uml_unlock(sh->knobs_lock);
}

/* --- file hooks --- */

static int knob_validate(void *arg, const char *data, size_t len, const struct uml_client *who,
			 char *why, size_t whylen)
{
	struct knob *k = arg;
	struct umlconf_shared *sh = umlconf_sh;
	struct umlconf_knob_slot *ks = &sh->knob[k->slot];
	struct umlconf_knob_write w;
	struct umlconf_value v = {0};
	char path[128], reason[160];
	int rc;

	/*
	 * A truncation (the first half of `echo N >`) never gets here: the
	 * filesystem holds it until the write that follows, and puts the value
	 * in force back if that write is refused. Empty content is "no value".
	 */
	reason[0] = '\0';
	if (k->def->flags & UMLCONF_KNOB_READONLY) {
		rc = -EACCES;
		snprintf(reason, sizeof(reason), "read-only knob");
	} else if ((rc = umlconf_knob_split(data, len, &w, reason, sizeof(reason))) < 0) {
		; /* a bad reason refuses the whole write: the value and why come together */
	} else if (content_empty(w.value, w.len)) {
		/* `echo > knob`: the local value goes, the import's or httpd.conf's is back. */
		k->parsed_clear = true;
	} else {
		rc = value_parse(k->def, ks, w.value, w.len, &v, reason, sizeof(reason));
		if (rc == 0) {
			k->parsed = v;
			k->parsed_clear = false;
		}
	}
	if (rc == 0) {
		snprintf(k->client, sizeof(k->client), "%s", who && who->addr ? who->addr : "-");
		snprintf(k->reason, sizeof(k->reason), "%s", w.reason);
		return 0;
	}
	if (rc > 0)
		rc = -EINVAL;
	if (why && whylen)
		snprintf(why, whylen, "%s: %s", k->def->name, reason);
	knob_path(k->def, path, sizeof(path));
	umlconf_error_record(sh, who ? who->addr : NULL, path, data, len, reason);
	return rc;
}

/* Right after a validate that accepted, in the same hold of the filesystem lock. */
static void knob_commit(void *arg, const char *data, size_t len)
{
	struct knob *k = arg;
	struct umlconf_shared *sh = umlconf_sh;
	struct umlconf_knob_slot *ks = &sh->knob[k->slot];
	struct umlconf_change c;
	char parsed[UMLCONF_TEXT_MAX];
	bool changed;

	(void)data;
	(void)len;
	/* The filesystem lock is held: these wake-ups go out once it is free. */
	uml_lock(sh->knobs_lock);
	change_begin_locked(sh, k, &c, k->client, k->reason);
	/*
	 * The local value in force again, or a clear with none to clear,
	 * changes nothing: it is announced as every accepted write is (the
	 * generation moves), but not recorded as a change.
	 */
	value_text(k->def, &k->parsed, parsed, sizeof(parsed));
	changed = k->parsed_clear ? ks->local : !ks->local || strcmp(parsed, c.old) != 0;
	ks->local = !k->parsed_clear;
	layers_settle_locked(sh, k->slot, k->parsed_clear ? NULL : &k->parsed);
	knob_announce(sh, k->def);
	if (changed)
		change_end_locked(sh, k, &c, NULL);
	uml_unlock(sh->knobs_lock);
	if (changed)
		umlconf_change_log(&c);
}

/* The file shows the value in force, whichever layer it comes from. */
static size_t knob_render(void *arg, char *buf, size_t size)
{
	struct knob *k = arg;
	struct umlconf_value v;
	int n;

	slot_read(umlconf_sh, k->slot, &v);
	n = value_render(k->def, &v, buf, size);
	return n < 0 ? 0 : (size_t)n >= size ? size - 1 : (size_t)n;
}

/*
 * The filesystem refused a write before asking us (too long for any knob,
 * a chmod) or after (no memory to store it): reported like a refused value.
 */
static void knob_refused(void *arg, const char *data, size_t len, int err, const char *reason,
			 const struct uml_client *who)
{
	struct knob *k = arg;
	char path[128];

	(void)err;
	knob_path(k->def, path, sizeof(path));
	umlconf_error_record(umlconf_sh, who ? who->addr : NULL, path, data, len, reason);
}

/*
 * With a state image, which value a knob starts with. The image keeps the
 * runtime value (the file's content) and, as a note, the httpd.conf value it
 * had then. An httpd.conf value changed since wins, and the log says so: the
 * admin who edits httpd.conf means it. Otherwise the runtime value stays,
 * after a stop and start (@fresh: this machine was just booted) or a
 * graceful restart alike. The note then records the httpd.conf value now.
 */
static void knob_precedence(struct umlconf_shared *sh, struct knob *k, bool fresh, server_rec *s)
{
	const struct umlconf_knob_def *def = k->def;
	struct umlconf_knob_slot *ks = &sh->knob[k->slot];
	char key[UMLCONF_KNOB_NAME_MAX + 8], path[128], reason[160];
	char conf_text[UMLCONF_TEXT_MAX + 24], saved_conf[UMLCONF_TEXT_MAX + 24];
	char saved[UMLCONF_TEXT_MAX + UMLCONF_REASON_MAX + 64];
	struct umlconf_knob_write sw;
	struct umlconf_value conf, v;
	bool noted;
	long n;

	if (!uml_state_active(NULL, 0))
		return;
	snprintf(key, sizeof(key), "conf:%s", def->name);
	knob_path(def, path, sizeof(path));
	conf_value(def, s, atomic_load(&ks->min), atomic_load(&ks->max), &conf);
	value_render(def, &conf, conf_text, sizeof(conf_text));
	noted = uml_state_note_get(key, saved_conf, sizeof(saved_conf)) >= 0;
	if (noted && strcmp(saved_conf, conf_text) != 0) {
		saved_conf[strcspn(saved_conf, "\n")] = '\0';
		ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
			     UMLCONF_LOGNO(10038) "%s: httpd.conf changed it from %s to %.*s since "
						  "the state was saved: httpd.conf's value applies",
			     def->name, saved_conf, (int)strcspn(conf_text, "\n"), conf_text);
		slot_write(sh, k->slot, &conf);
	} else if (noted && fresh) {
		char ikey[UMLCONF_KNOB_NAME_MAX + 8], imported[UMLCONF_TEXT_MAX + 24];
		struct umlconf_value iv = {0};
		bool has_import = false, has_local = false, split;

		/*
		 * The import's last value is a note (the file is only rendered
		 * with it); the file keeps what a local write left. Content equal
		 * to httpd.conf's or to the import's, or empty (cleared), is no
		 * local override.
		 */
		snprintf(ikey, sizeof(ikey), "import:%s", def->name);
		reason[0] = '\0';
		if (uml_state_note_get(ikey, imported, sizeof(imported)) >= 0 &&
		    !content_empty(imported, strlen(imported)) &&
		    value_parse(def, ks, imported, strlen(imported), &iv, reason, sizeof(reason)) ==
			0)
			has_import = true;
		n = uml_get_file(path, saved, sizeof(saved) - 1);
		if (n >= 0) {
			saved[n] = '\0';
			memset(&v, 0, sizeof(v));
			reason[0] = '\0';
			/* What a local write left, its comment (the reason) aside. */
			split =
			    umlconf_knob_split(saved, (size_t)n, &sw, reason, sizeof(reason)) == 0;
			if (split && (content_empty(sw.value, sw.len) ||
				      text_is(sw.value, sw.len, conf_text) ||
				      (has_import && text_is(sw.value, sw.len, imported))))
				;
			else if (split && value_parse(def, ks, sw.value, sw.len, &v, reason,
						      sizeof(reason)) == 0)
				has_local = true;
			else
				ap_log_error(
				    APLOG_MARK, APLOG_WARNING, 0, s,
				    UMLCONF_LOGNO(10039) "%s: the saved value \"%.*s\" is not "
							 "valid now (%s): httpd.conf's %.*s "
							 "applies",
				    def->name, (int)strcspn(saved, "\n"), saved, reason,
				    (int)strcspn(conf_text, "\n"), conf_text);
		}
		if (has_import || has_local) {
			uml_lock(sh->knobs_lock);
			ks->imported = has_import;
			if (has_import)
				ks->import = iv;
			ks->local = has_local;
			layers_settle_locked(sh, k->slot, has_local ? &v : NULL);
			uml_unlock(sh->knobs_lock);
		}
	}
	if (!noted || strcmp(saved_conf, conf_text) != 0)
		uml_state_note_set(key, conf_text);
}

/* The file shows the value in force; its inode (and so its handle) stays. */
static int knob_file(struct umlconf_shared *sh, struct knob *k)
{
	struct uml_file_hooks h = {
	    .validate = knob_validate,
	    .commit = knob_commit,
	    .render = knob_render,
	    .refused = knob_refused,
	    .arg = k,
	};
	unsigned mode = k->def->flags & UMLCONF_KNOB_READONLY ? 0444 : 0666;
	struct umlconf_value v;
	char path[128], text[UMLCONF_TEXT_MAX + 24];
	int rc, len;

	knob_path(k->def, path, sizeof(path));
	slot_read(sh, k->slot, &v);
	len = value_render(k->def, &v, text, sizeof(text));
	/* Anyone the export lets write may write: the export is the access control. */
	rc = uml_put_file(path, mode, text, (size_t)len);
	/* Hooks are per process and die with the old DSO: attach them on every pass. */
	if (rc == 0)
		rc = uml_file_hooks(path, &h);
	if (rc == 0)
		rc = uml_file_flags(
		    path, UML_FILE_PINNED |
			      (k->def->flags & UMLCONF_KNOB_READONLY ? UML_FILE_READONLY : 0));
	return rc;
}

int umlconf_knobs_up(struct umlconf_shared *sh, server_rec *s)
{
	int rows = UMLCONF_KNOB_COUNT + nregistered, rc;
	bool claimed[UMLCONF_KNOB_SLOTS] = {false};

	registry_closed = true;
	memset(knobs, 0, sizeof(knobs));
	/* Editors create temporaries next to the knobs: /config is writable. */
	rc = uml_mkdir_p("/config", 0777);
	if (rc < 0)
		return rc;
	rc = uml_file_flags("/config", UML_FILE_PINNED);
	if (rc < 0)
		return rc;

	/*
	 * A knob keeps its slot (and value) across restarts; the slot of a
	 * knob no module registers now is freed, and its file, which no
	 * process validates any more, refuses writes.
	 */
	for (int i = 0; i < rows; i++) {
		int slot = slot_find(sh, row(i)->name);

		if (slot >= 0)
			claimed[slot] = true;
	}
	for (int slot = 0; slot < UMLCONF_KNOB_SLOTS; slot++) {
		if (!claimed[slot])
			sh->knob[slot].name[0] = '\0';
	}
	for (int i = 0; i < rows; i++) {
		const struct umlconf_knob_def *def = row(i);
		int slot = slot_find(sh, def->name);
		bool fresh = slot < 0;

		if (fresh)
			slot = slot_find(sh, "");
		/* The registry holds no more rows than there are slots. */
		assert(slot >= 0);
		/* The layout check (builtin) keeps the built-in knobs in their slots. */
		assert(i >= UMLCONF_KNOB_COUNT || slot == i);
		slot_setup(sh, slot, def, fresh, s);
		knobs[slot].def = def;
		knobs[slot].slot = slot;
		knob_precedence(sh, &knobs[slot], fresh, s);
		rc = knob_file(sh, &knobs[slot]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void umlconf_knobs_apply(struct umlconf_shared *sh)
{
	for (int slot = 0; slot < UMLCONF_KNOB_SLOTS; slot++) {
		struct knob *k = &knobs[slot];
		uint32_t changes = atomic_load(&sh->knob[slot].changes);
		struct umlconf_value v;
		int rc;

		if (!k->def || !k->def->apply)
			continue;
		/* A graceful restart that dropped this knob may have given its slot away. */
		if (strcmp(sh->knob[slot].name, k->def->name) != 0)
			continue;
		if (k->started && (changes == k->applied || (k->def->flags & UMLCONF_KNOB_RESTART)))
			continue;
		slot_read(sh, slot, &v);
		k->applied = changes;
		k->started = true;
		rc = k->def->apply(&v);
		if (rc < 0)
			ap_log_error(APLOG_MARK, APLOG_ERR, -rc, umlconf_server,
				     UMLCONF_LOGNO(10031) "child %ld could not apply %s (%s); the "
							  "value stays stored",
				     (long)getpid(), k->def->name, strerror(-rc));
	}
}

void umlconf_knob_show(struct umlconf_shared *sh, int slot, char *buf, size_t size)
{
	struct umlconf_value v;

	slot_read(sh, slot, &v);
	if (sh->knob[slot].flags & UMLCONF_KNOB_TEXT)
		snprintf(buf, size, "%s", v.text);
	else
		snprintf(buf, size, "%" PRId64, v.n);
}

int umlconf_knob_import(struct umlconf_shared *sh, const char *name, const char *data, size_t len,
			const char *where, uint64_t mtime_ns, const char *dropped)
{
	struct umlconf_value v = {0};
	struct umlconf_knob_slot *ks;
	struct umlconf_knob_write w = {.reason = ""};
	struct umlconf_change c;
	struct knob *k = NULL;
	char reason[160], key[UMLCONF_KNOB_NAME_MAX + 8], text[UMLCONF_TEXT_MAX + 24];
	char layer_new[UMLCONF_TEXT_MAX] = "";
	const char *sent = data;
	bool same;
	int rc = 0;

	for (int slot = 0; slot < UMLCONF_KNOB_SLOTS && !k; slot++)
		if (knobs[slot].def && strcmp(knobs[slot].def->name, name) == 0 &&
		    strcmp(sh->knob[slot].name, name) == 0)
			k = &knobs[slot];
	if (!k)
		return -ENOENT;
	ks = &sh->knob[k->slot];
	reason[0] = '\0';
	if (data && (k->def->flags & UMLCONF_KNOB_READONLY)) {
		rc = -EACCES;
		snprintf(reason, sizeof(reason), "read-only knob: not imported");
	} else if (data && (rc = umlconf_knob_split(data, len, &w, reason, sizeof(reason))) < 0) {
		; /* a central file's comment is a reason, held to the same rules */
	} else if (data && content_empty(w.value, w.len)) {
		data = NULL; /* an empty file at the center (or only a comment) sets nothing */
	} else if (data) {
		rc = value_parse(k->def, ks, w.value, w.len, &v, reason, sizeof(reason));
	}
	if (rc) {
		/* Like an xDS NACK: this knob keeps what it had, the others apply. */
		umlconf_error_record(sh, "import", where, sent, len, reason);
		return rc < 0 ? rc : -EINVAL;
	}
	uml_lock(sh->knobs_lock);
	same = data ? ks->imported && ks->import.n == v.n && strcmp(ks->import.text, v.text) == 0
		    : !ks->imported;
	if (!same) {
		/* A central file of a comment alone clears the layer, and says why. */
		change_begin_locked(sh, k, &c, "import", sent ? w.reason : dropped);
		/* Under a local value only the layer moves: its values are the change's. */
		if (ks->local && ks->imported)
			value_text(k->def, &ks->import, c.old, sizeof(c.old));
		else if (ks->local)
			c.old[0] = '\0';
		ks->imported = data != NULL;
		if (data)
			ks->import = v;
		ks->import_mtime_ns = mtime_ns;
		if (!ks->local) {
			layers_settle_locked(sh, k->slot, NULL);
			knob_announce(sh, k->def);
		}
		if (ks->local && data)
			value_text(k->def, &v, layer_new, sizeof(layer_new));
		change_end_locked(sh, k, &c, ks->local ? layer_new : NULL);
	} else if (data) {
		ks->import_mtime_ns = mtime_ns;
	}
	uml_unlock(sh->knobs_lock);
	if (!same)
		umlconf_change_log(&c);
	if (!same && uml_state_active(NULL, 0)) {
		snprintf(key, sizeof(key), "import:%s", name);
		if (data)
			value_render(k->def, &v, text, sizeof(text));
		else
			text[0] = '\0';
		uml_state_note_set(key, text);
	}
	return 0;
}

size_t umlconf_knobs_render(char *buf, size_t size)
{
	struct umlconf_shared *sh = umlconf_sh;
	size_t len = 0;

	umlconf_buf_printf(buf, size, &len, "# knob value source applied conf import\n");
	for (int slot = 0; slot < UMLCONF_KNOB_SLOTS; slot++) {
		struct umlconf_knob_slot *ks = &sh->knob[slot];
		const struct umlconf_knob_def *def = knobs[slot].def;
		char value[UMLCONF_TEXT_MAX + 24], conf[UMLCONF_TEXT_MAX + 24];
		char import[UMLCONF_TEXT_MAX + 24], when[32];
		struct umlconf_value v;
		uint32_t src;

		if (!def || strcmp(ks->name, def->name) != 0)
			continue;
		slot_read(sh, slot, &v);
		value_render(def, &v, value, sizeof(value));
		uml_lock(sh->knobs_lock);
		value_render(def, &ks->conf, conf, sizeof(conf));
		if (ks->imported)
			value_render(def, &ks->import, import, sizeof(import));
		else
			snprintf(import, sizeof(import), "-\n");
		src = ks->source < 3 ? ks->source : UMLCONF_SRC_CONF;
		umlconf_time_format(ks->applied_ns, when, sizeof(when));
		uml_unlock(sh->knobs_lock);
		umlconf_buf_printf(buf, size, &len, "%s %.*s %s %s %.*s %.*s\n", def->name,
				   (int)strcspn(value, "\n"), value, umlconf_source_name(src), when,
				   (int)strcspn(conf, "\n"), conf, (int)strcspn(import, "\n"),
				   import);
	}
	return len;
}
