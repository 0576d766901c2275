/*
 * SYN cookies: when a listener's half-open slots are full, its SYN-ACK
 * carries everything the connection needs in the initial sequence number
 * and nothing is kept; the ACK that completes the handshake gives it back
 * in its acknowledgment number.
 *
 *   bits 31..27  a counter of 64-second periods (the cookie's age)
 *   bits 26..24  an index into mss_table: the peer's MSS, rounded down
 *   bits 23..0   SipHash-2-4 under the stack's secret of the four
 *                addresses, the peer's ISN, the period and the index
 *
 * A cookie is good for the period it was made in and the next (64 to 128
 * seconds), and forging one takes 2^24 guesses per four-tuple and period.
 * When the SYN offered timestamps, the SYN-ACK's TSval carries the SYN's
 * window scale and SACK permission in its low 6 bits and the ACK echoes
 * them; without timestamps the connection goes without all three. Those
 * bits are not under the MAC: a peer that alters them alters only its
 * own connection's options.
 */
#include "uml/siphash.h"
#include "tcp.h"

#define COOKIE_PERIOD_MS 64000u

static const uint16_t mss_table[8] = {216, 536, 1024, 1220, 1360, 1400, 1440, 1460};

static uint32_t cookie_hash(const struct inet_addr *laddr, uint16_t lport,
			    const struct inet_addr *raddr, uint16_t rport, uint32_t seq,
			    uint32_t period, uint32_t idx)
{
	uint32_t k[12] = {[8] = (uint32_t)lport << 16 | rport, seq, period, idx};

	memcpy(k, laddr->a, 16);
	memcpy(k + 4, raddr->a, 16);
	return (uint32_t)siphash24(inet_stack->tcp_secret, k, sizeof(k)) & 0xffffffu;
}

uint32_t tcp_cookie_make(const struct inet_addr *laddr, uint16_t lport,
			 const struct inet_addr *raddr, uint16_t rport, uint32_t seq, uint16_t *mss)
{
	uint32_t period = (uint32_t)(inet_now_ms() / COOKIE_PERIOD_MS) & 31u, idx = 0;

	for (uint32_t i = 0; i < 8; i++)
		if (mss_table[i] <= *mss)
			idx = i;
	*mss = mss_table[idx];
	return period << 27 | idx << 24 | cookie_hash(laddr, lport, raddr, rport, seq, period, idx);
}

uint16_t tcp_cookie_check(const struct inet_addr *laddr, uint16_t lport,
			  const struct inet_addr *raddr, uint16_t rport, uint32_t seq,
			  uint32_t cookie)
{
	uint32_t now = (uint32_t)(inet_now_ms() / COOKIE_PERIOD_MS) & 31u;
	uint32_t period = cookie >> 27, idx = (cookie >> 24) & 7u;

	if (((now - period) & 31u) > 1)
		return 0;
	if (cookie_hash(laddr, lport, raddr, rport, seq, period, idx) != (cookie & 0xffffffu))
		return 0;
	return mss_table[idx];
}

uint32_t tcp_cookie_tsval(uint32_t ts_now, bool ws, uint8_t wscale, bool sack)
{
	uint32_t bits = (ws ? MIN(wscale, TCP_WSCALE_MAX) : 15u) | (sack ? 16u : 0u) | 32u;

	return ((ts_now & ~63u) - 64u) | bits;
}

void tcp_cookie_ts_decode(uint32_t tsecr, bool *ws, uint8_t *wscale, bool *sack)
{
	*ws = (tsecr & 15u) != 15u;
	*wscale = *ws ? (uint8_t)(tsecr & 15u) : 0;
	*sack = (tsecr & 16u) != 0;
}
