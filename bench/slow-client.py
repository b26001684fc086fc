#!/usr/bin/env python3
# Slow-reader load client (its own process): opens N websockets and never reads a byte from them.
#
# Usage: python3 bench/slow-client.py <host> <port> <path> <N>
# Each socket sends a websocket handshake and then nothing; its receive buffer is kept small
# (SO_RCVBUF 4 KiB) so the app's send buffers fill as they would for a stalled client on a real
# network. Prints one JSON line {"connected": n, "failed": f, "ms": ...} once all are open, then
# holds them until stdin closes or says "close".
import json
import socket
import sys
import time

host, port, path, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
req = (
    f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
).encode()
socks, failed = [], 0
t0 = time.monotonic()
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        s.connect((host, port))
        s.sendall(req)
        socks.append(s)
    except OSError:
        failed += 1
        s.close()
    if i % 500 == 499:
        time.sleep(0.05)  # let the app accept: its listen backlog is finite
print(json.dumps({"connected": len(socks), "failed": failed, "ms": round((time.monotonic() - t0) * 1000)}), flush=True)
for line in sys.stdin:
    if line.strip() == "close":
        break
for s in socks:
    s.close()
