#!/usr/bin/env python3
"""A stand-in for systemd's notification socket: binds an AF_UNIX datagram socket
at argv[1], prints "ready" and then every message received, one per line, for at
most argv[2] seconds."""
import os
import socket
import sys
import time

path, secs = sys.argv[1], float(sys.argv[2])
try:
    os.unlink(path)
except FileNotFoundError:
    pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
print("ready", flush=True)
end = time.time() + secs
while time.time() < end:
    s.settimeout(max(0.05, end - time.time()))
    try:
        msg = s.recv(4096)
    except socket.timeout:
        break
    print("msg " + msg.decode(errors="replace").replace("\n", " "), flush=True)
