/*
 * Zones of IPv6 link-local addresses (RFC 4007) on a machine with two
 * interfaces, through libuml's sockets: the same peer address fe80::1 is a
 * host on each link (02:00:00:00:00:a1 on za, 02:00:00:00:00:b1 on zb), so
 * only sin6_scope_id says which is meant. The machine is 02:00:00:00:00:0a
 * on za (index 1) and 02:00:00:00:00:0b on zb (index 2); frames go in
 * through netif_input and each interface's hook queue keeps what leaves by
 * it. Time is a virtual clock.
 *  1     uml_net_if_index: za 1, zb 2, an unknown name -ENOENT
 *  2     UDP to fe80::1 with no zone: -EINVAL (which link?); zone 3: -ENODEV;
 *        zone 2: the datagram leaves by zb alone, from zb's link-local
 *        address to zb's fe80::1; 3 zone 1: by za alone
 *  4     a datagram from fe80::1 that came by zb is received with zone 2,
 *        one that came by za with zone 1
 *  5     a SYN from fe80::1 by zb to a listener on [::]:80 is answered by
 *        zb (the SYN-ACK from zb's address), the connection accepted names
 *        fe80::1 zone 2 and getsockname zb's address zone 2; data back by
 *        zb too: a connection stays in its zone
 *  6     connect to fe80::1 zone 1: the SYN leaves by za from za's address;
 *        getpeername says zone 1
 *  7     bind to za's link-local address with zone 2: -EINVAL; zone 1 and 0
 *        bind
 *  8     a UDP socket connected to fe80::1 zone 2 sends by zb and
 *        getpeername says zone 2; with no zone: -EINVAL
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "capture.h"
#include "tap.h"
#include "uml.h"
#include "uml/inet.h"
#include "wire.h"
#include "../../kernel/net/inet/tcp.h"

static const uint8_t mac_a[6] = {2, 0, 0, 0, 0, 0x0a}, mac_b[6] = {2, 0, 0, 0, 0, 0x0b};
static const uint8_t peer_a[6] = {2, 0, 0, 0, 0, 0xa1}, peer_b[6] = {2, 0, 0, 0, 0, 0xb1};
static const struct inet_addr peer_ll = {{0xfe, 0x80, [15] = 1}};
static struct inet_addr ll_a, ll_b; /* ours, from the MACs */
static struct netif *za, *zb;
static struct netif_queue *qa, *qb;

/* What left by each interface since the last step. */
static struct {
	uint8_t b[CAP_FRAME];
	size_t len;
	int on; /* 1: za, 2: zb */
} sent[64];
static int nsent;

static int hook(void *arg, const void *frame, size_t len)
{
	if (nsent < (int)(sizeof(sent) / sizeof(sent[0])) && len <= CAP_FRAME) {
		memcpy(sent[nsent].b, frame, len);
		sent[nsent].len = len;
		sent[nsent++].on = (int)(intptr_t)arg;
	}
	return 0;
}

static void later(uint64_t ms)
{
	vclock += ms;
	nsent = 0;
}

/* How many frames left by interface @on, and whether all of them are IPv6 from @src. */
static int by(int on, const struct inet_addr *src, bool *all_from)
{
	int n = 0;

	*all_from = true;
	for (int i = 0; i < nsent; i++) {
		if (sent[i].on != on)
			continue;
		n++;
		if (get16(sent[i].b + 12) != ETH_P_IPV6 || memcmp(sent[i].b + 14 + 8, src, 16))
			*all_from = false;
	}
	return n;
}

/* The last frame by @on that carries @proto, its IPv6 header at *@h: its index, or -1. */
static int last(int on, uint8_t proto, const uint8_t **h)
{
	for (int i = nsent - 1; i >= 0; i--)
		if (sent[i].on == on && get16(sent[i].b + 12) == ETH_P_IPV6 &&
		    sent[i].b[14 + 6] == proto) {
			*h = sent[i].b + 14;
			return i;
		}
	return -1;
}

static struct netif_queue *q_of(int on)
{
	return on == 1 ? qa : qb;
}

/* Frame @f (an IPv6 packet behind Ethernet) from the peer on interface @on. */
static void feed(int on, uint8_t *f, size_t len)
{
	netif_input(q_of(on), f, len);
}

