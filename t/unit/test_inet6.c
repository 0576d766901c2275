/*
 * IPv6 on kernel/net/inet without a device, as test_inet.c does IPv4:
 * frames go in through netif_input, what the stack sends is captured by a
 * hook queue, time is a virtual clock. The machine is 02:00:00:00:00:02,
 * fe80::ff:fe00:2 and 2001:db8::2/64; the peer 02:00:00:00:00:01,
 * fe80::1 and 2001:db8::1.
 *  1     the link-local address is the MAC's modified EUI-64; bad IPv6
 *        configurations are refused
 *  2     DAD at start (RFC 4862 5.4): an NS from :: to each address's
 *        solicited-node group, "tentative" in inet_status; a tentative
 *        address answers neither echo nor NS; a second later both are in
 *        use and announced by unsolicited NA: to all-nodes, hop limit 255,
 *        our MAC as the target link-layer option
 *  3     an NS for our address is answered (solicited, override) and
 *        caches the sender; 4 one for another target is not
 *  5-11  hostile NS and NA dropped and counted, never answered: hop limit
 *        64, bad checksum, code 1, truncated option, zero-length option,
 *        multicast target, short, :: with a link-layer option, a
 *        solicited NA to a group
 * 12     echo request to the link-local address -> reply, same id, seq
 *        and data; 13 to the global one, and to all-nodes (answered from
 *        a unicast address)
 * 14     a reply to an unknown neighbour waits for ND: NS to the
 *        solicited-node group; the NA lets it go
 * 15     an unanswered neighbour: 3 NS 1 s apart, then given up
 * 16     REACHABLE -> STALE after 30 s; a packet makes it DELAY, then PROBE
 *        (unicast NS) after 5 s; no answer: gone
 * 17     the neighbour cache stays at 256 entries under 300 senders
 * 18     extension headers: PadN hop-by-hop and an atomic fragment pass;
 *        9 destination options headers, a header past the datagram, and a
 *        hop-by-hop not first are dropped; 19 an unknown option of type
 *        10xxxxxx, a routing header with segments left and an unknown next
 *        header get parameter problems pointing at the right byte;
 *        20 a lone first fragment is held for reassembly, counted
 * 21     bad IPv6 headers (version, length, jumbo 0, multicast source, not
 *        our destination, unicast to a link group) are counted, not answered
 * 22     Ethernet: multicast groups not joined are dropped
 * 23     UDP over IPv6 to a socket bound to ::, payload and sender whole
 *        (udp_recvfrom_in); 24 the reply from our global address, its
 *        checksum over the IPv6 pseudo-header
 * 25     UDP over IPv6 with checksum 0 or a wrong one: dropped, counted
 * 26     UDP to a closed port: ICMPv6 port unreachable quoting it
 * 27     binding: udp_bind's 0 is IPv4 alone (an IPv6 datagram to it is
 *        refused); :: clashes with it; an IPv6 address not ours is not
 *        bindable; a datagram past the MTU is sent (in fragments: 43); a
 *        socket bound to an IPv6 address can't send to IPv4; nor anyone to ::
 * 28     TCP over IPv6, passive: a SYN to a listener on :: gets a SYN-ACK from
 *        our global address with MSS 1440 (1500 - 60) and a checksum over
 *        the IPv6 pseudo-header; the ACK makes a connection tcp_accept_in
 *        names [2001:db8::1]:5000; data both ways
 * 29     ICMPv6 packet too big (1280) quoting a segment in flight lowers
 *        the MSS to 1220 and sends again; 1000 is raised to 1280's floor
 * 30     a SYN to a closed port: RST; /proc/net/tcp6's row for the
 *        connection, and none in tcp's table
 * 31     TCP over IPv6, active: tcp_connect_in from the link-local address
 *        to fe80::1: SYN, SYN-ACK, established; tcp_peer_in names it
 * 32-39  IPv6 reassembly (RFC 8200 4.5, on reass.c's core): 32 three
 *        fragments in order make one echo of 1200 bytes answered byte for
 *        byte; 33 out of order with a duplicate; 34 a 4000-byte UDP
 *        datagram (past the MTU) after a hop-by-hop header, a destination
 *        options header in its fragmentable part; 35 an overlap (RFC 5722)
 *        gives the datagram up; 36 a fragment past 65535 bytes and a
 *        non-final one not of 8s: parameter problems with their pointers;
 *        37 the 60 s timeout: time exceeded code 1 only for the datagram
 *        whose first fragment came; 38 the bounds (64 datagrams, 1 MiB,
 *        64 fragments) under 1200 fragments; 39 an atomic fragment with
 *        the id of one in reassembly is processed alone (RFC 6946)
 * 40     DAD failing on a second interface: an NA for its link-local
 *        address and an NS from :: for its global one within the second
 *        after its NS: both "dadfailed" in inet_status, counted,
 *        never announced; 41 never used: echoes unanswered, no source
 *        address, a socket bound to one can't send
 * 42-49  fragmentation on output and path MTU (RFC 8200 4.5, RFC 8201):
 *        42 an echo request of 3000 bytes (in fragments) gets its reply in
 *        3 fragments that put together are the request's data, checksum
 *        right; 43 a UDP datagram of 4000 bytes leaves as 3 fragments
 *        (offsets 0, 1448, 2896; M set but on the last; one id), the next
 *        datagram's id differs, snmp6 counts them, and our own reassembly
 *        puts them back (sent back in, addresses swapped) byte for byte;
 *        44 a packet too big of 1280 quoting a fragment makes the next
 *        datagram to that peer 1280-byte fragments, another peer's still
 *        the link's; 45 forged ones change nothing (a source not ours, a
 *        datagram that fit, an MTU at or past the link's, a TCP segment no
 *        connection has in flight, not IPv6, truncated), and one below
 *        1280 is 1280; 46 the note ages out after 10 minutes, not before;
 *        47 a new TCP connection to a noted peer offers MSS 1220 (SYN-ACK,
 *        and tcp_connect_in's SYN) and sends segments that fit; 48 its MSS
 *        is back to 1440 once the note aged out; 49 1000 packet too big
 *        for as many destinations: the table stays at INET_PMTU_NOTES
 * 50     a SYN without an MSS option over IPv6: the connection's MSS is
 *        RFC 9293 3.7.1's 1220 (IPv4's 536 before), and its segments 1220
 * 51     every buffer is back in the end
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "tap.h"
#include "uml.h"
#include "uml/inet.h"
#include "wire.h"
#include "../../kernel/net/inet/tcp.h"

static const uint8_t peer_mac[6] = {2, 0, 0, 0, 0, 1};
static const uint8_t our_mac[6] = {2, 0, 0, 0, 0, 2};
static const struct inet_addr peer_ll = {{0xfe, 0x80, [15] = 1}};
static const struct inet_addr our_ll = {{0xfe, 0x80, [11] = 0xff, [12] = 0xfe, [15] = 2}};
static const struct inet_addr peer_gl = {{0x20, 0x01, 0x0d, 0xb8, [15] = 1}};
static const struct inet_addr our_gl = {{0x20, 0x01, 0x0d, 0xb8, [15] = 2}};
static const struct inet_addr all_nodes = {{0xff, 0x02, [15] = 1}};
static struct netif *nif;
static struct netif_queue *q;

static bool same(const uint8_t *a, const struct inet_addr *b)
{
	return !memcmp(a, b->a, 16);
}

/*
 * A frame to @dmac carrying an IPv6 datagram: @ext (extension headers,
 * @extlen bytes, the first one's type @first) then @plen bytes of @proto.
 */
static size_t frame6(uint8_t *f, const uint8_t *dmac, uint8_t hops, const struct inet_addr *src,
		     const struct inet_addr *dst, uint8_t first, const uint8_t *ext, size_t extlen,
		     const void *payload, size_t plen)
{
	uint8_t *h = f + wire_eth(f, dmac, peer_mac, ETH_P_IPV6);

	wire_ip6(h, src, dst, first, hops, extlen + plen);
	if (extlen) /* memcpy from NULL is undefined, even of nothing */
		memcpy(h + 40, ext, extlen);
	if (plen)
		memcpy(h + 40 + extlen, payload, plen);
	return 14 + 40 + extlen + plen;
}

static void icmp6_sum(uint8_t *m, size_t len, const struct inet_addr *src,
		      const struct inet_addr *dst)
{
	put16(m + 2, 0);
	put16(m + 2, inet_csum_fold(
			 inet_csum_add(inet_csum_pseudo6(src, dst, 58, (uint32_t)len), m, len)));
}

static bool icmp6_sum_ok(const uint8_t *f, size_t len)
{
	struct inet_addr s, d;
	const uint8_t *h = f + 14;
	uint32_t plen = get16(h + 4);

	if (len < 54 + plen || h[6] != 58)
		return false;
	memcpy(s.a, h + 8, 16);
	memcpy(d.a, h + 24, 16);
	return inet_csum_fold(inet_csum_add(inet_csum_pseudo6(&s, &d, 58, plen), h + 40, plen)) ==
	       0;
}

/* The MAC of a group, the solicited-node one of @a when @a is unicast. */
static void group_mac(const struct inet_addr *a, uint8_t mac[6])
{
	struct inet_addr g;

	if (ipv6_is_multicast(a))
		g = *a;
	else
		ipv6_solicited(a, &g);
	ether_multicast6(&g, mac);
}

/* An NS or NA (@type) for @target, with a link-layer option of @opt_type when non-zero. */
static size_t nd_msg(uint8_t *m, uint8_t type, uint8_t flags, const struct inet_addr *target,
		     uint8_t opt_type, const uint8_t *mac)
{
	memset(m, 0, 32);
	m[0] = type;
	m[4] = flags;
	memcpy(m + 8, target->a, 16);
	if (!opt_type)
		return 24;
	m[24] = opt_type;
	m[25] = 1;
	memcpy(m + 26, mac, 6);
	return 32;
}

