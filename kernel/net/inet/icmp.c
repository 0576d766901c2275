/*
 * ICMP (RFC 792, RFC 1122 3.2.2): echo replies, the errors a host sends
 * (protocol and port unreachable, reassembly time exceeded), and the
 * reading of "fragmentation needed" for path MTU discovery (pmtu.c, TCP).
 *
 * Everything sent is rate-limited together: a token bucket of
 * INET_ICMP_BURST filled at INET_ICMP_RATE a second, so a flood of pings
 * or of datagrams to closed ports costs us a bounded amount of output. No
 * error is sent about an ICMP error, a broadcast, a fragment other than
 * the first, or a source that names no single host (RFC 1122 3.2.2).
 * Echo requests to a broadcast address are not answered (3.2.2.6 allows
 * it; smurf amplification is why).
 */
#include <string.h>

#include "inet_internal.h"

#define ICMP_ERR_DATA 64 /* bytes of the offending datagram after its header */

bool icmp_rate_ok(void)
{
	uint64_t now = inet_now_ms();
	bool ok;

	inet_lock();
	if (now > inet_stack->icmp_last_ms) {
		uint64_t add = (now - inet_stack->icmp_last_ms) * INET_ICMP_RATE / 1000;

		if (add) {
			inet_stack->icmp_tokens =
			    (uint32_t)MIN(INET_ICMP_BURST, inet_stack->icmp_tokens + add);
			inet_stack->icmp_last_ms = now;
		}
	}
	ok = inet_stack->icmp_tokens > 0;
	if (ok)
		inet_stack->icmp_tokens--;
	spin_unlock(&inet_stack->lock);
	if (!ok)
		inet_count(INET_MIB_ICMP_OUT_RATELIMITED);
	return ok;
}

static void send_icmp(struct pkb *m, uint32_t saddr, uint32_t daddr)
{
	uint8_t *h = pkb_data(m);

	put16(h + 2, 0);
	put16(h + 2, inet_csum(h, m->len));
	inet_count(INET_MIB_ICMP_OUT);
	atomic_fetch_add_explicit(&inet_stack->icmp_out_type[h[0]], 1, memory_order_relaxed);
	ipv4_output(m, saddr, daddr, IPPROTO_ICMP_, false);
}

static void echo_reply(struct pkb *p)
{
	struct pkb *r;

	inet_count(INET_MIB_ICMP_IN_ECHOS);
	if (p->bcast || !icmp_rate_ok())
		return;
	r = pkb_clone(p);
	if (!r)
		return;
	pkb_data(r)[0] = ICMP_ECHOREPLY;
	pkb_data(r)[1] = 0;
	send_icmp(r, p->daddr, p->saddr);
}

/* An ICMP error's quoted datagram: where the original went and the MTU on the way. */
static void frag_needed(const struct pkb *p)
{
	const uint8_t *h = pkb_data((struct pkb *)p);
	unsigned ihl;
	uint32_t mtu = get16(h + 6);
	struct inet_addr daddr;

	inet_count(INET_MIB_ICMP_IN_FRAG_NEEDED);
	if (p->len < ICMP_HLEN + IPV4_HLEN || h[ICMP_HLEN] >> 4 != 4)
		return;
	ihl = (h[ICMP_HLEN] & 15u) * 4;
	/* Ours: from our address, and with DF (frag-needed is about no other datagram). */
	if (ihl < IPV4_HLEN || p->len < ICMP_HLEN + ihl ||
	    !netif_by_addr(get32(h + ICMP_HLEN + 12)) || !(get16(h + ICMP_HLEN + 6) & IPV4_DF))
		return;
	/*
	 * RFC 1191: an old router says 0; nobody may make us go below 576 (RFC
	 * 791's floor), pmtu.c's and TCP's. A quoted TCP segment must be one
	 * a connection has in flight (it lowers its MSS); then it is noted.
	 */
	daddr = inet_addr_from_v4(get32(h + ICMP_HLEN + 16));
	mtu = inet_pmtu_check(&daddr, mtu, get16(h + ICMP_HLEN + 2));
	if (!mtu)
		return;
	if (h[ICMP_HLEN + 9] == IPPROTO_TCP_ &&
	    (p->len < ICMP_HLEN + ihl + 8 ||
	     !tcp_icmp_error(h[0], h[1], h + ICMP_HLEN, p->len - ICMP_HLEN, mtu)))
		return;
	inet_pmtu_learn(&daddr, mtu);
}

