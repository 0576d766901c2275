/*
 * IPv6 (RFC 8200) for a host: header checks, the walk over extension
 * headers, delivery to the transports, and output to the neighbour.
 *
 * Input trusts nothing: the version, a payload length within the frame
 * (what lies past it is Ethernet padding and is cut; 0, a jumbogram's, is
 * refused: no link of ours carries one), a source that can be a station's
 * (not multicast, loopback, v4-mapped or our own; the unspecified one
 * passes for neighbour discovery's DAD, which is the only user of it), a
 * destination of ours: our link-local or global address, all-nodes, or
 * the solicited-node group of either. The machine does not forward. A
 * frame sent to a link-layer group must carry an IPv6 multicast
 * destination (the v6 form of RFC 1122 3.3.6).
 *
 * Extension headers are walked, at most IPV6_EXT_MAX of them, each within
 * the datagram: hop-by-hop options (first only) and destination options
 * have their options read for the action an unknown one asks (RFC 8200
 * 4.2: skip, drop, or drop and say parameter problem); a routing header
 * with segments left is refused with parameter problem (we are nobody's
 * router, and type 0 is deprecated by RFC 5095); a fragment goes to
 * reass.c (RFC 8200 4.5), which hands the whole datagram back to go on
 * with the walk after its unfragmentable part, unless it is an atomic
 * fragment (offset 0, no more: RFC 6946), which is the datagram whole and
 * processed at once. A fragment that is not the last must carry a
 * multiple of 8 bytes, and none may make a datagram of more than 65535
 * bytes of payload: parameter problem, pointing at the payload length and
 * at the fragment offset (RFC 8200 4.5).
 *
 * Output fragments what is longer than the path's MTU, the link's or a
 * note's (pmtu.c, from packet too big): RFC 8200 4.5's fragments, each
 * one's payload a multiple of 8 bytes but the last's, their id a keyed
 * hash (RFC 7739). A TSO segment is not cut here: the host cuts it into
 * segments of the connection's MSS, which follows the notes (tcp.c).
 */
#include <errno.h>
#include <string.h>

#include "uml/siphash.h"
#include "inet_internal.h"

#define NH_HOPOPTS  0
#define NH_ROUTING  43
#define NH_FRAGMENT 44
#define NH_NONE	    59
#define NH_DSTOPTS  60

static const struct inet_addr all_nodes = {{0xff, 0x02, [15] = 1}};

int ipv6_addr_slot(const struct netif *nif, const struct inet_addr *a)
{
	if (!memcmp(a, &nif->ll6, sizeof(*a)))
		return 0;
	return nif->has_addr6 && !memcmp(a, &nif->addr6, sizeof(*a)) ? 1 : -1;
}

bool ipv6_is_ours(const struct netif *nif, const struct inet_addr *a)
{
	return ipv6_addr_slot(nif, a) >= 0;
}

bool ipv6_is_usable(const struct netif *nif, const struct inet_addr *a)
{
	int s = ipv6_addr_slot(nif, a);

	return s >= 0 && atomic_load(&nif->dad[s]) == NETIF_DAD_PREFERRED;
}

void ipv6_solicited(const struct inet_addr *a, struct inet_addr *out)
{
	static const uint8_t head[13] = {0xff, 0x02, [11] = 1, [12] = 0xff};

	memcpy(out->a, head, sizeof(head));
	memcpy(out->a + 13, a->a + 13, 3);
}

static bool is_ours_or_group(const struct netif *nif, const struct inet_addr *d)
{
	struct inet_addr sn;

	/* A tentative address takes no unicast (RFC 4862 5.4); its group hears other DADs. */
	if (ipv6_is_usable(nif, d) || !memcmp(d, &all_nodes, sizeof(*d)))
		return true;
	ipv6_solicited(&nif->ll6, &sn);
	if (!memcmp(d, &sn, sizeof(*d)))
		return true;
	ipv6_solicited(&nif->addr6, &sn);
	return nif->has_addr6 && !memcmp(d, &sn, sizeof(*d));
}

static bool bad_source(const struct netif *nif, const struct inet_addr *s)
{
	static const struct inet_addr loopback = {{[15] = 1}};

	/* Not a tentative one of ours: its owner's NA (DAD) comes from it. */
	return ipv6_is_multicast(s) || !memcmp(s, &loopback, sizeof(*s)) || inet_addr_is_v4(s) ||
	       ipv6_is_usable(nif, s);
}