static void feed_icmp6(const uint8_t *dmac, uint8_t hops, const struct inet_addr *src,
		       const struct inet_addr *dst, uint8_t *m, size_t mlen)
{
	static uint8_t f[CAP_FRAME];

	icmp6_sum(m, mlen, src, dst);
	netif_input(q, f, frame6(f, dmac, hops, src, dst, 58, NULL, 0, m, mlen));
}

/* An NS from @src (peer_mac) for @target, sent to the target's solicited-node group. */
static void peer_ns(const struct inet_addr *src, const struct inet_addr *target)
{
	uint8_t m[32], mac[6], dmac[6];
	struct inet_addr dst;

	memcpy(mac, peer_mac, 6);
	ipv6_solicited(target, &dst);
	group_mac(&dst, dmac);
	feed_icmp6(dmac, 255, src, &dst, m, nd_msg(m, ICMP6_NS, 0, target, 1, mac));
}

static void peer_na(const struct inet_addr *target, uint8_t flags)
{
	uint8_t m[32];

	feed_icmp6(our_mac, 255, target, &our_ll, m,
		   nd_msg(m, ICMP6_NA, flags, target, 2, peer_mac));
}

static size_t echo6(uint8_t *m, uint16_t seq, size_t dlen)
{
	memset(m, 0, 8);
	m[0] = ICMP6_ECHO_REQUEST;
	put16(m + 4, 0x77);
	put16(m + 6, seq);
	for (size_t i = 0; i < dlen; i++)
		m[8 + i] = (uint8_t)(i * 3 + seq);
	return 8 + dlen;
}

static void send_echo6(const uint8_t *dmac, const struct inet_addr *src,
		       const struct inet_addr *dst, uint16_t seq)
{
	uint8_t m[128];

	feed_icmp6(dmac, 64, src, dst, m, echo6(m, seq, 40));
}

/* Whether frame @i is an echo reply to @to from @from with seq @seq and its data. */
static bool is_reply(int i, const struct inet_addr *from, const struct inet_addr *to, uint16_t seq)
{
	const uint8_t *h = out[i].b + 14, *m = h + 40;

	return get16(out[i].b + 12) == ETH_P_IPV6 && !memcmp(out[i].b, peer_mac, 6) &&
	       same(h + 8, from) && same(h + 24, to) && h[7] == 64 && m[0] == ICMP6_ECHO_REPLY &&
	       get16(m + 4) == 0x77 && get16(m + 6) == seq &&
	       m[8 + 39] == (uint8_t)(39 * 3 + seq) && icmp6_sum_ok(out[i].b, out[i].len);
}

static void test_config(void)
{
	struct netif_config bad = {.name = "b0", .addr = 0x0a010002u, .prefix_len = 24};
	struct inet_addr ll;
	int refused = 0;

	netif_addr6_ll(nif, &ll);
	bad.addr6 = all_nodes; /* multicast */
	bad.prefix6_len = 64;
	refused += netif_create(&bad, NULL) == -EINVAL;
	bad.addr6 = our_ll; /* link-local: made, not configured */
	refused += netif_create(&bad, NULL) == -EINVAL;
	bad.addr6 = our_gl;
	bad.prefix6_len = 0;
	refused += netif_create(&bad, NULL) == -EINVAL;
	bad.prefix6_len = 64;
	bad.gateway6 = (struct inet_addr){{0x20, 0x01, 0x0d, 0xb9, [15] = 1}}; /* off the prefix */
	refused += netif_create(&bad, NULL) == -EINVAL;
	bad.gateway6 = peer_ll;
	bad.mtu = 1000; /* IPv6 needs 1280 */
	refused += netif_create(&bad, NULL) == -EINVAL;
	bad.addr6 = inet_addr_from_v4(0x0a010002u);
	bad.mtu = 0;
	refused += netif_create(&bad, NULL) == -EINVAL;
	ok(same(ll.a, &our_ll) && refused == 6,
	   "1 link-local fe80::ff:fe00:2 from the MAC; %d of 6 bad IPv6 configurations refused",
	   refused);
}

/* Whether frame @i is DAD's NS for @a: from ::, to its solicited-node group, no option. */
static bool is_dad_ns(int i, const struct inet_addr *a)
{
	static const struct inet_addr unspec;
	const uint8_t *h = out[i].b + 14, *m = h + 40;
	struct inet_addr sn;
	uint8_t mac[6];

	ipv6_solicited(a, &sn);
	group_mac(a, mac);
	return get16(out[i].b + 12) == ETH_P_IPV6 && !memcmp(out[i].b, mac, 6) && h[7] == 255 &&
	       same(h + 8, &unspec) && same(h + 24, &sn) && get16(h + 4) == 24 &&
	       m[0] == ICMP6_NS && same(m + 8, a) && icmp6_sum_ok(out[i].b, out[i].len);
}

static void test_announce(void)
{
	int good = 0, dad = 0, early;
	char st[8192];

	step(1000);
	netif_announce(nif);
	for (int i = 0; i < nout; i++)
		dad += is_dad_ns(i, &our_ll) || is_dad_ns(i, &our_gl);
	inet_status(st, sizeof(st));
	dad +=
	    strstr(st, "t0.inet6_link fe80::ff:fe00:2/64\nt0.inet6_link_state tentative\n") != NULL;
	/* Tentative: neither an echo nor an NS for it is answered. */
	step(500);
	send_echo6(our_mac, &peer_ll, &our_ll, 90);
	peer_ns(&peer_ll, &our_ll);
	netif_tick(nif);
	early = nout;
	step(500);
	netif_tick(nif);
	for (int i = 0; i < nout; i++) {
		const uint8_t *h = out[i].b + 14, *m = h + 40;
		static const uint8_t an_mac[6] = {0x33, 0x33, 0, 0, 0, 1};

		if (get16(out[i].b + 12) != ETH_P_IPV6)
			continue;
		good += !memcmp(out[i].b, an_mac, 6) && h[7] == 255 && same(h + 24, &all_nodes) &&
			m[0] == ICMP6_NA && m[4] == 0x20 && m[24] == 2 && m[25] == 1 &&
			!memcmp(m + 26, our_mac, 6) &&
			same(h + 8, (const struct inet_addr *)(m + 8)) &&
			icmp6_sum_ok(out[i].b, out[i].len) &&
			(same(m + 8, &our_ll) || same(m + 8, &our_gl));
	}
	inet_status(st, sizeof(st));
	ok(dad == 3 && early == 0 && good == 2 &&
	       strstr(st, "t0.inet6_link fe80::ff:fe00:2/64\nt0.inet6_link_state preferred\n") &&
	       strstr(st, "t0.inet6_global 2001:db8::2/64\nt0.inet6_global_state preferred\n"),
	   "2 DAD: an NS from :: to each address's solicited-node group (%d of 3 with the "
	   "status's \"tentative\"); tentative, an echo and an NS go unanswered (%d sent); 1 s "
	   "later both in use, announced by unsolicited NA to all-nodes (%d good)",
	   dad, early, good);
}

static void test_ns(void)
{
	static const struct inet_addr other = {{0xfe, 0x80, [15] = 9}};
	const uint8_t *h, *m;
	uint8_t mac[6];

	step(0);
	peer_ns(&peer_ll, &our_ll);
	h = out[0].b + 14;
	m = h + 40;
	ok(nout == 1 && !memcmp(out[0].b, peer_mac, 6) && same(h + 8, &our_ll) &&
	       same(h + 24, &peer_ll) && h[7] == 255 && m[0] == ICMP6_NA && m[4] == 0x60 &&
	       same(m + 8, &our_ll) && m[24] == 2 && !memcmp(m + 26, our_mac, 6) &&
	       icmp6_sum_ok(out[0].b, out[0].len) && nd_lookup(nif, &peer_ll, mac) == 0 &&
	       !memcmp(mac, peer_mac, 6),
	   "3 NS for our address: NA (solicited, override) to the sender, who is cached");

	step(0);
	peer_ns(&other, &other);
	ok(nout == 0 && nd_lookup(nif, &other, mac) == -ENOENT,
	   "4 NS for another target: no NA, nothing cached");
}

/* Feed NS @m (@len bytes) from @src; whether it was dropped, counted in @mib, unanswered. */
static bool ns_dropped(uint8_t *m, size_t len, uint8_t hops, const struct inet_addr *src,
		       bool fix_sum, enum inet_mib mib)
{
	static uint8_t f[CAP_FRAME];
	struct inet_addr dst;
	uint8_t dmac[6];
	uint64_t before = inet_mib(mib);

	ipv6_solicited(&our_ll, &dst);
	group_mac(&dst, dmac);
	if (fix_sum)
		icmp6_sum(m, len, src, &dst);
	step(0);
	netif_input(q, f, frame6(f, dmac, hops, src, &dst, 58, NULL, 0, m, len));
	return nout == 0 && inet_mib(mib) == before + 1;
}

