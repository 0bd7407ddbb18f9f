#!/usr/bin/python3
"""netwarden's benchmark suite: what it costs, side by side with the tools
people would use instead, in one run (research/perf.md section 11).

Contenders (order shuffled every round):
  none            no tracer: the baseline every ratio is taken against
  netwarden       default configuration (connections, DNS capture, HTTP)
  netwarden-conns its connection tracer alone (--dns=off --http=off): the
                  default minus this is what its two packet sockets cost
  netwarden-all   DNS + USM all on (--dns=on --http=on --kafka=on)
  netwarden-perf  perf-buffer mode (--events=perf), completeness pass only
  tcplife         libbpf-tools tcplife (a perf-buffer record per closed socket)
  tcpstates       libbpf-tools tcpstates (a record per state change)
  bpftrace        bench/peers/sockbytes.bt: per-socket byte sums kept in the
                  kernel (classic tracepoints), forgotten at close
  tcpdump53       tcpdump -i lo -n -w /dev/null udp port 53 (packet-socket peer)
Tools that cannot attach on this kernel (tcpconnect, tcptracer, tcptop need
kprobes) are tried once and listed as N/A with the reason.

In every round each contender gets one slot; the slots of a round run
  none, c1, c2, none, c3, c4, none, c5, c6, none
so every contender sits next to a no-tracer slot, and its ratio is taken
against the mean of the two no-tracer slots around its pair: machine drift
between rounds cancels. A slot measures, with the contender attached:
  http-keepalive  wrk -t1 -c32 against nginx (one worker on CPU 0, wrk on
                  CPU 1), keep-alive: requests/s
  http-close      the same against a server block with keepalive_timeout 0:
                  a new TCP connection per request (checked with TcpActiveOpens)
  event cost      bench/evcost: ns per send()+recv() on a loopback TCP pair and
                  on a UDP pair (CPU 1); in no-tracer slots also with the
                  reference program (an empty tp_btf on sock_send_length), so
                  the tracer's extra ns are stated in units of that program
  packet socket   bench/dns_load udp: CPU ns per 64-byte UDP datagram on lo
                  (not DNS: what a packet socket costs every other packet)
  dns             dnsperf against unbound on 127.0.0.153 (unbound CPU 0,
                  dnsperf CPU 1): queries/s, and for netwarden the queries its
                  DNS view counted / queries dnsperf sent
Then, outside the rounds:
  completeness    tests/helpers/connload: 15,000 TCP connections/s on lo for a
                  few seconds per contender that reports connections (not
                  queried during the load; netwarden's per-client buffer
                  raised to hold the run); reported
                  / made, each side, its loss counters, CPU per connection vs
                  no tracer, and the consumer's wakeups/s (voluntary context
                  switches of the process reading the buffers), at 15,000/s
                  and at 1,500/s: a timer-bound consumer wakes as often at both
  memory          worker + loader RSS and BPF map memory with 10k connection
                  pairs held open, and the peers' RSS + maps (bench/scale.py)
  rpc             one GetConnections answer with 10k and 100k connections
  parsers         bench/dns_parse.sh and bench/http_parse.sh (callgrind)
  attribution     one http-close run per BPF contender with
                  kernel.bpf_stats_enabled=1: ns per program run

Profiles: full (make bench, 5 rounds, ~10 min) and quick (make bench-quick,
2 rounds, no memory, parser or attribution passes, ~4 min); smoke runs every
path once, briefly, to check the suite itself. Every sysctl changed is
restored at exit.
Output: a markdown table printed and written to bench/results/, raw numbers as
JSON next to it. Nothing here asserts: targets are reported as met or missed.
"""
import argparse
import datetime
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import nwbench as nb  # noqa: E402
import evcost  # noqa: E402
import dnsperf  # noqa: E402
import scale  # noqa: E402

CONNLOAD = os.path.join(nb.OUT, "tests", "connload")
DNS_LOAD = os.path.join(nb.OUT, "bench", "dns_load")
BPFTRACE_SCRIPT = os.path.join(HERE, "peers", "sockbytes.bt")
RESULTS = os.path.join(HERE, "results")
SERVER_CPU, LOAD_CPU = 0, 1
KEEP_PORT, CLOSE_PORT = 18480, 18481
RESOLVER = "127.0.0.153"
WRK_CONNS = 32
# records netwarden knows it lost (tel_conn_map_full, kept apart, counts failed
# map updates rather than sockets)
LOSS_COUNTERS = ("tel_batch_lost_conns", "closed_dropped", "conn_dropped", "events_lost", "tel_event_lost")

PROFILES = {
    "full": {"rounds": 5, "http_s": 1, "ev_s": 0.5, "tax_n": 200000, "dns_s": 1,
             "s4_repeats": 2, "s4_seconds": 2, "s4_low_seconds": 2, "hold": 10000,
             "rpc_sizes": (10000, 100000), "rpc_reps": 3, "memory": True, "parsers": True,
             "attribution": True},
    "quick": {"rounds": 2, "http_s": 1, "ev_s": 0.5, "tax_n": 100000, "dns_s": 1,
              "s4_repeats": 1, "s4_seconds": 2, "s4_low_seconds": 2, "hold": 10000,
              "rpc_sizes": (10000,), "rpc_reps": 1, "memory": False, "parsers": False,
              "attribution": False},
    # every code path once, minimal durations: for checking the suite itself
    "smoke": {"rounds": 1, "http_s": 1, "ev_s": 0.3, "tax_n": 20000, "dns_s": 1,
              "s4_repeats": 1, "s4_seconds": 1, "s4_low_seconds": 1, "hold": 1000,
              "rpc_sizes": (2000,), "rpc_reps": 1, "memory": True, "parsers": True,
              "attribution": True},
}
# memory and attribution: one of each kind (netwarden-all and tcpstates
# measure like their siblings there)
DETAIL = ("netwarden", "netwarden-conns", "tcplife", "bpftrace")

