"""Shared pieces of the benchmarks under bench/: machine CPU and process
counters, a netwarden instance started and stopped around a measurement,
sysctls restored on exit, and paired-ratio statistics.

Nothing here asserts; it measures."""
import atexit
import json
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, ".output")
NETWARDEN = os.path.join(OUT, "netwarden")
NETWARDENCTL = os.path.join(OUT, "netwardenctl")
TCK = os.sysconf("SC_CLK_TCK")


def cpu_busy_s():
    """Seconds of CPU time the whole machine spent not idle, so far."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / TCK


def proc_cpu_s(pid):
    """user+system seconds of one process (all its threads), or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TCK


def proc_status(pid, key):
    """An integer field of /proc/PID/status (VmRSS in kB, voluntary_ctxt_switches)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def pinned(cmd, cpu):
    """cmd run on one CPU (taskset), if the machine has that CPU."""
    if cpu is None or cpu >= (os.cpu_count() or 1):
        return list(cmd)
    return ["taskset", "-c", str(cpu)] + list(cmd)


def wait_line(path, needle, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with open(path, errors="replace") as f:
                for line in f:
                    if needle in line:
                        return line
        except OSError:
            pass
        time.sleep(0.05)
    return None


def stop_proc(p, sig=signal.SIGTERM, timeout=15):
    if p is None or p.poll() is not None:
        return
    p.send_signal(sig)
    try:
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(5)


def fdinfos(pid):
    """(readlink target, {fdinfo key: value}) for each fd a process holds."""
    base = "/proc/%d" % pid
    try:
        fds = os.listdir(base + "/fd")
    except OSError:
        return
    for fd in fds:
        try:
            target = os.readlink("%s/fd/%s" % (base, fd))
            with open("%s/fdinfo/%s" % (base, fd)) as f:
                info = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        yield target, {k.strip(): v.strip() for k, v in info.items()}


def prog_ids(pid):
    """Ids of the BPF programs a process holds (prog and link fds' prog_id)."""
    return {int(info["prog_id"]) for _, info in fdinfos(pid) if "prog_id" in info}


def progs_by_id(ids):
    """bpftool's view (name, run_cnt, run_time_ns, ...) of those programs."""
    r = subprocess.run(["bpftool", "-j", "prog", "show"], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    try:
        return {p["id"]: p for p in json.loads(r.stdout or "[]") if p.get("id") in ids}
    except ValueError:
        return {}


class Netwarden:
    """One netwarden (loader + worker) with its own RPC socket and log.

    start() returns once the worker says it is ready; .worker_pid and
    .loader (Popen) are set then. ctl(args) runs netwardenctl against it."""

    def __init__(self, flags=()):
        self.flags = list(flags)
        self.dir = None
        self.loader = None
        self.worker_pid = None

    @property
    def sock(self):
        return os.path.join(self.dir, "run", "nw.sock")

    @property
    def log(self):
        return os.path.join(self.dir, "log")

    def start(self, timeout=30):
        self.dir = tempfile.mkdtemp(prefix="nw-bench-")
        with open(self.log, "wb") as f:
            self.loader = subprocess.Popen([NETWARDEN, "--rpc-socket=" + self.sock] + self.flags,
                                           stdout=f, stderr=subprocess.STDOUT)
        line = wait_line(self.log, "netwarden: ready: worker pid", timeout)
        if not line:
            tail = open(self.log, errors="replace").read()[-800:]
            self.stop()
            raise RuntimeError("netwarden %s did not start: %s" % (" ".join(self.flags), tail))
        self.worker_pid = int(line.split("worker pid")[1].split(",")[0])
        return self

    def ctl(self, args, timeout=120, check=True):
        r = subprocess.run([NETWARDENCTL, "--socket=" + self.sock] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
        if check and r.returncode:
            raise RuntimeError("netwardenctl %s: exit %d: %s" % (" ".join(args), r.returncode,
                                                                r.stderr.strip()[-400:]))
        return r.stdout

    def stop(self):
        stop_proc(self.loader)
        self.loader = None
        if self.dir:
            shutil.rmtree(self.dir, True)
            self.dir = None


_sysctl_saved = {}


def _restore_sysctls():
    for key, val in _sysctl_saved.items():
        try:
            with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
                f.write(val)
        except OSError:
            pass


atexit.register(_restore_sysctls)


def set_sysctl(key, value):
    """Set a sysctl; the first value seen is written back at exit."""
    path = "/proc/sys/" + key.replace(".", "/")
    with open(path) as f:
        old = f.read()
    _sysctl_saved.setdefault(key, old)
    with open(path, "w") as f:
        f.write(str(value))


def restore_sysctls():
    _restore_sysctls()
    _sysctl_saved.clear()


def paired_stats(ratios):
    """median, min, max and count of a list of ratios (None entries skipped)."""
    v = [r for r in ratios if r is not None]
    if not v:
        return None
    return {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v)}