static void test_nd_hostile(void)
{
	static const struct inet_addr unspec;
	uint8_t m[64];
	size_t n;
	bool a, b;

	n = nd_msg(m, ICMP6_NS, 0, &our_ll, 1, peer_mac);
	ok(ns_dropped(m, n, 64, &peer_ll, true, INET_MIB_ND_IN_ERRORS),
	   "5 NS with hop limit 64 (it crossed a router): dropped, counted");

	n = nd_msg(m, ICMP6_NS, 0, &our_ll, 1, peer_mac);
	icmp6_sum(m, n, &peer_ll, &our_ll); /* the sum of another pseudo-header */
	a = ns_dropped(m, n, 255, &peer_ll, false, INET_MIB_ICMP6_IN_ERRORS);
	n = nd_msg(m, ICMP6_NS, 0, &our_ll, 1, peer_mac);
	m[1] = 1;
	b = ns_dropped(m, n, 255, &peer_ll, true, INET_MIB_ND_IN_ERRORS);
	ok(a && b, "6 NS with a bad checksum, and with code 1: dropped, counted");

	n = nd_msg(m, ICMP6_NS, 0, &our_ll, 1, peer_mac);
	m[25] = 2; /* 16 bytes said, 8 there */
	a = ns_dropped(m, n, 255, &peer_ll, true, INET_MIB_ND_IN_ERRORS);
	n = nd_msg(m, ICMP6_NS, 0, &our_ll, 1, peer_mac);
	m[25] = 0;
	b = ns_dropped(m, n, 255, &peer_ll, true, INET_MIB_ND_IN_ERRORS);
	ok(a && b, "7 NS with a truncated option, and with a zero-length one: dropped, counted");

	n = nd_msg(m, ICMP6_NS, 0, &all_nodes, 1, peer_mac);
	ok(ns_dropped(m, n, 255, &peer_ll, true, INET_MIB_ND_IN_ERRORS),
	   "8 NS for a multicast target: dropped, counted");

	n = nd_msg(m, ICMP6_NS, 0, &our_ll, 0, NULL);
	ok(ns_dropped(m, 20, 255, &peer_ll, true, INET_MIB_ND_IN_ERRORS),
	   "9 NS of 20 bytes (under 24): dropped, counted");

	n = nd_msg(m, ICMP6_NS, 0, &our_ll, 1, peer_mac);
	ok(ns_dropped(m, n, 255, &unspec, true, INET_MIB_ND_IN_ERRORS),
	   "10 NS from :: with a source link-layer option: dropped, counted");

	{
		static uint8_t f[CAP_FRAME];
		uint64_t before = inet_mib(INET_MIB_ND_IN_ERRORS);
		uint8_t dmac[6];

		group_mac(&all_nodes, dmac);
		n = nd_msg(m, ICMP6_NA, 0x60, &peer_ll, 2, peer_mac);
		icmp6_sum(m, n, &peer_ll, &all_nodes);
		step(0);
		netif_input(q, f, frame6(f, dmac, 255, &peer_ll, &all_nodes, 58, NULL, 0, m, n));
		ok(nout == 0 && inet_mib(INET_MIB_ND_IN_ERRORS) == before + 1,
		   "11 a solicited NA to all-nodes: dropped, counted");
	}
}

static void test_echo6(void)
{
	uint8_t dmac[6];

	step(1000);
	send_echo6(our_mac, &peer_ll, &our_ll, 1);
	ok(nout == 1 && is_reply(0, &our_ll, &peer_ll, 1),
	   "12 echo request to fe80::ff:fe00:2 -> reply: same id, seq, data; checksum right");

	/* The global peer is resolved first: its NS makes it a neighbour. */
	peer_ns(&peer_gl, &our_gl);
	step(0);
	send_echo6(our_mac, &peer_gl, &our_gl, 2);
	{
		bool gl = nout == 1 && is_reply(0, &our_gl, &peer_gl, 2);

		step(0);
		group_mac(&all_nodes, dmac);
		send_echo6(dmac, &peer_ll, &all_nodes, 3);
		ok(gl && nout == 1 && is_reply(0, &our_ll, &peer_ll, 3),
		   "13 echo to the global address: from it; to all-nodes: from our link-local");
	}
}

static void test_resolve(void)
{
	const uint8_t *h, *m;
	uint8_t mac[6], dmac[6];
	bool asked;

	nd_flush(nif);
	step(1000);
	send_echo6(our_mac, &peer_ll, &our_ll, 4);
	h = out[0].b + 14;
	m = h + 40;
	group_mac(&peer_ll, dmac);
	asked = nout == 1 && !memcmp(out[0].b, dmac, 6) && m[0] == ICMP6_NS && h[7] == 255 &&
		same(m + 8, &peer_ll) && m[24] == 1 && !memcmp(m + 26, our_mac, 6) &&
		icmp6_sum_ok(out[0].b, out[0].len) && nd_lookup(nif, &peer_ll, mac) == -EINPROGRESS;
	step(0);
	peer_na(&peer_ll, 0x60);
	ok(asked && nout == 1 && is_reply(0, &our_ll, &peer_ll, 4),
	   "14 reply to an unknown neighbour: NS to its solicited-node group; the NA lets it go");

	{
		static const struct inet_addr lost = {{0xfe, 0x80, [15] = 0x42}};
		uint64_t failed = inet_mib(INET_MIB_ND_FAILED);
		int ns = 0;

		step(0);
		send_echo6(our_mac, &lost, &our_ll, 5);
		ns += nout;
		for (int i = 0; i < 4; i++) {
			step(1000);
			netif_tick(nif);
			ns += nout;
		}
		ok(ns == 3 && inet_mib(INET_MIB_ND_FAILED) == failed + 1 &&
		       nd_lookup(nif, &lost, mac) == -ENOENT,
		   "15 unanswered: %d NS 1 s apart, then given up", ns);
	}

	{
		bool reach, stale, probe, gone;

		step(0);
		peer_na(&peer_ll, 0x60); /* solicited: REACHABLE */
		reach = nd_lookup(nif, &peer_ll, mac) == 0;
		step(31000);
		netif_tick(nif);
		send_echo6(our_mac, &peer_ll, &our_ll, 6); /* STALE: sent, and DELAY */
		stale = nout == 1 && is_reply(0, &our_ll, &peer_ll, 6);
		step(5000);
		netif_tick(nif);
		h = out[0].b + 14;
		probe = nout == 1 && !memcmp(out[0].b, peer_mac, 6) && h[40] == ICMP6_NS &&
			same(h + 24, &peer_ll);
		for (int i = 0; i < 4; i++) {
			step(1000);
			netif_tick(nif);
		}
		gone = nd_lookup(nif, &peer_ll, mac) == -ENOENT;
		ok(reach && stale && probe && gone,
		   "16 REACHABLE, STALE at 30 s (still used), PROBE 5 s later by unicast NS, then "
		   "gone");
	}
}

static void test_bound(void)
{
	for (int i = 0; i < 300; i++) {
		struct inet_addr a = {
		    {0xfe, 0x80, [13] = 1, [14] = (uint8_t)(i >> 8), [15] = (uint8_t)i}};

		peer_ns(&a, &our_ll);
	}
	ok(nd_count(nif) == INET_NEIGH_MAX && inet_mib(INET_MIB_ND_EVICTIONS) > 0,
	   "17 neighbour cache bounded at %u entries under 300 senders", nd_count(nif));
	nd_flush(nif);
	peer_ns(&peer_ll, &our_ll);
}

/* Feed an echo request after extension headers @ext; the frames sent. */
static int echo_through(uint8_t first, const uint8_t *ext, size_t extlen, uint16_t seq)
{
	static uint8_t f[CAP_FRAME];
	uint8_t m[128];
	size_t n = echo6(m, seq, 40);

	icmp6_sum(m, n, &peer_ll, &our_ll);
	step(1000);
	netif_input(q, f, frame6(f, our_mac, 64, &peer_ll, &our_ll, first, ext, extlen, m, n));
	return nout;
}

static void test_ext(void)
{
	uint8_t ext[128];
	int pass, dropped = 0;
	const uint8_t *h;

	/* Hop-by-hop with a PadN of 4, then ICMPv6. */
	memset(ext, 0, 8);
	ext[0] = 58;
	ext[2] = 1;
	ext[3] = 4;
	pass = echo_through(0, ext, 8, 10) == 1 && is_reply(0, &our_ll, &peer_ll, 10);
	/* An atomic fragment. */
	memset(ext, 0, 8);
	ext[0] = 58;
	pass += echo_through(44, ext, 8, 11) == 1 && is_reply(0, &our_ll, &peer_ll, 11);
	/* Nine destination options headers: past IPV6_EXT_MAX. */
	memset(ext, 0, 72);
	for (int i = 0; i < 9; i++)
		ext[8 * i] = i < 8 ? 60 : 58;
	dropped += echo_through(60, ext, 72, 12) == 0;
	/* A header whose length runs past the datagram. */
	memset(ext, 0, 8);
	ext[0] = 58;
	ext[1] = 20;
	dropped += echo_through(60, ext, 8, 13) == 0;
	/* Hop-by-hop after a destination options header. */
	memset(ext, 0, 16);
	ext[0] = 0;
	ext[8] = 58;
	dropped += echo_through(60, ext, 16, 14) == 0 ||
		   (nout == 1 && out[0].b[14 + 40] == ICMP6_PARAM_PROB);
	ok(pass == 2 && dropped == 3,
	   "18 PadN hop-by-hop and atomic fragment pass (%d of 2); 3 bad walks dropped (%d)", pass,
	   dropped);

	{
		int good = 0;

		/* Option type 0x80: unknown, "discard and say so" (RFC 8200 4.2). */
		memset(ext, 0, 8);
		ext[0] = 58;
		ext[2] = 0x80;
		ext[3] = 4;
		echo_through(60, ext, 8, 15);
		h = out[0].b + 14;
		good += nout == 1 && h[40] == ICMP6_PARAM_PROB && h[41] == 2 &&
			get32(h + 44) == 42 && icmp6_sum_ok(out[0].b, out[0].len);
		/* A routing header with a segment left. */
		memset(ext, 0, 8);
		ext[0] = 58;
		ext[3] = 1;
		echo_through(43, ext, 8, 16);
		h = out[0].b + 14;
		good += nout == 1 && h[40] == ICMP6_PARAM_PROB && h[41] == 0 && get32(h + 44) == 42;
		/* Next header 253 (experimental): nobody here speaks it. */
		echo_through(253, NULL, 0, 17);
		h = out[0].b + 14;
		good += nout == 1 && h[40] == ICMP6_PARAM_PROB && h[41] == 1 &&
			get32(h + 44) == 6 && same(h + 48 + 8, &peer_ll);
		ok(good == 3,
		   "19 parameter problems: option (ptr 42), routing (42), next header "
		   "(6): %d of 3 right",
		   good);
	}

	{
		uint64_t before = inet_mib(INET_MIB_IP6_REASM_REQDS);

		memset(ext, 0, 8);
		ext[0] = 58;
		ext[3] = 1; /* more fragments */
		ok(echo_through(44, ext, 8, 18) == 0 &&
		       inet_mib(INET_MIB_IP6_REASM_REQDS) == before + 1 && nif->nreass == 1,
		   "20 a lone first fragment: held for reassembly, counted, not answered");
		inet_reass_flush(nif);
	}
}

