#!/usr/bin/python3
"""contrib/netwarden.service: systemd's own review of its hardening
(systemd-analyze security --offline), and whether its outer layer lets
netwarden do its job: every system call and socket family that a real run
makes (setup, a query, a worker restart, a stop, in both event modes, traced
with strace -f) must be allowed by the unit's SystemCallFilter= and
RestrictAddressFamilies=. A filter that misses one would kill the service
only in production; this finds it here."""
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nwtest as nw  # noqa: E402

tap = nw.Tap()
nw.require_root(tap)
UNIT = os.path.join(nw.ROOT, "contrib", "netwarden.service")
MAX_EXPOSURE = 4.0

if not shutil.which("systemd-analyze"):
    tap.ok(True, "# SKIP systemd-analyze is not installed")
    tap.done()


def unit_values(key):
    vals = []
    with open(UNIT) as f:
        for line in f:
            if line.startswith(key + "="):
                vals.append(line.split("=", 1)[1].strip())
    return vals


r = nw.run(["systemd-analyze", "security", "--offline=true", UNIT], check=False, timeout=60)
m = re.search(r"Overall exposure level for netwarden.service: ([0-9.]+) (\w+)", r.stdout + r.stderr)
tap.ok(m and float(m.group(1)) <= MAX_EXPOSURE,
       "systemd-analyze security: exposure %s %s (at most %.1f)" % (m.group(1) if m else "?",
                                                                    m.group(2) if m else "", MAX_EXPOSURE),
       (r.stdout + r.stderr)[-1500:])
if m:
    tap.diag("systemd-analyze security --offline=true contrib/netwarden.service: %s %s"
             % (m.group(1), m.group(2)))

_groups = {}


def expand(name):
    """A syscall, or every syscall of a systemd @group (nested groups too)."""
    if not name.startswith("@"):
        return {name}
    if name not in _groups:
        _groups[name] = set()
        out = nw.run(["systemd-analyze", "syscall-filter", name], timeout=30).stdout
        for line in out.splitlines()[1:]:
            line = line.strip()
            if line and not line.startswith("#"):
                _groups[name] |= expand(line)
    return _groups[name]


allowed, denied = set(), set()
for v in unit_values("SystemCallFilter"):
    target = denied if v.startswith("~") else allowed
    for name in v.lstrip("~").split():
        target |= expand(name)
families = set(" ".join(unit_values("RestrictAddressFamilies")).split())
tap.ok(allowed and families, "the unit has a system call allow list and address families",
       (allowed, families))

if not shutil.which("strace"):
    tap.ok(True, "# SKIP strace is not installed: the run-time check needs it")
    tap.done()


def traced_run(*flags):
    """strace -f a daemon through setup, a query, a worker restart and a stop."""
    d = nw.tmpdir("nwt-unit-")
    sock = os.path.join(d, "run", "nw.sock")
    trace = os.path.join(d, "strace.txt")
    log = open(os.path.join(d, "log"), "wb")
    p = subprocess.Popen(["strace", "-f", "-qq", "-o", trace, nw.NETWARDEN, "--rpc-socket=" + sock] + list(flags),
                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    nw.on_cleanup(lambda: p.poll() is None and p.kill())

    def logtext():
        with open(os.path.join(d, "log"), errors="replace") as f:
            return f.read()

    ok = nw.wait_for(lambda: "netwarden: ready: worker pid" in logtext() or p.poll() is not None, 60)
    wpid = re.search(r"ready: worker pid (\d+)", logtext())
    if ok and wpid:
        nw.run([nw.NETWARDENCTL, "--socket=" + sock, "stats"], check=False)
        os.kill(int(wpid.group(1)), signal.SIGKILL)
        nw.wait_for(lambda: "worker restarted" in logtext() and "restart 1;" in logtext(), 10)
        nw.run([nw.NETWARDENCTL, "--socket=" + sock, "conns"], check=False)
    # strace's pid, not netwarden's: signal the traced loader directly
    loader = subprocess.run(["pgrep", "-P", str(p.pid)], stdout=subprocess.PIPE, text=True).stdout.split()
    for pid in loader:
        os.kill(int(pid), signal.SIGTERM)
    try:
        p.wait(20)
    except subprocess.TimeoutExpired:
        p.kill()
    calls, fams = set(), set()
    with open(trace, errors="replace") as f:
        for line in f:
            m = re.match(r"^\d+\s+([a-z_0-9]+)\(", line)
            if m:
                calls.add(m.group(1))
            m = re.search(r"\bsocket(?:pair)?\((AF_[A-Z0-9]+)", line)
            if m:
                fams.add(m.group(1))
    return calls, fams, logtext()


for mode in ("ringbuf", "perf"):
    calls, fams, text = traced_run("--events=" + mode)
    tap.ok(len(calls) > 40 and "worker restarted" in text,
           "%s: a traced run with a restart (%d distinct syscalls)" % (mode, len(calls)), text[-1500:])
    missing = sorted(c for c in calls if c not in allowed or c in denied)
    tap.ok(not missing, "%s: the unit's SystemCallFilter= allows every syscall netwarden made" % mode, missing)
    tap.ok(fams <= families, "%s: RestrictAddressFamilies= allows every socket family it used (%s)"
           % (mode, " ".join(sorted(fams))), fams - families)

tap.done()
