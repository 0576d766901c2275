/*
 * Harness: the frame input path of kernel/net/inet (Ethernet, ARP, IPv4
 * and its reassembly, ICMP, IPv6 and its extension headers, ICMPv6,
 * neighbour discovery, UDP, TCP), the first code to see what any station
 * on the wire sends, and the virtio-net header in front of it on a TAP
 * queue with offloads (vnet.c).
 *
 * Input: one control byte, then records of a 2-byte big-endian length and
 * that many bytes of frame (a record cut short is fed as far as it goes).
 * A length with its top bit set (FUZZ_VNET) is one of length & 0x7fff
 * whose record is a 10-byte virtio-net header and then the frame, fed as
 * a queue with offloads reads it (netif_input_vnet): partial checksums,
 * GSO segments up to 32 KiB.
 *   ctl & 1     the fault injector is on (seeded from ctl), so duplicates,
 *               reordering, corruption and delays mix the frames
 *   ctl >> 1    milliseconds the stack's clock moves between frames (x 64),
 *               with a tick after each, so timers (ARP, reassembly, delay)
 *               run in between
 * The machine is 10.0.0.2/16 and 2001:db8::2/64 with fe80::ff:fe00:2
 * (02:00:00:00:00:02); a UDP socket is bound to port 7 on :: (both
 * families) and drained after each frame.
 *
 * Invariants: every frame the stack sends is at least 60 bytes and at most
 * 14 + MTU, from our MAC; an IPv4 one has a good header checksum and a
 * total length that fits the frame; an IPv6 one is version 6, from one of
 * our addresses, with a hop limit and a payload length that fits the
 * frame; after the input the stack is flushed (neighbours of both
 * families, fragments, held frames) and then holds no buffer at all.
 */
#include <stdbool.h>
#include <string.h>

#include "uml.h"
#include "uml/inet.h"
#include "../../kernel/net/inet/inet_internal.h"
#include "fuzz.h"
#include "../unit/wire.h"

const char fuzz_name[] = "frame";

#define OUR_IP	  0x0a000002u
#define PEER_IP	  0x0a000001u
#define FUZZ_VNET 0x8000u

static const uint8_t our_mac[6] = {2, 0, 0, 0, 0, 2};
static const uint8_t peer_mac[6] = {2, 0, 0, 0, 0, 1};
static struct netif *nif;
static struct netif_queue *q;
static struct udp_sock *sock;
static uint64_t vclock = 1000;

static uint64_t vnow(void)
{
	return vclock;
}

static bool checking; /* once DAD is done */

static int check_out(void *arg, const void *frame, size_t len)
{
	const uint8_t *f = frame;

	(void)arg;
	if (!checking)
		return 0;
	fuzz_check(len >= 60 && len <= 14 + INET_MTU_MAX, "sent a frame of %zu bytes", len);
	fuzz_check(!memcmp(f + 6, our_mac, 6), "sent a frame from another MAC");
	if (get16(f + 12) == ETH_P_IPV4) {
		unsigned ihl = (f[14] & 15u) * 4;

		fuzz_check(f[14] >> 4 == 4 && ihl >= 20 && 14 + ihl <= len,
			   "sent a bad IPv4 header");
		fuzz_check(inet_csum(f + 14, ihl) == 0, "sent a bad IPv4 header checksum");
		fuzz_check(get16(f + 16) <= len - 14, "sent an IPv4 length past the frame");
		fuzz_check(f[22] != 0, "sent TTL 0");
	}
	if (get16(f + 12) == ETH_P_IPV6) {
		struct inet_addr src;

		fuzz_check(len >= 54 && f[14] >> 4 == 6, "sent a bad IPv6 header");
		fuzz_check(54u + get16(f + 18) <= len, "sent an IPv6 length past the frame");
		fuzz_check(f[21] != 0, "sent hop limit 0");
		memcpy(src.a, f + 22, 16);
		fuzz_check(ipv6_is_usable(nif, &src), "sent IPv6 from an address not ours in use");
	}
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct uml_boot_params bp = {.memory = 32 << 20};
	struct netif_config cfg = {.name = "fz0",
				   .addr = OUR_IP,
				   .prefix_len = 16,
				   .addr6 = {{0x20, 0x01, 0x0d, 0xb8, [15] = 2}},
				   .prefix6_len = 64,
				   .gateway6 = {{0xfe, 0x80, [15] = 1}}};
	static const struct inet_addr any;

	(void)argc, (void)argv;
	if (uml_boot(&bp) || inet_init(4u << 20))
		fuzz_fail("no machine");
	inet_clock_set(vnow);
	memcpy(cfg.mac, our_mac, 6);
	if (netif_create(&cfg, &nif) || netif_queue_open_hook(nif, check_out, NULL, &q) ||
	    udp_open(&sock) || udp_bind_in(sock, &any, 7))
		fuzz_fail("no interface");
	/* DAD passes before any input; its NS from :: is not checked. */
	netif_announce(nif);
	vclock += 1000;
	netif_tick(nif);
	checking = true;
	return 0;
}

