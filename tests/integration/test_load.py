#!/usr/bin/python3
"""Completeness under load: a generator opens and closes TCP connections on
loopback at NW_LOAD_RATE per second (default 15000) for NW_LOAD_SECONDS (10)
against an accept-and-close server, in ring-buffer and in perf-buffer mode.
Afterwards the connections netwarden reported closed, per side, equal the
connections made (counted by the generator, the server and the kernel's
TcpActiveOpens), each exactly once, or every missing one is accounted for by
a lost/dropped counter. One client queries every NW_LOAD_QUERY_S seconds
while the load runs, as an agent would."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nwtest as nw  # noqa: E402

RATE = int(os.environ.get("NW_LOAD_RATE", "15000"))
SECONDS = int(os.environ.get("NW_LOAD_SECONDS", "10"))
QUERY_S = float(os.environ.get("NW_LOAD_QUERY_S", "0.5"))

# connections lost or dropped on the way, each counted once: a batch the perf
# buffer refused (its entries not already read as pending), a full map, a
# client's full buffers. (A single record the channel refused is not lost: its
# entry stays in the map flagged closed and the next scan reports it.)
LOSS_COUNTERS = ("tel_batch_lost_conns", "tel_conn_map_full", "closed_dropped", "conn_dropped")
SETTLE_S = 20  # sockets still closing (FIN_WAIT, orphans) after the load stops

tap = nw.Tap()
nw.require_root(tap)
nw.require_binaries(tap, "connload")


def active_opens():
    with open("/proc/net/snmp") as f:
        lines = [l.split() for l in f if l.startswith("Tcp:")]
    return int(lines[1][lines[0].index("ActiveOpens")])


def run_mode(mode):
    flags = ["--events=perf"] if mode == "perf" else []
    d = nw.Daemon(*flags)
    cid = "nwt-load-%s-%d" % (mode, os.getpid())
    d.conns(cid)  # register: closed connections are kept for us from now on
    srv = nw.helper("connload", "server", "--bind", "127.0.0.1", "--port", 0,
                    "--seconds", SECONDS + 8)
    port = srv.json()["port"]
    opens0 = active_opens()
    cli = nw.helper("connload", "client", "--connect", "127.0.0.1", "--port", port, "--rate", RATE,
                    "--seconds", SECONDS, "--parallel", 512)
    out_seen, in_seen = {}, {}  # cookie -> closed records carrying it
    counts = {id(out_seen): 0, id(in_seen): 0}  # connections, merged ones included
    merged = [0]
    queries, biggest = 0, 0

    def collect():
        nonlocal queries, biggest
        conns = d.conns(cid).get("conns", [])
        queries += 1
        biggest = max(biggest, len(conns))
        for c in conns:
            if not c.get("closed") or c.get("type") != "tcp":
                continue
            # a client port reused within one answer: connections with the same
            # tuple come merged, `merged` says how many (cookie of the first)
            n = int(c.get("merged", 1))
            if int(c["dport"]) == port and c.get("direction") == "outgoing":
                side = out_seen
            elif int(c["sport"]) == port and c.get("direction") == "incoming":
                side = in_seen
            else:
                continue
            merged[0] += n - 1
            side[int(c["cookie"])] = side.get(int(c["cookie"]), 0) + 1
            counts[id(side)] += n

    t0 = time.monotonic()
    while cli.p.poll() is None and time.monotonic() - t0 < SECONDS + 30:
        collect()
        time.sleep(QUERY_S)
    res = cli.json(timeout=30)
    cli.wait()
    acc = srv.json(timeout=SECONDS + 20)
    srv.wait()
    opens = active_opens() - opens0
    # the last sockets finish closing and their records arrive within the
    # worker's drain tick: wait until both sides are complete or nothing moves
    settle = time.monotonic() + SETTLE_S
    while time.monotonic() < settle:
        collect()
        if counts[id(out_seen)] >= res["connected"] + res["failed"] and \
                counts[id(in_seen)] >= acc["accepted"]:
            break
        time.sleep(0.5)
    st = d.stats()
    made = res["connected"] + res["failed"]
    lost = {k: int(st.get(k, 0)) for k in LOSS_COUNTERS}
    tap.diag("%s: %d connections in %.1f s (%.0f/s), server accepted %d, TcpActiveOpens +%d; "
             "netwarden closed records: %d outgoing, %d incoming in %d queries (largest answer %d); "
             "losses %s; wakeup-related: %s" % (
                 mode, made, res["elapsed_s"], res["rate"], acc["accepted"], opens,
                 len(out_seen), len(in_seen), queries, biggest, lost,
                 {k: st.get(k) for k in ("tel_ringbuf_forced_wakeups", "timer_drains", "batches_received",
                                         "batch_conns_pending", "batch_entries_skipped",
                                         "tel_closed_unbatched", "events_received",
                                         "events_lost", "tel_event_lost", "swept_flagged",
                                         "conns_active")}))
    tap.ok(res["rate"] >= RATE * 0.97 and res["failed"] == 0 and res["unfinished"] == 0,
           "%s: generator made %d connections at %.0f/s (target %d/s for %d s), none failed"
           % (mode, res["connected"], res["rate"], RATE, SECONDS), res)
    tap.ok(opens >= made and acc["accepted"] == res["connected"],
           "%s: independent counts agree: TcpActiveOpens +%d, server accepted %d, client %d"
           % (mode, opens, acc["accepted"], made))
    dups = sum(1 for v in list(out_seen.values()) + list(in_seen.values()) if v > 1)
    tap.ok(dups == 0, "%s: no closed connection reported twice" % mode, "%d duplicates" % dups)
    n_out, n_in = counts[id(out_seen)], counts[id(in_seen)]
    missing = (made - n_out) + (acc["accepted"] - n_in)
    accounted = sum(lost.values())
    tap.ok(n_out <= made and n_in <= acc["accepted"] and (missing == 0 or missing <= accounted),
           "%s: closed reported %d/%d client side, %d/%d server side (%d in merged records); "
           "missing %d, accounted by loss counters %d"
           % (mode, n_out, made, n_in, acc["accepted"], merged[0], missing, accounted), lost)
    if missing:
        tap.diag("%s: all stats: %s" % (mode, st))
    tap.eq(d.stop(), 0, "%s: netwarden exits 0" % mode)


for mode in ("ringbuf", "perf"):
    try:
        run_mode(mode)
    except Exception as e:  # one mode's failure must not hide the other's
        tap.ok(False, "%s mode load test ran" % mode, repr(e))
tap.done()
