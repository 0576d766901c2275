/*
 * mod_umlconf's public interface: how another httpd module adds its own live
 * settings as files under /config (installed next to httpd's headers).
 *
 * A knob is a row of data: its name, bounds, default and flags, a parser
 * for what a client writes (less the reason it may carry as a comment: see
 * parse below), and an apply callback that puts the value in force in
 * every child. mod_umlconf serves the file, validates each write
 * with the parser and the bounds, refuses a bad one with an NFS error (the
 * value in force stays; the reason goes to /status/errors and the error log
 * as umlconf(10003)), keeps the value in its shared memory across graceful
 * restarts, and calls apply in every child when the value changes.
 *
 * Registering, in the module's pre_config hook:
 *
 *   static APR_OPTIONAL_FN_TYPE(umlconf_register_knob) *register_knob;
 *
 *   register_knob = APR_RETRIEVE_OPTIONAL_FN(umlconf_register_knob);
 *   if (register_knob)
 *           register_knob(&my_knob);   (when mod_umlconf is loaded)
 *
 * Why pre_config: mod_umlconf lays out /config in its post_config from the
 * knobs registered by then, and every module's pre_config runs before any
 * post_config, in every configuration pass (a graceful restart reloads the
 * modules and their rows, and registers again). A knob registered later is
 * refused with -EBUSY. Defaults that depend on httpd.conf, which pre_config
 * has not read yet, come from the row's `initial` callback, called at
 * post_config.
 */
#ifndef MOD_UMLCONF_H
#define MOD_UMLCONF_H

#include <stddef.h>
#include <stdint.h>

#include "apr_optional.h"
#include "httpd.h"

/* The stable number of a log line of mod_umlconf and the modules shipped with it. */
#define UMLCONF_LOGNO(n) "umlconf(" #n "): "

/* Flags of a knob. Without any, it is live: applied in every child at once. */
#define UMLCONF_KNOB_RESTART  0x1 /* stored at once, applied in children started after */
#define UMLCONF_KNOB_READONLY 0x2 /* shows the value in force; writes are refused */
#define UMLCONF_KNOB_TEXT     0x4 /* the value is a line of text; parse is required */

#define UMLCONF_KNOB_NAME_MAX 47  /* longest name (letters, digits, '-', '_', '.') */
#define UMLCONF_TEXT_MAX      200 /* longest text value, NUL included */

struct umlconf_value {
	int64_t n;		     /* numeric knobs; text knobs may use it too */
	char text[UMLCONF_TEXT_MAX]; /* UMLCONF_KNOB_TEXT: NUL-terminated, canonical */
};

struct umlconf_knob_def {
	const char *name; /* the file /config/<name> */
	unsigned flags;	  /* UMLCONF_KNOB_* */
	/* Numeric knobs: the allowed range and the value on a fresh machine. */
	int64_t min, max, dflt;
	/* Text knobs: the value on a fresh machine (NULL: empty). */
	const char *dflt_text;
	/*
	 * The value part of the file's new content (@data/@len, not
	 * NUL-terminated, usually with a trailing newline) to a value in *@v.
	 * Returns 0, or -EINVAL/-ERANGE with a reason in @why (@whylen > 0).
	 * Runs in the process serving the NFS call with the filesystem locked:
	 * no blocking, no file calls. NULL: one decimal number (numeric knobs
	 * only). The value is then checked against min..max, unless
	 * UMLCONF_KNOB_TEXT.
	 *
	 * Every write may carry a reason as a comment, and mod_umlconf splits
	 * it off before calling: a comment starts at a '#' that begins the
	 * content or follows a blank (space or tab) and runs to the end of its
	 * line. The parser sees the content without the comment and the
	 * blanks before it ("info ssl:warn # why\n" arrives as
	 * "info ssl:warn\n"; without a comment, the content as sent), at most
	 * 256 bytes when a comment was split off. So a value can't contain
	 * " #" or begin with '#'. Content that is only blanks and a comment
	 * clears the local value as an empty write does, and never reaches the
	 * parser; a reason over 160 bytes or with a byte that is not printable
	 * ASCII refuses the write before the parser runs.
	 */
	int (*parse)(const char *data, size_t len, struct umlconf_value *v, char *why,
		     size_t whylen);
	/*
	 * Put @v in force in this child: called on the child's watcher thread
	 * once when the child starts and then whenever the value changes. A
	 * request thread may run meanwhile, so store what request threads read
	 * with single atomic writes. Returns 0 or a negative errno (logged as
	 * umlconf(10031); the value stays stored). NULL: the module reads the
	 * value where it needs it.
	 */
	int (*apply)(const struct umlconf_value *v);
	/*
	 * Only where httpd decides at start (the MPM's limits, httpd.conf's own
	 * value); NULL uses the numbers above. Called in the parent at every
	 * post_config: bounds every time, initial on a fresh machine (values
	 * survive graceful restarts) with the main server.
	 */
	void (*bounds)(int64_t *min, int64_t *max);
	void (*initial)(server_rec *s, struct umlconf_value *v);
};

/*
 * Add @def (which must stay valid while the module is loaded: a static row)
 * as /config/<def->name>, for this configuration pass. Returns 0, -EINVAL (a bad name or a text
 * knob without parse), -EEXIST (the name is taken), -ENOSPC (no knob slot left), or -EBUSY (called
 * after mod_umlconf's post_config). The reason is logged as umlconf(10032).
 */
APR_DECLARE_OPTIONAL_FN(int, umlconf_register_knob, (const struct umlconf_knob_def *def));

#endif
