#!/usr/bin/python3
"""DNS monitoring end to end, with real servers and clients in test hosts.

Test host A runs dnsmasq (A/AAAA host records, a CNAME chain, NXDOMAIN for its
local domain, SERVFAIL for a domain whose upstream fails); test host B asks,
with dig (UDP and TCP, over IPv4 and IPv6) and with a client program that
resolves a name through its resolv.conf and connects to the answer; test host
C never answers. The hosts reach each other through the root network
namespace, where netwarden's packet socket sees the traffic. A second dnsmasq
on 127.0.0.1:5353 (a configured DNS port) checks that loopback queries count
once. Both capture modes run: the eBPF socket filter with its ring buffer, and
the classic filter whose packets the loader forwards.

Checks: rcode counts per (domain, type), plausible latencies, a timeout for the
query to C (with --dns-timeout=2s), the domain on the connection made to the
answer (GetConnections), and that the worker holds no packet socket. Other
tests may run on this host meanwhile: every count here is filtered by this
test's addresses, ports or names."""
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nwtest as nw  # noqa: E402

tap = nw.Tap()
nw.require_root(tap)
nw.require_binaries(tap, "tcp_xfer")
for tool in ("dnsmasq", "dig"):
    if not shutil.which(tool):
        tap.bail("%s is missing: scripts/deps.sh test installs it" % tool)

DNS_TIMEOUT_S = 2
LO_PORT = 5353
RCODES = {"NOERROR": 0, "SERVFAIL": 2, "NXDOMAIN": 3}


def sysctl(key, value):
    """Set a sysctl for the test's duration."""
    path = "/proc/sys/" + key.replace(".", "/")
    with open(path) as f:
        old = f.read().strip()

    def restore():
        with open(path, "w") as f:
            f.write(old)
    with open(path, "w") as f:
        f.write(value)
    nw.on_cleanup(restore)


# --- the hosts --------------------------------------------------------------------------
try:
    A = nw.TestHost("a", 141)  # dnsmasq
    B = nw.TestHost("b", 142)  # clients
    C = nw.TestHost("c", 143)  # never answers
    for h in (A, B, C):
        nw.run(["ip", "-n", h.name, "route", "add", "default", "via", h.host_v4])
        nw.run(["ip", "-n", h.name, "-6", "route", "add", "default", "via", h.host_v6])
    sysctl("net.ipv4.ip_forward", "1")
    sysctl("net.ipv6.conf.all.forwarding", "1")
except Exception as e:
    tap.bail("test hosts: %s" % e)

work = nw.tmpdir("nwt-dns-")
# B resolves through A: `ip netns exec` puts /etc/netns/NAME/resolv.conf in place
netns_etc = "/etc/netns/" + B.name
os.makedirs(netns_etc, exist_ok=True)
nw.on_cleanup(shutil.rmtree, netns_etc, True)
with open(os.path.join(netns_etc, "resolv.conf"), "w") as f:
    f.write("nameserver %s\noptions attempts:1 timeout:2\n" % A.ns_v4)

SERVFAIL_UPSTREAM = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 5300))
while True:
    q, a = s.recvfrom(4096)
    r = bytearray(q)
    r[2] = 0x80 | (q[2] & 0x79)
    r[3] = 0x80 | 2
    r[6:12] = bytes(6)
    s.sendto(bytes(r), a)
"""

# resolve a name with getaddrinfo (B's resolv.conf), connect, send 100 bytes
CLIENT = r"""
import json, socket, sys
name, port, fam = sys.argv[1], int(sys.argv[2]), socket.AF_INET if sys.argv[3] == "4" else socket.AF_INET6
ai = socket.getaddrinfo(name, port, fam, socket.SOCK_STREAM)
s = socket.socket(fam, socket.SOCK_STREAM)
s.settimeout(5)
s.connect(ai[0][4])
s.sendall(b"x" * 100)
l, r = s.getsockname(), s.getpeername()
print(json.dumps({"laddr": l[0], "lport": l[1], "raddr": r[0], "rport": r[1]}), flush=True)
s.close()
"""

# one DNS query over UDP, no retry, no wait for an answer
ONE_QUERY = r"""
import socket, struct, sys
name, server, txid = sys.argv[1], sys.argv[2], int(sys.argv[3])
q = struct.pack(">HHHHHH", txid, 0x0100, 1, 0, 0, 0)
for label in name.split("."):
    q += bytes([len(label)]) + label.encode()