/* Port unreachable quoting a UDP datagram of ours (@q: its IPv4 header on). */
static void udp_unreach(const uint8_t *q, uint32_t qlen)
{
	unsigned ihl = (q[0] & 15u) * 4;
	struct inet_addr la, ra;

	if (ihl < IPV4_HLEN || qlen < ihl + 8)
		return;
	la = inet_addr_from_v4(get32(q + 12));
	ra = inet_addr_from_v4(get32(q + 16));
	udp_icmp_unreach(&la, get16(q + ihl), &ra, get16(q + ihl + 2));
}

void icmp_input(struct netif *nif, struct pkb *p)
{
	const uint8_t *h = pkb_data(p);

	(void)nif;
	inet_count(INET_MIB_ICMP_IN);
	if (p->len < ICMP_HLEN) {
		inet_count(INET_MIB_ICMP_IN_ERRORS);
		goto out;
	}
	if (inet_csum(h, p->len) != 0) {
		inet_count(INET_MIB_ICMP_IN_ERRORS);
		inet_count(INET_MIB_ICMP_IN_CSUM_ERRORS);
		goto out;
	}
	atomic_fetch_add_explicit(&inet_stack->icmp_in_type[h[0]], 1, memory_order_relaxed);
	if (h[0] == ICMP_ECHO && h[1] == 0)
		echo_reply(p);
	else if (h[0] == ICMP_UNREACH && h[1] == ICMP_UNREACH_FRAG)
		frag_needed(p);
	else if (h[0] == ICMP_UNREACH && p->len >= ICMP_HLEN + IPV4_HLEN + 8 &&
		 h[ICMP_HLEN + 9] == IPPROTO_TCP_)
		tcp_icmp_error(h[0], h[1], h + ICMP_HLEN, p->len - ICMP_HLEN, 0);
	else if (h[0] == ICMP_UNREACH && h[1] == ICMP_UNREACH_PORT &&
		 p->len >= ICMP_HLEN + IPV4_HLEN + 8 && h[ICMP_HLEN + 9] == IPPROTO_UDP_)
		udp_unreach(h + ICMP_HLEN, p->len - ICMP_HLEN);
out:
	pkb_free(p);
}

void icmp_error(struct netif *nif, const struct pkb *p, uint8_t type, uint8_t code)
{
	const uint8_t *ip = p->data + p->off - p->ihl;
	uint32_t n = MIN(p->len, ICMP_ERR_DATA);
	struct pkb *m;
	uint8_t *h;

	(void)nif;
	if (p->bcast || (get16(ip + 6) & IPV4_OFFMASK) || p->saddr == 0 || (p->saddr >> 24) >= 224)
		return;
	if (ip[9] == IPPROTO_ICMP_ && p->len >= 1 &&
	    (pkb_data((struct pkb *)p)[0] != ICMP_ECHO &&
	     pkb_data((struct pkb *)p)[0] != ICMP_ECHOREPLY))
		return;
	if (!icmp_rate_ok())
		return;
	m = pkb_alloc(INET_HEADROOM + ICMP_HLEN + p->ihl + n);
	if (!m)
		return;
	m->off = INET_HEADROOM;
	m->len = ICMP_HLEN + p->ihl + n;
	h = pkb_data(m);
	memset(h, 0, ICMP_HLEN);
	h[0] = type;
	h[1] = code;
	memcpy(h + ICMP_HLEN, ip, p->ihl);
	memcpy(h + ICMP_HLEN + p->ihl, pkb_data((struct pkb *)p), n);
	send_icmp(m, p->daddr, p->saddr);
}
