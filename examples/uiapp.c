/*
 * What the UI-as-files apps share: value checks, the error and latency
 * reports, the tree helpers, the terminal thread and main. See uiapp.h.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "uiapp.h"

pthread_mutex_t ui_lock = PTHREAD_MUTEX_INITIALIZER;

static int stop_fd = -1, dirty_fd = -1;
static _Atomic uint64_t remote_since; /* oldest client write not yet on the screen; 0: none */

/* ---------------------------------------------------------------- values --- */

static int say(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int say(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (why && whylen)
		vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int ui_text_valid(const char *s, size_t len, unsigned flags, char *why, size_t whylen)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < len;) {
		unsigned c = p[i], n, cp;

		if (c < 0x80) {
			if ((c < 0x20 || c == 0x7f) &&
			    !((flags & UI_TEXT_NEWLINES) && (c == '\n' || c == '\t')))
				return say(why, whylen, "control character 0x%02x at byte %zu", c,
					   i);
			i++;
			continue;
		}
		/* C0 and C1 would only start overlong forms; F5.. would pass U+10FFFF. */
		if (c >= 0xc2 && c <= 0xdf)
			n = 2, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			n = 3, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 4, cp = c & 0x07;
		else if (c == 0xc0 || c == 0xc1)
			return say(why, whylen, "bad UTF-8: overlong form at byte %zu", i);
		else
			return say(why, whylen, "bad UTF-8: byte 0x%02x at byte %zu", c, i);
		if (i + n > len)
			return say(why, whylen, "bad UTF-8: sequence cut at byte %zu", i);
		for (unsigned k = 1; k < n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return say(why, whylen, "bad UTF-8: byte 0x%02x at byte %zu",
					   p[i + k], i + k);
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000))
			return say(why, whylen, "bad UTF-8: overlong form at byte %zu", i);
		if (cp >= 0xd800 && cp <= 0xdfff)
			return say(why, whylen, "bad UTF-8: surrogate U+%04X at byte %zu", cp, i);
		if (cp > 0x10ffff)
			return say(why, whylen, "bad UTF-8: U+%X is past U+10FFFF", cp);
		if (cp >= 0x80 && cp <= 0x9f)
			return say(why, whylen, "control character U+%04X at byte %zu", cp, i);
		i += n;
	}
	return 0;
}

/* RFC 5322's atext, less nothing. */
static bool atext(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

int ui_addr_valid(const char *s, size_t len, char *why, size_t whylen)
{
	const char *at = memchr(s, '@', len), *d, *end = s + len;
	size_t labels = 0;

	if (len > 254)
		return say(why, whylen, "address longer than 254 bytes");
	if (!at)
		return say(why, whylen, "'%.*s' is not local@domain", (int)len, s);
	if (at == s || at - s > 64)
		return say(why, whylen, "'%.*s': the local part must be 1 to 64 bytes", (int)len,
			   s);
	for (const char *p = s; p < at; p++)
		if (!(atext(*p) || (*p == '.' && p > s && p + 1 < at && p[1] != '.')))
			return say(why, whylen, "'%.*s': '%c' in the local part", (int)len, s, *p);
	for (d = at + 1;; d++) {
		const char *l = d;

		while (d < end && *d != '.')
			d++;
		if (d == l || d - l > 63)
			return say(why, whylen, "'%.*s': a domain label must be 1 to 63 bytes",
				   (int)len, s);
		if (*l == '-' || d[-1] == '-')
			return say(why, whylen, "'%.*s': a domain label starts or ends with '-'",
				   (int)len, s);
		for (const char *p = l; p < d; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			      (*p >= '0' && *p <= '9') || *p == '-'))
				return say(why, whylen, "'%.*s': '%c' in the domain", (int)len, s,
					   *p);
		labels++;
		if (d == end)
			break;
	}
	if (labels < 2)
		return say(why, whylen, "'%.*s': the domain needs a dot", (int)len, s);
	return 0;
}

