#!/usr/bin/env python3
"""A small Kafka broker for netwarden's Kafka monitoring tests (stdlib only).

It speaks enough of the protocol for kcat/librdkafka to produce and consume:
ApiVersions (v0-v3), Metadata (v0-v4), ListOffsets (v1-v2), Produce (v3 up to
--produce-max, record batches of magic 2) and Fetch (v4 up to --fetch-max), for
one partition per topic on one node (itself). Records are kept in memory as the
batches were produced, with their base offsets rewritten (the CRC does not
cover them). Versions above what is advertised, and other api keys, get
UNSUPPORTED_VERSION (35).

Every request is logged as one JSON line on stdout, {"api": key, "version": v,
"topic": first topic or null, "corr": id, "answered": whether the response
went out (false when the client hung up first, e.g. kcat -e leaving with a
Fetch pending), "acks" and "error_code" (when not 0) for Produce}, after a
first line {"listening": port}: the test's ground truth of what was sent.

  kafka_broker.py HOST PORT [--produce-max N] [--fetch-max N]
                  [--fail-first-produce TOPIC]   (NOT_LEADER once, then ok)
"""
import argparse
import json
import socket
import socketserver
import struct
import sys
import threading
import time

PRODUCE, FETCH, LIST_OFFSETS, METADATA, API_VERSIONS = 0, 1, 2, 3, 18
NONE, NOT_LEADER, UNKNOWN_TOPIC, UNSUPPORTED_VERSION = 0, 6, 3, 35
NODE_ID = 1

lock = threading.Lock()
logs = {}           # topic -> list of (base_offset, count, batch bytes)
fail_once = set()   # topics whose next produce fails with NOT_LEADER
out_lock = threading.Lock()


def log(entry):
    with out_lock:
        sys.stdout.write(json.dumps(entry) + "\n")
        sys.stdout.flush()


class Reader:
    def __init__(self, b):
        self.b, self.o = b, 0

    def take(self, n):
        if self.o + n > len(self.b):
            raise ValueError("short message")
        v = self.b[self.o:self.o + n]
        self.o += n
        return v

    def i8(self): return struct.unpack(">b", self.take(1))[0]
    def i16(self): return struct.unpack(">h", self.take(2))[0]
    def i32(self): return struct.unpack(">i", self.take(4))[0]
    def i64(self): return struct.unpack(">q", self.take(8))[0]

    def uvarint(self):
        v = s = 0
        while True:
            c = self.take(1)[0]
            v |= (c & 0x7f) << s
            if not c & 0x80:
                return v
            s += 7

    def string(self):
        n = self.i16()
        return None if n < 0 else self.take(n).decode()

    def compact_string(self):
        n = self.uvarint() - 1
        return None if n < 0 else self.take(n).decode()

    def bytes_(self):
        n = self.i32()
        return None if n < 0 else self.take(n)

    def array(self, fn):
        n = self.i32()
        return [] if n < 0 else [fn() for _ in range(n)]

    def tags(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())


class W:
    def __init__(self):
        self.parts = []

    def raw(self, b): self.parts.append(b); return self
    def i8(self, v): return self.raw(struct.pack(">b", v))
    def i16(self, v): return self.raw(struct.pack(">h", v))
    def i32(self, v): return self.raw(struct.pack(">i", v))
    def i64(self, v): return self.raw(struct.pack(">q", v))

    def uvarint(self, v):
        b = bytearray()
        while v >= 0x80:
            b.append((v & 0x7f) | 0x80)
            v >>= 7
        b.append(v)
        return self.raw(bytes(b))

    def string(self, s):
        if s is None:
            return self.i16(-1)
        b = s.encode()
        return self.i16(len(b)).raw(b)

    def bytes_(self, b):
        if b is None:
            return self.i32(-1)
        return self.i32(len(b)).raw(b)

    def array(self, items, fn):
        self.i32(len(items))
        for it in items:
            fn(it)
        return self

    def data(self): return b"".join(self.parts)


