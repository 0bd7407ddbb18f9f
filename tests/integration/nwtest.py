"""nwtest: small helpers for netwarden's integration tests (Python 3 stdlib only).

Everything here runs as root against the real kernel. Every wait is bounded,
every resource created (processes, network namespaces, veth links, users,
groups, temp dirs) is registered for cleanup at exit, and names carry the
test's pid so a crashed run never collides with the next one.
"""
import atexit
import collections
import ipaddress
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, ".output")
NETWARDEN = os.path.join(OUT, "netwarden")
NETWARDENCTL = os.path.join(OUT, "netwardenctl")
HELPERS = os.path.join(OUT, "tests")
RUN_ID = "%d" % (os.getpid() % 100000)

_cleanups = []


def on_cleanup(fn, *args):
    """Run fn(*args) at exit (last registered runs first)."""
    _cleanups.append((fn, args))


def _run_cleanups():
    while _cleanups:
        fn, args = _cleanups.pop()
        try:
            fn(*args)
        except Exception as e:  # cleanup must go on
            sys.stderr.write("nwtest: cleanup %s failed: %s\n" % (getattr(fn, "__name__", fn), e))


atexit.register(_run_cleanups)


def _on_signal(sig, frame):
    sys.stderr.write("nwtest: signal %d, cleaning up\n" % sig)
    sys.exit(128 + sig)


signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGINT, _on_signal)


# --- TAP -----------------------------------------------------------------

class Tap:
    """TAP producer: ok/not ok lines, plan printed at the end, diagnostics as '# ...'."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, desc, diag=None):
        self.n += 1
        cond = bool(cond)
        if not cond:
            self.failed += 1
        print("%s %d - %s" % ("ok" if cond else "not ok", self.n, desc), flush=True)
        if not cond and diag is not None:
            self.diag(diag)
        return cond

    def eq(self, got, want, desc):
        return self.ok(got == want, desc, "got %r, expected %r" % (got, want))

    def diag(self, msg):
        for line in str(msg).splitlines() or [""]:
            print("# " + line, flush=True)

    def bail(self, msg):
        """Stop the script: counts as a failure."""
        self.ok(False, "bail out: " + msg)
        self.done()

    def done(self):
        print("1..%d" % self.n, flush=True)
        sys.exit(1 if self.failed else 0)


def require_root(tap):
    if os.geteuid() != 0:
        tap.bail("integration tests must run as root")


def require_binaries(tap, *names):
    for path in [NETWARDEN, NETWARDENCTL] + [os.path.join(HELPERS, n) for n in names]:
        if not os.access(path, os.X_OK):
            tap.bail("%s is missing: run make first" % path)


# --- small utilities -------------------------------------------------------

def wait_for(fn, timeout, interval=0.05):
    """Call fn() until it returns something truthy or timeout seconds pass; return last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def tmpdir(prefix="nwt-"):
    d = tempfile.mkdtemp(prefix=prefix)
    on_cleanup(shutil.rmtree, d, True)
    return d


def run(cmd, timeout=20, check=True, **kw):
    """subprocess.run with a timeout and captured text output."""
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise RuntimeError("%s exited %d: %s" % (" ".join(cmd), r.returncode, r.stderr.strip()))
    return r


def netns_inode(name=None, pid=None):
    """Inode of a named netns, of a process's netns, or of our own."""
    if name:
        return os.stat("/var/run/netns/%s" % name).st_ino
    return os.stat("/proc/%s/ns/net" % (pid or "self")).st_ino


def norm_ip(s):
    """Canonical text form of an address; IPv4-mapped IPv6 folded to IPv4."""
    a = ipaddress.ip_address(s)
    if a.version == 6 and a.ipv4_mapped:
        a = a.ipv4_mapped
    return str(a)


def family_of(addr):
    return "ipv%d" % ipaddress.ip_address(norm_ip(addr)).version


# --- child processes --------------------------------------------------------

