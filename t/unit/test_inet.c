/*
 * kernel/net/inet without a device: frames go in through netif_input, what
 * the stack sends is captured by a hook queue, time is a virtual clock.
 * The peer is 10.0.0.1 (02:00:00:00:00:01), the machine 10.0.0.2/16.
 *  1     the checksum: RFC 1071's example, and a header that sums to zero
 *  2     a gratuitous ARP: broadcast, sender and target our address (beside
 *        it, the IPv6 link-local's unsolicited NA: test_inet6.c)
 *  3-4   an ARP request for us is answered and caches the sender; one for
 *        another address is not, and caches nothing
 *  5     malformed ARP (hardware length 7) is counted, not answered
 *  6     echo request -> echo reply: same id, sequence and data, sums right
 *  7     a cached neighbour expires after 60 s; the next reply waits in its
 *        pending queue for the ARP answer, then goes
 *  8     an unanswered neighbour: 3 requests 1 s apart, then given up
 *  9     the ARP cache stays at 256 entries under 300 senders
 * 10     at most 3 packets wait for one neighbour; the oldest are dropped
 * 11-12  a 3000-byte echo in 3 fragments, in order and out of order: the
 *        reply is 3000 bytes, sent in fragments that reassemble to it
 * 13     a duplicate fragment is dropped alone; an overlapping one drops the
 *        datagram (RFC 5722's rule)
 * 14     70 fragments of 8 bytes: given up at 64, no reply
 * 15     a lone first fragment times out after 30 s: ICMP time exceeded
 * 16     UDP to a bound socket: payload and sender; the reply's checksum
 * 17     UDP to a closed port: ICMP port unreachable quoting the datagram
 * 18     UDP with a bad checksum is dropped, counted
 * 19     a socket's receive queue stays within INET_UDP_RCVBUF
 * 19b    a connected socket's peer answers port unreachable: the next
 *        receive says -ECONNREFUSED once, and so does the next send after
 *        another; an ICMP quoting another peer's port, or reaching a socket
 *        not connected, changes nothing
 * 20     bad IPv4 headers (version, IHL, length, checksum, source, address,
 *        link broadcast with a unicast IP) are counted, never answered
 * 21     Ethernet: other stations' frames and runts are dropped
 * 22     ICMP output is rate-limited: a burst of 50, then 100 a second
 * 23     the fault injector: the same seed gives the same faults; a delayed
 *        frame goes on at the tick after its delay; reorder, dup, corrupt
 * 24     every buffer is back in the end
 * 25     /status/net/snmp's checksum errors and ICMP types (inet_snmp, as
 *        Linux's /proc/net/snmp): an echo with a bad checksum counts Icmp
 *        InErrors and InCsumErrors and is not answered, a good one InEchos,
 *        OutEchoReps and IcmpMsg InType8/OutType0; UDP and TCP with bad
 *        checksums count their InCsumErrors (and InErrors, InErrs)
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
#include "../../kernel/net/inet/inet_internal.h"

#define PEER_IP 0x0a000001u
#define OUR_IP	0x0a000002u

static const uint8_t peer_mac[6] = {2, 0, 0, 0, 0, 1};
static const uint8_t our_mac[6] = {2, 0, 0, 0, 0, 2};
static struct netif *nif;
static struct netif_queue *q;

static void feed(const void *f, size_t len)
{
	netif_input(q, f, len);
}

/* A frame from the peer carrying @plen bytes of @proto payload (a fragment if @frag). */
static size_t ip_frame(uint8_t *f, uint8_t proto, uint16_t id, uint16_t frag, const void *payload,
		       size_t plen, uint32_t src, uint32_t dst)
{
	size_t n = wire_eth(f, our_mac, peer_mac, ETH_P_IPV4);

	wire_ip4_frag(f + n, src, dst, proto, plen, id, frag);
	memcpy(f + n + 20, payload, plen);
	return n + 20 + plen;
}

/* An ICMP echo request of @dlen data bytes into @m; its length. */
static size_t echo(uint8_t *m, uint16_t id, uint16_t seq, size_t dlen)
{
	m[0] = ICMP_ECHO;
	m[1] = 0;
	put16(m + 2, 0);
	put16(m + 4, id);
	put16(m + 6, seq);
	for (size_t i = 0; i < dlen; i++)
		m[8 + i] = (uint8_t)(i * 7 + seq);
	put16(m + 2, inet_csum(m, 8 + dlen));
	return 8 + dlen;
}

