/*
 * The stack as a reader of Linux's /proc/net expects it: the TCP tables of
 * /proc/net/tcp and /proc/net/tcp6, the counter pairs of /proc/net/snmp and
 * /proc/net/netstat (TcpExt) and the counter lines of /proc/net/snmp6, so that tools and
 * habits made for Linux (awk on the st column, nstat-like pairing of the
 * name and value lines) read the machine's own stack too.
 *
 * Linux's numbers are kept where a reader compares them: state numbers
 * (include/net/tcp_states.h), addresses as Linux prints its __be32 (the
 * network-order word printed as the host's integer: 10.0.0.2 is 0200000A
 * on little-endian x86; tcp6 prints four of them), times in clock ticks of
 * 1/100 s (USER_HZ), tcp's lines padded to 149 characters (tcp6's are not).
 * A socket of an IPv4 address (v4-mapped, or every IPv4 address) is a row
 * of tcp, every other one (IPv6, or :: -- both families) of tcp6. Fields this stack does not keep
 * are left out of snmp's lines rather than printed as a 0 that would claim a count.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tcp.h"

/* Linux's TCP state numbers, indexed by enum tcp_state. */
static const unsigned linux_state[] = {
    [TCP_CLOSED] = 7,	   [TCP_LISTEN] = 10,	 [TCP_SYN_SENT] = 2,   [TCP_SYN_RECEIVED] = 3,
    [TCP_ESTABLISHED] = 1, [TCP_FIN_WAIT_1] = 4, [TCP_FIN_WAIT_2] = 5, [TCP_CLOSE_WAIT] = 8,
    [TCP_CLOSING] = 11,	   [TCP_LAST_ACK] = 9,	 [TCP_TIME_WAIT] = 6,
};

/* Linux's /proc/net/tcp line width without its newline (TMPSZ - 1). */
#define TCP_LINE 149

struct out {
	char *buf;
	size_t size, n;
};

static void __attribute__((format(printf, 2, 3))) out(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(o->buf + MIN(o->n, o->size), o->size - MIN(o->n, o->size), fmt, ap);
	va_end(ap);
	if (r > 0)
		o->n += (size_t)r;
}

/* The host's integer of 4 network-order bytes at @b: what Linux prints of a __be32. */
static uint32_t as_be32(const uint8_t *b)
{
	uint32_t v;

	memcpy(&v, b, sizeof(v));
	return v;
}

/* @a and @port as a row of tcp (v6 false) or tcp6 prints them, into @buf (42 bytes). */
static void addr_field(char *buf, size_t size, const struct inet_addr *a, uint16_t port, bool v6)
{
	if (!v6)
		snprintf(buf, size, "%08X:%04X", as_be32(a->a + 12), port);
	else
		snprintf(buf, size, "%08X%08X%08X%08X:%04X", as_be32(a->a), as_be32(a->a + 4),
			 as_be32(a->a + 8), as_be32(a->a + 12), port);
}

/* Ticks of 1/100 s until @when (0 when due or past), as Linux's jiffies_delta_to_clock_t. */
static unsigned long ticks_until(uint64_t when, uint64_t now)
{
	return when > now ? (unsigned long)((when - now) / 10u) : 0;
}

/*
 * Which timer Linux would show (tr) and when it fires: 1 retransmission,
 * 4 zero-window probe, 2 keepalive (Linux runs FIN-WAIT-2's timeout on the
 * keepalive timer too), 0 none. The delayed ACK is not shown, as in Linux.
 */
static unsigned timer_of(const struct tcp_sock *s, uint64_t *when)
{
	if (s->t_rtx) {
		*when = s->t_rtx;
		return 1;
	}
	if (s->t_persist) {
		*when = s->t_persist;
		return 4;
	}
	if (s->t_keep || s->t_wait) {
		*when = s->t_keep ? s->t_keep : s->t_wait;
		return 2;
	}
	*when = 0;
	return 0;
}

