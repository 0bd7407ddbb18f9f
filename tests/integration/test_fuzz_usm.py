#!/usr/bin/python3
"""Bounded libFuzzer runs of the USM parsers and trackers
(tests/fuzz/fuzz_http.c, tests/fuzz/fuzz_kafka.c).

Each target runs for NW_FUZZ_SECONDS (default 15) on a corpus seeded here with
real-looking HTTP/1.x and Kafka Produce/Fetch messages (built below, so no
binary seeds live in git) in a throw-away directory, or in NW_FUZZ_CORPUS/<target>
when set so runs build on each other. A crash, a sanitizer report, a timeout
or a leak is a failure; the reproducer is left in .output/fuzz/artifacts/.
"""
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nwtest as nw  # noqa: E402

ARTIFACTS = os.path.join(nw.OUT, "fuzz", "artifacts")
seconds = int(os.environ.get("NW_FUZZ_SECONDS", "15"))
keep = os.environ.get("NW_FUZZ_CORPUS")


def http_seeds():
    reqs = [b"GET /users/42?x=1 HTTP/1.1\r\nHost: a\r\n\r\n",
            b"POST /api/v1/items HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
            b"HEAD /static/site.css HTTP/1.0\r\n\r\n",
            b"CONNECT db:5432 HTTP/1.1\r\n\r\n",
            b"GET http://proxy.example/a/b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"]
    resps = [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
             b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
             b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
             b"HTTP/1.0 503 Busy\r\n\r\n"]
    seeds = reqs + resps
    # scripts: (flags, len, payload) records, see fuzz_http.c
    for i, (q, r) in enumerate(zip(reqs, resps)):
        seeds.append(bytes([0x02 | (i & 3) << 2, len(q)]) + q +
                     bytes([0x23 | (i & 3) << 2, len(r)]) + r)
    seeds.append(bytes([0, len(reqs[0] + reqs[2])]) + reqs[0] + reqs[2] +
                 bytes([1, len(resps[0] * 2)]) + resps[0] * 2)
    return seeds


def kstr(s, compact=False):
    if s is None:
        return b"\x00" if compact else struct.pack(">h", -1)
    return (bytes([len(s) + 1]) if compact else struct.pack(">h", len(s))) + s


def kmsg(body):
    return struct.pack(">i", len(body)) + body


def produce(v, corr, topic):
    flex = v >= 9
    b = struct.pack(">hhi", 0, v, corr) + kstr(b"rdkafka") + (b"\x00" if flex else b"")
    if v >= 3:
        b += kstr(None, flex)
    b += struct.pack(">hi", -1, 1000)
    b += (b"\x02" if flex else struct.pack(">i", 1))
    b += (bytes(16) if v >= 13 else kstr(topic, flex))
    b += (b"\x02" if flex else struct.pack(">i", 1)) + struct.pack(">i", 0)
    b += (b"\x0b" if flex else struct.pack(">i", 10)) + bytes(10)
    b += b"\x00\x00\x00" if flex else b""
    return kmsg(b)


def fetch(v, corr, topic):
    flex = v >= 12
    b = struct.pack(">hhi", 1, v, corr) + kstr(b"consumer") + (b"\x00" if flex else b"")
    if v <= 14:
        b += struct.pack(">i", -1)
    b += struct.pack(">ii", 500, 1)
    b += struct.pack(">i", 1 << 20) if v >= 3 else b""
    b += b"\x00" if v >= 4 else b""
    b += struct.pack(">ii", 0, -1) if v >= 7 else b""
    b += (b"\x02" if flex else struct.pack(">i", 1))
    b += (bytes(16) if v >= 13 else kstr(topic, flex))
    b += (b"\x01" if flex else struct.pack(">i", 0)) + (b"\x00" if flex else b"")
    return kmsg(b)


def produce_resp(v, corr, topic, err):
    flex = v >= 9
    b = struct.pack(">i", corr) + (b"\x00" if flex else b"")
    b += (b"\x02" if flex else struct.pack(">i", 1))
    b += (bytes(16) if v >= 13 else kstr(topic, flex))
    b += (b"\x02" if flex else struct.pack(">i", 1)) + struct.pack(">ihq", 0, err, 7)
    return kmsg(b)


def kafka_seeds():
    seeds = []
    for v in (0, 3, 7, 8, 9, 11, 13):
        q, r = produce(v, v, b"orders"), produce_resp(v, v, b"orders", 0)
        seeds += [q, r, struct.pack(">BH", 2, len(q)) + q + struct.pack(">BH", 3, len(r)) + r]
    for v in (0, 4, 7, 11, 12, 13, 15, 17):
        seeds.append(fetch(v, 100 + v, b"clicks"))
    two = produce(9, 1, b"a") + fetch(12, 2, b"b")
    seeds.append(struct.pack(">BH", 0x82, len(two)) + two)
    return seeds


def run(tap, name, seeds):
    fuzzer = os.path.join(nw.OUT, "fuzz", name)
    if not tap.ok(os.access(fuzzer, os.X_OK), "%s is built" % name,
                  "%s missing: make fuzz-bins (needs libclang-rt-14-dev)" % fuzzer):
        return
    corpus = os.path.join(keep, name) if keep else nw.tmpdir("nwt-fuzz-%s-" % name)
    os.makedirs(corpus, exist_ok=True)
    os.makedirs(ARTIFACTS, exist_ok=True)
    for i, s in enumerate(seeds):
        with open(os.path.join(corpus, "seed-%03d" % i), "wb") as f:
            f.write(s)
    nw.libfuzzer(tap, name, fuzzer, seconds, corpus, ARTIFACTS)


tap = nw.Tap()
run(tap, "fuzz_http", http_seeds())
run(tap, "fuzz_kafka", kafka_seeds())
tap.done()
