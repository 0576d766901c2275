/*
 * libuml's calls for the machine's own network: thin wrappers over
 * kernel/net/inet and the sunrpc transports on it.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "uml.h"
#include "uml/inet.h"
#include "uml/inet_sock.h"
#include "uml/nfs3.h"
#include "uml/svc.h"

_Static_assert(UML_NET_IFS_MAX == INET_MAX_IFS, "uml.h and the stack agree on the interfaces");

/* "a.b.c.d" into host order; false when it is not one. */
static bool parse_v4(const char *s, uint32_t *out)
{
	struct in_addr a;

	if (!s || inet_pton(AF_INET, s, &a) != 1)
		return false;
	*out = ntohl(a.s_addr);
	return true;
}

/* Whether the first @bits bits of @a and @b agree. */
static bool prefix6_match(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;

	return !memcmp(a, b, whole) &&
	       (!rest || ((a[whole] ^ b[whole]) & (0xff00u >> rest) & 0xff) == 0);
}

/* @cidr6 ("fd00::2/64") and @gateway6 (NULL: none) into @cfg, with netif_create's rules. */
static int if_parse6(const char *cidr6, const char *gateway6, struct netif_config *cfg, char *err,
		     size_t errlen)
{
	static const uint8_t zero[16], loopback[16] = {[15] = 1};
	char addr[INET6_ADDRSTRLEN];
	const char *slash = strchr(cidr6, '/');
	const uint8_t *a = cfg->addr6.a, *g = cfg->gateway6.a;
	char *end;
	unsigned long prefix;

	if (!slash || (size_t)(slash - cidr6) >= sizeof(addr)) {
		snprintf(err, errlen, "%s: an IPv6 address with its prefix, as fd00::2/64", cidr6);
		return -EINVAL;
	}
	memcpy(addr, cidr6, (size_t)(slash - cidr6));
	addr[slash - cidr6] = '\0';
	errno = 0;
	prefix = strtoul(slash + 1, &end, 10);
	if (inet_pton(AF_INET6, addr, cfg->addr6.a) != 1 || !slash[1] || *end || errno ||
	    prefix < 1 || prefix > 128) {
		snprintf(err, errlen, "%s: an IPv6 address and a prefix of 1 to 128", cidr6);
		return -EINVAL;
	}
	if (!memcmp(a, zero, 16) || !memcmp(a, loopback, 16) || inet_addr_is_v4(&cfg->addr6) ||
	    a[0] == 0xff || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)) {
		snprintf(err, errlen,
			 "%s: not a global unicast address (unspecified, loopback, v4-mapped, "
			 "link-local -- the machine makes its own -- or multicast)",
			 cidr6);
		return -EINVAL;
	}
	cfg->prefix6_len = (unsigned)prefix;
	if (!gateway6)
		return 0;
	if (inet_pton(AF_INET6, gateway6, cfg->gateway6.a) != 1) {
		snprintf(err, errlen, "gateway %s: not an IPv6 address", gateway6);
		return -EINVAL;
	}
	if (g[0] == 0xff || !memcmp(g, a, 16) ||
	    !((g[0] == 0xfe && (g[1] & 0xc0) == 0x80) || prefix6_match(g, a, cfg->prefix6_len))) {
		snprintf(err, errlen, "gateway %s: neither link-local nor another host of %s",
			 gateway6, cidr6);
		return -EINVAL;
	}
	return 0;
}

/*
 * @tap, @cidr and @gateway (and @cidr6 and @gateway6 when not NULL) into
 * @cfg, with the rules netif_create applies, so that a mistake is named
 * before there is a machine to ask: 0 or -EINVAL with the bad word in @err.
 */
