#!/usr/bin/python3
"""DNS queries per second kept under dnsperf against unbound, with and without
a tracer, and netwarden's coverage (queries it saw / queries dnsperf sent).

Imported by the suite (bench/suite.py); `python3 bench/dnsperf.py` runs a short
demonstration. Pieces:

  Resolver(addr, port, names)  unbound, one thread, answering every query from
                               local data (a static zone of `names` A and AAAA
                               records): no recursion, no DNSSEC, no cache
                               misses; .start(cpu) .stop() .pid, a context manager
  queries_file(path, n)        a dnsperf datafile cycling those names, A and AAAA
  run_dnsperf(server, seconds, cpu, clients, outstanding)
                               one dnsperf run pinned to a CPU -> {"sent",
                               "completed", "lost", "qps", "avg_latency_ms", ...}
  nw_dns_seen(nw, server)      queries netwarden answered-or-timed-out for that
                               server since this client id's previous call
  nw_dns_counters(nw)          the worker's DNS counters that explain a shortfall

The default load (CLIENTS sockets, OUTSTANDING queries in flight) keeps the one
unbound thread busy on its CPU while dnsperf has the other: more outstanding
queries only add latency, not answers (see CLIENTS below).

Nothing here asserts: it measures."""
import json
import os
import random
import resource
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nwbench  # noqa: E402
from nwbench import pinned, stop_proc  # noqa: E402

SERVER = "127.0.0.153"   # not used by the system (systemd-resolved takes .53)
ZONE = "bench.test"
NAMES = 1000
CLIENT_ID = "bench-dnsperf"

# Measured on the 2-CPU bench machine, unbound on CPU 0 and dnsperf on CPU 1,
# 3 s runs (c/q: qps): 1/20: 113k, 2/50: 147k, 4/64: 148k, 4/100: 153k,
# 4/200: 155k at twice the latency, 8/100..8/500 and 16/500 no better. From
# 4/100 on, unbound takes ~91% of CPU 0 (the rest of it is softirq for the
# answers it sends) and CPU 1 is 100% busy with dnsperf and the softirq of the
# queries: the two CPUs, not one queue, are the limit, so what a tracer costs
# either side shows up as fewer queries. c stays small because netwarden keys
# its statistics by client port: c ports x 2*NAMES (domain, qtype) keys must
# stay under --max-dns-stats (20000 by default), or the coverage would count
# dropped statistics keys instead of missed packets.
CLIENTS = 4
OUTSTANDING = 100

# counters of `netwardenctl stats` that say where DNS messages were lost
NW_DNS_COUNTERS = (
    "tel_dns_captured", "tel_dns_ring_full", "tel_dns_forced_wakeups", "tel_dns_truncated",
    "dns_capture_loader_drops", "dns_queries", "dns_responses", "dns_stats_queries",
    "dns_stats_responses", "dns_stats_retransmits", "dns_stats_unmatched_responses",
    "dns_stats_timeouts", "dns_stats_inflight", "dns_stats_dropped_inflight",
    "dns_stats_dropped_stats", "dns_stats_dropped_nomem", "dns_clients_dropped_entries",
)


def _name(i):
    return "n%d.%s" % (i, ZONE)


def _addr4(i):
    return "10.%d.%d.%d" % ((i >> 16) & 255, (i >> 8) & 255, i & 255)


def _addr6(i):
    return "fd00:b::%x" % i


