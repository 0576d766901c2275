/*
 * The Internet checksum (RFC 1071): the ones' complement of the ones'
 * complement sum of 16-bit big-endian words, an odd last byte padded with
 * zero. Sums are kept in 64 bits and folded once, so no carry is lost on
 * datagrams of any size.
 */
#include "inet_internal.h"

uint64_t inet_csum_add(uint64_t sum, const void *p, size_t len)
{
	const uint8_t *b = p;

	for (; len >= 2; b += 2, len -= 2)
		sum += (uint32_t)(b[0] << 8 | b[1]);
	if (len)
		sum += (uint32_t)b[0] << 8;
	return sum;
}

uint16_t inet_csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint64_t inet_csum_pseudo(uint32_t saddr, uint32_t daddr, uint8_t proto, uint32_t len)
{
	return (uint64_t)(saddr >> 16) + (saddr & 0xffff) + (daddr >> 16) + (daddr & 0xffff) +
	       proto + len;
}

uint64_t inet_csum_pseudo6(const struct inet_addr *saddr, const struct inet_addr *daddr,
			   uint8_t proto, uint32_t len)
{
	uint64_t sum = inet_csum_add(0, saddr->a, 16);

	return inet_csum_add(sum, daddr->a, 16) + (len >> 16) + (len & 0xffff) + proto;
}

uint16_t inet_csum(const void *p, size_t len)
{
	return inet_csum_fold(inet_csum_add(0, p, len));
}
