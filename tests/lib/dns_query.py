#!/usr/bin/env python3
# A minimal DNS client over UDP using the classic sendto()/recvfrom() calls, so that
# preload libraries which interpose only those (Dante's client) carry it. Prints one
# address per line from the answer; exit 0 with answers, 1 otherwise.
# Usage: dns_query.py SERVER NAME [A|AAAA [TIMEOUT_S]]
import os
import socket
import struct
import sys


def query(name, qtype):
    qid = struct.unpack("!H", os.urandom(2))[0]
    msg = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        msg += bytes([len(label)]) + label.encode("ascii")
    return qid, msg + b"\0" + struct.pack("!HH", qtype, 1)


def skip_name(buf, i):
    while True:
        n = buf[i]
        if n == 0:
            return i + 1
        if n & 0xC0 == 0xC0:
            return i + 2
        i += 1 + n


def answers(buf, qid):
    rid, flags, qd, an = struct.unpack("!HHHH", buf[:8])
    if rid != qid or flags & 0x000F:
        return []
    i = 12
    for _ in range(qd):
        i = skip_name(buf, i) + 4
    out = []
    for _ in range(an):
        i = skip_name(buf, i)
        rtype, _, _, rdlen = struct.unpack("!HHIH", buf[i:i + 10])
        rdata = buf[i + 10:i + 10 + rdlen]
        i += 10 + rdlen
        if rtype == 1 and rdlen == 4:
            out.append(socket.inet_ntop(socket.AF_INET, rdata))
        elif rtype == 28 and rdlen == 16:
            out.append(socket.inet_ntop(socket.AF_INET6, rdata))
    return out


def main():
    server, name = sys.argv[1], sys.argv[2]
    qtype = 28 if len(sys.argv) > 3 and sys.argv[3].upper() == "AAAA" else 1
    timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 3.0
    fam = socket.AF_INET6 if ":" in server else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    qid, msg = query(name, qtype)
    try:
        s.sendto(msg, (server, 53))
        buf, _ = s.recvfrom(65535)
    except OSError as e:
        print("dns_query: %s" % e, file=sys.stderr)
        return 1
    addrs = answers(buf, qid)
    for a in addrs:
        print(a)
    return 0 if addrs else 1


if __name__ == "__main__":
    sys.exit(main())
