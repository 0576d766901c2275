#!/usr/bin/python3
"""Clients of an echo server, for t/inet/07-sockets.t.

  echopeer.py tcp HOST PORT CONNS BYTES SECS
      CONNS connections at once, each sending BYTES random bytes while it
      reads the echo, then its FIN, reading to the server's FIN; one line:
      "tcp conns N intact M bytes B" (intact: the echo's sha256 is the
      sent bytes', its length the same, and the server's FIN came after it)
  echopeer.py udp HOST PORT COUNT SECS
      COUNT datagrams of 1..8000 bytes (past the MTU: fragments), one at a
      time, each waited for; "udp sent N intact M"
Everything within SECS seconds; a connection not done by then is not intact.
"""
import hashlib
import os
import selectors
import socket
import sys
import time


def tcp(host, port, conns, nbytes, secs):
    sel = selectors.DefaultSelector()
    deadline = time.monotonic() + secs
    state = {}
    for i in range(conns):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(secs)
        s.connect((host, port))
        s.setblocking(False)
        data = os.urandom(nbytes)
        state[s] = {"data": data, "off": 0, "got": hashlib.sha256(), "n": 0,
                    "want": hashlib.sha256(data).hexdigest(), "eof": False, "shut": False}
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    intact = 0
    total = 0
    live = len(state)
    while live and time.monotonic() < deadline:
        for key, ev in sel.select(timeout=1):
            s = key.fileobj
            st = state[s]
            if ev & selectors.EVENT_WRITE and st["off"] < nbytes:
                try:
                    st["off"] += s.send(st["data"][st["off"]:st["off"] + 65536])
                except BlockingIOError:
                    pass
                if st["off"] == nbytes:
                    s.shutdown(socket.SHUT_WR)
                    sel.modify(s, selectors.EVENT_READ)
            if ev & selectors.EVENT_READ:
                try:
                    b = s.recv(65536)
                except BlockingIOError:
                    continue
                except ConnectionError:
                    b = b""
                if b:
                    st["got"].update(b)
                    st["n"] += len(b)
                    total += len(b)
                    continue
                sel.unregister(s)
                s.close()
                live -= 1
                if st["n"] == nbytes and st["got"].hexdigest() == st["want"]:
                    intact += 1
    print("tcp conns %d intact %d bytes %d" % (conns, intact, total))


def udp(host, port, count, secs):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    deadline = time.monotonic() + secs
    intact = 0
    for i in range(count):
        if time.monotonic() > deadline:
            break
        data = os.urandom(1 + (i * 797) % 8000)
        for _ in range(3):
            s.sendto(data, (host, port))
            try:
                b, frm = s.recvfrom(65536)
            except socket.timeout:
                continue
            if b == data and frm == (host, port):
                intact += 1
            break
    print("udp sent %d intact %d" % (count, intact))


if __name__ == "__main__":
    if sys.argv[1] == "tcp":
        tcp(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]))
    else:
        udp(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