q += b"\0" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(q, (server, 53))
print(s.getsockname()[1], flush=True)
"""

try:
    upstream = nw.Proc(["python3", "-c", SERVFAIL_UPSTREAM], netns=A.name,
                       stderr_path=os.path.join(work, "upstream.log"))
    dnsmasq_a = nw.Proc(["dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts", "--bind-interfaces",
                         "--listen-address=" + A.ns_v4, "--listen-address=" + A.ns_v6, "--port=53",
                         "--pid-file=", "--log-facility=-",
                         "--host-record=app.nwt.test,%s,%s" % (A.ns_v4, A.ns_v6),
                         "--cname=www.nwt.test,edge.nwt.test", "--cname=edge.nwt.test,app.nwt.test",
                         "--local=/nwt.test/", "--server=/broken.test/127.0.0.1#5300"],
                        netns=A.name, stderr_path=os.path.join(work, "dnsmasq-a.log"))
    dnsmasq_lo = nw.Proc(["dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts", "--bind-interfaces",
                          "--listen-address=127.0.0.1", "--port=%d" % LO_PORT, "--pid-file=",
                          "--log-facility=-", "--host-record=lo.nwt.test,127.0.0.9",
                          "--local=/nwt.test/"],
                         stderr_path=os.path.join(work, "dnsmasq-lo.log"))
except Exception as e:
    tap.bail("dnsmasq: %s" % e)


def dig(*args, netns=B.name, timeout=10):
    """dig's status (NOERROR, NXDOMAIN, ...) and answer lines, or (None, output)."""
    cmd = ["dig", "+tries=1", "+time=2", "+noall", "+comments", "+answer"] + list(args)
    if netns:
        cmd = ["ip", "netns", "exec", netns] + cmd
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=timeout)
    m = re.search(r"status: (\w+)", r.stdout)
    return (m.group(1) if m else None), r.stdout


# before netwarden starts, so that it does not count them: dnsmasq answers, and
# the IPv6 paths are warm (the new veths' link-local addresses finish their DAD
# first: until then neighbour discovery holds packets back for about a second)
ready = nw.wait_for(lambda: dig("@" + A.ns_v4, "app.nwt.test", "A")[0] == "NOERROR" and
                    dig("@" + A.ns_v6, "app.nwt.test", "AAAA")[0] == "NOERROR" and
                    dig("@127.0.0.1", "-p", str(LO_PORT), "lo.nwt.test", netns=None)[0] == "NOERROR",
                    15, 0.2)
for i in range(20):  # a v6 answer in well under a second: neighbours known both ways
    t0 = time.monotonic()
    if dig("@" + A.ns_v6, "app.nwt.test", "AAAA")[0] == "NOERROR" and time.monotonic() - t0 < 0.5:
        break
if not ready:
    tap.bail("dnsmasq did not answer: %s %s" % (dnsmasq_a.stderr(), dnsmasq_lo.stderr()))


def dns_stats(d, cid):
    r = d.ctl("dns", client_id=cid)
    if r.returncode != 0:
        raise RuntimeError("netwardenctl dns exited %d: %s" % (r.returncode, r.stderr))
    return json.loads(r.stdout)


class Acc:
    """DNS stats of one client id, summed over client ports, by (client, server, proto, domain, qtype)."""

    def __init__(self, d, cid):
        self.d, self.cid = d, cid
        self.by = {}
        self.capture = dns_stats(d, cid)["capture"]  # the baseline: from now on

    def poll(self):
        r = dns_stats(self.d, self.cid)
        for s in r["stats"]:
            k = (nw.norm_ip(s["client"]), nw.norm_ip(s["server"]), s["protocol"], s["domain"], s["qtype_name"])
            a = self.by.setdefault(k, {"rcodes": {}, "timeouts": 0, "ok_ns": 0, "fail_ns": 0, "ports": set()})
            for rc, n in s["rcodes"].items():
                a["rcodes"][rc] = a["rcodes"].get(rc, 0) + n
            a["timeouts"] += s["timeouts"]
            a["ok_ns"] += s["success_latency_ns"]
            a["fail_ns"] += s["failure_latency_ns"]
            a["ports"].add(s["client_port"])
        return r

    def get(self, client, server, proto, domain, qtype):
        return self.by.get((nw.norm_ip(client), nw.norm_ip(server), proto, domain, qtype))