class Broker:
    def __init__(self, host, port, produce_max, fetch_max):
        self.host, self.port = host, port
        self.versions = {PRODUCE: (3, produce_max), FETCH: (4, fetch_max), LIST_OFFSETS: (1, 2),
                         METADATA: (0, 4), API_VERSIONS: (0, 3)}

    # --- ApiVersions -----------------------------------------------------------
    def api_versions(self, r, v, w):
        if v >= 3:
            r.compact_string()  # client software name
            r.compact_string()  # and version
            r.tags()
        w.i16(NONE)
        keys = sorted(self.versions.items())
        if v >= 3:
            w.uvarint(len(keys) + 1)
            for k, (lo, hi) in keys:
                w.i16(k).i16(lo).i16(hi).uvarint(0)
        else:
            w.array(keys, lambda kv: w.i16(kv[0]).i16(kv[1][0]).i16(kv[1][1]))
        if v >= 1:
            w.i32(0)  # throttle
        if v >= 3:
            w.uvarint(0)
        return None

    # --- Metadata v0-v4 ----------------------------------------------------------------
    def metadata(self, r, v, w):
        topics = r.array(r.string)
        if v >= 4:
            r.i8()  # allow_auto_topic_creation
        if v >= 3:
            w.i32(0)
        w.array([0], lambda _: (w.i32(NODE_ID).string(self.host).i32(self.port),
                                v >= 1 and w.string(None)))
        if v >= 2:
            w.string("netwarden-test")
        if v >= 1:
            w.i32(NODE_ID)
        with lock:
            names = topics if topics else sorted(logs)
            for t in names:
                logs.setdefault(t, [])

        def topic(t):
            w.i16(NONE).string(t)
            if v >= 1:
                w.i8(0)
            w.array([0], lambda p: w.i16(NONE).i32(p).i32(NODE_ID).array([NODE_ID], w.i32)
                    .array([NODE_ID], w.i32))
        w.array(names, topic)
        return names[0] if names else None

    # --- ListOffsets v1-v2 ----------------------------------------------------------------
    def list_offsets(self, r, v, w):
        r.i32()  # replica
        if v >= 2:
            r.i8()
        req = r.array(lambda: (r.string(), r.array(lambda: (r.i32(), r.i64()))))
        if v >= 2:
            w.i32(0)

        def topic(t):
            name, parts = t
            with lock:
                end = self.end_offset(name)

            def part(p):
                idx, ts = p
                w.i32(idx).i16(NONE).i64(-1).i64(0 if ts == -2 else end)
            w.string(name).array(parts, part)
        w.array(req, topic)
        return req[0][0] if req else None

    def end_offset(self, topic):
        batches = logs.get(topic, [])
        return batches[-1][0] + batches[-1][1] if batches else 0

    # --- Produce v3+ ----------------------------------------------------------------------
    def produce(self, r, v, w, entry):
        r.string()  # transactional id
        acks = r.i16()
        r.i32()  # timeout
        data = r.array(lambda: (r.string(), r.array(lambda: (r.i32(), r.bytes_()))))
        entry["acks"] = acks
        results = []
        for name, parts in data:
            presults = []
            for idx, records in parts:
                with lock:
                    if name in fail_once:
                        fail_once.discard(name)
                        presults.append((idx, NOT_LEADER, -1))
                        entry["error_code"] = NOT_LEADER
                        continue
                    base = self.end_offset(name)
                    off = base
                    b = records or b""
                    pos = 0
                    while pos + 61 <= len(b):  # record batches, magic 2
                        length = struct.unpack(">i", b[pos + 8:pos + 12])[0]
                        batch = bytearray(b[pos:pos + 12 + length])
                        count = struct.unpack(">i", batch[57:61])[0]
                        batch[0:8] = struct.pack(">q", off)
                        logs.setdefault(name, []).append((off, count, bytes(batch)))
                        off += count
                        pos += 12 + length
                    presults.append((idx, NONE, base))
            results.append((name, presults))
        if acks == 0:
            return data[0][0] if data else None, False

        def topic(t):
            name, presults = t

            def part(p):
                w.i32(p[0]).i16(p[1]).i64(p[2])
                if v >= 2:
                    w.i64(-1)
                if v >= 5:
                    w.i64(0)
                if v >= 8:
                    w.i32(0).string(None)
            w.string(name).array(presults, part)
        w.array(results, topic)
        w.i32(0)  # throttle
        return data[0][0] if data else None, True

    # --- Fetch v4+ -------------------------------------------------------------------------------
    def fetch(self, r, v, w, peer_closed):
        r.i32()  # replica
        max_wait = r.i32()
        r.i32()  # min bytes
        r.i32()  # max bytes
        r.i8()   # isolation
        if v >= 7:
            r.i32()
            r.i32()

        def part():
            idx = r.i32()
            if v >= 9:
                r.i32()
            off = r.i64()
            if v >= 5:
                r.i64()
            r.i32()
            return idx, off
        topics = r.array(lambda: (r.string(), r.array(part)))
        if v >= 7:
            r.array(lambda: (r.string(), r.array(r.i32)))
        if v >= 11:
            r.string()

        def available():
            with lock:
                return any(self.end_offset(t) > off for t, ps in topics for _, off in ps)
        deadline = time.monotonic() + min(max_wait, 500) / 1000.0
        while not available() and time.monotonic() < deadline:
            if peer_closed():
                raise ConnectionError("client left with a Fetch pending")
            time.sleep(0.01)
        w.i32(0)  # throttle
        if v >= 7:
            w.i16(NONE).i32(0)

        def topic(t):
            name, parts = t

            def part_resp(p):
                idx, off = p
                with lock:
                    end = self.end_offset(name)
                    recs = b"".join(b for base, n, b in logs.get(name, []) if base + n > off)
                w.i32(idx).i16(NONE).i64(end).i64(end)
                if v >= 5:
                    w.i64(0)
                w.i32(-1)  # aborted transactions: null
                if v >= 11:
                    w.i32(-1)
                w.bytes_(recs)
            w.string(name).array(parts, part_resp)
        w.array(topics, topic)
        return topics[0][0] if topics else None

    # --- dispatch ---------------------------------------------------------------------------------
    def handle(self, msg, peer_closed):
        """(log entry, response bytes: b"" for none, None to hang up)."""
        r = Reader(msg)
        key, v, corr = r.i16(), r.i16(), r.i32()
        r.string()  # client id
        flexible = key == API_VERSIONS and v >= 3
        if flexible:
            r.tags()
        entry = {"api": key, "version": v, "corr": corr, "topic": None}
        w = W()
        respond = True
        lo, hi = self.versions.get(key, (0, -1))
        if not lo <= v <= hi:
            if key == API_VERSIONS:  # answered in v0 with what we support
                w.i16(UNSUPPORTED_VERSION)
                w.array(sorted(self.versions.items()),
                        lambda kv: w.i16(kv[0]).i16(kv[1][0]).i16(kv[1][1]))
            else:
                return dict(entry, error="unsupported"), None
        elif key == API_VERSIONS:
            self.api_versions(r, v, w)
        elif key == METADATA:
            entry["topic"] = self.metadata(r, v, w)
        elif key == LIST_OFFSETS:
            entry["topic"] = self.list_offsets(r, v, w)
        elif key == PRODUCE:
            entry["topic"], respond = self.produce(r, v, w, entry)
        elif key == FETCH:
            entry["topic"] = self.fetch(r, v, w, peer_closed)
        if not respond:
            return entry, b""
        body = struct.pack(">i", corr) + w.data()  # response header v0 for all of these
        return entry, struct.pack(">i", len(body)) + body


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--produce-max", type=int, default=7)
    ap.add_argument("--fetch-max", type=int, default=11)
    ap.add_argument("--fail-first-produce", action="append", default=[])
    a = ap.parse_args()
    fail_once.update(a.fail_first_produce)
    broker = Broker(a.host, a.port, a.produce_max, a.fetch_max)

    class Handler(socketserver.BaseRequestHandler):
        def peer_closed(self):
            try:
                return self.request.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
            except BlockingIOError:
                return False
            except OSError:
                return True

        def handle(self):
            f = self.request.makefile("rb")
            while True:
                hdr = f.read(4)
                if len(hdr) < 4:
                    return
                n = struct.unpack(">i", hdr)[0]
                msg = f.read(n)
                if len(msg) < n:
                    return
                try:
                    entry, resp = broker.handle(msg, self.peer_closed)
                except (ValueError, struct.error) as e:
                    log({"error": str(e)})
                    return
                except ConnectionError as e:
                    log({"error": str(e)})
                    return
                answered = False
                try:
                    if resp:
                        self.request.sendall(resp)
                        answered = True
                except OSError:
                    pass
                log(dict(entry, answered=answered))
                if resp is None or (resp and not answered):
                    return

    class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
        daemon_threads = True
        allow_reuse_address = True
        address_family = socket.AF_INET6 if ":" in a.host else socket.AF_INET

    srv = Server((a.host, a.port), Handler)
    log({"listening": srv.server_address[1]})
    srv.serve_forever()


if __name__ == "__main__":
    main()
