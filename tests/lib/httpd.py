#!/usr/bin/env python3
# The target's web server for the e2e topology: serves a docroot on IPv4 and IPv6 at
# once (one dual-stack socket), threaded so parallel transfers do not queue.
# Usage: httpd.py PORT DOCROOT   (prints "httpd ready PORT" when listening)
import functools
import http.server
import socket
import sys


class DualStackServer(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True
    request_queue_size = 128

    def server_bind(self):
        # v6only off so 198.18.2.2 is served by the same socket as fd00:2::2.
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stdout.write("%s %s\n" % (self.client_address[0], fmt % args))
        sys.stdout.flush()


def main():
    port = int(sys.argv[1])
    handler = functools.partial(Handler, directory=sys.argv[2])
    srv = DualStackServer(("::", port), handler)
    print("httpd ready %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
