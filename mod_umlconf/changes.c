/*
 * The ring of accepted changes: the last UMLCONF_CHANGES changes of a knob's
 * value in force or of one of its layers, with who made each, the values
 * before and after, the layer in force after it and the reason the write
 * carried, kept in the arena so that /status/changes shows the same lines
 * from every child (and after a graceful restart). Each is also logged, as
 * umlconf(10046) at info level.
 *
 * The ring has a lock of its own, taken inside knobs_lock by the commit
 * that made the change; a reader takes it for the copy of one entry at a
 * time, so neither a monitor reading in a loop nor a child killed while it
 * reads holds up the writers for long.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "knob_parse.h"
#include "umlconf.h"

static const char *const source_names[] = {
    [UMLCONF_SRC_CONF] = "conf",
    [UMLCONF_SRC_IMPORT] = "import",
    [UMLCONF_SRC_LOCAL] = "local",
};

const char *umlconf_source_name(uint32_t source)
{
	return source < sizeof(source_names) / sizeof(source_names[0]) ? source_names[source]
								       : "conf";
}

void umlconf_change_record_locked(struct umlconf_shared *sh, const struct umlconf_change *c)
{
	uml_lock(sh->changes_lock);
	/*
	 * The entry first, then the count that makes it the newest: a holder
	 * killed mid-copy leaves at worst the oldest line garbled (readers
	 * bound its strings), never a newest line that is not whole.
	 */
	memcpy(&sh->changes[sh->changes_total % UMLCONF_CHANGES], c, sizeof(*c));
	sh->changes_total++;
	uml_unlock(sh->changes_lock);
}

/* The quoted fields of @c, for its line in /status/changes and in the log. */
struct change_text {
	char when[32], old[4 * UMLCONF_TEXT_MAX], new[4 * UMLCONF_TEXT_MAX];
	char reason[2 * UMLCONF_REASON_MAX + 1];
};

static void change_text(const struct umlconf_change *c, struct change_text *t)
{
	umlconf_time_format(c->ns, t->when, sizeof(t->when));
	umlconf_quote(t->old, sizeof(t->old), c->old, strnlen(c->old, sizeof(c->old)),
		      sizeof(c->old));
	umlconf_quote(t->new, sizeof(t->new), c->new, strnlen(c->new, sizeof(c->new)),
		      sizeof(c->new));
	umlconf_quote(t->reason, sizeof(t->reason), c->reason,
		      strnlen(c->reason, sizeof(c->reason)), sizeof(c->reason));
}

void umlconf_change_log(const struct umlconf_change *c)
{
	struct change_text t;

	change_text(c, &t);
	ap_log_error(APLOG_MARK, APLOG_INFO, 0, umlconf_server,
		     UMLCONF_LOGNO(10046) "%s changed from \"%s\" to \"%s\" by %s, %s in force: "
					  "\"%s\"",
		     c->knob, t.old, t.new, c->client, umlconf_source_name(c->source), t.reason);
}

size_t umlconf_changes_render(char *buf, size_t size)
{
	struct umlconf_shared *sh = umlconf_sh;
	struct umlconf_change c;
	struct change_text t;
	size_t len = 0;
	uint32_t total, first;

	uml_lock(sh->changes_lock);
	total = sh->changes_total;
	uml_unlock(sh->changes_lock);
	first = total < UMLCONF_CHANGES ? 0 : total - UMLCONF_CHANGES;
	for (uint32_t i = first; i != total; i++) {
		bool gone;

		uml_lock(sh->changes_lock);
		/* Written over since we started: newer than the lines before it, left out. */
		gone = sh->changes_total - i > UMLCONF_CHANGES;
		if (!gone)
			memcpy(&c, &sh->changes[i % UMLCONF_CHANGES], sizeof(c));
		uml_unlock(sh->changes_lock);
		if (gone)
			continue;
		/* A writer killed mid-copy may have left a string without its end. */
		c.client[sizeof(c.client) - 1] = c.knob[sizeof(c.knob) - 1] = '\0';
		change_text(&c, &t);
		umlconf_buf_printf(buf, size, &len, "%s %s %s \"%s\" \"%s\" %s \"%s\"\n", t.when,
				   c.client, c.knob, t.old, t.new, umlconf_source_name(c.source),
				   t.reason);
	}
	if (len == 0 && size)
		buf[0] = '\0';
	return len;
}