/* A unicast NS from fe80::1 for our address on @on: caches the peer's MAC there. */
static void introduce(int on)
{
	const struct inet_addr *ours = on == 1 ? &ll_a : &ll_b;
	uint8_t f[128], *m = f + 14 + 40;

	wire_eth(f, on == 1 ? mac_a : mac_b, on == 1 ? peer_a : peer_b, ETH_P_IPV6);
	memset(m, 0, 32);
	m[0] = 135; /* neighbour solicitation */
	memcpy(m + 8, ours->a, 16);
	m[24] = 1; /* source link-layer address */
	m[25] = 1;
	memcpy(m + 26, on == 1 ? peer_a : peer_b, 6);
	put16(m + 2,
	      inet_csum_fold(inet_csum_add(inet_csum_pseudo6(&peer_ll, ours, 58, 32), m, 32)));
	wire_ip6(f + 14, &peer_ll, ours, 58, 255, 32);
	feed(on, f, 14 + 40 + 32);
}

static struct sockaddr_in6 sin6(const struct inet_addr *a, uint16_t port, uint32_t scope)
{
	struct sockaddr_in6 s = {.sin6_family = AF_INET6, .sin6_port = htons(port)};

	memcpy(&s.sin6_addr, a->a, 16);
	s.sin6_scope_id = scope;
	return s;
}

static void test_index(void)
{
	ok(uml_net_if_index("za") == 1 && uml_net_if_index("zb") == 2 &&
	       uml_net_if_index("zz") == -ENOENT,
	   "1 uml_net_if_index: za 1, zb 2, an unknown name -ENOENT");
}

static void test_udp_out(void)
{
	int fd = uml_socket(AF_INET6, SOCK_DGRAM, 0);
	struct sockaddr_in6 none = sin6(&peer_ll, 7000, 0), three = sin6(&peer_ll, 7000, 3);
	struct sockaddr_in6 two = sin6(&peer_ll, 7000, 2), one = sin6(&peer_ll, 7000, 1);
	ssize_t r0, r3, r2, r1;
	int na, nb, na1, nb1;
	bool fa, fb, fa1, fb1;
	const uint8_t *h;

	later(0);
	r0 = uml_sendto(fd, "x", 1, 0, (struct sockaddr *)&none, sizeof(none));
	r3 = uml_sendto(fd, "x", 1, 0, (struct sockaddr *)&three, sizeof(three));
	r2 = uml_sendto(fd, "zb", 2, 0, (struct sockaddr *)&two, sizeof(two));
	na = by(1, &ll_a, &fa);
	nb = by(2, &ll_b, &fb);
	ok(r0 == -EINVAL && r3 == -ENODEV && r2 == 2 && na == 0 && nb == 1 && fb &&
	       last(2, IPPROTO_UDP, &h) >= 0 && !memcmp(h + 24, &peer_ll, 16) &&
	       !memcmp(h + 40 + 8, "zb", 2),
	   "2 UDP to fe80::1: no zone %zd, zone 3 %zd; zone 2 sent (%zd) by zb alone (%d by za, "
	   "%d by zb), from zb's address",
	   r0, r3, r2, na, nb);
	later(0);
	r1 = uml_sendto(fd, "za", 2, 0, (struct sockaddr *)&one, sizeof(one));
	na1 = by(1, &ll_a, &fa1);
	nb1 = by(2, &ll_b, &fb1);
	ok(r1 == 2 && na1 == 1 && fa1 && nb1 == 0,
	   "3 zone 1: by za alone (%d by za, %d by zb), from za's address", na1, nb1);
	uml_close(fd);
}

/* A datagram from fe80::1:7000 to our address on @on, port @port, carrying @msg. */
static void udp_in(int on, uint16_t port, const char *msg)
{
	const struct inet_addr *ours = on == 1 ? &ll_a : &ll_b;
	uint8_t f[256], *u = f + 14 + 40;
	size_t n = strlen(msg);

	wire_eth(f, on == 1 ? mac_a : mac_b, on == 1 ? peer_a : peer_b, ETH_P_IPV6);
	put16(u, 7000);
	put16(u + 2, port);
	put16(u + 4, (uint16_t)(8 + n));
	put16(u + 6, 0);
	memcpy(u + 8, msg, n);
	put16(u + 6,
	      inet_csum_fold(inet_csum_add(
		  inet_csum_pseudo6(&peer_ll, ours, IPPROTO_UDP, (uint32_t)(8 + n)), u, 8 + n)));
	wire_ip6(f + 14, &peer_ll, ours, IPPROTO_UDP, 64, 8 + n);
	feed(on, f, 14 + 40 + 8 + n);
}

