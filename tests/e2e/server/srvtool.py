#!/usr/bin/env python3
"""Raw-socket helpers for the socksifyd suites: small target servers (TCP/UDP echo)
and adversarial SOCKS client probes that the standard clients never exercise
(1-byte segments, pipelining, malformed and truncated messages, BIND, UDP).

Servers print "port N" on stdout once listening. Probes print one line per check
and exit 0 when every check passed, 1 otherwise."""
import argparse
import hashlib
import os
import random
import select
import socket
import struct
import sys
import threading
import time

TIMEOUT = 5.0


# ---------------------------------------------------------------- wire helpers
def addr_bytes(host, port):
    """SOCKS5 ATYP + address + port for an IP literal or a name."""
    for fam, atyp in ((socket.AF_INET, 1), (socket.AF_INET6, 4)):
        try:
            return bytes([atyp]) + socket.inet_pton(fam, host) + struct.pack(">H", port)
        except OSError:
            pass
    name = host.encode()
    return bytes([3, len(name)]) + name + struct.pack(">H", port)


def s5_req(cmd, host, port):
    return bytes([5, cmd, 0]) + addr_bytes(host, port)


def s5_auth(user, pw):
    u, p = user.encode(), pw.encode()
    return bytes([1, len(u)]) + u + bytes([len(p)]) + p


def s4_req(cmd, host, port, userid=b"", name=None):
    if name is not None:
        return struct.pack(">BBH", 4, cmd, port) + bytes([0, 0, 0, 1]) + userid + b"\0" + \
            name.encode() + b"\0"
    return struct.pack(">BBH", 4, cmd, port) + socket.inet_aton(host) + userid + b"\0"