class Resolver:
    """unbound serving `names` local names on addr:port, one thread, one CPU."""

    def __init__(self, addr=SERVER, port=53, names=NAMES):
        self.addr, self.port, self.names = addr, port, names
        self.dir = None
        self.proc = None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    @property
    def log(self):
        return os.path.join(self.dir, "unbound.log")

    def _conf(self):
        d = self.dir
        lines = [
            "server:",
            "  num-threads: 1",
            "  interface: %s" % self.addr,
            "  port: %d" % self.port,
            "  do-ip6: no",
            "  do-tcp: yes",
            "  access-control: 127.0.0.0/8 allow",
            "  do-daemonize: no",
            '  chroot: ""',
            '  username: ""',
            '  directory: "%s"' % d,
            '  pidfile: "%s"' % os.path.join(d, "unbound.pid"),
            '  logfile: "%s"' % self.log,
            "  use-syslog: no",
            "  verbosity: 0",
            "  log-queries: no",
            "  statistics-interval: 0",
            '  module-config: "iterator"',
            # a second unbound on the same address must fail to bind, not share the load
            "  so-reuseport: no",
            # answers come from local data; buffers ride out dnsperf's bursts
            "  msg-cache-size: 4m",
            "  rrset-cache-size: 8m",
            "  so-rcvbuf: 4m",
            "  so-sndbuf: 4m",
            "  num-queries-per-thread: 4096",
            "  ratelimit: 0",
            "  ip-ratelimit: 0",
            '  local-zone: "%s." static' % ZONE,
        ]
        for i in range(self.names):
            lines.append('  local-data: "%s. 3600 IN A %s"' % (_name(i), _addr4(i)))
            lines.append('  local-data: "%s. 3600 IN AAAA %s"' % (_name(i), _addr6(i)))
        lines += ["remote-control:", "  control-enable: no", ""]
        path = os.path.join(d, "unbound.conf")
        with open(path, "w") as f:
            f.write("\n".join(lines))
        return path

    def start(self, cpu=0, timeout=15):
        if probe(self.addr, self.port, _name(0)):
            raise RuntimeError("%s:%d already answers for %s: another resolver runs there" %
                               (self.addr, self.port, ZONE))
        self.dir = tempfile.mkdtemp(prefix="nw-unbound-")
        try:
            conf = self._conf()
            with open(os.path.join(self.dir, "stdout"), "wb") as out:
                self.proc = subprocess.Popen(pinned(["unbound", "-d", "-c", conf], cpu),
                                             stdin=subprocess.DEVNULL, stdout=out,
                                             stderr=subprocess.STDOUT)
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                if self.proc.poll() is not None:
                    break
                if probe(self.addr, self.port, _name(0)):
                    return self
                time.sleep(0.05)
            raise RuntimeError("unbound on %s:%d did not answer within %ds: %s" %
                               (self.addr, self.port, timeout, self._tail()))
        except BaseException:
            self.stop()
            raise

    def _tail(self):
        text = ""
        for name in ("stdout", "unbound.log"):
            try:
                with open(os.path.join(self.dir, name), errors="replace") as f:
                    text += f.read()[-600:]
            except OSError:
                pass
        return text.strip() or "(no output)"

    def stop(self):
        stop_proc(self.proc)
        self.proc = None
        if self.dir:
            shutil.rmtree(self.dir, True)
            self.dir = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def probe(addr, port, name, qtype=1, timeout=0.3):
    """One UDP query built by hand: True when a NOERROR answer with records comes back."""
    txid = random.randrange(65536)
    q = struct.pack("!HHHHHH", txid, 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".")) + b"\0"
    q += struct.pack("!HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(q, (addr, port))
            r = s.recv(4096)
        except OSError:  # refused while unbound binds, or no answer in time
            return False
    if len(r) < 12:
        return False
    rid, flags, _, ancount = struct.unpack("!HHHH", r[:8])
    return rid == txid and flags & 0x8000 and flags & 0xf == 0 and ancount > 0


def queries_file(path, n=NAMES):
    """A dnsperf datafile: n0..n(n-1) of the zone, each as A then AAAA."""
    with open(path, "w") as f:
        for i in range(n):
            f.write("%s A\n%s AAAA\n" % (_name(i), _name(i)))
    return path


def _num(text, label, cast=float):
    for line in text.splitlines():
        line = line.strip()
        if line.startswith(label):
            return cast(line[len(label):].split()[0])
    return None


def parse_dnsperf(text):
    """dnsperf 2.x's statistics block as a dict (None where a line is missing)."""
    lat = _num(text, "Average Latency (s):")
    sd = _num(text, "Latency StdDev (s):")
    return {
        "sent": _num(text, "Queries sent:", int),
        "completed": _num(text, "Queries completed:", int),
        "lost": _num(text, "Queries lost:", int),
        "qps": _num(text, "Queries per second:"),
        "run_s": _num(text, "Run time (s):"),
        "avg_latency_ms": lat * 1e3 if lat is not None else None,
        "latency_stddev_ms": sd * 1e3 if sd is not None else None,
    }


def run_dnsperf(server=SERVER, seconds=3, cpu=1, clients=CLIENTS, outstanding=OUTSTANDING,
                port=53, datafile=None, names=NAMES, query_timeout=2):
    """One dnsperf run of `seconds` against server:port, pinned to cpu."""
    tmp = None
    if datafile is None:
        tmp = tempfile.mkdtemp(prefix="nw-dnsperf-")
        datafile = queries_file(os.path.join(tmp, "queries"), names)
    cmd = pinned(["dnsperf", "-s", server, "-p", str(port), "-d", datafile, "-l", str(seconds),
                  "-c", str(clients), "-q", str(outstanding), "-t", str(query_timeout)], cpu)
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy0 = nwbench.cpu_busy_s()
    try:
        # dnsperf waits up to query_timeout for the last answers after -l
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=seconds + query_timeout + 15)
    finally:
        if tmp:
            shutil.rmtree(tmp, True)
    res = parse_dnsperf(r.stdout)
    if r.returncode or res["sent"] is None or res["qps"] is None:
        raise RuntimeError("dnsperf exit %d: %s" % (r.returncode, (r.stderr or r.stdout)[-600:]))
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    # per second of the run: dnsperf's own CPU (a reaped child's rusage), and
    # the whole machine's busy CPU, out of os.cpu_count()
    res["dnsperf_cpu"] = (ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) / res["run_s"]
    res["machine_cpu"] = (nwbench.cpu_busy_s() - busy0) / res["run_s"]
    res.update(clients=clients, outstanding=outstanding, seconds=seconds)
    return res


