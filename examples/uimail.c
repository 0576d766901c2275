/*
 * uimail: a mail composer whose user interface is also a filesystem. The
 * screen shows To, Cc, Subject and Body and which of them has the focus;
 * its NFS export has them as files, and a write to one is on the screen at
 * once, as what the user types is in the file at once.
 *
 *   uimail [-N host:port] [-c clients] [-R ready-file]
 *
 *   /ui/compose/to, cc       comma-separated addresses (local@domain), at most 16, 1000 bytes
 *   /ui/compose/subject      one line of UTF-8, at most 200 bytes
 *   /ui/compose/body         UTF-8 text (newlines, tabs), at most 4000 bytes
 *   /ui/compose/state        "new ID", "composing ID" or "sent ID"; write "new" to start
 *                            message ID+1 (the fields empty), "send" to send this one
 *   /ui/compose/suggest-to   write "ID ADDRESSES": To becomes ADDRESSES only if message
 *                            ID is the one being composed and nobody has set its To yet
 *                            (else EEXIST); reads as the last suggestion taken
 *   /ui/focus                to, cc, subject or body
 *   /status/errors, /status/latency (uiapp.h)
 *
 * A field's file holds its value and a newline (nothing when it is empty);
 * a write of the value with or without the newline sets it, a write of a
 * lone newline empties it (a bare truncate is only half of `echo > f`, and
 * the old value comes back after 2 s). A value that is not valid UTF-8, is
 * too long or (To, Cc) is not a list of addresses is refused with
 * NFS3ERR_INVAL, reported in /status/errors and the field keeps its value.
 * The user's own typing may pass through incomplete addresses; send
 * checks them whole.
 *
 * Keys: text goes into the focused field; Tab / Shift-Tab (or Down / Up)
 * move the focus; Enter is a newline in Body, the next field elsewhere;
 * Backspace; ^U clears the field; ^N new message; ^S send; ^Q quits.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uiapp.h"

enum kind { K_ADDRS, K_LINE, K_TEXT };
enum state { S_NEW, S_COMPOSING, S_SENT };
static const char *const state_names[] = {"new", "composing", "sent"};

struct field {
	const char *path; /* first: ui_refused names it */
	const char *name, *label;
	enum kind kind;
	size_t max;
	/* under ui_lock */
	char value[4096];
	size_t len;
};

#define NFIELDS 4
static struct field fields[NFIELDS] = {
    {"/ui/compose/to", "to", "To:", K_ADDRS, 1000},
    {"/ui/compose/cc", "cc", "Cc:", K_ADDRS, 1000},
    {"/ui/compose/subject", "subject", "Subject:", K_LINE, 200},
    {"/ui/compose/body", "body", "Body", K_TEXT, 4000},
};

/* The message, under ui_lock. */
static struct {
	unsigned id;
	enum state state;
	int focus;
	bool to_touched; /* To was written (by anyone but a suggestion) since the message began */
	bool suggested;	 /* To holds a suggestion nobody changed since */
	char suggestion[1100];
} msg = {.id = 1};

static const char *const state_path = "/ui/compose/state", *const focus_path = "/ui/focus",
			 *const suggest_path = "/ui/compose/suggest-to";

/*
 * Between a validate and its commit, under the filesystem's lock (one
 * change at a time), so one copy serves every file.
 */
static struct {
	char value[4096];
	size_t len;
	bool remote;
	unsigned id;
	int focus;
	bool send;
} pending;

static int refuse(const char *path, int err, char *why, const struct uml_client *who)
{
	ui_error_report(path, err, why, who);
	return err;
}

/* ------------------------------------------------------------- fields --- */

static int field_check(const struct field *f, const char *v, size_t n, bool partial, char *why,
		       size_t whylen)
{
	if (n > f->max) {
		snprintf(why, whylen, "%s: %zu bytes; at most %zu", f->name, n, f->max);
		return -EINVAL;
	}
	if (ui_text_valid(v, n, f->kind == K_TEXT ? UI_TEXT_NEWLINES : 0, why, whylen))
		return -EINVAL;
	if (f->kind == K_ADDRS && ui_addrlist_valid(v, n, partial, why, whylen))
		return -EINVAL;
	return 0;
}

