/*
 * The virtio-net header path of kernel/net/inet (vnet.c, netif_input_vnet):
 * what a TAP queue with offloads reads, every field of it hostile. Frames
 * go in through netif_input_vnet on a hook queue, replies are captured,
 * time is a virtual clock. The peer is 10.0.0.1, the machine 10.0.0.2/16,
 * listening on TCP port 80.
 *  1     a SYN with a partial checksum (the pseudo-header's sum only, as a
 *        sender on the host leaves it): taken, answered, counted as one
 *  2     the same SYN without the flag is a bad checksum: dropped, counted
 *  3     a SYN whose partial checksum is said to lie elsewhere in the TCP
 *        header is finished there as asked, and then fails TCP's check
 *  4     offsets past the frame (csum_start, csum_start + offset, 16-bit
 *        wrap), unknown flags, ECN without GSO, a GSO frame without a
 *        partial checksum, of size 0, with hdr_len past the frame, on
 *        UDP, too short for its headers, and a plain frame past the MTU:
 *        each an rx_error, nothing sent, nothing held
 *  5     GSO of UDP, which we do not take: dropped, counted; a GSO type of
 *        the other family than the frame's: an error; an IPv6 segment of
 *        many MSS (TCPV6) with its checksum partial at 54/16: taken whole,
 *        its sum believed; one whose checksum lies elsewhere: an error
 *  6     headers shorter than 10 bytes, and frames longer than 64 KiB: errors
 *  7     a UDP datagram with a partial checksum is finished and delivered
 *  8     a connection: one GSO segment of 60000 bytes in order is taken
 *        whole (one frame, rx_gso 1), read back intact, and ACKed at once
 * then on a second interface whose hook sees frames as a TAP with offloads
 * does (netif_queue_open_hook_vnet), a peer with MSS 1460 and no options:
 *  9     the first flight (cwnd 3 MSS) is one TSO segment: gso TCPV4,
 *        gso_size 1460, hdr_len 54, 4380 bytes, its checksum partial at
 *        34/16 and right once finished as the header says
 * 10     after ACKs, every data segment is whole MSS (or the stream's end),
 *        and those of more than one MSS are TSO segments
 * 11     a timeout's retransmission is one MSS, not a TSO segment
 * 12     a plain hook on an interface with offloads is refused (-EBUSY)
 * 13     every buffer is back in the end
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

#define PEER_IP	 0x0a000001u
#define OUR_IP	 0x0a000002u
#define PEER2_IP 0x0a010001u
#define OUR2_IP	 0x0a010002u
#define BIG	 60000

static const uint8_t peer_mac[6] = {2, 0, 0, 0, 0, 1};
static const uint8_t our_mac[6] = {2, 0, 0, 0, 0, 2};
static struct netif *nif, *nif2;
static struct netif_queue *q, *q2;
static uint32_t peer_ip = PEER_IP, our_ip = OUR_IP;

/* The header's 10 bytes, fields in the host's order, in front of the frame at @b + 10. */
static void vhdr(uint8_t *b, uint8_t flags, uint8_t gso_type, uint16_t hdr_len, uint16_t gso_size,
		 uint16_t csum_start, uint16_t csum_offset)
{
	struct vnet_hdr h = {flags, gso_type, hdr_len, gso_size, csum_start, csum_offset};

	netif_vnet_put(b, &h);
}

/* The peer and the machine over IPv6 (link-local), when frames are IPv6 ones (test 5b). */
static bool frames_v6;
static struct inet_addr peer6 = {{0xfe, 0x80, [15] = 1}}, our6;

/*
 * At @f: Ethernet, IPv4 (or IPv6: frames_v6) and a TCP header (no options)
 * from the peer's @sport to our @dport, @plen bytes of payload (i % 251);
 * its checksum partial (the pseudo-header's sum) or whole. The frame's
 * length.
 */
