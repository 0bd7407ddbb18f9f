#!/usr/bin/python3
"""Throughput nginx keeps under wrk with HTTP monitoring on, off, and no tracer.

nginx serves a small static file from a test host (netns + veth, as in the
integration tests); wrk runs in the root namespace, where the capture's packet
socket sees the veth. The same load runs, interleaved NW_BENCH_ROUNDS times:
  - no tracer (baseline),
  - netwarden with USM off (--http=off --kafka=off: connection tracing only),
  - netwarden with HTTP monitoring (the default),
  - netwarden with HTTP and Kafka monitoring (every TCP segment's flow looked up).
DNS capture is off in every netwarden run, so only USM differs between them.
Printed: wrk's requests/s (median of the rounds), the ratio against the
baseline, machine CPU time per request, the worker's CPU, the socket filter's
own time per packet (kernel.bpf_stats_enabled, on for the run), and with USM on
how many requests netwarden counted against how many wrk made (wrk may stop
with one request per connection in flight, which netwarden can count).
Throughput on a machine shared with other work is noisy: the rounds are
interleaved and the median kept; the filter's ns per packet is not affected.
Nothing here asserts: it measures and prints.
"""
import os
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import nwtest as nw  # noqa: E402
sys.path.insert(0, os.path.join(ROOT, "bench"))
import nwbench as nb  # noqa: E402

SECONDS = int(os.environ.get("NW_BENCH_SECONDS", "8"))
ROUNDS = int(os.environ.get("NW_BENCH_ROUNDS", "3"))
THREADS = int(os.environ.get("NW_BENCH_THREADS", "2"))
CONNS = int(os.environ.get("NW_BENCH_CONNS", str(THREADS)))
FILE_BYTES = int(os.environ.get("NW_BENCH_FILE_BYTES", "1024"))
PORT = 8080

MODES = [
    ("no tracer", None),
    ("netwarden, USM off", ["--dns=off", "--http=off", "--kafka=off"]),
    ("netwarden, HTTP on", ["--dns=off", "--http=on", "--kafka=off"]),
    ("netwarden, HTTP+Kafka on", ["--dns=off", "--http=on", "--kafka=on"]),
]


def filter_stats(loader_pid):
    """(runs, ns) of the loader's nw_usm_capture program."""
    for p in nb.progs_by_id(nb.prog_ids(loader_pid)).values():
        if p.get("name") == "nw_usm_capture":
            return p.get("run_cnt", 0), p.get("run_time_ns", 0)
    return 0, 0