live = []  # processes to stop whatever happens


T0 = time.monotonic()


def log(msg):
    print("bench: [%4.0fs] %s" % (time.monotonic() - T0, msg), flush=True)


def run_json(cmd, timeout):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    if r.returncode:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), r.returncode, r.stderr.strip()[-300:]))
    return json.loads(r.stdout.strip().splitlines()[-1])


def tcp_snmp(field):
    with open("/proc/net/snmp") as f:
        rows = [line.split() for line in f if line.startswith("Tcp:")]
    return int(rows[1][rows[0].index(field)])


# --- contenders -------------------------------------------------------------

class Contender:
    """Something attached (or not) while a slot runs."""
    reports_conns = False
    bpf = False

    def __init__(self, name, what):
        self.name, self.what, self.na = name, what, None

    def start(self):
        pass

    def stop(self):
        pass

    def consumer_pid(self):
        return None


class NoTracer(Contender):
    pass


class NetwardenC(Contender):
    reports_conns = True
    bpf = True

    def __init__(self, name, what, flags, in_rounds=True):
        super().__init__(name, what)
        self.flags, self.nw, self.in_rounds = flags, None, in_rounds

    def start(self):
        self.nw = nb.Netwarden(self.flags).start()

    def stop(self):
        if self.nw:
            self.nw.stop()
        self.nw = None

    def consumer_pid(self):
        return self.nw.worker_pid if self.nw else None

    def stats(self):
        return json.loads(self.nw.ctl(["stats", "--json"]))