def recv_exact(s, n, timeout=TIMEOUT):
    s.settimeout(timeout)
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("EOF after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def read_s5_reply(s, timeout=TIMEOUT):
    """Returns (rep, host, port)."""
    head = recv_exact(s, 4, timeout)
    if head[0] != 5:
        raise ValueError("reply version %d" % head[0])
    atyp = head[3]
    if atyp == 1:
        host = socket.inet_ntop(socket.AF_INET, recv_exact(s, 4))
    elif atyp == 4:
        host = socket.inet_ntop(socket.AF_INET6, recv_exact(s, 16))
    elif atyp == 3:
        host = recv_exact(s, recv_exact(s, 1)[0]).decode()
    else:
        raise ValueError("reply atyp %d" % atyp)
    port = struct.unpack(">H", recv_exact(s, 2))[0]
    return head[1], host, port


def read_s4_reply(s, timeout=TIMEOUT):
    r = recv_exact(s, 8, timeout)
    return r[1], socket.inet_ntoa(r[4:8]), struct.unpack(">H", r[2:4])[0]


def wait_eof(s, timeout):
    """True when the peer closes (EOF or reset) within timeout, reading and
    discarding anything it sends first."""
    end = time.time() + timeout
    while time.time() < end:
        s.settimeout(max(0.01, end - time.time()))
        try:
            if not s.recv(65536):
                return True
        except socket.timeout:
            return False
        except ConnectionError:
            return True
    return False


def hostport(s):
    h, p = s.rsplit(":", 1)
    return h.strip("[]"), int(p)


class Checker:
    def __init__(self):
        self.failed = 0
        self.n = 0

    def check(self, cond, what):
        self.n += 1
        if cond:
            print("ok %s" % what)
        else:
            self.failed += 1
            print("FAIL %s" % what)
        sys.stdout.flush()
        return cond

    def done(self):
        print("%d checks, %d failed" % (self.n, self.failed))
        sys.exit(1 if self.failed else 0)


# ---------------------------------------------------------------- target servers
def serve_echo_tcp(args):
    """Echo server. A connection starting with "WHOAMI\\n" gets its peer address
    back; "HALFCLOSE\\n" makes the server shut its write side at once and then
    report how many bytes followed until EOF (on stdout)."""
    ls = socket.socket(socket.AF_INET6 if ":" in args.bind else socket.AF_INET)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((args.bind, 0))
    ls.listen(256)
    print("port %d" % ls.getsockname()[1], flush=True)

    def handle(c, peer):
        try:
            first = c.recv(65536)
            if first.startswith(b"WHOAMI\n"):
                c.sendall(("%s:%d\n" % (peer[0], peer[1])).encode())
                first = first[7:]
            if first.startswith(b"BIGCLOSE "):
                # Send N bytes, then close completely, whatever the client does.
                n = int(first[9:first.index(b"\n")])
                blk = bytes(range(256)) * 256
                while n > 0:
                    c.sendall(blk[:min(n, len(blk))])
                    n -= min(n, len(blk))
                return
            if first.startswith(b"HALFCLOSE\n"):
                c.shutdown(socket.SHUT_WR)
                n = len(first) - 10
                while True:
                    d = c.recv(65536)
                    if not d:
                        break
                    n += len(d)
                print("halfclose received %d" % n, flush=True)
                return
            if first:
                c.sendall(first)
            while True:
                d = c.recv(262144)
                if not d:
                    break
                c.sendall(d)
            c.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        finally:
            c.close()

    while True:
        c, peer = ls.accept()
        threading.Thread(target=handle, args=(c, peer), daemon=True).start()


def serve_echo_udp(args):
    s = socket.socket(socket.AF_INET6 if ":" in args.bind else socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((args.bind, 0))
    print("port %d" % s.getsockname()[1], flush=True)
    while True:
        d, peer = s.recvfrom(65535)
        s.sendto(d, peer)


# ---------------------------------------------------------------- probes
CREDS = None   # (user, password) from --user/--password, used by s5_hello
SOURCE = None  # --source: the local address probes connect from


def connect_proxy(proxy, source=None):
    h, p = hostport(proxy)
    s = socket.socket(socket.AF_INET6 if ":" in h else socket.AF_INET)
    source = source or SOURCE
    if source:
        s.bind((source, 0))
    s.settimeout(TIMEOUT)
    s.connect((h, p))
    return s


def s5_hello(s, user=None, pw=None):
    """Greeting (and RFC 1929 auth when credentials are known)."""
    if user is None and CREDS:
        user, pw = CREDS
    if user is None:
        s.sendall(b"\x05\x01\x00")
        assert recv_exact(s, 2) == b"\x05\x00"
    else:
        s.sendall(b"\x05\x01\x02")
        assert recv_exact(s, 2) == b"\x05\x02"
        s.sendall(s5_auth(user, pw))
        assert recv_exact(s, 2) == b"\x01\x00"


def s5_connect(proxy, host, port, user=None, pw=None):
    s = connect_proxy(proxy)
    if user is None and CREDS:
        user, pw = CREDS
    if user is None:
        s.sendall(b"\x05\x01\x00")
        assert recv_exact(s, 2) == b"\x05\x00"
    else:
        s.sendall(b"\x05\x01\x02")
        assert recv_exact(s, 2) == b"\x05\x02"
        s.sendall(s5_auth(user, pw))
        assert recv_exact(s, 2) == b"\x01\x00"
    s.sendall(s5_req(1, host, port))
    return s, read_s5_reply(s)


def probe_basic(a, ck):
    th, tp = hostport(a.target)
    s, (rep, bh, bp) = s5_connect(a.proxy, th, tp, a.user, a.password)
    ck.check(rep == 0, "CONNECT succeeds (rep %d)" % rep)
    s.sendall(b"WHOAMI\n")
    seen = s.recv(64).decode().strip()
    ck.check(seen == "%s:%d" % (bh, bp), "BND %s:%d is the address the target saw (%s)" %
             (bh, bp, seen))
    s.sendall(b"ping")
    ck.check(recv_exact(s, 4) == b"ping", "data echoed")
    s.close()


def probe_split(a, ck):
    """Every handshake byte in its own segment."""
    th, tp = hostport(a.target)
    s = connect_proxy(a.proxy)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    msg = b"\x05\x01\x00"
    for b in msg:
        s.send(bytes([b]))
        time.sleep(0.02)
    ck.check(recv_exact(s, 2) == b"\x05\x00", "greeting in 1-byte writes answered")
    for b in s5_req(1, th, tp):
        s.send(bytes([b]))
        time.sleep(0.02)
    rep = read_s5_reply(s)[0]
    ck.check(rep == 0, "request in 1-byte writes answered (rep %d)" % rep)
    s.sendall(b"x" * 10)
    ck.check(recv_exact(s, 10) == b"x" * 10, "relay after split handshake")
    s.close()
    # SOCKS4a split too
    s = connect_proxy(a.proxy)
    for b in s4_req(1, None, tp, b"me", name=th):
        s.send(bytes([b]))
        time.sleep(0.01)
    cd = read_s4_reply(s)[0]
    ck.check(cd == 90, "SOCKS4a request in 1-byte writes granted (cd %d)" % cd)
    s.close()


def probe_pipelined(a, ck):
    """Greeting (+auth) + request + application data in one write."""
    th, tp = hostport(a.target)
    s = connect_proxy(a.proxy)
    if a.user:
        blob = b"\x05\x01\x02" + s5_auth(a.user, a.password)
    else:
        blob = b"\x05\x01\x00"
    t0 = time.time()
    s.sendall(blob + s5_req(1, th, tp) + b"early-data")
    m = recv_exact(s, 2)
    ck.check(m == (b"\x05\x02" if a.user else b"\x05\x00"), "method reply")
    if a.user:
        ck.check(recv_exact(s, 2) == b"\x01\x00", "auth reply")
    rep = read_s5_reply(s)[0]
    ck.check(rep == 0, "request reply in the same round trip (rep %d, %.0f ms)" %
             (rep, (time.time() - t0) * 1000))
    ck.check(recv_exact(s, 10) == b"early-data", "data sent with the request is kept")
    s.close()
    if a.user:
        return  # SOCKS4 is refused when a users file is set (probe auth checks it)
    # SOCKS4 with data right behind the request
    s = connect_proxy(a.proxy)
    s.sendall(s4_req(1, th, tp, b"u") + b"four")
    ck.check(read_s4_reply(s)[0] == 90, "SOCKS4 granted")
    ck.check(recv_exact(s, 4) == b"four", "SOCKS4 early data kept")
    s.close()


def expect_reply_then_close(ck, proxy, blob, what, want, parse, shut=False):
    s = connect_proxy(proxy)
    try:
        s.sendall(blob)
        if shut:
            s.shutdown(socket.SHUT_WR)
        got = parse(s)
        ck.check(got == want, "%s: got %r, want %r" % (what, got, want))
        ck.check(wait_eof(s, 3), "%s: then closed" % what)
    except (EOFError, OSError, ValueError) as e:
        ck.check(False, "%s: %s" % (what, e))
    finally:
        s.close()


def probe_malformed(a, ck):
    th, tp = hostport(a.target)
    g = b"\x05\x01\x00"
    rep = lambda s: (recv_exact(s, 2), read_s5_reply(s)[0])
    expect_reply_then_close(ck, a.proxy, g + b"\x05\x09\x00" + addr_bytes(th, tp),
                            "unknown command", (b"\x05\x00", 7), rep)
    expect_reply_then_close(ck, a.proxy, g + b"\x05\x01\x00\x07" + b"\0" * 6,
                            "bad ATYP", (b"\x05\x00", 8), rep)
    expect_reply_then_close(ck, a.proxy, g + b"\x05\x01\x00\x03\x00\x00\x50",
                            "empty domain name", (b"\x05\x00", 1), rep)
    expect_reply_then_close(ck, a.proxy, g + b"\x04\x01\x00\x01" + b"\0" * 6,
                            "request with version 4", (b"\x05\x00", 1), rep)
    expect_reply_then_close(ck, a.proxy, b"\x05\x00", "NMETHODS 0", b"\x05\xff",
                            lambda s: recv_exact(s, 2))
    expect_reply_then_close(ck, a.proxy, b"\x05\x01\x01", "only GSSAPI offered", b"\x05\xff",
                            lambda s: recv_exact(s, 2))
    expect_reply_then_close(ck, a.proxy, s4_req(1, th, tp, b"A" * 300), "SOCKS4 oversize userid",
                            91, lambda s: read_s4_reply(s)[0])
    expect_reply_then_close(ck, a.proxy, s4_req(3, th, tp), "SOCKS4 unknown command", 91,
                            lambda s: read_s4_reply(s)[0])
    expect_reply_then_close(ck, a.proxy, s4_req(1, None, tp, b"", name="x" * 300),
                            "SOCKS4a oversize name", 91, lambda s: read_s4_reply(s)[0])
    # Not SOCKS at all: nothing sensible to answer, a close.
    s = connect_proxy(a.proxy)
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    ck.check(wait_eof(s, 3), "HTTP request instead of SOCKS: closed")
    s.close()
    # Truncated at every byte, then half-closed: the server must close, not hang.
    full = g + s5_req(1, th, tp)
    hung = 0
    for k in range(1, len(full)):
        s = connect_proxy(a.proxy)
        s.sendall(full[:k])
        s.shutdown(socket.SHUT_WR)
        if not wait_eof(s, 3):
            hung += 1
        s.close()
    ck.check(hung == 0, "SOCKS5 truncated at each of %d bytes: closed every time (%d hung)" %
             (len(full) - 1, hung))
    full = s4_req(1, None, tp, b"user", name=th)
    hung = 0
    for k in range(1, len(full)):
        s = connect_proxy(a.proxy)
        s.sendall(full[:k])
        s.shutdown(socket.SHUT_WR)
        if not wait_eof(s, 3):
            hung += 1
        s.close()
    ck.check(hung == 0, "SOCKS4a truncated at each of %d bytes: closed every time" %
             (len(full) - 1))
    # Random bytes: each connection is answered or closed, the server stays up.
    rnd = random.Random(1234)
    hung = 0
    for i in range(60):
        s = connect_proxy(a.proxy)
        first = rnd.choice([4, 5, rnd.randrange(256)])
        blob = bytes([first]) + bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 600)))
        try:
            s.sendall(blob)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        if not wait_eof(s, 3):
            hung += 1
        s.close()
    ck.check(hung == 0, "60 random-byte sessions all ended (%d hung)" % hung)
    # Oversize but legal fields: a 255-byte name.
    s = connect_proxy(a.proxy)
    name = ("a" * 63 + ".") * 3 + "b" * 55 + ".invalid"
    s.sendall(g + s5_req(1, name[:255], tp))
    recv_exact(s, 2)
    r = read_s5_reply(s)[0]
    ck.check(r == 4, "255-byte name under .invalid: host unreachable (rep %d)" % r)
    s.close()
    probe_basic(a, ck)