int ui_addrlist_valid(const char *s, size_t len, bool partial, char *why, size_t whylen)
{
	const char *p = s, *end = s + len;
	unsigned n = 0;

	if (partial) {
		for (size_t i = 0; i < len; i++)
			if (!(atext(s[i]) || (s[i] && strchr(".@, ", s[i]))))
				return say(why, whylen, "'%c' cannot be in an address", s[i]);
		return 0;
	}
	while (p < end && *p == ' ')
		p++;
	if (p == end)
		return 0;
	for (;;) {
		const char *a = p, *c = memchr(p, ',', (size_t)(end - p)), *e = c ? c : end;

		while (a < e && *a == ' ')
			a++;
		while (e > a && e[-1] == ' ')
			e--;
		if (a == e)
			return say(why, whylen, "an empty address in the list");
		if (++n > UI_ADDRS)
			return say(why, whylen, "more than %d addresses", UI_ADDRS);
		if (ui_addr_valid(a, (size_t)(e - a), why, whylen))
			return -EINVAL;
		if (!c)
			return 0;
		p = c + 1;
	}
}

size_t ui_value_len(const char *data, size_t len)
{
	if (len && data[len - 1] == '\n') {
		len--;
		if (len && data[len - 1] == '\r')
			len--;
	}
	return len;
}

/* ------------------------------------------------------- errors, figures --- */

struct ui_error {
	double t;
	char path[64];
	int err;
	char who[48];
	char why[UI_WHY_MAX];
};

static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER; /* a leaf: guards the below */
static struct ui_error errors[UI_ERRORS]; /* a ring: errors[(nerrors - 1) % UI_ERRORS] newest */
static uint64_t nerrors;
static uint64_t lat[UI_LAT_KINDS][UI_LAT_SAMPLES]; /* rings of nanoseconds */
static uint64_t nlat[UI_LAT_KINDS];

uint64_t ui_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void ui_error_report(const char *path, int err, const char *why, const struct uml_client *who)
{
	struct ui_error *e;

	pthread_mutex_lock(&report_lock);
	e = &errors[nerrors++ % UI_ERRORS];
	e->t = wall_now();
	e->err = err;
	snprintf(e->path, sizeof(e->path), "%s", path);
	snprintf(e->who, sizeof(e->who), "%s", who && who->addr ? who->addr : "keyboard");
	snprintf(e->why, sizeof(e->why), "%s", why && why[0] ? why : "refused");
	pthread_mutex_unlock(&report_lock);
	ui_changed(false);
}

static size_t error_line(const struct ui_error *e, char *buf, size_t size)
{
	time_t secs = (time_t)e->t;
	char when[32];
	struct tm tm;

	gmtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	return ui_fit(snprintf(buf, size, "%s.%03d %s %s %s: %s\n", when,
			       (int)((e->t - (double)secs) * 1000), e->path,
			       strerrorname_np(-e->err) ?: "?", e->who, e->why),
		      size);
}

void ui_error_last(char *buf, size_t size)
{
	buf[0] = '\0';
	pthread_mutex_lock(&report_lock);
	if (nerrors) {
		size_t n = error_line(&errors[(nerrors - 1) % UI_ERRORS], buf, size);

		if (n && buf[n - 1] == '\n')
			buf[n - 1] = '\0';
	}
	pthread_mutex_unlock(&report_lock);
}

static size_t errors_render(void *arg, char *buf, size_t size)
{
	size_t len = 0;

	(void)arg;
	pthread_mutex_lock(&report_lock);
	for (uint64_t i = nerrors > UI_ERRORS ? nerrors - UI_ERRORS : 0; i < nerrors; i++)
		len += error_line(&errors[i % UI_ERRORS], buf + len, size - len);
	pthread_mutex_unlock(&report_lock);
	return len;
}

