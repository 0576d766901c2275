/*
 * ICMPv6 (RFC 4443): echo replies, the errors a host sends (port
 * unreachable, parameter problem), the reading of packet too big, and the
 * way in for neighbour discovery (nd.c).
 *
 * The checksum covers the IPv6 pseudo-header and is never optional. What
 * we send takes a token from ICMP's one bucket (icmp.c: burst 50, 100 a
 * second), so a flood costs a bounded amount of output in both families.
 * No error is sent (RFC 4443 2.4 e) about an ICMPv6 error, a datagram to
 * a multicast group (but packet too big and an unknown option whose type
 * asks for it, which we never send about one), or a source that names no
 * single host. An echo request to a group (all-nodes) is answered from our
 * unicast address, as RFC 4443 4.2 asks.
 */
#include <string.h>

#include "inet_internal.h"

/* An error's quote: as much of the datagram as keeps the error within the minimum MTU. */
#define ICMP6_ERR_QUOTE (INET_MTU6_MIN - IPV6_HLEN - ICMP_HLEN)

int icmp6_send(struct netif *nif, struct pkb *m, const struct inet_addr *saddr,
	       const struct inet_addr *daddr, uint8_t hops)
{
	uint8_t *h = pkb_data(m);

	put16(h + 2, 0);
	put16(h + 2, inet_csum_fold(inet_csum_add(
			 inet_csum_pseudo6(saddr, daddr, IPPROTO_ICMPV6_, m->len), h, m->len)));
	inet_count(INET_MIB_ICMP6_OUT);
	return ipv6_output(nif, m, saddr, daddr, IPPROTO_ICMPV6_, hops);
}

static void echo_reply(struct netif *nif, struct pkb *p, const struct inet_addr *src,
		       const struct inet_addr *dst)
{
	struct inet_addr from;
	struct pkb *r;

	inet_count(INET_MIB_ICMP6_IN_ECHOS);
	if (ipv6_is_unspecified(src) || !icmp_rate_ok())
		return;
	r = pkb_clone(p);
	if (!r)
		return;
	pkb_data(r)[0] = ICMP6_ECHO_REPLY;
	pkb_data(r)[1] = 0;
	if (ipv6_is_multicast(dst))
		ipv6_source(nif, src, &from);
	else
		from = *dst;
	icmp6_send(nif, r, &from, src, 0);
}

/*
 * Packet too big (RFC 8201), the message at @h of @len bytes: believed
 * when it quotes an IPv6 datagram from an address of ours (pmtu.c weighs
 * its MTU against the quoted length and the link's, raising one below
 * 1280 to it), and, when the quote is of a TCP segment, one a connection
 * has in flight (it lowers its MSS); then it is noted.
 */
static void too_big(const uint8_t *h, uint32_t len)
{
	const uint8_t *q = h + ICMP_HLEN;
	uint32_t n = atomic_load((_Atomic uint32_t *)&inet_stack->nifs);
	struct inet_addr qsrc, qdst;
	bool ours = false;
	uint32_t mtu;

	if (len < ICMP_HLEN + IPV6_HLEN || q[0] >> 4 != 6)
		return;
	memcpy(qsrc.a, q + 8, 16);
	memcpy(qdst.a, q + 24, 16);
	for (uint32_t i = 0; i < n && !ours; i++)
		ours = inet_stack->ifs[i]->has6 && ipv6_is_ours(inet_stack->ifs[i], &qsrc);
	mtu = ours ? inet_pmtu_check(&qdst, get32(h + 4), IPV6_HLEN + get16(q + 4)) : 0;
	if (!mtu || (q[6] == IPPROTO_TCP_ && !tcp_icmp6_too_big(q, len - ICMP_HLEN, mtu)))
		return;
	inet_pmtu_learn(&qdst, mtu);
}

void icmp6_input(struct netif *nif, struct pkb *p)
{
	const uint8_t *ip = ipv6_hdr(p), *h = pkb_data(p);
	struct inet_addr src, dst;

	memcpy(src.a, ip + 8, 16);
	memcpy(dst.a, ip + 24, 16);
	inet_count(INET_MIB_ICMP6_IN);
	if (p->len < 4) {
		inet_count(INET_MIB_ICMP6_IN_ERRORS);
		goto out;
	}
	if (inet_csum_fold(
		inet_csum_add(inet_csum_pseudo6(&src, &dst, IPPROTO_ICMPV6_, p->len), h, p->len))) {
		inet_count(INET_MIB_ICMP6_IN_ERRORS);
		inet_count(INET_MIB_ICMP6_IN_CSUM_ERRORS);
		goto out;
	}
	switch (h[0]) {
	case ICMP6_ECHO_REQUEST:
		if (h[1] == 0 && p->len >= ICMP_HLEN)
			echo_reply(nif, p, &src, &dst);
		break;
	case ICMP6_PKT_TOO_BIG:
		inet_count(INET_MIB_ICMP6_IN_PKT_TOO_BIG);
		too_big(h, p->len);
		break;
	case ICMP6_DST_UNREACH:
		/* Port unreachable quoting a UDP datagram of ours, with no extension header. */
		if (h[1] == ICMP6_UNREACH_PORT && p->len >= ICMP_HLEN + IPV6_HLEN + 8 &&
		    h[ICMP_HLEN + 6] == IPPROTO_UDP_) {
			const uint8_t *q = h + ICMP_HLEN;
			struct inet_addr la, ra;

			memcpy(la.a, q + 8, 16);
			memcpy(ra.a, q + 24, 16);
			udp_icmp_unreach(&la, get16(q + IPV6_HLEN), &ra, get16(q + IPV6_HLEN + 2));
		}
		break;
	case ICMP6_NS:
	case ICMP6_NA:
		nd_input(nif, p);
		return;
	}
out:
	pkb_free(p);
}

void icmp6_error(struct netif *nif, const struct pkb *p, uint8_t type, uint8_t code, uint32_t param)
{
	const uint8_t *ip = p->data + p->off - p->ihl;
	uint32_t n = MIN(p->ihl + p->len, ICMP6_ERR_QUOTE);
	struct inet_addr src, dst, from;
	struct pkb *m;
	uint8_t *h;

	memcpy(src.a, ip + 8, 16);
	memcpy(dst.a, ip + 24, 16);
	if (ipv6_is_unspecified(&src) || ipv6_is_multicast(&src))
		return;
	if (ipv6_is_multicast(&dst) && !(type == ICMP6_PKT_TOO_BIG ||
					 (type == ICMP6_PARAM_PROB && code == ICMP6_PARAM_OPTION)))
		return;
	/* About an ICMPv6 error (the walk done, its type under 128): never. */
	if (p->ihl && ip[6] == IPPROTO_ICMPV6_ && p->len >= 1 && pkb_data((struct pkb *)p)[0] < 128)
		return;
	if (!icmp_rate_ok())
		return;
	m = pkb_alloc(INET_HEADROOM + ICMP_HLEN + n);
	if (!m)
		return;
	m->off = INET_HEADROOM;
	m->len = ICMP_HLEN + n;
	h = pkb_data(m);
	h[0] = type;
	h[1] = code;
	put32(h + 4, param);
	memcpy(h + ICMP_HLEN, ip, n);
	if (ipv6_is_ours(nif, &dst))
		from = dst;
	else
		ipv6_source(nif, &src, &from);
	icmp6_send(nif, m, &from, &src, 0);
}