def probe_idle(a, ck):
    """Idle and half-open handshakes end at the handshake deadline."""
    t0 = time.time()
    s1 = connect_proxy(a.proxy)
    s2 = connect_proxy(a.proxy)
    s2.sendall(b"\x05\x01")  # half a greeting
    s3 = connect_proxy(a.proxy)
    s3.sendall(b"\x05\x01\x00")
    recv_exact(s3, 2)  # greeting done, request never comes
    ok = all(wait_eof(s, a.deadline + 3) for s in (s1, s2))
    took = time.time() - t0
    try:
        rep = read_s5_reply(s3, a.deadline + 3)[0]
    except (EOFError, OSError, ValueError):
        rep = None
    ck.check(rep == 1, "a client that never sent its request gets REP 1 at the deadline (%r)" % rep)
    ok = ok and wait_eof(s3, 4)
    ck.check(ok, "silent, half-greeting and no-request clients closed (%.1f s)" % took)
    ck.check(took >= a.deadline - 0.5, "not before the deadline (%.1f s >= %d s)" %
             (took, a.deadline))


def probe_auth(a, ck):
    th, tp = hostport(a.target)
    s = connect_proxy(a.proxy)
    s.sendall(b"\x05\x01\x02" + s5_auth(a.user, a.password + "x"))
    ck.check(recv_exact(s, 2) == b"\x05\x02", "username/password selected")
    st = recv_exact(s, 2)
    ck.check(st[1] != 0, "wrong password refused (status %d)" % st[1])
    ck.check(wait_eof(s, 3), "then closed")
    s.close()
    s = connect_proxy(a.proxy)
    s.sendall(b"\x05\x01\x02" + s5_auth("nosuchuser", "pw"))
    recv_exact(s, 2)
    ck.check(recv_exact(s, 2)[1] != 0, "unknown user refused")
    s.close()
    s = connect_proxy(a.proxy)
    s.sendall(b"\x05\x01\x00")
    ck.check(recv_exact(s, 2) == b"\x05\xff", "no-auth only: no acceptable method")
    s.close()
    s = connect_proxy(a.proxy)
    s.sendall(s4_req(1, th, tp))
    ck.check(read_s4_reply(s)[0] == 91, "SOCKS4 refused (91) when a users file is set")
    s.close()
    s = connect_proxy(a.proxy)
    s.sendall(s4_req(1, None, tp, name="localhost"))
    ck.check(read_s4_reply(s)[0] == 91, "SOCKS4a refused (91) when a users file is set")
    s.close()
    s, (rep, _, _) = s5_connect(a.proxy, th, tp, a.user, a.password)
    ck.check(rep == 0, "the next good client is served")
    s.sendall(b"ok")
    ck.check(recv_exact(s, 2) == b"ok", "and relayed")
    s.close()