def nw_dns_seen(nw, server=SERVER, client_id=CLIENT_ID):
    """Queries to server that netwarden counted (answers of every rcode plus
    timeouts) since client_id's previous call. The first call for an id
    registers it and returns what the worker's last collection left (up to
    30 s of traffic): call it once before the load and discard that, once
    after for the load's count. A query dnsperf gave up on shows as a
    timeout only after --dns-timeout (15 s), so right after a run it is not in
    the count yet."""
    out = nw.ctl(["dns", "--json", "--client-id=" + client_id], timeout=30)
    seen = 0
    for st in json.loads(out)["stats"]:
        if st["server"] == server:
            seen += st["answered"] + st["timeouts"]
    return seen


def nw_dns_counters(nw):
    """The worker's DNS counters (NW_DNS_COUNTERS that it reports)."""
    st = json.loads(nw.ctl(["--json", "stats"], timeout=30))
    return {k: st[k] for k in NW_DNS_COUNTERS if k in st}


# --- demonstration: no tracer, netwarden (defaults), tcpdump; interleaved ---

class Tracer:
    """One contender, up for one run: "none", "netwarden" or "tcpdump"."""

    def __init__(self, name):
        self.name = name
        self.nw = None
        self.proc = None
        self.dir = None

    def start(self):
        if self.name == "netwarden":
            self.nw = nwbench.Netwarden()  # set first: stop() works if start() is interrupted
            self.nw.start()
        elif self.name == "tcpdump":
            self.dir = tempfile.mkdtemp(prefix="nw-tcpdump-")
            log = os.path.join(self.dir, "log")
            with open(log, "wb") as f:
                self.proc = subprocess.Popen(["tcpdump", "-i", "lo", "-n", "-w", "/dev/null",
                                              "udp", "port", "53"], stdin=subprocess.DEVNULL,
                                             stdout=f, stderr=subprocess.STDOUT)
            if not nwbench.wait_line(log, "listening on", 15):
                raise RuntimeError("tcpdump did not start: " + open(log, errors="replace").read())
        return self

    def cpu_s(self):
        """CPU seconds of the tracer's processes so far (loader + worker, or tcpdump)."""
        pids = [self.nw.loader.pid, self.nw.worker_pid] if self.nw else \
            [self.proc.pid] if self.proc else []
        return sum(nwbench.proc_cpu_s(p) or 0 for p in pids)

    def stop(self):
        if self.nw:
            self.nw.stop()
            self.nw = None
        stop_proc(self.proc)
        self.proc = None
        if self.dir:
            shutil.rmtree(self.dir, True)
            self.dir = None


def measure(tracer, server, seconds, datafile):
    """One run under tracer: dnsperf's result plus, under netwarden, what it saw."""
    try:
        tracer.start()
        if tracer.nw:
            time.sleep(0.3)  # let the worker settle, as the other benches do
            nw_dns_seen(tracer.nw, server)  # registers; what came before is not the load's
            c0 = nw_dns_counters(tracer.nw)
        t0 = tracer.cpu_s()
        res = run_dnsperf(server, seconds, datafile=datafile)
        res["tracer_cpu"] = (tracer.cpu_s() - t0) / res["run_s"]
        if tracer.nw:
            # a worker that died and was restarted lost what it had counted
            exits = [line.strip() for line in open(tracer.nw.log, errors="replace")
                     if "worker pid" in line and "exited" in line]
            if exits:
                res["nw_worker_exits"] = exits
            res["nw_seen"] = nw_dns_seen(tracer.nw, server)
            c1 = nw_dns_counters(tracer.nw)
            res["nw_counters"] = {k: c1[k] - c0.get(k, 0) for k in c1}
            res["coverage"] = res["nw_seen"] / max(res["sent"], 1)
    finally:
        tracer.stop()
    return res


