#!/usr/bin/python3
"""What a taken-over worker cannot do, table-driven. With --test-hooks, SIGUSR2
sent with a sigqueue value makes the running, fully confined worker attempt one
forbidden action (unprivileged/testhooks.h). In enforce mode (the default) every
action the seccomp filter does not allow kills the worker by SIGSYS and the
kernel's audit log (dmesg, no auditd) has the record; in --seccomp=audit mode the
same action fails with EPERM, the worker lives on, and the loader logs the
syscall by name with its arguments and counts it (netwardenctl stats:
seccomp_denials). Actions the filter allows but the kernel refuses (a write
through a read-only map fd, send on a listening socket) fail the same way in
both modes. Last, the real worker binary rejects malformed fd manifests."""
import os
import platform
import re
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nwtest as nw  # noqa: E402

tap = nw.Tap()
nw.require_root(tap)

KILL, EPERM, ENOTCONN = "kill", 1, 107
X86_64 = platform.machine() == "x86_64"
# value, hook name (testhooks.c), syscall as libseccomp names it, its x86_64 number,
# enforce outcome, audit outcome (errno; audited: the loader logs it)
HOOKS = [
    (0, "socket", "socket", 41, KILL, (EPERM, True)),
    (1, "open", "openat", 257, KILL, (EPERM, True)),
    (2, "bpf-map-create", "bpf", 321, KILL, (EPERM, True)),
    (3, "bpf-prog-load", "bpf", 321, KILL, (EPERM, True)),
    (4, "bpf-map-update", "bpf", 321, KILL, (EPERM, True)),
    (5, "bpf-delete-readonly-map", None, None, EPERM, (EPERM, False)),
    (6, "ptrace", "ptrace", 101, KILL, (EPERM, True)),
    (7, "execve", "execve", 59, KILL, (EPERM, True)),
    (8, "sendto-address", "sendto", 44, KILL, (EPERM, True)),
    (9, "send-listening-socket", None, None, ENOTCONN, (ENOTCONN, False)),
    (10, "sendmsg", "sendmsg", 46, KILL, (EPERM, False)),
    (11, "io_uring_setup", "io_uring_setup", 425, KILL, (EPERM, True)),
    (12, "mmap-exec", "mmap", 9, KILL, (EPERM, True)),
    (13, "mmap-shared-map", "mmap", 9, KILL, (EPERM, True)),
    (14, "connect", "connect", 42, KILL, (EPERM, True)),
    (15, "fork", "clone", 56, KILL, (EPERM, True)),
    (16, "unshare", "unshare", 272, KILL, (EPERM, True)),
    (17, "kill", "kill", 62, KILL, (EPERM, True)),
    (18, "getsockopt-other", "getsockopt", 55, KILL, (EPERM, True)),
]
why = {5: "the map fd is read-only (BPF_F_RDONLY): the kernel refuses the delete",
       9: "a listening socket cannot send",
       10: "audit mode: after the listener handoff a second filter makes sendmsg fail"}


def hook_result(d, value, name, timeout=5):
    m = d.wait_log(r"netwarden-worker: test hook %d \(%s\): returned (-?\d+), errno (\d+)"
                   % (value, re.escape(name)), timeout)
    return (int(m.group(1)), int(m.group(2))) if m else None


# --- enforce: one daemon per action that kills ---------------------------------------
t0 = time.monotonic()
suppressed0 = nw.kmsg_suppressed()


def enforce_once(value, name):
    """A fresh daemon, the hook, and what the loader and the kernel said."""
    d = nw.Daemon("--test-hooks")
    wpid = d.worker_pid()
    nw.sigqueue(wpid, signal.SIGUSR2, value)
    m = d.wait_log(r"netwarden: worker pid %d exited: ([^\n]*)" % wpid, 10)
    killed = (m and "SIGSYS" in m.group(1) and d.wait_log(r"test hook %d \(%s\): attempting" % (value, name), 1)
              and not hook_result(d, value, name, 0))
    recs = nw.wait_for(lambda: nw.kmsg_seccomp(wpid), 3)
    return d, wpid, killed, recs


for value, name, sc, nr, enforce, _ in HOOKS:
    if enforce != KILL:
        continue
    for attempt in (1, 2):
        try:
            d, wpid, killed, recs = enforce_once(value, name)
        except Exception as e:
            tap.ok(False, "enforce %s: netwarden starts" % name, e)
            break
        want = [r for r in (recs or []) if r["code"] == "0x80000000" and (not X86_64 or r["syscall"] == nr)]
        if want or attempt == 2:
            break
        # printk's rate limit (10 lines per 5 s, for the whole machine) may have
        # eaten the record: once more, after the window
        d.stop()
        time.sleep(5.5)
    tap.ok(killed, "enforce: %s is killed by the seccomp filter (SIGSYS)" % name, d.log()[-1200:])
    limited = not want and nw.kmsg_suppressed() > suppressed0
    tap.ok(want or limited, "enforce: %s: the kernel's audit log has the kill of pid %d (%s, code 0x80000000)%s"
           % (name, wpid, "syscall %d" % nr if X86_64 else sc,
              " # rate-limited by printk: the kernel dropped audit lines" if limited else ""), recs)
    tap.eq(d.stop(), 0, "enforce: %s: netwarden exits 0 after" % name)
tap.diag("enforce table: %.1f s" % (time.monotonic() - t0))

# --- enforce: what the filter allows but the kernel refuses ------------------------------
d = nw.Daemon("--test-hooks")
wpid = d.worker_pid()
for value, name, sc, nr, enforce, _ in HOOKS:
    if enforce == KILL:
        continue
    nw.sigqueue(wpid, signal.SIGUSR2, value)
    r = hook_result(d, value, name)
    tap.ok(r and r[0] == -1 and r[1] == enforce,
           "enforce: %s fails with errno %d, the worker lives (%s)" % (name, enforce, why[value]),
           d.log()[-800:])
