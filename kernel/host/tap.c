/*
 * TAP queues for kernel/net/inet: the machine's Ethernet wire. A TAP device
 * is a network interface of the host whose other end is a file: what the
 * host sends on it we read as frames, what we write it receives. Each open
 * is one queue of a multi-queue device (one per CPU), non-blocking and
 * close-on-exec, frames without the packet-information prefix and without
 * a virtio-net header. Addresses, MTU and "up" on the host side are the
 * host's administrator's (or the test's, with ip link).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "uml/host.h"

int host_tap_open(const char *name, char ifname[HOST_IFNAMSIZ])
{
	struct ifreq ifr;
	int fd, err;

	if (!name || strlen(name) >= IFNAMSIZ)
		return -EINVAL;
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE;
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		/* A device of another kind or without multi-queue under that name. */
		err = errno == EINVAL ? -EBUSY : -errno;
		close(fd);
		return err;
	}
	if (ifname) {
		memcpy(ifname, ifr.ifr_name, IFNAMSIZ);
		ifname[IFNAMSIZ - 1] = '\0';
	}
	return fd;
}

ssize_t host_tap_read(int fd, void *buf, size_t len)
{
	ssize_t n;

	do
		n = read(fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n < 0 ? (errno == EWOULDBLOCK ? -EAGAIN : -errno) : n;
}

ssize_t host_tap_write(int fd, const void *buf, size_t len)
{
	ssize_t n;

	do
		n = write(fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n < 0 ? (errno == EWOULDBLOCK ? -EAGAIN : -errno) : n;
}
