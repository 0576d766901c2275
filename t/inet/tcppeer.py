#!/usr/bin/python3
"""The Linux side of t/inet/02-tcp.t: the TCP clients the test runs against
a server, and a server of the same services (the Linux peer), so that each
case is proven against Linux as well as run against the machine.

The services, on each address given (what t/inet-drive serves too):
  echo    7     every byte back, until the client's FIN; then FIN
  sink    5001  read until FIN, then one line "bytes N sha256 HEX", FIN
  source  5002  read a line "N", send N bytes of the pattern (byte i is
                i % 251), FIN
  rr      5003  read 64-byte messages and send each back, until FIN
  keep    5004  echo, with keepalive probes after 1 s idle (t/inet/04-conform)

  tcppeer.py serve ADDR [ADDR...]     IPv4 or IPv6 addresses
  tcppeer.py echo HOST BYTES          one connection, BYTES echoed back
  tcppeer.py sink HOST BYTES          BYTES of seeded random data; sha256 both sides
  tcppeer.py source HOST BYTES        BYTES of the pattern fetched and checked
  tcppeer.py conc HOST N BYTES        N connections open at once, each echoes BYTES
  tcppeer.py refused HOST PORT        a connect to a closed port: refused, and how fast
  tcppeer.py rr HOST COUNT            COUNT 64-byte round trips, checked

Each client prints one line that starts with "ok " or "bad ", and exits 0
or 1. Every wait is bounded by TIMEOUT seconds of silence.
"""
import hashlib
import random
import socket
import socketserver
import sys
import threading
import time

PORTS = {"echo": 7, "sink": 5001, "source": 5002, "rr": 5003, "keep": 5004}
TIMEOUT = 30
CHUNK = 1 << 16
RR_SIZE = 64
PERIOD = bytes(range(251))


def pattern(offset, n):
    """n bytes of the source pattern from stream offset @offset."""
    start = offset % len(PERIOD)
    reps = (start + n) // len(PERIOD) + 1
    return (PERIOD * reps)[start:start + n]


def random_bytes(n, seed):
    return random.Random(seed).randbytes(n)


def recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        d = s.recv(n - len(buf))
        if not d:
            break
        buf += d
    return bytes(buf)


def recv_line(s, limit=64):
    buf = bytearray()
    while len(buf) < limit:
        d = s.recv(1)
        if not d:
            break
        buf += d
        if d == b"\n":
            break
    return bytes(buf)


def recv_all(s, sink=None):
    """Read until EOF; return (count, sha256 hex), handing chunks to @sink."""
    h = hashlib.sha256()
    n = 0
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    while True:
        k = s.recv_into(buf)
        if k == 0:
            return n, h.hexdigest()
        h.update(view[:k])
        if sink:
            sink(view[:k])
        n += k


# ------------------------------------------------------------ server ----

class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        s = self.request
        s.settimeout(TIMEOUT)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.server.service == "keep":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
        try:
            getattr(self, "serve_" + self.server.service)(s)
        except OSError:
            pass

    def serve_echo(self, s):
        while True:
            d = s.recv(CHUNK)
            if not d:
                return
            s.sendall(d)

    serve_keep = serve_echo

    def serve_sink(self, s):
        n, hexd = recv_all(s)
        s.sendall(b"bytes %d sha256 %s\n" % (n, hexd.encode()))

    def serve_source(self, s):
        line = recv_line(s)
        if not line.endswith(b"\n") or not line[:-1].isdigit():
            return
        n = int(line)
        off = 0
        while off < n:
            k = min(CHUNK * 4 - CHUNK * 4 % len(PERIOD), n - off)
            s.sendall(pattern(off, k))
            off += k

    def serve_rr(self, s):
        while True:
            m = recv_exact(s, RR_SIZE)
            if len(m) < RR_SIZE:
                return
            s.sendall(m)


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 512


class Server6(Server):
    address_family = socket.AF_INET6


def serve(*addrs):
    servers = []
    for addr in addrs:
        for name, port in PORTS.items():
            srv = (Server6 if ":" in addr else Server)((addr, port), Handler)
            srv.service = name
            servers.append(srv)
            threading.Thread(target=srv.serve_forever, daemon=True).start()
    print("serving", flush=True)
    sys.stdin.read()  # until the test closes our standard input
    for srv in servers:
        srv.shutdown()
    return 0


# ----------------------------------------------------------- clients ----

def connect(host, service):
    return socket.create_connection((host, PORTS[service]), timeout=TIMEOUT)


def echo_one(host, data, tag=""):
    """Send @data on one echo connection while reading it back; None or a fault."""
    s = connect(host, "echo")
    fault = []

    def send():
        try:
            for off in range(0, len(data), CHUNK):
                s.sendall(data[off:off + CHUNK])
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            fault.append("send: %s" % e)

    t = threading.Thread(target=send)
    t.start()
    got = bytearray()
    try:
        recv_all(s, got.extend)
    except OSError as e:
        fault.append("recv: %s" % e)
    t.join()
    s.close()
    if fault:
        return "%s%s" % (tag, fault[0])
    if bytes(got) != data:
        first = next((i for i in range(min(len(got), len(data))) if got[i] != data[i]),
                     min(len(got), len(data)))
        return "%sgot %d bytes of %d, first difference at %d" % (tag, len(got), len(data), first)
    return None