def check_entry(acc, label, client, server, proto, domain, qtype, rcode, count):
    """One TAP line: exactly count answers with rcode, none other, latency in (0, 1 s)."""
    e = acc.get(client, server, proto, domain, qtype)
    if e is None:
        return tap.ok(False, label, "no entry for %s %s %s; have: %s"
                      % (domain, qtype, proto, sorted(k[3:] for k in acc.by)))
    got = e["rcodes"]
    lat_sum = e["ok_ns"] if rcode == "NOERROR" else e["fail_ns"]
    avg_ms = lat_sum / max(count, 1) / 1e6
    good = got == {rcode: count} and e["timeouts"] == 0 and 0 < avg_ms < 1000
    tap.ok(good, "%s: %s=%d, average latency %.3f ms" % (label, rcode, count, avg_ms), repr(e))
    return avg_ms


def packet_socket_inodes():
    """Inodes of the packet sockets of the root network namespace."""
    with open("/proc/net/packet") as f:
        rows = f.read().splitlines()[1:]
    return {int(r.split()[-1]) for r in rows if r.split()}


def socket_inodes(pid):
    out = set()
    for fd, target in nw.worker_fds(pid).items():
        m = re.match(r"socket:\[(\d+)\]", target)
        if m:
            out.add(int(m.group(1)))
    return out


def conn_to(col, daddr, dport):
    for c in list(col.closed.values()) + list(col.active.values()):
        if nw.norm_ip(c["daddr"]) == nw.norm_ip(daddr) and int(c["dport"]) == int(dport) and \
                c.get("direction") == "outgoing":
            return c
    return None


def connect_by_name(d, name, family, server_addr, label):
    """A server in A, the client program in B resolving name and connecting; checks the
    domain on the connection netwarden reports."""
    col = nw.Collector(d, "nwt-dns-conns-%s-%d" % (label, time.monotonic_ns()))
    col.query()
    srv = nw.helper("tcp_xfer", "server", "--bind", server_addr, "--recv", 100, netns=A.name)
    port = srv.json()["port"]
    cli = nw.Proc(["python3", "-c", CLIENT, name, str(port), str(family)], netns=B.name)
    try:
        cd = cli.json()
    except Exception as e:
        return tap.ok(False, "%s: client connected to %s" % (label, name), "%s %s" % (e, cli.stderr()))
    cli.wait()
    srv.wait()
    c = nw.wait_for(lambda: col.query() is not None and conn_to(col, cd["raddr"], cd["rport"]), 10, 0.2)
    names = (c or {}).get("dns_names", [])
    tap.ok(c and name in names, "%s: the connection to %s:%s carries the name %s (%s)"
           % (label, cd["raddr"], cd["rport"], name, names), c and nw.fmt_conn(c))
    return c