def foreign_taps():
    """Packet-capturing processes on the host (called when this module's own
    tracer is not running): someone else's netwarden or tcpdump also sees this
    DNS load, and its cost lands in the no-tracer runs too."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/comm" % pid) as f:
                comm = f.read().strip()
        except OSError:
            continue
        if comm in ("netwarden", "netwarden-worke", "tcpdump", "dumpcap", "tshark"):
            found.append("%s[%s]" % (comm, pid))
    return found


def _sigterm(sig, frame):
    raise KeyboardInterrupt  # so every finally below stops what it started


def main():
    if os.geteuid() != 0:
        sys.exit("bench/dnsperf.py: needs root (port 53, BPF, packet sockets)")
    for tool in ("unbound", "dnsperf", "tcpdump", "taskset"):
        if not shutil.which(tool):
            sys.exit("bench/dnsperf.py: %s not installed (scripts/deps.sh bench)" % tool)
    if not os.path.isdir("/sys/kernel/tracing/events"):
        subprocess.run(["mount", "-t", "tracefs", "nodev", "/sys/kernel/tracing"], check=False)
    if not os.access(nwbench.NETWARDEN, os.X_OK):
        subprocess.run(["make", "-C", nwbench.ROOT, "all"], check=True, timeout=900)
    signal.signal(signal.SIGTERM, _sigterm)
    seconds = int(os.environ.get("NW_BENCH_SECONDS", "3"))
    rounds = int(os.environ.get("NW_BENCH_ROUNDS", "2"))
    tmp = tempfile.mkdtemp(prefix="nw-dnsperf-")
    resolver = Resolver()
    try:
        datafile = queries_file(os.path.join(tmp, "queries"))
        resolver.start(cpu=0)
        print("unbound pid %d on %s:53 (CPU 0), dnsperf -c %d -q %d on CPU 1, %d s runs" %
              (resolver.pid, SERVER, CLIENTS, OUTSTANDING, seconds))
        order = []
        for _ in range(rounds):
            order += ["none", "netwarden", "none", "tcpdump"]
        order.append("none")
        runs = []
        for name in order:
            cpu0 = nwbench.proc_cpu_s(resolver.pid)
            foreign = foreign_taps()
            r = measure(Tracer(name), SERVER, seconds, datafile)
            foreign = sorted(set(foreign) | set(foreign_taps()))
            r["unbound_cpu"] = (nwbench.proc_cpu_s(resolver.pid) - cpu0) / r["run_s"]
            r["tracer"] = name
            runs.append(r)
            line = "%-9s qps %9.0f  sent %8d  lost %5d  avg %.3f ms  unbound CPU %3.0f%%" % (
                name, r["qps"], r["sent"], r["lost"], r["avg_latency_ms"], 100 * r["unbound_cpu"])
            if name != "none":
                line += "  tracer CPU %3.0f%%" % (100 * r["tracer_cpu"])
            # what the machine did besides unbound, dnsperf and the tracer's
            # processes: softirq outside them, and anyone else's work (noise)
            line += "  other CPU %3.0f%%" % (100 * (r["machine_cpu"] - r["unbound_cpu"] -
                                                 r["dnsperf_cpu"] - r["tracer_cpu"]))
            if "coverage" in r:
                line += "  seen %d coverage %.4f" % (r["nw_seen"], r["coverage"])
            if foreign:
                line += "  (also capturing: %s)" % " ".join(foreign)
            print(line, flush=True)
            for e in r.get("nw_worker_exits", []):
                print("          " + e, flush=True)
            if r.get("nw_counters"):
                print("          " + " ".join("%s=%d" % kv for kv in r["nw_counters"].items()
                                              if kv[1]), flush=True)
        print()
        for name in ("netwarden", "tcpdump"):
            ratios = []
            for i, r in enumerate(runs):
                if r["tracer"] == name:
                    base = statistics.mean([runs[i - 1]["qps"], runs[i + 1]["qps"]])
                    ratios.append(r["qps"] / base)
            line = "%-9s qps ratio to adjacent no-tracer runs: %s" % (
                name, " ".join("%.3f" % x for x in ratios))
            if name == "netwarden":
                line += "; coverage %s" % " ".join("%.4f" % r["coverage"] for r in runs
                                                    if r["tracer"] == name)
            print(line)
    except KeyboardInterrupt:
        sys.exit(130)
    finally:
        resolver.stop()
        shutil.rmtree(tmp, True)


if __name__ == "__main__":
    main()
