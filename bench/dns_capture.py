#!/usr/bin/python3
"""The DNS capture's cost per packet on lo (research/perf.md S7, S8), in one run.

Contenders, each alone on the host's packet taps while the load runs:
  none        no capture
  tcpdump53   tcpdump -i lo -n -w /dev/null udp port 53 (TPACKET_V3 + classic BPF)
  nw-nodns    netwarden --dns=off: its connection tracer only, the baseline
              that the two DNS modes add to (HTTP/Kafka capture off throughout)
  nw-ebpf     netwarden, eBPF socket filter copying DNS messages to a ring buffer
  nw-classic  netwarden --dns-filter=classic: classic filter, the loader forwards

Loads (bench/dns_load.c), CPU pinned as perf.md asks: server on CPU 0, load on CPU 1:
  dns   N UDP queries to dnsmasq on 127.0.0.77:53, 16 outstanding: every packet
        is DNS, so each is captured, copied and parsed
  tax   N 64-byte UDP datagrams on lo to a port that is not DNS: what having a
        packet socket costs every other packet of the host (S7)

Cost = CPU time of every process involved (load generator, dnsmasq, tcpdump or
netwarden's loader and worker, from /proc/PID/schedstat) per packet; on lo the
softirq work runs in the sender's context, so it is included. Rounds shuffle
the contenders, and each contender's run sits between two runs without any
capture: its ratio is to their mean, so that what else the machine does
cancels out as far as it can. Medians of the ratios (and the per-run costs)
are printed and written to .output/bench/dns_capture.json. Coverage: DNS
queries the worker parsed / queries sent.

Then one attribution pass with kernel.bpf_stats_enabled=1 (restored after): the
socket filter's own run time per packet it sees, and the worker's CPU per DNS
packet, for both loads (bpf_stats costs time itself: never on in the rounds).

Environment: NW_BENCH_ROUNDS (default 3), NW_BENCH_DNS_QUERIES (default 80000),
NW_BENCH_TAX_PACKETS (default 400000)."""
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, ".output")
LOAD = os.path.join(OUT, "bench", "dns_load")
NETWARDEN = os.path.join(OUT, "netwarden")
NETWARDENCTL = os.path.join(OUT, "netwardenctl")
SERVER = "127.0.0.77"
ROUNDS = int(os.environ.get("NW_BENCH_ROUNDS", "3"))
DNS_N = int(os.environ.get("NW_BENCH_DNS_QUERIES", "80000"))
TAX_N = int(os.environ.get("NW_BENCH_TAX_PACKETS", "400000"))

procs = []


def cleanup():
    for p in procs:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()


def on_signal(sig, frame):
    cleanup()
    sys.exit(128 + sig)


signal.signal(signal.SIGTERM, on_signal)
signal.signal(signal.SIGINT, on_signal)


def start(cmd, log):
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    procs.append(p)
    return p


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def cpu_ns(pid):
    """CPU time of every thread of a process, ns (0 when it is gone)."""
    total = 0
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
    except OSError:
        pass
    return total


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def wait_log(path, pattern, timeout, proc):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(path, errors="replace") as f:
            if re.search(pattern, f.read()):
                return True
        if proc.poll() is not None:
            return False
        time.sleep(0.05)
    return False


class Contender:
    def __init__(self, name, tmp):
        self.name, self.tmp = name, tmp
        self.p = None
        self.pids = []

    def up(self):
        log_path = os.path.join(self.tmp, self.name + ".log")
        log = open(log_path, "wb")
        if self.name == "none":
            return
        if self.name == "tcpdump53":
            self.p = start(["tcpdump", "-i", "lo", "-n", "-w", "/dev/null", "udp", "port", "53"], log)
            ok = wait_log(log_path, r"listening on lo", 15, self.p)
        else:
            sock = self.sock = os.path.join(self.tmp, "run-" + self.name, "nw.sock")
            flags = ["--rpc-socket=" + sock] + USM_OFF
            flags += {"nw-nodns": ["--dns=off"], "nw-ebpf": [],
                      "nw-classic": ["--dns-filter=classic"]}[self.name]
            self.p = start([NETWARDEN] + flags, log)
            ok = wait_log(log_path, r"netwarden: ready: worker pid", 30, self.p)
        if not ok:
            raise RuntimeError("%s did not start: %s" % (self.name, open(log_path).read()[-2000:]))
        time.sleep(0.3)
        self.pids = [self.p.pid] + children(self.p.pid)

    def cpu(self):
        return sum(cpu_ns(p) for p in self.pids)

    def counters(self):
        """netwarden's DNS counters (queries parsed, packets lost), or {}."""
        if not self.name.startswith("nw-"):
            return {}
        r = subprocess.run([NETWARDENCTL, "--socket=" + self.sock, "--json", "stats"],
                           stdout=subprocess.PIPE, text=True, timeout=10)
        st = json.loads(r.stdout)
        return {k: st.get(k, 0) for k in ("dns_queries", "tel_dns_ring_full", "dns_capture_loader_drops")}

    def down(self):
        if self.p:
            stop(self.p)