static int field_validate(void *arg, const char *data, size_t len, const struct uml_client *who,
			  char *why, size_t whylen)
{
	const struct field *f = arg;
	size_t n = ui_value_len(data, len);
	bool sent;
	int rc;

	pthread_mutex_lock(&ui_lock);
	sent = msg.state == S_SENT;
	pthread_mutex_unlock(&ui_lock);
	if (sent) {
		snprintf(why, whylen, "the message was sent: start a new one");
		return refuse(f->path, -EACCES, why, who);
	}
	/* The user is still typing an address; a program writes a whole one. */
	rc = field_check(f, data, n, !ui_remote(who), why, whylen);
	if (rc)
		return refuse(f->path, rc, why, who);
	memcpy(pending.value, data, n);
	pending.len = n;
	pending.remote = ui_remote(who);
	return 0;
}

static void field_commit(void *arg, const char *data, size_t len)
{
	struct field *f = arg;
	bool changed;

	(void)data;
	(void)len;
	pthread_mutex_lock(&ui_lock);
	changed = f->len != pending.len || memcmp(f->value, pending.value, f->len);
	memcpy(f->value, pending.value, pending.len);
	f->len = pending.len;
	if (f == &fields[0]) {
		msg.to_touched = true;
		msg.suggested = false;
	}
	if (changed && msg.state == S_NEW)
		msg.state = S_COMPOSING;
	pthread_mutex_unlock(&ui_lock);
	ui_changed(pending.remote);
}

static size_t field_render(void *arg, char *buf, size_t size)
{
	const struct field *f = arg;
	size_t n;

	pthread_mutex_lock(&ui_lock);
	n = f->len < size - 1 ? f->len : size - 1;
	memcpy(buf, f->value, n);
	if (n && n < size - 1)
		buf[n++] = '\n';
	pthread_mutex_unlock(&ui_lock);
	return n;
}

/* ------------------------------------------------- state, focus, suggest --- */

static int state_validate(void *arg, const char *data, size_t len, const struct uml_client *who,
			  char *why, size_t whylen)
{
	size_t n = ui_value_len(data, len);
	int rc = 0;

	(void)arg;
	if (n == 3 && !memcmp(data, "new", 3)) {
		pending.send = false;
	} else if (n == 4 && !memcmp(data, "send", 4)) {
		pthread_mutex_lock(&ui_lock);
		if (msg.state == S_SENT) {
			snprintf(why, whylen, "message %u was sent already", msg.id);
			rc = -EINVAL;
		} else if (!fields[0].len) {
			snprintf(why, whylen, "no address in To");
			rc = -EINVAL;
		}
		for (int i = 0; !rc && i < 2; i++)
			if (field_check(&fields[i], fields[i].value, fields[i].len, false, why,
					whylen))
				rc = -EINVAL;
		pthread_mutex_unlock(&ui_lock);
		pending.send = true;
	} else {
		snprintf(why, whylen, "state: write new or send");
		rc = -EINVAL;
	}
	if (rc)
		return refuse(state_path, rc, why, who);
	pending.remote = ui_remote(who);
	return 0;
}

static void state_commit(void *arg, const char *data, size_t len)
{
	(void)arg;
	(void)data;
	(void)len;
	pthread_mutex_lock(&ui_lock);
	if (pending.send) {
		msg.state = S_SENT;
	} else {
		for (int i = 0; i < NFIELDS; i++)
			fields[i].len = 0;
		msg.id++;
		msg.state = S_NEW;
		msg.focus = 0;
		msg.to_touched = msg.suggested = false;
	}
	pthread_mutex_unlock(&ui_lock);
	ui_changed(pending.remote);
}

static size_t state_render(void *arg, char *buf, size_t size)
{
	int n;

	(void)arg;
	pthread_mutex_lock(&ui_lock);
	n = snprintf(buf, size, "%s %u\n", state_names[msg.state], msg.id);
	pthread_mutex_unlock(&ui_lock);
	return ui_fit(n, size);
}

static int focus_validate(void *arg, const char *data, size_t len, const struct uml_client *who,
			  char *why, size_t whylen)
{
	size_t n = ui_value_len(data, len);

	(void)arg;
	for (int i = 0; i < NFIELDS; i++)
		if (strlen(fields[i].name) == n && !memcmp(fields[i].name, data, n)) {
			pending.focus = i;
			pending.remote = ui_remote(who);
			return 0;
		}
	snprintf(why, whylen, "focus: to, cc, subject or body");
	return refuse(focus_path, -EINVAL, why, who);
}