static size_t tcp_frame_mss(uint8_t *f, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
			    uint8_t flags, size_t plen, bool partial, uint16_t mss)
{
	static uint8_t pattern[BIG];
	uint8_t opt[4] = {OPT_MSS, 4, (uint8_t)(mss >> 8), (uint8_t)mss};
	struct wire_tcp seg = {sport, dport, seq,	  ack,	   flags,
			       65535, opt,   mss ? 4 : 0, pattern, plen};
	size_t iphl = frames_v6 ? 40 : 20, n;
	uint32_t tl;

	for (size_t i = 0; i < plen; i++)
		pattern[i] = (uint8_t)(i % 251);
	n = frames_v6 ? wire_tcp6_frame(f, our_mac, peer_mac, &peer6, &our6, &seg)
		      : wire_tcp4_frame(f, our_mac, peer_mac, peer_ip, our_ip, &seg);
	tl = (uint32_t)(n - 14 - iphl);
	if (partial)
		put16(f + 14 + iphl + 16,
		      (uint16_t)~inet_csum_fold(
			  frames_v6 ? inet_csum_pseudo6(&peer6, &our6, IPPROTO_TCP_, tl)
				    : inet_csum_pseudo(peer_ip, our_ip, IPPROTO_TCP_, tl)));
	return n;
}

static size_t tcp_frame(uint8_t *f, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
			uint8_t flags, size_t plen, bool partial)
{
	return tcp_frame_mss(f, sport, dport, seq, ack, flags, plen, partial, 0);
}

static uint64_t st(int which)
{
	struct netif_stats s;

	netif_stats(nif, &s);
	switch (which) {
	case 0:
		return s.rx_errors;
	case 1:
		return s.rx_drops;
	case 2:
		return s.rx_gso;
	default:
		return s.rx_csum_partial;
	}
}

static uint8_t buf[10 + 14 + 65535 + 16];

/* What the vnet hook saw: each frame's header, TCP fields, and whether its sum comes out right. */
static struct {
	struct vnet_hdr h;
	bool tcp, sum_ok;
	uint32_t seq, plen;
	uint8_t flags;
} vout[CAP_MAX];
static int nvout;

static int capture_vnet(void *arg, const void *frame, size_t len)
{
	static uint8_t f[14 + 65535];
	const uint8_t *b = frame;
	unsigned ihl, tl, doff;
	uint8_t *t;

	(void)arg;
	if (nvout == CAP_MAX || len < 10 + 14 + 20 || len - 10 > sizeof(f))
		return 0;
	netif_vnet_get(&vout[nvout].h, b);
	memcpy(f, b + 10, len - 10);
	ihl = (f[14] & 15u) * 4;
	vout[nvout].tcp = get16(f + 12) == ETH_P_IPV4 && f[23] == IPPROTO_TCP_;
	if (vout[nvout].tcp) {
		tl = get16(f + 16) - ihl;
		t = f + 14 + ihl;
		doff = (t[12] >> 4) * 4u;
		vout[nvout].seq = get32(t + 4);
		vout[nvout].flags = t[13];
		vout[nvout].plen = tl - doff;
		/* Finish the partial sum as the header says, then check it as a receiver would. */
		if (vout[nvout].h.flags & VNET_F_NEEDS_CSUM)
			put16(f + vout[nvout].h.csum_start + vout[nvout].h.csum_offset,
			      inet_csum(f + vout[nvout].h.csum_start,
					len - 10 - vout[nvout].h.csum_start));
		vout[nvout].sum_ok =
		    inet_csum_fold(inet_csum_add(
			inet_csum_pseudo(get32(f + 26), get32(f + 30), IPPROTO_TCP_, tl), t, tl)) ==
		    0;
	}
	nvout++;
	return 0;
}
static void test_csum(void)
{
	uint64_t p0 = st(3), e0 = inet_mib(INET_MIB_TCP_IN_ERRS);
	size_t n;

	nout = 0;
	n = tcp_frame(buf + 10, 1000, 80, 5000, 0, 0x02, 0, true);
	vhdr(buf, VNET_F_NEEDS_CSUM, VNET_GSO_NONE, 0, 0, 34, 16);
	netif_input_vnet(q, buf, 10 + n);
	ok(nout == 1 && out[0].b[47] == 0x12 && st(3) == p0 + 1,
	   "1 a SYN with a partial checksum is answered (%d frames, SYN-ACK %#x)", nout,
	   nout ? out[0].b[47] : 0);

	nout = 0;
	n = tcp_frame(buf + 10, 1001, 80, 5000, 0, 0x02, 0, true);
	vhdr(buf, 0, VNET_GSO_NONE, 0, 0, 0, 0);
	netif_input_vnet(q, buf, 10 + n);
	ok(nout == 0 && inet_mib(INET_MIB_TCP_IN_ERRS) == e0 + 1,
	   "2 without the flag it is a bad checksum: dropped, counted");

	nout = 0;
	n = tcp_frame(buf + 10, 1002, 80, 5000, 0, 0x02, 0, true);
	vhdr(buf, VNET_F_NEEDS_CSUM, VNET_GSO_NONE, 0, 0, 34, 14); /* the window field */
	netif_input_vnet(q, buf, 10 + n);
	ok(nout == 0 && inet_mib(INET_MIB_TCP_IN_ERRS) == e0 + 2 && st(3) == p0 + 1,
	   "3 a partial checksum said to lie elsewhere is finished there, and fails TCP's");
}

