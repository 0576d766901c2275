/*
 * libuml's calls for the machine's own network: thin wrappers over
 * kernel/net/inet and the sunrpc transports on it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "uml.h"
#include "uml/inet.h"
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

void uml_nfs_unlisten(struct uml_nfs_listener *l)
{
	struct svc_listener sl = {
	    .tcp_fd = -1, .udp_fd = -1, .inet_tcp = l->net_tcp, .inet_udp = l->net_udp};

	svc_unlisten_inet(&sl);
	if (l->tcp_fd >= 0)
		close(l->tcp_fd);
	if (l->udp_fd >= 0)
		close(l->udp_fd);
	l->tcp_fd = l->udp_fd = -1;
	l->net_tcp = l->net_udp = NULL;
}

int uml_nfs_listen_net(const char *addr, int port, unsigned protos, struct uml_nfs_listener *l)
{
	struct svc_listener sl;
	uint32_t a;
	int err;

	if (!l || !parse_v4(addr, &a) || port < 0 || port > 65535 || !protos ||
	    (protos & ~(UML_NFS_TCP | UML_NFS_UDP)))
		return -EINVAL;
	err = nfs_init();
	if (!err)
		err = inet_init(0);
	if (err)
		return err;
	err = svc_listen_inet(
	    a, (uint16_t)port,
	    (protos & UML_NFS_TCP ? SVC_TCP : 0) | (protos & UML_NFS_UDP ? SVC_UDP : 0), &sl);
	if (err)
		return err;
	l->tcp_fd = l->udp_fd = -1;
	l->net_tcp = sl.inet_tcp;
	l->net_udp = sl.inet_udp;
	return 0;
}