/* One socket's line, called with tcp_lock held. */
static void tcp_row_locked(struct out *o, unsigned sl, const struct tcp_sock *s, uint64_t now,
			   bool v6)
{
	char line[TCP_LINE + 64], la[48], ra[48];
	unsigned st = linux_state[s->state];
	uint64_t when;
	unsigned tr;

	addr_field(la, sizeof(la), &s->laddr, s->lport, v6);
	addr_field(ra, sizeof(ra), &s->raddr, s->rport, v6);
	if (s->state == TCP_TIME_WAIT || s->state == TCP_SYN_RECEIVED) {
		/* Linux's short lines of timewait and request sockets: no inode, no figures. */
		tr = s->state == TCP_TIME_WAIT ? 3 : 1;
		when = s->state == TCP_TIME_WAIT ? s->t_wait : s->t_rtx;
		snprintf(line, sizeof(line),
			 "%4u: %s %s %02X %08X:%08X %02X:%08lX %08X %5u %8d %u %d "
			 "0000000000000000",
			 sl, la, ra, st, 0u, 0u, tr, ticks_until(when, now),
			 s->state == TCP_SYN_RECEIVED ? s->retries : 0u, 0u, 0, 0u,
			 s->state == TCP_TIME_WAIT ? 3 : 0);
	} else {
		uint32_t mss = s->mss ? s->mss : TCP_MSS_DEFAULT;
		uint32_t rxq = s->state == TCP_LISTEN ? s->nacc : s->rcvq_bytes;
		/* -1: still in the first slow start, as Linux prints it; a listener has none. */
		int ssthresh = s->state == TCP_LISTEN	   ? 0
			       : s->ssthresh == UINT32_MAX ? -1
							   : (int)(s->ssthresh / mss);

		tr = timer_of(s, &when);
		snprintf(line, sizeof(line),
			 "%4u: %s %s %02X %08X:%08X %02X:%08lX %08X %5u %8u %u %d "
			 "0000000000000000 %u %u %u %u %d",
			 sl, la, ra, st, s->sndq_bytes, rxq, tr, ticks_until(when, now), s->retries,
			 0u, s->probes + s->kprobes, 0u, 1, s->rto_ms / 10u, TCP_DELACK_MS / 10u,
			 0u, s->state == TCP_LISTEN ? 0u : s->cwnd / mss, ssthresh);
	}
	if (v6)
		out(o, "%s\n", line);
	else
		out(o, "%-*s\n", TCP_LINE, line);
}

static size_t table(char *buf, size_t size, bool v6)
{
	struct out o = {.buf = buf, .size = size};
	uint64_t now = inet_now_ms();
	unsigned sl = 0;

	if (size)
		buf[0] = '\0';
	if (v6)
		out(&o,
		    "  sl  local_address                         remote_address                   "
		    "     st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n");
	else
		out(&o, "%-*s\n", TCP_LINE,
		    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   "
		    "uid  timeout inode");
	if (!inet_stack)
		return o.n;
	spin_lock(&inet_stack->tcp_lock);
	/* Listeners first, then connections, as Linux walks its two hashes. */
	for (unsigned b = 0; b < INET_TCP_BIND_BUCKETS; b++)
		for (const struct tcp_sock *s = inet_stack->tcp_bound[b]; s; s = s->bnext)
			if (s->state == TCP_LISTEN && inet_addr_is_v4(&s->laddr) != v6)
				tcp_row_locked(&o, sl++, s, now, v6);
	for (unsigned b = 0; b < INET_TCP_CONN_BUCKETS; b++)
		for (const struct tcp_sock *s = inet_stack->tcp_conn[b]; s; s = s->hnext)
			if (inet_addr_is_v4(&s->laddr) != v6)
				tcp_row_locked(&o, sl++, s, now, v6);
	spin_unlock(&inet_stack->tcp_lock);
	return o.n;
}

size_t inet_tcp_table(char *buf, size_t size)
{
	return table(buf, size, false);
}

size_t inet_tcp6_table(char *buf, size_t size)
{
	return table(buf, size, true);
}

