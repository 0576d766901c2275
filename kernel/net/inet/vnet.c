/*
 * The virtio-net header of a TAP queue with offloads (kernel/host/tap.c):
 * what the host says of each frame it gives us, checked against the frame,
 * and what we say of each frame we give it.
 *
 * In, a sender on the host leaves its TCP and UDP checksums partial
 * (Linux's CHECKSUM_PARTIAL: the field holds the pseudo-header's sum, the
 * rest is for whoever puts it on a wire) and may hand us one TCP segment
 * of many MSS (GSO) where a wire would carry many. A partial TCP checksum
 * is taken as verified -- only for frames that say so, at exactly the
 * checksum field of the TCP header that follows an unfragmented IPv4
 * header or an IPv6 header with no extension header -- and any other
 * (UDP's: datagrams are small, and udp.c checks as it always did) is
 * finished here, as the header asks; the second goes up whole: TCP takes
 * a segment of any length its window allows. Every field is hostile: the
 * offsets are checked against the frame's real length, a GSO frame must
 * be what its type says (TCPV4 in IPv4, TCPV6 in IPv6), and a GSO type we
 * have no input for (UDP) is refused rather than guessed at.
 *
 * Out, with offloads every TCP segment leaves its checksum to the host
 * (tcp_output.c's csum_start), and one of more than an MSS is cut by the
 * host into gso_size pieces, each with the headers of the first.
 */
#include <errno.h>
#include <string.h>

#include "tcp.h"

void netif_vnet_get(struct vnet_hdr *h, const uint8_t b[VNET_HLEN])
{
	h->flags = b[0];
	h->gso_type = b[1];
	memcpy(&h->hdr_len, b + 2, 2);
	memcpy(&h->gso_size, b + 4, 2);
	memcpy(&h->csum_start, b + 6, 2);
	memcpy(&h->csum_offset, b + 8, 2);
}

void netif_vnet_put(uint8_t b[VNET_HLEN], const struct vnet_hdr *h)
{
	b[0] = h->flags;
	b[1] = h->gso_type;
	memcpy(b + 2, &h->hdr_len, 2);
	memcpy(b + 4, &h->gso_size, 2);
	memcpy(b + 6, &h->csum_start, 2);
	memcpy(b + 8, &h->csum_offset, 2);
}

/*
 * The frame's IP header length and transport protocol, if it holds a whole
 * IPv4 header or an IPv6 one (whose next header is then the protocol: an
 * extension header is no transport): else 0. *@v6 says which.
 */
static unsigned ip_of(const uint8_t *f, uint32_t len, uint8_t *proto, bool *v6)
{
	unsigned ihl;

	*v6 = false;
	if (len >= ETH_HLEN + IPV6_HLEN && get16(f + 12) == ETH_P_IPV6 && f[ETH_HLEN] >> 4 == 6) {
		*v6 = true;
		*proto = f[ETH_HLEN + 6];
		return IPV6_HLEN;
	}
	if (len < ETH_HLEN + IPV4_HLEN || get16(f + 12) != ETH_P_IPV4 || f[ETH_HLEN] >> 4 != 4)
		return 0;
	ihl = (f[ETH_HLEN] & 15u) * 4;
	if (ihl < IPV4_HLEN || ETH_HLEN + ihl > len)
		return 0;
	*proto = f[ETH_HLEN + 9];
	return ihl;
}

/* Whether the IP datagram of @f (@ihl) is whole: IPv6 here never is a fragment. */
static bool whole(const uint8_t *f, unsigned ihl, bool v6)
{
	return ihl && (v6 || !(get16(f + ETH_HLEN + 6) & (IPV4_MF | IPV4_OFFMASK)));
}

int netif_vnet_rx(struct pkb *p, const struct vnet_hdr *h, bool *gso)
{
	const uint8_t *f = pkb_data(p);
	uint8_t proto = 0, type = h->gso_type & (uint8_t)~VNET_GSO_ECN;
	bool v6;
	unsigned ihl = ip_of(f, p->len, &proto, &v6);
	uint32_t start = h->csum_start, at = start + h->csum_offset;

	*gso = false;
	p->csum_ok = 0;
	if (h->flags & ~(VNET_F_NEEDS_CSUM | VNET_F_DATA_VALID))
		return -EPROTO;
	if (type != VNET_GSO_NONE) {
		if (type != VNET_GSO_TCPV4 && type != VNET_GSO_TCPV6)
			return -EPROTONOSUPPORT;
		/* Cut from one segment, its checksum left to the cutter: it must say so. */
		if (!(h->flags & VNET_F_NEEDS_CSUM) || !h->gso_size || h->hdr_len > p->len ||
		    !ihl || v6 != (type == VNET_GSO_TCPV6) || proto != IPPROTO_TCP_ ||
		    ETH_HLEN + ihl + TCP_HLEN > p->len)
			return -EPROTO;
		*gso = true;
	} else if (h->gso_type) {
		return -EPROTO; /* ECN of no segmentation */
	}
	if (!(h->flags & VNET_F_NEEDS_CSUM))
		return 0;
	if (at + 2 > p->len || start >= p->len)
		return -EPROTO;
	/* Not a fragment: a checksum of a whole datagram lies in its first fragment only. */
	if (whole(f, ihl, v6) && start == ETH_HLEN + ihl && proto == IPPROTO_TCP_ &&
	    h->csum_offset == TCP_CSUM_OFFSET) {
		p->csum_ok = 1;
		return 0;
	}
	if (*gso)
		return -EPROTO; /* a TCP segment's checksum anywhere but in TCP's header */
	/* Finish it as asked: the field's partial sum is part of what is summed. */
	put16(pkb_data(p) + at, inet_csum(f + start, p->len - start));
	return 0;
}

void netif_vnet_tx(const struct pkb *p, struct vnet_hdr *h)
{
	const uint8_t *f = p->data + p->off;

	memset(h, 0, sizeof(*h));
	if (!p->csum_start)
		return;
	h->flags = VNET_F_NEEDS_CSUM;
	h->csum_start = (uint16_t)(p->csum_start - p->off);
	h->csum_offset = p->csum_offset;
	if (p->gso_size) {
		/* Our own frame: Ethernet, IP and TCP headers whole at csum_start. */
		h->gso_type = f[ETH_HLEN] >> 4 == 6 ? VNET_GSO_TCPV6 : VNET_GSO_TCPV4;
		h->gso_size = p->gso_size;
		h->hdr_len = (uint16_t)(h->csum_start + (f[h->csum_start + 12] >> 4) * 4u);
	}
}
