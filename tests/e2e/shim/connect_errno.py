#!/usr/bin/env python3
"""Connects once (blocking) and prints how it went, for the shim's failure tests:
"result=OK|ERRNO_NAME elapsed_ms=N". Usage: connect_errno.py HOST PORT [SEND]:
with SEND, sends it and prints the first line that comes back as "reply=..."."""
import errno
import socket
import sys
import time

host, port = sys.argv[1], int(sys.argv[2])
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
t0 = time.monotonic()
rc = s.connect_ex((host, port))
ms = int((time.monotonic() - t0) * 1000)
print("result=%s elapsed_ms=%d" % ("OK" if rc == 0 else errno.errorcode.get(rc, rc), ms))
if rc == 0 and len(sys.argv) > 3:
    s.settimeout(5)
    s.sendall(sys.argv[3].encode())
    print("reply=%s" % s.recv(4096).decode(errors="replace").strip())
sys.stdout.flush()