def run_load(mode, contender, server_pid):
    n = DNS_N if mode == "dns" else TAX_N
    cmd = ["taskset", "-c", "1", LOAD, "dns" if mode == "dns" else "udp", "--count", str(n)]
    if mode == "dns":
        cmd += ["--server", SERVER, "--window", "16"]
    ctr0 = contender.counters() if mode == "dns" else {}
    before = contender.cpu() + cpu_ns(server_pid)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError("dns_load %s: %s" % (mode, r.stderr))
    res = json.loads(r.stdout)
    time.sleep(0.2)  # the capture's consumer catches up (the ring is drained on its timer too)
    others = contender.cpu() + cpu_ns(server_pid) - before
    coverage = lost = None
    if ctr0:
        time.sleep(1.2)  # the worker's timer drains what is below the wakeup threshold
        ctr1 = contender.counters()
        coverage = (ctr1["dns_queries"] - ctr0["dns_queries"]) / max(res["sent"], 1)
        lost = sum(ctr1[k] - ctr0[k] for k in ctr0 if k != "dns_queries")
    # dns: a query and its answer; tax: each datagram is one packet on lo
    packets = res["received"] * 2 if mode == "dns" else res["sent"]
    return {"cpu_ns": res["cpu_ns"] + others, "packets": packets, "elapsed_ns": res["elapsed_ns"],
            "received": res["received"], "sent": res["sent"],
            "ns_per_packet": (res["cpu_ns"] + others) / max(packets, 1),
            "packets_per_s": packets / (res["elapsed_ns"] / 1e9), "coverage": coverage, "lost": lost}


def main():
    global USM_OFF
    if os.geteuid() != 0:
        sys.exit("bench/dns_capture.py: needs root (packet sockets, BPF)")
    for tool in ("dnsmasq", "tcpdump", "taskset"):
        if not shutil.which(tool):
            sys.exit("bench/dns_capture.py: %s is missing (scripts/deps.sh bench)" % tool)
    for path in (LOAD, NETWARDEN):
        if not os.access(path, os.X_OK):
            sys.exit("bench/dns_capture.py: %s is missing (make)" % path)
    helptext = subprocess.run([NETWARDEN, "--help"], stdout=subprocess.PIPE, text=True).stdout
    USM_OFF = [f for f in ("--http=off", "--kafka=off") if f.split("=")[0] + "=" in helptext]
    tmp = tempfile.mkdtemp(prefix="nw-bench-dns-")
    try:
        server_log = open(os.path.join(tmp, "dnsmasq.log"), "wb")
        server = start(["taskset", "-c", "0", "dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts",
                        "--bind-interfaces", "--listen-address=" + SERVER, "--port=53", "--pid-file=",
                        "--log-facility=-", "--host-record=bench.nwt.test,127.0.0.9",
                        "--local=/nwt.test/"], server_log)
        time.sleep(0.5)
        if server.poll() is not None:
            sys.exit("dnsmasq did not start: " + open(os.path.join(tmp, "dnsmasq.log")).read())
        names = ["none", "tcpdump53", "nw-nodns", "nw-ebpf", "nw-classic"]
        runs = {(m, c): [] for m in ("dns", "tax") for c in names}
        paired = {(m, c): [] for m in ("dns", "tax") for c in names if c != "none"}
        info = {"kernel": os.uname().release, "nproc": os.cpu_count(), "rounds": ROUNDS,
                "dns_queries": DNS_N, "tax_packets": TAX_N}
        print("dns capture benchmark: %d rounds, %d DNS queries and %d 64-byte datagrams per run, "
              "kernel %s, %d CPUs" % (ROUNDS, DNS_N, TAX_N, info["kernel"], info["nproc"]), flush=True)
        none = Contender("none", tmp)
        for rnd in range(ROUNDS):
            order = names[1:]
            random.shuffle(order)
            for name in order:
                # bracketed by runs without capture: the ratio is to their mean,
                # so that the machine's drift (other work, frequency) cancels out
                before = {m: run_load(m, none, server.pid) for m in ("dns", "tax")}
                c = Contender(name, tmp)
                c.up()
                try:
                    got = {m: run_load(m, c, server.pid) for m in ("dns", "tax")}
                finally:
                    c.down()
                after = {m: run_load(m, none, server.pid) for m in ("dns", "tax")}
                for mode in ("dns", "tax"):
                    base = (before[mode]["ns_per_packet"] + after[mode]["ns_per_packet"]) / 2
                    r = got[mode]
                    runs[(mode, name)].append(r)
                    runs[(mode, "none")] += [before[mode], after[mode]]
                    paired[(mode, name)].append(r["ns_per_packet"] / base)
                    print("  round %d %-10s %-3s %8.0f ns/packet (no capture around it: %.0f)  "
                          "ratio %.3f  %7.0f packets/s%s" % (
                              rnd + 1, name, mode, r["ns_per_packet"], base,
                              r["ns_per_packet"] / base, r["packets_per_s"],
                              "  queries seen %.4f of sent, lost %d" % (r["coverage"], r["lost"])
                              if r["coverage"] is not None else ""), flush=True)
        info["paired"] = {"%s/%s" % k: v for k, v in paired.items()}
        info["attribution"] = attribution(tmp, server.pid)
        report(runs, names, info)
    finally:
        cleanup()
        shutil.rmtree(tmp, True)