/* Connections in ESTABLISHED or CLOSE-WAIT now (RFC 4022's tcpCurrEstab). */
static uint64_t tcp_curr_estab(void)
{
	uint64_t n = 0;

	spin_lock(&inet_stack->tcp_lock);
	for (unsigned b = 0; b < INET_TCP_CONN_BUCKETS; b++)
		for (const struct tcp_sock *s = inet_stack->tcp_conn[b]; s; s = s->hnext)
			n += s->state == TCP_ESTABLISHED || s->state == TCP_CLOSE_WAIT;
	spin_unlock(&inet_stack->tcp_lock);
	return n;
}

/* A field of an snmp line: Linux's name and our value. */
struct snmp_field {
	const char *name;
	long long value;
};

static void snmp_pair(struct out *o, const char *group, const struct snmp_field *f, size_t n)
{
	out(o, "%s:", group);
	for (size_t i = 0; i < n; i++)
		out(o, " %s", f[i].name);
	out(o, "\n%s:", group);
	for (size_t i = 0; i < n; i++)
		out(o, " %lld", f[i].value);
	out(o, "\n");
}

static long long mib(enum inet_mib m)
{
	return (long long)inet_mib(m);
}

static long long icmp_in(unsigned type)
{
	return (long long)atomic_load(&inet_stack->icmp_in_type[type]);
}

static long long icmp_out(unsigned type)
{
	return (long long)atomic_load(&inet_stack->icmp_out_type[type]);
}

/*
 * Linux's IcmpMsg pair: InTypeN and OutTypeN of every type seen, in and
 * then out, each by type; none at all until a message is. Each counter is
 * read once, so the names and the values agree.
 */
static void icmp_msg(struct out *o)
{
	long long in[256], outv[256];
	bool any = false;

	for (unsigned t = 0; t < 256; t++) {
		in[t] = icmp_in(t);
		outv[t] = icmp_out(t);
		any |= in[t] || outv[t];
	}
	if (!any)
		return;
	out(o, "IcmpMsg:");
	for (unsigned t = 0; t < 256; t++)
		if (in[t])
			out(o, " InType%u", t);
	for (unsigned t = 0; t < 256; t++)
		if (outv[t])
			out(o, " OutType%u", t);
	out(o, "\nIcmpMsg:");
	for (unsigned t = 0; t < 256; t++)
		if (in[t])
			out(o, " %lld", in[t]);
	for (unsigned t = 0; t < 256; t++)
		if (outv[t])
			out(o, " %lld", outv[t]);
	out(o, "\n");
}

