#!/usr/bin/env python3
"""Adversarial clients for the socksifyd hardening suite (24-server-hardening.bats):
a bounded flood of greeting+auth-then-close with a CONNECT by name timed during it,
BIND sessions whose clients leave after one byte, authentication timing samples,
and a check that the session log line cannot be given a forged field.

Each probe prints one line per check and exits 0 when every check passed."""
import argparse
import shlex
import socket
import statistics
import struct
import sys
import threading
import time

sys.path.insert(0, __import__("os").path.dirname(__file__))
import srvtool  # noqa: E402  (wire helpers; its probe globals stay unset)
from srvtool import Checker, hostport, read_s5_reply, recv_exact, s5_auth, s5_req  # noqa: E402

srvtool.CREDS = None
srvtool.SOURCE = None


def connect(proxy, timeout=5.0):
    h, p = hostport(proxy)
    s = socket.socket(socket.AF_INET6 if ":" in h else socket.AF_INET)
    s.settimeout(timeout)
    s.connect((h, p))
    return s


def timed_connect_by_name(a, out):
    """CONNECT a.dest (a name) with good credentials through the echo service;
    appends (seconds, rep, echoed) to out."""
    h, p = hostport(a.dest)
    t0 = time.monotonic()
    rep, echoed, req_s = -1, False, None
    try:
        s = connect(a.proxy, timeout=15)
        t1 = time.monotonic()
        s.sendall(b"\x05\x01\x02" + s5_auth(a.user, a.password) + s5_req(1, h, p))
        recv_exact(s, 2, 15)
        st = recv_exact(s, 2, 15)
        t2 = time.monotonic()
        if st[1] == 0:
            rep = read_s5_reply(s, timeout=15)[0]
            req_s = time.monotonic() - t2
            print("connect by name: tcp %.2f s, greeting+auth %.2f s, request %.2f s" %
                  (t1 - t0, t2 - t1, req_s), flush=True)
            if rep == 0:
                s.sendall(b"ping\n")
                echoed = recv_exact(s, 5, 5) == b"ping\n"
        else:
            rep = 100 + st[1]
        s.close()
    except (OSError, EOFError, ValueError) as e:
        print("connect by name: %s: %s" % (type(e).__name__, e), flush=True)
    out.append((time.monotonic() - t0, req_s, rep, echoed))


def probe_authflood(a, ck):
    """One client floods greeting+auth(wrong password)+close for a.seconds (at most
    a.count attempts); from 1 s in, a CONNECT by name every second must each
    complete within a.bound seconds."""
    stop = threading.Event()
    attempts = [0, 0]  # made, refused at connect

    def flood():
        blob = b"\x05\x01\x02" + s5_auth(a.flood_user, "wrong-password")
        end = time.monotonic() + a.seconds
        while not stop.is_set() and attempts[0] < a.count and time.monotonic() < end:
            attempts[0] += 1
            try:
                s = connect(a.proxy, timeout=1.0)
                s.sendall(blob)
                s.close()
            except OSError:
                attempts[1] += 1

    th = threading.Thread(target=flood)
    t_start = time.monotonic()
    th.start()
    results = []
    logins = []
    time.sleep(1.0)
    for _ in range(a.connects):
        timed_connect_by_name(a, results)
        for _ in range(3 if a.other_proxy else 0):
            logins.append(timed_login(a))
        if not th.is_alive():
            break
        time.sleep(0.5)
    stop.set()
    th.join(a.seconds + 30)
    flood_s = time.monotonic() - t_start
    print("flood: %d attempts (%d failed to connect) in %.1f s" %
          (attempts[0], attempts[1], flood_s), flush=True)
    ck.check(attempts[0] >= 200, "the flood made %d attempts" % attempts[0])
    # The request (resolve + connect) is what the flood must not delay; the whole
    # exchange also waits for the loop to accept it behind the flood's backlog,
    # so it gets twice the bound.
    for i, (secs, req_s, rep, echoed) in enumerate(results):
        ck.check(rep == 0 and echoed, "CONNECT %s #%d during the flood: rep %d, echoed %s" %
                 (a.dest, i + 1, rep, echoed))
        ck.check(req_s is not None and req_s < a.bound,
                 "CONNECT %s #%d: request answered in %s s (bound %.1f s)" %
                 (a.dest, i + 1, "-" if req_s is None else "%.2f" % req_s, a.bound))
        ck.check(secs < 2 * a.bound, "CONNECT %s #%d took %.2f s in all (bound %.1f s)" %
                 (a.dest, i + 1, secs, 2 * a.bound))
    # Another client's hashed login gets its share of the auth workers.
    for i, (secs, st) in enumerate(logins):
        ck.check(st == 0 and secs < 2 * a.bound,
                 "login as %s from another address #%d during the flood: status %d in "
                 "%.2f s (bound %.1f s)" % (a.login_user, i + 1, st, secs, 2 * a.bound))


