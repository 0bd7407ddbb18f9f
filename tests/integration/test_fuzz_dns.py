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
import re
import shutil
import subprocess
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

cmd = [FUZZER, "-max_total_time=%d" % seconds, "-timeout=10", "-rss_limit_mb=2048",
       "-print_final_stats=1", "-artifact_prefix=" + ARTIFACTS + "/", corpus]
try:
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=seconds + 120, text=True, errors="replace")
    out, rc = p.stdout, p.returncode
except subprocess.TimeoutExpired as e:
    out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
    rc = -1

stats = dict(re.findall(r"^stat::(\w+):\s+(\d+)", out, re.M))
execs = int(stats.get("number_of_executed_units", 0))
rate = int(stats.get("average_exec_per_sec", 0))
crashed = rc != 0 or re.search(r"^==\d+==ERROR|^SUMMARY: |deadly signal|runtime error:", out, re.M)
artifact = re.findall(r"Test unit written to (\S+)", out)
tap.ok(not crashed, "%d s of fuzzing without a crash or sanitizer report (exit %d)" % (seconds, rc),
       "\n".join(out.splitlines()[-40:] + ["reproducer: %s" % a for a in artifact]))
tap.ok(execs > 0, "executed %d inputs, %d/s, %s new corpus units" %
       (execs, rate, stats.get("new_units_added", "?")))
tap.diag("fuzz_dns_parse: %d executions in %d s (%d exec/s), corpus %s" % (execs, seconds, rate, corpus))
tap.done()