class Tool(Contender):
    """A peer tool run as a process; its output goes to a file in /dev/shm
    (cheap to write, and the completeness pass counts its lines)."""

    def __init__(self, name, what, argv, ready, bpf=True, reports_conns=False):
        super().__init__(name, what)
        self.argv, self.ready, self.bpf, self.reports_conns = argv, ready, bpf, reports_conns
        self.p, self.out = None, None

    def start(self):
        fd, self.out = tempfile.mkstemp(prefix="nw-bench-%s-" % self.name, dir="/dev/shm")
        self.p = subprocess.Popen(self.argv, stdout=fd, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        os.close(fd)
        live.append(self.p)
        end = time.monotonic() + 30
        while time.monotonic() < end:
            if self.p.poll() is not None:
                raise RuntimeError("%s exited %d: %s" % (self.name, self.p.returncode, self.output()[-300:]))
            if self.ready is None or self.ready in self.output():
                time.sleep(0.5 if self.ready else 2)
                return
            time.sleep(0.05)
        raise RuntimeError("%s not ready in 30 s" % self.name)

    def output(self):
        try:
            with open(self.out, errors="replace") as f:
                return f.read()
        except (OSError, TypeError):
            return ""

    def stop(self):
        nb.stop_proc(self.p, signal.SIGINT, 15)
        self.p = None

    def discard(self):
        if self.out:
            try:
                os.unlink(self.out)
            except OSError:
                pass
            self.out = None

    def consumer_pid(self):
        return self.p.pid if self.p else None


def contenders():
    lst = [NetwardenC("netwarden", "netwarden, default configuration", []),
           # its connection tracer alone: what the two packet sockets add is the
           # difference to the default
           NetwardenC("netwarden-conns", "netwarden, connections only (--dns=off --http=off)",
                      ["--dns=off", "--http=off"]),
           NetwardenC("netwarden-all", "netwarden, DNS + HTTP + Kafka on",
                      ["--dns=on", "--http=on", "--kafka=on"]),
           # the other closed-connection channel, in the completeness pass only
           NetwardenC("netwarden-perf", "netwarden, perf-buffer mode (per-CPU batches of 4)",
                      ["--events=perf"], in_rounds=False)]
    for tool, what in (("tcplife", "libbpf-tools tcplife"), ("tcpstates", "libbpf-tools tcpstates")):
        exe = shutil.which(tool) or "/usr/sbin/" + tool
        c = Tool(tool, what, [exe], None, reports_conns=True)
        if not os.access(exe, os.X_OK):
            c.na = "not installed"
        lst.append(c)
    bt = shutil.which("bpftrace")
    c = Tool("bpftrace", "bpftrace, per-socket byte sums in the kernel (bench/peers/sockbytes.bt)",
             [bt or "bpftrace", BPFTRACE_SCRIPT], "Attaching", reports_conns=True)
    if not bt:
        c.na = "not installed"
    lst.append(c)
    td = shutil.which("tcpdump")
    c = Tool("tcpdump53", "tcpdump -i lo -n -w /dev/null udp port 53",
             [td or "tcpdump", "-i", "lo", "-n", "-w", "/dev/null", "udp", "port", "53"],
             "listening on", bpf=False)
    if not td:
        c.na = "not installed"
    lst.append(c)
    return lst


def probe_kprobe_tools():
    """Peers that need kprobes: try each once, keep the reason it cannot run."""
    na = {}
    for tool in ("tcpconnect", "tcptracer", "tcptop"):
        exe = shutil.which(tool) or "/usr/sbin/" + tool
        if not os.access(exe, os.X_OK):
            na[tool] = "not installed"
            continue
        p = subprocess.Popen([exe], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            _, err = p.communicate(timeout=4)
            lines = [x for x in err.splitlines() if x.strip()]
            na[tool] = "cannot attach here: " + (lines[0].strip() if lines else "exit %d" % p.returncode)
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGINT)
            p.communicate(timeout=10)
            na[tool] = None  # it runs: not N/A (the suite does not measure it)
    return na


# --- workloads --------------------------------------------------------------

class Nginx:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="nw-bench-nginx-")
        os.makedirs(os.path.join(self.dir, "www"))
        with open(os.path.join(self.dir, "www", "1k"), "wb") as f:
            f.write(b"x" * 1024)
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write("""worker_processes 1;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log;
daemon off;
events { worker_connections 8192; }
http {
    access_log off;
    sendfile on;
    client_body_temp_path %(d)s;
    proxy_temp_path %(d)s;
    fastcgi_temp_path %(d)s;
    uwsgi_temp_path %(d)s;
    scgi_temp_path %(d)s;
    server { listen 127.0.0.1:%(keep)d backlog=8192; root %(d)s/www;
             keepalive_requests 1000000; }
    server { listen 127.0.0.1:%(close)d backlog=8192; root %(d)s/www; keepalive_timeout 0; }
}
""" % {"d": self.dir, "keep": KEEP_PORT, "close": CLOSE_PORT})
        self.p = subprocess.Popen(nb.pinned(["nginx", "-c", conf], SERVER_CPU),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        live.append(self.p)
        end = time.monotonic() + 10
        while time.monotonic() < end:
            if subprocess.run(["curl", "-sf", "-o", "/dev/null", "http://127.0.0.1:%d/1k" % CLOSE_PORT]).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("nginx did not answer: %s" % open(os.path.join(self.dir, "error.log")).read()[-300:])

    def stop(self):
        nb.stop_proc(self.p, signal.SIGQUIT)
        shutil.rmtree(self.dir, True)


def wrk(port, seconds):
    opens0 = tcp_snmp("ActiveOpens")
    r = subprocess.run(nb.pinned(["wrk", "-t1", "-c%d" % WRK_CONNS, "-d%ds" % seconds,
                                  "http://127.0.0.1:%d/1k" % port], LOAD_CPU),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=seconds + 30)
    opens = tcp_snmp("ActiveOpens") - opens0
    m = re.search(r"(\d+) requests in ([\d.]+)(m?s)", r.stdout)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", r.stdout)
    if r.returncode or not m or not rps:
        raise RuntimeError("wrk failed: %s" % r.stdout[-300:])
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", r.stdout)
    return {"rps": float(rps.group(1)), "requests": int(m.group(1)), "opens": opens,
            "errors": int(bad.group(1)) if bad else 0}


def tax(n):
    res = run_json(nb.pinned([DNS_LOAD, "udp", "--count", str(n)], LOAD_CPU), 120)
    return res["cpu_ns"] / max(res["sent"], 1)


# --- one slot of a round ------------------------------------------------------

def measure_slot(c, prof, resolver, qfile):
    r = {}
    k = wrk(KEEP_PORT, prof["http_s"])
    r["keep_rps"] = k["rps"]
    cl = wrk(CLOSE_PORT, prof["http_s"])
    r["close_rps"] = cl["rps"]
    r["close_opens_per_req"] = cl["opens"] / max(cl["requests"], 1)
    for trig in ("tcp", "udp"):
        r["ev_%s_ns" % trig] = evcost.run(trig, prof["ev_s"], cpu=LOAD_CPU)["ns_per_iter"]
        if isinstance(c, NoTracer):
            r["ev_%s_ref_ns" % trig] = evcost.run(trig, prof["ev_s"], ref=True, cpu=LOAD_CPU)["ns_per_iter"]
    r["tax_ns"] = tax(prof["tax_n"])
    nw = c.nw if isinstance(c, NetwardenC) and "--dns=off" not in c.flags else None
    if nw:
        dnsperf.nw_dns_seen(nw, RESOLVER)  # registers: the count after covers this load only
    d = dnsperf.run_dnsperf(RESOLVER, prof["dns_s"], cpu=LOAD_CPU, datafile=qfile)
    r["dns_qps"], r["dns_sent"] = d["qps"], d["sent"]
    if nw:
        time.sleep(0.3)  # the worker drains its rings on a 100 ms timer
        r["dns_seen"] = dnsperf.nw_dns_seen(nw, RESOLVER)
    return r


def interleave(contenders, none):
    """A shuffled order with a no-tracer run before every pair and at the
    end: none c1 c2 none c3 c4 ... none."""
    order = contenders[:]
    random.shuffle(order)
    seq = []
    for i in range(0, len(order), 2):
        seq.append(none)
        seq.extend(order[i:i + 2])
    seq.append(none)
    return seq


def bracketing(seq, i, has):
    """The no-tracer runs around position i (the last before, the first
    after) among those for which has(run) holds."""
    nones = [j for j, x in enumerate(seq) if x["contender"] == "none" and has(x)]
    return [seq[j] for j in [j for j in nones if j < i][-1:] + [j for j in nones if j > i][:1]]


def rounds(conts, prof, resolver, qfile, raw):
    avail = [c for c in conts if not c.na and getattr(c, "in_rounds", True)]
    none = NoTracer("none", "no tracer")
    for rnd in range(prof["rounds"]):
        seq = interleave(avail, none)
        log("round %d/%d: %s" % (rnd + 1, prof["rounds"], " ".join(c.name for c in seq)))
        for pos, c in enumerate(seq):
            try:
                c.start()
                try:
                    r = measure_slot(c, prof, resolver, qfile)
                finally:
                    c.stop()
                    if isinstance(c, Tool):
                        c.discard()
            except Exception as e:  # one contender failing must not hide the others
                log("%s failed in round %d: %s" % (c.name, rnd + 1, e))
                r = {"error": str(e)}
            r.update({"round": rnd, "pos": pos, "contender": c.name})
            raw["slots"].append(r)


def slot_ratios(raw, key, invert=False):
    """contender -> list of its value / mean of the two none slots around it."""
    out = {}
    for rnd in {s["round"] for s in raw["slots"]}:
        seq = sorted((s for s in raw["slots"] if s["round"] == rnd), key=lambda s: s["pos"])
        for i, s in enumerate(seq):
            if s["contender"] == "none" or key not in s:
                continue
            base = [x[key] for x in bracketing(seq, i, lambda x: key in x)]
            if not base:
                continue
            b = sum(base) / len(base)
            out.setdefault(s["contender"], []).append(b / s[key] if invert else s[key] / b)
    return out


def event_units(raw, trig):
    """contender -> (its ns - none ns) / (ref ns - none ns), same bracketing."""
    out = {}
    key, ref = "ev_%s_ns" % trig, "ev_%s_ref_ns" % trig
    for rnd in {s["round"] for s in raw["slots"]}:
        seq = sorted((s for s in raw["slots"] if s["round"] == rnd), key=lambda s: s["pos"])
        for i, s in enumerate(seq):
            if s["contender"] == "none" or key not in s:
                continue
            near = bracketing(seq, i, lambda x: ref in x)
            if not near:
                continue
            base = sum(x[key] for x in near) / len(near)
            unit = sum(x[ref] for x in near) / len(near) - base
            out.setdefault(s["contender"], []).append((s[key] - base) / unit if unit > 0 else None)
    # the reference itself, in ns, per none slot
    out["_ref_ns"] = [s[ref] - s[key] for s in raw["slots"] if s["contender"] == "none" and ref in s]
    return out


# --- completeness at a fixed connection rate ---------------------------------

def count_closed_nw(conts_json, port, seen):
    for c in conts_json.get("conns", []):
        if not c.get("closed") or c.get("type") != "tcp":
            continue
        n = int(c.get("merged", 1))
        if int(c["dport"]) == port and c.get("direction") == "outgoing":
            side = "out"
        elif int(c["sport"]) == port and c.get("direction") == "incoming":
            side = "in"
        else:
            continue
        seen[side] += n


def count_closed_tool(c, port):
    """Closed sockets of the load in a peer's output: both sides of a loopback
    connection are sockets of this host, so 2 per connection made."""
    text = c.output()
    p = str(port)
    n, lost = 0, 0
    for line in text.splitlines():
        m = re.search(r"lost (\d+) (events|samples)", line, re.I)
        if m:
            lost += int(m.group(1))
            continue
        f = line.split()
        if c.name == "tcplife":
            # PID COMM LADDR LPORT RADDR RPORT TX_KB RX_KB MS
            if len(f) >= 9 and (f[3] == p or f[5] == p):
                n += 1
        elif c.name == "tcpstates":
            # SKADDR PID COMM IP LADDR LPORT RADDR RPORT OLDSTATE -> NEWSTATE MS
            if "-> CLOSE " in line + " " and (p in f[4:8]):
                n += 1
        elif c.name == "bpftrace":
            m = re.match(r"@closed(\[\d+\])?: (\d+)", line.strip())
            if m:
                n += int(m.group(2))
    return n, lost


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def completeness_run(c, rate, seconds):
    port = free_port()
    if isinstance(c, Tool) and c.name == "bpftrace":
        c.argv = c.argv[:2] + [str(port)]
    if isinstance(c, NetwardenC):
        saved = c.flags
        c.flags = saved + ["--max-closed-buffered=%d" % (2 * rate * seconds + 20000)]
        try:
            c.start()
        finally:
            c.flags = saved
    else:
        c.start()
    # the server lives the load's length and a little more: it stops by itself
    srv = subprocess.Popen(nb.pinned([CONNLOAD, "server", "--bind", "127.0.0.1", "--port", str(port),
                                      "--seconds", str(seconds + 2)], SERVER_CPU),
                           stdout=subprocess.PIPE, text=True)
    live.append(srv)
    srv.stdout.readline()
    cid = "bench-%d" % os.getpid()
    seen = {"out": 0, "in": 0}
    if isinstance(c, NetwardenC):
        c.nw.ctl(["conns", "--json", "--client-id=" + cid])
    pid = c.consumer_pid()
    time.sleep(0.5)
    sw0 = nb.proc_status(pid, "voluntary_ctxt_switches") if pid else None
    cpu0, t0 = nb.cpu_busy_s(), time.monotonic()
    cli = subprocess.Popen(nb.pinned([CONNLOAD, "client", "--connect", "127.0.0.1", "--port", str(port),
                                      "--rate", str(rate), "--seconds", str(seconds), "--parallel", "512"],
                                     LOAD_CPU), stdout=subprocess.PIPE, text=True)
    live.append(cli)
    # netwarden is not queried during the load (a query wakes the worker too,
    # and only the buffers' own wakeups are counted): its per-client buffer
    # for closed connections is raised to hold the whole run instead
    out, _ = cli.communicate(timeout=seconds + 60)
    cpu1, t1 = nb.cpu_busy_s(), time.monotonic()
    sw1 = nb.proc_status(pid, "voluntary_ctxt_switches") if pid else None
    res = json.loads(out.strip().splitlines()[-1])
    acc = json.loads(srv.communicate(timeout=seconds + 30)[0].strip().splitlines()[-1])
    made = res["connected"] + res["failed"]
    r = {"contender": c.name, "rate": rate, "made": made, "accepted": acc["accepted"],
         "achieved_rate": res["rate"], "cpu_s": cpu1 - cpu0, "wall_s": t1 - t0,
         "wakeups_per_s": (sw1 - sw0) / (t1 - t0) if sw0 is not None and sw1 is not None else None}
    if isinstance(c, NetwardenC):
        settle = time.monotonic() + 15
        while True:
            count_closed_nw(json.loads(c.nw.ctl(["conns", "--json", "--client-id=" + cid])), port, seen)
            if (seen["out"] >= made and seen["in"] >= acc["accepted"]) or time.monotonic() > settle:
                break
            time.sleep(0.5)
        st = c.stats()
        r["loss_counters"] = {k: int(st.get(k, 0)) for k in LOSS_COUNTERS}
        r["lost"] = sum(r["loss_counters"].values())
        r["map_full_updates"] = int(st.get("tel_conn_map_full", 0))
        r["reported"] = seen["out"] + seen["in"]
    elif isinstance(c, Tool):
        time.sleep(2)  # sockets finishing their close
        c.stop()
        r["reported"], r["lost"] = count_closed_tool(c, port)
        c.discard()
    c.stop()
    r["expected"] = made + acc["accepted"]
    return r


def completeness(conts, prof, raw):
    avail = [c for c in conts if not c.na and (c.reports_conns)]
    none = NoTracer("none", "no tracer")
    for rep in range(prof["s4_repeats"]):
        seq = interleave(avail, none)
        log("completeness %d/%d at 15000 conn/s: %s" % (rep + 1, prof["s4_repeats"],
                                                         " ".join(c.name for c in seq)))
        for pos, c in enumerate(seq):
            try:
                r = completeness_run(c, 15000, prof["s4_seconds"])
            except Exception as e:
                log("%s failed in completeness: %s" % (c.name, e))
                c.stop()
                r = {"contender": c.name, "error": str(e)}
            r.update({"round": rep, "pos": pos})
            raw["completeness"].append(r)
    log("wakeups at 1500 conn/s")
    for c in [x for x in avail if x.name in ("netwarden", "netwarden-perf", "tcplife")]:
        try:
            r = completeness_run(c, 1500, prof["s4_low_seconds"])
            raw["low_rate"].append(r)
        except Exception as e:
            log("%s failed at 1500/s: %s" % (c.name, e))
            c.stop()


# --- memory, RPC, parsers, attribution ---------------------------------------

def mem_now(c):
    """anonymous memory of the contender's processes (file-backed pages such
    as mapped ring buffers are in the map figure already) + BPF map memlock."""
    if isinstance(c, NetwardenC):
        # the worker's per-client state exists once a client has asked
        scale.rpc_cost(c.nw, 1, client_id="bench-memory")
        m = scale.nw_memory(c.nw)
        anon = m["worker_anon_kb"] + m["loader_anon_kb"]
    else:
        m = scale.peer_memory(c.consumer_pid())
        anon = m["anon_kb"]
    return {"anon_kb": anon, "map_bytes": m["map_bytes"], "total_kb": anon + m["map_bytes"] / 1024}


def memory_and_rpc(conts, prof, raw):
    by = {c.name: c for c in conts}
    log("memory with 0 and %d connection pairs held" % prof["hold"])
    for name in DETAIL if prof["memory"] else ():
        c = by.get(name)
        if not c or c.na:
            continue
        holder = None
        try:
            c.start()
            time.sleep(0.5)
            m0 = mem_now(c)
            holder = scale.Holder(prof["hold"]).start()
            time.sleep(1.5)
            mn = mem_now(c)
            raw["memory"].append({"contender": name, "held_pairs": prof["hold"], "at_0": m0, "at_n": mn,
                                  "per_10k_tracked_kb": (mn["total_kb"] - m0["total_kb"])
                                  / (2 * prof["hold"] / 10000)})
        except Exception as e:
            log("memory of %s failed: %s" % (name, e))
        finally:
            if holder:
                holder.stop()
            c.stop()
            if isinstance(c, Tool):
                c.discard()
    for n in prof["rpc_sizes"]:
        log("GetConnections with %d connections" % n)
        nw = None
        holder = None
        lim = max(65536, 2 * n)
        try:
            nw = nb.Netwarden(["--max-tracked-connections=%d" % lim, "--max-client-stats=%d" % lim]).start()
            holder = scale.Holder(n // 2).start()
            time.sleep(1.5)
            r = scale.rpc_cost(nw, prof["rpc_reps"])
            r["target"] = n
            raw["rpc"].append(r)
        except Exception as e:
            log("rpc at %d failed: %s" % (n, e))
        finally:
            if holder:
                holder.stop()
            if nw:
                nw.stop()


def parsers(raw):
    for name, target, script in (("dns", "bench/dns_parse_bench", "bench/dns_parse.sh"),
                                 ("http", "bench/http_parse_bench", "bench/http_parse.sh")):
        log("parser cost: " + script)
        r = subprocess.run([os.path.join(nb.ROOT, script)], cwd=nb.ROOT, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=600)
        raw["parsers"][name] = {"rc": r.returncode, "output": r.stdout.strip().splitlines()[-8:]}


def attribution(conts, prof, raw):
    nb.set_sysctl("kernel.bpf_stats_enabled", 1)
    try:
        for c in conts:
            if c.na or not c.bpf or c.name not in DETAIL:
                continue
            try:
                c.start()
                pid = c.nw.loader.pid if isinstance(c, NetwardenC) else c.consumer_pid()
                ids = nb.prog_ids(pid)  # threads share the fd table: the process is enough
                before = nb.progs_by_id(ids)
                w = wrk(CLOSE_PORT, prof["http_s"])
                after = nb.progs_by_id(ids)
                rows = []
                for i, p in after.items():
                    b = before.get(i, {"run_cnt": 0, "run_time_ns": 0})
                    runs = p.get("run_cnt", 0) - b.get("run_cnt", 0)
                    ns = p.get("run_time_ns", 0) - b.get("run_time_ns", 0)
                    if runs:
                        rows.append({"prog": p.get("name"), "runs": runs, "ns_per_run": ns / runs,
                                     "runs_per_req": runs / max(w["requests"], 1),
                                     "ns_per_req": ns / max(w["requests"], 1)})
                raw["attribution"][c.name] = {"requests": w["requests"], "progs": rows}
            except Exception as e:
                log("attribution of %s failed: %s" % (c.name, e))
            finally:
                c.stop()
                if isinstance(c, Tool):
                    c.discard()
    finally:
        nb.set_sysctl("kernel.bpf_stats_enabled", 0)


# --- report -------------------------------------------------------------------

def fmt(st, digits=2):
    if not st:
        return "–"
    if st["n"] == 1:
        return "%.*f" % (digits, st["median"])
    return "%.*f (%.*f–%.*f)" % (digits, st["median"], digits, st["min"], digits, st["max"])


def report(raw, conts, prof):
    names = [c.name for c in conts]
    keep = slot_ratios(raw, "keep_rps")
    close = slot_ratios(raw, "close_rps")
    taxr = slot_ratios(raw, "tax_ns")
    dnsr = slot_ratios(raw, "dns_qps")
    ev = {t: event_units(raw, t) for t in ("tcp", "udp")}
    summary = {"keep": {}, "close": {}, "tax": {}, "dns": {}, "ev_tcp": {}, "ev_udp": {}, "compl": {}}
    L = []
    info = raw["machine"]
    L.append("# netwarden benchmark, %s profile" % raw["profile"])
    L.append("")
    L.append("%s · kernel %s · %d CPUs · %s · %d rounds (ratios: median (min–max) of each run "
             "against the no-tracer runs next to it)" % (info["date"], info["kernel"], info["cpus"],
                                                         info["cpu_model"], prof["rounds"]))
    L.append("")
    L.append("| contender | HTTP keep-alive req/s | HTTP new conn/request req/s | extra kernel cost per "
             "TCP send+recv (empty tp_btf = 1) | same, UDP | CPU per lo packet (packet socket) | "
             "DNS qps under dnsperf | DNS seen / sent |")
    L.append("|---|---|---|---|---|---|---|---|")
    for c in conts:
        if c.na:
            L.append("| %s | N/A: %s | | | | | | |" % (c.name, c.na))
            continue
        if not getattr(c, "in_rounds", True):
            continue
        n = c.name
        st = {k: nb.paired_stats(v.get(n, [])) for k, v in
              (("keep", keep), ("close", close), ("tax", taxr), ("dns", dnsr),
               ("ev_tcp", ev["tcp"]), ("ev_udp", ev["udp"]))}
        for k, v in st.items():
            summary[k][n] = v
        cov = [s["dns_seen"] / s["dns_sent"] for s in raw["slots"]
               if s.get("contender") == n and "dns_seen" in s and s.get("dns_sent")]
        L.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            n, fmt(st["keep"]), fmt(st["close"]), fmt(st["ev_tcp"], 1), fmt(st["ev_udp"], 1),
            fmt(st["tax"]), fmt(st["dns"]), fmt(nb.paired_stats(cov), 4) if cov else "–"))
    base = [s for s in raw["slots"] if s.get("contender") == "none" and "keep_rps" in s]
    if base:
        med = lambda k: nb.paired_stats([s[k] for s in base if k in s])["median"]  # noqa: E731
        refs = nb.paired_stats(ev["tcp"]["_ref_ns"])
        L.append("")
        L.append("No-tracer medians: keep-alive %.0f req/s, new connection per request %.0f req/s "
                 "(%.2f TCP opens per request), TCP send+recv %.0f ns, UDP %.0f ns, lo packet %.0f ns CPU, "
                 "DNS %.0f qps. One empty tp_btf program: %.0f ns per event (median)." % (
                     med("keep_rps"), med("close_rps"), med("close_opens_per_req"), med("ev_tcp_ns"),
                     med("ev_udp_ns"), med("tax_ns"), med("dns_qps"), refs["median"] if refs else 0))
    # completeness
    L.append("")
    L.append("## Completeness at 15,000 TCP connections/s (tests/helpers/connload, %d s, %d repeat(s))"
             % (prof["s4_seconds"], prof["s4_repeats"]))
    L.append("")
    L.append("| contender | sockets reported / closed | lost (its own counters) | CPU per connection vs none "
             "| consumer wakeups/s at 15,000/s | at 1,500/s |")
    L.append("|---|---|---|---|---|---|")
    crs = raw["completeness"]
    cpu_r = {}
    for rep in {r["round"] for r in crs}:
        seq = sorted((r for r in crs if r["round"] == rep), key=lambda r: r["pos"])
        for i, r in enumerate(seq):
            if r["contender"] == "none" or "cpu_s" not in r:
                continue
            nb_ = bracketing(seq, i, lambda x: "cpu_s" in x)
            if nb_:
                b = sum(x["cpu_s"] / max(x["made"], 1) for x in nb_) / len(nb_)
                cpu_r.setdefault(r["contender"], []).append(r["cpu_s"] / max(r["made"], 1) / b)
    for c in conts:
        rs = [r for r in crs if r["contender"] == c.name and "reported" in r]
        if c.na or not c.reports_conns:
            if not c.na:
                L.append("| %s | does not report connections | | | | |" % c.name)
            continue
        if not rs:
            L.append("| %s | failed | | | | |" % c.name)
            continue
        rep = sum(r["reported"] for r in rs)
        exp = sum(r["expected"] for r in rs)
        lost = sum(r.get("lost", 0) for r in rs)
        wk = nb.paired_stats([r["wakeups_per_s"] for r in rs])
        low = [r for r in raw["low_rate"] if r["contender"] == c.name]
        summary["compl"][c.name] = {"reported": rep, "expected": exp, "lost": lost,
                                    "wakeups": wk, "low_wakeups": low[0]["wakeups_per_s"] if low else None,
                                    "cpu": nb.paired_stats(cpu_r.get(c.name, []))}
        L.append("| %s | %d / %d (%.4f) | %d | %s | %s | %s |" % (
            c.name, rep, exp, rep / max(exp, 1), lost, fmt(nb.paired_stats(cpu_r.get(c.name, []))),
            fmt(wk, 0), "%.0f" % low[0]["wakeups_per_s"] if low and low[0]["wakeups_per_s"] is not None else "–"))
    rate = [r["achieved_rate"] for r in crs if "achieved_rate" in r]
    if rate:
        L.append("")
        L.append("Connections made per run: %d–%d at %.0f–%.0f/s." % (
            min(r["made"] for r in crs if "made" in r), max(r["made"] for r in crs if "made" in r),
            min(rate), max(rate)))
    # memory
    if raw["memory"]:
        L.append("")
        L.append("## Memory: anonymous RSS of the tool's processes + BPF map memory, with 0 and %d "
                 "loopback connection pairs held open (%d tracked sockets); netwarden after one "
                 "client's full query" % (prof["hold"], 2 * prof["hold"]))
        L.append("")
        L.append("| contender | at 0: RSS + maps | at %d: RSS + maps | growth per 10k tracked sockets |"
                 % (2 * prof["hold"]))
        L.append("|---|---|---|---|")
        for m in raw["memory"]:
            L.append("| %s | %.1f + %.1f MiB | %.1f + %.1f MiB | %.1f MiB |" % (
                m["contender"], m["at_0"]["anon_kb"] / 1024, m["at_0"]["map_bytes"] / 1048576,
                m["at_n"]["anon_kb"] / 1024, m["at_n"]["map_bytes"] / 1048576,
                m["per_10k_tracked_kb"] / 1024))
    if raw["rpc"]:
        L.append("")
        L.append("## GetConnections: one answer with every open connection (a new client id each time)")
        L.append("")
        L.append("| connections in the answer | wall ms | worker CPU ms | µs per connection | bytes per connection |")
        L.append("|---|---|---|---|---|")
        for r in raw["rpc"]:
            w = nb.paired_stats(r["wall_ms"])
            cpu = nb.paired_stats(r["worker_cpu_ms"])
            L.append("| %d | %s | %s | %.2f | %.0f |" % (
                r["conns"], fmt(w, 1), fmt(cpu, 1), w["median"] * 1000 / max(r["conns"], 1),
                r["bytes"] / max(r["conns"], 1)))
    if raw["attribution"]:
        L.append("")
        L.append("## Attribution (kernel.bpf_stats_enabled=1, one HTTP new-connection run each)")
        L.append("")
        L.append("| contender | program | runs per request | ns per run | ns per request |")
        L.append("|---|---|---|---|---|")
        for name, a in raw["attribution"].items():
            for p in sorted(a["progs"], key=lambda p: -p["ns_per_req"]):
                L.append("| %s | %s | %.2f | %.0f | %.0f |" % (name, p["prog"], p["runs_per_req"],
                                                              p["ns_per_run"], p["ns_per_req"]))
    if raw["parsers"]:
        L.append("")
        L.append("## Parsers (callgrind instructions, deterministic)")
        L.append("")
        for name, p in raw["parsers"].items():
            L.append("```")
            L.extend(p["output"])
            L.append("```")
    L.append("")
    L.append("## Not measured here")
    L.append("")
    for tool, why in raw["na"].items():
        if why:
            L.append("- %s: N/A, %s" % (tool, why))
    L.append("")
    L.append("## Targets")
    L.append("")
    L.extend(targets(summary))
    return "\n".join(L) + "\n", summary


