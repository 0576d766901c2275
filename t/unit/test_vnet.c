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
 *  5     GSO of IPv6 and UDP, which we do not take: dropped, counted
 *  6     headers shorter than 10 bytes, and frames longer than 64 KiB: errors
 *  7     a UDP datagram with a partial checksum is finished and delivered
 *  8     a connection: one GSO segment of 60000 bytes in order is taken
 *        whole (one frame, rx_gso 1), read back intact, and ACKed at once
 *  9     every buffer is back in the end
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "uml.h"
#include "uml/inet.h"
#include "../../kernel/net/inet/inet_internal.h"

#define PEER_IP	 0x0a000001u
#define OUR_IP	 0x0a000002u
#define MAXF	 64
#define FRAME_SZ 2048
#define BIG	 60000

static const uint8_t peer_mac[6] = {2, 0, 0, 0, 0, 1};
static const uint8_t our_mac[6] = {2, 0, 0, 0, 0, 2};
static struct netif *nif;
static struct netif_queue *q;
static uint64_t vclock = 1000000;

static struct {
	uint8_t b[FRAME_SZ];
	size_t len;
} out[MAXF];
static int nout;

static uint64_t vnow(void)
{
	return vclock;
}

static int capture(void *arg, const void *frame, size_t len)
{
	(void)arg;
	if (nout < MAXF && len <= FRAME_SZ) {
		memcpy(out[nout].b, frame, len);
		out[nout++].len = len;
	}
	return 0;
}

/* The header's 10 bytes, fields in the host's order, in front of the frame at @b + 10. */
static void vhdr(uint8_t *b, uint8_t flags, uint8_t gso_type, uint16_t hdr_len, uint16_t gso_size,
		 uint16_t csum_start, uint16_t csum_offset)
{
	struct vnet_hdr h = {flags, gso_type, hdr_len, gso_size, csum_start, csum_offset};

	netif_vnet_put(b, &h);
}

/*
 * At @f: Ethernet, IPv4 and a TCP header (no options) from the peer's
 * @sport to our @dport, @plen bytes of payload (i % 251); its checksum
 * partial (the pseudo-header's sum) or whole. The frame's length.
 */
static size_t tcp_frame(uint8_t *f, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
			uint8_t flags, size_t plen, bool partial)
{
	uint8_t *ip = f + 14, *t = ip + 20;
	uint32_t tl = (uint32_t)(20 + plen);
	uint64_t pseudo = inet_csum_pseudo(PEER_IP, OUR_IP, IPPROTO_TCP_, tl);

	memcpy(f, our_mac, 6);
	memcpy(f + 6, peer_mac, 6);
	put16(f + 12, ETH_P_IPV4);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + tl));
	ip[8] = 64;
	ip[9] = IPPROTO_TCP_;
	put32(ip + 12, PEER_IP);
	put32(ip + 16, OUR_IP);
	put16(ip + 10, inet_csum(ip, 20));
	memset(t, 0, 20);
	put16(t, sport);
	put16(t + 2, dport);
	put32(t + 4, seq);
	put32(t + 8, ack);
	t[12] = 5 << 4;
	t[13] = flags;
	put16(t + 14, 65535);
	for (size_t i = 0; i < plen; i++)
		t[20 + i] = (uint8_t)(i % 251);
	put16(t + 16, partial ? (uint16_t)~inet_csum_fold(pseudo)
			      : inet_csum_fold(inet_csum_add(pseudo, t, tl)));
	return 14 + 20 + tl;
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
	uint64_t d0 = st(1), e0 = st(0);
	size_t n = tcp_frame(buf + 10, 2000, 80, 1, 0, 0x10, 3000, true);

	vhdr(buf, VNET_F_NEEDS_CSUM, VNET_GSO_TCPV6, 74, 1428, 54, 16);
	netif_input_vnet(q, buf, 10 + n);
	vhdr(buf, VNET_F_NEEDS_CSUM, VNET_GSO_UDP, 42, 1472, 34, 6);
	netif_input_vnet(q, buf, 10 + n);
	vhdr(buf, VNET_F_NEEDS_CSUM, VNET_GSO_UDP_L4, 42, 1472, 34, 6);
	netif_input_vnet(q, buf, 10 + n);
	ok(st(1) == d0 + 3 && st(0) == e0, "5 GSO of IPv6 and UDP: dropped as not ours, counted");

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

int main(void)
{
	struct uml_boot_params bp = {.memory = 32 << 20};
	struct netif_config cfg = {.name = "v0", .addr = OUR_IP, .prefix_len = 16};
	struct tcp_sock *l;
	size_t used, max;

	plan(9);
	if (uml_boot(&bp))
		bail_out("uml_boot failed");
	inet_clock_set(vnow);
	if (inet_init(2u << 20))
		bail_out("inet_init failed");
	memcpy(cfg.mac, our_mac, 6);
	if (netif_create(&cfg, &nif) || netif_queue_open_hook(nif, capture, NULL, &q))
		bail_out("no interface");
	if (tcp_open(&l) || tcp_bind(l, 0, 80) || tcp_listen(l, 8))
		bail_out("no listener");
	/* The peer's MAC is known, so replies go at once. */
	{
		static uint8_t f[60];
		uint8_t *a = f + 14;

		memcpy(f, ether_bcast, 6);
		memcpy(f + 6, peer_mac, 6);
		put16(f + 12, ETH_P_ARP);
		put16(a, 1);
		put16(a + 2, ETH_P_IPV4);
		a[4] = 6;
		a[5] = 4;
		put16(a + 6, 1);
		memcpy(a + 8, peer_mac, 6);
		put32(a + 14, PEER_IP);
		put32(a + 24, OUR_IP);
		netif_input(q, f, sizeof(f));
	}

	test_csum();
	test_hostile();
	test_refused();
	test_udp_partial();
	test_gso(l);

	tcp_close(l);
	vclock += 3600000;
	tcp_tick(vclock);
	arp_flush(nif);
	inet_mem(&used, &max);
	is_int(used, 0, "9 every buffer is back (%zu of %zu bytes held)", used, max);
	netif_queue_close(q);
	return done_testing();
}