static void test_hdr(void)
{
	static uint8_t f[CAP_FRAME];
	static const struct inet_addr not_ours = {{0xfe, 0x80, [15] = 0x33}};
	uint64_t hdr = inet_mib(INET_MIB_IP6_IN_HDR_ERRORS),
		 addr = inet_mib(INET_MIB_IP6_IN_ADDR_ERRORS);
	uint8_t m[128], dmac[6];
	size_t n = echo6(m, 20, 40), len;
	int sent = 0;

	icmp6_sum(m, n, &peer_ll, &our_ll);
	step(1000);
	len = frame6(f, our_mac, 64, &peer_ll, &our_ll, 58, NULL, 0, m, n);
	f[14] = 0x40;
	netif_input(q, f, len);
	sent += nout;
	len = frame6(f, our_mac, 64, &peer_ll, &our_ll, 58, NULL, 0, m, n);
	put16(f + 18, 200);
	netif_input(q, f, len);
	sent += nout;
	put16(f + 18, 0);
	netif_input(q, f, len);
	sent += nout;
	netif_input(q, f, frame6(f, our_mac, 64, &all_nodes, &our_ll, 58, NULL, 0, m, n));
	sent += nout;
	netif_input(q, f, frame6(f, our_mac, 64, &peer_ll, &not_ours, 58, NULL, 0, m, n));
	sent += nout;
	group_mac(&all_nodes, dmac);
	netif_input(q, f, frame6(f, dmac, 64, &peer_ll, &our_ll, 58, NULL, 0, m, n));
	sent += nout;
	ok(sent == 0 && inet_mib(INET_MIB_IP6_IN_HDR_ERRORS) == hdr + 5 &&
	       inet_mib(INET_MIB_IP6_IN_ADDR_ERRORS) == addr + 1,
	   "21 bad IPv6 headers counted (%llu, %llu), none answered",
	   (unsigned long long)(inet_mib(INET_MIB_IP6_IN_HDR_ERRORS) - hdr),
	   (unsigned long long)(inet_mib(INET_MIB_IP6_IN_ADDR_ERRORS) - addr));
}

static void test_ether(void)
{
	static const uint8_t routers[6] = {0x33, 0x33, 0, 0, 0, 2};
	static const uint8_t other_sn[6] = {0x33, 0x33, 0xff, 0, 0, 9};
	uint64_t drops = inet_mib(INET_MIB_ETH_IN_DROPS);

	step(1000);
	send_echo6(routers, &peer_ll, &all_nodes, 21);
	send_echo6(other_sn, &peer_ll, &our_ll, 22);
	ok(nout == 0 && inet_mib(INET_MIB_ETH_IN_DROPS) == drops + 2,
	   "22 Ethernet: all-routers and another solicited-node group are not ours: dropped");
}

/* A UDP datagram from @src:@sport to @dst:@dport, checksummed unless @sum is given. */
static void feed_udp6(const struct inet_addr *src, const struct inet_addr *dst, uint16_t sport,
		      uint16_t dport, const char *msg, int sum)
{
	static uint8_t f[CAP_FRAME];
	uint8_t u[256];
	size_t n = 8 + strlen(msg);

	put16(u, sport);
	put16(u + 2, dport);
	put16(u + 4, (uint16_t)n);
	put16(u + 6, 0);
	memcpy(u + 8, msg, n - 8);
	put16(u + 6, sum >= 0 ? (uint16_t)sum
			      : inet_csum_fold(inet_csum_add(
				    inet_csum_pseudo6(src, dst, IPPROTO_UDP_, (uint32_t)n), u, n)));
	netif_input(q, f, frame6(f, our_mac, 64, src, dst, IPPROTO_UDP_, NULL, 0, u, n));
}

static void test_udp6(void)
{
	static const struct inet_addr any;
	static const struct inet_addr v4peer = {{[10] = 0xff, [11] = 0xff, 10, 0, 0, 1}};
	struct udp_sock *s, *s4, *s6;
	struct inet_addr from, bound;
	uint16_t sport;
	char buf[64];
	ssize_t n;
	const uint8_t *h;

	if (udp_open(&s) || udp_bind_in(s, &any, 7))
		bail_out("no UDP socket");
	peer_ns(&peer_gl, &our_gl);
	step(1000);
	feed_udp6(&peer_gl, &our_gl, 4000, 7, "hello over six", -1);
	n = udp_recvfrom_in(s, buf, sizeof(buf), &from, &sport, 0);
	ok(n == 14 && !memcmp(buf, "hello over six", 14) && same(from.a, &peer_gl) && sport == 4000,
	   "23 UDP over IPv6 to ::7: payload and sender [2001:db8::1]:4000 whole");

	step(0);
	n = udp_sendto_in(s, "back", 4, &from, sport);
	h = out[0].b + 14;
	ok(n == 4 && nout == 1 && same(h + 8, &our_gl) && same(h + 24, &peer_gl) && h[6] == 17 &&
	       get16(h + 40) == 7 && get16(h + 42) == 4000 && get16(h + 44) == 12 &&
	       !memcmp(h + 48, "back", 4) &&
	       inet_csum_fold(
		   inet_csum_add(inet_csum_pseudo6(&our_gl, &peer_gl, 17, 12), h + 40, 12)) == 0,
	   "24 the reply: from 2001:db8::2:7, checksum right over the IPv6 pseudo-header");

	{
		uint64_t err = inet_mib(INET_MIB_UDP_IN_ERRORS);

		step(0);
		feed_udp6(&peer_gl, &our_gl, 4000, 7, "no sum", 0);
		feed_udp6(&peer_gl, &our_gl, 4000, 7, "bad sum", 0x1234);
		ok(udp_recvfrom_in(s, buf, sizeof(buf), &from, &sport, 0) == -EAGAIN &&
		       inet_mib(INET_MIB_UDP_IN_ERRORS) == err + 2 && nout == 0,
		   "25 UDP over IPv6 with checksum 0, and a wrong one: dropped, counted");
	}

	step(1000);
	feed_udp6(&peer_gl, &our_gl, 4001, 9, "closed", -1);
	h = out[0].b + 14;
	ok(nout == 1 && h[40] == ICMP6_DST_UNREACH && h[41] == ICMP6_UNREACH_PORT &&
	       same(h + 24, &peer_gl) && same(h + 48 + 24, &our_gl) && get16(h + 48 + 42) == 9 &&
	       icmp6_sum_ok(out[0].b, out[0].len),
	   "26 UDP to closed port 9: ICMPv6 port unreachable quoting the datagram");

	{
		int good = 0;
		static uint8_t big[1500];
		static const struct inet_addr stranger = {{0x20, 0x01, 0x0d, 0xb8, [15] = 0x77}};

		if (udp_open(&s4) || udp_open(&s6))
			bail_out("no UDP socket");
		good += udp_bind(s4, 0, 2000) == 0;
		step(1000);
		feed_udp6(&peer_gl, &our_gl, 4002, 2000, "to v4 only", -1);
		good += nout == 1 && out[0].b[14 + 40] == ICMP6_DST_UNREACH;
		good += udp_bind_in(s6, &any, 2000) == -EADDRINUSE;
		good += udp_bind_in(s6, &stranger, 2001) == -EADDRNOTAVAIL;
		good += udp_bind_in(s6, &our_ll, 2002) == 0 &&
			udp_local_in(s6, &bound, &sport) == 0 && same(bound.a, &our_ll) &&
			sport == 2002;
		good += udp_sendto_in(s, big, 1453, &peer_gl, 5) == 1453 &&
			udp_sendto_in(s, big, 1452, &peer_gl, 5) == 1452;
		good += udp_sendto_in(s6, "x", 1, &v4peer, 5) == -EAFNOSUPPORT;
		good += udp_sendto_in(s, "x", 1, &any, 5) == -EINVAL;
		ok(good == 8, "27 binding rules and the MTU: %d of 8 right", good);
		udp_close(s4);
		udp_close(s6);
	}
	udp_close(s);
}

/* A TCP segment from [@src]:@sport to our @dst:@dport, with an MSS option if @mss. */
static void feed_tcp6(const struct inet_addr *src, const struct inet_addr *dst, uint16_t sport,
		      uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags, uint16_t mss,
		      const char *data)
{
	static uint8_t f[CAP_FRAME];
	uint8_t opt[4] = {OPT_MSS, 4, (uint8_t)(mss >> 8), (uint8_t)mss};
	struct wire_tcp seg = {sport, dport, seq,	  ack,	flags,
			       65535, opt,   mss ? 4 : 0, data, data ? strlen(data) : 0};

	netif_input(q, f, wire_tcp6_frame(f, our_mac, peer_mac, src, dst, &seg));
}

/* Whether frame @i is a TCP segment from @from to @to whose checksum is right. */
static bool tcp6_ok(int i, const struct inet_addr *from, const struct inet_addr *to)
{
	const uint8_t *h = out[i].b + 14;
	uint32_t plen = get16(h + 4);

	return get16(out[i].b + 12) == ETH_P_IPV6 && h[6] == IPPROTO_TCP_ && same(h + 8, from) &&
	       same(h + 24, to) &&
	       inet_csum_fold(inet_csum_add(inet_csum_pseudo6(from, to, IPPROTO_TCP_, plen), h + 40,
					    plen)) == 0;
}

