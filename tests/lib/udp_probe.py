#!/usr/bin/env python3
# Sends one datagram of SIZE random bytes to HOST PORT and waits for the identical
# datagram back (an echo server). Exit 0 on a byte-exact echo, 1 otherwise.
# Usage: udp_probe.py HOST PORT [SIZE [TIMEOUT_S]]
import os
import socket
import sys


def main():
    host, port = sys.argv[1].strip("[]"), int(sys.argv[2])
    size = int(sys.argv[3]) if len(sys.argv) > 3 else 64
    timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 2.0
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    payload = os.urandom(size)
    try:
        s.sendto(payload, (host, port))
        data = s.recv(65535)
    except OSError as e:
        print("udp_probe: %s" % e, file=sys.stderr)
        return 1
    if data != payload:
        print("udp_probe: got %d bytes, not the %d sent" % (len(data), size), file=sys.stderr)
        return 1
    print("udp_probe: %d bytes echoed" % size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
