#!/usr/bin/python3
"""The worker's confinement as the kernel reports it: non-root uid/gid, no
capabilities (effective, permitted, bounding, ambient), no_new_privs, seccomp
filter mode, non-dumpable, its own pid/mount/net/ipc/uts namespaces (pid 1 in
its pid namespace), an empty read-only root, no network interface but a down
loopback, rlimits, Landlock, no inherited file descriptors; the loader after
setup (six capabilities, no_new_privs, its own seccomp filter); and with
--test-hooks a forbidden syscall (SIGUSR2) kills the worker by SIGSYS, the
kernel's audit log says so, the loader says so and starts a new worker that
serves again, confined the same way."""
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nwtest as nw  # noqa: E402

tap = nw.Tap()
nw.require_root(tap)
nw.require_binaries(tap, "tcp_xfer")

try:
    d = nw.Daemon("--test-hooks")
except Exception as e:
    tap.bail("start netwarden --test-hooks: %s" % e)

ready_pid = int(d.ready_line.split("worker pid ")[1].split(",")[0])
wpid = d.worker_pid()
tap.eq(wpid, ready_pid, "stats worker_pid matches the loader's ready line")


LOADER_CAPS = 0x2041e0  # sys_admin setuid setgid setpcap kill ipc_lock (privileged/lockdown.c)


def proc_limits(pid):
    """/proc/PID/limits as {name: (soft, hard)}."""
    out = {}
    with open("/proc/%d/limits" % pid) as f:
        next(f)
        for line in f:
            m = re.match(r"^(.+?)\s{2,}(\S+)\s+(\S+)", line)
            if m:
                out[m.group(1).strip()] = (m.group(2), m.group(3))
    return out


def check_namespaces(pid, what):
    st = nw.proc_status(pid)
    nspid = st.get("NSpid", "").split()
    tap.ok(len(nspid) == 2 and nspid[0] == str(pid) and nspid[1] == "1",
           "%s: pid 1 of its own pid namespace (NSpid %s)" % (what, " ".join(nspid)), st.get("NSpid"))
    for ns in ("pid", "mnt", "net", "ipc", "uts"):
        mine = os.readlink("/proc/%d/ns/%s" % (pid, ns))
        loader = os.readlink("/proc/%d/ns/%s" % (d.p.pid, ns))
        tap.ok(mine != loader, "%s: %s namespace differs from the loader's (%s, loader %s)"
               % (what, ns, mine, loader))
    root = "/proc/%d/root" % pid
    try:
        entries = os.listdir(root)
        sv = os.statvfs(root)
    except OSError as e:
        return tap.ok(False, "%s: its root is readable through %s" % (what, root), e)
    tap.eq(entries, [], "%s: / is empty" % what)
    tap.ok(sv.f_flag & os.ST_RDONLY and sv.f_flag & os.ST_NOEXEC,
           "%s: / is read-only and noexec (statvfs flags 0x%x)" % (what, sv.f_flag))
    with open("/proc/%d/mountinfo" % pid) as f:
        mounts = f.read().splitlines()
    tap.ok(len(mounts) == 1 and " / / ro," in mounts[0] and " tmpfs " in mounts[0],
           "%s: one mount, a read-only tmpfs at / (%s)" % (what, mounts), mounts)
    with open("/proc/%d/net/dev" % pid) as f:
        ifaces = [l.split(":")[0].strip() for l in f.read().splitlines()[2:]]
    tap.eq(ifaces, ["lo"], "%s: no network interface but loopback" % what)
    r = nw.run(["nsenter", "-t", str(pid), "-n", "ip", "-o", "link", "show", "lo"], check=False)
    tap.ok(r.returncode == 0 and "state DOWN" in r.stdout and "UP" not in r.stdout.split(">")[0],
           "%s: loopback is down" % what, r.stdout + r.stderr)
    # an accept() through the passed socket still works from the empty netns
    tap.ok(d.ctl("stats").returncode == 0, "%s: RPC clients are still accepted" % what)


def check_limits(pid, what):
    lim = proc_limits(pid)
    for name in ("Max processes", "Max file size", "Max locked memory", "Max core file size"):
        tap.eq(lim.get(name), ("0", "0"), "%s: %s is 0" % (what, name))
    nofile = lim.get("Max open files", ("?", "?"))
    tap.ok(nofile[0] == nofile[1] and nofile[0].isdigit() and 16 < int(nofile[0]) <= 512,
           "%s: Max open files is what it needs (%s)" % (what, nofile[0]), lim)
    tap.eq(os.stat("/proc/%d/status" % pid).st_uid, 0,
           "%s: non-dumpable (its /proc files belong to root, not to its uid)" % what)


