#!/usr/bin/python3
"""Bounded libFuzzer run of the classic-capture decoder (tests/fuzz/fuzz_capture.c).

The seeds are the DNS corpus (tests/data/dns) wrapped the ways the loader
forwards packets: IPv4/UDP, IPv6/UDP, IPv4/TCP with the length prefix, and
behind an 802.1Q tag, each after the selector byte the target reads.
`make test` runs it for NW_FUZZ_SECONDS (default 10) on a throw-away corpus;
`make fuzz` for FUZZ_SECONDS with a corpus kept in .output/fuzz/corpus-capture.
A crash, a sanitizer report, a timeout or a leak is a failure; the reproducer
is left in .output/fuzz/artifacts/.
"""
import glob
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nwtest as nw  # noqa: E402

FUZZER = os.path.join(nw.OUT, "fuzz", "fuzz_capture")
SEEDS = os.path.join(nw.ROOT, "tests", "data", "dns")
ARTIFACTS = os.path.join(nw.OUT, "fuzz", "artifacts")

tap = nw.Tap()
seconds = int(os.environ.get("NW_FUZZ_SECONDS", "10"))
corpus = os.environ.get("NW_FUZZ_CORPUS")
corpus = corpus + "-capture" if corpus else nw.tmpdir("nwt-fuzz-capture-")

if not tap.ok(os.access(FUZZER, os.X_OK), "fuzz_capture is built",
              "%s missing: make fuzz-bins (needs libclang-rt-14-dev)" % FUZZER):
    tap.done()


def ipv4(proto, l4):
    return struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 1, 0, 64, proto, 0,
                       bytes([198, 18, 1, 2]), bytes([198, 18, 2, 2])) + l4


def ipv6(nh, l4):
    return struct.pack(">IHBB16s16s", 6 << 28, len(l4), nh, 64, bytes(15) + b"\1",
                       bytes(15) + b"\2") + l4


def udp(sport, dport, msg):
    return struct.pack(">HHHH", sport, dport, 8 + len(msg), 0) + msg


def tcp(sport, dport, msg):
    return struct.pack(">HHIIBBHHH", sport, dport, 1, 0, 5 << 4, 0x18, 65535, 0, 0) + \
        struct.pack(">H", len(msg)) + msg


os.makedirs(corpus, exist_ok=True)
os.makedirs(ARTIFACTS, exist_ok=True)
msgs = [open(p, "rb").read() for p in sorted(glob.glob(os.path.join(SEEDS, "*.bin")))]
n = 0
for i, m in enumerate(msgs):
    for name, seed in (("u4", b"\0" + ipv4(17, udp(40000, 53, m))),
                       ("u6", b"\1" + ipv6(17, udp(53, 40000, m))),
                       ("t4", b"\0" + ipv4(6, tcp(53, 40000, m))),
                       ("v4", b"\2" + struct.pack(">HH", 100, 0x0800) + ipv4(17, udp(40000, 53, m)))):
        with open(os.path.join(corpus, "seed-%03d-%s" % (i, name)), "wb") as f:
            f.write(seed)
        n += 1
tap.ok(n >= 120, "seed corpus: %d packets from %d DNS messages" % (n, len(msgs)))

nw.libfuzzer(tap, "fuzz_capture", FUZZER, seconds, corpus, ARTIFACTS)
tap.done()
