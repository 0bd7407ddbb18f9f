#!/usr/bin/python3
"""Bounded libFuzzer run of the DNS parser (tests/fuzz/fuzz_dns_parse.c).

`make test` runs it for NW_FUZZ_SECONDS (default 20) on a throw-away copy of
the seed corpus (tests/data/dns); `make fuzz` runs it for FUZZ_SECONDS with a
corpus kept in .output/fuzz/corpus (NW_FUZZ_CORPUS) so runs build on each
other. A crash, a sanitizer report, a timeout or a leak is a failure; the
reproducer is left in .output/fuzz/artifacts/ and named in the output.
"""
import glob
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nwtest as nw  # noqa: E402

FUZZER = os.path.join(nw.OUT, "fuzz", "fuzz_dns_parse")
SEEDS = os.path.join(nw.ROOT, "tests", "data", "dns")
ARTIFACTS = os.path.join(nw.OUT, "fuzz", "artifacts")

tap = nw.Tap()
seconds = int(os.environ.get("NW_FUZZ_SECONDS", "20"))
corpus = os.environ.get("NW_FUZZ_CORPUS") or nw.tmpdir("nwt-fuzz-")

if not tap.ok(os.access(FUZZER, os.X_OK), "fuzz_dns_parse is built",
              "%s missing: make fuzz-bins (needs libclang-rt-14-dev)" % FUZZER):
    tap.done()

os.makedirs(corpus, exist_ok=True)
os.makedirs(ARTIFACTS, exist_ok=True)
seeds = sorted(glob.glob(os.path.join(SEEDS, "*.bin")))
for s in seeds:
    shutil.copy(s, corpus)
tap.ok(len(seeds) >= 30, "seed corpus: %d messages from tests/data/dns" % len(seeds))

nw.libfuzzer(tap, "fuzz_dns_parse", FUZZER, seconds, corpus, ARTIFACTS)
tap.done()
