#!/usr/bin/env python3
# The DNS canary of the client namespace: every query that reaches it is a leak past
# the proxy, so it appends the query name to a log (one line each) and answers REFUSED.
# Usage: dns_canary.py ADDR PORT LOGFILE   (prints "canary ready" when listening)
import socket
import struct
import sys
import threading

LOCK = threading.Lock()


def qname(msg):
    # The first question's name; "?" when the message is too short or malformed.
    labels, i = [], 12
    try:
        while msg[i] != 0:
            n = msg[i]
            labels.append(msg[i + 1:i + 1 + n].decode("ascii", "replace"))
            i += 1 + n
        qtype = struct.unpack("!H", msg[i + 1:i + 3])[0]
        return ".".join(labels) or ".", qtype, i + 5
    except (IndexError, struct.error):
        return "?", 0, len(msg)


def refuse(msg):
    if len(msg) < 12:
        return None
    _, _, end = qname(msg)
    flags = struct.unpack("!H", msg[2:4])[0]
    # QR=1, keep opcode and RD, RCODE=5 (REFUSED); echo the question only.
    flags = 0x8000 | (flags & 0x7900) | 5
    return msg[:2] + struct.pack("!HHHHH", flags, 1, 0, 0, 0) + msg[12:end]


def record(log, msg, proto):
    name, qtype, _ = qname(msg)
    with LOCK, open(log, "a") as f:
        f.write("%s %s type=%d\n" % (proto, name, qtype))


def udp_loop(addr, port, log):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, port))
    while True:
        msg, peer = s.recvfrom(65535)
        record(log, msg, "udp")
        reply = refuse(msg)
        if reply:
            s.sendto(reply, peer)


def recv_exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def tcp_session(conn, log):
    with conn:
        conn.settimeout(5)
        try:
            while True:
                hdr = recv_exact(conn, 2)
                if hdr is None:
                    return
                msg = recv_exact(conn, struct.unpack("!H", hdr)[0])
                if msg is None:
                    return
                record(log, msg, "tcp")
                reply = refuse(msg)
                if reply:
                    conn.sendall(struct.pack("!H", len(reply)) + reply)
        except OSError:
            return


def main():
    addr, port, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind((addr, port))
    t.listen(16)
    threading.Thread(target=udp_loop, args=(addr, port, log), daemon=True).start()
    print("canary ready", flush=True)
    while True:
        conn, _ = t.accept()
        threading.Thread(target=tcp_session, args=(conn, log), daemon=True).start()


if __name__ == "__main__":
    main()