static void test_tcp6(void)
{
	static const struct inet_addr any;
	struct tcp_sock *l, *s = NULL, *c;
	struct inet_addr ra;
	uint16_t rport = 0;
	uint32_t iss, seq = 1000;
	const uint8_t *t;
	char buf[64];
	bool synack;

	if (tcp_open(&l) || tcp_bind_in(l, &any, 80) || tcp_listen(l, 4))
		bail_out("no TCP listener");
	peer_ns(&peer_gl, &our_gl);
	step(1000);
	feed_tcp6(&peer_gl, &our_gl, 5000, 80, seq, 0, TCP_SYN, 1440, NULL);
	t = out[0].b + 54;
	synack = nout == 1 && tcp6_ok(0, &our_gl, &peer_gl) && t[13] == (TCP_SYN | TCP_ACK) &&
		 get32(t + 8) == seq + 1 && t[20] == 2 && get16(t + 22) == 1440;
	iss = get32(t + 4);
	step(0);
	feed_tcp6(&peer_gl, &our_gl, 5000, 80, seq + 1, iss + 1, TCP_ACK, 0, NULL);
	feed_tcp6(&peer_gl, &our_gl, 5000, 80, seq + 1, iss + 1, TCP_ACK | TCP_PSH, 0, "ping");
	if (tcp_accept_in(l, &s, &ra, &rport, 0))
		s = NULL;
	ok(synack && s && same(ra.a, &peer_gl) && rport == 5000 &&
	       tcp_recv(s, buf, sizeof(buf), 0) == 4 && !memcmp(buf, "ping", 4) &&
	       tcp_send(s, "pong", 4, 0) == 4 && nout >= 1 &&
	       tcp6_ok(nout - 1, &our_gl, &peer_gl) &&
	       !memcmp(out[nout - 1].b + 54 + 20, "pong", 4),
	   "28 TCP over IPv6: SYN-ACK with MSS 1440 from 2001:db8::2, accepted from "
	   "[2001:db8::1]:5000, data both ways");
	if (!s)
		return;

	{
		static char bulk[3000];
		struct tcp_conn_info ci;
		uint8_t m[1300];
		bool lowered, floor;

		memset(bulk, 'b', sizeof(bulk));
		step(0);
		tcp_send(s, bulk, sizeof(bulk), 0);
		/* The first full segment, quoted: its IPv6 header and 8 bytes of TCP. */
		memset(m, 0, 8);
		m[0] = ICMP6_PKT_TOO_BIG;
		put32(m + 4, 1280);
		memcpy(m + 8, out[0].b + 14, 48);
		step(0);
		feed_icmp6(our_mac, 64, &peer_ll, &our_gl, m, 56);
		tcp_info(s, &ci);
		lowered = ci.mss == 1220 && nout >= 1 && get16(out[0].b + 14 + 4) <= 1280 - 40;
		put32(m + 4, 1000);
		feed_icmp6(our_mac, 64, &peer_ll, &our_gl, m, 56);
		tcp_info(s, &ci);
		floor = ci.mss == 1220;
		ok(lowered && floor,
		   "29 packet too big 1280: MSS 1220 (%u), sent again in smaller segments; 1000 "
		   "is below IPv6's floor: stays",
		   ci.mss);
	}

	{
		char tab[2048], tab4[2048];
		bool rst;

		step(0);
		feed_tcp6(&peer_gl, &our_gl, 5001, 81, 7, 0, TCP_SYN, 0, NULL);
		t = out[0].b + 54;
		rst = nout == 1 && tcp6_ok(0, &our_gl, &peer_gl) && (t[13] & TCP_RST) &&
		      get32(t + 8) == 8;
		inet_tcp6_table(tab, sizeof(tab));
		inet_tcp_table(tab4, sizeof(tab4));
		ok(rst &&
		       strstr(tab, "B80D0120000000000000000002000000:0050 "
				   "B80D0120000000000000000001000000:1388 01") &&
		       strstr(tab, "00000000000000000000000000000000:0050 "
				   "00000000000000000000000000000000:0000 0A") &&
		       !strstr(tab4, ":0050"),
		   "30 SYN to closed port 81: RST; tcp6 shows the listener and the connection, "
		   "tcp neither");
	}

	{
		struct inet_addr pa;
		uint16_t pp = 0;
		int err, conn;

		tcp_open(&c);
		step(0);
		err = tcp_connect_in(c, &peer_ll, 22, 0);
		t = out[0].b + 54;
		conn = err == -EINPROGRESS && nout == 1 && tcp6_ok(0, &our_ll, &peer_ll) &&
		       t[13] == TCP_SYN && get16(t + 22) == 1440;
		feed_tcp6(&peer_ll, &our_ll, 22, get16(t), 555, get32(t + 4) + 1, TCP_SYN | TCP_ACK,
			  1440, NULL);
		ok(conn && tcp_connect_in(c, &peer_ll, 22, 0) == -EISCONN &&
		       tcp_peer_in(c, &pa, &pp) == 0 && same(pa.a, &peer_ll) && pp == 22,
		   "31 tcp_connect_in to [fe80::1]:22 from our link-local: SYN (MSS 1440), "
		   "SYN-ACK, connected");
		tcp_abort(c);
	}
	tcp_abort(s);
	tcp_close(l);
}

/*
 * Fragment @off..@off+@len of a datagram (next header @nh, id @id) from
 * @src to our link-local address, after the unfragmentable extension
 * headers @pre (@prelen bytes, the first a hop-by-hop; its next header is
 * set to the fragment header's); the frames sent.
 */
static int frag_in(const struct inet_addr *src, uint32_t id, uint8_t nh, uint32_t off, bool more,
		   const uint8_t *data, size_t len, const uint8_t *pre, size_t prelen)
{
	static uint8_t f[CAP_FRAME];
	uint8_t ext[64];

	if (prelen) { /* memcpy from NULL is undefined, even of nothing */
		memcpy(ext, pre, prelen);
		ext[0] = 44;
	}
	ext[prelen] = nh;
	ext[prelen + 1] = 0;
	put16(ext + prelen + 2, (uint16_t)(off | more));
	put32(ext + prelen + 4, id);
	netif_input(q, f,
		    frame6(f, our_mac, 64, src, &our_ll, prelen ? 0 : 44, ext, prelen + 8,
			   data + off, len));
	return nout;
}

/* An echo request of @n bytes (seq @seq) from the peer's link-local address, checksummed. */
static size_t big_echo(uint8_t *m, uint16_t seq, size_t n)
{
	size_t len = echo6(m, seq, n - 8);

	icmp6_sum(m, len, &peer_ll, &our_ll);
	return len;
}

/* Whether frame @i is the reply to big_echo(@seq, @n): every byte of data, the checksum. */
static bool is_big_reply(int i, uint16_t seq, size_t n)
{
	const uint8_t *h = out[i].b + 14, *m = h + 40;
	uint8_t want[2048];

	if (i >= nout || out[i].len != 14 + 40 + n || !is_reply(i, &our_ll, &peer_ll, seq))
		return false;
	echo6(want, seq, n - 8);
	return !memcmp(m + 8, want + 8, n - 8);
}

/* The first ICMPv6 message of type @type sent since the last step, or -1. */
static int sent_icmp6(uint8_t type)
{
	for (int i = 0; i < nout; i++)
		if (get16(out[i].b + 12) == ETH_P_IPV6 && out[i].b[14 + 6] == 58 &&
		    out[i].b[14 + 40] == type)
			return i;
	return -1;
}

static int count_icmp6(uint8_t type)
{
	int n = 0;

	for (int i = 0; i < nout; i++)
		n += get16(out[i].b + 12) == ETH_P_IPV6 && out[i].b[14 + 6] == 58 &&
		     out[i].b[14 + 40] == type;
	return n;
}