static void test_hostile(void)
{
	static const struct {
		uint8_t flags, type;
		uint16_t hdr_len, gso_size, start, offset;
		size_t plen;
		const char *what;
	} bad[] = {
	    {VNET_F_NEEDS_CSUM, 0, 0, 0, 54, 0, 0, "csum_start at the frame's end"},
	    {VNET_F_NEEDS_CSUM, 0, 0, 0, 34, 19, 0, "the field one byte past the end"},
	    {VNET_F_NEEDS_CSUM, 0, 0, 0, 0xffff, 0xffff, 0, "offsets that wrap 16 bits"},
	    {VNET_F_NEEDS_CSUM, 0, 0, 0, 34, 0xfff0, 0, "a huge csum_offset"},
	    {0x04, 0, 0, 0, 0, 0, 0, "an unknown flag"},
	    {0, VNET_GSO_ECN, 0, 0, 0, 0, 0, "ECN without GSO"},
	    {0, VNET_GSO_TCPV4, 54, 1448, 0, 0, 3000, "GSO without a partial checksum"},
	    {VNET_F_NEEDS_CSUM, VNET_GSO_TCPV4, 54, 0, 34, 16, 3000, "GSO of size 0"},
	    {VNET_F_NEEDS_CSUM, VNET_GSO_TCPV4, 60000, 1448, 34, 16, 3000,
	     "hdr_len past the frame"},
	    {VNET_F_NEEDS_CSUM, VNET_GSO_TCPV4, 54, 1448, 34, 17, 3000, "GSO's checksum not TCP's"},
	    {0, 0, 0, 0, 0, 0, 1600, "a plain frame past the MTU"},
	};
	uint64_t e0 = st(0), used0, max;
	size_t n;

	inet_mem(&used0, &max);
	nout = 0;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = tcp_frame(buf + 10, 2000, 80, 1, 0, 0x10, bad[i].plen, true);
		vhdr(buf, bad[i].flags, bad[i].type, bad[i].hdr_len, bad[i].gso_size, bad[i].start,
		     bad[i].offset);
		netif_input_vnet(q, buf, 10 + n);
		if (st(0) != e0 + i + 1)
			diag("not an rx_error: %s", bad[i].what);
	}
	/* A GSO TCPv4 frame that is UDP, and one too short for a TCP header. */
	n = tcp_frame(buf + 10, 2000, 80, 1, 0, 0x10, 3000, true);
	buf[10 + 23] = IPPROTO_UDP_;
	vhdr(buf, VNET_F_NEEDS_CSUM, VNET_GSO_TCPV4, 54, 1448, 34, 16);
	netif_input_vnet(q, buf, 10 + n);
	vhdr(buf, VNET_F_NEEDS_CSUM, VNET_GSO_TCPV4, 0, 1448, 30, 2);
	netif_input_vnet(q, buf, 10 + 14 + 20 + 10);
	{
		size_t used;

		inet_mem(&used, &max);
		ok(st(0) == e0 + 13 && nout == 0 && used == used0,
		   "4 hostile headers: %llu rx_errors of 13, nothing sent, nothing held",
		   (unsigned long long)(st(0) - e0));
	}
}