/*
 * The options of a hop-by-hop or destination options header @h of @len
 * bytes: 0 to go on, -1 to drop quietly, or the offset in @h of an option
 * whose type asks for a parameter problem (RFC 8200 4.2). We know Pad1 and
 * PadN only: every other option is unknown to us.
 */
static int walk_options(const uint8_t *h, unsigned len, bool mcast)
{
	for (unsigned i = 2; i < len;) {
		uint8_t type = h[i];

		if (type == 0) { /* Pad1 */
			i++;
			continue;
		}
		if (i + 2 > len || i + 2 + h[i + 1] > len)
			return -1; /* an option past its header */
		switch (type >> 6) {
		case 1:
			return -1;
		case 2:
			return (int)i;
		case 3:
			return mcast ? -1 : (int)i;
		}
		i += 2u + h[i + 1];
	}
	return 0;
}

/*
 * A fragment (its fragment header at @off of the datagram at pkb_data)
 * to reass.c; consumes @p. 0, or -1 for a header error (@p still the
 * caller's).
 */
static int fragment(struct netif *nif, struct pkb *p, unsigned off)
{
	const uint8_t *h = pkb_data(p);
	uint16_t fo = get16(h + off + 2);
	uint32_t offset = fo & 0xfff8u, len = p->len - off - 8;
	struct inet_frag_key k = {
	    .id = get32(h + off + 4), .proto = h[off], .more = fo & 1, .v6 = true};

	inet_count(INET_MIB_IP6_REASM_REQDS);
	if (k.more && (len == 0 || len % 8)) {
		icmp6_error(nif, p, ICMP6_PARAM_PROB, ICMP6_PARAM_HEADER, 4);
		return -1;
	}
	/* The payload it would make: the unfragmentable headers, then the fragments. */
	if (off - IPV6_HLEN + offset + len > 65535) {
		icmp6_error(nif, p, ICMP6_PARAM_PROB, ICMP6_PARAM_HEADER, off + 2);
		return -1;
	}
	memcpy(k.saddr.a, h + 8, 16);
	memcpy(k.daddr.a, h + 24, 16);
	p->ihl = (uint16_t)(off + 8);
	p->off += off + 8;
	p->len = len;
	p->frag_off = (uint16_t)offset;
	inet_reass_input(nif, p, &k);
	return 0;
}

/*
 * The extension headers of the datagram at pkb_data from @off on (@nxt the
 * next header, named at @nxt_at; @n headers walked so far), then the
 * transport; consumes @p.
 */
static void walk(struct netif *nif, struct pkb *p, unsigned off, uint8_t nxt, unsigned nxt_at,
		 unsigned n)
{
	const uint8_t *h = pkb_data(p);
	int bad;

	for (;; n++) {
		unsigned len;

		if (nxt != NH_HOPOPTS && nxt != NH_DSTOPTS && nxt != NH_ROUTING &&
		    nxt != NH_FRAGMENT)
			break;
		if (n == IPV6_EXT_MAX || off + 8 > p->len)
			goto hdr_error;
		len = nxt == NH_FRAGMENT ? 8u : (h[off + 1] + 1u) * 8u;
		if (off + len > p->len)
			goto hdr_error;
		switch (nxt) {
		case NH_HOPOPTS:
			/* Only right after the header (RFC 8200 4.1). */
			if (n != 0) {
				icmp6_error(nif, p, ICMP6_PARAM_PROB, ICMP6_PARAM_NEXTHDR, nxt_at);
				goto hdr_error;
			}
			/* fall through */
		case NH_DSTOPTS:
			bad = walk_options(h + off, len, p->bcast);
			if (bad > 0)
				icmp6_error(nif, p, ICMP6_PARAM_PROB, ICMP6_PARAM_OPTION,
					    off + (unsigned)bad);
			if (bad)
				goto hdr_error;
			break;
		case NH_ROUTING:
			if (h[off + 3] != 0) {
				icmp6_error(nif, p, ICMP6_PARAM_PROB, ICMP6_PARAM_HEADER, off + 2);
				goto hdr_error;
			}
			break;
		case NH_FRAGMENT:
			if (get16(h + off + 2) & 0xfff9) { /* an offset, or more to come */
				if (fragment(nif, p, off))
					goto hdr_error;
				return;
			}
			break;
		}
		nxt_at = off;
		nxt = h[off];
		off += len;
	}
	p->ihl = (uint16_t)off;
	p->off += off;
	p->len -= off;
	switch (nxt) {
	case IPPROTO_ICMPV6_:
		inet_count(INET_MIB_IP6_IN_DELIVERS);
		icmp6_input(nif, p);
		return;
	case IPPROTO_UDP_:
		inet_count(INET_MIB_IP6_IN_DELIVERS);
		udp_input(nif, p);
		return;
	case IPPROTO_TCP_:
		inet_count(INET_MIB_IP6_IN_DELIVERS);
		tcp_input(nif, p);
		return;
	case NH_NONE:
		goto drop;
	}
	inet_count(INET_MIB_IP6_IN_UNKNOWN_PROTO);
	icmp6_error(nif, p, ICMP6_PARAM_PROB, ICMP6_PARAM_NEXTHDR, nxt_at);
	goto drop;

hdr_error:
	inet_count(INET_MIB_IP6_IN_HDR_ERRORS);
	netif_count(&nif->stats.rx_errors, 1);
drop:
	pkb_free(p);
}

