/* Frames as a peer puts them on the wire (wire.h). */
#include <string.h>

#include "wire.h"
#include "uml/inet.h"
#include "../../kernel/net/inet/inet_internal.h"

size_t wire_eth(uint8_t *f, const uint8_t dst[6], const uint8_t src[6], uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	put16(f + 12, type);
	return 14;
}

size_t wire_arp(uint8_t *f, const uint8_t dst[6], uint16_t op, const uint8_t sha[6], uint32_t spa,
		const uint8_t *tha, uint32_t tpa)
{
	uint8_t *a = f + wire_eth(f, dst, sha, ETH_P_ARP);

	put16(a, 1); /* Ethernet */
	put16(a + 2, ETH_P_IPV4);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, op);
	memcpy(a + 8, sha, 6);
	put32(a + 14, spa);
	if (tha)
		memcpy(a + 18, tha, 6);
	else
		memset(a + 18, 0, 6);
	put32(a + 24, tpa);
	return 42;
}

size_t wire_ip4(uint8_t *ip, uint32_t src, uint32_t dst, uint8_t proto, size_t len)
{
	return wire_ip4_frag(ip, src, dst, proto, len, 0, 0);
}

size_t wire_ip4_frag(uint8_t *ip, uint32_t src, uint32_t dst, uint8_t proto, size_t len,
		     uint16_t id, uint16_t frag)
{
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + len));
	put16(ip + 4, id);
	put16(ip + 6, frag);
	ip[8] = 64;
	ip[9] = proto;
	put32(ip + 12, src);
	put32(ip + 16, dst);
	put16(ip + 10, inet_csum(ip, 20));
	return 20;
}

size_t wire_ip6(uint8_t *ip, const struct inet_addr *src, const struct inet_addr *dst, uint8_t nh,
		uint8_t hops, size_t plen)
{
	memset(ip, 0, 40);
	ip[0] = 0x60;
	put16(ip + 4, (uint16_t)plen);
	ip[6] = nh;
	ip[7] = hops;
	memcpy(ip + 8, src->a, 16);
	memcpy(ip + 24, dst->a, 16);
	return 40;
}

/* Segment @s at @t with its checksum 0: its length. */
static size_t wire__tcp(uint8_t *t, const struct wire_tcp *s)
{
	size_t hl = 20 + s->olen;

	memset(t, 0, 20);
	put16(t, s->sport);
	put16(t + 2, s->dport);
	put32(t + 4, s->seq);
	put32(t + 8, s->ack);
	t[12] = (uint8_t)(hl / 4 << 4);
	t[13] = s->flags;
	put16(t + 14, s->win);
	if (s->olen) /* memcpy from NULL is undefined, even of nothing */
		memcpy(t + 20, s->opt, s->olen);
	if (s->dlen)
		memcpy(t + hl, s->data, s->dlen);
	return hl + s->dlen;
}

size_t wire_tcp4(uint8_t *t, const struct wire_tcp *s, uint32_t src, uint32_t dst)
{
	size_t n = wire__tcp(t, s);

	put16(t + 16, inet_csum_fold(inet_csum_add(
			  inet_csum_pseudo(src, dst, IPPROTO_TCP_, (uint32_t)n), t, n)));
	return n;
}

size_t wire_tcp6(uint8_t *t, const struct wire_tcp *s, const struct inet_addr *src,
		 const struct inet_addr *dst)
{
	size_t n = wire__tcp(t, s);

	put16(t + 16, inet_csum_fold(inet_csum_add(
			  inet_csum_pseudo6(src, dst, IPPROTO_TCP_, (uint32_t)n), t, n)));
	return n;
}

size_t wire_tcp4_frame(uint8_t *f, const uint8_t dmac[6], const uint8_t smac[6], uint32_t src,
		       uint32_t dst, const struct wire_tcp *s)
{
	size_t n = wire_tcp4(f + 34, s, src, dst);

	wire_eth(f, dmac, smac, ETH_P_IPV4);
	wire_ip4(f + 14, src, dst, IPPROTO_TCP_, n);
	return 34 + n;
}

size_t wire_tcp6_frame(uint8_t *f, const uint8_t dmac[6], const uint8_t smac[6],
		       const struct inet_addr *src, const struct inet_addr *dst,
		       const struct wire_tcp *s)
{
	size_t n = wire_tcp6(f + 54, s, src, dst);

	wire_eth(f, dmac, smac, ETH_P_IPV6);
	wire_ip6(f + 14, src, dst, IPPROTO_TCP_, 64, n);
	return 54 + n;
}