def probe_rep(a, ck):
    """CONNECT to host:port, expect a given REP (and, for SOCKS4, 91)."""
    h, p = hostport(a.dest)
    s = connect_proxy(a.proxy)
    s5_hello(s)
    s.sendall(s5_req(1, h, p))
    rep = read_s5_reply(s, timeout=15)[0]
    ck.check(rep == a.want, "CONNECT %s: rep %d (want %d)" % (a.dest, rep, a.want))
    if a.want:
        ck.check(wait_eof(s, 4), "then closed")
    s.close()
    if a.want and ":" not in h and not CREDS:
        s = connect_proxy(a.proxy)
        try:
            socket.inet_aton(h)
            s.sendall(s4_req(1, h, p))
        except OSError:
            s.sendall(s4_req(1, None, p, name=h))
        cd = read_s4_reply(s, timeout=15)[0]
        ck.check(cd == 91, "SOCKS4 CONNECT %s: cd %d (want 91)" % (a.dest, cd))
        s.close()


def probe_halfclose(a, ck):
    th, tp = hostport(a.target)
    # Client ends first: everything still echoed, then EOF from the target side.
    s, (rep, _, _) = s5_connect(a.proxy, th, tp)
    data = os.urandom(300000)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    got = b""
    s.settimeout(TIMEOUT)
    while True:
        d = s.recv(65536)
        if not d:
            break
        got += d
    ck.check(got == data, "client half-close: all %d bytes echoed, then EOF" % len(data))
    s.close()
    # Client half-closes, the target answers with a lot and closes at once while
    # the client is still slow to read: nothing may be lost.
    n = 8 << 20
    s, (rep, _, _) = s5_connect(a.proxy, th, tp)
    s.sendall(b"BIGCLOSE %d\n" % n)
    s.shutdown(socket.SHUT_WR)
    time.sleep(1.0)
    got = 0
    s.settimeout(TIMEOUT)
    while True:
        d = s.recv(1 << 20)
        if not d:
            break
        got += len(d)
    ck.check(got == n, "slow reader after its half-close gets all %d bytes (%d)" % (n, got))
    s.close()
    # Target ends first: the client sees EOF and can still send.
    s, (rep, _, _) = s5_connect(a.proxy, th, tp)
    s.sendall(b"HALFCLOSE\n")
    ck.check(wait_eof(s, 3), "target half-close reaches the client as EOF")
    s.sendall(b"y" * 12345)
    s.shutdown(socket.SHUT_WR)
    time.sleep(0.3)
    s.close()
    print("sent 12345 after EOF", flush=True)


