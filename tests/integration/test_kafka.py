#!/usr/bin/env python3
"""Kafka monitoring (USM) with a real client against a test broker.

kcat (librdkafka) produces and consumes against tests/integration/kafka_broker.py
running in a test host (netns + veth); netwarden runs with --kafka=on. The
broker logs every request it receives: that log is what was sent. Checked
through `netwardenctl --json kafka`:
  - Produce and Fetch counts per (broker, api, version, topic, error code)
    equal the broker's, for two sets of advertised versions (Produce v7/Fetch
    v11 over IPv4, Produce v3/Fetch v4 over IPv6), acks=0 produces (counted,
    flagged, no latency) and a produce the broker fails once (NOT_LEADER, 6)
    before librdkafka's retry succeeds;
  - every produced message comes back to the consumer (the broker is sound);
  - per-version hits in GetStats, nothing dropped on the way."""
import collections
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nwtest as nw  # noqa: E402

tap = nw.Tap()
nw.require_root(tap)
nw.require_binaries(tap)

PY = "/usr/bin/python3"
BROKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kafka_broker.py")
PRODUCE, FETCH = 0, 1


class Broker:
    def __init__(self, host, addr, port, *args):
        self.addr, self.port = addr, port
        self.bootstrap = ("[%s]:%d" if ":" in addr else "%s:%d") % (addr, port)
        self.p = nw.Proc([PY, BROKER, addr, str(port)] + list(args), netns=host.name,
                         stderr_path=os.path.join(WORK, "broker-%d.stderr" % port))
        first = self.p.json(10)
        if first.get("listening") != port:
            raise RuntimeError("broker did not start: %r" % first)
        self.entries = []

    def read_log(self):
        """Everything logged so far (the broker flushes each line)."""
        while True:
            line = self.p.line(0.2)
            if line is None:
                return self.entries
            self.entries.append(json.loads(line))

    def sent(self):
        """(api, version, topic, error code, acks==0) -> requests, Produce and Fetch only:
        those answered, and acks=0 produces (no answer is due)."""
        c = collections.Counter()
        for e in self.read_log():
            if e.get("api") in (PRODUCE, FETCH) and "error" not in e and \
                    (e.get("answered") or e.get("acks") == 0):
                c[(e["api"], e["version"], e["topic"], e.get("error_code", 0),
                   e.get("acks") == 0)] += 1
        return c