def run_mode(mode_flags, label, lo_expected):
    """One daemon: every check; lo_expected when LO_PORT is one of the DNS ports."""
    try:
        d = nw.Daemon("--dns-timeout=%ds" % DNS_TIMEOUT_S, "-v", *mode_flags)
    except Exception as e:
        tap.bail("%s daemon: %s" % (label, e))
    tap.ok(d.log_lines(r"dns: packet socket in the root network namespace"),
           "%s: the loader opened its packet socket in the root network namespace" % label,
           d.log()[-2000:])
    acc = Acc(d, "nwt-dns-%s" % label)
    tap.eq(acc.capture, "classic" if "--dns-filter=classic" in mode_flags else "ebpf",
           "%s: GetDNSStats says which capture runs" % label)
    st0 = d.stats()

    # dig from B: A (through a CNAME chain), AAAA over IPv6, NXDOMAIN, SERVFAIL, TCP
    answers = {
        "www A": dig("@" + A.ns_v4, "www.nwt.test", "A"),
        "app AAAA v6": dig("@" + A.ns_v6, "app.nwt.test", "AAAA"),
        "nope": dig("@" + A.ns_v4, "nope.nwt.test", "A"),
        "broken": dig("@" + A.ns_v4, "x.broken.test", "A"),
        "tcp": dig("+tcp", "@" + A.ns_v4, "app.nwt.test", "A"),
    }
    tap.ok([a[0] for a in answers.values()] == ["NOERROR", "NOERROR", "NXDOMAIN", "SERVFAIL", "NOERROR"]
           and A.ns_v4 in answers["www A"][1] and "CNAME" in answers["www A"][1],
           "%s: dnsmasq answered dig (CNAME chain, AAAA over IPv6, NXDOMAIN, SERVFAIL, TCP)" % label,
           json.dumps(answers, indent=1))
    # loopback, a configured port: five queries
    lo = [dig("@127.0.0.1", "-p", str(LO_PORT), "lo.nwt.test", "A", netns=None)[0] for _ in range(5)]
    tap.ok(lo == ["NOERROR"] * 5, "%s: five loopback queries answered" % label, lo)
    # a query to C, which never answers
    one = nw.Proc(["python3", "-c", ONE_QUERY, "silent.nwt.test", C.ns_v4, "4242"], netns=B.name)
    silent_port = int(one.line(10) or 0)
    one.wait()

    def complete():
        acc.poll()
        e = acc.get(B.ns_v4, C.ns_v4, "udp", "silent.nwt.test", "A")
        return e and e["timeouts"] >= 1
    t0 = time.monotonic()
    nw.wait_for(complete, DNS_TIMEOUT_S + 8, 0.5)
    waited = time.monotonic() - t0
    lat = {}
    lat["A via CNAME chain"] = check_entry(acc, "%s: www.nwt.test A from B" % label, B.ns_v4, A.ns_v4,
                                           "udp", "www.nwt.test", "A", "NOERROR", 1)
    lat["AAAA over IPv6"] = check_entry(acc, "%s: app.nwt.test AAAA over IPv6" % label, B.ns_v6, A.ns_v6,
                                        "udp", "app.nwt.test", "AAAA", "NOERROR", 1)
    lat["NXDOMAIN"] = check_entry(acc, "%s: nope.nwt.test NXDOMAIN" % label, B.ns_v4, A.ns_v4, "udp",
                                  "nope.nwt.test", "A", "NXDOMAIN", 1)
    lat["SERVFAIL"] = check_entry(acc, "%s: x.broken.test SERVFAIL" % label, B.ns_v4, A.ns_v4, "udp",
                                  "x.broken.test", "A", "SERVFAIL", 1)
    lat["TCP"] = check_entry(acc, "%s: app.nwt.test A over TCP" % label, B.ns_v4, A.ns_v4, "tcp",
                             "app.nwt.test", "A", "NOERROR", 1)
    e = acc.get(B.ns_v4, C.ns_v4, "udp", "silent.nwt.test", "A")
    tap.ok(e and e["timeouts"] == 1 and not e["rcodes"] and silent_port in e["ports"],
           "%s: the query to the silent host is one timeout (after %.1f s with --dns-timeout=%ds)"
           % (label, waited, DNS_TIMEOUT_S), repr(e))
    e = acc.get("127.0.0.1", "127.0.0.1", "udp", "lo.nwt.test", "A")
    if lo_expected:
        lat["loopback"] = check_entry(acc, "%s: five loopback queries counted once each" % label,
                                      "127.0.0.1", "127.0.0.1", "udp", "lo.nwt.test", "A", "NOERROR", 5)
    else:
        tap.ok(e is None, "%s: a port not in --dns-ports is not seen" % label, repr(e))
    tap.diag("%s: average latencies (ms): %s" % (label, ", ".join("%s %.3f" % kv for kv in lat.items())))

    # a client program resolving through a CNAME chain, then connecting to the answer
    connect_by_name(d, "www.nwt.test", 4, A.ns_v4, "%s IPv4" % label)
    connect_by_name(d, "app.nwt.test", 6, A.ns_v6, "%s IPv6" % label)

    # counters and the packet socket's owner
    st = d.stats()
    wpid = int(st["worker_pid"])
    pkt = packet_socket_inodes()
    tap.ok(not (socket_inodes(wpid) & pkt), "%s: the worker holds no packet socket" % label,
           "worker sockets %s, packet sockets %s" % (socket_inodes(wpid), pkt))
    tap.ok(socket_inodes(d.p.pid) & pkt, "%s: the loader holds the packet socket" % label)
    counters = ["dns_queries", "dns_responses", "dns_stats_timeouts", "dns_capture_received",
                "dns_malformed_ptr_not_backward", "dns_cache_hits", "dns_clients"]
    counters += ["dns_capture_loader_drops"] if "--dns-filter=classic" in mode_flags else \
        ["tel_dns_captured", "tel_dns_ring_full"]
    missing = [c for c in counters if c not in st]
    tap.ok(not missing and st["dns_stats_timeouts"] >= 1 and st["dns_queries"] > st0.get("dns_queries", 0)
           and st["dns_cache_hits"] >= 1,
           "%s: GetStats has the DNS counters (queries %d, responses %d, timeouts %d, cache hits %d)"
           % (label, st.get("dns_queries", -1), st.get("dns_responses", -1),
              st.get("dns_stats_timeouts", -1), st.get("dns_cache_hits", -1)), missing)
    lost = st.get("dns_capture_loader_drops", 0) + st.get("tel_dns_ring_full", 0)
    tap.eq(lost, 0, "%s: no packet lost on the way to the worker" % label)
    tap.eq(d.stop(), 0, "%s: netwarden exits 0" % label)
    return d


