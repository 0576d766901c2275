/*
 * The dashboard's HTTP/1.1 server: GET or HEAD of / (the page, dashboard.html,
 * which the Makefile embeds) and of /api/fleet (mon_json), on one host
 * thread that polls non-blocking sockets.
 *
 * Whoever reaches the port may be hostile, so all a client can make the
 * server hold is bounded: HTTP_CONNS connections (more are closed as they
 * come), a request head of HTTP_HEAD_MAX bytes (431 past it), HTTP_REQUEST_MS
 * to send a whole request, the idle wait of a kept-alive connection included
 * (408, then closed), HTTP_SEND_MS to take a whole response. A request may
 * not have a body (413). The parser is strict (single spaces in the request
 * line, no folded header lines, one Content-Length, Host on HTTP/1.1), so
 * that it never reads a request otherwise than a proxy in front of it would.
 *
 * The server never prints: the terminal view owns the tty.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include "umlmon.h"

#define HTTP_CONNS	     32
#define HTTP_HEAD_MAX	     8192
#define HTTP_REQUEST_MS	     10000
#define HTTP_SEND_MS	     30000
#define HTTP_LINGER_MS	     2000 /* to drain what a client sent after an answer that closes */
#define HTTP_ACCEPT_PAUSE_MS 100  /* out of descriptors: let some close before accepting again */
#define HTTP_BACKLOG	     64

/* The page as bytes: dashboard.html, made into a C array by the Makefile. */
extern const unsigned char mon_page_html[];
extern const size_t mon_page_html_len;

/* The page loads nothing from elsewhere: its script and style are inline. */
#define HTTP_CSP                                                                                   \
	"default-src 'self'; script-src 'self' 'unsafe-inline'; "                                  \
	"style-src 'self' 'unsafe-inline'; base-uri 'none'; form-action 'none'; "                  \
	"frame-ancestors 'none'"

enum http_state {
	HTTP_FREE,    /* the slot holds no connection */
	HTTP_READING, /* reading a request head */
	HTTP_WRITING, /* sending a response */
	HTTP_LINGER,  /* answered and closing: write side shut, reading to EOF */
};

struct http_conn {
	int fd;
	enum http_state state;
	bool eof;	    /* the client shut its side: answer what is read, then close */
	bool close_after;   /* close once the response is sent */
	long long deadline; /* CLOCK_MONOTONIC ms; past it the connection is closed */
	size_t inlen;
	size_t head_len, sent; /* sent: bytes of head_len + body_len */
	const char *body;
	size_t body_len;
	char *body_owned; /* a body to free once sent (mon_json's buffer) */
	/* The buffers last: http_close clears what is above them. */
	char in[HTTP_HEAD_MAX]; /* the request head being read, and what was pipelined after it */
	char head[768];		/* the response's head */
};

/*
 * The one server. running, thread, port and the descriptors are set by
 * mon_http_start and read by mon_http_stop/mon_http_port, on the caller's
 * thread; everything else belongs to the server's thread while it runs.
 */
static struct {
	struct mon_fleet *f;
	bool running;
	pthread_t thread;
	int lfd, port;
	int wake[2]; /* mon_http_stop writes to wake[1] to end the thread */
	long long accept_paused_until;
	struct http_conn conns[HTTP_CONNS];
} http = {.lfd = -1, .wake = {-1, -1}};

struct http_req {
	bool head_only;	 /* HEAD */
	bool allowed;	 /* GET or HEAD */
	bool keep_alive; /* HTTP/1.1 without Connection: close, or 1.0 with keep-alive */
	bool has_body;	 /* Content-Length > 0, or any Transfer-Encoding */
	const char *path;
	size_t path_len;
};

/* What a route answers with: 0 and its body, or -ENOMEM (503). */
typedef int (*http_get_fn)(const char **body, size_t *len, char **owned);

static int http_get_page(const char **body, size_t *len, char **owned)
{
	*body = (const char *)mon_page_html;
	*len = mon_page_html_len;
	*owned = NULL;
	return 0;
}

