/*
 * The ring of refused writes: the last UMLCONF_ERRORS knob or status writes
 * the module refused, with who sent what and why, kept in the arena so that
 * /status/errors shows the same lines from every child (and after a
 * graceful restart). Each is also logged, as umlconf(10003).
 */
#include <stdio.h>
#include <time.h>

#include "knob_parse.h"
#include "umlconf.h"

void umlconf_time_format(uint64_t ns, char *buf, size_t size)
{
	time_t sec = (time_t)(ns / 1000000000ull);
	struct tm tm;

	if (!ns) {
		snprintf(buf, size, "-");
		return;
	}
	gmtime_r(&sec, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void umlconf_error_record(struct umlconf_shared *sh, const char *client, const char *file,
			  const char *data, size_t len, const char *reason)
{
	char stamp[32], value[200];
	uint32_t slot;

	umlconf_time_format(umlconf_now_ns(), stamp, sizeof(stamp));
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

size_t umlconf_errors_render(char *buf, size_t size)
{
	struct umlconf_shared *sh = umlconf_sh;
	size_t len = 0;
	uint32_t total, n;

	uml_lock(sh->errors_lock);
	total = sh->errors_total;
	n = total < UMLCONF_ERRORS ? total : UMLCONF_ERRORS;
	for (uint32_t i = total - n; i != total; i++)
		umlconf_buf_printf(buf, size, &len, "%s\n", sh->errors[i % UMLCONF_ERRORS]);
	uml_unlock(sh->errors_lock);
	if (len == 0)
		buf[0] = '\0';
	return len;
}
