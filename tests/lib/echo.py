#!/usr/bin/env python3
# TCP and UDP echo (RFC 862) for the e2e topology, IPv4 and IPv6 through dual-stack
# sockets. UDP echoes any datagram up to 65507 bytes whole, back to its sender.
# Usage: echo.py PORT   (prints "echo ready PORT" when both sockets listen)
import socket
import sys
import threading


def dual(kind):
    s = socket.socket(socket.AF_INET6, kind)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return s


def tcp_session(conn):
    with conn:
        while True:
            data = conn.recv(65536)
            if not data:
                # Half-close: the peer finished sending; we finish echoing and end too.
                conn.shutdown(socket.SHUT_WR)
                return
            conn.sendall(data)


def tcp_loop(srv):
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=tcp_session, args=(conn,), daemon=True).start()


def udp_loop(srv):
    while True:
        data, peer = srv.recvfrom(65535)
        try:
            srv.sendto(data, peer)
        except OSError:
            pass


def main():
    port = int(sys.argv[1])
    t = dual(socket.SOCK_STREAM)
    t.bind(("::", port))
    t.listen(128)
    u = dual(socket.SOCK_DGRAM)
    u.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    u.bind(("::", port))
    threading.Thread(target=udp_loop, args=(u,), daemon=True).start()
    print("echo ready %d" % port, flush=True)
    tcp_loop(t)


if __name__ == "__main__":
    main()