static void flush(void)
{
	uint8_t buf[64];

	netif_fault_set(nif, NULL);
	arp_flush(nif);
	nd_flush(nif);
	inet_reass_flush(nif);
	while (udp_recvfrom(sock, buf, sizeof(buf), NULL, NULL, 0) >= 0)
		;
}

void fuzz_replay_reset(void)
{
	flush();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t used, max;
	uint8_t buf[64];

	if (size < 1)
		return 0;
	if (data[0] & 1) {
		struct inet_fault_config c = {.seed = data[0],
					      .drop = 500,
					      .dup = 1000,
					      .reorder = 1500,
					      .corrupt = 1000,
					      .delay = 1000,
					      .delay_ms = 200};

		netif_fault_set(nif, &c);
	}
	for (size_t i = 1; i + 2 <= size;) {
		size_t len = (size_t)get16(data + i);
		bool vnet = len & FUZZ_VNET;

		len &= ~(size_t)FUZZ_VNET;
		i += 2;
		if (len > size - i)
			len = size - i;
		if (vnet)
			netif_input_vnet(q, data + i, len);
		else
			netif_input(q, data + i, len);
		i += len;
		vclock += (uint64_t)(data[0] >> 1) * 64;
		netif_tick(nif);
		while (udp_recvfrom(sock, buf, sizeof(buf), NULL, NULL, 0) >= 0)
			;
	}
	flush();
	inet_mem(&used, &max);
	fuzz_check(used == 0, "%zu bytes of buffers held after a flush", used);
	return 0;
}

/* --- seeds --- */

static size_t put_frame(uint8_t *s, const uint8_t *f, size_t len)
{
	put16(s, (uint16_t)len);
	memcpy(s + 2, f, len);
	return len + 2;
}

static size_t ip_frame(uint8_t *f, uint8_t proto, uint16_t id, uint16_t frag, const uint8_t *p,
		       size_t plen)
{
	wire_eth(f, our_mac, peer_mac, ETH_P_IPV4);
	wire_ip4_frag(f + 14, PEER_IP, OUR_IP, proto, plen, id, frag);
	memcpy(f + 34, p, plen);
	return 34 + plen;
}

static size_t echo(uint8_t *m, size_t dlen)
{
	memset(m, 0, 8 + dlen);
	m[0] = 8;
	put16(m + 4, 1);
	put16(m + 6, 1);
	for (size_t i = 0; i < dlen; i++)
		m[8 + i] = (uint8_t)i;
	put16(m + 2, inet_csum(m, 8 + dlen));
	return 8 + dlen;
}

static size_t udp(uint8_t *u, uint16_t dport, const char *msg)
{
	size_t n = 8 + strlen(msg);

	put16(u, 5000);
	put16(u + 2, dport);
	put16(u + 4, (uint16_t)n);
	put16(u + 6, 0);
	memcpy(u + 8, msg, n - 8);
	put16(u + 6, inet_csum_fold(
			 inet_csum_add(inet_csum_pseudo(PEER_IP, OUR_IP, 17, (uint32_t)n), u, n)));
	return n;
}