static int http_get_fleet(const char **body, size_t *len, char **owned)
{
	struct mon_buf b = {0};

	mon_json(http.f, &b);
	if (b.oom) {
		free(b.p);
		return -ENOMEM;
	}
	*body = *owned = b.p;
	*len = b.len;
	return 0;
}

/* What GET and HEAD serve; any other path is a 404. */
static const struct http_route {
	const char *path;  /* matched whole, without the query */
	const char *type;  /* Content-Type */
	const char *cache; /* Cache-Control */
	http_get_fn get;   /* the body, made on the server's thread for each request */
} http_routes[] = {
    {"/", "text/html; charset=utf-8", "no-cache", http_get_page},
    {"/api/fleet", "application/json", "no-store", http_get_fleet},
};

static const struct http_status {
	int code;
	const char *reason;
} http_statuses[] = {
    {200, "OK"},
    {400, "Bad Request"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {408, "Request Timeout"},
    {413, "Content Too Large"},
    {431, "Request Header Fields Too Large"},
    {503, "Service Unavailable"},
    {505, "HTTP Version Not Supported"},
};

static long long http_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *http_reason(int code)
{
	for (size_t i = 0; i < sizeof(http_statuses) / sizeof(http_statuses[0]); i++)
		if (http_statuses[i].code == code)
			return http_statuses[i].reason;
	return "Error";
}

/* An IMF-fixdate by hand: strftime's day and month names follow the locale. */
static void http_date(char *buf, size_t len)
{
	static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(buf, len, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
		 months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void http_close(struct http_conn *c)
{
	close(c->fd);
	free(c->body_owned);
	memset(c, 0, offsetof(struct http_conn, in));
	c->fd = -1;
	c->state = HTTP_FREE;
}

/*
 * Queue a response: its head in c->head, then @len bytes of @body (not sent
 * for HEAD, though Content-Length says what GET would get). @owned is freed
 * once sent. @extra is more header lines, each ending in CRLF.
 */
static void http_respond(struct http_conn *c, long long now, int code, const char *type,
			 const char *cache, const char *extra, const char *body, size_t len,
			 char *owned, bool head_only)
{
	char date[40];
	int n;

	http_date(date, sizeof(date));
	n = snprintf(c->head, sizeof(c->head),
		     "HTTP/1.1 %d %s\r\n"
		     "Date: %s\r\n"
		     "Server: umlmon\r\n"
		     "Content-Type: %s\r\n"
		     "Content-Length: %zu\r\n"
		     "Cache-Control: %s\r\n"
		     "X-Content-Type-Options: nosniff\r\n"
		     "Content-Security-Policy: " HTTP_CSP "\r\n"
		     "Referrer-Policy: no-referrer\r\n"
		     "%s"
		     "Connection: %s\r\n"
		     "\r\n",
		     code, http_reason(code), date, type, len, cache, extra,
		     c->close_after ? "close" : "keep-alive");
	assert(n > 0 && (size_t)n < sizeof(c->head));
	c->head_len = (size_t)n;
	c->sent = 0;
	if (head_only) {
		free(owned);
		body = owned = NULL;
		len = 0;
	}
	c->body = body;
	c->body_len = len;
	c->body_owned = owned;
	c->state = HTTP_WRITING;
	c->deadline = now + HTTP_SEND_MS;
}

static void http_error(struct http_conn *c, long long now, int code, bool head_only)
{
	char body[64];
	int n = snprintf(body, sizeof(body), "%d %s\n", code, http_reason(code));
	char *owned = strdup(body);

	/* Without memory for the text, the status line still says it all. */
	http_respond(c, now, code, "text/plain; charset=utf-8", "no-store",
		     code == 405 ? "Allow: GET, HEAD\r\n" : "", owned, owned ? (size_t)n : 0, owned,
		     head_only);
}

static bool http_tchar(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* Whether the comma-separated tokens of @v (of @n bytes) hold @token, in any case. */
static bool http_has_token(const char *v, size_t n, const char *token)
{
	size_t tl = strlen(token), i = 0, s, e;

	while (i < n) {
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == tl && !strncasecmp(v + s, token, tl))
			return true;
	}
	return false;
}

/* Whether the header name from @name to @colon is @want, in any case. */
static bool http_name_is(const char *name, const char *colon, const char *want)
{
	size_t n = (size_t)(colon - name);

	return n == strlen(want) && !strncasecmp(name, want, n);
}

/*
 * Parse the request head @p[0..n), which ends with its empty line. 0 with @r
 * filled, or the status to answer with (400, 505). Every line is checked
 * whole, those we ignore too: a byte a proxy might read differently is
 * refused rather than guessed at.
 */
static int http_parse(const char *p, size_t n, struct http_req *r)
{
	const char *end = p + n, *line, *eol, *sp, *t, *v;
	bool http11, conn_close = false, conn_keep = false;
	int hosts = 0, lengths = 0;
	size_t ll;

	memset(r, 0, sizeof(*r));
	line = p;
	eol = memchr(line, '\n', (size_t)(end - line));
	ll = (size_t)(eol - line);
	if (ll && line[ll - 1] == '\r')
		ll--;

	/* method SP request-target SP HTTP-version */
	for (sp = line; sp < line + ll && http_tchar((unsigned char)*sp); sp++)
		;
	if (sp == line || sp == line + ll || *sp != ' ')
		return 400;
	r->head_only = sp - line == 4 && !memcmp(line, "HEAD", 4);
	r->allowed = r->head_only || (sp - line == 3 && !memcmp(line, "GET", 3));
	t = sp + 1;
	for (sp = t; sp < line + ll && (unsigned char)*sp > ' ' && (unsigned char)*sp < 0x7f; sp++)
		;
	if (sp == t || sp == line + ll || *sp != ' ')
		return 400;
	v = sp + 1;
	if ((size_t)(line + ll - v) != 8 || memcmp(v, "HTTP/", 5) || v[6] != '.' || v[5] < '0' ||
	    v[5] > '9' || v[7] < '0' || v[7] > '9')
		return 400;
	if (v[5] != '1')
		return 505;
	http11 = v[7] != '0';

	/* origin-form, or absolute-form (as a proxy sends it): the path, less the query */
	if (*t != '/') {
		const char *s = memmem(t, (size_t)(sp - t), "://", 3);

		/* "*" (OPTIONS) or garbage: a path of nothing, which no route has */
		t = s ? memchr(s + 3, '/', (size_t)(sp - s - 3)) : NULL;
		if (!t)
			t = sp;
	}
	r->path = t;
	for (r->path_len = 0; t + r->path_len < sp && t[r->path_len] != '?'; r->path_len++)
		;

	for (line = eol + 1; line < end; line = eol + 1) {
		const char *colon, *val, *vend;

		eol = memchr(line, '\n', (size_t)(end - line));
		ll = (size_t)(eol - line);
		if (ll && line[ll - 1] == '\r')
			ll--;
		if (!ll)
			break;
		for (colon = line; colon < line + ll && http_tchar((unsigned char)*colon); colon++)
			;
		/* No name, space before the colon, or a folded line: all refused (RFC 9112 5). */
		if (colon == line || colon == line + ll || *colon != ':')
			return 400;
		for (val = colon + 1; val < line + ll && (*val == ' ' || *val == '\t'); val++)
			;
		for (vend = line + ll; vend > val && (vend[-1] == ' ' || vend[-1] == '\t'); vend--)
			;
		for (const char *q = val; q < vend; q++)
			if (((unsigned char)*q < ' ' && *q != '\t') || *q == 0x7f)
				return 400;
		if (http_name_is(line, colon, "host")) {
			hosts++;
		} else if (http_name_is(line, colon, "connection")) {
			conn_close |= http_has_token(val, (size_t)(vend - val), "close");
			conn_keep |= http_has_token(val, (size_t)(vend - val), "keep-alive");
		} else if (http_name_is(line, colon, "content-length")) {
			if (++lengths > 1 || val == vend)
				return 400;
			for (const char *q = val; q < vend; q++) {
				if (*q < '0' || *q > '9')
					return 400;
				r->has_body |= *q != '0';
			}
		} else if (http_name_is(line, colon, "transfer-encoding")) {
			r->has_body = true;
		}
	}
	if (hosts > 1 || (http11 && !hosts) || (r->allowed && !r->path_len))
		return 400;
	r->keep_alive = http11 ? !conn_close : conn_keep && !conn_close;
	return 0;
}

/* Answer the request head in c->in[0..n). */
static void http_request(struct http_conn *c, size_t n, long long now)
{
	struct http_req r;
	const char *body;
	char *owned;
	size_t len;
	int code;

	code = http_parse(c->in, n, &r);
	c->close_after = code || !r.keep_alive || r.has_body || c->eof;
	if (!code && !r.allowed)
		code = 405;
	else if (!code && r.has_body)
		code = 413;
	if (code) {
		http_error(c, now, code, r.head_only);
		return;
	}
	for (size_t i = 0; i < sizeof(http_routes) / sizeof(http_routes[0]); i++) {
		const struct http_route *rt = &http_routes[i];

		if (strlen(rt->path) != r.path_len || memcmp(rt->path, r.path, r.path_len))
			continue;
		if (rt->get(&body, &len, &owned) < 0) {
			http_error(c, now, 503, r.head_only);
			return;
		}
		http_respond(c, now, 200, rt->type, rt->cache, "", body, len, owned, r.head_only);
		return;
	}
	http_error(c, now, 404, r.head_only);
}

/* Where the head in c->in ends: past its empty line; 0 while it has not come whole. */
static size_t http_head_end(const struct http_conn *c)
{
	const char *p = c->in, *end = c->in + c->inlen, *nl;

	while ((nl = memchr(p, '\n', (size_t)(end - p)))) {
		if (nl + 1 < end && nl[1] == '\n')
			return (size_t)(nl + 2 - c->in);
		if (nl + 2 < end && nl[1] == '\r' && nl[2] == '\n')
			return (size_t)(nl + 3 - c->in);
		p = nl + 1;
	}
	return 0;
}

/*
 * Send what is left of the response. true when all of it is and the
 * connection waits for its next request; false while some is left, or when
 * the connection is closing or closed.
 */
static bool http_send(struct http_conn *c, long long now)
{
	while (c->sent < c->head_len + c->body_len) {
		struct iovec iov[2];
		struct msghdr mh = {.msg_iov = iov};
		ssize_t w;

		if (c->sent < c->head_len) {
			iov[0] = (struct iovec){c->head + c->sent, c->head_len - c->sent};
			iov[1] = (struct iovec){(void *)c->body, c->body_len};
			mh.msg_iovlen = c->body_len ? 2 : 1;
		} else {
			iov[0] = (struct iovec){(void *)(c->body + (c->sent - c->head_len)),
						c->head_len + c->body_len - c->sent};
			mh.msg_iovlen = 1;
		}
		w = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return false;
		if (w < 0) {
			http_close(c);
			return false;
		}
		c->sent += (size_t)w;
	}
	free(c->body_owned);
	c->body_owned = NULL;
	c->body = NULL;
	c->head_len = c->body_len = c->sent = 0;
	if (c->close_after) {
		/*
		 * Closing with unread input would reset the connection, and a reset
		 * can destroy the response in the client's buffers before it is read:
		 * end our side, and read theirs to its end for a while (a lingering
		 * close).
		 */
		shutdown(c->fd, SHUT_WR);
		c->state = HTTP_LINGER;
		c->deadline = now + HTTP_LINGER_MS;
		return false;
	}
	c->state = HTTP_READING;
	c->deadline = now + HTTP_REQUEST_MS;
	return true;
}

/* Answer each whole request head read so far, in order (pipelining). */
static void http_serve(struct http_conn *c, long long now)
{
	size_t skip, end;

	while (c->state == HTTP_READING) {
		/* Empty lines before a request line are ignored (RFC 9112 2.2). */
		for (skip = 0; skip < c->inlen && (c->in[skip] == '\r' || c->in[skip] == '\n');
		     skip++)
			;
		memmove(c->in, c->in + skip, c->inlen - skip);
		c->inlen -= skip;
		end = http_head_end(c);
		if (!end) {
			if (c->inlen == HTTP_HEAD_MAX) {
				c->close_after = true;
				c->inlen = 0;
				http_error(c, now, 431, false);
				http_send(c, now);
			} else if (c->eof) {
				http_close(c);
			}
			return;
		}
		http_request(c, end, now);
		memmove(c->in, c->in + end, c->inlen - end);
		c->inlen -= end;
		if (!http_send(c, now))
			return;
	}
}

static void http_read(struct http_conn *c, long long now)
{
	ssize_t r;

	if (c->inlen == HTTP_HEAD_MAX) {
		http_serve(c, now);
		return;
	}
	do
		r = recv(c->fd, c->in + c->inlen, HTTP_HEAD_MAX - c->inlen, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (r < 0) {
		http_close(c);
		return;
	}
	if (r == 0)
		c->eof = true;
	c->inlen += (size_t)r;
	http_serve(c, now);
}

/* Read and drop what the client still sends after an answer that closes; close at its EOF. */
static void http_linger(struct http_conn *c)
{
	ssize_t r;

	do
		r = recv(c->fd, c->in, sizeof(c->in), 0);
	while (r > 0 || (r < 0 && errno == EINTR));
	if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
		http_close(c);
}

static void http_timeout(struct http_conn *c, long long now)
{
	if (c->state == HTTP_READING && c->inlen) {
		/* A request begun and not finished in time: say so, briefly. */
		c->close_after = true;
		c->inlen = 0;
		http_error(c, now, 408, false);
		c->deadline = now + 1000;
		http_send(c, now);
		return;
	}
	http_close(c);
}

static void http_accept(long long now)
{
	for (int i = 0; i < HTTP_BACKLOG; i++) {
		int fd = accept4(http.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), one = 1;
		struct http_conn *c = NULL;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM)
				http.accept_paused_until = now + HTTP_ACCEPT_PAUSE_MS;
			return;
		}
		for (int j = 0; j < HTTP_CONNS && !c; j++)
			if (http.conns[j].state == HTTP_FREE)
				c = &http.conns[j];
		if (!c) {
			close(fd);
			continue;
		}
		/* Pipelined answers go out as they are made, not after a delayed ACK. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->fd = fd;
		c->state = HTTP_READING;
		c->eof = c->close_after = false;
		c->inlen = 0;
		c->deadline = now + HTTP_REQUEST_MS;
	}
}

static void *http_main(void *arg)
{
	struct pollfd pfd[2 + HTTP_CONNS];
	int slot[2 + HTTP_CONNS];

	(void)arg;
	for (;;) {
		long long now = http_now_ms(), next = now + 1000;
		bool listening = now >= http.accept_paused_until;
		int n = 0, i;

		pfd[n++] = (struct pollfd){.fd = http.wake[0], .events = POLLIN};
		if (listening)
			pfd[n++] = (struct pollfd){.fd = http.lfd, .events = POLLIN};
		else if (http.accept_paused_until < next)
			next = http.accept_paused_until;
		for (i = 0; i < HTTP_CONNS; i++) {
			struct http_conn *c = &http.conns[i];

			if (c->state == HTTP_FREE)
				continue;
			pfd[n] = (struct pollfd){
			    .fd = c->fd, .events = c->state == HTTP_WRITING ? POLLOUT : POLLIN};
			slot[n++] = i;
			if (c->deadline < next)
				next = c->deadline;
		}
		if (poll(pfd, (nfds_t)n, next > now ? (int)(next - now) : 0) < 0) {
			if (errno == EINTR)
				continue;
			/* Out of memory for the poll set: wait, as for descriptors. */
			http.accept_paused_until = http_now_ms() + HTTP_ACCEPT_PAUSE_MS;
			usleep(HTTP_ACCEPT_PAUSE_MS * 1000);
			continue;
		}
		if (pfd[0].revents)
			break;
		now = http_now_ms();
		for (i = listening ? 2 : 1; i < n; i++) {
			struct http_conn *c = &http.conns[slot[i]];

			if (!pfd[i].revents)
				continue;
			if (c->state == HTTP_READING)
				http_read(c, now);
			else if (c->state == HTTP_WRITING && http_send(c, now))
				http_serve(c, now);
			else if (c->state == HTTP_LINGER)
				http_linger(c);
		}
		/* After the others, so that a slot freed just now serves a newcomer. */
		if (listening && pfd[1].revents)
			http_accept(now);
		for (i = 0; i < HTTP_CONNS; i++)
			if (http.conns[i].state != HTTP_FREE && now >= http.conns[i].deadline)
				http_timeout(&http.conns[i], now);
	}
	for (int i = 0; i < HTTP_CONNS; i++)
		if (http.conns[i].state != HTTP_FREE)
			http_close(&http.conns[i]);
	return NULL;
}

/* A listening socket on the first of @ai that takes one; its descriptor or a negative errno. */
static int http_bind(const struct addrinfo *ai, const char *spec, char *why, size_t whylen)
{
	int fd, one = 1, err = -EADDRNOTAVAIL;

	for (; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0) {
			err = -errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, HTTP_BACKLOG) == 0)
			return fd;
		err = -errno;
		close(fd);
	}
	snprintf(why, whylen, "dashboard: cannot listen on %s: %s", spec, strerror(-err));
	return err;
}

