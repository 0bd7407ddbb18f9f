#!/usr/bin/python3
"""Connection tracking against the real kernel: tuple, pid, direction, netns and
exact byte counts for TCP and UDP, IPv4 and IPv6, loopback and two test hosts
(netns + veth); nginx serving a static file with sendfile; python3 http.server;
closed connections reported once per client id; per-client deltas."""
import ipaddress
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nwtest as nw  # noqa: E402

tap = nw.Tap()
nw.require_root(tap)
nw.require_binaries(tap, "tcp_xfer", "udp_echo", "sendfile_server")

ROOT_NS = nw.netns_inode()
PY = "/usr/bin/python3"
CURL_ENV = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
FILE_SIZE = 1024 * 1024 + 17
expected = []  # (label, kwargs for nw.check_conn)


def expect(label, **kw):
    expected.append((label, kw))


def ns_inode(host):
    return host.inode if host else ROOT_NS


def tcp_xfer(label, bind, connect, c2s, s2c, server_host=None, client_host=None):
    srv = nw.helper("tcp_xfer", "server", "--bind", bind, "--send", s2c, "--recv", c2s,
                    netns=server_host and server_host.name)
    lis = srv.json()
    cli = nw.helper("tcp_xfer", "client", "--connect", connect, "--port", lis["port"],
                    "--send", c2s, "--recv", s2c, netns=client_host and client_host.name)
    cd, sd = cli.json(), srv.json()
    if cli.wait() != 0 or srv.wait() != 0:
        raise RuntimeError("%s: tcp_xfer failed: %s %s" % (label, cli.stderr(), srv.stderr()))
    expect(label + " client", typ="tcp", saddr=cd["laddr"], sport=cd["lport"], daddr=cd["raddr"],
           dport=cd["rport"], pid=cd["pid"], direction="outgoing", netns=ns_inode(client_host),
           sent=cd["sent"], recv=cd["recv"], cookie=cd["cookie"])
    expect(label + " server", typ="tcp", saddr=sd["laddr"], sport=sd["lport"], daddr=sd["raddr"],
           dport=sd["rport"], pid=sd["pid"], direction="incoming", netns=ns_inode(server_host),
           sent=sd["sent"], recv=sd["recv"], cookie=sd["cookie"])
    return cd, sd


def file_server(label, host, path, splice):
    args = ["--bind", host.ns_v4, "--file", path] + (["--splice"] if splice else [])
    srv = nw.helper("sendfile_server", *args, netns=host.name)
    lis = srv.json()
    cli = nw.helper("tcp_xfer", "client", "--connect", host.ns_v4, "--port", lis["port"],
                    "--recv", os.path.getsize(path))
    cd, sd = cli.json(), srv.json()
    if cli.wait() != 0 or srv.wait() != 0:
        raise RuntimeError("%s failed: %s %s" % (label, cli.stderr(), srv.stderr()))
    expect(label + " client", typ="tcp", saddr=cd["laddr"], sport=cd["lport"], daddr=cd["raddr"],
           dport=cd["rport"], pid=cd["pid"], direction="outgoing", netns=ROOT_NS,
           sent=cd["sent"], recv=cd["recv"], cookie=cd["cookie"])
    expect(label + " server", typ="tcp", saddr=sd["laddr"], sport=sd["lport"], daddr=sd["raddr"],
           dport=sd["rport"], pid=sd["pid"], direction="incoming", netns=host.inode,
           sent=sd["sent"], recv=sd["recv"], cookie=sd["cookie"])


def udp_echo(label, bind, connect, count, size, unconnected, source, server_host=None):
    """source: the address the client's datagrams leave from (an unconnected client's
    getsockname() says 0.0.0.0/::, the tuple must still name the real source)."""
    srv = nw.helper("udp_echo", "server", "--bind", bind, "--count", count,
                    netns=server_host and server_host.name)
    lis = srv.json()
    args = ["--connect", connect, "--port", lis["port"], "--count", count, "--size", size]
    cli = nw.helper("udp_echo", "client", *(args + (["--unconnected"] if unconnected else [])))
    cd, sd = cli.json(), srv.json()
    if cli.wait() != 0 or srv.wait() != 0:
        raise RuntimeError("%s: udp_echo failed: %s %s" % (label, cli.stderr(), srv.stderr()))
    expect(label + " client", typ="udp", saddr=source, sport=cd["lport"], daddr=connect,
           dport=lis["port"], pid=cd["pid"], direction="outgoing", netns=ROOT_NS,
           sent=cd["sent"], recv=cd["recv"], cookie=cd["cookie"])
    peer = sd["peers"][0]
    expect(label + " server", typ="udp", saddr=lis["addr"], sport=lis["port"], daddr=peer["addr"],
           dport=peer["port"], pid=lis["pid"], direction="incoming", netns=ns_inode(server_host),
           sent=peer["bytes"], recv=peer["bytes"], cookie=lis["cookie"])