static void test_udp_in(void)
{
	int fd = uml_socket(AF_INET6, SOCK_DGRAM, UML_SOCK_NONBLOCK);
	struct sockaddr_in6 any = sin6(&(struct inet_addr){{0}}, 7001, 0), from[2];
	unsigned len[2] = {sizeof(from[0]), sizeof(from[1])};
	char b[2][8];
	ssize_t n[2];

	uml_bind(fd, (struct sockaddr *)&any, sizeof(any));
	udp_in(2, 7001, "by b");
	udp_in(1, 7001, "by a");
	n[0] = uml_recvfrom(fd, b[0], sizeof(b[0]), 0, (struct sockaddr *)&from[0], &len[0]);
	n[1] = uml_recvfrom(fd, b[1], sizeof(b[1]), 0, (struct sockaddr *)&from[1], &len[1]);
	ok(n[0] == 4 && !memcmp(b[0], "by b", 4) && from[0].sin6_scope_id == 2 && n[1] == 4 &&
	       !memcmp(b[1], "by a", 4) && from[1].sin6_scope_id == 1 &&
	       !memcmp(&from[0].sin6_addr, &peer_ll, 16),
	   "4 fe80::1's datagram by zb is received with zone %u, by za with zone %u",
	   from[0].sin6_scope_id, from[1].sin6_scope_id);
	uml_close(fd);
}

/* A TCP segment from fe80::1 by @on to our address there. */
static void tcp_in(int on, const struct wire_tcp *s)
{
	const struct inet_addr *ours = on == 1 ? &ll_a : &ll_b;
	uint8_t f[256];

	feed(on, f,
	     wire_tcp6_frame(f, on == 1 ? mac_a : mac_b, on == 1 ? peer_a : peer_b, &peer_ll, ours,
			     s));
}

static void test_tcp_passive(void)
{
	int l = uml_socket(AF_INET6, SOCK_STREAM, UML_SOCK_NONBLOCK), c;
	struct sockaddr_in6 any = sin6(&(struct inet_addr){{0}}, 80, 0), peer, name;
	unsigned plen = sizeof(peer), nlen = sizeof(name);
	const uint8_t *h = NULL;
	uint32_t iss = 0;
	int na, nb, synack, na2, nb2;
	bool fa, fb, fa2, fb2;

	uml_bind(l, (struct sockaddr *)&any, sizeof(any));
	uml_listen(l, 8);
	later(0);
	tcp_in(2, &(struct wire_tcp){
		      .sport = 5000, .dport = 80, .seq = 100, .flags = TCP_SYN, .win = 65535});
	na = by(1, &ll_a, &fa);
	nb = by(2, &ll_b, &fb);
	synack = last(2, IPPROTO_TCP, &h) >= 0 && h[40 + 13] == (TCP_SYN | TCP_ACK) &&
		 get32(h + 40 + 8) == 101;
	if (synack)
		iss = get32(h + 40 + 4);
	tcp_in(2, &(struct wire_tcp){.sport = 5000,
				     .dport = 80,
				     .seq = 101,
				     .ack = iss + 1,
				     .flags = TCP_ACK,
				     .win = 65535});
	c = uml_accept(l, (struct sockaddr *)&peer, &plen, 0);
	uml_getsockname(c, (struct sockaddr *)&name, &nlen);
	later(0);
	uml_send(c, "back", 4, 0);
	na2 = by(1, &ll_a, &fa2);
	nb2 = by(2, &ll_b, &fb2);
	ok(synack && na == 0 && nb == 1 && fb && c >= 0 && !memcmp(&peer.sin6_addr, &peer_ll, 16) &&
	       peer.sin6_scope_id == 2 && !memcmp(&name.sin6_addr, &ll_b, 16) &&
	       name.sin6_scope_id == 2 && na2 == 0 && nb2 == 1 && fb2,
	   "5 a SYN by zb: SYN-ACK by zb (%d by za, %d by zb); accepted fe80::1 zone %u, ours zone "
	   "%u; data back by zb (%d by za, %d by zb)",
	   na, nb, peer.sin6_scope_id, name.sin6_scope_id, na2, nb2);
	uml_close(c);
	uml_close(l);
}