class Proc:
    """A child whose stdout is read as JSON lines with bounded waits."""

    def __init__(self, cmd, netns=None, stdin=False, stderr_path=None, env=None):
        if netns:
            cmd = ["ip", "netns", "exec", netns] + list(cmd)
        self.cmd = cmd
        self.stderr_path = stderr_path
        errf = open(stderr_path, "ab") if stderr_path else subprocess.PIPE
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errf,
                                  stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                  env=env)
        if stderr_path:
            errf.close()
        self.pid = self.p.pid
        self._buf = b""
        on_cleanup(self.kill)

    def line(self, timeout=10):
        """Next stdout line (str), or None at EOF/timeout."""
        deadline = time.monotonic() + timeout
        fd = self.p.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                if self._buf:
                    break
                return None
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line.decode(errors="replace")

    def json(self, timeout=10):
        line = self.line(timeout)
        if line is None:
            raise RuntimeError("%s: no output within %ss (%s)" % (self.cmd[0:4], timeout, self.stderr()))
        return json.loads(line)

    def send(self, text="\n"):
        self.p.stdin.write(text.encode())
        self.p.stdin.flush()

    def wait(self, timeout=20):
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RuntimeError("%s did not exit within %ss" % (" ".join(self.cmd), timeout))

    def stderr(self):
        if self.stderr_path:
            try:
                with open(self.stderr_path, errors="replace") as f:
                    return f.read()[-2000:]
            except OSError:
                return ""
        if self.p.poll() is not None and self.p.stderr:
            return self.p.stderr.read().decode(errors="replace")[-2000:]
        return ""

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                pass


def helper(name, *args, netns=None, stdin=False):
    return Proc([os.path.join(HELPERS, name)] + [str(a) for a in args], netns=netns, stdin=stdin)


# --- the daemon --------------------------------------------------------------

class Daemon:
    """The real loader (.output/netwarden) with its RPC socket in a temp dir."""

    def __init__(self, *flags, sockdir=None, ready_timeout=30, expect_ready=True):
        self.dir = tmpdir("nwt-daemon-")
        os.chmod(self.dir, 0o755)
        self.sockdir = sockdir or os.path.join(self.dir, "run")
        self.socket = os.path.join(self.sockdir, "netwarden.sock")
        self.log_path = os.path.join(self.dir, "netwarden.log")
        self.flags = ["--rpc-socket=" + self.socket] + list(flags)
        self.stopped = False
        with open(self.log_path, "wb") as log:
            self.p = subprocess.Popen([NETWARDEN] + self.flags, stdin=subprocess.DEVNULL,
                                      stdout=log, stderr=subprocess.STDOUT)
        on_cleanup(self._kill)
        self.ready_line = None
        if expect_ready:
            self.wait_ready(ready_timeout)

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def log_lines(self, pattern):
        return [l for l in self.log().splitlines() if re.search(pattern, l)]

    def wait_ready(self, timeout):
        def check():
            if self.p.poll() is not None:
                return "exited"
            m = re.search(r"netwarden: ready: worker pid (\d+), rpc socket (\S+)", self.log())
            return m
        m = wait_for(check, timeout, 0.05)
        if not m or m == "exited":
            raise RuntimeError("netwarden %s not ready (exit %s); log:\n%s"
                               % (" ".join(self.flags), self.p.poll(), self.log()[-3000:]))
        self.ready_line = m.group(0)
        return int(m.group(1))

    def wait_log(self, pattern, timeout=10):
        return wait_for(lambda: re.search(pattern, self.log()), timeout, 0.05)

    def ctl(self, *args, client_id=None, json_out=True, user=None, socket=None, timeout=15):
        """Run netwardenctl; returns CompletedProcess (stdout/stderr text).
        user: (uid, gid, [groups]) to run it through setpriv."""
        cmd = [NETWARDENCTL, "--socket=" + (socket or self.socket)]
        if client_id:
            cmd.append("--client-id=" + client_id)
        if json_out:
            cmd.append("--json")
        cmd += list(args)
        if user:
            uid, gid, groups = user
            pre = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % gid]
            pre += ["--groups=" + ",".join(str(g) for g in groups)] if groups else ["--clear-groups"]
            cmd = pre + cmd
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)

    def _json(self, *args, **kw):
        r = self.ctl(*args, **kw)
        if r.returncode != 0:
            raise RuntimeError("netwardenctl %s exited %d: %s" % (" ".join(args), r.returncode,
                                                                   r.stderr.strip()))
        try:
            return json.loads(r.stdout)
        except ValueError as e:
            raise RuntimeError("netwardenctl %s printed bad JSON (%s): %r"
                               % (" ".join(args), e, r.stdout[:500]))

    def conns(self, client_id):
        return self._json("conns", client_id=client_id)

    def stats(self):
        return self._json("stats")

    def worker_pid(self):
        return int(self.stats()["worker_pid"])

    def stop(self, timeout=10):
        """SIGTERM, wait; returns the exit code (None if it had to be killed)."""
        self.stopped = True
        if self.p.poll() is not None:
            return self.p.returncode
        self.p.send_signal(signal.SIGTERM)
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self._kill()
            return None

    def _kill(self):
        if self.p.poll() is None:
            self.p.kill()
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                pass