void ipv6_input(struct netif *nif, struct pkb *p)
{
	const uint8_t *h = pkb_data(p);
	struct inet_addr src, dst;
	unsigned plen;

	inet_count(INET_MIB_IP6_IN);
	if (p->len < IPV6_HLEN || h[0] >> 4 != 6)
		goto hdr_error;
	plen = get16(h + 4);
	if (plen == 0 || IPV6_HLEN + plen > p->len)
		goto hdr_error;
	p->len = IPV6_HLEN + plen; /* what follows is the link's padding */
	memcpy(src.a, h + 8, 16);
	memcpy(dst.a, h + 24, 16);
	if (bad_source(nif, &src))
		goto hdr_error;
	if (!is_ours_or_group(nif, &dst)) {
		inet_count(INET_MIB_IP6_IN_ADDR_ERRORS);
		goto drop;
	}
	if (p->bcast && !ipv6_is_multicast(&dst))
		goto hdr_error;
	p->bcast = ipv6_is_multicast(&dst);
	p->v6 = 1;
	p->ihl = 0; /* until the walk ends, errors quote from the header at pkb_data */
	walk(nif, p, IPV6_HLEN, h[6], 6, 0);
	return;

hdr_error:
	inet_count(INET_MIB_IP6_IN_HDR_ERRORS);
	netif_count(&nif->stats.rx_errors, 1);
drop:
	pkb_free(p);
}

void ipv6_reassembled(struct netif *nif, struct pkb *p, unsigned unfrag, unsigned nxt_at)
{
	p->v6 = 1;
	p->ihl = 0;
	/* The headers before the fragment header were walked with its first fragment. */
	walk(nif, p, unfrag, pkb_data(p)[nxt_at], nxt_at, nxt_at == 6 ? 0 : 1);
}

struct netif *ipv6_route(const struct inet_addr *daddr)
{
	uint32_t n = atomic_load((_Atomic uint32_t *)&inet_stack->nifs);
	bool scoped = ipv6_is_linklocal(daddr) || ipv6_is_multicast(daddr);

	for (uint32_t i = 0; i < n; i++) {
		struct netif *nif = inet_stack->ifs[i];

		if (nif->has6 && (scoped || netif_on_link6(nif, daddr)))
			return nif;
	}
	for (uint32_t i = 0; i < n && !scoped; i++)
		if (!ipv6_is_unspecified(&inet_stack->ifs[i]->gateway6))
			return inet_stack->ifs[i];
	return NULL;
}

uint32_t ipv6_scope_of(const struct inet_addr *a)
{
	uint32_t n = atomic_load((_Atomic uint32_t *)&inet_stack->nifs);

	if (!ipv6_is_linklocal(a))
		return 0;
	for (uint32_t i = 0; i < n; i++)
		if (inet_stack->ifs[i]->has6 && !memcmp(&inet_stack->ifs[i]->ll6, a, sizeof(*a)))
			return i + 1;
	return 0;
}