size_t inet_snmp(char *buf, size_t size)
{
	struct out o = {.buf = buf, .size = size};
	long long udp_err, udp_noport, udp_rcvbuf, udp_in;

	if (size)
		buf[0] = '\0';
	if (!inet_stack)
		return 0;
	/*
	 * Ip: not kept, so left out: InDiscards (input drops for want of a
	 * buffer are counted as mem_fails, not per protocol), FragFails (in
	 * OutDiscards with the other drops), OutTransmits. ForwDatagrams is
	 * printed: a host that never forwards (Forwarding 2) forwards 0.
	 */
	const struct snmp_field ip[] = {
	    {"Forwarding", 2},
	    {"DefaultTTL", INET_TTL},
	    {"InReceives", mib(INET_MIB_IP_IN)},
	    {"InHdrErrors", mib(INET_MIB_IP_IN_HDR_ERRORS)},
	    {"InAddrErrors", mib(INET_MIB_IP_IN_ADDR_ERRORS)},
	    {"ForwDatagrams", 0},
	    {"InUnknownProtos", mib(INET_MIB_IP_IN_UNKNOWN_PROTO)},
	    {"InDelivers", mib(INET_MIB_IP_IN_DELIVERS)},
	    {"OutRequests", mib(INET_MIB_IP_OUT_REQUESTS)},
	    {"OutDiscards", mib(INET_MIB_IP_OUT_DISCARDS)},
	    {"OutNoRoutes", mib(INET_MIB_IP_OUT_NO_ROUTES)},
	    {"ReasmTimeout", mib(INET_MIB_IP_REASM_TIMEOUTS)},
	    {"ReasmReqds", mib(INET_MIB_IP_REASM_REQDS)},
	    {"ReasmOKs", mib(INET_MIB_IP_REASM_OKS)},
	    {"ReasmFails", mib(INET_MIB_IP_REASM_FAILS)},
	    {"FragOKs", mib(INET_MIB_IP_FRAG_OKS)},
	    {"FragCreates", mib(INET_MIB_IP_FRAG_CREATES)},
	};
	/*
	 * Icmp: Linux's fields, by type from icmp_in_type/icmp_out_type (what
	 * passed the checksum, and what we sent); OutErrors and
	 * OutRateLimitHost are not kept, so left out: our one token bucket is
	 * the stack's, hence OutRateLimitGlobal. InCsumErrors are in InErrors
	 * too.
	 */
	const struct snmp_field icmp[] = {
	    {"InMsgs", mib(INET_MIB_ICMP_IN)},
	    {"InErrors", mib(INET_MIB_ICMP_IN_ERRORS)},
	    {"InCsumErrors", mib(INET_MIB_ICMP_IN_CSUM_ERRORS)},
	    {"InDestUnreachs", icmp_in(3)},
	    {"InTimeExcds", icmp_in(11)},
	    {"InParmProbs", icmp_in(12)},
	    {"InSrcQuenchs", icmp_in(4)},
	    {"InRedirects", icmp_in(5)},
	    {"InEchos", icmp_in(8)},
	    {"InEchoReps", icmp_in(0)},
	    {"InTimestamps", icmp_in(13)},
	    {"InTimestampReps", icmp_in(14)},
	    {"InAddrMasks", icmp_in(17)},
	    {"InAddrMaskReps", icmp_in(18)},
	    {"OutMsgs", mib(INET_MIB_ICMP_OUT)},
	    {"OutRateLimitGlobal", mib(INET_MIB_ICMP_OUT_RATELIMITED)},
	    {"OutDestUnreachs", icmp_out(3)},
	    {"OutTimeExcds", icmp_out(11)},
	    {"OutParmProbs", icmp_out(12)},
	    {"OutSrcQuenchs", icmp_out(4)},
	    {"OutRedirects", icmp_out(5)},
	    {"OutEchos", icmp_out(8)},
	    {"OutEchoReps", icmp_out(0)},
	    {"OutTimestamps", icmp_out(13)},
	    {"OutTimestampReps", icmp_out(14)},
	    {"OutAddrMasks", icmp_out(17)},
	    {"OutAddrMaskReps", icmp_out(18)},
	};
	/*
	 * Tcp: the RTO bounds are ours (tcp.h), not Linux's 120 s ceiling.
	 * InCsumErrors are in InErrs too, as Linux counts them.
	 */
	const struct snmp_field tcp[] = {
	    {"RtoAlgorithm", 1}, /* RFC 4022's other(1), as Linux says of its RFC 6298 timer */
	    {"RtoMin", TCP_RTO_MIN_MS},
	    {"RtoMax", TCP_RTO_MAX_MS},
	    {"MaxConn", -1}, /* RFC 4022: dynamic */
	    {"ActiveOpens", mib(INET_MIB_TCP_ACTIVE_OPENS)},
	    {"PassiveOpens", mib(INET_MIB_TCP_PASSIVE_OPENS)},
	    {"AttemptFails", mib(INET_MIB_TCP_ATTEMPT_FAILS)},
	    {"EstabResets", mib(INET_MIB_TCP_ESTAB_RESETS)},
	    {"CurrEstab", (long long)tcp_curr_estab()},
	    {"InSegs", mib(INET_MIB_TCP_IN_SEGS)},
	    {"OutSegs", mib(INET_MIB_TCP_OUT_SEGS)},
	    {"RetransSegs", mib(INET_MIB_TCP_RETRANS_SEGS)},
	    {"InErrs", mib(INET_MIB_TCP_IN_ERRS)},
	    {"OutRsts", mib(INET_MIB_TCP_OUT_RSTS)},
	    {"InCsumErrors", mib(INET_MIB_TCP_IN_CSUM_ERRORS)},
	};

	/*
	 * Udp: udp_in counts every datagram taken, Linux's InDatagrams those
	 * delivered; the causes of loss are read first so the difference
	 * cannot go below 0. InErrors is Linux's: malformed, bad checksum or no
	 * room on the socket (InCsumErrors, the bad checksums, are in it too).
	 * Not kept: SndbufErrors, IgnoredMulti (Ethernet takes only the IPv6
	 * groups it must), MemErrors.
	 */
	udp_err = mib(INET_MIB_UDP_IN_ERRORS);
	udp_noport = mib(INET_MIB_UDP_NO_PORTS);
	udp_rcvbuf = mib(INET_MIB_UDP_RCVBUF_ERRORS);
	udp_in = mib(INET_MIB_UDP_IN);
	const struct snmp_field udp[] = {
	    {"InDatagrams", MAX(udp_in - udp_err - udp_noport - udp_rcvbuf, 0)},
	    {"NoPorts", udp_noport},
	    {"InErrors", udp_err + udp_rcvbuf},
	    {"OutDatagrams", mib(INET_MIB_UDP_OUT)},
	    {"RcvbufErrors", udp_rcvbuf},
	    {"InCsumErrors", mib(INET_MIB_UDP_IN_CSUM_ERRORS)},
	};

	snmp_pair(&o, "Ip", ip, sizeof(ip) / sizeof(ip[0]));
	snmp_pair(&o, "Icmp", icmp, sizeof(icmp) / sizeof(icmp[0]));
	icmp_msg(&o);
	snmp_pair(&o, "Tcp", tcp, sizeof(tcp) / sizeof(tcp[0]));
	snmp_pair(&o, "Udp", udp, sizeof(udp) / sizeof(udp[0]));
	return o.n;
}