void ui_lat_add(enum ui_lat kind, uint64_t ns)
{
	pthread_mutex_lock(&report_lock);
	lat[kind][nlat[kind]++ % UI_LAT_SAMPLES] = ns;
	pthread_mutex_unlock(&report_lock);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static size_t latency_render(void *arg, char *buf, size_t size)
{
	static const char *const names[UI_LAT_KINDS] = {"write_to_screen", "key_to_file"};
	static uint64_t v[UI_LAT_SAMPLES]; /* under the filesystem's lock, as render is */
	size_t len = 0;

	(void)arg;
	for (int k = 0; k < UI_LAT_KINDS; k++) {
		uint64_t total, n;

		pthread_mutex_lock(&report_lock);
		total = nlat[k];
		n = total < UI_LAT_SAMPLES ? total : UI_LAT_SAMPLES;
		memcpy(v, lat[k], n * sizeof(v[0]));
		pthread_mutex_unlock(&report_lock);
		qsort(v, n, sizeof(v[0]), cmp_u64);
		/* Nearest rank over the samples kept. */
		len += ui_fit(snprintf(buf + len, size - len,
				       "%s count %llu p50_us %.1f p99_us %.1f max_us %.1f\n",
				       names[k], (unsigned long long)total,
				       n ? (double)v[(n * 50 + 99) / 100 - 1] / 1e3 : 0.0,
				       n ? (double)v[(n * 99 + 99) / 100 - 1] / 1e3 : 0.0,
				       n ? (double)v[n - 1] / 1e3 : 0.0),
			      size - len);
	}
	return len;
}

void ui_changed(bool remote)
{
	uint64_t one = 1, zero = 0;

	if (remote)
		atomic_compare_exchange_strong(&remote_since, &zero, ui_now_ns());
	if (write(dirty_fd, &one, sizeof(one)) < 0)
		return; /* the counter is full: a redraw is due anyway */
}

/* ---------------------------------------------------------------- tree --- */

size_t ui_fit(int n, size_t size)
{
	if (n < 0 || !size)
		return 0;
	return (size_t)n >= size ? size - 1 : (size_t)n;
}

/* A generated read-only file; the hooks' arg, whose path is first as ui_refused expects. */
struct ui_ro {
	const char *path;
	size_t (*render)(void *arg, char *buf, size_t size);
	void *arg;
};
static struct ui_ro ros[32];
static unsigned nros;

static int readonly_validate(void *arg, const char *data, size_t len, const struct uml_client *who,
			     char *why, size_t whylen)
{
	const struct ui_ro *ro = arg;

	(void)data;
	(void)len;
	snprintf(why, whylen, "read-only");
	ui_error_report(ro->path, -EACCES, why, who);
	return -EACCES;
}

static size_t readonly_render(void *arg, char *buf, size_t size)
{
	const struct ui_ro *ro = arg;

	return ro->render(ro->arg, buf, size);
}

void ui_refused(void *arg, const char *data, size_t len, int err, const char *reason,
		const struct uml_client *who)
{
	(void)data;
	(void)len;
	ui_error_report(*(const char *const *)arg, err, reason, who);
}

int ui_file_add(const char *path, unsigned mode, const struct uml_file_hooks *h)
{
	int rc = uml_put_file(path, mode, "", 0);

	if (!rc)
		rc = uml_file_hooks(path, h);
	if (!rc)
		rc = uml_file_flags(path, UML_FILE_PINNED | (mode & 0222 ? 0 : UML_FILE_READONLY));
	return rc;
}

int ui_file_ro(const char *path, size_t (*render)(void *arg, char *buf, size_t size), void *arg)
{
	struct ui_ro *ro;

	if (nros == sizeof(ros) / sizeof(ros[0]))
		return -ENOSPC;
	ro = &ros[nros++];
	*ro = (struct ui_ro){.path = path, .render = render, .arg = arg};
	return ui_file_add(path, 0444,
			   &(struct uml_file_hooks){.validate = readonly_validate,
						    .render = readonly_render,
						    .arg = ro});
}

int ui_set(const char *path, const char *value, size_t len)
{
	char buf[4096], why[UI_WHY_MAX];

	if (len + 1 > sizeof(buf))
		len = sizeof(buf) - 1; /* validate refuses it as too long */
	memcpy(buf, value, len);
	buf[len] = '\n';
	return uml_replace_file(path, buf, len + 1, NULL, why, sizeof(why));
}

/* ------------------------------------------------------------ terminal --- */

static struct termios saved_tio;
static bool tio_saved;
static struct ui_frame frame;

void ui_line(struct ui_frame *f, const char *fmt, ...)
{
	char line[1024];
	size_t n, cut = 0;
	int cols = 0;
	va_list ap;

	if (f->lines >= f->height)
		return;
	va_start(ap, fmt);
	n = ui_fit(vsnprintf(line, sizeof(line), fmt, ap), sizeof(line));
	va_end(ap);
	/* Cut at f->width characters (not bytes), at a character's start. */
	for (cut = 0; cut < n; cut++) {
		if (((unsigned char)line[cut] & 0xc0) != 0x80 && cols++ == f->width)
			break;
	}
	if (f->len + cut + 8 >= sizeof(f->buf))
		return;
	memcpy(f->buf + f->len, line, cut);
	f->len += cut;
	memcpy(f->buf + f->len, "\033[K\r\n", 5);
	f->len += 5;
	f->lines++;
}

static void frame_draw(const struct ui_app *app)
{
	struct winsize ws;

	frame.width = 100;
	frame.height = 40;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20 && ws.ws_row >= 5) {
		frame.width = ws.ws_col;
		frame.height = ws.ws_row - 1;
	}
	memcpy(frame.buf, "\033[H", 3);
	frame.len = 3;
	frame.lines = 0;
	app->draw(&frame);
	memcpy(frame.buf + frame.len, "\033[J", 3); /* whatever the last frame had below */
	frame.len += 3;
	for (size_t off = 0; off < frame.len;) {
		ssize_t w = write(STDOUT_FILENO, frame.buf + off, frame.len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		off += (size_t)w;
	}
}

/* Keys out of the bytes read; a character cut by the read stays in @in for the next. */
static size_t keys_parse(const char *in, size_t len, struct ui_key *k, size_t max, size_t *used)
{
	size_t n = 0, i = 0;

	while (i < len && n < max) {
		unsigned char c = (unsigned char)in[i];
		struct ui_key *x = &k[n];

		memset(x, 0, sizeof(*x));
		x->at_ns = ui_now_ns();
		if (c == 0x1b) {
			size_t j = i + 1;

			if (j >= len)
				break; /* wait for the rest */
			if (in[j] == '[' || in[j] == 'O') {
				j++;
				while (j < len && !((unsigned char)in[j] >= 0x40 &&
						    (unsigned char)in[j] <= 0x7e))
					j++;
				if (j >= len)
					break;
				if (in[j] == 'A')
					x->kind = UI_KEY_UP, n++;
				else if (in[j] == 'B')
					x->kind = UI_KEY_DOWN, n++;
				else if (in[j] == 'Z')
					x->kind = UI_KEY_BACKTAB, n++;
				i = j + 1;
			} else {
				i = j; /* a lone ESC: nothing */
			}
			continue;
		}
		if (c == '\r' || c == '\n')
			x->kind = UI_KEY_ENTER;
		else if (c == '\t')
			x->kind = UI_KEY_TAB;
		else if (c == 0x7f || c == 0x08)
			x->kind = UI_KEY_BACKSPACE;
		else if (c >= 1 && c <= 26)
			x->kind = UI_KEY_CTRL, x->text[0] = (char)('a' + c - 1);
		else if (c >= 0x20 && c < 0x7f)
			x->kind = UI_KEY_CHAR, x->text[0] = (char)c;
		else if (c >= 0xc2 && c <= 0xf4) {
			size_t w = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;

			if (i + w > len)
				break;
			x->kind = UI_KEY_CHAR;
			memcpy(x->text, in + i, w);
			i += w;
			if (ui_text_valid(x->text, w, 0, NULL, 0) == 0)
				n++;
			continue;
		} else {
			i++; /* a byte no key starts with */
			continue;
		}
		i++;
		n++;
	}
	*used = i;
	return n;
}

static pthread_t term_thread;
static bool term_running;
static _Atomic bool term_stop;

static void *term_main(void *arg)
{
	const struct ui_app *app = arg;
	char in[256];
	size_t have = 0;
	bool tty_in = isatty(STDIN_FILENO), eof = false;

	fputs("\033[?25l\033[2J", stdout); /* hide the cursor, clear once */
	fflush(stdout);
	frame_draw(app);
	while (!term_stop) {
		struct pollfd pfd[2] = {{.fd = dirty_fd, .events = POLLIN},
					{.fd = STDIN_FILENO, .events = POLLIN}};
		uint64_t v, since;
		bool quit = false;

		if (poll(pfd, eof || !tty_in ? 1 : 2, 1000) < 0 && errno != EINTR)
			break;
		if (term_stop)
			break;
		if (pfd[0].revents & POLLIN && read(dirty_fd, &v, sizeof(v)) < 0)
			v = 0;
		if (!eof && tty_in && (pfd[1].revents & (POLLIN | POLLHUP))) {
			ssize_t r = read(STDIN_FILENO, in + have, sizeof(in) - have);
			struct ui_key keys[64];
			size_t used, nk;

			if (r <= 0) {
				eof = r == 0;
			} else {
				have += (size_t)r;
				nk = keys_parse(in, have, keys, 64, &used);
				memmove(in, in + used, have - used);
				have -= used;
				for (size_t i = 0; i < nk && !quit; i++)
					quit = app->key(&keys[i]);
			}
		}
		/* Taken before the frame reads the state: a write after it makes the next frame. */
		since = atomic_exchange(&remote_since, 0);
		frame_draw(app);
		if (since)
			ui_lat_add(UI_LAT_WRITE_SCREEN, ui_now_ns() - since);
		if (quit) {
			uint64_t one = 1;

			if (write(stop_fd, &one, sizeof(one)) < 0)
				break;
			break;
		}
	}
	fputs("\033[?25h", stdout);
	fflush(stdout);
	return NULL;
}

static int term_start(const struct ui_app *app)
{
	int rc;

	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_tio) == 0) {
		struct termios raw = saved_tio;

		/* Keys one by one, unechoed; ^S ^Q ^M reach the app; ^C still signals. */
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO | IEXTEN);
		raw.c_iflag &= ~(tcflag_t)(IXON | ICRNL | INLCR);
		raw.c_cc[VMIN] = 1;
		raw.c_cc[VTIME] = 0;
		tio_saved = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
	}
	rc = pthread_create(&term_thread, NULL, term_main, (void *)app);
	if (rc)
		return -rc;
	term_running = true;
	return 0;
}

