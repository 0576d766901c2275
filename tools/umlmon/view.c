/*
 * The terminal view: one line per instance, redrawn in place every
 * interval, like top. It runs on a host thread of its own: a terminal that
 * stops reading (a paused tmux pane) blocks this thread, never the pollers.
 * `q` quits; the terminal's mode is put back on the way out.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include "umlmon.h"

#define SCREEN_MAX (64 * 1024)

static pthread_t view_thread;
static bool view_running;
static volatile bool view_stop;
static struct termios saved_tio;
static bool tio_saved;
static char screen[SCREEN_MAX];

static int term_width(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
		return ws.ws_col;
	return 160;
}

/* Append one line cut to @width columns (the view is ASCII), clearing the rest of it. */
static size_t line_put(size_t len, int width, const char *line)
{
	size_t n = strlen(line);

	if (n > (size_t)width)
		n = (size_t)width;
	if (len + n + 8 >= sizeof(screen))
		return len;
	memcpy(screen + len, line, n);
	len += n;
	memcpy(screen + len, "\033[K\r\n", 5);
	return len + 5;
}

static void num(char *buf, size_t size, int32_t v)
{
	if (v < 0)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%d", v);
}

static size_t draw(struct mon_fleet *f, int width)
{
	char line[512], when[32], mrw[12], ql[12], acc[12];
	time_t now = time(NULL);
	unsigned up = 0;
	size_t len = 0;
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%SZ", &tm);
	memcpy(screen, "\033[H", 3);
	len = 3;
	pthread_mutex_lock(&f->lock);
	for (int i = 0; i < f->n; i++)
		up += f->inst[i]->reach == MON_UP;
	snprintf(line, sizeof(line),
		 "umlmon  %s  %d instances, %u up  interval %ums  drain %s  limit %s%s  "
		 "actions %llu  (q quits)",
		 when, f->n, up, f->cfg.interval_ms, f->cfg.drain.on ? "on" : "off",
		 f->cfg.limit.on ? "on" : "off", f->cfg.dry_run ? "  DRY-RUN" : "",
		 (unsigned long long)f->nactions);
	len = line_put(len, width, line);
	len = line_put(len, width, "");
	snprintf(line, sizeof(line), "%-12s %-8s %5s %5s %3s %6s %6s %6s %8s %7s %6s  %s", "NAME",
		 "REACH", "MRW", "QLIM", "ACC", "INFL", "QUEUED", "ACCQ", "REQ/S", "P99MS",
		 "POLLMS", "LAST ACTION / ERROR");
	len = line_put(len, width, line);
	for (int i = 0; i < f->n; i++) {
		const struct mon_instance *in = f->inst[i];
		const struct mon_sample *s =
		    in->nhist ? &in->hist[(in->head + MON_HISTORY - 1) % MON_HISTORY] : NULL;

		if (in->reach != MON_UP || !s) {
			double retry = in->next_try - mon_now();

			snprintf(line, sizeof(line),
				 "%-12s %-8s %5s %5s %3s %6s %6s %6s %8s %7s %6s  %s%s", in->name,
				 mon_reach_name(in->reach), "-", "-", "-", "-", "-", "-", "-", "-",
				 "-", in->error[0] ? in->error : in->last_action,
				 retry > 0 ? " (retrying)" : "");
		} else {
			num(mrw, sizeof(mrw), s->max_request_workers);
			num(ql, sizeof(ql), s->queue_limit);
			num(acc, sizeof(acc), s->accepting);
			snprintf(line, sizeof(line),
				 "%-12s %-8s %5s %5s %3s %6d %6d %6d %8.1f %7.1f %6.1f  %s%s",
				 in->name, in->pol.draining ? "draining" : "up", mrw, ql, acc,
				 s->in_flight, s->queued, s->accept_queue, s->rps, s->p99_ms,
				 in->last_poll_ms, in->pol.limit_paused ? "[limit paused] " : "",
				 in->last_action);
		}
		len = line_put(len, width, line);
	}
	pthread_mutex_unlock(&f->lock);
	/* Whatever the last frame had below this one goes. */
	if (len + 4 < sizeof(screen)) {
		memcpy(screen + len, "\033[J", 3);
		len += 3;
	}
	return len;
}

static void *view_main(void *arg)
{
	struct mon_fleet *f = arg;
	bool tty_in = isatty(STDIN_FILENO);

	fputs("\033[?25l\033[2J", stdout); /* hide the cursor, clear once */
	fflush(stdout);
	while (!view_stop) {
		size_t len = draw(f, term_width());
		struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
		unsigned interval;

		if (write(STDOUT_FILENO, screen, len) < 0 && errno != EINTR)
			break;
		pthread_mutex_lock(&f->lock);
		interval = f->cfg.interval_ms;
		pthread_mutex_unlock(&f->lock);
		if (tty_in && poll(&pfd, 1, (int)interval) == 1) {
			char c;

			if (read(STDIN_FILENO, &c, 1) == 1 && (c == 'q' || c == 'Q')) {
				mon_request_stop();
				break;
			}
		} else if (!tty_in) {
			usleep(interval * 1000);
		}
	}
	fputs("\033[?25h", stdout);
	fflush(stdout);
	return NULL;
}

int mon_view_start(struct mon_fleet *f)
{
	int rc;

	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_tio) == 0) {
		struct termios raw = saved_tio;

		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 1;
		raw.c_cc[VTIME] = 0;
		tio_saved = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
	}
	rc = pthread_create(&view_thread, NULL, view_main, f);
	if (rc)
		return -rc;
	view_running = true;
	return 0;
}

void mon_view_stop(void)
{
	if (view_running) {
		view_stop = true;
		pthread_join(view_thread, NULL);
		view_running = false;
	}
	if (tio_saved)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
	tio_saved = false;
}
