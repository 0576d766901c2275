/*
 * Frames as a peer puts them on the wire, for the tests that make them by
 * hand (test_inet, test_tcp, test_inet6, test_vnet, mirror.c, fuzz_frame):
 * Ethernet, an ARP message, IPv4 and IPv6 headers, and a TCP segment with
 * its checksum. Each builder writes at the pointer it is given and returns
 * the bytes it wrote; fields a builder does not take are 0 (TTL and hop
 * limit aside), so a test sets an odd one after.
 */
#ifndef T_UNIT_WIRE_H
#define T_UNIT_WIRE_H

#include <stddef.h>
#include <stdint.h>

struct inet_addr;

/* A TCP segment's fields; @opt (@olen bytes, a multiple of 4) and @data may be NULL when empty. */
struct wire_tcp {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	const uint8_t *opt;
	size_t olen;
	const void *data;
	size_t dlen;
};

/* An Ethernet header from @src to @dst of type @type: 14 bytes. */
size_t wire_eth(uint8_t *f, const uint8_t dst[6], const uint8_t src[6], uint16_t type);
/*
 * A frame to @dst from @sha (Ethernet and IPv4 ARP, @op) saying @sha is @spa,
 * asking for or answering @tpa at @tha (NULL: zeros): 42 bytes.
 */
size_t wire_arp(uint8_t *f, const uint8_t dst[6], uint16_t op, const uint8_t sha[6], uint32_t spa,
		const uint8_t *tha, uint32_t tpa);
/* An IPv4 header (no options, TTL 64, its checksum) for @len bytes of @proto: 20 bytes. */
size_t wire_ip4(uint8_t *ip, uint32_t src, uint32_t dst, uint8_t proto, size_t len);
/* The same with identification @id and @frag (flags and offset), as a fragment's. */
size_t wire_ip4_frag(uint8_t *ip, uint32_t src, uint32_t dst, uint8_t proto, size_t len,
		     uint16_t id, uint16_t frag);
/* An IPv6 header (hop limit @hops) for @plen bytes, next header @nh: 40 bytes. */
size_t wire_ip6(uint8_t *ip, const struct inet_addr *src, const struct inet_addr *dst, uint8_t nh,
		uint8_t hops, size_t plen);
/* TCP segment @s, its checksum over the pseudo-header of @src to @dst (IPv4, IPv6). */
size_t wire_tcp4(uint8_t *t, const struct wire_tcp *s, uint32_t src, uint32_t dst);
size_t wire_tcp6(uint8_t *t, const struct wire_tcp *s, const struct inet_addr *src,
		 const struct inet_addr *dst);
/* A whole frame to @dmac from @smac: Ethernet, IPv4 (TTL 64) and TCP segment @s. */
size_t wire_tcp4_frame(uint8_t *f, const uint8_t dmac[6], const uint8_t smac[6], uint32_t src,
		       uint32_t dst, const struct wire_tcp *s);
/* The same over IPv6 (hop limit 64). */
size_t wire_tcp6_frame(uint8_t *f, const uint8_t dmac[6], const uint8_t smac[6],
		       const struct inet_addr *src, const struct inet_addr *dst,
		       const struct wire_tcp *s);

#endif