size_t inet_netstat(char *buf, size_t size)
{
	struct out o = {.buf = buf, .size = size};

	if (size)
		buf[0] = '\0';
	if (!inet_stack)
		return 0;
	/*
	 * Linux's TcpExt names and meanings, in its order (snmp4_net_list).
	 * ListenOverflows and ListenDrops are one count here: the only listen
	 * drop is a full accept queue. TCPFastRetrans counts each segment
	 * resent by fast recovery (and RACK's resends after an RTO, which
	 * Linux calls TCPSlowStartRetrans). TCPOFODrop is a segment the
	 * out-of-order queue's bound refused; TCPRcvQDrop one the receive
	 * buffer's did.
	 */
	const struct snmp_field f[] = {
	    {"SyncookiesSent", mib(INET_MIB_TCP_COOKIES_SENT)},
	    {"SyncookiesRecv", mib(INET_MIB_TCP_COOKIES_OK)},
	    {"SyncookiesFailed", mib(INET_MIB_TCP_COOKIES_BAD)},
	    {"TW", mib(INET_MIB_TCP_TW_ENDED)},
	    {"PAWSEstab", mib(INET_MIB_TCP_PAWS_DROPS)},
	    {"DelayedACKs", mib(INET_MIB_TCP_DELAYED_ACKS)},
	    {"ListenOverflows", mib(INET_MIB_TCP_LISTEN_DROPS)},
	    {"ListenDrops", mib(INET_MIB_TCP_LISTEN_DROPS)},
	    {"TCPRenoRecovery", mib(INET_MIB_TCP_RENO_RECOVERY)},
	    {"TCPSackRecovery", mib(INET_MIB_TCP_SACK_RECOVERY)},
	    {"TCPSACKReorder", mib(INET_MIB_TCP_SACK_REORDER)},
	    {"TCPDSACKUndo", mib(INET_MIB_TCP_SPURIOUS_FAST_RETRANS)},
	    {"TCPLostRetransmit", mib(INET_MIB_TCP_LOST_RETRANSMIT)},
	    {"TCPFastRetrans", mib(INET_MIB_TCP_FAST_RETRANS)},
	    {"TCPTimeouts", mib(INET_MIB_TCP_TIMEOUTS)},
	    {"TCPLossProbes", mib(INET_MIB_TCP_LOSS_PROBES)},
	    {"TCPLossProbeRecovery", mib(INET_MIB_TCP_LOSS_PROBE_RECOVERY)},
	    {"TCPDSACKRecv", mib(INET_MIB_TCP_DSACK_RECV)},
	    {"TCPAbortOnData", mib(INET_MIB_TCP_ABORT_ON_DATA)},
	    {"TCPAbortOnClose", mib(INET_MIB_TCP_ABORT_ON_CLOSE)},
	    {"TCPAbortOnTimeout", mib(INET_MIB_TCP_ABORT_ON_TIMEOUT)},
	    {"TCPSpuriousRTOs", mib(INET_MIB_TCP_SPURIOUS_RTOS)},
	    {"TCPRcvCoalesce", mib(INET_MIB_TCP_RCV_COALESCE)},
	    {"TCPOFOQueue", mib(INET_MIB_TCP_OFO_QUEUE)},
	    {"TCPOFODrop", mib(INET_MIB_TCP_OOO_DROPS)},
	    {"TCPChallengeACK", mib(INET_MIB_TCP_CHALLENGE_ACKS)},
	    {"TCPRcvQDrop", mib(INET_MIB_TCP_RCVQ_DROPS)},
	};

	snmp_pair(&o, "TcpExt", f, sizeof(f) / sizeof(f[0]));
	return o.n;
}