def check_loader():
    st = nw.proc_status(d.p.pid)
    tap.eq(st.get("Seccomp"), "2", "loader: Seccomp 2 (filter) after setup")
    tap.eq(st.get("NoNewPrivs"), "1", "loader: NoNewPrivs 1")
    for cap in ("CapEff", "CapPrm", "CapBnd"):
        tap.eq(int(st.get(cap, "0"), 16), LOADER_CAPS,
               "loader: %s is sys_admin setuid setgid setpcap kill ipc_lock (0x%x)" % (cap, LOADER_CAPS))
    tap.eq(int(st.get("CapAmb", "1"), 16), 0, "loader: CapAmb 0")
    m = d.wait_log(r"netwarden: supervise phase: .*seccomp allowlist of (\d+) syscalls \((\d+) with", 5)
    tap.ok(m, "loader: logs its supervise-phase allowlist", d.log()[-1000:])
    if m:
        tap.diag("loader supervise-phase allowlist: %s syscalls, %s with argument checks"
                 % (m.group(1), m.group(2)))


def check_confined(pid, what):
    try:
        st = nw.proc_status(pid)
    except OSError as e:
        return tap.ok(False, "%s: /proc/%d/status readable" % (what, pid), e)
    uids = st.get("Uid", "").split()
    gids = st.get("Gid", "").split()
    tap.ok(len(uids) == 4 and all(u != "0" for u in uids),
           "%s: real/effective/saved/fs uid all non-root (%s)" % (what, " ".join(uids)), st.get("Uid"))
    tap.ok(len(gids) == 4 and all(g != "0" for g in gids),
           "%s: real/effective/saved/fs gid all non-root (%s)" % (what, " ".join(gids)), st.get("Gid"))
    tap.eq(st.get("Groups", "").strip(), "", "%s: no supplementary groups" % what)
    for cap in ("CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb"):
        tap.ok(int(st.get(cap, "1"), 16) == 0, "%s: %s is 0" % (what, cap), st.get(cap))
    tap.eq(st.get("NoNewPrivs"), "1", "%s: NoNewPrivs 1" % what)
    tap.eq(st.get("Seccomp"), "2", "%s: Seccomp 2 (filter)" % what)
    tap.eq(int(st.get("PPid", "-1")), d.p.pid, "%s: child of the loader" % what)
    fds = nw.worker_fds(pid)
    loader_fds = nw.worker_fds(d.p.pid)
    tap.eq(fds.get(0), "/dev/null", "%s: stdin is /dev/null" % what)
    tap.ok(fds.get(1) == fds.get(2) and fds.get(1, "").startswith("pipe:")
           and fds.get(1) in loader_fds.values(),
           "%s: stdout and stderr are the loader's log pipe (%s), not a file" % (what, fds.get(2)), fds)
    # fd 3 may briefly be an RPC client the worker has not seen close yet
    tap.ok(nw.wait_for(lambda: 3 not in nw.worker_fds(pid), 3),
           "%s: the control socket (fd 3) is closed after confinement" % what, fds)
    files = {fd: t for fd, t in fds.items() if fd > 2 and t.startswith("/")}
    kinds = sorted(set(re.sub(r"\[?\d+\]?$", "", t) for fd, t in fds.items() if fd > 2))
    tap.ok(not files, "%s: no file or directory fds beyond stdio (%d fds: %s)"
           % (what, len(fds), ", ".join(kinds)), files)
    table = nw.fd_table(pid)
    tap.diag("%s fds:" % what)
    for fd, kind, detail, access in table:
        tap.diag("  %3d %-4s %-26s %s" % (fd, access, kind, detail))
    progs = [r for r in table if r[1] in ("anon_inode:bpf-prog", "anon_inode:bpf_link",
                                          "anon_inode:bpf-link")]
    tap.ok(not progs, "%s: holds no BPF program or link fd" % what, progs)
    arrays = [r for r in table if r[2].startswith("array ") or r[2].startswith("type 6 ")]
    tap.ok(len(arrays) >= 2 and all(r[3] == "r" for r in arrays),
           "%s: every array map fd (telemetry, supervisor counters, ...) is read-only (%d)"
           % (what, len(arrays)), arrays)
    tap.ok(any(t.startswith("socket:") for t in fds.values())
           and any(t == "anon_inode:bpf-map" for t in fds.values()),
           "%s: holds the passed sockets and BPF map fds" % what, fds)
    check_namespaces(pid, what)
    check_limits(pid, what)


check_loader()
check_confined(wpid, "worker")
m = d.wait_log(r"netwarden-worker: confined: uid (\d+) gid (\d+), no capabilities, no_new_privs, "
               r"seccomp allowlist of (\d+) syscalls \((\d+) argument-checked, enforce\); pid 1 in new "
               r"pid/mount/net/ipc/uts namespaces, empty read-only root, nofile (\d+), "
               r"nproc/fsize/memlock/core 0, non-dumpable, Landlock ABI (\d+)", 5)
tap.ok(m, "the worker says it is confined (%s)" % (m.group(0) if m else ""), d.log()[-1000:])
if m:
    tap.diag("seccomp allowlist: %s syscalls (%s argument-checked); worker uid %s gid %s; Landlock ABI %s"
             % (m.group(3), m.group(4), m.group(1), m.group(2), m.group(6)))
