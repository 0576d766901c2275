#!/usr/bin/python3
"""The client side of t/inet/05-idle.t: many TCP connections to one port,
opened and then held idle, driven by lines on standard input.

  idlepeer.py HOST PORT N

Opens N connections, at most BATCH of them being set up at once (so the
server's listen backlog is met, not flooded), and prints one line:
"ok connected N in S s" or "bad ...". Then it reads commands, one a line,
and answers each with one line:

  echo K    K of the held connections, picked at random (seed 5), each send
            a line and must get it back: "ok echoed K" or "bad ..."
  close     every connection closed; "ok closed N"

Every wait is bounded by TIMEOUT seconds of silence.
"""
import random
import resource
import selectors
import socket
import sys
import time

BATCH = 256
TIMEOUT = 30


def connect_all(host, port, n):
    """N connected sockets, or an exception saying how far it got."""
    done, pending = [], {}
    sel = selectors.DefaultSelector()
    started = 0
    last = time.monotonic()
    while len(done) < n:
        while started < n and len(pending) < BATCH:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex((host, port))
            pending[s.fileno()] = s
            sel.register(s, selectors.EVENT_WRITE)
            started += 1
        for key, _ in sel.select(timeout=1):
            s = pending.pop(key.fd)
            sel.unregister(s)
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                raise OSError(err, "connection %d: %s" % (len(done) + 1, socket.errno.errorcode.get(err, err)))
            done.append(s)
            last = time.monotonic()
        if time.monotonic() - last > TIMEOUT:
            raise TimeoutError("%d connected, %d still pending after %d s" % (len(done), len(pending), TIMEOUT))
    sel.close()
    return done


def echo(conns, k):
    rng = random.Random(5)
    for i, s in enumerate(rng.sample(conns, k)):
        msg = b"held %d\n" % i
        s.setblocking(True)
        s.settimeout(TIMEOUT)
        s.sendall(msg)
        got = b""
        while len(got) < len(msg):
            part = s.recv(len(msg) - len(got))
            if not part:
                raise ConnectionError("connection %d closed by the server" % i)
            got += part
        if got != msg:
            raise ValueError("connection %d echoed %r, sent %r" % (i, got, msg))


def main():
    host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    # Within the hard limit: raising that needs a capability a container may not give.
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < n + 64:
        print("bad connect: %d connections asked for, the hard limit on files is %d" % (n, hard), flush=True)
        return 1
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    t0 = time.monotonic()
    try:
        conns = connect_all(host, port, n)
    except Exception as e:  # one line for the test, whatever went wrong
        print("bad connect: %s" % e, flush=True)
        return 1
    print("ok connected %d in %.1f s" % (len(conns), time.monotonic() - t0), flush=True)
    for line in sys.stdin:
        cmd = line.split()
        try:
            if cmd[:1] == ["echo"]:
                echo(conns, int(cmd[1]))
                print("ok echoed %s" % cmd[1], flush=True)
            elif cmd[:1] == ["close"]:
                for s in conns:
                    s.close()
                print("ok closed %d" % len(conns), flush=True)
                conns = []
            else:
                print("bad command %r" % line.strip(), flush=True)
        except Exception as e:
            print("bad %s: %s" % (cmd[0], e), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
