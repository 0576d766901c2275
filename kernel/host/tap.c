/*
 * TAP queues for kernel/net/inet: the machine's Ethernet wire. A TAP device
 * is a network interface of the host whose other end is a file: what the
 * host sends on it we read as frames, what we write it receives. Each open
 * is one queue of a multi-queue device (one per CPU), non-blocking and
 * close-on-exec, frames without the packet-information prefix; with
 * HOST_TAP_VNET each frame comes and goes behind a virtio-net header, and
 * the host may hand us (and take from us) TCP segments of up to 64 KiB and
 * checksums left for the receiver to finish. Those are the device's flags,
 * not the queue's: the kernel sets them on the whole device at each
 * attach, so every queue of one device must ask for the same.
 * Addresses, MTU and "up" on the host side are the host's administrator's
 * (or the test's, with ip link).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <string.h>
#include <linux/virtio_net.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "uml/host.h"

_Static_assert(sizeof(struct virtio_net_hdr) == HOST_TAP_VNET_HLEN, "the legacy header");

/*
 * Checksums and TCP segmentation of both families. No UFO/USO, no
 * TSO_ECN: the host cuts those in software before they reach us. (TSO6
 * waited until kernel/net/inet/vnet.c took IPv6 segments of many MSS: a
 * host told it could send them did, and every TCP transfer over IPv6
 * stalled while they were refused.)
 */
#define TAP_OFFLOADS (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)

int host_tap_open(const char *name, unsigned flags, char ifname[HOST_IFNAMSIZ])
{
	struct ifreq ifr;
	int fd, err, hlen = HOST_TAP_VNET_HLEN;

	if (!name || strlen(name) >= IFNAMSIZ)
		return -EINVAL;
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE;
	if (flags & HOST_TAP_VNET)
		ifr.ifr_flags |= IFF_VNET_HDR;
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		/* A device of another kind or without multi-queue under that name. */
		err = errno == EINVAL ? -EBUSY : -errno;
		goto out_close;
	}
	/* The size is the device's default already; said anyway, it is what we parse. */
	if ((flags & HOST_TAP_VNET) &&
	    (ioctl(fd, TUNSETVNETHDRSZ, &hlen) < 0 ||
	     ioctl(fd, TUNSETOFFLOAD, (unsigned long)TAP_OFFLOADS) < 0)) {
		err = -errno;
		goto out_close;
	}
	if (ifname) {
		memcpy(ifname, ifr.ifr_name, IFNAMSIZ);
		ifname[IFNAMSIZ - 1] = '\0';
	}
	return fd;

out_close:
	close(fd);
	return err;
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

ssize_t host_tap_readv(int fd, const struct iovec *iov, int n)
{
	ssize_t r;

	do
		r = readv(fd, iov, n);
	while (r < 0 && errno == EINTR);
	return r < 0 ? (errno == EWOULDBLOCK ? -EAGAIN : -errno) : r;
}

ssize_t host_tap_writev(int fd, const struct iovec *iov, int n)
{
	ssize_t r;

	do
		r = writev(fd, iov, n);
	while (r < 0 && errno == EINTR);
	return r < 0 ? (errno == EWOULDBLOCK ? -EAGAIN : -errno) : r;
}