static void send_echo(uint16_t seq, size_t dlen)
{
	static uint8_t m[2048], f[2048];
	size_t n = echo(m, 1, seq, dlen);

	feed(f, ip_frame(f, IPPROTO_ICMP_, seq, 0, m, n, PEER_IP, OUR_IP));
}

static void peer_arp(uint16_t op, uint32_t spa, const uint8_t *sha, uint32_t tpa)
{
	static const uint8_t zero[6];
	uint8_t f[64];

	feed(f, wire_arp(f, op == 1 ? ether_bcast : our_mac, op, sha, spa, op == 1 ? zero : our_mac,
			 tpa));
}

/* The captured frames of @proto (0: ARP), counted. */
static int count_out(int proto)
{
	int n = 0;

	for (int i = 0; i < nout; i++) {
		uint16_t type = get16(out[i].b + 12);

		if (proto == 0 ? type == ETH_P_ARP : (type == ETH_P_IPV4 && out[i].b[23] == proto))
			n++;
	}
	return n;
}

/* Reassemble the IPv4 frames captured into @buf: the datagram's payload length, -1 if broken. */
static int reassemble_out(uint8_t *buf, size_t cap, uint8_t *proto)
{
	int total = -1, have = 0;

	for (int i = 0; i < nout; i++) {
		const uint8_t *h = out[i].b + 14;
		unsigned frag, off, plen;

		if (get16(out[i].b + 12) != ETH_P_IPV4 || inet_csum(h, 20) != 0)
			return -1;
		frag = get16(h + 6);
		off = (frag & IPV4_OFFMASK) * 8u;
		plen = get16(h + 2) - 20u;
		if (off + plen > cap)
			return -1;
		memcpy(buf + off, h + 20, plen);
		have += (int)plen;
		*proto = h[9];
		if (!(frag & IPV4_MF))
			total = (int)(off + plen);
	}
	return total == have ? total : -1;
}

static void resolve_peer(void)
{
	peer_arp(1, PEER_IP, peer_mac, OUR_IP);
	nout = 0;
}