static void test_reass6(void)
{
	static uint8_t m[16384]; /* the bounds test reads 14400 */
	uint64_t reqds = inet_mib(INET_MIB_IP6_REASM_REQDS), oks = inet_mib(INET_MIB_IP6_REASM_OKS);
	size_t n;
	int r;

	nd_flush(nif);
	peer_ns(&peer_ll, &our_ll);
	step(1000);
	n = big_echo(m, 40, 1200);
	frag_in(&peer_ll, 1, 58, 0, true, m, 400, NULL, 0);
	frag_in(&peer_ll, 1, 58, 400, true, m, 400, NULL, 0);
	r = nout;
	frag_in(&peer_ll, 1, 58, 800, false, m, 400, NULL, 0);
	{
		char txt[2048], want[64];

		inet_snmp6(txt, sizeof(txt));
		snprintf(want, sizeof(want), "%-32s\t%llu\n", "Ip6ReasmOKs",
			 (unsigned long long)oks + 1);
		ok(r == 0 && sent_icmp6(ICMP6_ECHO_REPLY) == 0 && is_big_reply(0, 40, n) &&
		       inet_mib(INET_MIB_IP6_REASM_REQDS) == reqds + 3 &&
		       inet_mib(INET_MIB_IP6_REASM_OKS) == oks + 1 && nif->nreass == 0 &&
		       strstr(txt, want),
		   "32 a 1200-byte echo in 3 fragments: one reply with every byte; 3 reqds, 1 ok "
		   "(and snmp6's Ip6ReasmOKs line)");
	}

	{
		uint64_t dups = inet_mib(INET_MIB_IP6_REASM_DUPLICATES);

		step(0);
		n = big_echo(m, 41, 1200);
		frag_in(&peer_ll, 2, 58, 800, false, m, 400, NULL, 0);
		frag_in(&peer_ll, 2, 58, 0, true, m, 400, NULL, 0);
		frag_in(&peer_ll, 2, 58, 0, true, m, 400, NULL, 0);
		r = nout;
		frag_in(&peer_ll, 2, 58, 400, true, m, 400, NULL, 0);
		ok(r == 0 && nout == 1 && is_big_reply(0, 41, n) &&
		       inet_mib(INET_MIB_IP6_REASM_DUPLICATES) == dups + 1,
		   "33 out of order (last, first, first again, middle): one reply, the "
		   "duplicate counted");
	}

	{
		static const struct inet_addr any;
		struct udp_sock *s;
		struct inet_addr from;
		uint16_t sport;
		static char buf[8192];
		uint8_t pre[8] = {0, 0, 1, 4}; /* hop-by-hop, PadN of 4 */
		uint8_t *u = m + 8, *d = m;    /* destination options, then UDP */
		size_t ulen = 4000;
		ssize_t got;

		if (udp_open(&s) || udp_bind_in(s, &any, 9))
			bail_out("no UDP socket");
		memset(d, 0, 8);
		d[0] = IPPROTO_UDP_;
		d[2] = 1;
		d[3] = 4;
		put16(u, 4001);
		put16(u + 2, 9);
		put16(u + 4, (uint16_t)ulen);
		put16(u + 6, 0);
		for (size_t i = 8; i < ulen; i++)
			u[i] = (uint8_t)(i * 7);
		put16(u + 6, inet_csum_fold(inet_csum_add(
				 inet_csum_pseudo6(&peer_ll, &our_ll, IPPROTO_UDP_, (uint32_t)ulen),
				 u, ulen)));
		step(0);
		/* 8 + 4000 bytes: 1448, 1448 and 1112 */
		frag_in(&peer_ll, 3, 60, 1448, true, m, 1448, pre, 8);
		frag_in(&peer_ll, 3, 60, 2896, false, m, 1112, pre, 8);
		frag_in(&peer_ll, 3, 60, 0, true, m, 1448, pre, 8);
		got = udp_recvfrom_in(s, buf, sizeof(buf), &from, &sport, 0);
		ok(got == (ssize_t)ulen - 8 && !memcmp(buf, u + 8, ulen - 8) &&
		       same(from.a, &peer_ll) && sport == 4001,
		   "34 UDP of 4000 bytes (past the MTU) in 3 fragments after a hop-by-hop, a "
		   "destination options header inside: whole to the socket (%zd)",
		   got);
		udp_close(s);
	}

	{
		uint64_t ov = inet_mib(INET_MIB_IP6_REASM_OVERLAPS);
		uint64_t fails = inet_mib(INET_MIB_IP6_REASM_FAILS);

		step(0);
		n = big_echo(m, 42, 1200);
		frag_in(&peer_ll, 4, 58, 0, true, m, 400, NULL, 0);
		frag_in(&peer_ll, 4, 58, 200, true, m, 400, NULL, 0); /* 200..600 overlaps 0..400 */
		r = nif->nreass;
		frag_in(&peer_ll, 4, 58, 600, false, m, 600, NULL, 0);
		ok(r == 0 && nout == 0 && inet_mib(INET_MIB_IP6_REASM_OVERLAPS) == ov + 1 &&
		       inet_mib(INET_MIB_IP6_REASM_FAILS) == fails + 1,
		   "35 overlapping fragments (RFC 5722): the whole datagram given up, nothing "
		   "answered");
		inet_reass_flush(nif);
	}

	{
		const uint8_t *h;
		int i;

		step(0);
		memset(m, 0, 64);
		frag_in(&peer_ll, 5, 58, 65528, false, m, 16, NULL, 0);
		i = sent_icmp6(ICMP6_PARAM_PROB);
		h = i >= 0 ? out[i].b + 14 : NULL;
		r = h && h[41] == 0 && get32(h + 44) == 42 && nif->nreass == 0;
		step(0);
		frag_in(&peer_ll, 6, 58, 0, true, m, 12, NULL, 0);
		i = sent_icmp6(ICMP6_PARAM_PROB);
		h = i >= 0 ? out[i].b + 14 : NULL;
		ok(r && h && h[41] == 0 && get32(h + 44) == 4 && nif->nreass == 0,
		   "36 a fragment ending past 65535 bytes: parameter problem pointing at its "
		   "offset (42); a non-final one of 12 bytes: pointing at the payload length (4)");
	}

	{
		uint64_t tmo = inet_mib(INET_MIB_IP6_REASM_TIMEOUTS);
		const uint8_t *h;
		int early, i;

		step(0);
		n = big_echo(m, 43, 1200);
		frag_in(&peer_ll, 7, 58, 0, true, m, 400, NULL, 0);
		frag_in(&peer_ll, 8, 58, 400, true, m, 400, NULL, 0); /* never its first */
		step(59000);
		netif_tick(nif);
		early = count_icmp6(ICMP6_TIME_EXCEEDED) + (int)nif->nreass * 10;
		step(1000);
		netif_tick(nif);
		i = sent_icmp6(ICMP6_TIME_EXCEEDED);
		h = i >= 0 ? out[i].b + 14 : NULL;
		ok(early == 20 && h && h[41] == 1 && same(h + 24, &peer_ll) &&
		       same(h + 48 + 24, &our_ll) && get32(h + 48 + 40 + 4) == 7 &&
		       icmp6_sum_ok(out[i].b, out[i].len) &&
		       count_icmp6(ICMP6_TIME_EXCEEDED) == 1 && nif->nreass == 0 &&
		       inet_mib(INET_MIB_IP6_REASM_TIMEOUTS) == tmo + 2,
		   "37 reassembly times out at 60 s, not 59: time exceeded code 1 quoting the one "
		   "whose first fragment came, none for the other; 2 timeouts");
	}

	{
		uint32_t most_n = 0, most_b = 0;
		size_t used, max;

		step(0);
		memset(m, 0x5a, sizeof(m));
		/* 100 datagrams of 12 fragments of 1200 bytes: 1200 fragments, 2.4 MB of buffers */
		for (uint32_t id = 100; id < 200; id++) {
			for (uint32_t k = 0; k < 12; k++) {
				frag_in(&peer_ll, id, 17, k * 1200, true, m, 1200, NULL, 0);
				most_n = nif->nreass > most_n ? nif->nreass : most_n;
				most_b = nif->reass_bytes > most_b ? nif->reass_bytes : most_b;
			}
		}
		/* 70 fragments of one datagram: past INET_REASS_FRAGS */
		inet_reass_flush(nif);
		for (uint32_t k = 0; k < 70; k++)
			frag_in(&peer_ll, 300, 17, k * 8, true, m, 8, NULL, 0);
		r = nif->nreass;
		inet_reass_flush(nif);
		inet_mem(&used, &max);
		ok(most_n <= INET_REASS_MAX && most_b <= INET_REASS_BYTES && most_b > 0 && r <= 1 &&
		       nout == 0,
		   "38 bounds: 100 datagrams x 12 fragments held at most %u datagrams and %u "
		   "bytes (1 MiB); 70 fragments of one datagram given up (%d left)",
		   most_n, most_b, r);
	}

	{
		step(0);
		n = big_echo(m, 44, 1200);
		frag_in(&peer_ll, 9, 58, 400, true, m, 400, NULL, 0);
		r = nif->nreass;
		n = big_echo(m, 45, 200);
		frag_in(&peer_ll, 9, 58, 0, false, m, n, NULL, 0); /* atomic, same id */
		ok(r == 1 && nout == 1 && is_big_reply(0, 45, n) && nif->nreass == 1,
		   "39 an atomic fragment of an id in reassembly is processed alone (RFC 6946): "
		   "answered, the other left as it was");
		inet_reass_flush(nif);
	}
}

/*
 * DAD failing, on a second interface t1 (02:00:00:00:00:03, fe80::ff:fe00:3
 * and 2001:db8:1::3/64): another node's NA for the link-local address,
 * another's NS from :: for the global one.
 */