static void focus_commit(void *arg, const char *data, size_t len)
{
	(void)arg;
	(void)data;
	(void)len;
	pthread_mutex_lock(&ui_lock);
	msg.focus = pending.focus;
	pthread_mutex_unlock(&ui_lock);
	ui_changed(pending.remote);
}

static size_t focus_render(void *arg, char *buf, size_t size)
{
	int n;

	(void)arg;
	pthread_mutex_lock(&ui_lock);
	n = snprintf(buf, size, "%s\n", fields[msg.focus].name);
	pthread_mutex_unlock(&ui_lock);
	return ui_fit(n, size);
}

/*
 * The monitor's conditional write. Validate and commit run under the
 * filesystem's lock, which every change of To takes too (the user's keys
 * through ui_set), so "To is still untouched" cannot change between the
 * check and the fill.
 */
static int suggest_validate(void *arg, const char *data, size_t len, const struct uml_client *who,
			    char *why, size_t whylen)
{
	size_t n = ui_value_len(data, len);
	char *end;
	unsigned long id;
	const char *a;
	int rc = 0;

	(void)arg;
	if (n >= sizeof(pending.value) || ui_text_valid(data, n, 0, why, whylen))
		return refuse(suggest_path, -EINVAL, why, who);
	memcpy(pending.value, data, n);
	pending.value[n] = '\0';
	id = strtoul(pending.value, &end, 10);
	if (end == pending.value || *end != ' ') {
		snprintf(why, whylen, "suggest-to: write \"ID ADDRESSES\"");
		return refuse(suggest_path, -EINVAL, why, who);
	}
	a = end + 1;
	if (!*a || field_check(&fields[0], a, strlen(a), false, why, whylen))
		return refuse(suggest_path, -EINVAL, why, who);
	pthread_mutex_lock(&ui_lock);
	rc = -EEXIST;
	if (id != msg.id)
		snprintf(why, whylen, "message %lu is not the one being composed (%u)", id, msg.id);
	else if (msg.state == S_SENT)
		snprintf(why, whylen, "message %u was sent", msg.id);
	else if (msg.to_touched || fields[0].len)
		snprintf(why, whylen, "To of message %u was set by the user: left alone", msg.id);
	else
		rc = 0;
	pthread_mutex_unlock(&ui_lock);
	if (rc)
		return refuse(suggest_path, rc, why, who);
	pending.len = strlen(a);
	memmove(pending.value, a, pending.len);
	pending.remote = ui_remote(who);
	return 0;
}

static void suggest_commit(void *arg, const char *data, size_t len)
{
	(void)arg;
	pthread_mutex_lock(&ui_lock);
	memcpy(fields[0].value, pending.value, pending.len);
	fields[0].len = pending.len;
	msg.suggested = true;
	len = ui_value_len(data, len);
	snprintf(msg.suggestion, sizeof(msg.suggestion), "%.*s", (int)len, data);
	pthread_mutex_unlock(&ui_lock);
	ui_changed(pending.remote);
}

static size_t suggest_render(void *arg, char *buf, size_t size)
{
	int n;

	(void)arg;
	pthread_mutex_lock(&ui_lock);
	n = msg.suggestion[0] ? snprintf(buf, size, "%s\n", msg.suggestion) : 0;
	pthread_mutex_unlock(&ui_lock);
	return ui_fit(n, size);
}

static int build(char *why, size_t whylen)
{
	static const struct uml_file_hooks state_h = {.validate = state_validate,
						      .commit = state_commit,
						      .render = state_render,
						      .refused = ui_refused,
						      .arg = (void *)&state_path},
					   focus_h = {.validate = focus_validate,
						      .commit = focus_commit,
						      .render = focus_render,
						      .refused = ui_refused,
						      .arg = (void *)&focus_path},
					   suggest_h = {.validate = suggest_validate,
							.commit = suggest_commit,
							.render = suggest_render,
							.refused = ui_refused,
							.arg = (void *)&suggest_path};
	int rc = uml_mkdir_p("/ui/compose", 0755);

	for (int i = 0; !rc && i < NFIELDS; i++) {
		struct uml_file_hooks h = {.validate = field_validate,
					   .commit = field_commit,
					   .render = field_render,
					   .refused = ui_refused,
					   .arg = &fields[i]};

		rc = ui_file_add(fields[i].path, 0666, &h);
	}
	if (!rc)
		rc = ui_file_add(state_path, 0666, &state_h);
	if (!rc)
		rc = ui_file_add(focus_path, 0666, &focus_h);
	if (!rc)
		rc = ui_file_add(suggest_path, 0666, &suggest_h);
	if (!rc)
		rc = uml_file_flags("/ui/compose", UML_DIR_NOCREATE);
	if (!rc)
		rc = uml_file_flags("/ui", UML_DIR_NOCREATE);
	if (rc)
		snprintf(why, whylen, "building /ui: %s", strerror(-rc));
	return rc;
}