struct netif *ipv6_route_scope(const struct inet_addr *daddr, uint32_t scope,
			       const struct inet_addr *saddr, int *err)
{
	uint32_t n = atomic_load((_Atomic uint32_t *)&inet_stack->nifs);
	uint32_t from = saddr ? ipv6_scope_of(saddr) : 0, only = 0, nsix = 0;
	struct netif *nif;

	*err = 0;
	if (!ipv6_is_linklocal(daddr) && !ipv6_is_multicast(daddr)) {
		nif = ipv6_route(daddr);
		if (!nif)
			*err = -ENETUNREACH;
		return nif;
	}
	if (scope) {
		if (scope > n || !inet_stack->ifs[scope - 1]->has6) {
			*err = -ENODEV;
			return NULL;
		}
		if (from && from != scope) {
			*err = -EINVAL;
			return NULL;
		}
		return inet_stack->ifs[scope - 1];
	}
	if (from)
		return inet_stack->ifs[from - 1];
	for (uint32_t i = 0; i < n; i++)
		if (inet_stack->ifs[i]->has6) {
			only = i + 1;
			nsix++;
		}
	if (nsix > 1) {
		*err = -EINVAL; /* which link? */
		return NULL;
	}
	if (!nsix) {
		*err = -ENETUNREACH;
		return NULL;
	}
	return inet_stack->ifs[only - 1];
}

void ipv6_source(const struct netif *nif, const struct inet_addr *daddr, struct inet_addr *out)
{
	bool link =
	    ipv6_is_linklocal(daddr) || (ipv6_is_multicast(daddr) && (daddr->a[1] & 15) <= 2);

	static const struct inet_addr none;
	bool ll = atomic_load(&nif->dad[0]) == NETIF_DAD_PREFERRED;
	bool gl = nif->has_addr6 && atomic_load(&nif->dad[1]) == NETIF_DAD_PREFERRED;

	if (!link && gl)
		*out = nif->addr6;
	else
		*out = ll ? nif->ll6 : none;
}

/*
 * Whether @p may leave from @saddr: not from an address of ours DAD has not
 * passed (RFC 4862 5.4), nor from :: but for DAD's own NS.
 */
static bool source_ok(const struct pkb *p, const struct inet_addr *saddr, uint8_t proto)
{
	uint32_t n = atomic_load((_Atomic uint32_t *)&inet_stack->nifs);

	if (ipv6_is_unspecified(saddr))
		return proto == IPPROTO_ICMPV6_ && p->len && p->data[p->off] == ICMP6_NS;
	for (uint32_t i = 0; i < n; i++) {
		int s = ipv6_addr_slot(inet_stack->ifs[i], saddr);

		if (s >= 0)
			return atomic_load(&inet_stack->ifs[i]->dad[s]) == NETIF_DAD_PREFERRED;
	}
	return true;
}

static void put_header(uint8_t *h, uint32_t plen, uint8_t nxt, uint8_t hops,
		       const struct inet_addr *saddr, const struct inet_addr *daddr)
{
	put32(h, 6u << 28);
	put16(h + 4, (uint16_t)plen);
	h[6] = nxt;
	h[7] = hops ? hops : INET_HOPS;
	memcpy(h + 8, saddr->a, 16);
	memcpy(h + 24, daddr->a, 16);
}

/*
 * A fragment id nobody off the path can foretell (RFC 7739 5.3): a keyed
 * hash of the two addresses, plus a counter so that one pair's datagrams
 * differ.
 */
static uint32_t frag_id(const struct inet_addr *saddr, const struct inet_addr *daddr)
{
	uint8_t k[32];

	memcpy(k, saddr->a, 16);
	memcpy(k + 16, daddr->a, 16);
	return (uint32_t)siphash24(inet_stack->tcp_secret, k, sizeof(k)) +
	       atomic_fetch_add(&inet_stack->ip6_id, 1);
}

/*
 * @p (its transport header at pkb_data, a checksum the host was to finish
 * finished here) in fragments of at most @mtu bytes, each with a fragment
 * header right after the IPv6 one (we put no extension header of our own,
 * so all of @p is the fragmentable part); consumes @p.
 */