static void test_dad_fail(void)
{
	static const uint8_t mac3[6] = {2, 0, 0, 0, 0, 3};
	static const struct inet_addr ll3 = {{0xfe, 0x80, [11] = 0xff, [12] = 0xfe, [15] = 3}};
	static const struct inet_addr gl3 = {{0x20, 0x01, 0x0d, 0xb8, 0, 1, [15] = 3}};
	static const struct inet_addr unspec;
	struct netif_config cfg = {
	    .name = "t1", .addr = 0x0a630003u, .prefix_len = 24, .addr6 = gl3, .prefix6_len = 64};
	static uint8_t f[CAP_FRAME];
	struct netif *n3;
	struct netif_queue *q3;
	struct inet_addr sn, src;
	struct udp_sock *s;
	uint8_t m[32], dmac[6];
	uint64_t fails = inet_mib(INET_MIB_ND_DAD_FAILS);
	int asked = 0, sent;
	size_t n;
	char st[8192];

	memcpy(cfg.mac, mac3, 6);
	if (netif_create(&cfg, &n3) || netif_queue_open_hook(n3, capture, NULL, &q3))
		bail_out("no second interface");
	step(0);
	netif_announce(n3);
	for (int i = 0; i < nout; i++)
		asked += is_dad_ns(i, &ll3) || is_dad_ns(i, &gl3);

	/* The owner of fe80::ff:fe00:3 answers our DAD: an NA from it to all-nodes. */
	step(300);
	n = nd_msg(m, ICMP6_NA, 0x20, &ll3, 2, peer_mac);
	icmp6_sum(m, n, &ll3, &all_nodes);
	group_mac(&all_nodes, dmac);
	netif_input(q3, f, frame6(f, dmac, 255, &ll3, &all_nodes, 58, NULL, 0, m, n));
	/* Someone else is doing DAD for 2001:db8:1::3 at the same time. */
	n = nd_msg(m, ICMP6_NS, 0, &gl3, 0, NULL);
	ipv6_solicited(&gl3, &sn);
	icmp6_sum(m, n, &unspec, &sn);
	group_mac(&gl3, dmac);
	netif_input(q3, f, frame6(f, dmac, 255, &unspec, &sn, 58, NULL, 0, m, n));
	sent = nout;
	step(1000);
	netif_tick(n3);
	sent += nout;
	inet_status(st, sizeof(st));
	ok(asked == 2 && sent == 0 && inet_mib(INET_MIB_ND_DAD_FAILS) == fails + 2 &&
	       strstr(st, "t1.inet6_link_state dadfailed\n") &&
	       strstr(st, "t1.inet6_global_state dadfailed\n"),
	   "40 DAD fails: an NA for the link-local address, an NS from :: for the global one, in "
	   "the 1 s after the 2 NS (%d): both dadfailed in the status, counted, never announced "
	   "(%d sent)",
	   asked, sent);

	step(0);
	n = echo6(m, 91, 16);
	icmp6_sum(m, n, &peer_ll, &ll3);
	netif_input(q3, f, frame6(f, mac3, 64, &peer_ll, &ll3, 58, NULL, 0, m, n));
	n = nd_msg(m, ICMP6_NS, 0, &ll3, 1, peer_mac);
	ipv6_solicited(&ll3, &sn);
	icmp6_sum(m, n, &peer_ll, &sn);
	group_mac(&ll3, dmac);
	netif_input(q3, f, frame6(f, dmac, 255, &peer_ll, &sn, 58, NULL, 0, m, n));
	sent = nout;
	n = echo6(m, 91, 16);
	icmp6_sum(m, n, &peer_ll, &gl3);
	netif_input(q3, f, frame6(f, mac3, 64, &peer_ll, &gl3, 58, NULL, 0, m, n));
	ipv6_source(n3, &peer_gl, &src);
	ok(sent == 0 && nout == 0 && ipv6_is_unspecified(&src) && udp_open(&s) == 0 &&
	       udp_bind_in(s, &gl3, 99) == 0 &&
	       udp_sendto_in(s, "x", 1,
			     &(struct inet_addr){{0x20, 0x01, 0x0d, 0xb8, 0, 1, [15] = 1}},
			     9) == -EADDRNOTAVAIL &&
	       nout == 0,
	   "41 a dadfailed address is never used: echoes to either and an NS unanswered, no source "
	   "for t1 (::), a socket bound to it can't send (-EADDRNOTAVAIL)");
	udp_close(s);
	netif_queue_close(q3);
}

static const struct inet_addr peer2 = {{0x20, 0x01, 0x0d, 0xb8, [15] = 3}};
static const struct inet_addr peer3 = {{0x20, 0x01, 0x0d, 0xb8, [15] = 4}};
/* A peer no earlier test sent to (test_tcp6's 29 left a note for peer_gl). */
static const struct inet_addr peer4 = {{0x20, 0x01, 0x0d, 0xb8, [15] = 5}};

/*
 * The datagram the IPv6 fragments among out[@from..nout) carry, put
 * together into @buf: its length, or 0 when a piece is missing, out of
 * order, of another id or next header, or not of 8s but the last. *@n the
 * fragments, *@id their id, *@big the largest frame.
 */
static size_t frags_out(int from, uint8_t *buf, int *n, uint32_t *id, size_t *big)
{
	size_t at = 0;

	*n = 0;
	*big = 0;
	for (int i = from; i < nout; i++) {
		const uint8_t *h = out[i].b + 14, *fh = h + 40;
		uint32_t plen = get16(h + 4), off, len;

		if (get16(out[i].b + 12) != ETH_P_IPV6 || h[6] != 44)
			continue;
		off = get16(fh + 2) & 0xfff8u;
		len = plen - 8;
		if (*n == 0)
			*id = get32(fh + 4);
		if (off != at || get32(fh + 4) != *id || out[i].len != 14 + 40 + plen ||
		    ((get16(fh + 2) & 1) && len % 8))
			return 0;
		memcpy(buf + at, fh + 8, len);
		at += len;
		*big = MAX(*big, out[i].len);
		(*n)++;
		if (!(get16(fh + 2) & 1))
			return at;
	}
	return 0;
}

/* The fragments of out[] back in, as the peer's: addresses (and the first one's ports) swapped. */
static void frags_back(void)
{
	static uint8_t f[CAP_FRAME];

	for (int i = 0; i < nout; i++) {
		uint8_t *h = f + 14, t[16];

		if (get16(out[i].b + 12) != ETH_P_IPV6 || out[i].b[14 + 6] != 44)
			continue;
		memcpy(f, out[i].b, out[i].len);
		memcpy(f, our_mac, 6);
		memcpy(f + 6, peer_mac, 6);
		memcpy(t, h + 8, 16);
		memcpy(h + 8, h + 24, 16);
		memcpy(h + 24, t, 16);
		if ((get16(h + 42) & 0xfff8u) == 0) {
			memcpy(t, h + 48, 2);
			memcpy(h + 48, h + 50, 2);
			memcpy(h + 50, t, 2);
		}
		netif_input(q, f, out[i].len);
	}
}

/*
 * A packet too big of @mtu to our global address, quoting @qlen bytes of
 * the IPv6 datagram at @quote (its header first).
 */
static void too_big_in(uint32_t mtu, const uint8_t *quote, size_t qlen)
{
	static uint8_t m[1300];

	memset(m, 0, 8);
	m[0] = ICMP6_PKT_TOO_BIG;
	put32(m + 4, mtu);
	memcpy(m + 8, quote, qlen);
	feed_icmp6(our_mac, 64, &peer_ll, &our_gl, m, 8 + qlen);
}

/* A datagram's IPv6 header from @src to @dst of @plen bytes of @nh (a quote to forge). */
static void quote_hdr(uint8_t *h, const struct inet_addr *src, const struct inet_addr *dst,
		      uint16_t plen, uint8_t nh)
{
	memset(h, 0, 48);
	h[0] = 0x60;
	put16(h + 4, plen);
	h[6] = nh;
	h[7] = 64;
	memcpy(h + 8, src->a, 16);
	memcpy(h + 24, dst->a, 16);
}