def probe_bind(a, ck):
    """BIND: first reply names the listening address, the peer connects from the
    expected IP, the second reply names it, data flows both ways. A stranger is
    turned away first."""
    for ver in (5, 4):
        s = connect_proxy(a.proxy)
        expect = "127.0.0.1"
        if ver == 5:
            s.sendall(b"\x05\x01\x00" + s5_req(2, expect, 0))
            recv_exact(s, 2)
            rep, bh, bp = read_s5_reply(s)
        else:
            s.sendall(s4_req(2, expect, 0))
            rep, bh, bp = read_s4_reply(s)
            rep = 0 if rep == 90 else rep
        ck.check(rep == 0 and bp != 0, "SOCKS%d BIND first reply %s:%d" % (ver, bh, bp))
        stranger = socket.socket()
        stranger.bind(("127.0.0.2", 0))
        stranger.settimeout(TIMEOUT)
        stranger.connect((bh, bp))
        ck.check(wait_eof(stranger, 3), "SOCKS%d BIND: a stranger (127.0.0.2) is turned away" % ver)
        stranger.close()
        peer = socket.socket()
        peer.bind(("127.0.0.1", 0))
        peer.settimeout(TIMEOUT)
        peer.connect((bh, bp))
        if ver == 5:
            rep2, ph, pp = read_s5_reply(s)
        else:
            rep2, ph, pp = read_s4_reply(s)
            rep2 = 0 if rep2 == 90 else rep2
        ck.check(rep2 == 0 and (ph, pp) == peer.getsockname(),
                 "SOCKS%d BIND second reply names the peer %s:%d" % (ver, ph, pp))
        s.sendall(b"to-peer")
        ck.check(recv_exact(peer, 7) == b"to-peer", "client -> peer")
        peer.sendall(b"to-client")
        ck.check(recv_exact(s, 9) == b"to-client", "peer -> client")
        peer.close()
        ck.check(wait_eof(s, 3), "peer close reaches the client")
        s.close()


def probe_bind_remote(a, ck):
    """BIND naming a.dest as the expected peer: prints "bound HOST PORT", waits for
    that peer (started by the caller) to connect, then sends "to-peer" and expects
    "to-client" back."""
    h, p = hostport(a.dest)
    s = connect_proxy(a.proxy)
    s5_hello(s)
    s.sendall(s5_req(2, h, p))
    rep, bh, bp = read_s5_reply(s)
    ck.check(rep == 0, "BIND first reply (rep %d) %s:%d" % (rep, bh, bp))
    if a.want_bnd:
        ck.check(bh == a.want_bnd, "listening on the outbound-facing address %s" % a.want_bnd)
    print("bound %s %d" % (bh, bp), flush=True)
    rep, ph, pp = read_s5_reply(s, timeout=15)
    ck.check(rep == 0 and ph == h, "second reply names the peer %s:%d" % (ph, pp))
    s.sendall(b"to-peer")
    ck.check(recv_exact(s, 9) == b"to-client", "peer -> client")
    s.close()


def udp_assoc(proxy, dst_port=0, src=None):
    s = connect_proxy(proxy, src)
    s5_hello(s)
    s.sendall(s5_req(3, "0.0.0.0", dst_port))
    return s, read_s5_reply(s)


def udp_wrap(host, port, data, frag=0):
    return b"\0\0" + bytes([frag]) + addr_bytes(host, port) + data


def udp_unwrap(d):
    atyp = d[3]
    off = {1: 4 + 4, 4: 4 + 16}.get(atyp, 5 + (d[4] if len(d) > 4 else 0))
    return d[off + 2:]


def udp_roundtrip(u, relay, host, port, data, timeout=2.0):
    u.sendto(udp_wrap(host, port, data), relay)
    u.settimeout(timeout)
    try:
        d, _ = u.recvfrom(70000)
        return udp_unwrap(d)
    except socket.timeout:
        return None


