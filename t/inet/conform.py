#!/usr/bin/python3
"""The wire side of t/inet/04-conform.t: segments made by hand with scapy,
sent from the peer's namespace to a TCP/IP stack under test (the machine's
on a TAP device, or Linux's over a veth), and what comes back checked
against the RFCs. The same cases run against both, so that every
expectation is first proven on Linux.

  conform.py IFACE MY_ADDR TARGET_ADDR TARGET_MAC M|L [MY_ADDR6 TARGET_ADDR6]

reads one case name a line on standard input and answers each with one
line that starts with "ok " or "bad ". M or L says whose stack is under
test, for the few places where Linux does what an RFC allows and the
machine does what it should (each says why). The target serves TCP echo
on 7, sink on 5001 (reads until FIN, answers one line), source on 5002
(a line "N" asks for N bytes, byte i being i % 251, then FIN) and keep on
5004 (echo, with keepalive probes after 1 s idle); nothing listens on TCP
5999 or UDP 9999. Our source ports are in 40000-59999:
the test drops the RSTs this namespace's own Linux would send from them.
The IPv6 cases speak from our link-local address to the target's, both
made from the MACs (modified EUI-64), as neighbour discovery and echo.
Given global IPv6 addresses, the TCP cases run over IPv6 too, each as
"v6:NAME": the same segments in IPv6 datagrams (no extension headers).
Both links carry 1500-byte frames: a segment of ours holds at most 1460
bytes (IPv4) or 1440 (IPv6), and so must the target's whatever MSS we
offer (we offer 1460 on both: the target's own MTU bounds it, RFC 9293
3.7.1); without our MSS option it may send 536 (IPv4) or 1220 (IPv6).
Every wait is bounded; none is longer than a few seconds.
"""
import logging
import os
import random
import select
import struct
import sys
import time

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import (ARP, ICMP, IP, UDP, Ether, ICMPv6EchoReply,  # noqa: E402
                       ICMPv6EchoRequest, ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptDstLLAddr,
                       ICMPv6NDOptSrcLLAddr, IPv6, Raw, conf, get_if_hwaddr, in6_getnsma,
                       in6_getnsmac, in6_mactoifaceid, inet_ntop, inet_pton)
import socket  # noqa: E402

ECHO, SINK, SOURCE, KEEP, CLOSED_TCP, CLOSED_UDP = 7, 5001, 5002, 5004, 5999, 9999
PERIOD = bytes(range(251))
OPT_EOL, OPT_NOP, OPT_MSS, OPT_WS, OPT_SACKOK, OPT_SACK, OPT_TS = 0, 1, 2, 3, 4, 5, 8
F_FIN, F_SYN, F_RST, F_PSH, F_ACK, F_URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20


class Bad(Exception):
    """A case's finding: what the target did that it should not have."""


def sadd(a, b):
    return (a + b) & 0xFFFFFFFF


def sdiff(a, b):
    """a - b as a signed 32-bit distance."""
    d = (a - b) & 0xFFFFFFFF
    return d - (1 << 32) if d >= 1 << 31 else d