static void test_frag6(void)
{
	static uint8_t m[4096], buf[8192], data[4000];
	static const struct inet_addr any;
	char txt[4096], w1[64], w2[64];
	uint64_t oks = inet_mib(INET_MIB_IP6_FRAG_OKS),
		 creates = inet_mib(INET_MIB_IP6_FRAG_CREATES);
	struct udp_sock *u;
	struct inet_addr from;
	uint16_t sport;
	uint32_t id, id2;
	size_t n, big, big2;
	int nf, nf2;

	peer_ns(&peer_ll, &our_ll);
	peer_ns(&peer4, &our_gl);
	peer_ns(&peer2, &our_gl);
	step(1000);
	n = big_echo(m, 50, 3000);
	frag_in(&peer_ll, 77, 58, 0, true, m, 1448, NULL, 0);
	frag_in(&peer_ll, 77, 58, 1448, true, m, 1448, NULL, 0);
	frag_in(&peer_ll, 77, 58, 2896, false, m, n - 2896, NULL, 0);
	{
		size_t got = frags_out(0, buf, &nf, &id, &big);
		struct inet_addr s6 = our_ll, d6 = peer_ll;

		ok(got == 3000 && nf == 3 && big == 14 + 1496 && buf[0] == ICMP6_ECHO_REPLY &&
		       get16(buf + 6) == 50 && !memcmp(buf + 8, m + 8, 2992) &&
		       inet_csum_fold(
			   inet_csum_add(inet_csum_pseudo6(&s6, &d6, 58, 3000), buf, 3000)) == 0,
		   "42 a 3000-byte echo in fragments: the reply in %d fragments (largest frame "
		   "%zu), "
		   "%zu bytes, every one the request's, checksum right",
		   nf, big, got);
	}

	if (udp_open(&u) || udp_bind_in(u, &any, 4242))
		bail_out("no UDP socket");
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 1);
	step(0);
	{
		bool offs, back;
		ssize_t r;

		udp_sendto_in(u, data, sizeof(data), &peer4, 9000);
		n = frags_out(0, buf, &nf, &id, &big);
		offs = nout == 3 && (get16(out[0].b + 14 + 42) == (0 | 1)) &&
		       get16(out[1].b + 14 + 42) == (1448 | 1) &&
		       get16(out[2].b + 14 + 42) == 2896 && out[0].b[14 + 40] == IPPROTO_UDP_ &&
		       get16(buf + 4) == 4008 && !memcmp(buf + 8, data, sizeof(data));
		frags_back();
		r = udp_recvfrom_in(u, m, sizeof(m), &from, &sport, 0);
		back = r == (ssize_t)sizeof(data) && !memcmp(m, data, sizeof(data)) &&
		       same(from.a, &peer4) && sport == 9000;
		step(0);
		udp_sendto_in(u, data, sizeof(data), &peer4, 9000);
		frags_out(0, buf, &nf2, &id2, &big2);
		inet_snmp6(txt, sizeof(txt));
		snprintf(w1, sizeof(w1), "%-32s\t%llu\n", "Ip6FragOKs",
			 (unsigned long long)oks + 3);
		snprintf(w2, sizeof(w2), "%-32s\t%llu\n", "Ip6FragCreates",
			 (unsigned long long)creates + 9);
		ok(n == 4008 && nf == 3 && offs && nf2 == 3 && id2 != id && back &&
		       strstr(txt, w1) && strstr(txt, w2),
		   "43 UDP of 4000 bytes: 3 fragments at 0, 1448, 2896 (M but the last), ids %08x "
		   "then %08x; snmp6 counts them; our reassembly gives back every byte (%d)",
		   id, id2, back);
	}

	{
		uint8_t qt[200];
		bool small, other;

		memcpy(qt, out[0].b + 14, sizeof(qt));
		step(0);
		too_big_in(1280, qt, sizeof(qt));
		step(0);
		udp_sendto_in(u, data, sizeof(data), &peer4, 9000);
		small = frags_out(0, buf, &nf, &id, &big) == 4008 && nf == 4 && big == 14 + 1280 &&
			!memcmp(buf + 8, data, sizeof(data));
		step(0);
		udp_sendto_in(u, data, sizeof(data), &peer2, 9000);
		other =
		    frags_out(0, buf, &nf2, &id, &big2) == 4008 && nf2 == 3 && big2 == 14 + 1496;
		ok(small && other && inet_pmtu_noted(&peer4) == 1280,
		   "44 packet too big 1280: the next datagram to 2001:db8::5 in %d fragments of "
		   "frames up to %zu bytes; 2001:db8::3 still %d of up to %zu",
		   nf, big, nf2, big2);
	}

	{
		static const struct inet_addr stranger = {{0x20, 0x01, 0x0d, 0xb8, [15] = 0x77}};
		unsigned count = inet_pmtu_count();
		uint8_t qt[48];
		int good = 0;

		step(0);
		quote_hdr(qt, &stranger, &peer3, 1460, IPPROTO_UDP_);
		too_big_in(1280, qt, 48);
		quote_hdr(qt, &our_gl, &peer3, 1200, IPPROTO_UDP_);
		too_big_in(1280, qt, 48);
		quote_hdr(qt, &our_gl, &peer3, 1460, IPPROTO_UDP_);
		too_big_in(1500, qt, 48);
		too_big_in(9000, qt, 48);
		quote_hdr(qt, &our_gl, &peer3, 1460, IPPROTO_TCP_);
		put16(qt + 40, 33333);
		put16(qt + 42, 80);
		too_big_in(1280, qt, 48);
		quote_hdr(qt, &our_gl, &peer3, 1460, IPPROTO_UDP_);
		qt[0] = 0x45;
		too_big_in(1280, qt, 48);
		qt[0] = 0x60;
		too_big_in(1280, qt, 20);
		good += inet_pmtu_noted(&peer3) == 0 && inet_pmtu_count() == count && nout == 0;
		too_big_in(600, qt, 48);
		good += inet_pmtu_noted(&peer3) == 1280;
		ok(good == 2,
		   "45 forged packet too big (source not ours, a datagram that fit, MTU 1500 and "
		   "9000, a TCP segment of no connection, IPv4, truncated) change nothing; 600 is "
		   "taken as 1280 (%u)",
		   inet_pmtu_noted(&peer3));
	}

	{
		bool before, after;

		step(INET_PMTU_AGE_MS - 1000);
		netif_tick(nif);
		before = inet_pmtu_noted(&peer4) == 1280;
		step(1000);
		netif_tick(nif);
		peer_ns(&peer4, &our_gl);
		step(0);
		udp_sendto_in(u, data, sizeof(data), &peer4, 9000);
		after = inet_pmtu_noted(&peer4) == 0 && inet_pmtu_noted(&peer3) == 0 &&
			frags_out(0, buf, &nf, &id, &big) == 4008 && nf == 3 && big == 14 + 1496;
		ok(before && after,
		   "46 the note ages: there 1 s before 10 minutes (%d), gone at 10; the next "
		   "datagram in %d fragments of up to %zu bytes again",
		   before, nf, big);
	}

	{
		struct tcp_sock *l, *s = NULL, *c;
		struct tcp_conn_info ci;
		static char bulk[3000];
		uint8_t qt[200];
		const uint8_t *t;
		uint32_t iss, seq = 7000;
		bool synack, fits = true, syn;

		memcpy(qt, out[0].b + 14, sizeof(qt));
		too_big_in(1280, qt, sizeof(qt));
		if (tcp_open(&l) || tcp_bind_in(l, &any, 8080) || tcp_listen(l, 4))
			bail_out("no TCP listener");
		step(0);
		feed_tcp6(&peer4, &our_gl, 6000, 8080, seq, 0, TCP_SYN, 1440, NULL);
		t = out[0].b + 54;
		synack = nout == 1 && tcp6_ok(0, &our_gl, &peer4) && t[13] == (TCP_SYN | TCP_ACK) &&
			 t[20] == 2 && get16(t + 22) == 1220;
		iss = get32(t + 4);
		feed_tcp6(&peer4, &our_gl, 6000, 8080, seq + 1, iss + 1, TCP_ACK, 0, NULL);
		if (tcp_accept(l, &s, NULL, NULL, 0))
			bail_out("no connection");
		memset(bulk, 'p', sizeof(bulk));
		step(0);
		tcp_send(s, bulk, sizeof(bulk), 0);
		for (int i = 0; i < nout; i++)
			fits = fits && out[i].b[14 + 6] == IPPROTO_TCP_ &&
			       get16(out[i].b + 14 + 4) <= 1280 - 40;
		fits = fits && nout >= 3;
		tcp_info(s, &ci);
		tcp_open(&c);
		step(0);
		tcp_connect_in(c, &peer4, 22, 0);
		t = out[0].b + 54;
		syn = nout == 1 && t[13] == TCP_SYN && get16(t + 22) == 1220;
		tcp_abort(c);
		ok(synack && fits && syn && ci.mss == 1220,
		   "47 a new connection to a noted peer: SYN-ACK offers MSS 1220, segments fit "
		   "1280 "
		   "(MSS %u), and tcp_connect_in's SYN offers 1220 too",
		   ci.mss);

		feed_tcp6(&peer4, &our_gl, 6000, 8080, seq + 1, iss + 1 + sizeof(bulk), TCP_ACK, 0,
			  NULL);
		step(INET_PMTU_AGE_MS);
		netif_tick(nif);
		tcp_info(s, &ci);
		ok(ci.mss == 1440 && ci.state == TCP_ESTABLISHED,
		   "48 10 minutes on, the note aged out: the connection's MSS is back to 1440 (%u)",
		   ci.mss);
		tcp_abort(s);
		tcp_close(l);
	}

	{
		size_t used0, used1, max;
		uint8_t qt[48];
		struct inet_addr d = peer4, first = peer4;

		inet_mem(&used0, &max);
		step(0);
		for (unsigned i = 1; i <= 1000; i++) {
			d.a[12] = 1;
			put16(d.a + 14, (uint16_t)i);
			if (i == 1)
				first = d;
			quote_hdr(qt, &our_gl, &d, 1460, IPPROTO_UDP_);
			too_big_in(1300, qt, 48);
		}
		inet_mem(&used1, &max);
		ok(inet_pmtu_count() == INET_PMTU_NOTES && inet_pmtu_noted(&d) == 1300 &&
		       inet_pmtu_noted(&first) == 0 && used1 == used0 && nout == 0,
		   "49 1000 packet too big for as many destinations: %u notes (the newest kept, "
		   "the "
		   "oldest gone), no buffer held",
		   inet_pmtu_count());
	}
	udp_close(u);
}

/* A SYN with no MSS option over IPv6: RFC 9293 3.7.1's 1220, not IPv4's 536. */
static void test_mss_default6(void)
{
	static const struct inet_addr any;
	static char data[3000];
	struct tcp_conn_info ci = {0};
	struct tcp_sock *l, *s = NULL;
	struct inet_addr ra;
	uint16_t rport;
	uint32_t iss = 0;
	unsigned largest = 0;

	if (tcp_open(&l) || tcp_bind_in(l, &any, 82) || tcp_listen(l, 4))
		bail_out("no TCP listener");
	step(0);
	feed_tcp6(&peer_gl, &our_gl, 5002, 82, 7000, 0, TCP_SYN, 0, NULL);
	if (nout == 1)
		iss = get32(out[0].b + 54 + 4);
	feed_tcp6(&peer_gl, &our_gl, 5002, 82, 7001, iss + 1, TCP_ACK, 0, NULL);
	if (tcp_accept_in(l, &s, &ra, &rport, 0) == 0) {
		tcp_info(s, &ci);
		step(0);
		tcp_send(s, data, sizeof(data), 0);
		for (int i = 0; i < nout; i++) {
			unsigned len = get16(out[i].b + 14 + 4) - (out[i].b[54 + 12] >> 4) * 4u;

			largest = len > largest ? len : largest;
		}
		tcp_abort(s);
	}
	ok(s && ci.mss == 1220 && largest == 1220,
	   "50 a SYN without an MSS option over IPv6: MSS %u (RFC 9293 3.7.1's 1220, not "
	   "IPv4's 536), segments of %u bytes",
	   ci.mss, largest);
	tcp_close(l);
}

int main(void)
{
	struct netif_config cfg = {.name = "t0",
				   .addr = 0x0a000002u,
				   .prefix_len = 16,
				   .addr6 = our_gl,
				   .prefix6_len = 64,
				   .gateway6 = peer_ll};
	size_t used, max;

	plan(51);
	capture_boot(2u << 20);
	nif = capture_netif(&cfg, our_mac, &q);

	test_config();
	test_announce();
	test_ns();
	test_nd_hostile();
	test_echo6();
	test_resolve();
	test_bound();
	test_ext();
	test_hdr();
	test_ether();
	test_udp6();
	test_tcp6();
	test_mss_default6();
	test_reass6();
	test_frag6();
	test_dad_fail();

	arp_flush(nif);
	nd_flush(nif);
	inet_mem(&used, &max);
	/* What TCP still holds: closed sockets' TIME-WAIT and resets are past by now. */
	step(200000);
	netif_tick(nif);
	inet_mem(&used, &max);
	is_int(used, 0, "51 every buffer is back (%zu of %zu bytes held)", used, max);
	netif_queue_close(q);
	return done_testing();
}