def targets(s):
    out = []

    def line(ok, text):
        out.append("- %s %s" % ("met:" if ok else ("MISSED:" if ok is not None else "unknown:"), text))

    k = s["keep"].get("netwarden")
    line(k and k["median"] >= 0.95, "HTTP keep-alive throughput kept ≥ 0.95: %s" % fmt(k))
    c = s["close"].get("netwarden")
    line(c and c["median"] >= 0.90, "HTTP new connection per request kept ≥ 0.90: %s" % fmt(c))
    t = s["close"].get("tcplife")
    line(c and t and c["median"] >= 1.5 * t["median"],
         "≥ 1.5× tcplife's figure on that: %.2f vs tcplife %.2f (%.2f×)" % (
             c["median"] if c else 0, t["median"] if t else 0,
             (c["median"] / t["median"]) if c and t else 0))
    for n in ("netwarden", "netwarden-all"):
        cp = s["compl"].get(n)
        if cp:
            line(cp["lost"] == 0 and cp["reported"] == cp["expected"],
                 "%s: zero lost at 15,000 connections/s: %d/%d sockets reported, %d lost" % (
                     n, cp["reported"], cp["expected"], cp["lost"]))
    cp = s["compl"].get("netwarden")
    if cp and cp["wakeups"]:
        hi, lo = cp["wakeups"]["median"], cp["low_wakeups"]
        line(hi <= 12 and (lo is None or lo <= 12),
             "wakeups bounded by a timer, not by event rate: %.0f/s at 15,000 conn/s, %s/s at 1,500 conn/s "
             "(100 ms drain timer: 10/s)" % (hi, "%.0f" % lo if lo is not None else "?"))
    tx = s["tax"].get("netwarden")
    tc = s["tax"].get("netwarden-conns")
    td = s["tax"].get("tcpdump53")
    if tx and tc and td:
        share = tx["median"] / tc["median"]
        line(share <= td["median"],
             "packet-socket cost no higher than tcpdump's: CPU per lo UDP packet, netwarden's two "
             "packet sockets (default / connections only) %.2f vs tcpdump %.2f (whole netwarden %.2f, "
             "its UDP accounting alone %.2f)" % (share, td["median"], tx["median"], tc["median"]))
    else:
        line(None, "packet-socket cost no higher than tcpdump's: not measured")
    return out