static int fragment_out(struct netif *nif, struct pkb *p, const struct inet_addr *saddr,
			const struct inet_addr *daddr, const struct inet_addr *nexthop,
			uint8_t proto, uint8_t hops, uint32_t mtu)
{
	uint32_t len = p->len, chunk = (mtu - IPV6_HLEN - IPV6_FRAG_HLEN) & ~7u, id;
	struct pkb_queue frags = {0};
	struct pkb *f;

	if (len > IPV6_MAX_PAYLOAD) {
		inet_count(INET_MIB_IP6_FRAG_FAILS);
		inet_count(INET_MIB_IP6_OUT_DISCARDS);
		pkb_free(p);
		return -EMSGSIZE;
	}
	if (p->csum_start) {
		uint8_t *at = p->data + p->csum_start + p->csum_offset;
		uint32_t n = p->off + p->len - p->csum_start;

		put16(at, inet_csum_fold(inet_csum_add(0, p->data + p->csum_start, n)));
		p->csum_start = 0;
	}
	id = frag_id(saddr, daddr);
	/* Every fragment made before any leaves: a datagram goes whole or not at all. */
	for (uint32_t off = 0; off < len; off += chunk) {
		uint32_t n = MIN(chunk, len - off);
		uint8_t *h;

		f = pkb_alloc(INET_PKB_CAP);
		if (!f) {
			pkb_queue_purge(&frags);
			inet_count(INET_MIB_IP6_FRAG_FAILS);
			inet_count(INET_MIB_IP6_OUT_DISCARDS);
			pkb_free(p);
			return -ENOBUFS;
		}
		f->off = INET_HEADROOM;
		f->len = IPV6_FRAG_HLEN + n;
		h = pkb_data(f);
		h[0] = proto;
		h[1] = 0;
		put16(h + 2, (uint16_t)(off | (off + n < len)));
		put32(h + 4, id);
		memcpy(h + IPV6_FRAG_HLEN, pkb_data(p) + off, n);
		h = pkb_push(f, IPV6_HLEN);
		put_header(h, IPV6_FRAG_HLEN + n, NH_FRAGMENT, hops, saddr, daddr);
		pkb_queue_put(&frags, f);
	}
	pkb_free(p);
	inet_count(INET_MIB_IP6_FRAG_OKS);
	while ((f = pkb_queue_take(&frags))) {
		inet_count(INET_MIB_IP6_FRAG_CREATES);
		nd_output(nif, f, nexthop);
	}
	return 0;
}

int ipv6_output(struct netif *nif, struct pkb *p, const struct inet_addr *saddr,
		const struct inet_addr *daddr, uint8_t proto, uint8_t hops)
{
	const struct inet_addr *nexthop = daddr;
	uint32_t len = p->len, mtu;
	uint8_t *h;

	inet_count(INET_MIB_IP6_OUT_REQUESTS);
	if (!nif->has6 || (!ipv6_is_linklocal(daddr) && !ipv6_is_multicast(daddr) &&
			   !netif_on_link6(nif, daddr))) {
		nexthop = &nif->gateway6;
		if (!nif->has6 || ipv6_is_unspecified(nexthop)) {
			inet_count(INET_MIB_IP6_OUT_NO_ROUTES);
			pkb_free(p);
			return -ENETUNREACH;
		}
	}
	if (!source_ok(p, saddr, proto)) {
		inet_count(INET_MIB_IP6_OUT_DISCARDS);
		pkb_free(p);
		return -EADDRNOTAVAIL;
	}
	/* Past the path's MTU: fragments, but a TSO segment, which the host cuts (tcp_output.c). */
	mtu = inet_pmtu(nif, daddr);
	if (p->gso_size ? len > IPV6_MAX_PAYLOAD : len + IPV6_HLEN > mtu)
		return fragment_out(nif, p, saddr, daddr, nexthop, proto, hops, mtu);
	h = pkb_push(p, IPV6_HLEN);
	if (!h) {
		inet_count(INET_MIB_IP6_OUT_DISCARDS);
		pkb_free(p);
		return -ENOBUFS;
	}
	put_header(h, len, proto, hops, saddr, daddr);
	nd_output(nif, p, nexthop);
	return 0;
}