# Landlock, tried between its ruleset and the seccomp filter (which would
# kill these calls first): the root directory itself, a TCP bind and connect
abi = int(m.group(6)) if m else 0
m = d.wait_log(r"test hook: before seccomp, Landlock ABI (\d+): open\(\"/\"\): ([^;]+); "
               r"tcp bind: ([^;]+); tcp connect: (.+)", 5)
if abi == 0:
    tap.ok(True, "# SKIP Landlock not available in this kernel")
else:
    tap.ok(m and m.group(2) == "Permission denied",
           "Landlock: open(\"/\") is denied (EACCES) in the worker", d.log()[-1500:])
    if abi >= 4:
        tap.ok(m and m.group(3) == "Permission denied" and m.group(4).strip() == "Permission denied",
               "Landlock ABI %d: TCP bind and connect are denied (EACCES)" % abi, d.log()[-1500:])
stats = d.stats()
tap.ok(stats.get("landlock_abi") == abi and stats.get("worker_restarts") == 0
       and stats.get("seccomp_audit") == 0,
       "stats: landlock_abi %s, worker_restarts %s, seccomp_audit %s"
       % (stats.get("landlock_abi"), stats.get("worker_restarts"), stats.get("seccomp_audit")))
nw.tcp_exchange(tap, d, "first worker", "127.0.0.1", 4096, 8192)

# --- the forbidden syscall ---------------------------------------------------------
os.kill(wpid, signal.SIGUSR2)
m = d.wait_log(r"netwarden: worker pid %d exited: [^\n]*" % wpid, 10)
line = m.group(0) if m else ""
tap.ok(m, "loader logs the worker's death", d.log()[-1500:])
tap.ok(any(s in line for s in ("SIGSYS", "Bad system call", "signal 31")),
       "the worker died by SIGSYS (seccomp kill): %r" % line.strip(), d.log()[-1500:])
audit = nw.wait_for(lambda: [l for l in nw.kmsg_seccomp(wpid)], 5)
tap.ok(audit and any(a["syscall"] == 41 and a["code"] == "0x80000000" for a in audit),
       "the kernel's audit log has the kill of pid %d: socket() (syscall 41), code 0x80000000" % wpid,
       audit)
tap.ok(nw.wait_for(lambda: not os.path.exists("/proc/%d" % wpid), 5),
       "the dead worker was reaped (no zombie)")


def new_worker():
    try:
        p = d.worker_pid()
    except Exception:
        return None
    return p if p != wpid else None


wpid2 = nw.wait_for(new_worker, 20, 0.2)
tap.ok(wpid2, "the loader started a new worker (pid %s) that answers stats" % wpid2, d.log()[-1500:])
tap.ok(d.p.poll() is None, "the loader is still running")
if wpid2:
    check_confined(wpid2, "restarted worker")
    st = nw.proc_status(wpid2)
    tap.eq(st.get("Seccomp_filters"), "2",
           "restarted worker: under the loader's filter and its own (Seccomp_filters 2)")
    stats = d.stats()
    tap.eq(stats.get("worker_restarts"), 1, "stats: worker_restarts 1 after the restart")
    nw.tcp_exchange(tap, d, "restarted worker", "::1", 5000, 70000)

rc = d.stop()
tap.eq(rc, 0, "netwarden exits 0 on SIGTERM")
last = wpid2 or wpid
# pid 1 of a namespace ignores signals it has no handler for: the worker blocks
# SIGTERM and reads it from a signalfd, so it still stops at once, cleanly
tap.ok(d.log_lines(r"netwarden: worker pid %d stopped: exited with status 0" % last)
       and d.log_lines(r"netwarden-worker: SIGTERM: exiting")
       and not d.log_lines(r"did not stop within"),
       "the worker (pid 1 of its namespace) stops on the loader's SIGTERM and exits 0", d.log()[-800:])
tap.ok(nw.wait_for(lambda: not os.path.exists("/proc/%d" % last), 5),
       "the worker (pid %d) is gone after the loader stopped" % last)

# --- without --test-hooks, SIGUSR2 is not a way to kill the worker ------------------------
try:
    d2 = nw.Daemon()
    w = d2.worker_pid()
    os.kill(w, signal.SIGUSR2)
    time.sleep(1.0)
    tap.ok(not d2.log_lines(r"worker pid %d exited: .*(SIGSYS|Bad system call|signal 31)" % w),
           "without --test-hooks SIGUSR2 does not make the worker run a forbidden syscall",
           d2.log()[-800:])
    st = nw.proc_status(w) if os.path.exists("/proc/%d" % w) else {}
    tap.ok(st and not st.get("State", "").startswith("Z") and d2.worker_pid() == w,
           "without --test-hooks the worker survives SIGUSR2", d2.log()[-800:])
    tap.eq(d2.stop(), 0, "netwarden (no test hooks) exits 0 on SIGTERM")
except Exception as e:
    tap.ok(False, "netwarden without --test-hooks runs", e)

tap.done()