static void test_csum(void)
{
	static const uint8_t rfc[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
	uint8_t h[20];

	wire_ip4_frag(h, PEER_IP, OUR_IP, 1, 64, 1, 0);
	ok(inet_csum(rfc, sizeof(rfc)) == 0x220d && inet_csum(h, 20) == 0,
	   "1 checksum: RFC 1071's example gives 0x220d (%#x), a header sums to 0",
	   inet_csum(rfc, sizeof(rfc)));
}

static void test_arp(void)
{
	static const uint8_t other[6] = {2, 0, 0, 0, 0, 9};
	uint8_t mac[6];
	const uint8_t *a;

	step(1000);
	netif_announce(nif);
	a = out[0].b + 14;
	ok(count_out(0) == 1 && !memcmp(out[0].b, ether_bcast, 6) &&
	       get16(out[0].b + 12) == ETH_P_ARP && get16(a + 6) == 1 && get32(a + 14) == OUR_IP &&
	       get32(a + 24) == OUR_IP && out[0].len == 60,
	   "2 gratuitous ARP: broadcast request for our own address, padded to 60");

	step(0);
	peer_arp(1, PEER_IP, peer_mac, OUR_IP);
	a = out[0].b + 14;
	ok(nout == 1 && !memcmp(out[0].b, peer_mac, 6) && get16(a + 6) == 2 &&
	       !memcmp(a + 8, our_mac, 6) && get32(a + 14) == OUR_IP && get32(a + 24) == PEER_IP &&
	       arp_lookup(nif, PEER_IP, mac) == 0 && !memcmp(mac, peer_mac, 6),
	   "3 ARP request for us: answered to the sender, who is cached");

	step(0);
	peer_arp(1, 0x0a000009u, other, 0x0a000077u);
	ok(nout == 0 && arp_lookup(nif, 0x0a000009u, mac) == -ENOENT,
	   "4 ARP request for another address: no reply, nothing cached");

	{
		uint64_t err0 = inet_mib(INET_MIB_ARP_IN_ERRORS);
		uint8_t f[64];
		size_t len;

		step(0);
		len = wire_arp(f, ether_bcast, 1, other, 0x0a000009u, our_mac, OUR_IP);
		f[14 + 4] = 7;
		feed(f, len);
		ok(nout == 0 && inet_mib(INET_MIB_ARP_IN_ERRORS) == err0 + 1,
		   "5 malformed ARP (hlen 7): counted, not answered");
	}
}

static void test_echo(void)
{
	const uint8_t *h, *m;

	step(1000);
	send_echo(7, 56);
	h = out[0].b + 14;
	m = h + 20;
	ok(nout == 1 && !memcmp(out[0].b, peer_mac, 6) && get32(h + 12) == OUR_IP &&
	       get32(h + 16) == PEER_IP && h[9] == 1 && m[0] == ICMP_ECHOREPLY &&
	       get16(m + 4) == 1 && get16(m + 6) == 7 && m[8 + 10] == (uint8_t)(10 * 7 + 7) &&
	       inet_csum(h, 20) == 0 && inet_csum(m, 64) == 0,
	   "6 echo request -> reply: same id/seq/data, checksums right");

	/* 7: expiry, then a reply waits for the ARP answer. */
	step(61000);
	netif_tick(nif);
	{
		uint8_t mac[6];
		int gone = arp_lookup(nif, PEER_IP, mac) == -ENOENT;

		nout = 0;
		send_echo(8, 16);
		int asked = nout == 1 && count_out(0) == 1 && get32(out[0].b + 14 + 24) == PEER_IP;

		nout = 0;
		peer_arp(2, PEER_IP, peer_mac, OUR_IP);
		ok(gone && asked && nout == 1 && count_out(1) == 1 &&
		       !memcmp(out[0].b, peer_mac, 6),
		   "7 neighbour expired at 60 s; the reply waited for the ARP answer, then went");
	}
}

static void test_arp_fail_and_bounds(void)
{
	struct udp_sock *s;
	int requests = 0;
	uint64_t failed0 = inet_mib(INET_MIB_ARP_FAILED);
	uint64_t pdrops0 = inet_mib(INET_MIB_ARP_PENDING_DROPS);

	udp_open(&s);
	step(1000);
	udp_sendto(s, "x", 1, 0x0a000063u, 9);
	requests += count_out(0);
	for (int i = 0; i < 4; i++) {
		step(1000);
		netif_tick(nif);
		requests += count_out(0);
	}
	ok(requests == 3 && inet_mib(INET_MIB_ARP_FAILED) == failed0 + 1 &&
	       arp_lookup(nif, 0x0a000063u, (uint8_t[6]){0}) == -ENOENT,
	   "8 unanswered neighbour: %d requests 1 s apart, then given up", requests);

	for (uint32_t i = 0; i < 300; i++) {
		uint8_t mac[6] = {2, 1, 0, 0, (uint8_t)(i >> 8), (uint8_t)i};

		peer_arp(1, 0x0a000100u + i, mac, OUR_IP);
	}
	ok(arp_count(nif) == INET_NEIGH_MAX && inet_mib(INET_MIB_ARP_EVICTIONS) >= 44,
	   "9 ARP cache holds %u after 300 senders (bound %d)", arp_count(nif), INET_NEIGH_MAX);
	arp_flush(nif);

	step(0);
	for (int i = 0; i < 5; i++)
		udp_sendto(s, "y", 1, 0x0a000064u, 9);
	nout = 0;
	{
		uint8_t mac[6] = {2, 0, 0, 0, 0, 0x64};

		peer_arp(2, 0x0a000064u, mac, OUR_IP);
	}
	ok(inet_mib(INET_MIB_ARP_PENDING_DROPS) == pdrops0 + 2 && count_out(IPPROTO_UDP_) == 3,
	   "10 at most 3 packets wait for a neighbour: 2 dropped, 3 sent on the answer");
	udp_close(s);
	arp_flush(nif);
	resolve_peer();
}

/* Send a 3000-byte echo as fragments in the order @order (indices of 0..2). */
static void send_frag_echo(uint16_t id, const int order[3])
{
	static uint8_t m[4096], f[2048];
	size_t n = echo(m, 2, id, 3000 - 8);
	const unsigned cut[4] = {0, 1480, 2960, (unsigned)n};

	for (int i = 0; i < 3; i++) {
		int k = order[i];
		uint16_t frag = (uint16_t)(cut[k] / 8 | (k < 2 ? IPV4_MF : 0));

		feed(f, ip_frame(f, IPPROTO_ICMP_, id, frag, m + cut[k], cut[k + 1] - cut[k],
				 PEER_IP, OUR_IP));
	}
}

static bool frag_reply_ok(uint16_t seq)
{
	static uint8_t buf[70000];
	uint8_t proto = 0;
	int len = reassemble_out(buf, sizeof(buf), &proto);

	return nout == 3 && len == 3000 && proto == 1 && buf[0] == ICMP_ECHOREPLY &&
	       get16(buf + 6) == seq && inet_csum(buf, 3000) == 0 &&
	       buf[8 + 2000] == (uint8_t)(2000 * 7 + seq);
}

static void test_reassembly(void)
{
	static const int in_order[3] = {0, 1, 2}, shuffled[3] = {2, 0, 1};
	uint64_t dup0 = inet_mib(INET_MIB_IP_REASM_DUPLICATES);
	uint64_t ovl0 = inet_mib(INET_MIB_IP_REASM_OVERLAPS);

	step(1000);
	send_frag_echo(100, in_order);
	ok(frag_reply_ok(100), "11 3000-byte echo in 3 fragments, in order: the reply reassembles");
	step(1000);
	send_frag_echo(101, shuffled);
	ok(frag_reply_ok(101), "12 the same out of order (3, 1, 2)");

	{
		static uint8_t m[4096], f[2048];
		size_t n = echo(m, 2, 102, 3000 - 8);
		int dup_ok;

		step(1000);
		feed(f, ip_frame(f, 1, 102, IPV4_MF, m, 1480, PEER_IP, OUR_IP));
		feed(f, ip_frame(f, 1, 102, IPV4_MF, m, 1480, PEER_IP, OUR_IP));
		feed(f, ip_frame(f, 1, 102, 185 | IPV4_MF, m + 1480, 1480, PEER_IP, OUR_IP));
		feed(f, ip_frame(f, 1, 102, 370, m + 2960, n - 2960, PEER_IP, OUR_IP));
		dup_ok = inet_mib(INET_MIB_IP_REASM_DUPLICATES) == dup0 + 1 && frag_reply_ok(102);

		step(1000);
		n = echo(m, 2, 103, 3000 - 8);
		feed(f, ip_frame(f, 1, 103, IPV4_MF, m, 1480, PEER_IP, OUR_IP));
		/* Starts 8 bytes inside the first. */
		feed(f, ip_frame(f, 1, 103, 184 | IPV4_MF, m + 1472, 1488, PEER_IP, OUR_IP));
		feed(f, ip_frame(f, 1, 103, 370, m + 2960, n - 2960, PEER_IP, OUR_IP));
		/* The last fragment came after: it waits alone for its timeout. */
		ok(dup_ok && nout == 0 && inet_mib(INET_MIB_IP_REASM_OVERLAPS) == ovl0 + 1 &&
		       nif->nreass == 1,
		   "13 a duplicate is dropped alone (reply sent); an overlap drops the datagram");
		if (!dup_ok || nif->nreass != 1)
			diag("dup_ok %d nout %d overlaps %llu nreass %u", dup_ok, nout,
			     (unsigned long long)(inet_mib(INET_MIB_IP_REASM_OVERLAPS) - ovl0),
			     nif->nreass);
		inet_reass_flush(nif);
	}

	{
		uint8_t f[128], data[8] = {0};
		uint64_t fails0 = inet_mib(INET_MIB_IP_REASM_FAILS);

		step(1000);
		for (int i = 0; i < 70; i++)
			feed(f, ip_frame(f, 17, 104, (uint16_t)(i | (i < 69 ? IPV4_MF : 0)), data,
					 8, PEER_IP, OUR_IP));
		ok(nout == 0 && inet_mib(INET_MIB_IP_REASM_FAILS) > fails0,
		   "14 70 fragments of 8 bytes: given up at %d, nothing delivered",
		   INET_REASS_FRAGS);
		inet_reass_flush(nif);
	}

	{
		static uint8_t m[2048], f[2048];
		uint64_t to0 = inet_mib(INET_MIB_IP_REASM_TIMEOUTS);
		const uint8_t *icmp;

		step(1000);
		echo(m, 2, 105, 2000);
		feed(f, ip_frame(f, 1, 105, IPV4_MF, m, 1480, PEER_IP, OUR_IP));
		step(29000);
		netif_tick(nif);
		int early = nout;

		step(1500);
		netif_tick(nif);
		icmp = out[0].b + 14 + 20;
		ok(early == 0 && nout == 1 && icmp[0] == ICMP_TIMXCEED && icmp[1] == 1 &&
		       inet_mib(INET_MIB_IP_REASM_TIMEOUTS) == to0 + 1 && nif->nreass == 0,
		   "15 a lone first fragment times out at 30 s: ICMP time exceeded (reassembly)");
	}
}

/* Port unreachable from the peer, quoting our datagram 10.0.0.2:@lport -> 10.0.0.1:@rport. */
static void feed_unreach(uint16_t lport, uint16_t rport)
{
	static uint8_t m[64], f[256];
	uint8_t *quoted = m + 8;

	memset(m, 0, sizeof(m));
	m[0] = ICMP_UNREACH;
	m[1] = ICMP_UNREACH_PORT;
	wire_ip4_frag(quoted, OUR_IP, PEER_IP, 17, 8, 77, 0);
	put16(quoted + 20, lport);
	put16(quoted + 22, rport);
	put16(quoted + 24, 8);
	put16(m + 2, inet_csum(m, 36));
	feed(f, ip_frame(f, IPPROTO_ICMP_, 78, 0, m, 36, PEER_IP, OUR_IP));
}

static void test_udp_unreach(void)
{
	struct inet_addr peer = inet_addr_from_v4(PEER_IP);
	struct udp_sock *c, *u;
	uint8_t buf[8];
	ssize_t r0, r1, r2, w0, w1, ru;
	int bad = 0;

	udp_open(&c);
	udp_open(&u);
	bad += udp_bind(c, 0, 7001) || udp_bind(u, 0, 7002);
	bad += udp_connect_in(c, &peer, 5001) != 0;
	step(1000);
	feed_unreach(7001, 5002); /* another peer port: not this connection's */
	feed_unreach(7002, 5001); /* a socket not connected: never told */
	r0 = udp_recvfrom(c, buf, sizeof(buf), NULL, NULL, 0);
	ru = udp_recvfrom(u, buf, sizeof(buf), NULL, NULL, 0);
	feed_unreach(7001, 5001);
	r1 = udp_recvfrom(c, buf, sizeof(buf), NULL, NULL, 0);
	r2 = udp_recvfrom(c, buf, sizeof(buf), NULL, NULL, 0);
	feed_unreach(7001, 5001);
	w0 = udp_sendto_in(c, "x", 1, &peer, 5001);
	w1 = udp_sendto_in(c, "x", 1, &peer, 5001);
	ok(!bad && r0 == -EAGAIN && ru == -EAGAIN && r1 == -ECONNREFUSED && r2 == -EAGAIN &&
	       w0 == -ECONNREFUSED && w1 == 1,
	   "19b port unreachable from a connected socket's peer: receive -ECONNREFUSED once (%zd, "
	   "%zd), a send after another (%zd, %zd); another port's (%zd) or an unconnected "
	   "socket's (%zd) change nothing",
	   r1, r2, w0, w1, r0, ru);
	udp_close(c);
	udp_close(u);
}

static void test_udp(void)
{
	static uint8_t f[2048];
	uint8_t d[64], buf[64];
	struct udp_sock *s;
	uint32_t from = 0;
	uint16_t sport = 0;
	ssize_t n;
	const uint8_t *h, *u;

	udp_open(&s);
	is_int(udp_bind(s, 0, 7), 0, "16a bind port 7");
	/* A datagram from 10.0.0.1:5000 with "hello", its checksum right. */
	put16(d, 5000);
	put16(d + 2, 7);
	put16(d + 4, 13);
	put16(d + 6, 0);
	memcpy(d + 8, "hello", 5);
	put16(d + 6,
	      inet_csum_fold(inet_csum_add(inet_csum_pseudo(PEER_IP, OUR_IP, 17, 13), d, 13)));
	step(1000);
	feed(f, ip_frame(f, 17, 1, 0, d, 13, PEER_IP, OUR_IP));
	n = udp_recvfrom(s, buf, sizeof(buf), &from, &sport, 0);
	udp_sendto(s, buf, (size_t)n, from, sport);
	h = out[0].b + 14;
	u = h + 20;
	ok(n == 5 && !memcmp(buf, "hello", 5) && from == PEER_IP && sport == 5000 && nout == 1 &&
	       get16(u) == 7 && get16(u + 2) == 5000 && get16(u + 4) == 13 &&
	       inet_csum_fold(inet_csum_add(inet_csum_pseudo(OUR_IP, PEER_IP, 17, 13), u, 13)) == 0,
	   "16 UDP: payload and sender received; the echo's checksum is right");

	step(1000);
	put16(d + 2, 9999);
	put16(d + 6, 0); /* no checksum: allowed */
	feed(f, ip_frame(f, 17, 2, 0, d, 13, PEER_IP, OUR_IP));
	u = out[0].b + 14 + 20;
	ok(nout == 1 && u[0] == ICMP_UNREACH && u[1] == ICMP_UNREACH_PORT &&
	       get32(u + 8 + 16) == OUR_IP && get16(u + 8 + 20 + 2) == 9999,
	   "17 UDP to a closed port: ICMP port unreachable quoting the datagram");

	{
		uint64_t e0 = inet_mib(INET_MIB_UDP_IN_ERRORS);

		step(1000);
		put16(d + 2, 7);
		put16(d + 6, 0x1234);
		feed(f, ip_frame(f, 17, 3, 0, d, 13, PEER_IP, OUR_IP));
		ok(nout == 0 && udp_recvfrom(s, buf, sizeof(buf), NULL, NULL, 0) == -EAGAIN &&
		       inet_mib(INET_MIB_UDP_IN_ERRORS) == e0 + 1,
		   "18 UDP with a bad checksum: dropped, counted");
	}

	{
		uint64_t r0 = inet_mib(INET_MIB_UDP_RCVBUF_ERRORS);
		int got = 0;

		put16(d + 6, 0);
		for (int i = 0; i < 200; i++)
			feed(f, ip_frame(f, 17, (uint16_t)(10 + i), 0, d, 13, PEER_IP, OUR_IP));
		while (udp_recvfrom(s, buf, sizeof(buf), NULL, NULL, 0) == 5)
			got++;
		ok(inet_mib(INET_MIB_UDP_RCVBUF_ERRORS) > r0 && got > 0 &&
		       (unsigned)got * inet_stack->pkb_cache->size <= INET_UDP_RCVBUF,
		   "19 receive queue bounded: %d of 200 kept", got);
	}
	udp_close(s);
	test_udp_unreach();
}

static void test_ip_hdr(void)
{
	static uint8_t m[64], f[256];
	uint64_t e0 = inet_mib(INET_MIB_IP_IN_HDR_ERRORS),
		 a0 = inet_mib(INET_MIB_IP_IN_ADDR_ERRORS);
	size_t n = echo(m, 3, 1, 16), len;
	int sent = 0;

	step(1000);
	len = ip_frame(f, 1, 1, 0, m, n, PEER_IP, OUR_IP);
	f[14] = 0x65; /* version 6 */
	feed(f, len);
	len = ip_frame(f, 1, 1, 0, m, n, PEER_IP, OUR_IP);
	f[14] = 0x44; /* IHL 4 */
	feed(f, len);
	len = ip_frame(f, 1, 1, 0, m, n, PEER_IP, OUR_IP);
	put16(f + 16, 2000); /* longer than the frame */
	put16(f + 24, 0);
	put16(f + 24, inet_csum(f + 14, 20));
	feed(f, len);
	len = ip_frame(f, 1, 1, 0, m, n, PEER_IP, OUR_IP);
	f[24] ^= 1; /* checksum */
	feed(f, len);
	feed(f, ip_frame(f, 1, 1, 0, m, n, 0x7f000001u, OUR_IP)); /* loopback source */
	feed(f, ip_frame(f, 1, 1, 0, m, n, 0xe0000001u, OUR_IP)); /* multicast source */
	len = ip_frame(f, 1, 1, 0, m, n, PEER_IP, OUR_IP);
	memcpy(f, ether_bcast, 6); /* link broadcast, unicast IP */
	feed(f, len);
	feed(f, ip_frame(f, 1, 1, 0, m, n, PEER_IP, 0x0a000003u)); /* not ours */
	sent = nout;
	ok(sent == 0 && inet_mib(INET_MIB_IP_IN_HDR_ERRORS) == e0 + 7 &&
	       inet_mib(INET_MIB_IP_IN_ADDR_ERRORS) == a0 + 1,
	   "20 bad headers: 7 header errors, 1 address error, nothing sent (%d)", sent);

	{
		uint64_t d0 = inet_mib(INET_MIB_ETH_IN_DROPS),
			 r0 = inet_mib(INET_MIB_ETH_IN_ERRORS);
		static const uint8_t other[6] = {2, 0, 0, 0, 0, 0x33};

		len = ip_frame(f, 1, 1, 0, m, n, PEER_IP, OUR_IP);
		memcpy(f, other, 6);
		feed(f, len);
		feed(f, 10);
		ok(nout == 0 && inet_mib(INET_MIB_ETH_IN_DROPS) == d0 + 1 &&
		       inet_mib(INET_MIB_ETH_IN_ERRORS) == r0 + 1,
		   "21 Ethernet: another station's frame and a runt dropped");
	}
}

static void test_ratelimit(void)
{
	int first, later;

	step(10000);
	for (int i = 0; i < 100; i++)
		send_echo((uint16_t)i, 8);
	first = nout;
	step(200);
	for (int i = 0; i < 100; i++)
		send_echo((uint16_t)i, 8);
	later = nout;
	ok(first == INET_ICMP_BURST && later == 20,
	   "22 ICMP rate limit: %d replies to 100 at once, %d 200 ms later", first, later);
}

static int fault_run(uint64_t seed, uint16_t drop)
{
	struct inet_fault_config c = {.seed = seed, .drop = drop};

	netif_fault_set(nif, &c);
	step(10000);
	for (int i = 0; i < 40; i++)
		send_echo((uint16_t)i, 8);
	netif_fault_set(nif, NULL);
	return nout;
}

static void test_fault(void)
{
	int a = fault_run(42, 3000), b = fault_run(42, 3000), c = fault_run(7, 3000);
	struct inet_fault_config d = {.seed = 1, .delay = 10000, .delay_ms = 500};
	int during, after;

	diag("fault: seed 42 -> %d, %d replies; seed 7 -> %d", a, b, c);
	netif_fault_set(nif, &d);
	step(10000);
	send_echo(1, 8);
	during = nout;
	step(400);
	netif_tick(nif);
	during += nout;
	step(200);
	netif_tick(nif);
	after = nout;
	netif_fault_set(nif, NULL);

	{
		struct inet_fault_config r = {
		    .seed = 3, .reorder = 5000, .dup = 3000, .corrupt = 2000};
		uint64_t ro0 = inet_mib(INET_MIB_FAULT_REORDERS),
			 du0 = inet_mib(INET_MIB_FAULT_DUPS);
		uint64_t co0 = inet_mib(INET_MIB_FAULT_CORRUPTS);

		netif_fault_set(nif, &r);
		step(10000);
		for (int i = 0; i < 40; i++)
			send_echo((uint16_t)i, 8);
		netif_fault_set(nif, NULL);
		ok(a == b && a < 40 && a > 10 && during == 0 && after == 1 &&
		       inet_mib(INET_MIB_FAULT_REORDERS) > ro0 &&
		       inet_mib(INET_MIB_FAULT_DUPS) > du0 &&
		       inet_mib(INET_MIB_FAULT_CORRUPTS) > co0,
		   "23 fault injector: seeded drops repeat (%d = %d of 40), delay 500 ms holds "
		   "the frame until then, reorder/dup/corrupt happen",
		   a, b);
	}
}

/*
 * Field @name of group @group ("Icmp") in @text, inet_snmp's lines behind a
 * newline of ours (so that every group starts with "\nGroup:"), or -1.
 */
static long long snmp_get(const char *text, const char *group, const char *name)
{
	char head[64];
	size_t glen = (size_t)snprintf(head, sizeof(head), "\n%s:", group);
	const char *names = strstr(text, head), *vals;

	if (!names || !(vals = strstr(names + glen, head)))
		return -1;
	names += glen;
	vals += glen;
	for (;;) {
		size_t w, v;

		names += strspn(names, " ");
		vals += strspn(vals, " ");
		w = strcspn(names, " \n");
		v = strcspn(vals, " \n");
		if (!w || !v)
			return -1;
		if (w == strlen(name) && !strncmp(names, name, w))
			return strtoll(vals, NULL, 10);
		names += w;
		vals += v;
	}
}

static void test_snmp_counts(void)
{
	static char t0[8192], t1[8192];
	uint8_t f[256], m[64], d[32] = {0};
	int bad_answered;
	size_t n;

	step(1000);
	t0[0] = '\n';
	inet_snmp(t0 + 1, sizeof(t0) - 1);
	nout = 0;
	n = echo(m, 1, 40, 16);
	m[20] ^= 0x55; /* the data no longer matches its checksum */
	feed(f, ip_frame(f, IPPROTO_ICMP_, 40, 0, m, n, PEER_IP, OUR_IP));
	bad_answered = nout;
	send_echo(41, 16);
	put16(d, 5000);
	put16(d + 2, 7);
	put16(d + 4, 13);
	put16(d + 6, 0x1234);
	feed(f, ip_frame(f, 17, 42, 0, d, 13, PEER_IP, OUR_IP));
	put16(d + 2, 80);
	d[12] = 5 << 4;
	d[13] = 0x02;
	put16(d + 16, 0x4321);
	feed(f, ip_frame(f, IPPROTO_TCP_, 43, 0, d, 20, PEER_IP, OUR_IP));
	t1[0] = '\n';
	inet_snmp(t1 + 1, sizeof(t1) - 1);
#define GROWS(g, name) (snmp_get(t1, g, name) - snmp_get(t0, g, name))
	ok(bad_answered == 0 && GROWS("Icmp", "InErrors") == 1 &&
	       GROWS("Icmp", "InCsumErrors") == 1 && GROWS("Icmp", "InEchos") == 1 &&
	       GROWS("Icmp", "OutEchoReps") == 1 && snmp_get(t1, "IcmpMsg", "InType8") > 0 &&
	       snmp_get(t1, "IcmpMsg", "OutType0") > 0 && GROWS("Udp", "InCsumErrors") == 1 &&
	       GROWS("Udp", "InErrors") == 1 && GROWS("Tcp", "InCsumErrors") == 1 &&
	       GROWS("Tcp", "InErrs") == 1,
	   "25 snmp: a bad ICMP checksum is InErrors and InCsumErrors (%lld, %lld), unanswered; "
	   "an echo is InEchos, OutEchoReps, IcmpMsg InType8 %lld and OutType0 %lld; UDP and TCP "
	   "InCsumErrors %lld, %lld",
	   GROWS("Icmp", "InErrors"), GROWS("Icmp", "InCsumErrors"),
	   snmp_get(t1, "IcmpMsg", "InType8"), snmp_get(t1, "IcmpMsg", "OutType0"),
	   GROWS("Udp", "InCsumErrors"), GROWS("Tcp", "InCsumErrors"));
#undef GROWS
}

int main(void)
{
	struct netif_config cfg = {.name = "t0", .addr = OUR_IP, .prefix_len = 16};
	size_t used, max;

	plan(27);
	capture_boot(2u << 20);
	nif = capture_netif(&cfg, our_mac, &q);

	test_csum();
	test_arp();
	test_echo();
	test_arp_fail_and_bounds();
	test_reassembly();
	test_udp();
	test_ip_hdr();
	test_ratelimit();
	test_fault();
	test_snmp_counts();

	arp_flush(nif);
	inet_reass_flush(nif);
	inet_mem(&used, &max);
	is_int(used, 0, "24 every buffer is back (%zu of %zu bytes held)", used, max);
	netif_queue_close(q);
	return done_testing();
}
