#!/usr/bin/python3
"""Closed-connection pipeline under load, side by side in one run.

The same load (tests/helpers/connload: NW_BENCH_RATE TCP connections opened
and closed per second on loopback for NW_BENCH_SECONDS) runs with:
  - no tracer (baseline),
  - netwarden, ring-buffer mode (wakeups by fill level, the default),
  - netwarden, ring-buffer mode waking the consumer for every record,
  - netwarden, perf-buffer mode (per-CPU batches, watermark wakeups),
  - tcplife from libbpf-tools (a peer that prints every closed connection).
For each: connections made, machine CPU time consumed during the load (from
/proc/stat), the consumer's wakeups per second (voluntary context switches of
the process reading the buffers) and the ratios against the baseline.
Nothing here asserts: it measures and prints.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, ".output")
RATE = int(os.environ.get("NW_BENCH_RATE", "15000"))
SECONDS = int(os.environ.get("NW_BENCH_SECONDS", "10"))


def cpu_busy_s():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return (sum(v[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def vol_switches(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("voluntary_ctxt_switches"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


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


def run_load(port):
    srv = subprocess.Popen([os.path.join(OUT, "tests", "connload"), "server", "--bind", "127.0.0.1",
                            "--port", str(port), "--seconds", str(SECONDS + 6)],
                           stdout=subprocess.PIPE, text=True)
    srv.stdout.readline()
    cli = subprocess.run([os.path.join(OUT, "tests", "connload"), "client", "--connect", "127.0.0.1",
                          "--port", str(port), "--rate", str(RATE), "--seconds", str(SECONDS),
                          "--parallel", "512"], stdout=subprocess.PIPE, text=True, timeout=SECONDS + 30)
    srv.send_signal(signal.SIGTERM)
    srv.wait(10)
    return json.loads(cli.stdout.strip().splitlines()[-1])


def measure(name, start, consumer_pid_of, stop, port):
    """start() -> handle; consumer_pid_of(handle) -> pid whose wakeups count; stop(handle)."""
    h = start() if start else None
    pid = consumer_pid_of(h) if consumer_pid_of else None
    time.sleep(1)
    sw0 = vol_switches(pid) if pid else None
    c0, t0 = cpu_busy_s(), time.monotonic()
    res = run_load(port)
    c1, t1 = cpu_busy_s(), time.monotonic()
    sw1 = vol_switches(pid) if pid else None
    if stop:
        stop(h)
    wake = (sw1 - sw0) / (t1 - t0) if sw0 is not None and sw1 is not None else None
    return {"name": name, "made": res["connected"] + res["failed"], "failed": res["failed"],
            "rate": res["rate"], "cpu_s": c1 - c0, "wall_s": t1 - t0, "wakeups_per_s": wake}


def netwarden(flags):
    d = tempfile.mkdtemp(prefix="nw-bench-")
    log = os.path.join(d, "log")

    def start():
        with open(log, "wb") as f:
            p = subprocess.Popen([os.path.join(OUT, "netwarden"), "--rpc-socket=" + d + "/run/nw.sock"]
                                 + flags, stdout=f, stderr=subprocess.STDOUT)
        line = wait_line(log, "netwarden: ready: worker pid", 30)
        if not line:
            p.kill()
            raise RuntimeError("netwarden %s did not start: %s" % (flags, open(log).read()[-800:]))
        return (p, int(line.split("worker pid")[1].split(",")[0]), d)

    def stop(h):
        h[0].send_signal(signal.SIGTERM)
        h[0].wait(15)
        shutil.rmtree(h[2], True)
    return start, (lambda h: h[1]), stop


def tcplife():
    exe = shutil.which("tcplife") or "/usr/sbin/tcplife"
    if not os.access(exe, os.X_OK):
        return None

    def start():
        p = subprocess.Popen([exe], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(2)
        if p.poll() is not None:
            raise RuntimeError("tcplife exited %d" % p.returncode)
        return p

    def stop(p):
        p.send_signal(signal.SIGINT)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
    return start, (lambda p: p.pid), stop


def main():
    if os.geteuid() != 0:
        sys.exit("bench/conn_load.py loads BPF programs: run as root")
    if not os.path.isdir("/sys/kernel/tracing/events"):
        subprocess.run(["mount", "-t", "tracefs", "nodev", "/sys/kernel/tracing"], check=False)
    runs = [("no tracer", None)]
    runs.append(("netwarden ringbuf", netwarden([])))
    runs.append(("netwarden ringbuf, wake per record", netwarden(["--ringbuf-wakeup-bytes=0"])))
    runs.append(("netwarden perf (batched)", netwarden(["--events=perf"])))
    t = tcplife()
    if t:
        runs.append(("tcplife (libbpf-tools)", t))
    results = []
    port = 18200
    for name, spec in runs:
        port += 1
        try:
            if spec is None:
                results.append(measure(name, None, None, None, port))
            else:
                results.append(measure(name, spec[0], spec[1], spec[2], port))
        except Exception as e:  # one peer failing must not hide the others
            print("%-36s failed: %s" % (name, e))
    base = results[0]["cpu_s"] / max(results[0]["made"], 1) if results else None
    print("\n%d TCP connections/s for %d s on loopback, %d CPUs" % (RATE, SECONDS, os.cpu_count()))
    print("%-36s %9s %8s %8s %10s %12s %12s" % ("run", "conns", "conn/s", "CPU s", "CPU/conn",
                                               "vs baseline", "wakeups/s"))
    for r in results:
        per = r["cpu_s"] / max(r["made"], 1)
        print("%-36s %9d %8.0f %8.2f %8.1fus %11.2fx %12s" % (
            r["name"], r["made"], r["rate"], r["cpu_s"], per * 1e6, per / base if base else 0,
            "-" if r["wakeups_per_s"] is None else "%.0f" % r["wakeups_per_s"]))


if __name__ == "__main__":
    main()
