"""Live-stream checks of the cluster (scripts/cluster/cluster.py): clients
through nginx, over SSE and WebSocket, with a minimal client of each written
on the standard library (HTTP/1.0 for SSE, so no chunked encoding splits
lines; RFC 6455 framing for WebSocket, text and close frames only)."""

import base64
import os
import secrets
import signal
import socket
import struct
import threading
import time


class StreamClient(threading.Thread):
    """One subscriber to `public` through the balancer that, like the web
    client, reconnects after a close with `since` = the last id it saw."""

    def __init__(self, port, kind, since):
        super().__init__(daemon=True)
        self.port, self.kind, self.last = port, kind, since
        self.ids = []          # every event id received, in order
        self.closes = []       # close codes (1001 for a shutdown), or "dropped"
        self.resets = 0
        self.stop = threading.Event()
        self.connected = threading.Event()
        self.sock = None

    def run(self):
        while not self.stop.is_set():
            try:
                self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
                self.sock.settimeout(0.5)
                head = self.open()
                if " 200 " not in head and " 101 " not in head:
                    self.closes.append(head.split("\r\n")[0])
                    time.sleep(0.2)
                    continue
                self.connected.set()
                ended = self.read_ws() if self.kind == "ws" else self.read_sse()
            except OSError as e:
                ended = f"dropped ({type(e).__name__})"
            finally:
                if self.sock is not None:
                    self.sock.close()
            if not self.stop.is_set():
                self.closes.append(ended)

    def open(self):
        if self.kind == "ws":
            key = base64.b64encode(os.urandom(16)).decode()
            request = (f"GET /stream?streams=public&since={self.last} HTTP/1.1\r\n"
                       f"Host: 127.0.0.1:{self.port}\r\nUpgrade: websocket\r\n"
                       f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                       "Sec-WebSocket-Version: 13\r\n\r\n")
        else:
            request = (f"GET /stream?streams=public HTTP/1.0\r\nHost: 127.0.0.1:{self.port}\r\n"
                       f"Accept: text/event-stream\r\nLast-Event-ID: {self.last}\r\n\r\n")
        self.sock.sendall(request.encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.recv()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        return head.decode(errors="replace")

    def recv(self):
        while True:
            if self.stop.is_set():
                raise ConnectionAbortedError("stopped")
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise ConnectionResetError("end of stream")
            return chunk

    def take(self, n):
        while len(self.buf) < n:
            self.buf += self.recv()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def event(self, pos):
        self.ids.append(pos)
        self.last = pos

    def read_ws(self):
        while True:
            b0, b1 = self.take(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self.take(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self.take(8))[0]
            payload = self.take(n)
            opcode = b0 & 0x0F
            if opcode == 8:
                return struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else 1005
            if opcode == 1:
                self.message(payload.decode())

    def message(self, text):
        if '"event":"reset"' in text.replace(" ", ""):
            self.resets += 1
            return
        pos = text.split('"id":"', 1)[1].split('"', 1)[0]
        self.event(int(pos))

    def read_sse(self):
        fields = {}
        while True:
            while b"\n" not in self.buf:
                self.buf += self.recv()
            line, _, self.buf = self.buf.partition(b"\n")
            line = line.decode().rstrip("\r")
            if line:
                key, _, value = line.partition(": ")
                fields[key] = value
                continue
            if fields.get("event") == "close":
                return int(fields["data"].split('"code":', 1)[1].split(",", 1)[0].strip(" }"))
            if fields.get("event") == "reset":
                self.resets += 1
            elif "id" in fields:
                self.event(int(fields["id"]))
            fields = {}


def settled_position(cluster):
    """The greatest event position once every committed event is numbered."""
    deadline = time.monotonic() + 10
    while cluster.psql("SELECT count(*) FROM events_pending") != "0":
        if time.monotonic() > deadline:
            raise RuntimeError("events left unnumbered")
        time.sleep(0.05)
    return int(cluster.psql("SELECT coalesce(max(pos), 0) FROM events"))


def check_sigterm_with_streams(cluster, tokens, load_class):
    """SIGTERM of an instance holding WebSocket and SSE clients (through nginx)
    under write load: its clients get the close, reconnect through nginx to
    another instance with their last id, and miss nothing; the others never
    notice. Every client's ids are compared with the outbox."""
    start = settled_position(cluster)
    # nginx's round robin hands consecutive connections to the instances in
    # turn: alternating kinds puts a WebSocket and an SSE client on each.
    kinds = ["ws", "sse"] * len(cluster.ports)
    clients = [StreamClient(cluster.port, kind, start) for kind in kinds]
    for client in clients:
        client.start()
        if not client.connected.wait(10):
            raise RuntimeError(f"a {client.kind} client could not connect: {client.closes}")
    victim = 0
    with load_class(cluster.port, tokens, tag="s"):
        time.sleep(1)
        drain, code = cluster.stop(victim, signal.SIGTERM)
        cluster.start(victim)
        cluster.wait_ready(victim)
        time.sleep(1)
    end = settled_position(cluster)
    expected = [int(p) for p in cluster.psql(
        f"SELECT pos FROM events WHERE pos > {start} AND pos <= {end} AND top_level "
        "ORDER BY pos").split()]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(c.last < end for c in clients):
        time.sleep(0.05)
    for client in clients:
        client.stop.set()
    for client in clients:
        client.join(5)
    closed = [c for c in clients if c.closes]
    wrong = [f"{c.kind}: {len(c.ids)} events, closes {c.closes}, resets {c.resets}"
             for c in clients if c.ids != expected or c.resets]
    kinds_closed = sorted({c.kind for c in closed if 1001 in c.closes})
    unexplained = [c.closes for c in clients if any(x != 1001 for x in c.closes)]
    ok = (not wrong and kinds_closed == ["sse", "ws"] and not unexplained and code == 0
          and len(expected) > 0)
    return ok, (f"{len(clients)} clients ({', '.join(kinds)}), instance #{victim + 1} "
                f"SIGTERMed under write load (drained in {drain:.1f} s, exit {code}); "
                f"{len(closed)} got the close {kinds_closed} and resumed through nginx; "
                f"each client compared with the outbox's {len(expected)} events: "
                f"{'all equal, in order, no repeats' if not wrong else '; '.join(wrong)}"
                + (f"; unexpected endings {unexplained}" if unexplained else ""))


def check_stream(cluster, token, client_class):
    """A live-stream client on the balancer sees a post written through another instance."""
    sock = socket.create_connection(("127.0.0.1", cluster.port), timeout=10)
    try:
        sock.sendall((f"GET /stream?streams=public HTTP/1.1\r\nHost: 127.0.0.1:{cluster.port}\r\n"
                      "Accept: text/event-stream\r\n\r\n").encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(4096)
            if not chunk:
                return False, "the stream closed before its headers"
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        status_line = head.split(b"\r\n")[0].decode()
        if " 200 " not in status_line + " ":
            return False, f"GET /stream with Accept: text/event-stream answered {status_line}"
        received = {"data": rest.decode(errors="replace")}
        lock = threading.Lock()

        def reader():
            sock.settimeout(0.2)
            while not received.get("stop"):
                try:
                    chunk = sock.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    return
                if not chunk:
                    return
                with lock:
                    received["data"] += chunk.decode(errors="replace")

        thread = threading.Thread(target=reader)
        thread.start()
        time.sleep(0.3)  # let the subscription settle
        delays = []
        for i, port in enumerate(cluster.ports):
            marker = f"stream-check-{i}-{secrets.token_hex(6)}"
            sent = time.monotonic()
            res = client_class(port).request("POST", "/post/", {"text": marker}, token)
            if res.status != 201:
                received["stop"] = True
                thread.join()
                return False, f"POST /post/ on instance #{i + 1} answered {res.status}"
            while time.monotonic() - sent < 1.0:
                with lock:
                    if marker in received["data"]:
                        break
                time.sleep(0.005)
            with lock:
                seen = marker in received["data"]
            delays.append(time.monotonic() - sent if seen else None)
        received["stop"] = True
        thread.join()
    finally:
        sock.close()
    shown = ", ".join(f"#{i + 1}: {'%.0f ms' % (d * 1000) if d is not None else 'not within 1 s'}"
                      for i, d in enumerate(delays))
    return all(d is not None for d in delays), \
        f"SSE through nginx; a post written directly on each instance arrived after: {shown}"