/*
 * Linux's /proc/net/snmp6 lines ("%-32s\t%lu") for the IPv6 counters this
 * stack keeps; the rest (multicast, octets, the ICMPv6 types) are left out.
 */
size_t inet_snmp6(char *buf, size_t size)
{
	struct out o = {.buf = buf, .size = size};

	if (size)
		buf[0] = '\0';
	if (!inet_stack)
		return 0;
	const struct snmp_field f[] = {
	    {"Ip6InReceives", mib(INET_MIB_IP6_IN)},
	    {"Ip6InHdrErrors", mib(INET_MIB_IP6_IN_HDR_ERRORS)},
	    {"Ip6InAddrErrors", mib(INET_MIB_IP6_IN_ADDR_ERRORS)},
	    {"Ip6InUnknownProtos", mib(INET_MIB_IP6_IN_UNKNOWN_PROTO)},
	    {"Ip6InDelivers", mib(INET_MIB_IP6_IN_DELIVERS)},
	    {"Ip6OutRequests", mib(INET_MIB_IP6_OUT_REQUESTS)},
	    {"Ip6OutDiscards", mib(INET_MIB_IP6_OUT_DISCARDS)},
	    {"Ip6OutNoRoutes", mib(INET_MIB_IP6_OUT_NO_ROUTES)},
	    {"Ip6ReasmTimeout", mib(INET_MIB_IP6_REASM_TIMEOUTS)},
	    {"Ip6ReasmReqds", mib(INET_MIB_IP6_REASM_REQDS)},
	    {"Ip6ReasmOKs", mib(INET_MIB_IP6_REASM_OKS)},
	    {"Ip6ReasmFails", mib(INET_MIB_IP6_REASM_FAILS)},
	    {"Ip6FragOKs", mib(INET_MIB_IP6_FRAG_OKS)},
	    {"Ip6FragFails", mib(INET_MIB_IP6_FRAG_FAILS)},
	    {"Ip6FragCreates", mib(INET_MIB_IP6_FRAG_CREATES)},
	    {"Icmp6InMsgs", mib(INET_MIB_ICMP6_IN)},
	    {"Icmp6InErrors", mib(INET_MIB_ICMP6_IN_ERRORS)},
	    {"Icmp6OutMsgs", mib(INET_MIB_ICMP6_OUT)},
	    {"Icmp6InCsumErrors", mib(INET_MIB_ICMP6_IN_CSUM_ERRORS)},
	};

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		out(&o, "%-32s\t%lld\n", f[i].name, f[i].value);
	return o.n;
}