def nginx(host, work, www):
    conf = os.path.join(work, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""daemon off;
master_process off;
worker_processes 1;
pid %(w)s/nginx.pid;
error_log %(w)s/nginx-error.log error;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    keepalive_requests 100000000;
    default_type text/plain;
    client_body_temp_path %(w)s/nginx-body;
    server { listen %(v4)s:%(port)d; root %(www)s; }
}
""" % {"w": work, "www": www, "v4": host.ns_v4, "port": PORT})
    p = nw.Proc(["nginx", "-c", conf, "-p", work], netns=host.name,
                stderr_path=os.path.join(work, "nginx.stderr"))
    ok = nw.wait_for(lambda: nw.run(["ip", "netns", "exec", host.name, "ss", "-Hltn",
                                     "sport = :%d" % PORT], check=False).stdout.strip(), 10, 0.1)
    if not ok:
        raise RuntimeError("nginx did not start: %s" % p.stderr())
    return p


def wrk(url):
    r = nw.run(["wrk", "-t%d" % THREADS, "-c%d" % CONNS, "-d%ds" % SECONDS, url],
               timeout=SECONDS + 30)
    n = int(re.search(r"(\d+) requests in ([\d.]+)s", r.stdout).group(1))
    secs = float(re.search(r"(\d+) requests in ([\d.]+)s", r.stdout).group(2))
    if re.search(r"Socket errors|Non-2xx", r.stdout):
        raise RuntimeError("wrk reported errors:\n" + r.stdout)
    return n, secs


def one_run(name, flags, url):
    d = None
    res = {"name": name}
    if flags is not None:
        d = nw.Daemon(*flags)
        d._json("http", client_id="bench")  # registers: the run's requests count from here
        worker = d.worker_pid()
        w0 = nb.proc_cpu_s(worker)
    time.sleep(0.5)
    c0 = nb.cpu_busy_s()
    n, secs = wrk(url)
    res["cpu_s"] = nb.cpu_busy_s() - c0
    res["requests"], res["rps"] = n, n / secs
    if d:
        res["worker_cpu_s"] = nb.proc_cpu_s(worker) - w0
        r = d._json("http", client_id="bench")
        res["counted"] = sum(s["count"] for s in r["stats"] if s["path"] == "/bench.txt")
        st = d.stats()
        res["ring_full"] = st.get("usm_tel_ring_full", 0)
        res["filter_runs"], res["filter_ns"] = filter_stats(d.p.pid)
        d.stop()
    return res


def main():
    if os.geteuid() != 0:
        sys.exit("bench/usm_nginx.py: run as root (network namespaces, BPF)")
    for b in ("netwarden", "netwarden-worker", "netwardenctl"):
        if not os.access(os.path.join(ROOT, ".output", b), os.X_OK):
            sys.exit("bench/usm_nginx.py: .output/%s missing: run make first" % b)
    work = nw.tmpdir("nwb-usm-")
    os.chmod(work, 0o755)
    www = os.path.join(work, "www")
    os.mkdir(www)
    with open(os.path.join(www, "bench.txt"), "wb") as f:
        f.write(b"x" * FILE_BYTES)
    os.chmod(www, 0o755)
    stats_path = "/proc/sys/kernel/bpf_stats_enabled"
    with open(stats_path) as f:
        was = f.read().strip()
    with open(stats_path, "w") as f:
        f.write("1")
    nw.on_cleanup(lambda: open(stats_path, "w").write(was))
    host = nw.TestHost("b", 63)
    nginx(host, work, www)
    url = "http://%s:%d/bench.txt" % (host.ns_v4, PORT)
    wrk(url)  # warm up nginx and the page cache
    runs = {name: [] for name, _ in MODES}
    for rnd in range(ROUNDS):
        for name, flags in MODES:
            try:
                runs[name].append(one_run(name, flags, url))
            except Exception as e:
                print("%-28s round %d failed: %s" % (name, rnd + 1, e))

    print("\nnginx (1 worker) serving %d bytes over veth, wrk -t%d -c%d -d%ds, %d CPUs; "
          "median of %d rounds" % (FILE_BYTES, THREADS, CONNS, SECONDS, os.cpu_count(), ROUNDS))
    print("%-28s %10s %7s %12s %12s %14s %20s %10s" % (
        "run", "req/s", "ratio", "CPU us/req", "worker CPU", "filter ns/pkt", "counted / wrk made",
        "ring full"))
    base = None
    for name, _ in MODES:
        rs = runs[name]
        if not rs:
            continue
        rps = statistics.median(r["rps"] for r in rs)
        base = base or rps
        cpu = statistics.median(r["cpu_s"] / r["requests"] * 1e6 for r in rs)
        wcpu = "-"
        counted = "-"
        full = "-"
        runs_, ns = sum(r.get("filter_runs", 0) for r in rs), sum(r.get("filter_ns", 0) for r in rs)
        per_pkt = "%.0f" % (ns / runs_) if runs_ else "-"
        if "worker_cpu_s" in rs[0]:
            wcpu = "%.1f%%" % (100 * statistics.median(r["worker_cpu_s"] / SECONDS for r in rs))
            full = str(sum(r["ring_full"] for r in rs))
            if "HTTP" in name:
                counted = "%d / %d" % (sum(r["counted"] for r in rs), sum(r["requests"] for r in rs))
        print("%-28s %10.0f %7.3f %12.1f %12s %14s %20s %10s" % (name, rps, rps / base, cpu, wcpu,
                                                                 per_pkt, counted, full))
    print("(ratio: req/s against no tracer; CPU us/req: machine CPU time per request, "
          "client and server included; filter ns/pkt: bpf_stats run time of the USM socket "
          "filter per packet it saw; counted: GET /bench.txt in netwarden http over all rounds)")


if __name__ == "__main__":
    main()