static int if_parse(const char *tap, const char *cidr, const char *gateway, const char *cidr6,
		    const char *gateway6, struct netif_config *cfg, char *err, size_t errlen)
{
	char addr[INET_ADDRSTRLEN];
	const char *slash = cidr ? strchr(cidr, '/') : NULL;
	char *end;
	unsigned long prefix;
	uint32_t mask, host;

	memset(cfg, 0, sizeof(*cfg));
	if (!tap || !*tap || strlen(tap) >= sizeof(cfg->name)) {
		snprintf(err, errlen, "interface name \"%s\": 1 to %zu characters", tap ? tap : "",
			 sizeof(cfg->name) - 1);
		return -EINVAL;
	}
	if (!slash || (size_t)(slash - cidr) >= sizeof(addr)) {
		snprintf(err, errlen, "%s: an address with its prefix, as 10.0.0.2/24",
			 cidr ? cidr : "(none)");
		return -EINVAL;
	}
	memcpy(addr, cidr, (size_t)(slash - cidr));
	addr[slash - cidr] = '\0';
	errno = 0;
	prefix = strtoul(slash + 1, &end, 10);
	if (!parse_v4(addr, &cfg->addr) || !slash[1] || *end || errno || prefix < 1 ||
	    prefix > 30) {
		snprintf(err, errlen, "%s: an IPv4 address and a prefix of 1 to 30", cidr);
		return -EINVAL;
	}
	mask = ~0u << (32 - prefix);
	host = cfg->addr & ~mask;
	if (host == 0 || host == ~mask || cfg->addr >> 24 == 0 || cfg->addr >> 24 == 127 ||
	    cfg->addr >> 28 >= 14) {
		snprintf(err, errlen,
			 "%s: not a host's address (the subnet's own, its broadcast, 0/8, "
			 "127/8 or multicast)",
			 cidr);
		return -EINVAL;
	}
	if (gateway && !parse_v4(gateway, &cfg->gateway)) {
		snprintf(err, errlen, "gateway %s: not an IPv4 address", gateway);
		return -EINVAL;
	}
	if (gateway && ((cfg->gateway & mask) != (cfg->addr & mask) || cfg->gateway == cfg->addr)) {
		snprintf(err, errlen, "gateway %s: not another host of %s", gateway, cidr);
		return -EINVAL;
	}
	snprintf(cfg->name, sizeof(cfg->name), "%s", tap);
	cfg->prefix_len = (unsigned)prefix;
	if (gateway6 && !cidr6) {
		snprintf(err, errlen, "gateway %s: an IPv6 gateway needs an IPv6 address",
			 gateway6);
		return -EINVAL;
	}
	return cidr6 ? if_parse6(cidr6, gateway6, cfg, err, errlen) : 0;
}

int uml_net_init(size_t buffers)
{
	return inet_init(buffers);
}

int uml_net_if_check(const char *tap, const char *cidr, const char *gateway, char *err,
		     size_t errlen)
{
	return uml_net_if_check6(tap, cidr, gateway, NULL, NULL, err, errlen);
}

int uml_net_if_check6(const char *tap, const char *cidr, const char *gateway, const char *cidr6,
		      const char *gateway6, char *err, size_t errlen)
{
	struct netif_config cfg;

	return if_parse(tap, cidr, gateway, cidr6, gateway6, &cfg, err, errlen);
}

int uml_net_if_add(const char *tap, const char *cidr, const char *gateway, char *err, size_t errlen)
{
	return uml_net_if_add6(tap, cidr, gateway, NULL, NULL, err, errlen);
}

int uml_net_if_add6(const char *tap, const char *cidr, const char *gateway, const char *cidr6,
		    const char *gateway6, char *err, size_t errlen)
{
	struct netif_config cfg;
	int rc = if_parse(tap, cidr, gateway, cidr6, gateway6, &cfg, err, errlen);

	if (rc)
		return rc;
	rc = inet_init(0);
	if (rc) {
		snprintf(err, errlen, "the machine's network: %s", strerror(-rc));
		return rc;
	}
	rc = netif_create(&cfg, NULL);
	if (rc == -EINVAL)
		snprintf(err, errlen,
			 "%s on %s: not a host of its subnet, or the gateway is off it", cidr, tap);
	else if (rc == -EEXIST)
		snprintf(err, errlen, "%s: the machine has that interface already", tap);
	else if (rc == -ENOSPC)
		snprintf(err, errlen, "%s: the machine has %d interfaces already", tap,
			 UML_NET_IFS_MAX);
	else if (rc)
		snprintf(err, errlen, "%s: %s", tap, strerror(-rc));
	return rc;
}