/* ------------------------------------------------------------ terminal --- */

static bool key(const struct ui_key *k)
{
	char v[4096];
	size_t n;
	int focus, rc = 0;
	const char *path;

	pthread_mutex_lock(&ui_lock);
	focus = msg.focus;
	n = fields[focus].len;
	memcpy(v, fields[focus].value, n);
	pthread_mutex_unlock(&ui_lock);
	path = fields[focus].path;

	switch (k->kind) {
	case UI_KEY_CHAR:
		if (n + strlen(k->text) > sizeof(v))
			return false;
		memcpy(v + n, k->text, strlen(k->text));
		rc = ui_set(path, v, n + strlen(k->text));
		break;
	case UI_KEY_BACKSPACE:
		while (n && ((unsigned char)v[n - 1] & 0xc0) == 0x80)
			n--; /* a character's continuation bytes */
		rc = n ? ui_set(path, v, n - 1) : 0;
		break;
	case UI_KEY_ENTER:
		if (fields[focus].kind == K_TEXT) {
			v[n] = '\n';
			rc = ui_set(path, v, n + 1);
			break;
		}
		/* Enter elsewhere: the next field */
		__attribute__((fallthrough));
	case UI_KEY_TAB:
	case UI_KEY_DOWN:
		path = focus_path;
		rc = ui_set(path, fields[(focus + 1) % NFIELDS].name,
			    strlen(fields[(focus + 1) % NFIELDS].name));
		break;
	case UI_KEY_BACKTAB:
	case UI_KEY_UP:
		path = focus_path;
		rc = ui_set(path, fields[(focus + NFIELDS - 1) % NFIELDS].name,
			    strlen(fields[(focus + NFIELDS - 1) % NFIELDS].name));
		break;
	case UI_KEY_CTRL:
		switch (k->text[0]) {
		case 'q':
			return true;
		case 'u':
			rc = ui_set(path, "", 0);
			break;
		case 'n':
			rc = ui_set(path = state_path, "new", 3);
			break;
		case 's':
			rc = ui_set(path = state_path, "send", 4);
			break;
		default:
			return false;
		}
		break;
	}
	if (!rc)
		ui_lat_add(UI_LAT_KEY_FILE, ui_now_ns() - k->at_ns);
	return false;
}

static void draw(struct ui_frame *f)
{
	char err[300], note[200] = "";
	int focus;

	ui_error_last(err, sizeof(err));
	pthread_mutex_lock(&ui_lock);
	focus = msg.focus;
	ui_line(f,
		"uimail  message %u  %s  focus %s    (Tab next field, ^N new, ^S send, ^U clear, "
		"^Q quit)",
		msg.id, state_names[msg.state], fields[focus].name);
	ui_line(f, "%s", "");
	for (int i = 0; i < NFIELDS - 1; i++)
		ui_line(f, "%c %-8s %.*s", i == focus ? '>' : ' ', (const char *)fields[i].label,
			(int)fields[i].len, fields[i].value);
	ui_line(f, "%c Body:", focus == 3 ? '>' : ' ');
	for (const char *p = fields[3].value, *e = p + fields[3].len;
	     p < e || p == fields[3].value;) {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(e - p);

		ui_line(f, "  | %.*s", (int)l, p);
		if (!nl)
			break;
		p = nl + 1;
		if (p == e) {
			ui_line(f, "  | ");
			break;
		}
	}
	if (msg.suggested)
		snprintf(note, sizeof(note), "To filled in from the page being viewed (uimon)");
	else if (fields[0].len && ui_addrlist_valid(fields[0].value, fields[0].len, false, NULL, 0))
		snprintf(note, sizeof(note), "To is not a list of addresses yet");
	pthread_mutex_unlock(&ui_lock);
	ui_line(f, "%s", "");
	ui_line(f, "note: %s", note);
	ui_line(f, "last refused: %s", err[0] ? err : "-");
}

int main(int argc, char **argv)
{
	static const struct ui_app app = {
	    .name = "uimail", .build = build, .key = key, .draw = draw};

	return ui_main(&app, argc, argv, NULL, NULL, "");
}