def probe_udp(a, ck):
    th, tp = hostport(a.udp_target)
    s, (rep, rh, rp) = udp_assoc(a.proxy)
    ck.check(rep == 0 and rp != 0, "UDP ASSOCIATE relay at %s:%d" % (rh, rp))
    if a.advertise:
        ck.check(rh == a.advertise, "advertised address %s in the reply" % rh)
        rh = hostport(a.proxy)[0]
    relay = (rh, rp)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    ck.check(udp_roundtrip(u, relay, th, tp, b"A") == b"A", "1-byte datagram round trip")
    big = os.urandom(60000)
    ck.check(udp_roundtrip(u, relay, th, tp, big) == big, "60000-byte datagram intact")
    ck.check(udp_roundtrip(u, relay, "localhost", tp, b"named") == b"named",
             "domain-name destination resolved")
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.bind(("127.0.0.1", 0))
    ck.check(udp_roundtrip(other, relay, th, tp, b"hijack", 0.5) is None,
             "another port of the client IP dropped (port pinned)")
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stranger.bind(("127.0.0.2", 0))
    ck.check(udp_roundtrip(stranger, relay, th, tp, b"stranger", 0.5) is None,
             "stranger IP dropped")
    u.sendto(udp_wrap(th, tp, b"frag", frag=1), relay)
    u.settimeout(0.5)
    try:
        u.recvfrom(70000)
        ck.check(False, "FRAG != 0 dropped")
    except socket.timeout:
        ck.check(True, "FRAG != 0 dropped")
    ck.check(udp_roundtrip(u, relay, th, tp, b"after") == b"after",
             "association survives FRAG != 0")
    s.close()
    time.sleep(0.3)
    ck.check(udp_roundtrip(u, relay, th, tp, b"late", 0.5) is None,
             "association ends with its TCP connection")
    # DST.PORT pins the port in advance: datagrams from another port are dropped.
    u2 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u2.bind(("127.0.0.1", 0))
    s, (rep, rh2, rp2) = udp_assoc(a.proxy, dst_port=u2.getsockname()[1])
    relay2 = (hostport(a.proxy)[0] if a.advertise else rh2, rp2)
    ck.check(udp_roundtrip(u, relay2, th, tp, b"wrong", 0.5) is None,
             "DST.PORT given: another source port dropped")
    ck.check(udp_roundtrip(u2, relay2, th, tp, b"right") == b"right",
             "DST.PORT given: that port served")
    s.close()


def probe_flood(a, ck):
    """More connections than --max-sessions: the extra ones get a failure reply
    (or a close), the held ones keep working, and afterwards a new client is
    served."""
    th, tp = hostport(a.target)
    held = []
    for i in range(a.hold):
        s, (rep, _, _) = s5_connect(a.proxy, th, tp)
        if rep == 0:
            held.append(s)
    ck.check(len(held) == a.hold, "%d sessions held" % len(held))
    answered = closed = hung = 0
    extra = []
    for i in range(a.extra):
        try:
            s = connect_proxy(a.proxy)
            s.sendall(b"\x05\x01\x00" + s5_req(1, th, tp))
            extra.append(s)
        except OSError:
            closed += 1
    for s in extra:
        try:
            m = recv_exact(s, 2, 5)
            rep = read_s5_reply(s, 5)[0]
            if m == b"\x05\x00" and rep == 1:
                answered += 1
            else:
                hung += 1
        except (EOFError, ConnectionError):
            closed += 1
        except (socket.timeout, ValueError):
            hung += 1
        s.close()
    ck.check(hung == 0 and answered + closed == a.extra,
             "%d over the limit: %d answered REP 1, %d closed, %d other" %
             (a.extra, answered, closed, hung))
    ck.check(answered > 0, "at least some were answered with a reply")
    s4 = connect_proxy(a.proxy)
    s4.sendall(s4_req(1, th, tp))
    ck.check(read_s4_reply(s4)[0] == 91, "SOCKS4 over the limit: 91")
    s4.close()
    ok = 0
    for s in held:
        s.sendall(b"still")
        ok += recv_exact(s, 5) == b"still"
        s.close()
    ck.check(ok == len(held), "held sessions still relay")
    time.sleep(0.5)
    s, (rep, _, _) = s5_connect(a.proxy, th, tp)
    ck.check(rep == 0, "a new client is served afterwards")
    s.close()


def probe_hold(a, ck):
    """Opens N idle relayed sessions, prints 'held N', waits for stdin EOF."""
    th, tp = hostport(a.target)
    held = []
    for i in range(a.hold):
        s, (rep, _, _) = s5_connect(a.proxy, th, tp, a.user, a.password)
        held.append(s)
    print("held %d" % len(held), flush=True)
    sys.stdin.read()
    for s in held:
        s.sendall(b"z")
        ck.check(recv_exact(s, 1) == b"z", "held session alive") if s is held[0] else None
    for s in held:
        s.close()


def probe_echo(a, ck):
    """CONNECT, data echoed; --want-bnd checks the BND address."""
    th, tp = hostport(a.target)
    s, (rep, bh, bp) = s5_connect(a.proxy, th, tp)
    ck.check(rep == 0, "CONNECT %s (rep %d)" % (a.target, rep))
    if a.want_bnd:
        ck.check(bh == a.want_bnd and bp != 0, "BND %s:%d (want %s)" % (bh, bp, a.want_bnd))
    s.sendall(b"echo-me")
    ck.check(recv_exact(s, 7) == b"echo-me", "data echoed")
    s.close()


def probe_refused(a, ck):
    """The connection is closed without any reply (allow-list)."""
    s = connect_proxy(a.proxy)
    try:
        s.sendall(b"\x05\x01\x00")
        s.settimeout(3)
        d = s.recv(10)
        ck.check(d == b"", "closed without a reply (got %r)" % d)
    except ConnectionError:
        ck.check(True, "closed (reset) without a reply")
    s.close()