static void test_refused(void)
{
	uint64_t d0 = st(1), e0 = st(0), g0, c0, s0, t0 = inet_mib(INET_MIB_TCP_IN_CSUM_ERRORS);
	size_t n = tcp_frame(buf + 10, 2000, 80, 1, 0, 0x10, 3000, true);

	vhdr(buf, VNET_F_NEEDS_CSUM, VNET_GSO_UDP, 42, 1472, 34, 6);
	netif_input_vnet(q, buf, 10 + n);
	vhdr(buf, VNET_F_NEEDS_CSUM, VNET_GSO_UDP_L4, 42, 1472, 34, 6);
	netif_input_vnet(q, buf, 10 + n);
	/* A GSO type that is not the frame's family. */
	vhdr(buf, VNET_F_NEEDS_CSUM, VNET_GSO_TCPV6, 74, 1428, 54, 16);
	netif_input_vnet(q, buf, 10 + n);
	frames_v6 = true;
	/* A reset, so that nothing answers it (an answer would wait for the peer's ND). */
	n = tcp_frame(buf + 10, 2000, 80, 1, 0, 0x14, 3000, true);
	vhdr(buf, VNET_F_NEEDS_CSUM, VNET_GSO_TCPV4, 54, 1448, 54, 16);
	netif_input_vnet(q, buf, 10 + n);
	ok(st(1) == d0 + 2 && st(0) == e0 + 2,
	   "5a GSO of UDP: dropped as not ours (%llu); TCPV6 on IPv4 and TCPV4 on IPv6: errors "
	   "(%llu)",
	   (unsigned long long)(st(1) - d0), (unsigned long long)(st(0) - e0));

	/*
	 * An IPv6 segment of many MSS with its checksum partial: taken whole, the
	 * sum believed (TCP takes it: its address is past DAD's second).
	 */
	netif_tick(nif); /* DAD's NS */
	step(1100);
	netif_tick(nif); /* no answer in RetransTimer: preferred */
	g0 = st(2);
	c0 = st(3);
	s0 = inet_mib(INET_MIB_TCP_IN_SEGS);
	vhdr(buf, VNET_F_NEEDS_CSUM, VNET_GSO_TCPV6, 74, 1428, 54, 16);
	netif_input_vnet(q, buf, 10 + n);
	/* The same with its partial checksum said to lie in the IPv6 header: refused. */
	vhdr(buf, VNET_F_NEEDS_CSUM, VNET_GSO_TCPV6, 74, 1428, 14, 6);
	netif_input_vnet(q, buf, 10 + n);
	frames_v6 = false;
	ok(st(2) == g0 + 1 && st(3) == c0 + 1 && st(0) == e0 + 3 &&
	       inet_mib(INET_MIB_TCP_IN_SEGS) == s0 + 1 &&
	       inet_mib(INET_MIB_TCP_IN_CSUM_ERRORS) == t0,
	   "5b a TCPV6 GSO segment with a partial checksum at 54/16 is taken (rx_gso %llu, "
	   "partial %llu), its sum believed; one placed in the IPv6 header is an error",
	   (unsigned long long)(st(2) - g0), (unsigned long long)(st(3) - c0));

	e0 = st(0);
	netif_input_vnet(q, buf, 9);
	netif_input_vnet(q, buf, 10 + 14 + 65535 + 1);
	ok(st(0) == e0 + 2, "6 a header cut short and a frame past 64 KiB are errors");
}

static void test_udp_partial(void)
{
	struct udp_sock *u;
	uint8_t *f = buf + 10, *ip = f + 14, *d = ip + 20, got[16];
	ssize_t r = -1;

	if (udp_open(&u) || udp_bind(u, 0, 7)) {
		ok(0, "7 a UDP socket");
		return;
	}
	memcpy(f, our_mac, 6);
	memcpy(f + 6, peer_mac, 6);
	put16(f + 12, ETH_P_IPV4);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, 20 + 8 + 5);
	ip[8] = 64;
	ip[9] = IPPROTO_UDP_;
	put32(ip + 12, PEER_IP);
	put32(ip + 16, OUR_IP);
	put16(ip + 10, inet_csum(ip, 20));
	put16(d, 9);
	put16(d + 2, 7);
	put16(d + 4, 13);
	memcpy(d + 8, "hello", 5);
	put16(d + 6,
	      (uint16_t)~inet_csum_fold(inet_csum_pseudo(PEER_IP, OUR_IP, IPPROTO_UDP_, 13)));
	vhdr(buf, VNET_F_NEEDS_CSUM, VNET_GSO_NONE, 0, 0, 34, 6);
	netif_input_vnet(q, buf, 10 + 14 + 20 + 13);
	r = udp_recvfrom(u, got, sizeof(got), NULL, NULL, 0);
	ok(r == 5 && !memcmp(got, "hello", 5), "7 UDP with a partial checksum is finished: %zd", r);
	udp_close(u);
}

