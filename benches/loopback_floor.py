#!/usr/bin/env python3
"""The kernel's floor under a broker's CPU per record on this machine: the system time of moving
the given files' bytes (cached log segments) over loopback TCP, without a broker.

The sender writes them to the socket with sendfile, as Weft serves a fetch; the receiver reads them
into a 1 MiB buffer, as a broker reads a produce request. Prints each side's system time per
100 B. On one host the sender's figure includes the loopback's receive softirq work as well.

Usage: benches/loopback_floor.py FILE...   (run by benches/broker_cpu.sh)
"""

import os
import resource
import socket
import sys

CHUNK = 4 << 20  # a fetch of `weft perf consume` (max.partition.fetch.bytes 4 MiB)


def system_seconds():
    return resource.getrusage(resource.RUSAGE_SELF).ru_stime


def receive(port, total, report):
    conn = socket.create_connection(("127.0.0.1", port))
    buf = memoryview(bytearray(1 << 20))
    start, got = system_seconds(), 0
    while got < total:
        n = conn.recv_into(buf)
        if n == 0:
            sys.exit(f"loopback_floor: the sender closed after {got} of {total} bytes")
        got += n
    os.write(report, f"{system_seconds() - start}".encode())
    os._exit(0)


def main():
    files = sys.argv[1:]
    if not files:
        sys.exit("usage: loopback_floor.py FILE...")
    total = sum(os.path.getsize(f) for f in files)
    if total == 0:
        sys.exit("loopback_floor: the files are empty")
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read_end)
        receive(port, total, write_end)
    os.close(write_end)
    conn, _ = listener.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    start = system_seconds()
    for path in files:
        fd = os.open(path, os.O_RDONLY)
        size, offset = os.fstat(fd).st_size, 0
        while offset < size:
            offset += os.sendfile(conn.fileno(), fd, offset, min(CHUNK, size - offset))
        os.close(fd)
    sent = system_seconds() - start
    received = float(os.read(read_end, 64) or b"nan")
    _, status = os.waitpid(child, 0)
    if status != 0:
        sys.exit("loopback_floor: the receiver failed")
    per_100b = lambda s: s * 1e9 / (total / 100)
    print(
        f"loopback floor: sendfile {per_100b(sent):.0f} ns, receive {per_100b(received):.0f} ns "
        f"per 100 B (system time, {total / 1e6:.0f} MB of the log over loopback TCP, no broker)"
    )


if __name__ == "__main__":
    main()
