/*
 * uimon: a UI monitor that keeps session context across two apps. It
 * mounts the page viewer's export and the mail composer's (uiview, uimail)
 * with libuml's NFS client, and when the composer starts a new message
 * whose To is empty while the viewer shows a page with an owner, it fills
 * To with the owner's address -- the seed's "visit a friend's home page,
 * start an email: the To is already there".
 *
 *   uimon -v nfs://host:port/?mountport=port -m nfs://host:port/?mountport=port
 *         [-i interval-ms] [-L logfile]
 *
 * The rule, every interval (100 ms):
 *   - read /ui/compose/state ("new ID", "composing ID", "sent ID"); a
 *     message ID not yet settled that is still "new" (nobody has edited
 *     any field of it) is a candidate;
 *   - its To non-empty: settled, left alone (the user got there first);
 *   - else read /ui/page/owner/email; empty: nothing to fill yet, ask again
 *     next time (the user may still open a friend's page);
 *   - else write "ID ADDRESS" to /ui/compose/suggest-to. The composer takes
 *     it only if message ID is still the one being composed and nobody has
 *     set its To (it checks under the lock every change of To takes, so a
 *     key typed between our read and our write wins): 0 means filled,
 *     EEXIST means the user's To stands. Either settles the message.
 * uimon never writes To itself, so it cannot overwrite what the user typed.
 * Each decision is one line in the log.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "uml.h"

static volatile sig_atomic_t stopping;
static FILE *logf_;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	struct timespec ts;
	char when[32];
	struct tm tm;
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(logf_, "%s.%03ldZ uimon: ", when, ts.tv_nsec / 1000000);
	va_start(ap, fmt);
	vfprintf(logf_, fmt, ap);
	va_end(ap);
	fputc('\n', logf_);
	fflush(logf_);
}

/* One app's export, mounted while it answers. */
struct app {
	const char *name, *url;
	uml_nfs_session_t *s;
	int last_err; /* logged once per change */
};

static void app_fail(struct app *a, const char *what, long rc)
{
	if (rc != a->last_err)
		say("%s: %s: %s", a->name, what, strerror((int)-rc));
	a->last_err = (int)rc;
	if (a->s && rc != -ENOENT && rc != -EEXIST && rc != -EINVAL) {
		uml_nfs_session_close(a->s);
		a->s = NULL;
	}
}

static bool app_up(struct app *a)
{
	char why[160];
	int rc;

	if (a->s)
		return true;
	rc = uml_nfs_session_open(a->url, &a->s, why, sizeof(why));
	if (rc) {
		if (rc != a->last_err)
			say("%s: cannot mount %s: %s%s%s", a->name, a->url, strerror(-rc),
			    why[0] ? ": " : "", why);
		a->last_err = rc;
		a->s = NULL;
		return false;
	}
	if (a->last_err)
		say("%s: mounted %s", a->name, a->url);
	a->last_err = 0;
	return true;
}

/* @path's content less its newline into @buf; its length, or a negative errno. */
static long app_read(struct app *a, const char *path, char *buf, size_t size)
{
	long n = uml_nfs_session_read(a->s, path, buf, size - 1);

	if (n < 0) {
		app_fail(a, path, n);
		return n;
	}
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	return n;
}

int main(int argc, char **argv)
{
	struct app view = {.name = "viewer", .last_err = 1},
		   mail = {.name = "composer", .last_err = 1};
	struct sigaction sa = {.sa_handler = on_signal};
	unsigned interval = 100, settled = 0, waiting = 0;
	int c;

	logf_ = stderr;
	while ((c = getopt(argc, argv, "v:m:i:L:")) != -1) {
		switch (c) {
		case 'v':
			view.url = optarg;
			break;
		case 'm':
			mail.url = optarg;
			break;
		case 'i':
			interval = (unsigned)atoi(optarg);
			break;
		case 'L':
			logf_ = fopen(optarg, "a");
			if (!logf_) {
				perror(optarg);
				return 1;
			}
			break;
		default:
			goto usage;
		}
	}
	if (!view.url || !mail.url || interval < 10 || interval > 60000 || optind != argc) {
	usage:
		fprintf(stderr, "usage: uimon -v VIEWER-URL -m COMPOSER-URL [-i 10..60000 ms] "
				"[-L logfile]\n"
				"  URLs as nfs://127.0.0.1:12801/?mountport=12801\n");
		return 2;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	say("watching the composer at %s and the viewer at %s every %u ms", mail.url, view.url,
	    interval);

	while (!stopping) {
		char state[64], to[1100], email[300], page[80], name[160], line[400];
		unsigned id;
		long rc;

		usleep(interval * 1000);
		if (!app_up(&mail) || app_read(&mail, "ui/compose/state", state, sizeof(state)) < 0)
			continue;
		if (sscanf(state, "%*s %u", &id) != 1 || id == settled ||
		    !strncmp(state, "sent", 4))
			continue;
		if (app_read(&mail, "ui/compose/to", to, sizeof(to)) < 0)
			continue;
		if (to[0]) {
			say("message %u: To is \"%s\" already: left alone", id, to);
			settled = id;
			continue;
		}
		if (!app_up(&view) ||
		    app_read(&view, "ui/page/owner/email", email, sizeof(email)) < 0)
			continue;
		if (!email[0]) {
			if (waiting != id)
				say("message %u: To is empty and the page has no owner: waiting",
				    id);
			waiting = id;
			continue;
		}
		if (app_read(&view, "ui/page/url", page, sizeof(page)) < 0 ||
		    app_read(&view, "ui/page/owner/name", name, sizeof(name)) < 0)
			continue;
		snprintf(line, sizeof(line), "%u %s\n", id, email);
		rc = uml_nfs_session_write(mail.s, "ui/compose/suggest-to", line, strlen(line));
		if (rc == 0) {
			say("message %u: To filled with %s (%s, owner of %s)", id, email, name,
			    page);
			settled = id;
		} else if (rc == -EEXIST) {
			say("message %u: the user set To first: left alone", id);
			settled = id;
		} else {
			app_fail(&mail, "ui/compose/suggest-to", rc);
		}
	}
	if (mail.s)
		uml_nfs_session_close(mail.s);
	if (view.s)
		uml_nfs_session_close(view.s);
	say("stopped");
	return 0;
}
