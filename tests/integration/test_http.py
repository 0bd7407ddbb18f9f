#!/usr/bin/env python3
"""HTTP monitoring (USM) against real servers and clients.

nginx (a static file, a 404, a 500 route, an identifier path) and a python3
http.server whose handlers sleep a known time run in a test host (netns +
veth); curl and wrk run in the root namespace, where the capture's packet
socket sees the veth. Checked through `netwardenctl --json http`:
  - the count per (server, method, path, status) equals the requests made
    (curl's, and wrk's own total: one connection per thread, and each thread
    stops itself right after a response, so no request is in flight when wrk
    stops; wrk's own timer would stop it with one);
  - latency against curl's time from request sent to first byte
    (time_starttransfer - time_pretransfer) over the same requests: the kernel
    sees a part of each of curl's intervals, so every quantile is at most
    curl's same quantile plus the sketch's 1%, and at least the server's sleep
    less 1%; p50 is within 1% + 2 ms of curl's (curl's own scheduling only
    lengthens its tail);
  - two client ids get their own deltas; IPv4 and IPv6;
  - nothing lost or refused on the way (kernel and worker counters);
  - --http=off: the answer says so and the loader holds one packet socket fewer."""
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nwtest as nw  # noqa: E402

tap = nw.Tap()
nw.require_root(tap)
nw.require_binaries(tap)

PY = "/usr/bin/python3"
CURL_ENV = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
NGINX_PORT, PY_PORT = 8080, 8081
SLEEPS_MS = (50, 200)
SLEEP_REQS = 40

# wrk stops each thread right after a response once the time is up
WRK_STOP = """
local deadline
function init(args) deadline = os.time() + tonumber(args[1]) end
function response(status, headers, body)
  if os.time() >= deadline then wrk.thread:stop() end
end
"""

PY_SERVER = r"""
import http.server, socketserver, sys, time
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ms = int(self.path[len("/slow"):]) if self.path.startswith("/slow") else 0
        time.sleep(ms / 1000.0)
        body = b"slept %d ms\n" % ms
        self.send_response(200 if ms else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
S((sys.argv[1], int(sys.argv[2])), H).serve_forever()
"""


def wait_listen(host, port):
    def listening():
        r = nw.run(["ip", "netns", "exec", host.name, "ss", "-Hltn", "sport = :%d" % port],
                   check=False)
        return r.returncode == 0 and r.stdout.strip() != ""
    if not nw.wait_for(listening, 10, 0.1):
        raise RuntimeError("nothing listens on port %d in %s" % (port, host.name))