int uml_net_if_index(const char *tap)
{
	struct netif *nif;

	if (inet_init(0))
		return -ENOENT;
	nif = tap ? netif_find(tap) : NULL;
	return nif ? (int)netif_index(nif) : -ENOENT;
}

int uml_net_if_start(const char *tap, uml_net_queue_t **q)
{
	struct netif_queue *nq;
	struct netif *nif;
	int rc = inet_init(0);

	if (rc)
		return rc;
	nif = netif_find(tap);
	if (!nif)
		return -ENOENT;
	rc = netif_queue_open_tap(nif, &nq);
	if (rc)
		return rc;
	rc = netif_queue_start(nq);
	if (rc) {
		netif_queue_close(nq);
		return rc;
	}
	*q = (uml_net_queue_t *)nq;
	return 0;
}

void uml_net_if_stop(uml_net_queue_t *q)
{
	if (q)
		netif_queue_close((struct netif_queue *)q);
}

size_t uml_net_status(char *buf, size_t size)
{
	return inet_status(buf, size);
}

size_t uml_net_tcp_table(char *buf, size_t size)
{
	return inet_tcp_table(buf, size);
}

size_t uml_net_tcp6_table(char *buf, size_t size)
{
	return inet_tcp6_table(buf, size);
}

size_t uml_net_snmp(char *buf, size_t size)
{
	return inet_snmp(buf, size);
}

size_t uml_net_snmp6(char *buf, size_t size)
{
	return inet_snmp6(buf, size);
}

size_t uml_net_netstat(char *buf, size_t size)
{
	return inet_netstat(buf, size);
}

void uml_nfs_unlisten(struct uml_nfs_listener *l)
{
	struct svc_listener sl = {.tcp_fd = -1,
				  .udp_fd = -1,
				  .inet_tcp = l->net_tcp,
				  .inet_udp = l->net_udp,
				  .rpcb_tcp = l->net_rpcb_tcp,
				  .rpcb_udp = l->net_rpcb_udp};

	svc_unlisten_inet(&sl);
	if (l->tcp_fd >= 0)
		close(l->tcp_fd);
	if (l->udp_fd >= 0)
		close(l->udp_fd);
	l->tcp_fd = l->udp_fd = -1;
	l->net_tcp = l->net_udp = NULL;
	l->net_rpcb_tcp = l->net_rpcb_udp = NULL;
}

int uml_nfs_listen_net(const char *addr, int port, unsigned protos, struct uml_nfs_listener *l)
{
	struct svc_listener sl;
	struct inet_addr a;
	uint32_t v4;
	int err;

	if (addr && parse_v4(addr, &v4))
		a = inet_addr_from_v4(v4);
	else if (!addr || inet_pton(AF_INET6, addr, a.a) != 1)
		return -EINVAL;
	if (!l || port < 0 || port > 65535 || !(protos & (UML_NFS_TCP | UML_NFS_UDP)) ||
	    (protos & ~(UML_NFS_TCP | UML_NFS_UDP | UML_NFS_RPCBIND)))
		return -EINVAL;
	err = nfs_init();
	if (!err)
		err = inet_init(0);
	if (err)
		return err;
	err = svc_listen_inet(&a, (uint16_t)port,
			      (protos & UML_NFS_TCP ? SVC_TCP : 0) |
				  (protos & UML_NFS_UDP ? SVC_UDP : 0) |
				  (protos & UML_NFS_RPCBIND ? SVC_RPCBIND : 0),
			      &sl);
	if (err)
		return err;
	l->tcp_fd = l->udp_fd = -1;
	l->net_tcp = sl.inet_tcp;
	l->net_udp = sl.inet_udp;
	l->net_rpcb_tcp = sl.rpcb_tcp;
	l->net_rpcb_udp = sl.rpcb_udp;
	return 0;
}

/* --- sockets --- */

_Static_assert(UML_POLLIN == INET_POLLIN && UML_POLLOUT == INET_POLLOUT &&
		   UML_POLLERR == INET_POLLERR && UML_POLLHUP == INET_POLLHUP &&
		   UML_POLLNVAL == INET_POLLNVAL,
	       "uml.h and the stack agree on poll's bits");