def timed_login(a):
    """(seconds, RFC 1929 status) of a login as a.login_user through a.other_proxy."""
    t0 = time.monotonic()
    try:
        s = connect(a.other_proxy, timeout=15)
        s.sendall(b"\x05\x01\x02" + s5_auth(a.login_user, a.login_password))
        recv_exact(s, 2, 15)
        st = recv_exact(s, 2, 15)[1]
        s.close()
    except (OSError, EOFError) as e:
        print("login: %s: %s" % (type(e).__name__, e), flush=True)
        st = -1
    return time.monotonic() - t0, st


def bind_session(a):
    s = connect(a.proxy)
    s.sendall(b"\x05\x01\x00" + s5_req(2, "127.0.0.1", 0))
    if recv_exact(s, 2) != b"\x05\x00":
        raise ValueError("method refused")
    rep, _, port = read_s5_reply(s)
    return s, rep, port


def try_connect(a):
    """A fresh CONNECT to a.target: its REP (or -1 when it could not finish)."""
    th, tp = hostport(a.target)
    try:
        s = connect(a.proxy)
        s.sendall(b"\x05\x01\x00" + s5_req(1, th, tp))
        recv_exact(s, 2)
        rep = read_s5_reply(s)[0]
        s.close()
        return rep
    except (OSError, EOFError, ValueError):
        return -1


def probe_bindleave(a, ck):
    """a.count BIND sessions (as many as --max-sessions allows): each gets its first
    reply, sends one byte, and leaves (half with a FIN, half with a RST). The slots
    must come back: a new CONNECT succeeds within a.bound seconds."""
    socks = []
    ok = 0
    for i in range(a.count):
        s, rep, port = bind_session(a)
        ok += rep == 0 and port != 0
        socks.append(s)
    ck.check(ok == a.count, "%d of %d BIND sessions got their first reply" % (ok, a.count))
    ck.check(try_connect(a) == 1, "with every slot taken, one more session is refused (REP 1)")
    for s in socks:
        s.sendall(b"x")
    time.sleep(0.2)
    for i, s in enumerate(socks):
        if i % 2:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    t0 = time.monotonic()
    rep = -1
    while time.monotonic() - t0 < a.bound:
        rep = try_connect(a)
        if rep == 0:
            break
        time.sleep(0.2)
    ck.check(rep == 0, "after the BIND clients left, a new CONNECT succeeds (rep %d, %.1f s)" %
             (rep, time.monotonic() - t0))


def auth_sample(a, user, pw):
    """Seconds from sending the RFC 1929 request to its reply (connection set-up and
    the method exchange are not counted)."""
    s = connect(a.proxy, timeout=10)
    s.sendall(b"\x05\x01\x02")
    if recv_exact(s, 2) != b"\x05\x02":
        raise ValueError("username/password not selected")
    t0 = time.perf_counter()
    s.sendall(s5_auth(user, pw))
    st = recv_exact(s, 2, 10)
    dt = time.perf_counter() - t0
    s.close()
    return dt, st[1]


