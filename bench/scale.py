#!/usr/bin/python3
"""Scale: netwarden's memory per 10k tracked connections, and the cost of one
GetConnections answer at 10k and 100k connections.

What is counted. A "pair" is one TCP connection on loopback with both ends
open in a holder process (bench/conn_hold.c); netwarden tracks each end as
its own socket, so N pairs are 2N tracked connections (2N kernel map
entries, 2N entries in a GetConnections answer). "Per 10k tracked" divides
by 2N/10000. Connections of anything else on the machine are counted too
(the answers' sizes are reported as measured, not assumed).

Interface (imported by the bench orchestrator; everything bounded in time):

  Holder(pairs, payload_bytes=16, seconds=120)
      .start() -> self   opens `pairs` connections, returns once all are up
                         (.setup_s, .pids); several conn_hold processes when
                         RLIMIT_NOFILE's hard limit is below 2*pairs
      .stop()            closes their stdin: they reset every socket and exit
      usable as a context manager; each holder also exits by itself after
      `seconds` or when this process dies (its stdin closes).
  nw_memory(nw) -> {"worker_rss_kb","worker_anon_kb","loader_rss_kb",
                    "loader_anon_kb","map_bytes","ringbuf_bytes","prog_bytes",
                    "maps":[{"id","name","type","max_entries","bytes"}]}
      nw: a bench/nwbench.py Netwarden. Maps are those held by the loader or
      the worker (fd -> fdinfo map_id, deduplicated), bytes = fdinfo memlock
      (what `bpftool map show` calls bytes_memlock); map_bytes includes the
      ring buffers, ringbuf_bytes is their share; prog_bytes is the programs'
      memlock, apart.
  peer_memory(pid) -> {"rss_kb","anon_kb","map_bytes","ringbuf_bytes",
                       "prog_bytes","maps":[...]}
      the same for any other tracer process (tcplife, bpftrace, ...).
  rpc_cost(nw, reps=3, client_id=None) -> {"conns","bytes","wall_ms":[..],
          "worker_cpu_ms":[..],"worker_ticks_ms":[..],"unpack_ms":[..],"runs":[..]}
      one GetConnections per repetition, each with a new client id (a new id
      is answered with every active connection; a known one with deltas;
      client_id= reuses one id instead), through bench/rpc_cost.c
      (client/nwclient.c). conns/bytes: the median repetition's (bytes = the
      response frame, header included); wall_ms: request sent to response
      decoded, unpack_ms the client's decoding share of it; worker_cpu_ms
      from /proc/PID/task/*/schedstat (ns), worker_ticks_ms from utime+stime
      (10 ms steps). On failure also "error".
  worker_stats(nw) -> the worker's counters (GetStats) as a dict.
  worker_deaths(nw) -> the loader's log lines on worker exits/restarts (and
      nw.worker_pid follows a restarted worker).
  peer_scenario(cmd) -> {"mem_0","mem_n"}: a peer tracer's peer_memory()
      with 0 and MEM_PAIRS pairs held.
  main(argv) -> dict of all results (also printed: a table, or JSON with
      --json); --peers adds tcplife's peer_scenario. Scenarios:
      default limits: memory at 0 and MEM_PAIRS pairs (one client id,
        "scale-memory", that has queried once at each point), GetConnections
        at 20k, 10k and 100k entries (the last capped at 65536);
      --max-tracked-connections=BIG_LIMIT: 100k entries, capped by the
        per-client limit; both limits raised: 100k entries, and memory at
        0 and 100k tracked.

Limits met on the way (see main()): the kernel map holds
--max-tracked-connections entries (default 65536), and a client id remembers
at most --max-client-stats connections (default 75000): a new client's
answer is capped at that many, the rest counted in conn_dropped. The 100k
answer needs both raised.

Nothing here asserts; it measures.
"""
import json
import os
import resource
import select
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nwbench  # noqa: E402

BENCH_OUT = os.path.join(nwbench.OUT, "bench")
CONN_HOLD = os.path.join(BENCH_OUT, "conn_hold")
RPC_COST = os.path.join(BENCH_OUT, "rpc_cost")
MAP_TYPE_NAMES = {1: "hash", 2: "array", 4: "perf_event_array", 5: "percpu_hash",
                  6: "percpu_array", 9: "lru_hash", 24: "sk_storage", 27: "ringbuf"}