def pattern(offset, n):
    start = offset % len(PERIOD)
    return (PERIOD * ((start + n) // len(PERIOD) + 1))[start:start + n]


def csum16(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def parse_options(raw):
    """A TCP option area as [(kind, data)], or None if it is malformed."""
    out, i = [], 0
    while i < len(raw):
        kind = raw[i]
        if kind == OPT_EOL:
            break
        if kind == OPT_NOP:
            i += 1
            continue
        if i + 1 >= len(raw) or raw[i + 1] < 2 or i + raw[i + 1] > len(raw):
            return None
        out.append((kind, bytes(raw[i + 2:i + raw[i + 1]])))
        i += raw[i + 1]
    return out


class Seg:
    """A TCP segment that arrived, its fields as plain numbers."""

    def __init__(self, w, src, dst, raw, t):
        """@raw: the segment's bytes, as far as its IP header says, from @src to @dst."""
        self.t = t
        self.sport, self.dport, self.seq, self.ack, off, self.flags, self.win = \
            struct.unpack("!HHIIBBH", raw[:16])
        hlen = (off >> 4) * 4
        self.opts = parse_options(raw[20:hlen])
        self.optlen = hlen - 20
        self.data = raw[hlen:]
        self.csum_ok = csum16(w.pseudo(src, dst, raw)) == 0

    def opt(self, kind):
        for k, d in self.opts or []:
            if k == kind:
                return d
        return None

    def has(self, flags):
        return self.flags & flags == flags

    def __repr__(self):
        names = "".join(n for b, n in ((F_SYN, "S"), (F_FIN, "F"), (F_RST, "R"), (F_PSH, "P"),
                                       (F_ACK, "A")) if self.flags & b)
        return "[%s seq=%d ack=%d win=%d len=%d]" % (names, self.seq, self.ack, self.win,
                                                    len(self.data))


def pseudo(src, dst, tcp):
    a = bytes(int(x) for x in src.split("."))
    b = bytes(int(x) for x in dst.split("."))
    return a + b + struct.pack("!BBH", 0, 6, len(tcp)) + tcp


def pseudo6(src, dst, tcp):
    return (inet_pton(socket.AF_INET6, src) + inet_pton(socket.AF_INET6, dst) +
            struct.pack("!I3xB", len(tcp), 6) + tcp)


class Wire:
    """Frames to and from the target on IFACE, by a packet socket; IPv6 if @me is."""

    def __init__(self, iface, me, them, them_mac, sock=None):
        self.iface, self.me, self.them, self.them_mac = iface, me, them, them_mac
        self.my_mac = get_if_hwaddr(iface)
        self.sock = sock or conf.L2socket(iface=iface)
        self.v6 = ":" in me
        # The most a segment carries (options and data) in a 1500-byte
        # frame, and without an MSS option (RFC 9293 3.7.1: 536 over IPv4,
        # 1220 over IPv6).
        self.mss = 1440 if self.v6 else 1460
        self.mss_default = 1220 if self.v6 else 536
        self.pseudo = pseudo6 if self.v6 else pseudo

    def tcp_of(self, p):
        """(source, destination, segment bytes) of frame @p if it is TCP from the target."""
        if self.v6:
            if IPv6 not in p or p[IPv6].src != self.them or p[IPv6].nh != 6:
                return None
            ip = p[IPv6]
            raw = bytes(ip.payload)[:ip.plen]
        else:
            if IP not in p or p[IP].src != self.them or p[IP].proto != 6:
                return None
            ip = p[IP]
            raw = bytes(ip.payload)[:ip.len - ip.ihl * 4]
        return (ip.src, ip.dst, raw) if len(raw) >= 20 else None

    def send_frame(self, pkt):
        if Ether not in pkt:
            pkt = Ether(src=self.my_mac, dst=self.them_mac) / pkt
        self.sock.send(pkt)

    def frames(self, timeout):
        """Frames from the target for up to @timeout seconds: (packet, time)."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                return
            p = self.sock.recv()
            if p is not None and Ether in p and p[Ether].src.lower() == self.them_mac.lower():
                yield p, time.monotonic()

    def drain(self):
        for _ in self.frames(0.01):
            pass

    def tcp_raw(self, sport, dport, seq, ack, flags, win, opts=b"", data=b"", bad_csum=False,
                urp=0):
        opts = bytes(opts)
        pad = (-len(opts)) % 4
        opts += b"\0" * pad
        hdr = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, (20 + len(opts)) // 4 << 4,
                          flags, win, 0, urp) + opts
        c = csum16(self.pseudo(self.me, self.them, hdr + data))
        if bad_csum:
            c ^= 0x5A5A
        return hdr[:16] + struct.pack("!H", c) + hdr[18:] + data

    def send_tcp(self, raw):
        net = (IPv6(src=self.me, dst=self.them, nh=6) if self.v6 else
               IP(src=self.me, dst=self.them, proto=6))
        self.send_frame(net / Raw(raw))


def mss_opt(mss=1460):
    return struct.pack("!BBH", OPT_MSS, 4, mss)


def ts_opt(val, ecr):
    return struct.pack("!BBBBII", OPT_NOP, OPT_NOP, OPT_TS, 10, val, ecr)


class Conn:
    """One connection of ours, its sequence numbers kept by hand."""

    def __init__(self, w, dport, win=65535):
        self.w, self.dport, self.win = w, dport, win
        self.sport = random.randint(40000, 59999)
        self.iss = random.getrandbits(32)
        self.snd_nxt = self.iss
        self.rcv_nxt = None
        self.ts = False
        self.ws = 0
        self.ts_recent = 0
        self.t0 = time.monotonic()
        self.largest = 0  # the most a segment read carried, options and data

    def tsval(self):
        return int((time.monotonic() - self.t0) * 1000) + 5000

    def raw(self, flags, data=b"", seq=None, ack=None, win=None, opts=b"", bad_csum=False, urp=0):
        if self.ts and not opts:
            opts = ts_opt(self.tsval(), self.ts_recent)
        if win is None:
            win = self.win >> self.ws
        if ack is None:
            ack = self.rcv_nxt or 0
        return self.w.tcp_raw(self.sport, self.dport, self.snd_nxt if seq is None else seq, ack,
                              flags, win, opts, data, bad_csum, urp)

    def send(self, flags=F_ACK, data=b"", advance=True, **kw):
        self.w.send_tcp(self.raw(flags, data, **kw))
        if advance and kw.get("seq") is None:
            self.snd_nxt = sadd(self.snd_nxt, len(data) + (1 if flags & (F_SYN | F_FIN) else 0))

    def segs(self, timeout):
        """Segments of this connection for up to @timeout seconds."""
        for p, t in self.w.frames(timeout):
            got = self.w.tcp_of(p)
            if got:
                s = Seg(self.w, *got, t)
                if s.sport == self.dport and s.dport == self.sport:
                    if self.ts and s.opt(OPT_TS):
                        self.ts_recent = struct.unpack("!I", s.opt(OPT_TS)[:4])[0]
                    yield s

    def expect(self, timeout, pred, what):
        for s in self.segs(timeout):
            if pred(s):
                return s
        raise Bad("no %s within %.1f s" % (what, timeout))

    def quiet(self, timeout, what):
        """Nothing of this connection for @timeout seconds."""
        for s in self.segs(timeout):
            raise Bad("%s: got %r" % (what, s))

    def syn(self, opts, timeout=3):
        """Send a SYN with option bytes @opts; the SYN-ACK, or None if none came."""
        self.w.drain()
        self.send(F_SYN, opts=opts)
        for s in self.segs(timeout):
            if s.has(F_RST):
                raise Bad("a RST answered the SYN: %r" % s)
            if s.has(F_SYN | F_ACK):
                if s.ack != self.snd_nxt:
                    raise Bad("SYN-ACK acks %d, not ISS+1 %d" % (s.ack, self.snd_nxt))
                if s.opts is None:
                    raise Bad("malformed options in the SYN-ACK %r" % s)
                if not s.csum_ok:
                    raise Bad("bad checksum on the SYN-ACK")
                self.rcv_nxt = sadd(s.seq, 1)
                self.peer_win = s.win
                return s
        return None

    def open(self, opts=None):
        """The three-way handshake (MSS only unless @opts); the SYN-ACK."""
        sa = self.syn(mss_opt() if opts is None else opts)
        if sa is None:
            raise Bad("no SYN-ACK")
        self.send(F_ACK)
        return sa

    def take(self, s):
        """Take @s's data and FIN if they are next in order: (data taken, FIN taken)."""
        data, fin = b"", False
        if s.seq == self.rcv_nxt:
            data = s.data
            self.rcv_nxt = sadd(self.rcv_nxt, len(data))
            if s.has(F_FIN):
                fin = True
                self.rcv_nxt = sadd(self.rcv_nxt, 1)
        return data, fin

    def read(self, n, timeout=3, fin=False):
        """@n bytes in order (and a FIN after them if @fin), ACKing as they come."""
        got, seen_fin = bytearray(), False
        end = time.monotonic() + timeout
        while time.monotonic() < end and (len(got) < n or (fin and not seen_fin)):
            for s in self.segs(min(0.5, max(0.01, end - time.monotonic()))):
                if s.has(F_RST):
                    raise Bad("RST while reading: %r" % s)
                if self.ts and s.opt(OPT_TS) is None:
                    raise Bad("no timestamp on %r, timestamps agreed (RFC 7323 3.2)" % s)
                if s.data:
                    self.largest = max(self.largest, s.optlen + len(s.data))
                    if s.optlen + len(s.data) > self.w.mss:
                        raise Bad("a segment of %d bytes (options and data), past a "
                                  "1500-byte frame's %d" % (s.optlen + len(s.data), self.w.mss))
                if s.data or s.has(F_FIN):
                    data, f = self.take(s)
                    got += data
                    seen_fin = seen_fin or f
                    self.send(F_ACK)
                if len(got) >= n and (not fin or seen_fin):
                    break
        if len(got) < n or (fin and not seen_fin):
            raise Bad("read %d of %d bytes%s in %.0f s" % (
                len(got), n, ", no FIN" if fin and not seen_fin else "", timeout))
        return bytes(got)

    def echo(self, data, timeout=3):
        """@data to the echo service (1000 bytes a segment) and back, checked."""
        for i in range(0, len(data), 1000):
            self.send(F_ACK | F_PSH, data[i:i + 1000])
        back = self.read(len(data), timeout)
        if back != data:
            raise Bad("echo returned %r for %r" % (back[:32], data[:32]))

    def reset(self):
        self.send(F_RST | F_ACK, advance=False)


# ---------------------------------------------------------------- cases ----

def handshake(w, offer):
    """SYN-ACK options as the RFCs say for what we offered; then data flows."""
    c = Conn(w, ECHO)
    # RFC 9293 3.7.1: without the option the peer sends at most 536 bytes
    # a segment (1220 over IPv6); with it, options and data within the MSS
    # (RFC 6691), and within the peer's own MTU whatever we offer.
    ours = {"none": w.mss_default, "mss": 700, "all": w.mss}[offer]
    opts = {"none": b"", "mss": mss_opt(700),
            "all": mss_opt() + struct.pack("!BBBB", OPT_NOP, OPT_WS, 3, 3) +
            struct.pack("!BB", OPT_SACKOK, 2) + ts_opt(4242, 0)[2:]}[offer]
    sa = c.open(opts)
    kinds = sorted(k for k, _ in sa.opts)
    mss = sa.opt(OPT_MSS)
    if mss is None or len(mss) != 2:
        raise Bad("no MSS option in the SYN-ACK (%s)" % kinds)
    if struct.unpack("!H", mss)[0] > w.mss:
        raise Bad("MSS %d in the SYN-ACK, past a 1500-byte frame's %d" % (
            struct.unpack("!H", mss)[0], w.mss))
    if offer != "all":
        for k in (OPT_WS, OPT_SACKOK, OPT_TS):
            if sa.opt(k) is not None:
                raise Bad("option %d in the SYN-ACK, not offered (%s)" % (k, kinds))
    else:
        ws, ts = sa.opt(OPT_WS), sa.opt(OPT_TS)
        if ws is None or len(ws) != 1 or sa.opt(OPT_SACKOK) != b"" or ts is None or len(ts) != 8:
            raise Bad("WS, SACK-permitted and TS not all in the SYN-ACK, or of a bad length "
                      "(%s)" % sa.opts)
        if struct.unpack("!I", ts[4:])[0] != 4242:
            raise Bad("TSecr %d, not our TSval 4242" % struct.unpack("!I", ts[4:])[0])
        if ws[0] > 14:
            raise Bad("window scale %d > 14" % ws[0])
        c.ts, c.ws = True, 3
        c.ts_recent = struct.unpack("!I", ts[:4])[0]
    c.echo(os.urandom(3000))
    c.reset()
    if c.largest > ours:
        raise Bad("a segment of %d bytes (options and data), over our MSS %d" % (c.largest, ours))
    return "SYN-ACK options %s, MSS %d; 3000 bytes echoed in segments of at most %d of %d" % (
        kinds, struct.unpack("!H", mss)[0], c.largest, ours)


BAD_OPTS = {
    "unknown": mss_opt() + bytes([0x99, 4, 0xAB, 0xCD]),
    "len0": mss_opt() + bytes([0x99, 0, 1, 1]),
    "past": mss_opt() + bytes([0x99, 32, 0, 0]),
    "truncmss": bytes([OPT_NOP, OPT_NOP, OPT_MSS, 4]),
}


def badopt(w, which):
    """The bad option ignored (and the connection works) or the SYN dropped; no bad reply."""
    c = Conn(w, ECHO)
    sa = c.syn(BAD_OPTS[which], timeout=1.5)
    if sa is None:
        what = "SYN dropped"
    else:
        c.send(F_ACK)
        c.echo(b"after a bad option\n")
        c.reset()
        what = "SYN-ACK options %s, echoed" % sorted(k for k, _ in sa.opts)
    after = Conn(w, ECHO)
    after.open()
    after.echo(b"alive\n")
    after.reset()
    return "%s; a new connection echoes after it" % what


def csum(w):
    c = Conn(w, ECHO)
    c.open()
    c.send(F_ACK | F_PSH, b"corrupt", advance=False, bad_csum=True)
    c.quiet(0.6, "answer to a bad checksum")
    c.echo(b"intact")
    c.reset()
    return "no answer to a bad checksum; the data was not taken"


def rst(w, how):
    c = Conn(w, ECHO)
    c.open()
    if how == "inwin":
        c.send(F_RST, seq=sadd(c.snd_nxt, 100), ack=0)
        a = c.expect(1.5, lambda s: True, "challenge ACK")
        if a.flags != F_ACK or a.ack != c.snd_nxt or a.seq != c.rcv_nxt or a.data:
            raise Bad("not a challenge ACK <SEQ=%d><ACK=%d>: %r" % (c.rcv_nxt, c.snd_nxt, a))
        c.echo(b"still here")
        c.reset()
        return "challenge ACK ack=RCV.NXT; the connection stays"
    if how == "oow":
        c.send(F_RST, seq=sadd(c.snd_nxt, 1 << 30), ack=0)
        c.quiet(0.6, "answer to a RST out of the window")
        c.echo(b"still here")
        c.reset()
        return "ignored; the connection stays"
    c.send(F_RST, seq=c.snd_nxt, ack=0)
    c.quiet(0.6, "answer to an exact RST")
    c.send(F_ACK | F_PSH, b"anyone?")
    r = c.expect(1.5, lambda s: True, "answer to data after the RST")
    if not r.has(F_RST) or r.seq != c.rcv_nxt:
        raise Bad("not a RST at our ACK %d: %r" % (c.rcv_nxt, r))
    return "no answer; data after it is reset: the connection is gone"


def syn_estab(w):
    c = Conn(w, ECHO)
    c.open()
    c.send(F_SYN, seq=sadd(c.snd_nxt, 1000), ack=0, opts=mss_opt())
    a = c.expect(1.5, lambda s: True, "challenge ACK")
    if a.flags != F_ACK or a.ack != c.snd_nxt or a.seq != c.rcv_nxt or a.data:
        raise Bad("not a challenge ACK <SEQ=%d><ACK=%d>: %r" % (c.rcv_nxt, c.snd_nxt, a))
    c.echo(b"still here")
    c.reset()
    return "challenge ACK; the connection stays"


def oow_data(w):
    c = Conn(w, ECHO)
    c.open()
    c.send(F_ACK | F_PSH, b"far away", seq=sadd(c.snd_nxt, 1 << 30))
    a = c.expect(1.5, lambda s: True, "ACK")
    if a.flags & ~F_PSH != F_ACK or a.ack != c.snd_nxt or a.seq != c.rcv_nxt or a.data:
        raise Bad("not an ACK of RCV.NXT %d: %r" % (c.snd_nxt, a))
    c.echo(b"near")
    c.reset()
    return "ACK of RCV.NXT; the data was not taken"


def zero_window(w):
    """Persist: probes with backoff while our window is 0; the rest when it opens."""
    n = 20000
    c = Conn(w, SOURCE, win=8192)
    c.open()
    una = c.rcv_nxt
    c.send(F_ACK | F_PSH, b"%d\n" % n, win=0)
    probes, start = [], time.monotonic()
    # Both stacks time the handshake's round trip (with timestamps or
    # without), so the first probe comes after the RTO's floor, 0.2 s, not
    # RFC 6298 2.1's initial 1 s; each gap then doubles.
    for s in c.segs(8):
        if s.has(F_RST) or s.has(F_FIN):
            raise Bad("%r while our window is 0" % s)
        if len(s.data) > 1:
            raise Bad("%d bytes sent into a zero window: %r" % (len(s.data), s))
        if (len(s.data) == 1 and s.seq == una) or (not s.data and s.seq == sadd(una, -1)):
            probes.append(s.t - start)
            c.send(F_ACK, win=0)
            if len(probes) == 4:
                break
    gaps = [b - a for a, b in zip(probes, probes[1:])]
    desc = "probes at %s s" % ",".join("%.2f" % p for p in probes)
    if len(probes) < 3:
        raise Bad("%d window probes in 8 s (%s)" % (len(probes), desc))
    if any(g2 < g1 * 0.8 for g1, g2 in zip(gaps, gaps[1:])) or gaps[-1] < 1.5 * gaps[0]:
        raise Bad("no backoff: %s" % desc)
    c.send(F_ACK, win=65535)
    opened = time.monotonic()
    c.win = 65535
    first = c.expect(1, lambda s: len(s.data) > 1, "data within 1 s of the window opening")
    resume = first.t - opened
    got = first.data if first.seq == una else b""
    c.rcv_nxt = sadd(c.rcv_nxt, len(got))
    c.send(F_ACK)
    got += c.read(n - len(got), timeout=5, fin=True)
    if got != pattern(0, n):
        raise Bad("the data after the window opened is not the pattern")
    return ("%d probes of at most 1 byte, backing off (%s); data %.0f ms after the window "
            "opened, %d bytes and FIN" % (len(probes), desc, resume * 1000, n))


def fin_passive(w):
    c = Conn(w, ECHO)
    c.open()
    c.send(F_FIN | F_ACK)
    acked = fin = None
    for s in c.segs(2):
        if s.has(F_RST):
            raise Bad("RST after our FIN: %r" % s)
        if s.ack == c.snd_nxt and s.has(F_ACK):
            acked = acked or s
        if s.has(F_FIN):
            fin = s
            break
    if not acked or not fin:
        raise Bad("our FIN %s, their FIN %s" % ("acked" if acked else "not acked",
                                                 "came" if fin else "did not come"))
    if fin.seq != c.rcv_nxt:
        raise Bad("their FIN at %d, not %d" % (fin.seq, c.rcv_nxt))
    first = "apart" if acked is not fin else "together"
    c.rcv_nxt = sadd(c.rcv_nxt, 1)
    c.send(F_ACK)
    c.quiet(0.5, "anything after the last ACK")
    c.send(F_ACK | F_PSH, b"late")
    r = c.expect(1.5, lambda s: True, "RST for data after the close")
    if not r.has(F_RST):
        raise Bad("not a RST: %r" % r)
    return "our FIN ACKed, theirs came (%s: CLOSE-WAIT, LAST-ACK); closed after our ACK" % first


def active_close(w):
    c = Conn(w, SOURCE)
    c.open()
    c.send(F_ACK | F_PSH, b"100\n")
    if c.read(100, fin=True) != pattern(0, 100):
        raise Bad("not the pattern")
    c.send(F_FIN | F_ACK)
    a = c.expect(1.5, lambda s: True, "ACK of our FIN")
    if a.flags != F_ACK or a.ack != c.snd_nxt or a.seq != c.rcv_nxt:
        raise Bad("not an ACK of our FIN <SEQ=%d><ACK=%d>: %r" % (c.rcv_nxt, c.snd_nxt, a))
    return c


def fin_active(w):
    active_close(w)
    return "their FIN after the data, ours ACKed (FIN-WAIT-2, TIME-WAIT)"


def time_wait(w):
    c = active_close(w)
    time.sleep(0.3)
    c.send(F_FIN | F_ACK, seq=sadd(c.snd_nxt, -1))
    a = c.expect(1.5, lambda s: True, "ACK of the FIN again")
    if a.flags != F_ACK or a.ack != c.snd_nxt or a.seq != c.rcv_nxt:
        raise Bad("not an ACK of our FIN <SEQ=%d><ACK=%d>: %r" % (c.rcv_nxt, c.snd_nxt, a))
    return "a retransmitted FIN in TIME-WAIT is ACKed again"


def ack_delay(c, data, timeout=1):
    c.send(F_ACK | F_PSH, data)
    t = time.monotonic()
    a = c.expect(timeout, lambda s: s.has(F_ACK) and sdiff(s.ack, c.snd_nxt) >= 0,
                 "ACK of %d bytes" % len(data))
    return a.t - t


def delayed_ack(w, target):
    c = Conn(w, SINK)
    c.open()
    small = [ack_delay(c, b"x" * 10) * 1000 for _ in range(3)]
    c.send(F_ACK, b"y" * w.mss)
    full = ack_delay(c, b"z" * w.mss) * 1000
    desc = "small segments ACKed after %s ms, two full-sized after %.1f ms" % (
        ",".join("%.0f" % d for d in small), full)
    c.reset()
    if any(d > 500 for d in small):
        raise Bad("an ACK later than 500 ms: " + desc)
    if target == "M" and any(d < 25 for d in small):
        raise Bad("a small segment ACKed at once: " + desc)
    if full > 20:
        raise Bad("two full-sized segments not ACKed at once: " + desc)
    if target == "L":
        # RFC 1122 4.2.3.2 makes delaying a SHOULD, not a MUST: Linux ACKs at
        # once in its quick-ACK mode after the handshake, and as soon as its
        # reader takes a small pushed segment (tcp_cleanup_rbuf).
        desc += " (Linux may ACK small ones at once: quick-ACK, ACK on read)"
    return desc


def sack(w):
    c = Conn(w, SINK)
    sa = c.open(mss_opt() + struct.pack("!BBBB", OPT_NOP, OPT_NOP, OPT_SACKOK, 2))
    if sa.opt(OPT_SACKOK) != b"":
        raise Bad("SACK-permitted offered, not in the SYN-ACK: %s" % sa.opts)
    s0 = c.snd_nxt
    c.send(F_ACK, b"1" * 100, seq=s0)
    c.send(F_ACK, b"3" * 100, seq=sadd(s0, 200))
    block = struct.pack("!II", sadd(s0, 200), sadd(s0, 300))
    a = c.expect(1.5, lambda s: s.ack == sadd(s0, 100) and s.opt(OPT_SACK) is not None,
                 "ACK of 100 with a SACK block")
    if a.opt(OPT_SACK)[:8] != block:
        raise Bad("SACK option %s, not the block %d-%d" % (a.opt(OPT_SACK).hex(), 200, 300))
    c.send(F_ACK, b"2" * 100, seq=sadd(s0, 100))
    c.snd_nxt = sadd(s0, 300)
    a = c.expect(1.5, lambda s: s.ack == c.snd_nxt, "cumulative ACK of 300")
    if a.opt(OPT_SACK) is not None:
        raise Bad("a SACK block left after the hole was filled: %r" % a)
    c.reset()
    return "ACK 100 with SACK 200-300; after the hole, ACK 300, no block"


def sack_many(w):
    """A hole, then a window's worth of 500-byte segments behind it: all SACKed, all ACKed."""
    size = 500
    c = Conn(w, SINK)
    sa = c.open(mss_opt() + struct.pack("!BBBB", OPT_NOP, OPT_NOP, OPT_SACKOK, 2))
    if sa.opt(OPT_SACKOK) != b"":
        raise Bad("SACK-permitted offered, not in the SYN-ACK: %s" % sa.opts)
    n = min(120, sa.win // size - 1)  # within the SYN-ACK's window (never scaled)
    s0 = c.snd_nxt
    end = sadd(s0, size * (n + 1))
    for i in range(1, n + 1):
        c.send(F_ACK, bytes([48 + i % 10]) * size, seq=sadd(s0, size * i))
    right = None
    for a in c.segs(1.5):
        blk = a.opt(OPT_SACK)
        if a.ack == s0 and blk is not None and len(blk) >= 8:
            l, r = struct.unpack("!II", blk[:8])
            if l == sadd(s0, size):
                right = r
                if r == end:
                    break
    if right != end:
        raise Bad("%d segments of %d after a hole: SACKed to %s, not %d" % (
            n, size, "nothing" if right is None else sdiff(right, s0), sdiff(end, s0)))
    c.send(F_ACK, b"0" * size, seq=s0)
    c.snd_nxt = end
    c.expect(1.5, lambda s: s.ack == end, "the cumulative ACK of %d" % sdiff(end, s0))
    c.reset()
    return "%d segments of %d bytes after a hole SACKed as one block, all %d ACKed once it " \
        "was filled" % (n, size, sdiff(end, s0))


def arp(w, other):
    req = Ether(src=w.my_mac, dst="ff:ff:ff:ff:ff:ff") / ARP(
        op=1, hwsrc=w.my_mac, psrc=w.me, pdst=w.them)
    w.drain()
    w.send_frame(req)
    for p, _ in w.frames(2):
        if ARP in p and p[ARP].op == 2 and p[ARP].psrc == w.them:
            if (p[ARP].hwsrc.lower() != w.them_mac.lower() or p[ARP].pdst != w.me or
                    p[ARP].hwdst.lower() != w.my_mac.lower() or
                    p[Ether].dst.lower() != w.my_mac.lower()):
                raise Bad("reply %s is-at %s to %s" % (p[ARP].psrc, p[ARP].hwsrc, p[ARP].pdst))
            break
    else:
        raise Bad("no ARP reply for %s" % w.them)
    w.send_frame(Ether(src=w.my_mac, dst="ff:ff:ff:ff:ff:ff") / ARP(
        op=1, hwsrc=w.my_mac, psrc=w.me, pdst=other))
    for p, _ in w.frames(1):
        if ARP in p and p[ARP].op == 2:
            raise Bad("a reply for %s, not its address: %s" % (other, p[ARP].summary()))
    return "%s is-at %s; no reply for %s" % (w.them, w.them_mac, other)


def icmp_echo(w):
    payload = os.urandom(200)
    ident, seq = random.randint(1, 65535), 7
    w.drain()
    w.send_frame(IP(src=w.me, dst=w.them) / ICMP(type=8, id=ident, seq=seq) / Raw(payload))
    for p, _ in w.frames(2):
        if ICMP in p and p[IP].src == w.them and p[ICMP].type == 0:
            raw = bytes(p[ICMP])[:p[IP].len - p[IP].ihl * 4]
            if csum16(raw) != 0:
                raise Bad("bad ICMP checksum")
            if p[ICMP].id != ident or p[ICMP].seq != seq or raw[8:] != payload:
                raise Bad("reply id %d seq %d, %d bytes: not ours" % (
                    p[ICMP].id, p[ICMP].seq, len(raw) - 8))
            return "echo reply with our id, seq and 200 bytes"
    raise Bad("no echo reply")


# ------------------------------------------------------------- IPv6 ----

def link_local(mac):
    """The link-local address of @mac, as scapy prints addresses (compressed, lower case)."""
    raw = inet_pton(socket.AF_INET6, "fe80::" + in6_mactoifaceid(mac))
    return inet_ntop(socket.AF_INET6, raw)


def icmp6_sum_ok(p):
    """Whether @p's ICMPv6 checksum is right: scapy's own, recomputed, equals it."""
    raw = bytes(p[IPv6].payload)[:p[IPv6].plen]
    ph = (inet_pton(socket.AF_INET6, p[IPv6].src) + inet_pton(socket.AF_INET6, p[IPv6].dst) +
          struct.pack("!IxxxB", len(raw), 58))
    return csum16(ph + raw) == 0


def solicited(addr):
    """The solicited-node group of @addr, and its MAC."""
    g = in6_getnsma(inet_pton(socket.AF_INET6, addr))
    return inet_ntop(socket.AF_INET6, g), in6_getnsmac(g)


def ns_frame(w, target, hlim=255, opt=None, to=None):
    """An NS from our link-local for @target (to its solicited-node group unless @to)."""
    me, them = link_local(w.my_mac), link_local(w.them_mac)
    grp, gmac = solicited(them)
    opt = ICMPv6NDOptSrcLLAddr(lladdr=w.my_mac) if opt is None else opt
    return Ether(src=w.my_mac, dst=gmac) / IPv6(src=me, dst=to or grp, hlim=hlim) / \
        ICMPv6ND_NS(tgt=target) / opt


def na_for(w, timeout):
    """The first NA from the target within @timeout seconds, or None."""
    for p, _ in w.frames(timeout):
        if ICMPv6ND_NA in p:
            return p
    return None


def nd(w, how):
    """RFC 4861 7.1.1/7.2.4: an NS for the target's address gets an NA; a bad one none."""
    them = link_local(w.them_mac)
    w.drain()
    if how == "ok":
        w.send_frame(ns_frame(w, them))
        p = na_for(w, 2)
        if p is None:
            raise Bad("no NA for %s" % them)
        na = p[ICMPv6ND_NA]
        tlla = p[ICMPv6NDOptDstLLAddr].lladdr if ICMPv6NDOptDstLLAddr in p else None
        if (p[IPv6].hlim != 255 or na.tgt != them or not na.S or na.R or
                p[IPv6].dst != link_local(w.my_mac) or not icmp6_sum_ok(p) or
                (tlla is not None and tlla.lower() != w.them_mac.lower())):
            raise Bad("NA hlim %d target %s S=%d R=%d to %s tlla %s: not as RFC 4861 7.2.4 "
                      "says" % (p[IPv6].hlim, na.tgt, na.S, na.R, p[IPv6].dst, tlla))
        mac = ", its MAC %s in the option" % tlla if tlla else ""
        return "NA (solicited%s) from %s, hop limit 255%s" % (
            ", override" if na.O else "", them, mac)
    frame = {"hops": lambda: ns_frame(w, them, hlim=64),
             "opt0": lambda: ns_frame(w, them, opt=Raw(b"\x01\x00" + bytes.fromhex(
                 w.my_mac.replace(":", "")))),
             "mcast": lambda: ns_frame(w, "ff02::1", to=solicited(them)[0])}[how]()
    w.send_frame(frame)
    p = na_for(w, 1.5)
    if p is not None:
        raise Bad("an NA for a bad NS (%s): %s" % (how, p.summary()))
    return "no NA for an NS with %s" % {"hops": "hop limit 64", "opt0": "a zero-length option",
                                        "mcast": "a multicast target"}[how]


def echo6(w):
    """RFC 4443 4.2: an echo reply with the request's identifier, sequence and data."""
    me, them = link_local(w.my_mac), link_local(w.them_mac)
    payload = os.urandom(200)
    ident, seq = random.randint(1, 65535), 9
    w.drain()
    w.send_frame(Ether(src=w.my_mac, dst=w.them_mac) / IPv6(src=me, dst=them) /
                 ICMPv6EchoRequest(id=ident, seq=seq, data=payload))
    for p, _ in w.frames(3):
        if ICMPv6EchoReply in p and p[IPv6].src == them:
            r = p[ICMPv6EchoReply]
            if not icmp6_sum_ok(p):
                raise Bad("bad ICMPv6 checksum")
            if r.id != ident or r.seq != seq or bytes(r.data) != payload or p[IPv6].dst != me:
                raise Bad("reply id %d seq %d, %d bytes to %s: not ours" % (
                    r.id, r.seq, len(r.data), p[IPv6].dst))
            return "echo reply from %s with our id, seq and 200 bytes" % them
    raise Bad("no ICMPv6 echo reply from %s" % them)


def port_unreach(w):
    sent = IP(src=w.me, dst=w.them, id=random.randint(1, 65535)) / UDP(
        sport=random.randint(40000, 59999), dport=CLOSED_UDP) / Raw(b"q" * 20)
    sent = IP(bytes(sent))
    w.drain()
    w.send_frame(sent)
    for p, _ in w.frames(2):
        if ICMP in p and p[IP].src == w.them and p[ICMP].type == 3:
            raw = bytes(p[ICMP])[:p[IP].len - p[IP].ihl * 4]
            if p[ICMP].code != 3:
                raise Bad("unreachable code %d, not 3 (port)" % p[ICMP].code)
            if csum16(raw) != 0:
                raise Bad("bad ICMP checksum")
            if raw[8:36] != bytes(sent)[:28]:
                raise Bad("quoted %s, sent %s" % (raw[8:36].hex(), bytes(sent)[:28].hex()))
            return "port unreachable quoting our IP header and UDP header (%d bytes quoted)" % (
                len(raw) - 8)
    raise Bad("no ICMP port unreachable")


def closed(w):
    c = Conn(w, CLOSED_TCP)
    w.drain()
    c.send(F_SYN, opts=mss_opt())
    r = c.expect(1.5, lambda s: True, "answer to a SYN to a closed port")
    if r.flags != F_RST | F_ACK or r.ack != c.snd_nxt or r.seq != 0:
        raise Bad("not RST|ACK seq 0 ack %d: %r" % (c.snd_nxt, r))
    # RFC 9293 3.10.7.1: a segment with ACK gets <SEQ=SEG.ACK><CTL=RST>.
    c = Conn(w, CLOSED_TCP)
    c.send(F_ACK | F_PSH, b"stray", ack=0x12345678)
    r = c.expect(1.5, lambda s: True, "answer to an ACK to a closed port")
    if r.flags != F_RST or r.seq != 0x12345678:
        raise Bad("not RST seq=SEG.ACK %d: %r" % (0x12345678, r))
    return "RST|ACK seq=0 ack=SEG.SEQ+1 for a SYN; RST seq=SEG.ACK for an ACK with data"


def syn_again(w):
    """A SYN again in SYN-RECEIVED gets the same SYN-ACK (RFC 9293 3.10.7.4)."""
    c = Conn(w, ECHO)
    sa = c.syn(mss_opt())
    if sa is None:
        raise Bad("no SYN-ACK")
    c.send(F_SYN, seq=c.iss, ack=0, opts=mss_opt())
    again = c.expect(1.5, lambda s: True, "answer to the SYN again")
    if again.flags != F_SYN | F_ACK or again.seq != sa.seq or again.ack != c.snd_nxt:
        raise Bad("not the SYN-ACK again (%r): %r" % (sa, again))
    c.send(F_ACK)
    c.echo(b"after two SYNs")
    c.reset()
    return "the same SYN-ACK again; the connection then works"


def synack_rtx(w):
    """Our ACK of the SYN-ACK lost: it comes again after about the initial RTO, 1 s."""
    c = Conn(w, ECHO)
    sa = c.syn(mss_opt())
    if sa is None:
        raise Bad("no SYN-ACK")
    again = c.expect(4, lambda s: s.has(F_SYN | F_ACK), "SYN-ACK again")
    gap = again.t - sa.t
    if again.seq != sa.seq or again.ack != sa.ack or not 0.8 <= gap <= 3.5:
        raise Bad("SYN-ACK again after %.2f s: %r, first %r" % (gap, again, sa))
    c.send(F_ACK)
    c.echo(b"late ACK")
    c.reset()
    return "SYN-ACK again after %.2f s (RFC 6298 2.1: 1 s); the connection then works" % gap


def paws(w):
    """RFC 7323 5.3: a segment with an old TSval is dropped and ACKed."""
    c = Conn(w, ECHO)
    sa = c.open(mss_opt() + ts_opt(100000, 0))
    ts = sa.opt(OPT_TS)
    if ts is None:
        raise Bad("TS offered, not in the SYN-ACK")
    c.ts, c.ts_recent = True, struct.unpack("!I", ts[:4])[0]
    c.t0 -= 100  # our clock 100 s on: every TSval now is newer than the SYN's
    c.echo(b"fresh")
    c.send(F_ACK | F_PSH, b"stale", advance=False, opts=ts_opt(50000, c.ts_recent))
    a = c.expect(1.5, lambda s: True, "ACK of a segment with an old timestamp")
    if a.flags & ~F_PSH != F_ACK or a.ack != c.snd_nxt or a.data:
        raise Bad("not an ACK of RCV.NXT %d: %r" % (c.snd_nxt, a))
    c.echo(b"fresh again")
    c.reset()
    return "dropped (not echoed) and ACKed"


def syn_data(w):
    """Data on a SYN (RFC 9293 3.10.7.3 allows it): taken and delivered, or not ACKed."""
    c = Conn(w, ECHO)
    w.drain()
    c.send(F_SYN, b"on the SYN", opts=mss_opt())
    sa = c.expect(2, lambda s: s.has(F_SYN | F_ACK), "SYN-ACK")
    if sa.ack == sadd(c.iss, 1):
        c.snd_nxt = sadd(c.iss, 1)
        c.rcv_nxt = sadd(sa.seq, 1)
        c.send(F_ACK)
        c.echo(b"on the SYN")
        how = "the SYN-ACK acks the SYN alone; the data sent again echoes"
    elif sa.ack == c.snd_nxt:
        c.rcv_nxt = sadd(sa.seq, 1)
        c.send(F_ACK)
        if c.read(10) != b"on the SYN":
            raise Bad("the SYN's data did not echo")
        how = "the SYN-ACK acks the data; it echoes"
    else:
        raise Bad("SYN-ACK acks %d: neither ISS+1 nor past the data" % sa.ack)
    c.echo(b"and after")
    c.reset()
    return how


def urgent(w):
    """URG with an urgent pointer: the data is taken in order and ACKed (RFC 9293 3.8.5)."""
    c = Conn(w, SINK)
    c.open()
    # RFC 6093: the pointer names the byte after the urgent data, the last here.
    c.send(F_ACK | F_PSH | F_URG, b"u" * 100, urp=100)
    c.expect(1.5, lambda s: s.has(F_ACK) and s.ack == c.snd_nxt, "ACK of the urgent data")
    c.send(F_ACK | F_PSH, b"n" * 100)
    c.expect(1.5, lambda s: s.has(F_ACK) and s.ack == c.snd_nxt, "ACK of the data after it")
    c.send(F_FIN | F_ACK)
    line = c.read(1, timeout=3, fin=True)
    m = line.split()
    # Without SO_OOBINLINE Linux's reader does not get the urgent byte in
    # the stream; the machine has no out-of-band data: all 200 are inline.
    if len(m) < 2 or m[0] != b"bytes" or int(m[1]) not in (199, 200):
        raise Bad("the sink read %r, not 200 bytes (or 199: the urgent one out of band)" % line)
    return "URG data ACKed in order, the data after it too; the sink read %s bytes" % m[1].decode()


def wscale(w):
    """More than 64 KiB in flight within a scaled window, all of it ACKed (RFC 7323 2)."""
    total, mss = 384 << 10, w.mss
    c = Conn(w, SINK)
    sa = c.open(mss_opt(mss) + struct.pack("!BBBB", OPT_NOP, OPT_WS, 3, 7))
    ws = sa.opt(OPT_WS)
    if ws is None:
        raise Bad("window scale offered, not in the SYN-ACK: %s" % sa.opts)
    shift, c.ws = ws[0], 7
    s0 = acked = nxt = c.snd_nxt
    end = sadd(s0, total)
    right = sadd(s0, sa.win)  # a SYN-ACK's window is never scaled
    most = best_win = resent = 0
    data = os.urandom(total)
    t_end = progress = time.monotonic()
    t_end += 8
    while acked != end and time.monotonic() < t_end:
        while sdiff(nxt, end) < 0 and sdiff(nxt, right) < 0:
            n = min(mss, sdiff(end, nxt), sdiff(right, nxt))
            off = sdiff(nxt, s0)
            c.send(F_ACK, data[off:off + n], seq=nxt)
            nxt = sadd(nxt, n)
            most = max(most, sdiff(nxt, acked))
        for a in c.segs(0.02):
            if a.has(F_RST):
                raise Bad("RST: %r" % a)
            if a.has(F_ACK) and sdiff(a.ack, acked) > 0 and sdiff(a.ack, end) <= 0:
                acked, progress = a.ack, time.monotonic()
            if a.has(F_ACK) and a.ack == acked:
                right = sadd(acked, a.win << shift)
                best_win = max(best_win, a.win << shift)
        if time.monotonic() - progress > 0.5 and acked != end:
            resent += sdiff(nxt, acked)
            nxt, progress = acked, time.monotonic()  # lost: from the cumulative ACK again
    c.snd_nxt = end
    c.reset()
    desc = ("%d KiB sent, %d bytes in flight at most, windows up to %d (shift %d), %d resent" %
            (total >> 10, most, best_win, shift, resent))
    if acked != end:
        raise Bad("ACKed %d of %d bytes: %s" % (sdiff(acked, s0), total, desc))
    if most <= 65535:
        raise Bad("never more than 64 KiB in flight: " + desc)
    return "all ACKed; " + desc


def keep_answer(w):
    """A keepalive probe (SEG.SEQ = SND.NXT - 1, 0 or 1 byte) gets an ACK of RCV.NXT."""
    c = Conn(w, ECHO)
    c.open()
    c.echo(b"before")
    for garbage in (b"", b"\0"):
        c.send(F_ACK, garbage, seq=sadd(c.snd_nxt, -1), advance=False)
        a = c.expect(1.5, lambda s: True, "answer to a keepalive probe of %d bytes" %
                     len(garbage))
        if a.flags & ~F_PSH != F_ACK or a.seq != c.rcv_nxt or a.ack != c.snd_nxt or a.data:
            raise Bad("not an ACK <SEQ=%d><ACK=%d> for a probe of %d bytes: %r" % (
                c.rcv_nxt, c.snd_nxt, len(garbage), a))
    c.echo(b"after")
    c.reset()
    return "probes of 0 and 1 byte ACKed at RCV.NXT, SND.NXT; the byte not taken"


def keep_probe(w):
    """The keep service's stack probes after 1 s idle (RFC 1122 4.2.3.6) and goes on."""
    c = Conn(w, KEEP)
    c.open()
    c.echo(b"idle now")
    idle = time.monotonic()
    p = c.expect(3, lambda s: True, "keepalive probe")
    gap = p.t - idle
    if (p.flags & ~F_PSH != F_ACK or p.seq != sadd(c.rcv_nxt, -1) or p.ack != c.snd_nxt or
            len(p.data) > 1):
        raise Bad("not a probe <SEQ=%d><ACK=%d> of at most a byte: %r" % (
            sadd(c.rcv_nxt, -1), c.snd_nxt, p))
    if not 0.8 <= gap <= 2.5:
        raise Bad("a probe after %.2f s idle, not about 1 s" % gap)
    c.send(F_ACK)
    c.echo(b"still here")
    c.reset()
    return "a probe <SEQ=RCV.NXT-1><ACK=SND.NXT> of %d bytes after %.2f s idle; answered, " \
        "the connection stays" % (len(p.data), gap)


def fragments(raw, size, proto, w, ident):
    """@raw (a transport header and its data) as IPv4 fragments of @size bytes (8 | size)."""
    out = []
    for off in range(0, len(raw), size):
        more = off + size < len(raw)
        out.append(IP(src=w.me, dst=w.them, proto=proto, id=ident, flags="MF" if more else 0,
                      frag=off // 8) / Raw(raw[off:off + size]))
    return out


def frag_tcp(w, order):
    """A TCP segment in IP fragments, in order or not, is reassembled: its data echoes."""
    c = Conn(w, ECHO)
    c.open()
    data = os.urandom(1200)
    frags = fragments(c.raw(F_ACK | F_PSH, data), 296, 6, w, random.randint(1, 65535))
    c.snd_nxt = sadd(c.snd_nxt, len(data))
    if order == "reorder":
        frags = [frags[i] for i in (4, 1, 3, 0, 2)]
    for f in frags:
        w.send_frame(f)
    if c.read(len(data)) != data:
        raise Bad("the reassembled segment did not echo")
    c.reset()
    return "1220 bytes in 5 fragments %s: ACKed and echoed" % (
        "in order" if order == "inorder" else "out of order (4,1,3,0,2)")


def echo_reply(w, ident, seq, timeout):
    for p, _ in w.frames(timeout):
        if (ICMP in p and p[IP].src == w.them and p[ICMP].type == 0 and p[ICMP].id == ident and
                p[ICMP].seq == seq):
            return p
    return None


def frag_overlap(w):
    """Overlapping fragments give the datagram up (RFC 5722's rule; Linux's for IPv4 too)."""
    payload = os.urandom(400)
    ident = random.randint(1, 65535)
    raw = bytes(ICMP(type=8, id=ident, seq=1) / Raw(payload))
    w.drain()
    w.send_frame(IP(src=w.me, dst=w.them, proto=1, id=ident, flags="MF", frag=0) /
                 Raw(raw[:208]))
    w.send_frame(IP(src=w.me, dst=w.them, proto=1, id=ident, frag=25) / Raw(raw[200:]))
    p = echo_reply(w, ident, 1, 0.6)
    if p is not None:
        raise Bad("an echo reply to overlapping fragments: %s" % p.summary())
    ident = ident % 65535 + 1
    raw = bytes(ICMP(type=8, id=ident, seq=2) / Raw(payload))
    frags = fragments(raw, 136, 1, w, ident)
    for f in (frags[2], frags[1], frags[1], frags[0]):
        w.send_frame(f)
    p = echo_reply(w, ident, 2, 2)
    if p is None or bytes(p[ICMP])[8:p[IP].len - p[IP].ihl * 4] != payload:
        raise Bad("no echo reply (or not ours) to the same echo in fragments, last first, the "
                  "middle one twice")
    return "no reply to fragments overlapping by 8 bytes; the same echo in three fragments " \
        "without overlap, the last first and the middle one twice (an exact duplicate), answered"


def main():
    iface, me, them, them_mac, target = sys.argv[1:6]
    other = them.rsplit(".", 1)[0] + ".99"
    w = Wire(iface, me, them, them_mac)
    # The TCP cases, each a function of the wire: IPv4's, and IPv6's as "v6:NAME".
    tcp = {
        "opts-none": lambda w: handshake(w, "none"),
        "opts-mss": lambda w: handshake(w, "mss"),
        "opts-all": lambda w: handshake(w, "all"),
        "csum": csum,
        "rst-inwin": lambda w: rst(w, "inwin"),
        "rst-exact": lambda w: rst(w, "exact"),
        "rst-oow": lambda w: rst(w, "oow"),
        "syn-estab": syn_estab,
        "oow-data": oow_data,
        "zero-window": zero_window,
        "fin-passive": fin_passive,
        "fin-active": fin_active,
        "time-wait": time_wait,
        "delayed-ack": lambda w: delayed_ack(w, target),
        "sack": sack,
        "closed": closed,
        "syn-again": syn_again,
        "synack-rtx": synack_rtx,
        "paws": paws,
        "syn-data": syn_data,
        "urgent": urgent,
        "wscale": wscale,
        "keep-answer": keep_answer,
        "keep-probe": keep_probe,
    }
    tcp.update({"badopt-" + k: (lambda w, k=k: badopt(w, k)) for k in BAD_OPTS})
    cases = {name: (lambda f=f: f(w)) for name, f in tcp.items()}
    if len(sys.argv) > 7:
        w6 = Wire(iface, sys.argv[6], sys.argv[7], them_mac, w.sock)
        cases.update({"v6:" + name: (lambda f=f: f(w6)) for name, f in tcp.items()})
    cases.update({
        "arp": lambda: arp(w, other),
        "icmp-echo": lambda: icmp_echo(w),
        "nd-ns": lambda: nd(w, "ok"),
        "nd-hops": lambda: nd(w, "hops"),
        "nd-opt0": lambda: nd(w, "opt0"),
        "nd-mcast": lambda: nd(w, "mcast"),
        "echo6": lambda: echo6(w),
        "port-unreach": lambda: port_unreach(w),
        "frag-inorder": lambda: frag_tcp(w, "inorder"),
        "frag-reorder": lambda: frag_tcp(w, "reorder"),
        "frag-overlap": lambda: frag_overlap(w),
        "sack-many": lambda: sack_many(w),
    })
    print("ready", flush=True)
    for line in sys.stdin:
        name = line.strip()
        if name not in cases:
            print("bad: no case %r" % name, flush=True)
            continue
        try:
            print("ok " + cases[name](), flush=True)
        except Bad as e:
            print("bad " + str(e), flush=True)
        except Exception as e:  # a fault of this script: say so, go on
            print("bad (script) %s: %s" % (type(e).__name__, e), flush=True)


if __name__ == "__main__":
    main()