/*
 * Serve the fleet @f on @listen ("host:port", "[v6]:port"; port 0 picks one,
 * which mon_http_port tells) from a host thread of its own.
 * Returns 0; -EINVAL for a @listen that does not parse or resolve, -EBUSY
 * when already serving, or the errno of socket, bind, listen, pipe or
 * pthread_create, each with a sentence in @why.
 */
int mon_http_start(struct mon_fleet *f, const char *listen, char *why, size_t whylen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV},
			*ai;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[256], port[6];
	sigset_t all, old;
	int err, portnum;

	if (http.running) {
		snprintf(why, whylen, "dashboard: already serving on port %d", http.port);
		return -EBUSY;
	}
	if (mon_parse_listen(listen, host, sizeof(host), &portnum) == 0)
		snprintf(port, sizeof(port), "%d", portnum);
	else {
		snprintf(why, whylen, "dashboard: listen \"%s\": want host:port or [v6]:port",
			 listen);
		return -EINVAL;
	}
	err = getaddrinfo(host, port, &hints, &ai);
	if (err) {
		snprintf(why, whylen, "dashboard: listen %s: %s", listen, gai_strerror(err));
		return -EINVAL;
	}
	http.lfd = http_bind(ai, listen, why, whylen);
	freeaddrinfo(ai);
	if (http.lfd < 0) {
		err = http.lfd;
		goto out;
	}
	if (getsockname(http.lfd, (struct sockaddr *)&ss, &sl)) {
		err = -errno;
		snprintf(why, whylen, "dashboard: getsockname: %s", strerror(errno));
		goto out_close;
	}
	http.port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						   : ((struct sockaddr_in *)&ss)->sin_port);
	if (pipe2(http.wake, O_CLOEXEC | O_NONBLOCK)) {
		err = -errno;
		snprintf(why, whylen, "dashboard: pipe: %s", strerror(errno));
		goto out_close;
	}
	http.f = f;
	http.accept_paused_until = 0;
	for (int i = 0; i < HTTP_CONNS; i++) {
		http.conns[i].fd = -1;
		http.conns[i].state = HTTP_FREE;
	}
	/* Signals are the main thread's (the terminal view's SIGWINCH, SIGINT): none here. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = -pthread_create(&http.thread, NULL, http_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		snprintf(why, whylen, "dashboard: pthread_create: %s", strerror(-err));
		goto out_pipe;
	}
	http.running = true;
	return 0;

out_pipe:
	close(http.wake[0]);
	close(http.wake[1]);
	http.wake[0] = http.wake[1] = -1;
out_close:
	close(http.lfd);
out:
	http.lfd = -1;
	return err;
}

/* The port the dashboard listens on, or -ENOTCONN when it does not. */
int mon_http_port(void)
{
	return http.running ? http.port : -ENOTCONN;
}

/* Stop serving: the thread is joined, every connection and the socket closed. */
void mon_http_stop(void)
{
	if (!http.running)
		return;
	while (write(http.wake[1], "", 1) < 0 && errno == EINTR)
		;
	pthread_join(http.thread, NULL);
	close(http.wake[0]);
	close(http.wake[1]);
	close(http.lfd);
	http.wake[0] = http.wake[1] = http.lfd = -1;
	http.running = false;
}