def cmd_echo(host, size):
    t0 = time.monotonic()
    fault = echo_one(host, random_bytes(int(size), 7))
    if fault:
        return "bad echo: " + fault
    return "ok echo %s bytes in %.2f s" % (size, time.monotonic() - t0)


def cmd_sink(host, size):
    n = int(size)
    data = random_bytes(n, 5001)
    want = hashlib.sha256(data).hexdigest()
    t0 = time.monotonic()
    s = connect(host, "sink")
    view = memoryview(data)
    for off in range(0, n, CHUNK):
        s.sendall(view[off:off + CHUNK])
    s.shutdown(socket.SHUT_WR)
    line = recv_line(s, 128).decode(errors="replace").strip()
    rest = s.recv(1)
    s.close()
    secs = time.monotonic() - t0
    if line != "bytes %d sha256 %s" % (n, want):
        return "bad sink: sent %d sha256 %s, server said '%s'" % (n, want, line)
    if rest:
        return "bad sink: bytes after the reply line"
    return "ok sink %d bytes in %.2f s, sha256 %s both sides" % (n, secs, want[:16])


def cmd_source(host, size):
    n = int(size)
    want = hashlib.sha256()
    for off in range(0, n, 1 << 20):
        want.update(pattern(off, min(1 << 20, n - off)))
    t0 = time.monotonic()
    s = connect(host, "source")
    s.sendall(b"%d\n" % n)
    # Our FIN first, so that the TIME-WAIT is ours and not the server's 60 s.
    s.shutdown(socket.SHUT_WR)
    got, hexd = recv_all(s)
    s.close()
    secs = time.monotonic() - t0
    if got != n or hexd != want.hexdigest():
        return "bad source: got %d bytes sha256 %s, want %d sha256 %s" % (
            got, hexd, n, want.hexdigest())
    return "ok source %d bytes in %.2f s, sha256 %s" % (n, secs, hexd[:16])


def cmd_conc(host, count, size):
    count, size = int(count), int(size)
    socks, faults = [], []
    for i in range(count):  # all open before any sends: they are concurrent
        try:
            socks.append(connect(host, "echo"))
        except OSError as e:
            faults.append("connect %d: %s" % (i, e))
            break
    opened = len(socks)
    lock = threading.Lock()

    def one(i, s):
        data = (b"%05d-" % i) * (size // 6 + 1)
        data = data[:size]
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            got = bytearray()
            recv_all(s, got.extend)
            fault = None if bytes(got) == data else "conn %d: %d bytes back of %d" % (
                i, len(got), size)
        except OSError as e:
            fault = "conn %d: %s" % (i, e)
        s.close()
        if fault:
            with lock:
                faults.append(fault)

    threads = [threading.Thread(target=one, args=(i, s)) for i, s in enumerate(socks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    good = opened - sum(1 for f in faults if f.startswith("conn "))
    if faults or opened != count:
        return "bad conc: %d opened, %d echoed of %d; %s" % (opened, good, count, faults[0])
    return "ok conc %d connections open at once, each echoed %d bytes" % (count, size)


def cmd_refused(host, port):
    t0 = time.monotonic()
    try:
        s = socket.create_connection((host, int(port)), timeout=5)
        s.close()
        return "bad refused: connected"
    except ConnectionRefusedError:
        return "ok refused in %.3f s" % (time.monotonic() - t0)
    except OSError as e:
        return "bad refused: %s after %.3f s" % (e, time.monotonic() - t0)


def cmd_rr(host, count):
    s = connect(host, "rr")
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    times = []
    for i in range(int(count)):
        m = (b"%08d" % i) * (RR_SIZE // 8)
        t0 = time.monotonic_ns()
        s.sendall(m)
        back = recv_exact(s, RR_SIZE)
        times.append(time.monotonic_ns() - t0)
        if back != m:
            s.close()
            return "bad rr: message %d came back as %r" % (i, back[:16])
    s.shutdown(socket.SHUT_WR)
    tail = s.recv(1)
    s.close()
    if tail:
        return "bad rr: bytes after the last answer"
    times.sort()
    return "ok rr %s round trips, p50 %d us p99 %d us" % (
        count, times[len(times) // 2] // 1000, times[len(times) * 99 // 100] // 1000)


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    if argv[1] == "serve":
        return serve(*argv[2:])
    fn = globals().get("cmd_" + argv[1])
    if not fn:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        out = fn(*argv[2:])
    except (OSError, ValueError) as e:
        out = "bad %s: %s" % (argv[1], e)
    print(out, flush=True)
    return 0 if out.startswith("ok ") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
