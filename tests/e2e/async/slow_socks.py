#!/usr/bin/env python3
# A SOCKS5 proxy (no auth, CONNECT to IPv4) that is slow, not stalling: it answers the
# greeting at once (reading exactly its bytes, so a pipelined request waits in the
# socket) and the request only after DELAY_MS, like Tor building a circuit.
# Usage: slow_socks.py ADDR PORT DELAY_MS   (prints "slow-socks ready")
import socket
import sys
import threading
import time


def exactly(c, n):
    b = b""
    while len(b) < n:
        d = c.recv(n - len(b))
        if not d:
            raise EOFError
        b += d
    return b


def pump(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
        b.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def session(c, delay):
    try:
        ver, n = exactly(c, 2)
        exactly(c, n)
        c.sendall(b"\x05\x00")
        head = exactly(c, 4)
        if head[3] != 1:
            c.close()
            return
        addr = socket.inet_ntoa(exactly(c, 4))
        port = int.from_bytes(exactly(c, 2), "big")
        time.sleep(delay)
        u = socket.create_connection((addr, port), 5)
        c.sendall(b"\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00")
        threading.Thread(target=pump, args=(u, c), daemon=True).start()
        pump(c, u)
    except (OSError, EOFError):
        c.close()


s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(64)
print("slow-socks ready", flush=True)
while True:
    c, _ = s.accept()
    threading.Thread(target=session, args=(c, int(sys.argv[3]) / 1000.0), daemon=True).start()