static void term_end(void)
{
	if (term_running) {
		term_stop = true;
		ui_changed(false);
		pthread_join(term_thread, NULL);
		term_running = false;
	}
	if (tio_saved)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
	tio_saved = false;
}

/* ---------------------------------------------------------------- main --- */

static uml_nfs_server_t *nfs_srv;

static void on_signal(int sig)
{
	uint64_t one = 1;

	(void)sig;
	if (write(stop_fd, &one, sizeof(one)) < 0)
		return;
}

static void stop_nfs(void *arg)
{
	(void)arg;
	if (nfs_srv)
		uml_nfs_stop(nfs_srv);
}

static int fail(const char *name, const char *what, int rc)
{
	fprintf(stderr, "%s: %s%s%s\n", name, what, rc ? ": " : "", rc ? strerror(-rc) : "");
	return 1;
}

int ui_main(const struct ui_app *app, int argc, char **argv, const char *opts,
	    int (*opt)(int c, const char *arg), const char *usage)
{
	const char *listen = "127.0.0.1:0", *clients = "127.0.0.1", *ready = NULL;
	struct uml_boot_params bp = {.memory = 16UL << 20};
	struct uml_nfs_listener l = {-1, -1};
	struct sigaction sa = {.sa_handler = on_signal};
	char optstr[64], host[64], why[256], list[256], *save = NULL;
	const char *cl[16];
	size_t ncl = 0;
	int c, rc, port;

	snprintf(optstr, sizeof(optstr), "N:c:R:m:h%s", opts ? opts : "");
	while ((c = getopt(argc, argv, optstr)) != -1) {
		switch (c) {
		case 'N':
			listen = optarg;
			break;
		case 'c':
			clients = optarg;
			break;
		case 'R':
			ready = optarg;
			break;
		case 'm':
			if (uml_parse_memory(optarg, &bp.memory))
				return fail(app->name, "-m: not a memory size", 0);
			break;
		default:
			if (c != 'h' && c != '?' && opt && opt(c, optarg) == 0)
				break;
			fprintf(
			    stderr,
			    "usage: %s [-N host:port] [-c clients] [-R ready-file] [-m memory] "
			    "%s\n"
			    "  -N  export the UI's tree over NFS here (127.0.0.1:0: a free port)\n"
			    "  -c  who may mount it, comma-separated (127.0.0.1)\n"
			    "  -R  write host:port there once serving\n",
			    app->name, usage);
			return 2;
		}
	}
	{
		const char *colon = strrchr(listen, ':');

		if (!colon || (size_t)(colon - listen) >= sizeof(host))
			return fail(app->name, "-N takes host:port", 0);
		memcpy(host, listen, (size_t)(colon - listen));
		host[colon - listen] = '\0';
		port = atoi(colon + 1);
	}
	snprintf(list, sizeof(list), "%s", clients);
	for (char *t = strtok_r(list, ",", &save); t && ncl < 16; t = strtok_r(NULL, ",", &save))
		cl[ncl++] = t;

	stop_fd = eventfd(0, EFD_CLOEXEC);
	dirty_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (stop_fd < 0 || dirty_fd < 0)
		return fail(app->name, "eventfd", -errno);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if ((rc = uml_boot(&bp)))
		return fail(app->name, "boot", rc);
	if ((rc = app->build(why, sizeof(why))))
		return fail(app->name, why, 0);
	if ((rc = uml_mkdir_p("/status", 0755)) ||
	    (rc = ui_file_ro("/status/errors", errors_render, NULL)) ||
	    (rc = ui_file_ro("/status/latency", latency_render, NULL)) ||
	    (rc = uml_file_flags("/status", UML_DIR_NOCREATE)) ||
	    (rc = uml_file_flags("/", UML_DIR_NOCREATE)))
		return fail(app->name, "building /status", rc);
	uml_nfs_exports_clear();
	if ((rc = uml_nfs_export("/", UML_NFS_RW, cl, ncl, why, sizeof(why))))
		return fail(app->name, why, 0);
	if ((rc = uml_nfs_listen(host, port, UML_NFS_TCP, &l)))
		return fail(app->name, listen, rc);
	if (port == 0) {
		struct sockaddr_in sin;
		socklen_t sl = sizeof(sin);

		if (getsockname(l.tcp_fd, (struct sockaddr *)&sin, &sl) == 0)
			port = ntohs(sin.sin_port);
	}
	if (ready) {
		FILE *f = fopen(ready, "w");

		if (!f)
			return fail(app->name, "cannot write the ready file", -errno);
		fprintf(f, "%s:%d\n", host, port);
		fclose(f);
	}
	if ((rc = uml_cpu_init()))
		return fail(app->name, "cannot become the machine's CPU", rc);
	if ((rc = uml_nfs_start(&l, &nfs_srv)) ||
	    (rc = uml_cpu_stop_on_fd(stop_fd, stop_nfs, NULL)))
		return fail(app->name, "cannot start the NFS service", rc);
	if ((rc = term_start(app)))
		return fail(app->name, "cannot start the terminal thread", rc);
	uml_cpu_run(true);
	uml_cpu_exit();
	term_end();
	printf("\r\n%s: stopped\r\n", app->name);
	return 0;
}