PAIRS_PER_10K = 5000      # 10k tracked connections
MEM_PAIRS = 10000         # memory scenario: 20k tracked
BIG_PAIRS = 50000         # 100k tracked
BIG_LIMIT = 262144        # --max-tracked-connections / --max-client-stats for 100k


def ensure_built():
    missing = [p for p in (CONN_HOLD, RPC_COST) if not os.access(p, os.X_OK)]
    if missing:
        subprocess.run(["make", "-s", "-C", nwbench.ROOT] +
                       [os.path.relpath(p, nwbench.ROOT) for p in missing],
                       check=True, timeout=300)


class Holder:
    """`pairs` loopback TCP connections held open by conn_hold processes."""

    def __init__(self, pairs, payload_bytes=16, seconds=120):
        self.pairs = pairs
        self.payload_bytes = payload_bytes
        self.seconds = seconds
        self.procs = []
        self.setup_s = None

    @property
    def pids(self):
        return [p.pid for p in self.procs]

    def start(self, timeout=60):
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        per = self.pairs if hard == resource.RLIM_INFINITY else max(1, min(self.pairs, (hard - 64) // 2))
        t0 = time.monotonic()
        left = self.pairs
        try:
            while left > 0:
                n = min(per, left)
                self.procs.append(subprocess.Popen(
                    [CONN_HOLD, "--pairs", str(n), "--ports", str((n + 4999) // 5000),
                     "--bytes", str(self.payload_bytes), "--seconds", str(self.seconds)],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
                left -= n
            waiting = {p.stdout.fileno(): p for p in self.procs}
            end = time.monotonic() + timeout
            while waiting and time.monotonic() < end:
                ready, _, _ = select.select(list(waiting), [], [], max(0.0, end - time.monotonic()))
                for fd in ready:
                    p = waiting.pop(fd)
                    line = p.stdout.readline().decode(errors="replace")
                    if '"ready"' not in line:
                        err = p.stderr.read().decode(errors="replace") if p.wait(5) is not None else ""
                        raise RuntimeError("conn_hold failed: %s %s" % (line.strip(), err.strip()))
            if waiting:
                raise RuntimeError("conn_hold: not ready after %d s" % timeout)
        except BaseException:
            self.stop()
            raise
        self.setup_s = time.monotonic() - t0
        return self

    def stop(self):
        for p in self.procs:
            if p.stdin:
                try:
                    p.stdin.close()
                except OSError:
                    pass
        for p in self.procs:
            if not _exited(p, 20):
                nwbench.stop_proc(p, timeout=5)
            for f in (p.stdout, p.stderr):
                if f:
                    f.close()
        self.procs = []

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def _exited(p, timeout):
    try:
        p.wait(timeout)
        return True
    except subprocess.TimeoutExpired:
        return False


# ---- memory ------------------------------------------------------------------

def _bpftool_names():
    """map id -> (name, bytes_memlock) from `bpftool -j map show`, or {}."""
    try:
        r = subprocess.run(["bpftool", "-j", "map", "show"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True, timeout=20)
        return {m["id"]: (m.get("name", ""), m.get("bytes_memlock")) for m in json.loads(r.stdout or "[]")}
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return {}


def bpf_objects(pid):
    """BPF maps and programs whose fds a process holds: ({map_id: info}, {prog_id: memlock})."""
    maps, progs = {}, {}
    for target, info in nwbench.fdinfos(pid):
        if target == "anon_inode:bpf-prog" and "prog_id" in info:
            progs[int(info["prog_id"])] = int(info.get("memlock", 0))
        elif target == "anon_inode:bpf-map" and "map_id" in info:
            t = int(info.get("map_type", -1))
            maps[int(info["map_id"])] = {"id": int(info["map_id"]), "type": MAP_TYPE_NAMES.get(t, str(t)),
                                         "max_entries": int(info.get("max_entries", 0)),
                                         "bytes": int(info.get("memlock", 0))}
    return maps, progs


def _memory(pids):
    maps, progs = {}, {}
    for pid in pids:
        m, p = bpf_objects(pid)
        maps.update(m)
        progs.update(p)
    names = _bpftool_names() if maps else {}
    for m in maps.values():
        m["name"] = names.get(m["id"], ("", None))[0]
    listed = sorted(maps.values(), key=lambda m: -m["bytes"])
    return {"map_bytes": sum(m["bytes"] for m in listed),
            "ringbuf_bytes": sum(m["bytes"] for m in listed if m["type"] == "ringbuf"),
            "prog_bytes": sum(progs.values()), "maps": listed}


def nw_memory(nw):
    """Worker and loader RSS, and the BPF memory of the maps either holds."""
    out = {"worker_rss_kb": nwbench.proc_status(nw.worker_pid, "VmRSS"),
           "worker_anon_kb": nwbench.proc_status(nw.worker_pid, "RssAnon"),
           "loader_rss_kb": nwbench.proc_status(nw.loader.pid, "VmRSS"),
           "loader_anon_kb": nwbench.proc_status(nw.loader.pid, "RssAnon")}
    out.update(_memory([nw.loader.pid, nw.worker_pid]))
    return out


def peer_memory(pid):
    """RSS and BPF memory of another tracer process (tcplife, bpftrace)."""
    out = {"rss_kb": nwbench.proc_status(pid, "VmRSS"), "anon_kb": nwbench.proc_status(pid, "RssAnon")}
    out.update(_memory([pid]))
    return out


# ---- RPC cost ----------------------------------------------------------------

def rpc_cost(nw, reps=3, client_id=None, timeout_s=60):
    """Time one GetConnections per repetition, each for a new client id
    (client_id: the same id every time instead; its answers are deltas)."""
    cmd = [RPC_COST, "--socket", nw.sock, "--reps", str(reps), "--worker-pid", str(nw.worker_pid),
           "--timeout-ms", str(int(timeout_s * 1000))]
    if client_id:
        cmd += ["--client-id", client_id]
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=timeout_s * (reps + 1) + 10)
        out, err, rc = r.stdout, r.stderr, r.returncode
    except subprocess.TimeoutExpired as e:
        out, err, rc = e.stdout or "", "timed out", -1
    if isinstance(out, bytes):
        out = out.decode(errors="replace")
    runs = [json.loads(line) for line in (out or "").splitlines() if line.startswith("{")]
    ok = [x for x in runs if "error" not in x]
    res = {"runs": runs}
    for key in ("wall_ms", "worker_cpu_ms", "worker_ticks_ms", "unpack_ms"):
        res[key] = [x[key] for x in ok]
    if ok:
        mid = sorted(ok, key=lambda x: x["wall_ms"])[len(ok) // 2]
        res["conns"], res["bytes"] = mid["conns"], mid["bytes"]
    if rc:
        res["error"] = next((x["step"] + ": " + x["error"] for x in runs if "error" in x),
                            "rpc_cost exit %s: %s" % (rc, (err or "").strip()[-300:]))
    return res


def worker_stats(nw):
    """The worker's counters (GetStats), or {"error": ...}."""
    try:
        return json.loads(nw.ctl(["stats", "--json"], timeout=30))
    except (RuntimeError, ValueError, subprocess.TimeoutExpired) as e:
        return {"error": str(e)}


STAT_KEYS = ("worker_restarts", "clients", "conns_active", "map_entries", "conns_tracked_dropped",
             "conn_dropped", "tel_conn_map_full", "tel_event_lost")


def worker_deaths(nw):
    """The loader's lines about worker exits and restarts so far; nw.worker_pid
    follows a restarted worker."""
    lines = []
    try:
        with open(nw.log, errors="replace") as f:
            lines = [l.strip() for l in f
                     if ("worker pid" in l and "exited" in l) or "worker restarted" in l]
    except OSError:
        pass
    for l in lines:
        if "worker restarted: pid" in l:
            nw.worker_pid = int(l.split("pid")[1].split()[0])
    return lines


# ---- scenarios -----------------------------------------------------------------

MEM_CLIENT = "scale-memory"


class Run:
    """Results of one main() run: res[key] = ..., problems noted on the way."""

    def __init__(self):
        self.res = {"problems": []}

    def settle(self, nw):
        """Let the worker drain the setup's events, then one query by the
        memory client (its state then covers every connection)."""
        time.sleep(0.5)
        r = rpc_cost(nw, reps=1, client_id=MEM_CLIENT)
        if "error" in r:
            self.res["problems"].append("settle query: " + r["error"])

    def cost(self, nw, key, reps):
        r = rpc_cost(nw, reps=reps)
        s = worker_stats(nw)
        r["stats"] = {k: s.get(k) for k in STAT_KEYS}
        if "error" in r:
            self.res["problems"].append(key + ": " + r["error"])
        self.res[key] = r

    def stop(self, nw, name):
        deaths = worker_deaths(nw)
        if deaths:
            self.res["problems"].append("%s: %s" % (name, "; ".join(deaths)))
        nw.stop()


def mem_scenario(run):
    """Default limits: memory at 0 and MEM_PAIRS pairs with one client; the
    cost at 20k, 10k and (capped) 100k entries."""
    res = run.res
    nw = nwbench.Netwarden().start()
    try:
        run.settle(nw)
        res["mem_0"] = nw_memory(nw)
        with Holder(MEM_PAIRS) as h:
            res["hold_setup_s"] = {"%d" % MEM_PAIRS: h.setup_s}
            time.sleep(0.5)
            # before the memory client asks: what tracking alone costs the worker
            res["mem_n_unqueried"] = nw_memory(nw)
            run.settle(nw)
            res["mem_n"] = nw_memory(nw)
            run.cost(nw, "rpc_20k", 3)
            # the same connections with 3 more clients that each got all of them
            res["mem_n_4clients"] = nw_memory(nw)
        with Holder(PAIRS_PER_10K) as h:
            time.sleep(0.5)
            run.cost(nw, "rpc_10k", 3)
            # on to 100k entries with the default --max-tracked-connections
            with Holder(BIG_PAIRS - PAIRS_PER_10K) as h2:
                res["hold_setup_s"]["%d" % BIG_PAIRS] = h.setup_s + h2.setup_s
                time.sleep(0.5)
                run.cost(nw, "rpc_100k_default", 1)
    finally:
        run.stop(nw, "default limits")


def big_scenario(run):
    """100k entries: the kernel map raised (the answer is then capped by
    --max-client-stats), then both raised."""
    res = run.res
    for key, flags in (("rpc_100k_client_cap", ["--max-tracked-connections=%d" % BIG_LIMIT]),
                       ("rpc_100k", ["--max-tracked-connections=%d" % BIG_LIMIT,
                                     "--max-client-stats=%d" % BIG_LIMIT])):
        nw = nwbench.Netwarden(flags).start()
        try:
            if key == "rpc_100k":
                run.settle(nw)
                res["mem_big_0"] = nw_memory(nw)
            with Holder(BIG_PAIRS):
                time.sleep(0.5)
                if key == "rpc_100k":
                    run.settle(nw)
                    res["mem_big_n"] = nw_memory(nw)
                run.cost(nw, key, 3 if key == "rpc_100k" else 1)
        finally:
            run.stop(nw, " ".join(flags))


def peer_scenario(cmd, settle_s=3):
    """RSS and BPF memory of a peer tracer at 0 and MEM_PAIRS pairs."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(settle_s)
        if p.poll() is not None:
            return {"error": "%s exited %s" % (cmd[0], p.returncode)}
        out = {"mem_0": peer_memory(p.pid)}
        with Holder(MEM_PAIRS):
            time.sleep(0.5)
            out["mem_n"] = peer_memory(p.pid)
        return out
    finally:
        nwbench.stop_proc(p, timeout=10)


# ---- report --------------------------------------------------------------------

def _per10k(m0, mn, tracked, keys=("worker_rss_kb", "worker_anon_kb", "loader_rss_kb", "map_bytes")):
    return {k: (mn[k] - m0[k]) * 10000.0 / tracked for k in keys
            if mn.get(k) is not None and m0.get(k) is not None}


def _cost_line(name, r):
    if not r.get("wall_ms"):
        return "  %-20s %s" % (name, r.get("error", "no answer"))
    ms = statistics.median(r["wall_ms"])
    cpu = statistics.median(r["worker_cpu_ms"])
    n = max(r["conns"], 1)
    return "  %-20s %7d %9.1f %9.1f %9.2f %9.1f %8.2f" % (
        name, r["conns"], ms, cpu, ms * 1000 / n, r["bytes"] / n, r["bytes"] / 1e6)


def _mem_line(name, m):
    return "  %-26s %8s kB %8s kB %8s kB %8.1f MB" % (
        name, m["worker_rss_kb"], m["worker_anon_kb"], m["loader_rss_kb"], m["map_bytes"] / 1e6)


def report(res):
    tracked = 2 * MEM_PAIRS
    print("memory, one client id (%d pairs held = %d tracked sockets; default limits):" % (
        MEM_PAIRS, tracked))
    print("  %-26s %11s %11s %11s %11s" % ("", "worker RSS", "of it anon", "loader RSS", "BPF maps"))
    rows = [("0 held", "mem_0"), ("%d tracked, not queried" % tracked, "mem_n_unqueried"),
            ("%d tracked" % tracked, "mem_n"),
            ("%d tracked, 4 client ids" % tracked, "mem_n_4clients"),
            ("0 held, limits %d" % BIG_LIMIT, "mem_big_0"),
            ("%d tracked, limits %d" % (2 * BIG_PAIRS, BIG_LIMIT), "mem_big_n")]
    for name, key in rows:
        if key in res:
            print(_mem_line(name, res[key]))
    m0, mn = res["mem_0"], res["mem_n"]
    d = _per10k(m0, mn, tracked)
    print("  %-26s %8.0f kB %8.0f kB %8.0f kB %8.1f MB" % (
        "per 10k tracked", d["worker_rss_kb"], d["worker_anon_kb"], d["loader_rss_kb"],
        d["map_bytes"] / 1e6))
    if "mem_big_n" in res and "mem_big_0" in res:
        d = _per10k(res["mem_big_0"], res["mem_big_n"], 2 * BIG_PAIRS)
        print("  %-26s %8.0f kB %8.0f kB %8.0f kB %8.1f MB" % (
            "per 10k tracked, at 100k", d["worker_rss_kb"], d["worker_anon_kb"], d["loader_rss_kb"],
            d["map_bytes"] / 1e6))
    print("  (maps include %.1f MB of ring buffers; programs %.2f MB apart; the conns map is"
          " preallocated: its size follows --max-tracked-connections, not the load)" % (
              m0["ringbuf_bytes"] / 1e6, m0["prog_bytes"] / 1e6))
    print("GetConnections, a new client id each call (median of the repetitions):")
    print("  %-20s %7s %9s %9s %9s %9s %8s" % ("", "conns", "wall ms", "wkr cpu", "us/conn",
                                             "B/conn", "MB"))
    for key in ("rpc_10k", "rpc_20k", "rpc_100k_default", "rpc_100k_client_cap", "rpc_100k"):
        if key in res:
            print(_cost_line(key, res[key]))
    for key in ("rpc_100k_default", "rpc_100k_client_cap", "rpc_100k"):
        if key in res:
            print("  %-20s %s" % (key, " ".join("%s=%s" % kv for kv in res[key]["stats"].items())))
    if "tcplife" in res:
        t = res["tcplife"]
        if "mem_0" in t:
            print("tcplife: RSS %d -> %d kB, BPF maps %.1f -> %.1f MB (0 -> %d pairs)" % (
                t["mem_0"]["rss_kb"], t["mem_n"]["rss_kb"], t["mem_0"]["map_bytes"] / 1e6,
                t["mem_n"]["map_bytes"] / 1e6, MEM_PAIRS))
        else:
            print("tcplife: %s" % t.get("error"))
    for p in res["problems"]:
        print("problem: " + p)
    print("took %.1f s" % res["elapsed_s"])


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    ensure_built()
    t0 = time.monotonic()
    run = Run()
    mem_scenario(run)
    big_scenario(run)
    if "--peers" in argv:
        run.res["tcplife"] = peer_scenario(["tcplife"])
    run.res["elapsed_s"] = time.monotonic() - t0
    if "--json" in argv:
        print(json.dumps(run.res, indent=1))
    else:
        report(run.res)
    return run.res


if __name__ == "__main__":
    main()