static void test_gso(struct tcp_sock *l)
{
	struct tcp_sock *c = NULL;
	static uint8_t got[BIG + 1];
	uint32_t iss;
	uint64_t g0 = st(2);
	ssize_t r, total = 0;
	size_t n;
	int acks = 0;
	bool same = true;

	nout = 0;
	n = tcp_frame(buf + 10, 3000, 80, 7000, 0, 0x02, 0, false);
	vhdr(buf, 0, 0, 0, 0, 0, 0);
	netif_input_vnet(q, buf, 10 + n);
	if (nout != 1) {
		ok(0, "8 no SYN-ACK");
		return;
	}
	iss = get32(out[0].b + 34 + 4);
	n = tcp_frame(buf + 10, 3000, 80, 7001, iss + 1, 0x10, 0, false);
	netif_input_vnet(q, buf, 10 + n);
	if (tcp_accept(l, &c, NULL, NULL, 0)) {
		ok(0, "8 no connection");
		return;
	}
	nout = 0;
	n = tcp_frame(buf + 10, 3000, 80, 7001, iss + 1, 0x18, BIG, true);
	vhdr(buf, VNET_F_NEEDS_CSUM, VNET_GSO_TCPV4, 54, 536, 34, 16);
	netif_input_vnet(q, buf, 10 + n);
	for (int i = 0; i < nout; i++)
		if (out[i].b[47] & 0x10 && get32(out[i].b + 42) == 7001 + BIG)
			acks++;
	while (total < BIG && (r = tcp_recv(c, got + total, sizeof(got) - (size_t)total, 0)) > 0)
		total += r;
	for (ssize_t i = 0; i < total; i++)
		same = same && got[i] == (uint8_t)(i % 251);
	ok(total == BIG && same && st(2) == g0 + 1 && acks >= 1,
	   "8 a GSO segment of %d bytes taken whole: read %zd, intact %d, ACKed at once %d", BIG,
	   total, same, acks);
	tcp_abort(c);
}

/* The data frames the vnet hook saw. */
static int vnet_data(void)
{
	int n = 0;

	for (int i = 0; i < nvout; i++)
		n += vout[i].tcp && vout[i].plen;
	return n;
}