def probe_perclient(a, ck):
    """--max-per-client a.hold: that many from one IP, the next one refused with
    REP 1, another IP (a.other) still served."""
    th, tp = hostport(a.target)
    held = [s5_connect(a.proxy, th, tp)[0] for _ in range(a.hold)]
    s = connect_proxy(a.proxy)
    s.sendall(b"\x05\x01\x00" + s5_req(1, th, tp))
    m = recv_exact(s, 2)
    rep = read_s5_reply(s)[0]
    ck.check(m == b"\x05\x00" and rep == 1, "session %d from one IP: REP %d" % (a.hold + 1, rep))
    s.close()
    s = connect_proxy(a.proxy, a.other)
    s5_hello(s)
    s.sendall(s5_req(1, th, tp))
    ck.check(read_s5_reply(s)[0] == 0, "another client IP (%s) served" % a.other)
    s.close()
    held.pop().close()
    time.sleep(0.3)
    s, (rep, _, _) = s5_connect(a.proxy, th, tp)
    ck.check(rep == 0, "after one closed, the first IP is served again")
    for x in held + [s]:
        x.close()


def probe_relay_idle(a, ck):
    """A relayed session with no traffic is closed after --idle-timeout (a.deadline)."""
    th, tp = hostport(a.target)
    s, (rep, _, _) = s5_connect(a.proxy, th, tp)
    s.sendall(b"x")
    recv_exact(s, 1)
    t0 = time.time()
    ok = wait_eof(s, a.deadline + 3)
    ck.check(ok and time.time() - t0 >= a.deadline - 0.5,
             "idle relay closed after %.1f s (timeout %d s)" % (time.time() - t0, a.deadline))


def probe_udp_basic(a, ck):
    """UDP ASSOCIATE to a.udp_target (IP or name): 1 and 60000 bytes round trip."""
    th, tp = hostport(a.udp_target)
    s, (rep, rh, rp) = udp_assoc(a.proxy)
    ck.check(rep == 0 and rp != 0, "UDP ASSOCIATE relay at %s:%d" % (rh, rp))
    if a.want_bnd:
        ck.check(rh == a.want_bnd, "relay address %s (want %s)" % (rh, a.want_bnd))
    fam = socket.AF_INET6 if ":" in rh else socket.AF_INET
    u = socket.socket(fam, socket.SOCK_DGRAM)
    relay = (rh, rp)
    ck.check(udp_roundtrip(u, relay, th, tp, b"1") == b"1", "1-byte datagram via %s" % th)
    big = os.urandom(60000)
    ck.check(udp_roundtrip(u, relay, th, tp, big) == big, "60000-byte datagram intact")
    if a.dest:
        dh, dp = hostport(a.dest)
        ck.check(udp_roundtrip(u, relay, dh, dp, b"denied", 0.7) is None,
                 "datagram to %s dropped by policy" % a.dest)
        ck.check(udp_roundtrip(u, relay, th, tp, b"alive") == b"alive",
                 "association still serves allowed destinations")
    s.close()


def probe_exhaust(a, ck):
    """Opens a.extra CONNECTs against a server short of fds, holds them a.deadline
    seconds, closes them all, then expects a new client to be served."""
    th, tp = hostport(a.target)
    socks = []
    for _ in range(a.extra):
        try:
            s = connect_proxy(a.proxy)
            s.setblocking(False)
            s.send(b"\x05\x01\x00" + s5_req(1, th, tp))
            socks.append(s)
        except OSError:
            pass
    replies = {}
    end = time.time() + a.deadline
    while time.time() < end:
        live = [s for s in socks if s not in replies]
        if not live:
            break
        r, _, _ = select.select(live, [], [], 0.1)
        for s in r:
            try:
                d = s.recv(64)
            except (ConnectionError, BlockingIOError):
                d = b""
            if not d:
                replies[s] = "closed"
            elif len(d) >= 4:
                replies[s] = "rep%d" % d[3]
    counts = {}
    for s in socks:
        k = replies.get(s, "pending")
        counts[k] = counts.get(k, 0) + 1
    print("outcomes: %s" % sorted(counts.items()), flush=True)
    for s in socks:
        s.close()
    time.sleep(0.5)
    ok = False
    for _ in range(20):  # the accept pause may still run for a moment
        try:
            s, (rep, _, _) = s5_connect(a.proxy, th, tp)
            s.sendall(b"k")
            ok = rep == 0 and recv_exact(s, 1) == b"k"
            s.close()
            if ok:
                break
        except (OSError, EOFError, AssertionError):
            pass
        time.sleep(0.2)
    ck.check(ok, "after the fds came back, a new client is served")


