#!/usr/bin/python3
"""DNS queries per second kept under dnsperf against unbound, with and without
a tracer, and netwarden's coverage (queries it saw / queries dnsperf sent).

Imported by the suite (bench/suite.py), which runs it against its contenders.
Pieces:

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

The default load (CLIENTS sockets, OUTSTANDING queries in flight) keeps the one
unbound thread busy on its CPU while dnsperf has the other: more outstanding
queries only add latency, not answers (see CLIENTS below).

Nothing here asserts: it measures."""
import json
import os
import random
import resource
import shutil
import socket
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