def proc_status(pid):
    """/proc/PID/status as a dict of strings."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def libfuzzer(tap, name, fuzzer, seconds, corpus, artifacts):
    """Run a libFuzzer binary on corpus for `seconds` (bounded) and report:
    a crash, sanitizer report, timeout or leak fails (the reproducer is left
    in artifacts/ and named), and some inputs must have run."""
    cmd = [fuzzer, "-max_total_time=%d" % seconds, "-timeout=10", "-rss_limit_mb=2048",
           "-print_final_stats=1", "-artifact_prefix=" + artifacts + "/", corpus]
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=seconds + 120, text=True, errors="replace")
        out, rc = p.stdout, p.returncode
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        rc = -1
    stats = dict(re.findall(r"^stat::(\w+):\s+(\d+)", out, re.M))
    execs = int(stats.get("number_of_executed_units", 0))
    rate = int(stats.get("average_exec_per_sec", 0))
    crashed = rc != 0 or re.search(r"^==\d+==ERROR|^SUMMARY: |deadly signal|runtime error:", out, re.M)
    artifact = re.findall(r"Test unit written to (\S+)", out)
    tap.ok(not crashed, "%s: %d s of fuzzing without a crash or sanitizer report (exit %d)"
           % (name, seconds, rc),
           "\n".join(out.splitlines()[-40:] + ["reproducer: %s" % a for a in artifact]))
    tap.ok(execs > 0, "%s: executed %d inputs, %d/s, %s new corpus units"
           % (name, execs, rate, stats.get("new_units_added", "?")))
    tap.diag("%s: %d executions in %d s (%d exec/s), corpus %s" % (name, execs, seconds, rate, corpus))


def kmsg_seccomp(pid):
    """The kernel's seccomp audit records (type=1326) for pid, from dmesg:
    [{"syscall": int, "code": "0x...", "sig": int}]. Needs no auditd: the kernel
    logs kills always, and errno/log actions of filters loaded with the log flag."""
    r = subprocess.run(["dmesg"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                       timeout=10)
    out = []
    for line in r.stdout.splitlines():
        if "type=1326" not in line or not re.search(r"\bpid=%d\b" % pid, line):
            continue
        m = re.search(r"\bsig=(\d+).*\bsyscall=(\d+).*\bcode=(0x[0-9a-f]+)", line)
        if m:
            out.append({"sig": int(m.group(1)), "syscall": int(m.group(2)), "code": m.group(3)})
    return out


def kmsg_suppressed():
    """How many kernel audit lines printk's rate limit has dropped so far (dmesg
    "kauditd_printk_skb: N callbacks suppressed"): a record missing from dmesg
    while this grew was rate-limited, not absent."""
    r = subprocess.run(["dmesg"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                       timeout=10)
    return sum(int(m.group(1)) for m in re.finditer(r"kauditd_printk_skb: (\d+) callbacks suppressed",
                                                    r.stdout))


def sigqueue(pid, sig, value):
    """sigqueue(3): a signal with an int value (the worker's test hooks read it)."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)

    class Sigval(ctypes.Union):
        _fields_ = [("sival_int", ctypes.c_int), ("sival_ptr", ctypes.c_void_p)]

    v = Sigval()
    v.sival_int = value
    if libc.sigqueue(pid, sig, v) != 0:
        raise OSError(ctypes.get_errno(), "sigqueue(%d, %d, %d)" % (pid, sig, value))


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


# --- test hosts: netns + veth --------------------------------------------------

def _sweep_stale_netns():
    """Delete test netns left by runs whose process is gone (names nwt-X-PID)."""
    try:
        names = os.listdir("/var/run/netns")
    except OSError:
        return
    for n in names:
        m = re.match(r"^nwt-[a-z]-(\d+)$", n)
        if m and not pid_alive(int(m.group(1))) and int(m.group(1)) != os.getpid():
            subprocess.run(["ip", "netns", "del", n], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=10)


class TestHost:
    """A network namespace reached over a veth pair.

    Host side 198.18.N.1/24 and 2001:db8:N::1/64, namespace side 198.18.N.2/24 and
    2001:db8:N::2/64 (nodad), lo up in the namespace."""

    def __init__(self, letter, n):
        _sweep_stale_netns()
        self.name = "nwt-%s-%d" % (letter, os.getpid())
        self.host_if = "nwh%s%s" % (letter, RUN_ID)
        self.ns_if = "nwn%s%s" % (letter, RUN_ID)
        self.host_v4, self.ns_v4 = "198.18.%d.1" % n, "198.18.%d.2" % n
        self.host_v6, self.ns_v6 = "2001:db8:%d::1" % n, "2001:db8:%d::2" % n
        run(["ip", "netns", "add", self.name])
        on_cleanup(self.destroy)
        self.inode = netns_inode(self.name)
        nx = ["ip", "-n", self.name]
        for cmd in (
            ["ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if],
            ["ip", "link", "set", self.ns_if, "netns", self.name],
            ["ip", "addr", "add", self.host_v4 + "/24", "dev", self.host_if],
            ["ip", "-6", "addr", "add", self.host_v6 + "/64", "dev", self.host_if, "nodad"],
            ["ip", "link", "set", self.host_if, "up"],
            nx + ["link", "set", "lo", "up"],
            nx + ["addr", "add", self.ns_v4 + "/24", "dev", self.ns_if],
            nx + ["-6", "addr", "add", self.ns_v6 + "/64", "dev", self.ns_if, "nodad"],
            nx + ["link", "set", self.ns_if, "up"],
        ):
            run(cmd)
        def carrier():
            with open("/sys/class/net/%s/operstate" % self.host_if) as f:
                return f.read().strip() == "up"
        if not wait_for(carrier, 5):
            raise RuntimeError("veth %s of test host %s did not come up" % (self.host_if, self.name))

    def destroy(self):
        subprocess.run(["ip", "link", "del", self.host_if], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=10)
        subprocess.run(["ip", "netns", "del", self.name], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=10)


# --- users and groups --------------------------------------------------------------

def add_group(name):
    run(["groupadd", name])
    on_cleanup(lambda: subprocess.run(["groupdel", name], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, timeout=10))
    return int(run(["getent", "group", name]).stdout.split(":")[2])


def add_user(name, group):
    run(["useradd", "-M", "-N", "-g", group, "-s", "/usr/sbin/nologin", "-d", "/nonexistent", name])
    on_cleanup(lambda: subprocess.run(["userdel", name], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, timeout=10))
    return int(run(["id", "-u", name]).stdout.strip())


# --- connections as netwardenctl reports them ------------------------------------------

def conn_tuple(c):
    return (c["type"], norm_ip(c["saddr"]), int(c["sport"]), norm_ip(c["daddr"]), int(c["dport"]))


class Collector:
    """Accumulates what one client id sees across queries.

    closed_seen counts, per (cookie, tuple), how often a closed record came back:
    the contract is exactly once."""

    def __init__(self, daemon, client_id):
        self.d = daemon
        self.id = client_id
        self.queries = []
        self.closed = {}
        self.closed_seen = collections.Counter()
        self.active = {}
        self.seen_live = set()

    def query(self):
        r = self.d.conns(self.id)
        conns = r.get("conns", [])
        self.queries.append(conns)
        for c in conns:
            k = (int(c["cookie"]),) + conn_tuple(c)
            if c.get("closed"):
                self.closed_seen[k] += 1
                self.closed[k] = c
                self.active.pop(k, None)
            else:
                self.active[k] = c
                self.seen_live.add(k)
        return conns

    def find_closed(self, typ, saddr, sport, daddr, dport):
        want = (typ, norm_ip(saddr), int(sport), norm_ip(daddr), int(dport))
        return [c for k, c in self.closed.items() if k[1:] == want]

    def wait_closed(self, wanted, timeout=10):
        """wanted: list of (type, saddr, sport, daddr, dport). Query until each one has a
        closed record or timeout; returns the list of missing tuples."""
        def missing():
            return [w for w in wanted if not self.find_closed(*w)]

        deadline = time.monotonic() + timeout
        while True:
            self.query()
            m = missing()
            if not m or time.monotonic() >= deadline:
                return m
            time.sleep(0.2)


def fmt_conn(c):
    return "%s %s %s:%s -> %s:%s pid=%s netns=%s dir=%s closed=%s sent=%s recv=%s" % (
        c.get("type"), c.get("family"), c.get("saddr"), c.get("sport"), c.get("daddr"),
        c.get("dport"), c.get("pid"), c.get("netns"), c.get("direction"), c.get("closed"),
        c.get("monotonic", {}).get("sent_bytes"), c.get("monotonic", {}).get("recv_bytes"))


def check_conn(tap, c, label, *, typ, saddr, sport, daddr, dport, pid, direction, netns,
               sent, recv, cookie=None):
    """One TAP line per connection: every field compared, all mismatches in the diagnostics."""
    if c is None:
        return tap.ok(False, "%s: reported" % label,
                      "no %s connection %s:%s -> %s:%s" % (typ, saddr, sport, daddr, dport))
    m = c.get("monotonic", {})
    want = {
        "type": typ, "family": family_of(saddr), "saddr": norm_ip(saddr), "sport": int(sport),
        "daddr": norm_ip(daddr), "dport": int(dport), "pid": int(pid), "direction": direction,
        "netns": int(netns), "sent_bytes": int(sent), "recv_bytes": int(recv),
    }
    got = {
        "type": c.get("type"), "family": c.get("family"), "saddr": norm_ip(c["saddr"]),
        "sport": int(c["sport"]), "daddr": norm_ip(c["daddr"]), "dport": int(c["dport"]),
        "pid": int(c.get("pid", -1)), "direction": c.get("direction"),
        "netns": int(c.get("netns", -1)), "sent_bytes": int(m.get("sent_bytes", -1)),
        "recv_bytes": int(m.get("recv_bytes", -1)),
    }
    if cookie is not None:
        want["cookie"] = int(cookie)
        got["cookie"] = int(c.get("cookie", -1))
    bad = ["%s: got %r, expected %r" % (k, got[k], want[k]) for k in want if got[k] != want[k]]
    return tap.ok(not bad, "%s: tuple, pid, direction, netns, bytes (sent %d, recv %d)"
                  % (label, sent, recv), "\n".join(bad))


def tcp_exchange(tap, daemon, label, addr, c2s, s2c, client_id=None, timeout=10):
    """Run tcp_xfer server+client on addr (loopback), wait for both closed records
    through a fresh client id, and check tuple/pid/direction/netns/bytes for each side.
    Returns True when both checks passed."""
    col = Collector(daemon, client_id or "nwt-x-%d-%d" % (os.getpid(), time.monotonic_ns()))
    col.query()
    srv = helper("tcp_xfer", "server", "--bind", addr, "--send", s2c, "--recv", c2s)
    lis = srv.json()
    cli = helper("tcp_xfer", "client", "--connect", addr, "--port", lis["port"], "--send", c2s,
                 "--recv", s2c)
    cd, sd = cli.json(), srv.json()
    if cli.wait() != 0 or srv.wait() != 0:
        return tap.ok(False, "%s: tcp_xfer ran" % label, cli.stderr() + srv.stderr())
    ns = netns_inode()
    sides = [
        ("client", dict(typ="tcp", saddr=cd["laddr"], sport=cd["lport"], daddr=cd["raddr"],
                        dport=cd["rport"], pid=cd["pid"], direction="outgoing", netns=ns,
                        sent=cd["sent"], recv=cd["recv"], cookie=cd["cookie"])),
        ("server", dict(typ="tcp", saddr=sd["laddr"], sport=sd["lport"], daddr=sd["raddr"],
                        dport=sd["rport"], pid=sd["pid"], direction="incoming", netns=ns,
                        sent=sd["sent"], recv=sd["recv"], cookie=sd["cookie"])),
    ]
    col.wait_closed([(kw["typ"], kw["saddr"], kw["sport"], kw["daddr"], kw["dport"])
                     for _, kw in sides], timeout)
    good = True
    for side, kw in sides:
        found = col.find_closed(kw["typ"], kw["saddr"], kw["sport"], kw["daddr"], kw["dport"])
        good &= check_conn(tap, found[0] if found else None, "%s %s" % (label, side), **kw)
    return good


def worker_fds(pid):
    """{fd: readlink target} of a process."""
    out = {}
    base = "/proc/%d/fd" % pid
    for fd in os.listdir(base):
        try:
            out[int(fd)] = os.readlink(os.path.join(base, fd))
        except OSError:
            pass
    return out


BPF_MAP_TYPES = {1: "hash", 2: "array", 4: "perf_event_array", 27: "ringbuf"}


def fd_table(pid):
    """[(fd, kind, detail, access)] for a process: kind is the readlink target with
    inode numbers stripped; for BPF maps detail names the map type; access is
    r, w or rw from the open flags."""
    rows = []
    for fd, target in sorted(worker_fds(pid).items()):
        info = {}
        try:
            with open("/proc/%d/fdinfo/%d" % (pid, fd)) as f:
                for line in f:
                    k, _, v = line.partition(":")
                    info[k.strip()] = v.strip()
        except OSError:
            pass
        acc = int(info.get("flags", "0"), 8) & 3
        access = {0: "r", 1: "w", 2: "rw"}.get(acc, "?")
        kind = re.sub(r"\[?\d+\]?$", "", target)
        detail = ""
        if target == "anon_inode:bpf-map":
            t = int(info.get("map_type", "-1"))
            detail = "%s max_entries=%s" % (BPF_MAP_TYPES.get(t, "type %d" % t), info.get("max_entries"))
        rows.append((fd, kind, detail, access))
    return rows