def probe_authtiming(a, ck):
    """a.samples of each failure (interleaved): a wrong password for each user in
    a.users (name[,name...]) and an unknown user. Each median must be within
    a.ratio of the unknown user's."""
    kinds = [(u, u, "wrong-password") for u in a.users.split(",")]
    kinds.append(("unknown user", "nosuchuser", "wrong-password"))
    times = {k[0]: [] for k in kinds}
    refused = True
    for _ in range(a.samples):
        for label, user, pw in kinds:
            dt, st = auth_sample(a, user, pw)
            refused = refused and st != 0
            times[label].append(dt)
    ck.check(refused, "every sample was refused")
    med = {k: statistics.median(v) for k, v in times.items()}
    base = med["unknown user"]
    for label, _, _ in kinds[:-1]:
        r = max(med[label], base) / max(min(med[label], base), 1e-6)
        ck.check(r < a.ratio, "wrong password for %s: median %.2f ms vs unknown user %.2f ms "
                 "(ratio %.2f, limit %.1f)" % (label, med[label] * 1e3, base * 1e3, r, a.ratio))


def probe_logname(a, ck):
    """Authenticates (no users file: any credentials pass) with the user name
    a.user, asks for the name a.dest, and prints nothing more: the caller reads the
    log with `check-log`."""
    h, p = a.dest.rsplit(":", 1)
    s = connect(a.proxy)
    s.sendall(b"\x05\x01\x02")
    ck.check(recv_exact(s, 2) == b"\x05\x02", "username/password selected")
    u = a.user.encode().decode("unicode_escape").encode("latin-1")
    s.sendall(bytes([1, len(u)]) + u + b"\x01x")
    ck.check(recv_exact(s, 2) == b"\x01\x00", "any credentials accepted")
    name = h.encode().decode("unicode_escape").encode("latin-1")
    s.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + struct.pack(">H", int(p)))
    rep = read_s5_reply(s, timeout=15)[0]
    ck.check(rep != 0, "the odd name does not resolve (rep %d)" % rep)
    s.close()


def probe_checklog(a, ck):
    """The session line in a.log holds each key once, user= and asked= are the
    quoted names (a.want_user, a.want_asked as they must appear)."""
    lines = [ln for ln in open(a.log, errors="replace") if " session client=" in ln]
    ck.check(len(lines) == 1, "one session line (%d)" % len(lines))
    if not lines:
        return
    line = lines[0].rstrip("\n")
    print("line: %s" % line)
    body = line.split(" session ", 1)[1]
    try:
        fields = shlex.split(body, posix=True)
    except ValueError as e:
        ck.check(False, "the line splits into fields: %s" % e)
        return
    keys = [f.split("=", 1)[0] for f in fields]
    ck.check(len(keys) == len(set(keys)), "every key appears once: %s" % " ".join(keys))
    ck.check(keys[:5] == ["client", "user", "ver", "cmd", "asked"],
             "the fields are client user ver cmd asked ...: %s" % " ".join(keys[:5]))
    ck.check(("user=" + a.want_user) in line, "user field is %s" % a.want_user)
    ck.check(("asked=" + a.want_asked) in line, "asked field is %s" % a.want_asked)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    ap.add_argument("--proxy")
    ap.add_argument("--dest")
    ap.add_argument("--target")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--flood-user", default="bob")
    ap.add_argument("--other-proxy")
    ap.add_argument("--login-user")
    ap.add_argument("--login-password")
    ap.add_argument("--users", default="alice")
    ap.add_argument("--count", type=int, default=20000)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--connects", type=int, default=3)
    ap.add_argument("--bound", type=float, default=3.0)
    ap.add_argument("--samples", type=int, default=15)
    ap.add_argument("--ratio", type=float, default=2.0)
    ap.add_argument("--log")
    ap.add_argument("--want-user")
    ap.add_argument("--want-asked")
    a = ap.parse_args()
    ck = Checker()
    fn = globals().get("probe_" + a.name.replace("-", ""))
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