def prog_ids(pid):
    """Ids of the socket-filter programs a process holds (its fdinfo)."""
    ids = []
    for fd in os.listdir("/proc/%d/fdinfo" % pid):
        try:
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                info = dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
        except OSError:
            continue
        if info.get("prog_type", "").strip() == "1" and "prog_id" in info:
            ids.append(int(info["prog_id"]))
    return ids


def prog_stats(ids):
    """run_time_ns and run_cnt summed over these programs (bpftool)."""
    t = n = 0
    for i in ids:
        r = subprocess.run(["bpftool", "-j", "prog", "show", "id", str(i)], stdout=subprocess.PIPE,
                           text=True, timeout=10)
        p = json.loads(r.stdout or "{}")
        t += p.get("run_time_ns", 0)
        n += p.get("run_cnt", 0)
    return t, n


def attribution(tmp, server_pid):
    """The filter's ns per run and the worker's ns per DNS packet, bpf_stats on."""
    path = "/proc/sys/kernel/bpf_stats_enabled"
    with open(path) as f:
        old = f.read().strip()
    c = Contender("nw-ebpf", tmp)
    c.up()
    out = {}
    try:
        with open(path, "w") as f:
            f.write("1")
        ids = prog_ids(c.p.pid)  # this loader's filter only: other tracers may be loaded
        for mode in ("dns", "tax"):
            t0, n0 = prog_stats(ids)
            w0 = cpu_ns(c.pids[-1])
            r = run_load(mode, c, server_pid)
            t1, n1 = prog_stats(ids)
            w1 = cpu_ns(c.pids[-1])
            out[mode] = {"filter_ns_per_run": (t1 - t0) / max(n1 - n0, 1), "filter_runs": n1 - n0,
                         "packets": r["packets"], "worker_ns_per_packet": (w1 - w0) / max(r["packets"], 1)}
    finally:
        with open(path, "w") as f:
            f.write(old)
        c.down()
    return out


def report(runs, names, info):
    paired = info["paired"]
    out = {"info": info, "runs": {"%s/%s" % k: v for k, v in runs.items()}, "median": {}}
    print()
    print("ratio: CPU per packet against the mean of the runs without capture just before and after")
    print("%-11s %-4s %10s %14s %15s %12s %9s" % ("contender", "load", "ns/packet", "ratio (median)",
                                                  "ratio min-max", "packets/s", "coverage"))
    for mode in ("dns", "tax"):
        for name in names:
            costs = [r["ns_per_packet"] for r in runs[(mode, name)]]
            med = statistics.median(costs)
            rate = statistics.median(r["packets_per_s"] for r in runs[(mode, name)])
            cov = [r["coverage"] for r in runs[(mode, name)] if r["coverage"] is not None]
            ratios = paired.get("%s/%s" % (mode, name), [1.0])
            out["median"]["%s/%s" % (mode, name)] = {
                "ns_per_packet": med, "ratio": statistics.median(ratios), "ratio_min": min(ratios),
                "ratio_max": max(ratios), "packets_per_s": rate, "coverage": min(cov) if cov else None}
            print("%-11s %-4s %10.0f %14.3f %7.3f-%-7.3f %12.0f %9s" % (
                name, mode, med, statistics.median(ratios), min(ratios), max(ratios), rate,
                "%.4f" % min(cov) if cov else "-"))
    m = out["median"]
    for mode in ("dns", "tax"):
        tcp = m["%s/tcpdump53" % mode]["ratio"] - 1
        base = m["%s/nw-nodns" % mode]["ratio"]
        for nw in ("nw-ebpf", "nw-classic"):
            own = m["%s/%s" % (mode, nw)]["ratio"] - base
            out["median"]["%s/%s-increment" % (mode, nw)] = {"ratio_points": own, "tcpdump53_points": tcp}
            print("%s: the DNS capture's own share (%s minus nw-nodns) %+.1f %% of a packet's cost; "
                  "tcpdump53's %+.1f %%" % (mode, nw, 100 * own, 100 * tcp))
    for mode, a in info["attribution"].items():
        print("%s: nw-ebpf attribution (bpf_stats on): the socket filter %.0f ns per run, %.2f runs "
              "per packet; the worker %.0f ns per packet" % (mode, a["filter_ns_per_run"],
                                                          a["filter_runs"] / max(a["packets"], 1),
                                                          a["worker_ns_per_packet"]))
    os.makedirs(os.path.join(OUT, "bench"), exist_ok=True)
    with open(os.path.join(OUT, "bench", "dns_capture.json"), "w") as f:
        json.dump(out, f, indent=1)
    print("raw runs and medians: .output/bench/dns_capture.json")


USM_OFF = []
if __name__ == "__main__":
    main()