_Static_assert(UML_SO_NONBLOCK == (int)INET_SO_NONBLOCK && UML_SO_ERROR == (int)INET_SO_ERROR,
	       "uml.h and the stack agree on the options");
_Static_assert(sizeof(struct uml_pollfd) == sizeof(struct inet_pollfd) &&
		   offsetof(struct uml_pollfd, revents) == offsetof(struct inet_pollfd, revents),
	       "a uml_pollfd is passed as an inet_pollfd");
_Static_assert(UML_MSG_DONTWAIT == INET_MSG_DONTWAIT, "send and receive flags pass as they are");

/*
 * The only place that reads or writes a socket address: sockaddr_in and
 * sockaddr_in6 to the stack's endpoints (IPv4 v4-mapped) and back.
 */
static int addr_in(const struct sockaddr *sa, unsigned len, struct inet_endpoint *ep)
{
	if (!sa || len < sizeof(sa_family_t))
		return -EFAULT;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		if (len < sizeof(*in))
			return -EINVAL;
		ep->addr = inet_addr_from_v4(ntohl(in->sin_addr.s_addr));
		ep->port = ntohs(in->sin_port);
		ep->family = INET_AF_INET;
		ep->scope = 0;
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		if (len < sizeof(*in6))
			return -EINVAL;
		memcpy(ep->addr.a, &in6->sin6_addr, 16);
		ep->port = ntohs(in6->sin6_port);
		ep->family = INET_AF_INET6;
		ep->scope = in6->sin6_scope_id;
		return 0;
	}
	return -EAFNOSUPPORT;
}

/* @ep into @sa (NULL: nowhere), cut to *@len; *@len becomes the whole length. */
static int addr_out(const struct inet_endpoint *ep, struct sockaddr *sa, unsigned *len)
{
	struct sockaddr_in in = {.sin_family = AF_INET,
				 .sin_port = htons(ep->port),
				 .sin_addr.s_addr = htonl(inet_addr_v4(&ep->addr))};
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons(ep->port)};
	const void *from = &in;
	unsigned n = sizeof(in);

	if (!sa)
		return 0;
	if (!len)
		return -EFAULT;
	if (ep->family == INET_AF_INET6) {
		memcpy(&in6.sin6_addr, ep->addr.a, 16);
		in6.sin6_scope_id = ep->scope;
		from = &in6;
		n = sizeof(in6);
	}
	memcpy(sa, from, *len < n ? *len : n);
	*len = n;
	return 0;
}

int uml_socket(int domain, int type, unsigned flags)
{
	unsigned f = 0;

	if (domain != AF_INET && domain != AF_INET6)
		return -EAFNOSUPPORT;
	if (type != SOCK_STREAM && type != SOCK_DGRAM)
		return -EINVAL;
	if (flags & ~UML_SOCK_NONBLOCK)
		return -EINVAL;
	if (flags & UML_SOCK_NONBLOCK)
		f |= INET_SOCK_NONBLOCK;
	if (domain == AF_INET6)
		f |= INET_SOCK_INET6;
	return inet_socket(type == SOCK_STREAM ? INET_SOCK_STREAM : INET_SOCK_DGRAM, f);
}

int uml_bind(int fd, const struct sockaddr *sa, unsigned len)
{
	struct inet_endpoint ep;
	int err = addr_in(sa, len, &ep);

	return err ? err : inet_sock_bind(fd, &ep);
}

int uml_listen(int fd, int backlog)
{
	return inet_sock_listen(fd, backlog);
}

int uml_accept(int fd, struct sockaddr *sa, unsigned *len, unsigned flags)
{
	struct inet_endpoint ep;
	int nfd;

	if (flags & ~UML_SOCK_NONBLOCK)
		return -EINVAL;
	if (sa && !len)
		return -EFAULT;
	nfd = inet_sock_accept(fd, &ep, flags & UML_SOCK_NONBLOCK ? INET_SOCK_NONBLOCK : 0);
	if (nfd >= 0)
		addr_out(&ep, sa, len);
	return nfd;
}