static void test_tcp_active(void)
{
	int fd = uml_socket(AF_INET6, SOCK_STREAM, UML_SOCK_NONBLOCK);
	struct sockaddr_in6 one = sin6(&peer_ll, 81, 1), peer;
	unsigned plen = sizeof(peer);
	const uint8_t *h = NULL;
	int rc, na, nb, syn;
	bool fa, fb;

	later(0);
	rc = uml_connect(fd, (struct sockaddr *)&one, sizeof(one), 0);
	na = by(1, &ll_a, &fa);
	nb = by(2, &ll_b, &fb);
	syn = last(1, IPPROTO_TCP, &h) >= 0 && h[40 + 13] == TCP_SYN;
	if (syn)
		tcp_in(1, &(struct wire_tcp){.sport = 81,
					     .dport = get16(h + 40),
					     .seq = 7000,
					     .ack = get32(h + 40 + 4) + 1,
					     .flags = TCP_SYN | TCP_ACK,
					     .win = 65535});
	uml_getpeername(fd, (struct sockaddr *)&peer, &plen);
	ok(rc == -EINPROGRESS && syn && na == 1 && fa && nb == 0 && peer.sin6_scope_id == 1 &&
	       !memcmp(&peer.sin6_addr, &peer_ll, 16),
	   "6 connect to fe80::1 zone 1: the SYN by za from its address (%d by za, %d by zb); "
	   "getpeername zone %u",
	   na, nb, peer.sin6_scope_id);
	uml_close(fd);
}

static void test_bind(void)
{
	int a = uml_socket(AF_INET6, SOCK_DGRAM, 0), b = uml_socket(AF_INET6, SOCK_DGRAM, 0);
	int c = uml_socket(AF_INET6, SOCK_DGRAM, 0);
	struct sockaddr_in6 wrong = sin6(&ll_a, 0, 2), right = sin6(&ll_a, 0, 1);
	struct sockaddr_in6 bare = sin6(&ll_a, 0, 0);
	int r2 = uml_bind(a, (struct sockaddr *)&wrong, sizeof(wrong));
	int r1 = uml_bind(b, (struct sockaddr *)&right, sizeof(right));
	int r0 = uml_bind(c, (struct sockaddr *)&bare, sizeof(bare));

	ok(r2 == -EINVAL && r1 == 0 && r0 == 0,
	   "7 bind to za's link-local address: zone 2 %d, zone 1 %d, none %d", r2, r1, r0);
	uml_close(a);
	uml_close(b);
	uml_close(c);
}

static void test_udp_connected(void)
{
	int fd = uml_socket(AF_INET6, SOCK_DGRAM, 0), bare = uml_socket(AF_INET6, SOCK_DGRAM, 0);
	struct sockaddr_in6 two = sin6(&peer_ll, 7002, 2), none = sin6(&peer_ll, 7002, 0), peer;
	unsigned plen = sizeof(peer);
	int rc, r0, na, nb;
	ssize_t n;
	bool fa, fb;

	rc = uml_connect(fd, (struct sockaddr *)&two, sizeof(two), 0);
	r0 = uml_connect(bare, (struct sockaddr *)&none, sizeof(none), 0);
	later(0);
	n = uml_send(fd, "c", 1, 0);
	na = by(1, &ll_a, &fa);
	nb = by(2, &ll_b, &fb);
	uml_getpeername(fd, (struct sockaddr *)&peer, &plen);
	ok(rc == 0 && r0 == -EINVAL && n == 1 && na == 0 && nb == 1 && fb &&
	       peer.sin6_scope_id == 2,
	   "8 UDP connected to fe80::1 zone 2: sent by zb (%d by za, %d by zb), getpeername zone "
	   "%u; with no zone %d",
	   na, nb, peer.sin6_scope_id, r0);
	uml_close(fd);
	uml_close(bare);
}

int main(void)
{
	struct netif_config a = {.name = "za", .addr = 0x0a010002u, .prefix_len = 24, .mtu = 1500};
	struct netif_config b = {.name = "zb", .addr = 0x0a020002u, .prefix_len = 24, .mtu = 1500};

	plan(8);
	capture_boot(4u << 20);
	memcpy(a.mac, mac_a, 6);
	memcpy(b.mac, mac_b, 6);
	if (netif_create(&a, &za) || netif_create(&b, &zb) ||
	    netif_queue_open_hook(za, hook, (void *)1, &qa) ||
	    netif_queue_open_hook(zb, hook, (void *)2, &qb))
		bail_out("no interfaces");
	netif_addr6_ll(za, &ll_a);
	netif_addr6_ll(zb, &ll_b);
	/* DAD of the link-local addresses: a second, then in use. */
	netif_announce(za);
	netif_announce(zb);
	later(1500);
	netif_tick(za);
	netif_tick(zb);
	introduce(1);
	introduce(2);
	test_index();
	test_udp_out();
	test_udp_in();
	test_tcp_passive();
	test_tcp_active();
	test_bind();
	test_udp_connected();
	return done_testing();
}
