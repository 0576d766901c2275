/*
 * Host waiting: epoll sets, doorbells, the broadcast and page protection
 * for the scheduler. Doorbells are abstract-namespace datagram sockets:
 * another process wakes a CPU's epoll_wait by sending one byte, with no
 * shared fd. The broadcast is one eventfd that every CPU shares.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "uml/host.h"

int host_protect(void *addr, size_t len, bool none)
{
	return mprotect(addr, len, none ? PROT_NONE : PROT_READ | PROT_WRITE) ? -errno : 0;
}

void host_sleep_ns(uint64_t ns)
{
	struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* HOST_POLL* bits to epoll's and back: callers never see EPOLL* values. */
static const struct {
	uint32_t host, epoll;
} poll_bits[] = {
    {HOST_POLLIN, EPOLLIN},	  {HOST_POLLOUT, EPOLLOUT}, {HOST_POLLERR, EPOLLERR},
    {HOST_POLLHUP, EPOLLHUP},	  {HOST_POLLET, EPOLLET},   {HOST_POLLEXCLUSIVE, EPOLLEXCLUSIVE},
    {HOST_POLLRDHUP, EPOLLRDHUP},
};

static uint32_t to_epoll(uint32_t events)
{
	uint32_t e = 0;

	for (size_t i = 0; i < sizeof(poll_bits) / sizeof(poll_bits[0]); i++)
		if (events & poll_bits[i].host)
			e |= poll_bits[i].epoll;
	return e;
}

static uint32_t from_epoll(uint32_t e)
{
	uint32_t events = 0;

	for (size_t i = 0; i < sizeof(poll_bits) / sizeof(poll_bits[0]); i++)
		if (e & poll_bits[i].epoll)
			events |= poll_bits[i].host;
	return events;
}

/*
 * One socket's readiness with poll(2), for a host thread that has no CPU's
 * epoll set to wait in (a kernel thread asks kthread_wait_fd instead).
 * poll(2) and epoll share the bit values of the events taken here.
 */
_Static_assert(POLLIN == EPOLLIN && POLLOUT == EPOLLOUT && POLLERR == EPOLLERR &&
		   POLLHUP == EPOLLHUP,
	       "poll and epoll bits differ");

int host_wait_fd(int fd, uint32_t events, int timeout_ms)
{
	struct pollfd p = {.fd = fd,
			   .events = (short)to_epoll(events & (HOST_POLLIN | HOST_POLLOUT))};
	int n = poll(&p, 1, timeout_ms);

	if (n < 0)
		return -errno;
	return n == 0 ? -ETIMEDOUT : (int)from_epoll((uint32_t)p.revents);
}

int host_poll_create(void)
{
	int fd = epoll_create1(EPOLL_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int host_poll_arm(int epfd, int fd, uint32_t events, void *ptr)
{
	struct epoll_event ev = {.events = to_epoll(events) | EPOLLONESHOT, .data.ptr = ptr};

	if (epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) == 0)
		return 0;
	if (errno == ENOENT && epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
		return 0;
	return -errno;
}

int host_poll_add(int epfd, int fd, uint32_t events, void *ptr)
{
	struct epoll_event ev = {.events = to_epoll(events), .data.ptr = ptr};

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

int host_poll_forget(int epfd, int fd)
{
	return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL) ? -errno : 0;
}

int host_poll_wait(int epfd, struct host_poll_event *ev, int n, int timeout_ms)
{
	struct epoll_event e[64];
	int got;

	if (n > 64)
		n = 64;
	got = epoll_wait(epfd, e, n, timeout_ms);
	if (got < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < got; i++) {
		ev[i].events = from_epoll(e[i].events);
		ev[i].ptr = e[i].data.ptr;
	}
	return got;
}

static socklen_t doorbell_addr(const char *name, struct sockaddr_un *sa)
{
	size_t len = strnlen(name, sizeof(sa->sun_path) - 2);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path + 1, name, len); /* sun_path[0] = 0: abstract */
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len);
}

int host_doorbell_open(const char *name)
{
	struct sockaddr_un sa;
	socklen_t len = doorbell_addr(name, &sa);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, len)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

void host_doorbell_ring(const char *name)
{
	static __thread int sfd = -1;
	struct sockaddr_un sa;
	socklen_t len = doorbell_addr(name, &sa);

	if (sfd < 0)
		sfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	/* A full queue means a ring is already pending: nothing is lost. */
	(void)sendto(sfd, "", 1, MSG_DONTWAIT, (struct sockaddr *)&sa, len);
}

void host_doorbell_drain(int fd)
{
	char buf[64];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

void host_close(int fd)
{
	close(fd);
}

int host_bcast_open(uint64_t *id)
{
	/* Close-on-exec: forks keep it (they are the machine's), programs they exec don't. */
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), err;

	if (fd < 0)
		return -errno;
	err = host_bcast_id(fd, id);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

int host_bcast_id(int fd, uint64_t *id)
{
	char path[64], buf[512];
	const char *at;
	ssize_t len;
	int pfd;

	if (fd < 0)
		return -EBADF;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	pfd = open(path, O_RDONLY | O_CLOEXEC);
	if (pfd < 0)
		return errno == ENOENT ? -EBADF : -errno;
	len = read(pfd, buf, sizeof(buf) - 1);
	close(pfd);
	if (len < 0)
		return -EIO;
	buf[len] = '\0';
	at = strstr(buf, "eventfd-id:");
	if (!at)
		return -ENOENT;
	*id = strtoull(at + strlen("eventfd-id:"), NULL, 10);
	return 0;
}

void host_bcast_ring(int fd)
{
	uint64_t one = 1;

	/* The count never nears its limit (2^64 - 2 rings): nothing to read back. */
	(void)!write(fd, &one, sizeof(one));
}
