/*
 * IPv4 (RFC 791, with RFC 1122's host rules): header checks, delivery to
 * the transports, routing to the wire and fragmentation on the way out,
 * to the path's MTU when a note (pmtu.c) says it is smaller than the link's.
 *
 * Input trusts nothing: the version, a header length of at least 20 bytes
 * within the packet, a total length within the frame (what lies past it
 * is Ethernet padding and is cut), the header checksum, a source that can
 * be a station's (not 0/8 except 0.0.0.0 itself, 127/8, multicast, class
 * E, broadcast or our own), a destination of ours: the machine does not
 * forward. A received TTL is not checked: RFC 1122 3.2.1.7 says a host
 * must not drop what is addressed to it for its TTL; we never send 0.
 * Options are passed over (none is acted on).
 */
#include <errno.h>
#include <string.h>

#include "inet_internal.h"

static bool bad_source(const struct netif *nif, uint32_t s)
{
	uint8_t a = (uint8_t)(s >> 24);

	return (a == 0 && s != 0) || a == 127 || a >= 224 || s == nif->addr ||
	       s == (nif->addr | ~nif->mask);
}

void ipv4_input(struct netif *nif, struct pkb *p)
{
	const uint8_t *h = pkb_data(p);
	unsigned ihl, tot;
	uint16_t frag;
	bool bcast;

	inet_count(INET_MIB_IP_IN);
	if (p->len < IPV4_HLEN || h[0] >> 4 != 4)
		goto hdr_error;
	ihl = (h[0] & 15u) * 4;
	tot = get16(h + 2);
	if (ihl < IPV4_HLEN || ihl > p->len || tot < ihl || tot > p->len || inet_csum(h, ihl) != 0)
		goto hdr_error;
	p->len = tot; /* what follows is the link's padding */
	p->saddr = get32(h + 12);
	p->daddr = get32(h + 16);
	if (bad_source(nif, p->saddr))
		goto hdr_error;
	if (!netif_is_local(nif, p->daddr, &bcast) && !netif_by_addr(p->daddr)) {
		inet_count(INET_MIB_IP_IN_ADDR_ERRORS);
		goto drop;
	}
	/* RFC 1122 3.3.6: a link broadcast must carry an IP broadcast. */
	if (p->bcast && !bcast)
		goto hdr_error;
	p->bcast = bcast;
	p->ihl = (uint16_t)ihl;
	p->off += ihl;
	p->len -= ihl;
	frag = get16(h + 6);
	if (frag & (IPV4_MF | IPV4_OFFMASK)) {
		struct inet_frag_key k = {.saddr = inet_addr_from_v4(p->saddr),
					  .daddr = inet_addr_from_v4(p->daddr),
					  .id = get16(h + 4),
					  .proto = h[9],
					  .more = (frag & IPV4_MF) != 0};
		unsigned off = (frag & IPV4_OFFMASK) * 8u;

		/* Every fragment but the last carries a multiple of 8 bytes; none ends past 64K. */
		if ((k.more && (p->len == 0 || p->len % 8)) || off + p->len > IPV4_MAX_LEN - ihl)
			goto hdr_error;
		p->frag_off = (uint16_t)off;
		inet_count(INET_MIB_IP_REASM_REQDS);
		inet_reass_input(nif, p, &k);
		return;
	}
	ipv4_deliver(nif, p);
	return;

hdr_error:
	inet_count(INET_MIB_IP_IN_HDR_ERRORS);
	netif_count(&nif->stats.rx_errors, 1);
drop:
	pkb_free(p);
}