def nginx(host, work, www):
    conf = os.path.join(work, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""daemon off;
master_process off;
worker_processes 1;
pid %(w)s/nginx.pid;
error_log %(w)s/nginx-error.log error;
events { worker_connections 256; }
http {
    access_log off;
    sendfile on;
    keepalive_requests 1000000;
    default_type text/plain;
    client_body_temp_path %(w)s/nginx-body;
    server {
        listen %(v4)s:%(port)d;
        listen [%(v6)s]:%(port)d;
        root %(www)s;
        location /error { return 500; }
        location /item/ { return 200 "item\\n"; }
    }
}
""" % {"w": work, "www": www, "v4": host.ns_v4, "v6": host.ns_v6, "port": NGINX_PORT})
    p = nw.Proc(["nginx", "-c", conf, "-p", work], netns=host.name,
                stderr_path=os.path.join(work, "nginx.stderr"))
    wait_listen(host, NGINX_PORT)
    return p


def curl(url, method="GET"):
    """One request; returns (status, seconds from request sent to first byte)."""
    cmd = ["curl", "-sS", "--noproxy", "*", "--max-time", "20", "-o", "/dev/null",
           "-w", "%{http_code} %{time_pretransfer} %{time_starttransfer}"]
    if method == "HEAD":
        cmd.append("-I")
    elif method != "GET":
        cmd += ["-X", method]
    r = subprocess.run(cmd + [url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=30, env=CURL_ENV)
    if r.returncode != 0:
        raise RuntimeError("curl %s %s: %s" % (method, url, r.stderr.strip()))
    code, pre, start = r.stdout.split()
    return int(code), float(start) - float(pre)


def http_stats(d, client_id):
    return d._json("http", client_id=client_id)


class Counts:
    """What one client id saw, summed over its queries: key -> count, latencies."""

    def __init__(self, d, client_id):
        self.d, self.id = d, client_id
        self.count = {}
        self.last = {}
        http_stats(d, client_id)  # registers; the answer starts the delta

    def query(self):
        r = http_stats(self.d, self.id)
        self.last = {}
        for s in r["stats"]:
            k = (nw.norm_ip(s["server_addr"]), s["server_port"], s["method"], s["path"], s["status"])
            self.count[k] = self.count.get(k, 0) + s["count"]
            self.last[k] = s
        return r


def quantile(values, q):
    """The value of rank floor(q * (n - 1)), as the sketch defines its quantiles."""
    v = sorted(values)
    return v[int(q * (len(v) - 1))]


def packet_sockets(pid):
    """How many AF_PACKET sockets a process holds."""
    inodes = set()
    with open("/proc/%d/net/packet" % pid) as f:
        next(f)
        for line in f:
            inodes.add(line.split()[-1])
    n = 0
    for target in nw.worker_fds(pid).values():
        m = re.match(r"socket:\[(\d+)\]", target)
        n += bool(m and m.group(1) in inodes)
    return n


# --- setup ----------------------------------------------------------------------
try:
    WORK = nw.tmpdir("nwt-http-")
    os.chmod(WORK, 0o755)
    www = os.path.join(WORK, "www")
    os.mkdir(www)
    for name in ("static.txt", "wrk.txt"):
        with open(os.path.join(www, name), "w") as f:
            f.write("netwarden USM test file %s\n" % name * 20)
    os.chmod(www, 0o755)
    host = nw.TestHost("h", 61)
    d = nw.Daemon("-v")
    nginx(host, WORK, www)
    pysrv = nw.Proc([PY, "-c", PY_SERVER, host.ns_v4, str(PY_PORT)], netns=host.name,
                    stderr_path=os.path.join(WORK, "py.stderr"))
    wait_listen(host, PY_PORT)
except Exception as e:
    tap.bail("setup: %s" % e)

tap.ok(d.wait_log(r"usm: capturing HTTP, 208 bytes per segment, 16384 flows", 5),
       "loader: HTTP capture on by default, Kafka off", d.log()[-1500:])
a = Counts(d, "http-a")
b = Counts(d, "http-b")
V4, V6 = host.ns_v4, nw.norm_ip(host.ns_v6)
base4 = "http://%s:%d" % (V4, NGINX_PORT)
base6 = "http://[%s]:%d" % (host.ns_v6, NGINX_PORT)

# --- curl against nginx: exact counts per key -----------------------------------------
made = {}


def request(base, server, method, path, want_status, n):
    for _ in range(n):
        code, _ = curl(base + path, method)
        if code != want_status:
            raise RuntimeError("%s %s answered %d, not %d" % (method, path, code, want_status))
    k = (server, NGINX_PORT, method, path.split("?")[0], want_status)
    made[k] = made.get(k, 0) + n


try:
    request(base4, V4, "GET", "/static.txt", 200, 5)
    request(base4, V4, "GET", "/missing.txt", 404, 3)
    request(base4, V4, "POST", "/error", 500, 2)
    request(base4, V4, "HEAD", "/static.txt", 200, 2)
    request(base4, V4, "GET", "/static.txt?x=1", 200, 1)  # the query is not in the key
    request(base6, V6, "GET", "/static.txt", 200, 3)
    request(base6, V6, "DELETE", "/error", 500, 1)
    for item in ("12345", "67890", "4242"):
        request(base4, V4, "GET", "/item/" + item, 200, 1)
    made.pop((V4, NGINX_PORT, "GET", "/item/4242", 200))
    made.pop((V4, NGINX_PORT, "GET", "/item/67890", 200))
    made.pop((V4, NGINX_PORT, "GET", "/item/12345", 200))
    made[(V4, NGINX_PORT, "GET", "/item/*", 200)] = 3  # identifiers folded
    curl_ok = True
except Exception as e:
    curl_ok = tap.ok(False, "curl requests ran", e)

if curl_ok:
    a.query()
    nginx_seen = {k: v for k, v in a.count.items() if k[1] == NGINX_PORT}
    tap.eq(nginx_seen, made, "curl: count per (server, method, path, status) equals the "
           "requests made (%d requests, %d keys, IPv4 and IPv6)" % (sum(made.values()), len(made)))
    s = a.last.get((V4, NGINX_PORT, "GET", "/static.txt", 200))
    tap.ok(s and s["latency"]["count"] == 6 and 0 < s["latency"]["p50_ns"] < 1e9
           and s["family"] == "ipv4" and s["path_truncated"] is False,
           "curl: latency distribution and key fields of GET /static.txt", s)
    r = http_stats(d, "http-a")
    tap.eq(len(r["stats"]), 0, "a second query by the same client id: nothing new")

# --- wrk: its own request total ------------------------------------------------------
try:
    script = os.path.join(WORK, "stop.lua")
    with open(script, "w") as f:
        f.write(WRK_STOP)
    r = nw.run(["wrk", "-t2", "-c2", "-d10s", "-s", script, base4 + "/wrk.txt", "2"], timeout=30)
    m = re.search(r"(\d+) requests in", r.stdout)
    wrk_total = int(m.group(1))
    errors = re.search(r"Socket errors|Non-2xx", r.stdout)
    tap.ok(wrk_total > 100 and not errors, "wrk ran: %d requests, no socket errors or non-2xx"
           % wrk_total, r.stdout)
    a.query()
    got = a.count.get((V4, NGINX_PORT, "GET", "/wrk.txt", 200), 0)
    tap.eq(got, wrk_total, "wrk: GET /wrk.txt counted once per request wrk made (%d)" % wrk_total)
    made[(V4, NGINX_PORT, "GET", "/wrk.txt", 200)] = wrk_total
except Exception as e:
    tap.ok(False, "wrk ran", e)

# --- latency against curl's own measurement ------------------------------------------------
for ms in SLEEPS_MS:
    try:
        client = []
        for _ in range(SLEEP_REQS):
            code, secs = curl("http://%s:%d/slow%d" % (V4, PY_PORT, ms))
            client.append(secs * 1e9)
        made[(V4, PY_PORT, "GET", "/slow%d" % ms, 200)] = SLEEP_REQS
        a.query()
        s = a.last.get((V4, PY_PORT, "GET", "/slow%d" % ms, 200))
        if not tap.ok(s and s["count"] == SLEEP_REQS and s["latency"]["count"] == SLEEP_REQS,
                      "python server /slow%d: %d requests counted" % (ms, SLEEP_REQS), s):
            continue
        bad = []
        for q, name in ((0.5, "p50_ns"), (0.95, "p95_ns"), (0.99, "p99_ns")):
            want, got = quantile(client, q), s["latency"][name]
            if got > want * 1.01 + 0.5e6 or got < ms * 1e6 * 0.99:
                bad.append("%s: %.2f ms, curl says %.2f ms, sleep %d ms"
                           % (name, got / 1e6, want / 1e6, ms))
        tap.ok(not bad, "python server /slow%d: p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, each "
               "between the sleep - 1%% and curl's (%.2f, %.2f, %.2f ms) + 1%%"
               % (ms, s["latency"]["p50_ns"] / 1e6, s["latency"]["p95_ns"] / 1e6,
                  s["latency"]["p99_ns"] / 1e6, quantile(client, 0.5) / 1e6,
                  quantile(client, 0.95) / 1e6, quantile(client, 0.99) / 1e6), "\n".join(bad))
        want = quantile(client, 0.5)
        tap.ok(abs(s["latency"]["p50_ns"] - want) <= 0.01 * want + 2e6,
               "python server /slow%d: p50 within 1%% + 2 ms of curl's" % ms, s["latency"])
    except Exception as e:
        tap.ok(False, "python server /slow%d requests ran" % ms, e)

# --- the second client id saw everything, once -----------------------------------------------
b.query()
tap.eq(b.count, {k: v for k, v in made.items()},
       "second client id: every key since its registration, summed, in one query")

# --- nothing lost on the way --------------------------------------------------------------------
st = d.stats()
lost = {k: st.get(k) for k in ("usm_tel_ring_full", "usm_tel_flow_fail", "usm_bad_samples",
                               "http_dropped_conns", "http_dropped_requests", "http_dropped_keys",
                               "http_orphan_responses", "usm_http_dropped", "usm_tel_http_no_flow")}
tap.ok(all(v == 0 for v in lost.values()), "no record lost or refused (kernel ring, flow map, "
       "trackers, client accumulators)", lost)
total = sum(made.values())
tap.ok(st.get("http_requests", 0) >= total and st.get("http_hits_2xx", 0) > 0
       and st.get("http_hits_4xx", 0) >= 3 and st.get("http_hits_5xx", 0) >= 3,
       "GetStats: HTTP telemetry (requests %s, hits by class)" % st.get("http_requests"),
       {k: v for k, v in st.items() if k.startswith("http_")})
with_usm = packet_sockets(d.p.pid)
tap.ok(with_usm >= 1, "the loader holds the USM packet socket (%d packet sockets)" % with_usm)
d.stop()

# --- --http=off --kafka=off: no capture ----------------------------------------------------------
try:
    off = nw.Daemon("-v", "--http=off")
    r = off._json("http", client_id="http-off")
    tap.ok(r["enabled"] is False and r["stats"] == [], "--http=off: the answer says HTTP is off", r)
    tap.eq(packet_sockets(off.p.pid), with_usm - 1, "--http=off: one packet socket fewer")
    tap.ok(not off.log_lines(r"usm: capturing") and off.log_lines(r"HTTP and Kafka monitoring off"),
           "--http=off: no capture started", off.log()[-1000:])
    t = off.ctl("http", client_id="http-off", json_out=False)
    tap.ok(t.returncode == 0 and "--http=on" in t.stdout, "netwardenctl http (table) tells how "
           "to turn it on", t.stdout + t.stderr)
    off.stop()
except Exception as e:
    tap.ok(False, "--http=off daemon", e)

tap.done()