static void test_tso(struct tcp_sock *l)
{
	static uint8_t data[200000];
	struct tcp_sock *c = NULL;
	uint32_t iss, end, acked = 0;
	size_t n;
	ssize_t sent;
	bool whole = true, all_gso = true, sums = true;
	int segs = 0, tso = 0;

	peer_ip = PEER2_IP;
	our_ip = OUR2_IP;
	nvout = 0;
	n = tcp_frame_mss(buf + 10, 4000, 80, 9000, 0, 0x02, 0, false, 1460);
	vhdr(buf, 0, 0, 0, 0, 0, 0);
	netif_input_vnet(q2, buf, 10 + n);
	if (nvout != 1 || !vout[0].tcp) {
		ok(0, "9 no SYN-ACK");
		return;
	}
	iss = vout[0].seq;
	n = tcp_frame(buf + 10, 4000, 80, 9001, iss + 1, 0x10, 0, false);
	netif_input_vnet(q2, buf, 10 + n);
	if (tcp_accept(l, &c, NULL, NULL, 0)) {
		ok(0, "9 no connection");
		return;
	}
	nvout = 0;
	sent = tcp_send(c, data, sizeof(data), 0);
	ok(sent > 0 && nvout == 1 && vout[0].h.gso_type == VNET_GSO_TCPV4 &&
	       vout[0].h.gso_size == 1460 && vout[0].h.hdr_len == 54 && vout[0].plen == 4380 &&
	       vout[0].h.flags == VNET_F_NEEDS_CSUM && vout[0].h.csum_start == 34 &&
	       vout[0].h.csum_offset == 16 && vout[0].sum_ok,
	   "9 the first flight is one TSO segment: %d frames, gso %u/%u, hdr_len %u, %u bytes, "
	   "csum %u/%u, sum right %d",
	   nvout, nvout ? vout[0].h.gso_type : 0, nvout ? vout[0].h.gso_size : 0,
	   nvout ? vout[0].h.hdr_len : 0, nvout ? vout[0].plen : 0,
	   nvout ? vout[0].h.csum_start : 0, nvout ? vout[0].h.csum_offset : 0,
	   nvout ? vout[0].sum_ok : 0);

	/* ACK each flight whole, a few times: cwnd grows, segments with it. */
	end = iss + 1 + 4380;
	for (int round = 0; round < 4; round++) {
		nvout = 0;
		vclock += 1;
		n = tcp_frame(buf + 10, 4000, 80, 9001, end, 0x10, 0, false);
		netif_input_vnet(q2, buf, 10 + n);
		acked = end;
		for (int i = 0; i < nvout; i++) {
			if (!vout[i].tcp || !vout[i].plen)
				continue;
			segs++;
			sums = sums && vout[i].sum_ok;
			if (vout[i].plen % 1460 &&
			    vout[i].seq + vout[i].plen != iss + 1 + (uint32_t)sent)
				whole = false;
			if (vout[i].plen > 1460) {
				tso++;
				all_gso = all_gso && vout[i].h.gso_type == VNET_GSO_TCPV4 &&
					  vout[i].h.gso_size == 1460;
			}
			if (SEQ_GT(vout[i].seq + vout[i].plen, end))
				end = vout[i].seq + vout[i].plen;
		}
	}
	ok(segs > 0 && tso > 0 && whole && all_gso && sums,
	   "10 %d data segments after ACKs, %d TSO: whole MSS %d, gso right %d, sums right %d",
	   segs, tso, whole, all_gso, sums);

	/* No ACK now: the timeout resends from snd_una, an MSS. */
	nvout = 0;
	vclock += 2000;
	tcp_tick(vclock);
	ok(vnet_data() == 1 && vout[0].tcp && vout[0].seq == acked && vout[0].plen == 1460 &&
	       vout[0].h.gso_type == VNET_GSO_NONE && vout[0].sum_ok,
	   "11 the timeout's retransmission is one MSS at snd_una: %d data frames, %u bytes, gso "
	   "%u",
	   vnet_data(), nvout ? vout[0].plen : 0, nvout ? vout[0].h.gso_type : 0);
	tcp_abort(c);
	peer_ip = PEER_IP;
	our_ip = OUR_IP;
}

int main(void)
{
	struct netif_config cfg = {.name = "v0", .addr = OUR_IP, .prefix_len = 16};
	struct netif_config cfg2 = {.name = "v1", .addr = OUR2_IP, .prefix_len = 16};
	struct netif_queue *plain;
	struct tcp_sock *l;
	size_t used, max;

	plan(14);
	capture_boot(2u << 20);
	nif = capture_netif(&cfg, our_mac, &q);
	memcpy(cfg2.mac, our_mac, 6);
	if (netif_create(&cfg2, &nif2) || netif_queue_open_hook_vnet(nif2, capture_vnet, NULL, &q2))
		bail_out("no interface");
	netif_addr6_ll(nif, &our6);
	if (tcp_open(&l) || tcp_bind(l, 0, 80) || tcp_listen(l, 8))
		bail_out("no listener");
	/* The peer's MAC is known, so replies go at once. */
	{
		static uint8_t f[60];

		wire_arp(f, ether_bcast, 1, peer_mac, PEER_IP, NULL, OUR_IP);
		netif_input(q, f, sizeof(f));
		wire_arp(f, ether_bcast, 1, peer_mac, PEER2_IP, NULL, OUR2_IP);
		netif_input(q2, f, sizeof(f));
	}

	test_csum();
	test_hostile();
	test_refused();
	test_udp_partial();
	test_gso(l);
	test_tso(l);
	is_int(netif_queue_open_hook(nif2, capture, NULL, &plain), -EBUSY,
	       "12 a plain hook on an interface with offloads is refused");

	tcp_close(l);
	vclock += 3600000;
	tcp_tick(vclock);
	arp_flush(nif);
	inet_mem(&used, &max);
	is_int(used, 0, "13 every buffer is back (%zu of %zu bytes held)", used, max);
	netif_queue_close(q2);
	netif_queue_close(q);
	return done_testing();
}
