#!/usr/bin/env python3
# N parallel asyncio.open_connection to an echo server, each sending a line and reading
# it back; prints "elapsed_ms=T ok=K". Usage: asyncio_conns.py HOST PORT N
import asyncio
import sys
import time


async def one(host, port, i):
    r, w = await asyncio.wait_for(asyncio.open_connection(host, port), 20)
    msg = b"asyncio-%d\n" % i
    w.write(msg)
    await w.drain()
    got = await asyncio.wait_for(r.readexactly(len(msg)), 20)
    w.close()
    return got == msg


async def main():
    host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    t0 = time.monotonic()
    res = await asyncio.gather(*(one(host, port, i) for i in range(n)), return_exceptions=True)
    ms = int((time.monotonic() - t0) * 1000)
    ok = sum(1 for r in res if r is True)
    for r in res:
        if r is not True:
            print("error:", repr(r))
    print(f"elapsed_ms={ms} ok={ok}")
    sys.exit(0 if ok == n else 1)


asyncio.run(main())