int uml_connect(int fd, const struct sockaddr *sa, unsigned len, int timeout_ms)
{
	struct inet_endpoint ep;
	int err;

	/* BSD's way to dissolve a UDP socket's association. */
	if (sa && len >= sizeof(sa_family_t) && sa->sa_family == AF_UNSPEC)
		return inet_sock_disconnect(fd);
	err = addr_in(sa, len, &ep);
	return err ? err : inet_sock_connect(fd, &ep, timeout_ms);
}

ssize_t uml_send(int fd, const void *buf, size_t len, unsigned flags)
{
	return inet_sock_send(fd, buf, len, flags);
}

ssize_t uml_sendto(int fd, const void *buf, size_t len, unsigned flags, const struct sockaddr *to,
		   unsigned tolen)
{
	struct inet_endpoint ep;
	int err;

	if (!to)
		return inet_sock_sendto(fd, buf, len, flags, NULL);
	err = addr_in(to, tolen, &ep);
	if (err)
		return err;
	if (!ep.port)
		return -EDESTADDRREQ;
	return inet_sock_sendto(fd, buf, len, flags, &ep);
}

ssize_t uml_recv(int fd, void *buf, size_t len, unsigned flags)
{
	return inet_sock_recv(fd, buf, len, flags);
}

ssize_t uml_recvfrom(int fd, void *buf, size_t len, unsigned flags, struct sockaddr *from,
		     unsigned *fromlen)
{
	struct inet_endpoint ep;
	ssize_t n;

	if (from && !fromlen)
		return -EFAULT;
	n = inet_sock_recvfrom(fd, buf, len, flags, &ep);
	if (n >= 0)
		addr_out(&ep, from, fromlen);
	return n;
}

int uml_shutdown(int fd, int how)
{
	static const unsigned bits[] = {[SHUT_RD] = INET_SHUT_RD,
					[SHUT_WR] = INET_SHUT_WR,
					[SHUT_RDWR] = INET_SHUT_RD | INET_SHUT_WR};

	if (how < 0 || (size_t)how >= sizeof(bits) / sizeof(bits[0]))
		return -EINVAL;
	return inet_sock_shutdown(fd, bits[how]);
}

int uml_close(int fd)
{
	return inet_sock_close(fd);
}

int uml_getsockname(int fd, struct sockaddr *sa, unsigned *len)
{
	struct inet_endpoint ep;
	int err;

	if (!sa || !len)
		return -EFAULT;
	err = inet_sock_name(fd, &ep);
	return err ? err : addr_out(&ep, sa, len);
}

int uml_getpeername(int fd, struct sockaddr *sa, unsigned *len)
{
	struct inet_endpoint ep;
	int err;

	if (!sa || !len)
		return -EFAULT;
	err = inet_sock_peer(fd, &ep);
	return err ? err : addr_out(&ep, sa, len);
}

int uml_setsockopt(int fd, enum uml_sockopt opt, int value)
{
	return inet_sock_setopt(fd, (enum inet_sockopt)opt, value);
}

int uml_getsockopt(int fd, enum uml_sockopt opt, int *value)
{
	if (!value)
		return -EFAULT;
	return inet_sock_getopt(fd, (enum inet_sockopt)opt, value);
}

int uml_poll(struct uml_pollfd *fds, unsigned nfds, int timeout_ms)
{
	if (!fds && nfds)
		return -EFAULT;
	return inet_sock_poll((struct inet_pollfd *)fds, nfds, timeout_ms);
}

_Static_assert(sizeof(struct uml_pollevent) == sizeof(struct inet_pollevent) &&
		   UML_POLLET == INET_POLLET && UML_POLLSET_DEL == INET_POLLSET_DEL &&
		   UML_POLLSET_WATCHES == INET_POLLSET_WATCHES,
	       "uml_pollevent and inet_pollevent differ");

int uml_pollset_create(void)
{
	return inet_pollset();
}

int uml_pollset_ctl(int set, int op, int fd, uint32_t events, uint64_t data)
{
	return inet_pollset_ctl(set, op, fd, events, data);
}

int uml_pollset_wait(int set, struct uml_pollevent *ev, unsigned max, int timeout_ms)
{
	if (!ev && max)
		return -EFAULT;
	return inet_pollset_wait(set, (struct inet_pollevent *)ev, max, timeout_ms);
}