/* A frame from the peer's link-local (or global when @global) address to ours, @nh first. */
static size_t ip6_frame(uint8_t *f, const uint8_t *dmac, uint8_t hops, bool global, uint8_t nh,
			const uint8_t *p, size_t plen, uint8_t csum_at)
{
	static const uint8_t peer_ll[16] = {0xfe, 0x80, [15] = 1};
	static const uint8_t our_ll[16] = {0xfe, 0x80, [11] = 0xff, [12] = 0xfe, [15] = 2};
	static const uint8_t peer_gl[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
	static const uint8_t our_gl[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 2};
	struct inet_addr s, d;

	memcpy(f, dmac, 6);
	memcpy(f + 6, peer_mac, 6);
	put16(f + 12, ETH_P_IPV6);
	memset(f + 14, 0, 40);
	f[14] = 0x60;
	put16(f + 18, (uint16_t)plen);
	f[20] = nh;
	f[21] = hops;
	memcpy(f + 22, global ? peer_gl : peer_ll, 16);
	memcpy(f + 38, global ? our_gl : our_ll, 16);
	memcpy(f + 54, p, plen);
	/* The transport's checksum, where it is (0: none to fill in). */
	if (csum_at) {
		memcpy(s.a, f + 22, 16);
		memcpy(d.a, f + 38, 16);
		put16(f + 54 + csum_at, 0);
		put16(f + 54 + csum_at,
		      inet_csum_fold(inet_csum_add(
			  inet_csum_pseudo6(&s, &d, nh == 0 ? 58 : nh, (uint32_t)plen), f + 54,
			  plen)));
	}
	return 54 + plen;
}

/* A record of virtio-net header @h and frame @f. */
static size_t put_vnet(uint8_t *s, const struct vnet_hdr *h, const uint8_t *f, size_t len)
{
	put16(s, (uint16_t)(FUZZ_VNET | (VNET_HLEN + len)));
	netif_vnet_put(s + 2, h);
	memcpy(s + 2 + VNET_HLEN, f, len);
	return 2 + VNET_HLEN + len;
}

/* A TCP segment from the peer's port 5000 to @dport: @plen bytes, its checksum partial. */
static size_t tcp_partial(uint8_t *t, uint16_t dport, size_t plen)
{
	memset(t, 0, 20);
	put16(t, 5000);
	put16(t + 2, dport);
	put32(t + 4, 1);
	t[12] = 5 << 4;
	t[13] = 0x18;
	put16(t + 14, 65535);
	for (size_t i = 0; i < plen; i++)
		t[20 + i] = (uint8_t)i;
	put16(t + 16, (uint16_t)~inet_csum_fold(
			  inet_csum_pseudo(PEER_IP, OUR_IP, 6, (uint32_t)(20 + plen))));
	return 20 + plen;
}

int fuzz_make_seeds(const char *dir)
{
	static uint8_t s[16384], f[8192], m[8192];
	size_t n, len, e;
	int err = 0;

	/* ARP, then an echo. */
	s[0] = 2;
	n = 1 + put_frame(s + 1, f, wire_arp(f, ether_bcast, 1, peer_mac, PEER_IP, NULL, OUR_IP));
	len = echo(m, 56);
	n += put_frame(s + n, f, ip_frame(f, 1, 1, 0, m, len));
	err |= fuzz_write_seed(dir, "arp-then-echo", s, n);

	/* A 3000-byte echo in three fragments, out of order, faults on. */
	s[0] = 3;
	n = 1 + put_frame(s + 1, f, wire_arp(f, ether_bcast, 1, peer_mac, PEER_IP, NULL, OUR_IP));
	e = echo(m, 2992);
	n += put_frame(s + n, f, ip_frame(f, 1, 9, 370, m + 2960, e - 2960));
	n += put_frame(s + n, f, ip_frame(f, 1, 9, 0x2000, m, 1480));
	n += put_frame(s + n, f, ip_frame(f, 1, 9, 0x2000 | 185, m + 1480, 1480));
	err |= fuzz_write_seed(dir, "echo-fragments-faults", s, n);

	/* The same with an overlap, no faults, a slow clock. */
	s[0] = 200;
	n = 1 + put_frame(s + 1, f, ip_frame(f, 1, 10, 0x2000, m, 1480));
	n += put_frame(s + n, f, ip_frame(f, 1, 10, 0x2000 | 184, m + 1472, 1488));
	n += put_frame(s + n, f, ip_frame(f, 1, 10, 370, m + 2960, e - 2960));
	err |= fuzz_write_seed(dir, "fragments-overlap", s, n);

	/* UDP to the bound port and to a closed one. */
	s[0] = 4;
	n = 1 + put_frame(s + 1, f, wire_arp(f, ether_bcast, 1, peer_mac, PEER_IP, NULL, OUR_IP));
	len = udp(m, 7, "hello");
	n += put_frame(s + n, f, ip_frame(f, 17, 11, 0, m, len));
	len = udp(m, 9, "closed");
	n += put_frame(s + n, f, ip_frame(f, 17, 12, 0, m, len));
	err |= fuzz_write_seed(dir, "udp-open-and-closed", s, n);

	/* IPv6: an NS for our link-local address (to its group), an echo, UDP to 7. */
	{
		static const uint8_t sn_mac[6] = {0x33, 0x33, 0xff, 0, 0, 2};
		uint8_t ns[32] = {135, [8] = 0xfe, 0x80, [19] = 0xff, 0xfe, [23] = 2, [24] = 1, 1};

		memcpy(ns + 26, peer_mac, 6);
		s[0] = 6;
		n = 1 + put_frame(s + 1, f, ip6_frame(f, sn_mac, 255, false, 58, ns, 32, 2));
		len = echo(m, 56);
		m[0] = 128;
		n += put_frame(s + n, f, ip6_frame(f, our_mac, 64, false, 58, m, len, 2));
		len = udp(m, 7, "hello six");
		n += put_frame(s + n, f, ip6_frame(f, our_mac, 64, true, 17, m, len, 6));
		err |= fuzz_write_seed(dir, "ipv6-ns-echo-udp", s, n);
	}

	/* IPv6 extension headers: hop-by-hop PadN, then destination options, then an echo. */
	{
		uint8_t x[96] = {60, 0, 1, 4, [8] = 58, 0, 1, 4};
		struct inet_addr sa = {{0xfe, 0x80, [15] = 1}},
				 da = {{0xfe, 0x80, [11] = 0xff, [12] = 0xfe, [15] = 2}};

		len = echo(m, 40);
		m[0] = 128;
		put16(m + 2, 0);
		put16(m + 2, inet_csum_fold(inet_csum_add(
				 inet_csum_pseudo6(&sa, &da, 58, (uint32_t)len), m, len)));
		memcpy(x + 16, m, len);
		s[0] = 8;
		n = 1 + put_frame(s + 1, f, ip6_frame(f, our_mac, 64, false, 0, x, 16 + len, 0));
		err |= fuzz_write_seed(dir, "ipv6-extension-headers", s, n);
	}

	/* Behind virtio-net headers: UDP with a partial checksum, a GSO TCP segment. */
	s[0] = 4;
	n = 1 + put_frame(s + 1, f, wire_arp(f, ether_bcast, 1, peer_mac, PEER_IP, NULL, OUR_IP));
	len = udp(m, 7, "partial");
	put16(m + 6,
	      (uint16_t)~inet_csum_fold(inet_csum_pseudo(PEER_IP, OUR_IP, 17, (uint32_t)len)));
	n += put_vnet(s + n, &(struct vnet_hdr){VNET_F_NEEDS_CSUM, VNET_GSO_NONE, 0, 0, 34, 6}, f,
		      ip_frame(f, 17, 13, 0, m, len));
	len = tcp_partial(m, 80, 4000);
	n +=
	    put_vnet(s + n, &(struct vnet_hdr){VNET_F_NEEDS_CSUM, VNET_GSO_TCPV4, 54, 1448, 34, 16},
		     f, ip_frame(f, 6, 14, IPV4_DF, m, len));
	err |= fuzz_write_seed(dir, "vnet-partial-and-gso", s, n);
	return err;
}
