/*
 * httpd's listening sockets: ListenBacklog applied live, and their accept
 * queues for /status/listeners.
 *
 * listen(2) on a socket that already listens changes its backlog on Linux;
 * the socket is shared by every child, so any child calling it changes it for
 * all (each does, which is harmless and needs no election). For a listening
 * TCP socket, Linux's TCP_INFO reports the current accept-queue length in
 * tcpi_unacked and the backlog in effect in tcpi_sacked.
 */
#include <errno.h>
#include <stdio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>

#include "ap_listen.h"
#include "apr_network_io.h"
#include "apr_portable.h"
#include "mpm_common.h"

#include "umlconf.h"

static int listener_fd(ap_listen_rec *lr)
{
	apr_os_sock_t fd = -1;

	if (!lr->sd || apr_os_sock_get(&fd, lr->sd) != APR_SUCCESS)
		return -1;
	return fd;
}

int umlconf_listeners_backlog(int backlog)
{
	int rc = 0;

	for (ap_listen_rec *lr = ap_listeners; lr; lr = lr->next) {
		int fd = listener_fd(lr);

		if (fd < 0)
			continue;
		if (listen(fd, backlog) < 0) {
			rc = -errno;
			ap_log_error(APLOG_MARK, APLOG_ERR, errno, umlconf_server,
				     UMLCONF_LOGNO(10012) "listen(%d) on fd %d failed; the backlog "
							  "of that socket is unchanged",
				     backlog, fd);
		}
	}
	return rc;
}

void umlconf_listeners_each(void (*fn)(const struct umlconf_listener *l, void *arg), void *arg)
{
	for (ap_listen_rec *lr = ap_listeners; lr; lr = lr->next) {
		struct umlconf_listener l;
		struct tcp_info ti = {0};
		socklen_t tl = sizeof(ti);
		char *ip = NULL;
		int fd = listener_fd(lr);
		apr_sockaddr_t *sa = lr->bind_addr;

		if (fd < 0 || !sa)
			continue;
		apr_sockaddr_ip_get(&ip, sa);
		if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) < 0)
			continue;
		snprintf(l.addr, sizeof(l.addr), sa->family == AF_INET6 ? "[%s]:%u" : "%s:%u",
			 ip ? ip : "?", (unsigned)sa->port);
		l.backlog = ti.tcpi_sacked;
		l.queue = ti.tcpi_unacked;
		fn(&l, arg);
	}
}

struct render_ctx {
	char *buf;
	size_t size, len;
};

static void render_one(const struct umlconf_listener *l, void *arg)
{
	struct render_ctx *c = arg;

	umlconf_buf_printf(c->buf, c->size, &c->len, "%s backlog %u queue %u\n", l->addr,
			   l->backlog, l->queue);
}

size_t umlconf_listeners_render(char *buf, size_t size)
{
	struct render_ctx c = {.buf = buf, .size = size};

	buf[0] = '\0';
	umlconf_listeners_each(render_one, &c);
	return c.len;
}

/* ListenBacklog is a core directive whose value httpd keeps private. */
int umlconf_listeners_configured_backlog(void)
{
	int v = DEFAULT_LISTENBACKLOG;

	for (ap_directive_t *d = ap_conftree; d; d = d->next) {
		if (strcasecmp(d->directive, "ListenBacklog") == 0 && d->args) {
			int n = atoi(d->args);

			if (n > 0)
				v = n;
		}
	}
	return v;
}
