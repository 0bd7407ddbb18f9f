#!/usr/bin/python3
"""The worker's confinement as the kernel reports it: non-root uid/gid, no
capabilities (effective, permitted, bounding, ambient), no_new_privs, seccomp
filter mode, no inherited file descriptors; and with --test-hooks a forbidden
syscall (SIGUSR2) kills it by SIGSYS, the loader says so and starts a new
worker that serves again."""
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
    stdio = {fd: t for fd, t in fds.items() if fd <= 2 and t != loader_fds.get(fd) and t != "/dev/null"}
    tap.ok(not stdio, "%s: fds 0-2 are the loader's own stdio or /dev/null" % what, stdio)
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
    tel = [r for r in table if r[2].startswith("array ")]
    tap.ok(tel and all(r[3] == "r" for r in tel),
           "%s: every array map fd (telemetry, DNS capture counters) is read-only" % what, tel)
    tap.ok(any(t.startswith("socket:") for t in fds.values())
           and any(t == "anon_inode:bpf-map" for t in fds.values()),
           "%s: holds the passed sockets and BPF map fds" % what, fds)


check_confined(wpid, "worker")
m = d.wait_log(r"netwarden-worker: confined: uid (\d+) gid (\d+), no capabilities, no_new_privs, "
               r"seccomp allowlist of (\d+) syscalls", 5)
tap.ok(m, "the worker says it is confined (%s)" % (m.group(0) if m else ""), d.log()[-1000:])
if m:
    tap.diag("seccomp allowlist: %s syscalls; worker uid %s gid %s" % (m.group(3), m.group(1), m.group(2)))
nw.tcp_exchange(tap, d, "first worker", "127.0.0.1", 4096, 8192)

# --- the forbidden syscall ---------------------------------------------------------
os.kill(wpid, signal.SIGUSR2)
m = d.wait_log(r"netwarden: worker pid %d exited: [^\n]*" % wpid, 10)
line = m.group(0) if m else ""
tap.ok(m, "loader logs the worker's death", d.log()[-1500:])
tap.ok(any(s in line for s in ("SIGSYS", "Bad system call", "signal 31")),
       "the worker died by SIGSYS (seccomp kill): %r" % line.strip(), d.log()[-1500:])
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
    nw.tcp_exchange(tap, d, "restarted worker", "::1", 5000, 70000)

rc = d.stop()
tap.eq(rc, 0, "netwarden exits 0 on SIGTERM")
last = wpid2 or wpid
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