def kcat(*args, stdin=None, timeout=30):
    r = subprocess.run(["kcat", "-q"] + list(args), input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError("kcat %s: exit %d: %s" % (" ".join(args), r.returncode, r.stderr[-500:]))
    return r.stdout


def produce(b, topic, messages, *extra):
    kcat("-P", "-b", b.bootstrap, "-t", topic, "-p", "0", *extra,
         stdin="".join(m + "\n" for m in messages))


def consume(b, topic):
    return kcat("-C", "-b", b.bootstrap, "-t", topic, "-p", "0", "-o", "beginning", "-e").split()


def kafka_seen(d, client_id):
    """(server port, api, version, topic, error code, no_response) -> count, and the raw stats."""
    r = d._json("kafka", client_id=client_id)
    c = collections.Counter()
    for s in r["stats"]:
        c[(s["server_port"], s["api_key"], s["api_version"], s["topic"], s["error_code"],
           s["no_response"])] += s["count"]
    return c, r


def check_pass(label, b, got):
    want = collections.Counter({(b.port,) + (api, ver, topic, err, acks0): n
                                for (api, ver, topic, err, acks0), n in b.sent().items()})
    mine = collections.Counter({k: v for k, v in got.items() if k[0] == b.port})
    tap.eq(dict(mine), dict(want), "%s: Produce/Fetch count per (broker, api, version, topic, "
           "error) equals what the broker received (%d requests, %d keys)"
           % (label, sum(want.values()), len(want)))
    return want


# --- setup ---------------------------------------------------------------------------
try:
    WORK = nw.tmpdir("nwt-kafka-")
    host = nw.TestHost("k", 62)
    d = nw.Daemon("-v", "--kafka=on")
    client = "kafka-a"
    kafka_seen(d, client)  # registers
    b1 = Broker(host, host.ns_v4, 9092, "--fail-first-produce", "flaky")
    b2 = Broker(host, host.ns_v6, 9093, "--produce-max", "3", "--fetch-max", "4")
except Exception as e:
    tap.bail("setup: %s" % e)

tap.ok(d.wait_log(r"usm: capturing HTTP Kafka", 5), "loader: Kafka capture on", d.log()[-1000:])

# --- pass 1: Produce v7 / Fetch v11 over IPv4 -----------------------------------------------
produced = collections.defaultdict(list)
try:
    for i in range(4):
        msgs = ["order-%d-%d" % (i, j) for j in range(3)]
        produce(b1, "orders", msgs)
        produced[(1, "orders")] += msgs
    for i in range(2):
        produce(b1, "payments", ["pay-%d" % i])
        produced[(1, "payments")] += ["pay-%d" % i]
    produce(b1, "audit", ["audit-0"], "-X", "acks=0")
    produce(b1, "audit", ["audit-1"], "-X", "acks=0")
    produced[(1, "audit")] += ["audit-0", "audit-1"]
    produce(b1, "flaky", ["flaky-0"], "-X", "retry.backoff.ms=10")
    produced[(1, "flaky")] += ["flaky-0"]
    got = {t: consume(b1, t) for t in ("orders", "payments", "flaky")}
    ran1 = True
except Exception as e:
    ran1 = tap.ok(False, "pass 1: kcat produced and consumed", e)

# --- pass 2: Produce v3 / Fetch v4 over IPv6 --------------------------------------------------
try:
    for i in range(3):
        produce(b2, "legacy", ["old-%d" % i])
        produced[(2, "legacy")] += ["old-%d" % i]
    got2 = consume(b2, "legacy")
    ran2 = True
except Exception as e:
    ran2 = tap.ok(False, "pass 2: kcat produced and consumed", e)

seen, raw = kafka_seen(d, client)
if ran1:
    tap.eq({t: got[t] for t in got}, {t: produced[(1, t)] for t in got},
           "pass 1: the consumer got back every message produced (the broker is sound)")
    want1 = check_pass("pass 1 (Produce v7, Fetch v11, IPv4)", b1, seen)
    tap.ok(any(k[1] == PRODUCE and k[4] == 6 for k in want1) and
           any(k[1] == PRODUCE and k[3] == "flaky" and k[4] == 0 for k in want1),
           "pass 1: the broker failed one produce with NOT_LEADER, the retry succeeded",
           sorted(want1))
    tap.ok(any(k[1] == PRODUCE and k[5] for k in want1), "pass 1: acks=0 produces were sent",
           sorted(want1))
    acks0 = [s for s in raw["stats"] if s["no_response"]]
    tap.ok(acks0 and all(s["topic"] == "audit" and s["latency"]["count"] == 0 and s["count"] == 2
                         for s in acks0),
           "pass 1: acks=0 produces counted without latency", acks0)
    orders = [s for s in raw["stats"] if s["topic"] == "orders" and s["api"] == "produce"]
    tap.ok(orders and orders[0]["latency"]["count"] == orders[0]["count"] == 4
           and orders[0]["latency"]["p50_ns"] > 0 and orders[0]["server_addr"] == host.ns_v4,
           "pass 1: produce latency for every acknowledged request", orders)
if ran2:
    tap.eq(got2, produced[(2, "legacy")], "pass 2: the consumer got back every message")
    want2 = check_pass("pass 2 (Produce v3, Fetch v4, IPv6)", b2, seen)
    tap.ok({k[2] for k in want2 if k[1] == PRODUCE} == {3} and
           {k[2] for k in want2 if k[1] == FETCH} == {4},
           "pass 2: librdkafka used the versions the broker advertised", sorted(want2))
    v6 = [s for s in raw["stats"] if s["server_port"] == 9093]
    tap.ok(v6 and all(s["family"] == "ipv6" and nw.norm_ip(s["server_addr"]) ==
                      nw.norm_ip(host.ns_v6) for s in v6), "pass 2: broker address is IPv6", v6)

# --- deltas, telemetry, nothing lost ---------------------------------------------------------
again, _ = kafka_seen(d, client)
tap.eq(dict(again), {}, "a second query by the same client id: nothing new")
st = d.stats()
if ran1 and ran2:
    produce_v7 = sum(n for k, n in b1.sent().items() if k[0] == PRODUCE and k[1] == 7)
    fetch_v4 = sum(n for k, n in b2.sent().items() if k[0] == FETCH and k[1] == 4)
    tap.ok(st.get("kafka_produce_hits_v7") == produce_v7 and st.get("kafka_fetch_hits_v4") == fetch_v4
           and "kafka_fetch_hits_v11" in st and "kafka_produce_hits_v3" in st,
           "GetStats: hits per api version (produce v7 %s, fetch v4 %s)"
           % (st.get("kafka_produce_hits_v7"), st.get("kafka_fetch_hits_v4")),
           {k: v for k, v in st.items() if "hits_v" in k})
lost = {k: st.get(k) for k in ("usm_tel_ring_full", "usm_tel_flow_fail", "usm_bad_samples",
                               "kafka_dropped_conns", "kafka_dropped_requests",
                               "kafka_dropped_keys", "kafka_lost_sync", "usm_kafka_dropped")}
tap.ok(all(v == 0 for v in lost.values()), "no record lost or refused", lost)
tap.ok(st.get("usm_tel_kafka_classified", 0) >= 2, "the kernel classified the Kafka flows "
       "(%s)" % st.get("usm_tel_kafka_classified"))
d.stop()

# --- --kafka=off (the default): the kernel does not follow Kafka ---------------------------
try:
    off = nw.Daemon()
    off._json("kafka", client_id="off")
    produce(b1, "orders", ["after-off"])
    r = off._json("kafka", client_id="off")
    st = off.stats()
    tap.ok(r["enabled"] is False and r["stats"] == [] and st.get("usm_tel_kafka_segments") == 0
           and "kafka_records" not in st, "--kafka=off: nothing captured or tracked", r)
    off.stop()
except Exception as e:
    tap.ok(False, "--kafka=off daemon", e)

tap.done()
