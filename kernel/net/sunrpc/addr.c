/*
 * Addresses, as the transports and the services see them: the numeric host
 * a listener binds, the client key a connection is counted under, the
 * address sets ("10.0.0.0/8") a service admits, and the "addr:port" of
 * reports. Only numeric forms: nothing here resolves names, so parsing
 * never waits on the network and means the same on every host.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "uml/host.h"
#include "uml/svc.h"

#define SVC_BACKLOG 64

void rpc_format_peer(const struct sockaddr *sa, socklen_t len, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		snprintf(buf, size, "%s:%u", a, ntohs(s4->sin_port));
	} else if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		snprintf(buf, size, "[%s]:%u", a, ntohs(s6->sin6_port));
	} else {
		snprintf(buf, size, "?");
	}
}

void rpc_client_key(const struct sockaddr *sa, struct in6_addr *key)
{
	memset(key, 0, sizeof(*key));
	if (sa->sa_family == AF_INET) {
		key->s6_addr[10] = key->s6_addr[11] = 0xff;
		memcpy(&key->s6_addr[12], &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		*key = ((const struct sockaddr_in6 *)sa)->sin6_addr;
	}
}

/* The first 12 bytes of an IPv4 address mapped into IPv6 (::ffff:a.b.c.d). */
static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/*
 * The prefix length after a CIDR's slash: 1 to 3 decimal digits and nothing
 * else, at most @max. strtoul would also take spaces, signs and "0x".
 */
static int cidr_prefix(const char *s, unsigned max, uint8_t *out)
{
	unsigned v = 0;
	size_t n;

	for (n = 0; s[n] >= '0' && s[n] <= '9'; n++) {
		if (n == 3)
			return -EINVAL;
		v = v * 10 + (unsigned)(s[n] - '0');
	}
	if (!n || s[n] || v > max)
		return -EINVAL;
	*out = (uint8_t)v;
	return 0;
}

int rpc_cidr_parse(const char *spec, struct rpc_cidr *out)
{
	char addr[INET6_ADDRSTRLEN];
	const char *slash;
	size_t alen;

	memset(out, 0, sizeof(*out));
	if (!spec)
		return -EINVAL;
	if (strcmp(spec, "*") == 0) {
		out->family = AF_UNSPEC;
		return 0;
	}
	slash = strchr(spec, '/');
	alen = slash ? (size_t)(slash - spec) : strnlen(spec, sizeof(addr));
	if (alen == 0 || alen >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, spec, alen);
	addr[alen] = '\0';
	/* inet_pton takes the strict forms only: no spaces, no zone ids, no "1.2.3". */
	if (inet_pton(AF_INET, addr, out->addr) == 1) {
		out->family = AF_INET;
		out->prefix = 32;
	} else if (inet_pton(AF_INET6, addr, out->addr) == 1) {
		out->family = AF_INET6;
		out->prefix = 128;
	} else {
		return -EINVAL;
	}
	if (slash && cidr_prefix(slash + 1, out->prefix, &out->prefix))
		return -EINVAL;
	/*
	 * A v4-mapped set (::ffff:a.b.c.d, prefix 96 or more) is the IPv4 set
	 * it names: that is how rpc_cidr_match sees such peers.
	 */
	if (out->family == AF_INET6 && out->prefix >= 96 &&
	    memcmp(out->addr, v4mapped, sizeof(v4mapped)) == 0) {
		memmove(out->addr, out->addr + 12, 4);
		memset(out->addr + 4, 0, 12);
		out->family = AF_INET;
		out->prefix -= 96;
	}
	return 0;
}

/* Whether the first @bits bits of @a and @b agree. */
static bool prefix_match(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;

	if (memcmp(a, b, whole) != 0)
		return false;
	if (!rest)
		return true;
	return ((a[whole] ^ b[whole]) & (0xff00 >> rest)) == 0;
}

bool rpc_cidr_match(const struct rpc_cidr *c, const struct sockaddr *peer)
{
	struct in6_addr key;
	const uint8_t *addr = key.s6_addr;
	int family;

	if (peer->sa_family != AF_INET && peer->sa_family != AF_INET6)
		return false;
	if (c->family == AF_UNSPEC)
		return true;
	rpc_client_key(peer, &key);
	family = AF_INET6;
	if (memcmp(addr, v4mapped, sizeof(v4mapped)) == 0) {
		family = AF_INET;
		addr += 12;
	}
	return c->family == family && prefix_match(c->addr, addr, c->prefix);
}

int rpc_addr_parse(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	char buf[INET6_ADDRSTRLEN + 2];
	size_t n = strlen(host);

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		*len = sizeof(*s4);
		return 0;
	}
	if (n >= 2 && n < sizeof(buf) && host[0] == '[' && host[n - 1] == ']') {
		memcpy(buf, host + 1, n - 2);
		buf[n - 2] = '\0';
		host = buf;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		*len = sizeof(*s6);
		return 0;
	}
	return -EINVAL;
}

int svc_listen(const char *host, int port, unsigned protos, struct svc_listener *l)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int err, tries;

	l->tcp_fd = l->udp_fd = -1;
	if (port < 0 || port > 65535 || !protos || (protos & ~(SVC_TCP | SVC_UDP)))
		return -EINVAL;
	err = rpc_addr_parse(host, port, &ss, &len);
	if (err)
		return err;
	if (!(protos & SVC_TCP)) {
		l->udp_fd = host_listen((struct sockaddr *)&ss, len, false, 0);
		return l->udp_fd < 0 ? l->udp_fd : 0;
	}
	/* Port 0 picks a free TCP port; UDP then needs the same one, which may be taken. */
	for (tries = 0; tries < 16; tries++) {
		struct sockaddr_storage bound;
		socklen_t blen;

		l->tcp_fd = host_listen((struct sockaddr *)&ss, len, true, SVC_BACKLOG);
		if (l->tcp_fd < 0)
			return l->tcp_fd;
		if (!(protos & SVC_UDP))
			return 0;
		err = host_sockname(l->tcp_fd, &bound, &blen);
		if (err) {
			host_close(l->tcp_fd);
			return err;
		}
		l->udp_fd = host_listen((struct sockaddr *)&bound, blen, false, 0);
		if (l->udp_fd >= 0)
			return 0;
		err = l->udp_fd;
		host_close(l->tcp_fd);
		if (port != 0 || err != -EADDRINUSE)
			break;
	}
	l->tcp_fd = l->udp_fd = -1;
	return err;
}
