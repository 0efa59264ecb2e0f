#!/usr/bin/env python3
"""A tiny HTTP CONNECT proxy for the shim's chain tests (socksifyd speaks no HTTP).
Usage: http_connect_proxy.py ADDR PORT [USER:PASS]. Answers 407 without the right
Basic credentials, 502 when the destination cannot be reached, else 200 and relays."""
import base64
import socket
import sys
import threading


def relay(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    finally:
        try:
            b.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def handle(conn, auth):
    try:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = conn.recv(1)  # byte by byte: never read past the head
            if not chunk:
                return
            head += chunk
            if len(head) > 8192:
                return
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        if method != "CONNECT":
            conn.sendall(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
            return
        if auth:
            want = "Basic " + base64.b64encode(auth.encode()).decode()
            got = [l.split(":", 1)[1].strip() for l in lines[1:]
                   if l.lower().startswith("proxy-authorization:")]
            if got != [want]:
                conn.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                             b"Proxy-Authenticate: Basic realm=\"t\"\r\n\r\n")
                return
        host, port = target.rsplit(":", 1)
        host = host.strip("[]")
        try:
            up = socket.create_connection((host, int(port)), timeout=5)
            up.settimeout(None)
        except OSError:
            conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\n\r\n")
            return
        conn.sendall(b"HTTP/1.1 200 Connection established\r\nX-Proxy: test\r\n\r\n")
        t = threading.Thread(target=relay, args=(up, conn), daemon=True)
        t.start()
        relay(conn, up)
        t.join()
        up.close()
    except (OSError, ValueError):
        pass
    finally:
        conn.close()


def main():
    addr, port = sys.argv[1], int(sys.argv[2])
    auth = sys.argv[3] if len(sys.argv) > 3 else ""
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(128)
    print("http-connect ready", flush=True)
    while True:
        c, _ = s.accept()
        threading.Thread(target=handle, args=(c, auth), daemon=True).start()


if __name__ == "__main__":
    main()