def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    vul = {}
    d = "/sys/devices/system/cpu/vulnerabilities"
    for n in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        with open(os.path.join(d, n)) as f:
            vul[n] = f.read().strip()
    return {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "kernel": platform.release(), "cpus": os.cpu_count(), "cpu_model": model,
            "vulnerabilities": vul}


def main():
    ap = argparse.ArgumentParser(description="netwarden benchmark suite")
    ap.add_argument("--profile", choices=sorted(PROFILES), default="full")
    ap.add_argument("--seed", type=int, default=None, help="shuffle seed (default: time)")
    ap.add_argument("--out", default=RESULTS, help="directory for the .md and .json results")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/suite.py loads BPF programs and changes sysctls: run as root")
    prof = PROFILES[args.profile]
    seed = args.seed if args.seed is not None else int(time.time())
    random.seed(seed)
    if not os.path.isdir("/sys/kernel/tracing/events"):
        subprocess.run(["mount", "-t", "tracefs", "nodev", "/sys/kernel/tracing"], check=False)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda s, f: sys.exit(128 + s))
    nb.set_sysctl("kernel.bpf_stats_enabled", 0)
    nb.set_sysctl("net.ipv4.ip_local_port_range", "1024 65000")
    nb.set_sysctl("net.ipv4.tcp_tw_reuse", 1)
    nb.set_sysctl("net.core.somaxconn", 8192)
    nb.set_sysctl("net.ipv4.tcp_max_syn_backlog", 8192)
    t_start = time.monotonic()
    raw = {"profile": args.profile, "seed": seed, "machine": machine(), "profile_settings": prof,
           "slots": [], "completeness": [], "low_rate": [], "memory": [], "rpc": [], "parsers": {},
           "attribution": {}, "na": {}}
    conts = contenders()
    raw["na"] = probe_kprobe_tools()
    for c in conts:
        if c.na:
            raw["na"][c.name] = c.na
    ngx = resolver = None
    qdir = tempfile.mkdtemp(prefix="nw-bench-q-")
    try:
        ngx = Nginx()
        resolver = dnsperf.Resolver(RESOLVER)
        resolver.start(cpu=SERVER_CPU)
        qfile = os.path.join(qdir, "queries")
        dnsperf.queries_file(qfile)
        rounds(conts, prof, resolver, qfile, raw)
        completeness(conts, prof, raw)
        memory_and_rpc(conts, prof, raw)
        if prof["attribution"]:
            attribution(conts, prof, raw)
        if prof["parsers"]:
            parsers(raw)
    finally:
        for c in conts:
            c.stop()
        if resolver:
            resolver.stop()
        if ngx:
            ngx.stop()
        for p in live:
            nb.stop_proc(p, signal.SIGKILL, 5)
        shutil.rmtree(qdir, True)
        nb.restore_sysctls()
    raw["seconds"] = time.monotonic() - t_start
    md, summary = report(raw, conts, prof)
    md += "\nRun took %.0f s (seed %d).\n" % (raw["seconds"], seed)
    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, "%s-%s" % (datetime.datetime.now().strftime("%Y%m%d-%H%M"), args.profile))
    with open(stem + ".md", "w") as f:
        f.write(md)
    with open(stem + ".json", "w") as f:
        json.dump({"raw": raw, "summary": summary}, f, indent=1, default=str)
    print()
    print(md)
    log("written %s.md and %s.json" % (stem, stem))


if __name__ == "__main__":
    main()