tap.eq(d.worker_pid(), wpid, "enforce: still the same worker")
tap.eq(d.stop(), 0, "enforce: netwarden exits 0")

# --- audit: one daemon, every action ------------------------------------------------------
d = nw.Daemon("--test-hooks", "--seccomp=audit")
wpid = d.worker_pid()
tap.ok(d.wait_log(r"netwarden: seccomp audit: took worker pid %d's notification fd" % wpid, 5),
       "audit: the loader took the worker's seccomp notification fd", d.log()[-800:])
audited = 0
for value, name, sc, nr, _, (err, logged) in HOOKS:
    nw.sigqueue(wpid, signal.SIGUSR2, value)
    r = hook_result(d, value, name)
    tap.ok(r and r[0] == -1 and r[1] == err, "audit: %s fails with errno %d and the worker lives"
           % (name, err), d.log()[-800:])
    if logged:
        audited += 1
        m = d.wait_log(r"netwarden: seccomp audit: worker pid %d denied %s\((0x[0-9a-f]+)[^\n]*"
                       r"answered EPERM \(denial %d\)" % (wpid, re.escape(sc), audited), 5)
        tap.ok(m, "audit: the loader logs %s(...) by name with its arguments, denial %d" % (sc, audited),
               d.log()[-800:])
    elif value == 10:
        def errno_recs():
            return [x for x in nw.kmsg_seccomp(wpid) if x["code"] == "0x50001"]
        recs = nw.wait_for(errno_recs, 3)
        if not recs:
            # the denials before it may have used up printk's rate limit (10
            # lines per 5 s, machine-wide): once more after the window
            time.sleep(5.5)
            nw.sigqueue(wpid, signal.SIGUSR2, value)
            recs = nw.wait_for(errno_recs, 3)
        limited = not recs and nw.kmsg_suppressed() > suppressed0
        tap.ok(recs or limited, "audit: sendmsg's EPERM is in the kernel's audit log (code 0x50001, errno 1)%s"
               % (" # rate-limited by printk" if limited else ""), recs)
stats = d.stats()
tap.eq(stats.get("seccomp_denials"), audited, "audit: netwardenctl stats shows seccomp_denials %d" % audited)
tap.eq(stats.get("seccomp_audit"), 1, "audit: stats shows seccomp_audit 1")
tap.eq(stats.get("worker_restarts"), 0, "audit: no restart: the worker survived every attempt")
tap.eq(d.worker_pid(), wpid, "audit: still the same worker")
nw.tcp_exchange(tap, d, "audit-mode worker", "127.0.0.1", 3000, 5000)
st = nw.proc_status(d.p.pid)
tap.eq(st.get("Seccomp"), "2", "audit: the loader runs its own filter too (default: log)")
tap.eq(d.stop(), 0, "audit: netwarden exits 0")

# --- malformed manifests, straight to the worker binary ------------------------------------
WORKER = os.path.join(nw.OUT, "netwarden-worker")
MAGIC, VERSION = 0x4E574D46, 1


def manifest(entries, count=None, magic=MAGIC):
    hdr = struct.pack("<IHHII", magic, VERSION, len(entries) if count is None else count, 0, 0)
    return hdr + b"".join(struct.pack("<HHI", role, flags, arg) for role, flags, arg in entries)


def run_worker(send):
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    bfd = b.fileno()

    def to_fd3():
        os.dup2(bfd, 3)

    # close_fds=False: fd 3 is made in preexec_fn, after which Popen would close it;
    # the worker closes whatever else it inherits itself
    p = subprocess.Popen([WORKER, "--user=65534:65534", "--attach-set=tracepoint", "--event-mode=ringbuf"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         close_fds=False, preexec_fn=to_fd3)
    b.close()
    try:
        send(a)
    except OSError:
        pass
    a.close()
    try:
        out, _ = p.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
    return p.returncode, out.decode(errors="replace")


def send_with(data, fds):
    return lambda s: socket.send_fds(s, [data], fds)


r_fd, w_fd = os.pipe()
CASES = [
    ("wrong count (3 entries, 2 fds)", send_with(manifest([(1, 0, 0), (2, 0, 0), (5, 1, 0)]), [r_fd, w_fd]),
     r"failed to receive fd manifest: Bad message"),
    ("wrong type (a pipe as the RPC socket)", send_with(manifest([(1, 0, 0)]), [r_fd]),
     r"entry 0 \(rpc-listen\) is not what it claims: Socket operation on non-socket"),
    ("wrong type (a pipe as the conns map)", send_with(manifest([(2, 0, 0)]), [r_fd]),
     r"entry 0 \(conns-map\) is not what it claims"),
    ("truncated control message (65 fds)", send_with(manifest([(1, 0, 0)] * 64), [r_fd] * 65),
     r"failed to receive fd manifest: Message too long"),
    ("bad magic", send_with(manifest([(1, 0, 0)], magic=0x41414141), [r_fd]),
     r"failed to receive fd manifest: Protocol error"),
    ("unknown role", send_with(manifest([(99, 0, 0)]), [r_fd]), r"failed to receive fd manifest: Invalid argument"),
    ("nothing sent", lambda s: None, r"failed to receive fd manifest: Connection reset by peer"),
]
for what, send, want in CASES:
    rc, out = run_worker(send)
    tap.ok(rc == 1 and re.search(want, out), "manifest %s: the worker refuses it and exits 1" % what,
           "rc %s, output: %s" % (rc, out.strip()))
os.close(r_fd)
os.close(w_fd)

tap.done()
