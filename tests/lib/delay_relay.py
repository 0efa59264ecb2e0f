#!/usr/bin/env python3
# A TCP relay that adds latency, for a proxy "far away" in a kernel without netem: every
# chunk is held DELAY_MS in each direction (order kept, EOF delayed the same), so a
# request/reply costs 2 * DELAY_MS more than without it. Bounded lifetime: it exits
# after LIFETIME seconds whatever happens.
# Usage: delay_relay.py LISTEN_ADDR LISTEN_PORT TO_ADDR TO_PORT DELAY_MS LIFETIME
#   prints "delay-relay ready PORT" (the bound port; LISTEN_PORT may be 0).
import asyncio
import socket
import sys
import time


async def pump(reader, writer, delay):
    """Copies reader to writer, each chunk due `delay` seconds after it arrived."""
    queue = asyncio.Queue()

    async def read_side():
        while True:
            try:
                data = await reader.read(65536)
            except (ConnectionError, OSError):
                data = b""
            await queue.put((time.monotonic() + delay, data))
            if not data:
                return

    async def write_side():
        while True:
            due, data = await queue.get()
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                if not data:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()
            except (ConnectionError, OSError):
                return

    await asyncio.gather(read_side(), write_side())


async def session(creader, cwriter, to_addr, to_port, delay):
    try:
        ureader, uwriter = await asyncio.open_connection(to_addr, to_port)
    except OSError:
        cwriter.close()
        return
    for w in (cwriter, uwriter):
        w.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        await asyncio.gather(pump(creader, uwriter, delay), pump(ureader, cwriter, delay))
    finally:
        for w in (cwriter, uwriter):
            w.close()


async def main():
    if len(sys.argv) != 7:
        sys.exit("usage: delay_relay.py LISTEN_ADDR LISTEN_PORT TO_ADDR TO_PORT DELAY_MS LIFETIME")
    laddr, lport, taddr, tport = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    delay, lifetime = float(sys.argv[5]) / 1000.0, float(sys.argv[6])
    srv = await asyncio.start_server(
        lambda r, w: session(r, w, taddr, tport, delay), laddr, lport, backlog=256,
        reuse_address=True)
    port = srv.sockets[0].getsockname()[1]
    print(f"delay-relay ready {port}", flush=True)
    try:
        await asyncio.wait_for(srv.serve_forever(), lifetime)
    except asyncio.TimeoutError:
        pass


if __name__ == "__main__":
    asyncio.run(main())
