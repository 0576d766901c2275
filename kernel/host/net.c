/*
 * Host sockets for kernel/net: listening, accepting, and moving bytes
 * without ever blocking the host thread (a kernel thread that must wait
 * asks the scheduler with kthread_wait_fd). Calls return a count, a file
 * descriptor or a negative errno; EINTR is retried here.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "uml/host.h"

int host_listen(const struct sockaddr *sa, socklen_t len, bool stream, int backlog)
{
	int fd, one = 1;

	fd = socket(sa->sa_family,
		    (stream ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, sa, len) < 0 || (stream && listen(fd, backlog) < 0)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int host_sockname(int fd, struct sockaddr_storage *ss, socklen_t *len)
{
	*len = sizeof(*ss);
	return getsockname(fd, (struct sockaddr *)ss, len) ? -errno : 0;
}

int host_accept(int fd, struct sockaddr_storage *peer, socklen_t *len)
{
	int c, one = 1;

	do {
		*len = sizeof(*peer);
		c = accept4(fd, (struct sockaddr *)peer, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	} while (c < 0 && errno == EINTR);
	if (c < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	/* Replies are whole records, written at once: don't hold them back. */
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return c;
}

int host_connect(const struct sockaddr *sa, socklen_t len)
{
	int fd, one = 1;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Calls are whole records, written at once: don't hold them back. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, sa, len) < 0 && errno != EINPROGRESS) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int host_sock_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	return -err;
}

ssize_t host_recv(int fd, void *buf, size_t len)
{
	ssize_t n;

	do
		n = recv(fd, buf, len, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	return n < 0 ? (errno == EWOULDBLOCK ? -EAGAIN : -errno) : n;
}

ssize_t host_send(int fd, const void *buf, size_t len)
{
	ssize_t n;

	do
		n = send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? (errno == EWOULDBLOCK ? -EAGAIN : -errno) : n;
}

ssize_t host_recvfrom(int fd, void *buf, size_t len, struct sockaddr_storage *peer, socklen_t *plen)
{
	ssize_t n;

	do {
		*plen = sizeof(*peer);
		n = recvfrom(fd, buf, len, MSG_DONTWAIT, (struct sockaddr *)peer, plen);
	} while (n < 0 && errno == EINTR);
	return n < 0 ? (errno == EWOULDBLOCK ? -EAGAIN : -errno) : n;
}

ssize_t host_sendto(int fd, const void *buf, size_t len, const struct sockaddr_storage *peer,
		    socklen_t plen)
{
	ssize_t n =
	    sendto(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)peer, plen);

	return n < 0 ? -errno : n;
}

void *host_map_private(size_t size)
{
	/* Reserved, not committed: pages are backed once touched. */
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}