run_mode(["--dns-ports=53,%d" % LO_PORT], "ebpf", True)
run_mode(["--dns-filter=classic"], "classic", False)

# the table view
try:
    d = nw.Daemon("--dns-ports=53,%d" % LO_PORT)
    d.ctl("dns", client_id="nwt-dns-table", json_out=False)
    dig("@127.0.0.1", "-p", str(LO_PORT), "lo.nwt.test", "A", netns=None)
    r = nw.wait_for(lambda: (lambda r: "lo.nwt.test" in r.stdout and r)(
        d.ctl("dns", client_id="nwt-dns-table", json_out=False)), 5, 0.2)
    tap.ok(r and re.search(r"127\.0\.0\.1:\d+\s+127\.0\.0\.1\s+udp\s+lo\.nwt\.test\s+A\s+1\s+0\s+\S+ms", r.stdout)
           and "NOERROR=1" in r.stdout and r.stdout.startswith("CLIENT"),
           "netwardenctl dns prints an aligned table", r and r.stdout)
    r = d.ctl("--client-id=", "dns", json_out=False)
    tap.ok(r.returncode == 1 and "client-id" in r.stderr, "netwardenctl dns refuses an empty client id",
           r.stderr)
    d.stop()
except Exception as e:
    tap.ok(False, "netwardenctl dns table", str(e))

# a loader started outside the root network namespace enters it for the socket
try:
    os.stat("/proc/1/ns/net")
    proc1 = True
except OSError as e:
    proc1 = False
    why = e.strerror
if proc1:
    logf = os.path.join(work, "nsenter.log")
    sock = os.path.join(work, "run-ns", "nw.sock")
    with open(logf, "wb") as log:
        p = subprocess.Popen(["nsenter", "--net=/var/run/netns/" + C.name, nw.NETWARDEN,
                              "--rpc-socket=" + sock], stdout=log, stderr=subprocess.STDOUT)
    nw.on_cleanup(lambda: p.poll() is None and p.kill())
    ok = nw.wait_for(lambda: "ready:" in open(logf).read(), 30, 0.1)
    nw.wait_for(lambda: os.path.exists(sock), 5)
    cid = "nwt-dns-ns"
    subprocess.run([nw.NETWARDENCTL, "--socket=" + sock, "--client-id=" + cid, "dns"],
                   stdout=subprocess.DEVNULL, timeout=10)
    dig("@" + A.ns_v4, "app.nwt.test", "A")
    out = subprocess.run([nw.NETWARDENCTL, "--socket=" + sock, "--client-id=" + cid, "--json", "dns"],
                         stdout=subprocess.PIPE, text=True, timeout=10).stdout
    tap.ok(ok and "app.nwt.test" in out,
           "a loader started in another network namespace captures in the root one",
           open(logf).read()[-1500:] + out)
    p.terminate()
    p.wait(10)
else:
    tap.ok(True, "# SKIP a loader started in another network namespace: /proc/1/ns/net is not "
           "readable here (%s)" % why)

tap.done()