void ipv4_deliver(struct netif *nif, struct pkb *p)
{
	uint8_t proto = p->data[p->off - p->ihl + 9];

	switch (proto) {
	case IPPROTO_ICMP_:
		inet_count(INET_MIB_IP_IN_DELIVERS);
		icmp_input(nif, p);
		return;
	case IPPROTO_UDP_:
		inet_count(INET_MIB_IP_IN_DELIVERS);
		udp_input(nif, p);
		return;
	case IPPROTO_TCP_:
		inet_count(INET_MIB_IP_IN_DELIVERS);
		tcp_input(nif, p);
		return;
	}
	inet_count(INET_MIB_IP_IN_UNKNOWN_PROTO);
	if (!p->bcast)
		icmp_error(nif, p, ICMP_UNREACH, ICMP_UNREACH_PROTO);
	pkb_free(p);
}

static void put_header(uint8_t *h, uint32_t len, uint16_t id, uint16_t frag, uint8_t proto,
		       uint32_t saddr, uint32_t daddr)
{
	h[0] = 0x45;
	h[1] = 0;
	put16(h + 2, (uint16_t)len);
	put16(h + 4, id);
	put16(h + 6, frag);
	h[8] = INET_TTL;
	h[9] = proto;
	put16(h + 10, 0);
	put32(h + 12, saddr);
	put32(h + 16, daddr);
	put16(h + 10, inet_csum(h, IPV4_HLEN));
}

int ipv4_output(struct pkb *p, uint32_t saddr, uint32_t daddr, uint8_t proto, bool df)
{
	uint32_t nexthop, mtu, chunk, len = p->len;
	struct netif *nif = netif_route(daddr, &nexthop);
	uint16_t id = (uint16_t)atomic_fetch_add(&inet_stack->ip_id, 1);
	uint8_t *h;

	inet_count(INET_MIB_IP_OUT_REQUESTS);
	if (!nif) {
		inet_count(INET_MIB_IP_OUT_NO_ROUTES);
		pkb_free(p);
		return -ENETUNREACH;
	}
	if (!saddr)
		saddr = nif->addr;
	/*
	 * A DF datagram (TCP's) goes as the link takes it: its sender follows
	 * the notes itself, and one that is too big still is the path's to
	 * say (RFC 1191). Others are cut to the path's MTU.
	 */
	if (df) {
		mtu = nif->mtu;
	} else {
		struct inet_addr d = inet_addr_from_v4(daddr);

		mtu = inet_pmtu(nif, &d);
	}
	/* A TSO segment is the host's to cut to the MTU (tcp_output.c, vnet.c). */
	if (len + IPV4_HLEN <= mtu || (p->gso_size && len + IPV4_HLEN <= IPV4_MAX_LEN)) {
		h = pkb_push(p, IPV4_HLEN);
		if (!h)
			goto discard;
		put_header(h, len + IPV4_HLEN, id, df ? IPV4_DF : 0, proto, saddr, daddr);
		arp_output(nif, p, nexthop);
		return 0;
	}
	if (df || len + IPV4_HLEN > IPV4_MAX_LEN) {
		inet_count(INET_MIB_IP_OUT_DISCARDS);
		pkb_free(p);
		return -EMSGSIZE;
	}
	/* Fragments of (mtu - header) rounded down to 8 bytes, each its own buffer. */
	chunk = (mtu - IPV4_HLEN) & ~7u;
	for (uint32_t off = 0; off < len; off += chunk) {
		uint32_t n = MIN(chunk, len - off);
		struct pkb *f = pkb_alloc(INET_PKB_CAP);

		if (!f)
			goto discard;
		f->off = INET_HEADROOM;
		f->len = n;
		memcpy(pkb_data(f), pkb_data(p) + off, n);
		h = pkb_push(f, IPV4_HLEN);
		put_header(h, n + IPV4_HLEN, id,
			   (uint16_t)((off / 8) | (off + n < len ? IPV4_MF : 0)), proto, saddr,
			   daddr);
		inet_count(INET_MIB_IP_FRAG_CREATES);
		arp_output(nif, f, nexthop);
	}
	inet_count(INET_MIB_IP_FRAG_OKS);
	pkb_free(p);
	return 0;

discard:
	inet_count(INET_MIB_IP_OUT_DISCARDS);
	pkb_free(p);
	return -ENOBUFS;
}