def chaos_one(a, rnd, th, tp, refused_port):
    """One client doing one random, often rude, thing."""
    s = connect_proxy(a.proxy)
    s.settimeout(2)
    act = rnd.randrange(9)
    try:
        if act == 0:    # reset right after connecting
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif act == 1:  # half a greeting, then reset
            s.sendall(b"\x05\x02")
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif act == 2:  # request to a refused port, reset before the reply
            s.sendall(b"\x05\x01\x00" + s5_req(1, th, refused_port))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif act == 3:  # a name to resolve, gone before the answer
            s.sendall(b"\x05\x01\x00" + s5_req(1, "localhost", tp))
        elif act == 4:  # relay some data, then reset mid-stream
            s.sendall(b"\x05\x01\x00" + s5_req(1, th, tp) + os.urandom(rnd.randrange(1, 200000)))
            time.sleep(rnd.random() * 0.01)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif act == 5:  # full echo round trip
            s.sendall(b"\x05\x01\x00" + s5_req(1, th, tp) + b"hello")
            recv_exact(s, 2)
            read_s5_reply(s)
            recv_exact(s, 5)
        elif act == 6:  # UDP association, one datagram, close
            s.sendall(b"\x05\x01\x00" + s5_req(3, "0.0.0.0", 0))
            recv_exact(s, 2)
            rep, rh, rp = read_s5_reply(s)
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.sendto(udp_wrap(th, tp, b"x" * rnd.randrange(1, 3000)), (rh, rp))
            u.close()
        elif act == 7:  # BIND, then leave
            s.sendall(b"\x05\x01\x00" + s5_req(2, "127.0.0.1", 0))
        else:           # garbage
            s.sendall(os.urandom(rnd.randrange(1, 64)))
    except (OSError, EOFError, ValueError):
        pass
    s.close()


def probe_chaos(a, ck):
    """a.deadline seconds of random rude clients from 4 threads (a few thousand
    connections: bounded so TIME_WAIT does not eat the machine's ephemeral ports);
    then a good client must still be served."""
    th, tp = hostport(a.target)
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    refused_port = ls.getsockname()[1]
    ls.close()
    end = time.time() + a.deadline
    counts = [0] * 4

    def worker(i):
        rnd = random.Random(i)
        while time.time() < end:
            chaos_one(a, rnd, th, tp, refused_port)
            counts[i] += 1

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print("chaos clients: %d" % sum(counts), flush=True)
    time.sleep(0.5)
    probe_basic(a, ck)


def probe_bulk(a, ck):
    """a.size MB through the proxy to the echo target and back, sha256 both ways."""
    th, tp = hostport(a.target)
    s, (rep, _, _) = s5_connect(a.proxy, th, tp)
    ck.check(rep == 0, "CONNECT for bulk")
    base = os.urandom((1 << 20) + 8192)
    total = a.size << 20
    hs = hashlib.sha256()
    s.settimeout(60)

    def sender():
        for i in range(a.size):
            o = (i * 31) % 8192
            block = base[o:o + (1 << 20)]
            hs.update(block)
            s.sendall(block)
        s.shutdown(socket.SHUT_WR)

    t = threading.Thread(target=sender)
    t0 = time.time()
    t.start()
    hr = hashlib.sha256()
    got = 0
    while True:
        d = s.recv(1 << 20)
        if not d:
            break
        hr.update(d)
        got += len(d)
    t.join()
    dt = time.time() - t0
    ck.check(got == total, "received %d of %d bytes" % (got, total))
    ck.check(hr.hexdigest() == hs.hexdigest(), "sha256 %s matches (%.1f s, %.0f MB/s each way)" %
             (hr.hexdigest()[:16], dt, a.size / dt))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("echo-tcp")
    p.add_argument("--bind", default="127.0.0.1")
    p = sub.add_parser("echo-udp")
    p.add_argument("--bind", default="127.0.0.1")
    p = sub.add_parser("probe")
    p.add_argument("name")
    p.add_argument("--proxy", required=True)
    p.add_argument("--target")
    p.add_argument("--udp-target")
    p.add_argument("--dest")
    p.add_argument("--want", type=int, default=0)
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--deadline", type=int, default=2)
    p.add_argument("--hold", type=int, default=10)
    p.add_argument("--extra", type=int, default=50)
    p.add_argument("--size", type=int, default=200)
    p.add_argument("--advertise")
    p.add_argument("--want-bnd")
    p.add_argument("--source")
    p.add_argument("--other", default="127.0.0.2")
    a = ap.parse_args()
    global CREDS, SOURCE
    if getattr(a, "user", None):
        CREDS = (a.user, a.password or "")
    SOURCE = getattr(a, "source", None)
    if a.cmd == "echo-tcp":
        return serve_echo_tcp(a)
    if a.cmd == "echo-udp":
        return serve_echo_udp(a)
    ck = Checker()
    fn = globals().get("probe_" + a.name.replace("-", "_"))
    if not fn:
        print("unknown probe %s" % a.name)
        return 2
    try:
        fn(a, ck)
    except Exception as e:  # a probe that crashes is a failed check, with the reason
        ck.check(False, "%s raised %s: %s" % (a.name, type(e).__name__, e))
    ck.done()


if __name__ == "__main__":
    sys.exit(main())