def wait_listen(host, port):
    def listening():
        r = nw.run(["ip", "netns", "exec", host.name, "ss", "-Hltn", "sport = :%d" % port],
                   check=False)
        return r.returncode == 0 and r.stdout.strip() != ""
    if not nw.wait_for(listening, 10, 0.1):
        raise RuntimeError("nothing listens on port %d in %s" % (port, host.name))


def curl(label, url, server_pid, server_host, server_port):
    fmt = "%{size_request} %{size_header} %{size_download} %{local_ip} %{local_port} " \
          "%{remote_ip} %{remote_port}"
    out = os.path.join(WORK, "download")
    p = subprocess.Popen(["curl", "-sS", "--noproxy", "*", "--max-time", "20", "-o", out,
                          "-w", fmt, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=CURL_ENV)
    so, se = p.communicate(timeout=30)
    if p.returncode != 0:
        raise RuntimeError("%s: curl %s exited %d: %s" % (label, url, p.returncode, se))
    req, hdr, body, lip, lport, rip, rport = so.split()
    req, hdr, body = int(req), int(hdr), int(body)
    tap.eq(body, FILE_SIZE, "%s: curl downloaded the whole file" % label)
    expect(label + " curl", typ="tcp", saddr=lip, sport=lport, daddr=rip, dport=rport, pid=p.pid,
           direction="outgoing", netns=ROOT_NS, sent=req, recv=hdr + body)
    expect(label + " server", typ="tcp", saddr=rip, sport=server_port, daddr=lip, dport=lport,
           pid=server_pid, direction="incoming", netns=server_host.inode, sent=hdr + body,
           recv=req)


def nginx(host, www):
    conf = os.path.join(WORK, "nginx.conf")
    pidf = os.path.join(WORK, "nginx.pid")
    with open(conf, "w") as f:
        f.write("""daemon off;
master_process off;
worker_processes 1;
pid %(w)s/nginx.pid;
error_log %(w)s/nginx-error.log info;
events { worker_connections 64; }
http {
    access_log off;
    sendfile on;
    sendfile_max_chunk 0;
    keepalive_timeout 0;
    default_type application/octet-stream;
    client_body_temp_path %(w)s/nginx-body;
    server {
        listen %(addr)s:8080;
        root %(www)s;
    }
}
""" % {"w": WORK, "www": www, "addr": host.ns_v4})
    p = nw.Proc(["nginx", "-c", conf, "-p", WORK], netns=host.name,
                stderr_path=os.path.join(WORK, "nginx.stderr"))
    wait_listen(host, 8080)
    with open(pidf) as f:
        pid = int(f.read())
    return p, pid


def scenario(fn, *args, **kw):
    try:
        fn(*args, **kw)
        return True
    except Exception as e:  # one broken scenario must not hide the others
        tap.ok(False, "scenario %s%r ran" % (fn.__name__, args[:1]), e)
        return False


# --- setup ------------------------------------------------------------------
try:
    WORK = nw.tmpdir("nwt-conns-")
    www = os.path.join(WORK, "www")
    os.mkdir(www)
    os.chmod(WORK, 0o755)
    with open(os.path.join(www, "blob.bin"), "wb") as f:
        f.write(os.urandom(FILE_SIZE))
    d = nw.Daemon()
    A = nw.TestHost("a", 1)
    B = nw.TestHost("b", 2)
except Exception as e:
    tap.bail("setup: %s" % e)

tap.ok(d.log_lines(r"netwarden: attach: .*tracepoint set running"),
       "auto attach runs the tracepoint set and says so", d.log()[-1500:])
st = d.stats()
tap.ok(st.get("attach_set") == "tracepoint" and st.get("event_mode") == "ringbuf",
       "stats report attach_set tracepoint, event_mode ringbuf", st)

main = nw.Collector(d, "nwt-main-%d" % os.getpid())
second = nw.Collector(d, "nwt-second-%d" % os.getpid())
main.query()
second.query()

# --- traffic ------------------------------------------------------------------
scenario(tcp_xfer, "tcp loopback v4", "127.0.0.1", "127.0.0.1", 54321, 123457)
scenario(tcp_xfer, "tcp loopback v6", "::1", "::1", 7, 300001)
scenario(tcp_xfer, "tcp v4-mapped on a v6 socket", "::ffff:127.0.0.1", "::ffff:127.0.0.1", 1001, 2002)
scenario(tcp_xfer, "tcp netns v6", B.ns_v6, B.ns_v6, 65537, 4099, server_host=B)
scenario(tcp_xfer, "tcp netns v4 (client in netns)", A.host_v4, A.host_v4, 333333, 11,
         client_host=A)
blob = os.path.join(www, "blob.bin")
scenario(file_server, "sendfile(2) netns v4", A, blob, False)
scenario(file_server, "splice(2) netns v4", A, blob, True)

try:
    ngx, ngx_pid = nginx(A, www)
    scenario(curl, "nginx sendfile v4", "http://%s:8080/blob.bin" % A.ns_v4, ngx_pid, A, 8080)
    ngx.p.send_signal(15)
    ngx.wait(10)
except Exception as e:
    errlog = os.path.join(WORK, "nginx-error.log")
    tail = open(errlog).read()[-1500:] if os.path.exists(errlog) else ""
    tap.ok(False, "nginx in %s started" % A.name, "%s\n%s" % (e, tail))

try:
    pysrv = nw.Proc([PY, "-m", "http.server", "8000", "--bind", "::", "--directory", www],
                    netns=B.name, stderr_path=os.path.join(WORK, "http.server.log"))
    wait_listen(B, 8000)
    scenario(curl, "http.server v6", "http://[%s]:8000/blob.bin" % B.ns_v6, pysrv.pid, B, 8000)
    scenario(curl, "http.server v4 on a dual-stack socket", "http://%s:8000/blob.bin" % B.ns_v4,
             pysrv.pid, B, 8000)
    pysrv.kill()
except Exception as e:
    tap.ok(False, "python3 -m http.server in %s started" % B.name, e)

scenario(udp_echo, "udp loopback v4 connected", "127.0.0.1", "127.0.0.1", 5, 512, False, "127.0.0.1")
scenario(udp_echo, "udp loopback v6 unconnected", "::1", "::1", 4, 1000, True, "::1")
scenario(udp_echo, "udp netns v4 unconnected", A.ns_v4, A.ns_v4, 3, 1400, True, A.host_v4,
         server_host=A)
scenario(udp_echo, "udp netns v6 connected", B.ns_v6, B.ns_v6, 6, 77, False, B.host_v6,
         server_host=B)

# --- what the main client saw ---------------------------------------------------------
wanted = [(kw["typ"], kw["saddr"], kw["sport"], kw["daddr"], kw["dport"]) for _, kw in expected]
missing = main.wait_closed(wanted, timeout=15)
tap.ok(not missing, "every connection (%d) reached the main client as closed" % len(wanted),
       "missing: %r\nseen:\n%s" % (missing, "\n".join(nw.fmt_conn(c) for c in main.closed.values())))

tcp_flags_bad = []
for label, kw in expected:
    found = main.find_closed(kw["typ"], kw["saddr"], kw["sport"], kw["daddr"], kw["dport"])
    nw.check_conn(tap, found[0] if found else None, label, **kw)
    for c in found:
        m = c["monotonic"]
        if kw["typ"] == "tcp" and (m.get("tcp_established") != 1 or m.get("tcp_closed") != 1
                                   or m.get("sent_packets", 0) < 1 or m.get("recv_packets", 0) < 1):
            tcp_flags_bad.append("%s: %r" % (label, m))
        if kw["typ"] == "udp" and (m.get("sent_packets") != m.get("recv_packets")
                                   or m.get("sent_packets", 0) < 1):
            tcp_flags_bad.append("%s: %r" % (label, m))
loop_bad = []
for label, kw in expected:
    if ipaddress.ip_address(nw.norm_ip(kw["saddr"])).is_loopback:
        for c in main.find_closed(kw["typ"], kw["saddr"], kw["sport"], kw["daddr"], kw["dport"]):
            if c.get("intra_host") is not True:
                loop_bad.append("%s: intra_host %r" % (label, c.get("intra_host")))
tap.ok(not loop_bad, "loopback connections are marked intra_host", "\n".join(loop_bad))
tap.ok(not tcp_flags_bad, "closed TCP conns: established 1, closed 1, packets > 0; "
       "UDP echo conns: datagrams sent == received", "\n".join(tcp_flags_bad))

srv_rtt = [c for (label, kw) in expected if label == "nginx sendfile v4 server"
           for c in main.find_closed("tcp", kw["saddr"], kw["sport"], kw["daddr"], kw["dport"])]
tap.ok(srv_rtt and all(c.get("rtt_us", 0) > 0 for c in srv_rtt),
       "nginx server conn (1 MiB sent over veth) has an RTT", [nw.fmt_conn(c) + " rtt=%s" % c.get("rtt_us") for c in srv_rtt])

sec_q = [c for k, c in main.closed.items() if k not in main.seen_live and c["last"] != c["monotonic"]]
tap.ok(not sec_q, "closed records for connections never seen live: delta == monotonic",
       "\n".join(nw.fmt_conn(c) + " last=%r" % c["last"] for c in sec_q))

dups = {k: n for k, n in main.closed_seen.items() if n != 1}
tap.ok(not dups, "main client saw each closed connection exactly once over %d queries"
       % len(main.queries), dups)

# only this test's own connections: other traffic on the host (other tests running at the
# same time) may reuse a tuple within one answer, and such entries are merged into one
own = {(t, nw.norm_ip(sa), int(sp), nw.norm_ip(da), int(dp)) for (t, sa, sp, da, dp) in wanted}
closed_keys = set(k for k in main.closed if k[1:] in own)
again = [c for c in main.query() if ((int(c["cookie"]),) + nw.conn_tuple(c)) in closed_keys]
tap.ok(not again, "next query by the main client repeats none of them",
       "\n".join(nw.fmt_conn(c) for c in again))

# --- the second client, registered before the traffic, gets its own copy ------------
sec1 = second.query()
sec_seen = [k for k in closed_keys if second.closed_seen.get(k) == 1]
tap.ok(len(sec_seen) == len(closed_keys),
       "second client's first query has every closed connection once (%d/%d)"
       % (len(sec_seen), len(closed_keys)),
       "missing: %r" % sorted(closed_keys - set(sec_seen))[:10])
sec2 = second.query()
rep = [c for c in sec2 if ((int(c["cookie"]),) + nw.conn_tuple(c)) in closed_keys]
tap.ok(not rep, "second client's next query repeats none of them", "\n".join(nw.fmt_conn(c) for c in rep))

# --- deltas on a live connection, per client --------------------------------------------
try:
    da = nw.Collector(d, "nwt-delta-a-%d" % os.getpid())
    db = nw.Collector(d, "nwt-delta-b-%d" % os.getpid())
    da.query()
    db.query()
    srv = nw.helper("tcp_xfer", "server", "--bind", "127.0.0.1", "--send", 3000, "--recv", 1000,
                    "--rounds", 2, "--hold", stdin=True)
    lis = srv.json()
    cli = nw.helper("tcp_xfer", "client", "--connect", "127.0.0.1", "--port", lis["port"],
                    "--send", 1000, "--recv", 3000, "--rounds", 2, "--hold", stdin=True)
    c1, s1 = cli.json(), srv.json()
    key = ("tcp", "127.0.0.1", c1["lport"], "127.0.0.1", lis["port"])

    def live(conns):
        return [c for c in conns if nw.conn_tuple(c) == key]

    def counters(c, which):
        return (c[which]["sent_bytes"], c[which]["recv_bytes"]) if c else None

    q1 = live(da.query())
    tap.ok(len(q1) == 1 and not q1[0]["closed"] and counters(q1[0], "monotonic") == (1000, 3000)
           and counters(q1[0], "last") == (1000, 3000),
           "client A: live conn, monotonic 1000/3000, delta 1000/3000",
           [(c["closed"], c["monotonic"], c["last"]) for c in q1])
    q2 = live(da.query())
    tap.ok(len(q2) == 0,
           "client A again, no traffic: left out (reported before, delta 0/0)",
           [(c["monotonic"], c["last"]) for c in q2])
    cli.send()
    srv.send()
    c2, s2 = cli.json(), srv.json()
    q3 = live(da.query())
    tap.ok(len(q3) == 1 and counters(q3[0], "monotonic") == (2000, 6000)
           and counters(q3[0], "last") == (1000, 3000),
           "client A after a second round: monotonic 2000/6000, delta 1000/3000",
           [(c["monotonic"], c["last"]) for c in q3])
    b1 = live(db.query())
    tap.ok(len(b1) == 1 and counters(b1[0], "monotonic") == (2000, 6000)
           and counters(b1[0], "last") == (2000, 6000),
           "client B (first query since registering): its own delta 2000/6000",
           [(c["monotonic"], c["last"]) for c in b1])
    cli.send()
    srv.send()
    cli.wait()
    srv.wait()
    miss_a = da.wait_closed([key], 10)
    miss_b = db.wait_closed([key], 10)
    ca, cb = da.find_closed(*key), db.find_closed(*key)
    tap.ok(not miss_a and not miss_b and len(ca) == 1 and len(cb) == 1
           and counters(ca[0], "monotonic") == (2000, 6000)
           and counters(cb[0], "monotonic") == (2000, 6000)
           and counters(ca[0], "last") == (0, 0) and counters(cb[0], "last") == (0, 0),
           "after close both clients get one closed record, monotonic 2000/6000, delta 0/0",
           [(c["monotonic"], c["last"]) for c in ca + cb])
except Exception as e:
    tap.ok(False, "live-connection delta scenario ran", e)

rc = d.stop()
tap.eq(rc, 0, "netwarden exits 0 on SIGTERM")
tap.done()
