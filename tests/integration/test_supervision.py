#!/usr/bin/python3
"""Supervision without data loss. Under steady TCP traffic the worker is killed
with SIGKILL: the loader logs why, a new worker (the same fds) is back within
1 s, and every connection that closed while no worker ran is reported to the
client once it registers again (the ring buffer kept the records; the new
worker holds them for re-registering clients). Then a poison record: with
--test-hooks a closed connection on port 29171 crashes the worker (SIGSEGV); the
restarted worker crashes on it again; the third skips what waits in the buffers
(records_skipped_after_crash) and serves. worker_restarts is in stats throughout,
and the loader, under its own seccomp filter, restarts and stops cleanly."""
import os
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nwtest as nw  # noqa: E402

tap = nw.Tap()
nw.require_root(tap)
nw.require_binaries(tap, "tcp_xfer")

CRASH_PORT = 29171  # NW_TEST_CRASH_PORT (unprivileged/worker.h)


class Traffic:
    """Short TCP connections to a local server, one every `gap` seconds, each
    remembered with the time its client side closed."""

    def __init__(self, gap=0.004):
        self.srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(512)
        self.port = self.srv.getsockname()[1]
        self.gap = gap
        self.conns = []  # (client port, monotonic close time)
        self.errors = 0
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _serve(self):
        self.srv.settimeout(0.2)
        while not self.stop.is_set():
            try:
                c, _ = self.srv.accept()
            except OSError:
                continue
            try:
                c.recv(16)
            finally:
                c.close()

    def _run(self):
        while not self.stop.is_set():
            try:
                s = socket.create_connection(("127.0.0.1", self.port), timeout=2)
                cport = s.getsockname()[1]
                s.sendall(b"x")
                s.close()
                self.conns.append((cport, time.monotonic()))
            except OSError:
                self.errors += 1
            time.sleep(self.gap)

    def finish(self):
        self.stop.set()
        self.t.join(5)
        self.srv.close()


# --- SIGKILL under steady traffic ------------------------------------------------------
d = nw.Daemon()
wpid = d.worker_pid()
cid = "nwt-sup-%d" % os.getpid()
col = nw.Collector(d, cid)
col.query()
traffic = Traffic()
t_end = time.monotonic() + 1.5
while time.monotonic() < t_end:
    col.query()
    time.sleep(0.1)
col.query()
t_last_query = time.monotonic()
t_kill = time.monotonic()
os.kill(wpid, signal.SIGKILL)


def back():
    m = d.wait_log(r"netwarden-worker: confined: [^\n]*restart 1;", 0)
    return time.monotonic() if m else None


t_back = nw.wait_for(back, 5, 0.005)
outage = [(p, t) for p, t in traffic.conns if t_kill <= t <= (t_back or t_kill)]
m = d.wait_log(r"netwarden: worker pid %d exited: killed by SIGKILL[^\n]*" % wpid, 5)
tap.ok(m, "the loader logs why the worker died (%s)" % (m.group(0) if m else ""), d.log()[-1500:])
m = d.wait_log(r"netwarden: worker restarted: pid (\d+) \(restart 1, (\d+) ms after the last one died\)", 5)
tap.ok(m, "the loader logs the restart", d.log()[-1500:])
restart_ms = (t_back - t_kill) * 1000 if t_back else None
tap.ok(t_back and restart_ms < 1000,
       "a new worker is confined and serving %s ms after SIGKILL (backoff %s ms; bound 1000 ms)"
       % ("%.0f" % restart_ms if t_back else "?", m.group(2) if m else "?"), d.log()[-1500:])
time.sleep(1.0)  # traffic goes on with the new worker
traffic.finish()
tap.ok(len(outage) > 0, "%d connections closed while no worker ran" % len(outage))
stats = d.stats()
tap.eq(stats.get("worker_restarts"), 1, "stats: worker_restarts 1")
tap.ok(d.wait_log(r"netwarden-worker: confined: [^\n]*restart 1;", 0), "the new worker logs restart 1")

# The client's registration died with the worker: netwardenctl registers it again
# (a new client to the new worker), which starts with the connections held since.
want = [("tcp", "127.0.0.1", p, "127.0.0.1", traffic.port) for p, _ in traffic.conns]
missing = col.wait_closed(want, 20)
missing_ports = {w[2] for w in missing}
miss_outage = [p for p, _ in outage if p in missing_ports]
miss_after = [p for p, t in traffic.conns if t > (t_back or t_kill) and p in missing_ports]
miss_before = [p for p, t in traffic.conns if t < t_kill and p in missing_ports]
tap.diag("traffic: %d connections (%d failed), %d closed during the %.0f ms outage; missing after the "
         "restart: %d of the outage, %d after it, %d before it (closed between the last query, %.0f ms "
         "before the kill, and the kill: taken from the ring by the dead worker, never handed out)"
         % (len(traffic.conns), traffic.errors, len(outage), restart_ms or -1, len(miss_outage),
            len(miss_after), len(miss_before), (t_kill - t_last_query) * 1000))
tap.ok(not miss_outage, "every connection closed during the outage is reported after the restart (%d of %d)"
       % (len(outage) - len(miss_outage), len(outage)), miss_outage[:20])
tap.ok(not miss_after, "every connection closed after the restart is reported", miss_after[:20])
dup = [k for k, n in col.closed_seen.items() if n > 1]
tap.ok(not dup, "no closed connection is reported twice to the client", dup[:10])
stats = d.stats()
tap.ok(stats.get("closed_held_given", 0) >= len(outage),
       "stats: closed_held_given %s (held for re-registering clients)" % stats.get("closed_held_given"))
tap.eq(nw.proc_status(d.p.pid).get("Seccomp"), "2", "the loader restarted the worker under its own filter")
tap.eq(d.stop(), 0, "netwarden exits 0 on SIGTERM after a restart")

# --- a poison record ---------------------------------------------------------------------
d = nw.Daemon("--test-hooks")
wpid = d.worker_pid()
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", CRASH_PORT))
srv.listen(4)
c = socket.create_connection(("127.0.0.1", CRASH_PORT), timeout=2)
a, _ = srv.accept()
c.sendall(b"poison")
a.recv(16)
c.close()
a.close()
srv.close()
deaths = nw.wait_for(lambda: len(d.log_lines(r"netwarden: worker pid \d+ exited: killed by SIGSEGV")) >= 2
                     and d.log_lines(r"crash streak \d+: skipped"), 15, 0.1)
lines = d.log_lines(r"netwarden: worker pid \d+ exited")
tap.ok(deaths, "the record kills the worker, and the restarted one again (SIGSEGV twice)", "\n".join(lines))
m = d.wait_log(r"netwarden-worker: crash streak (\d+): skipped (\d+) records waiting in (\d+) buffers", 5)
tap.ok(m and int(m.group(1)) >= 2 and int(m.group(2)) >= 1,
       "the third worker skips the %s records waiting (crash streak %s) before reading any"
       % (m.group(2) if m else "?", m.group(1) if m else "?"), d.log()[-2000:])
tap.ok(d.log_lines(r"crash streak: the next worker skips the records waiting"),
       "the loader says the next worker will skip")
stats = nw.wait_for(lambda: d.stats(), 10)
tap.ok(stats and stats.get("records_skipped_after_crash", 0) >= 1 and stats.get("worker_restarts") == 2
       and stats.get("worker_crash_streak") == 2,
       "stats: records_skipped_after_crash %s, worker_restarts %s, worker_crash_streak %s"
       % (stats.get("records_skipped_after_crash"), stats.get("worker_restarts"),
          stats.get("worker_crash_streak")))
time.sleep(0.5)
tap.ok(len(d.log_lines(r"netwarden: worker pid \d+ exited")) == 2, "no third death: the loop is broken",
       d.log()[-1500:])
nw.tcp_exchange(tap, d, "worker after the poison record", "127.0.0.1", 2000, 3000)
tap.eq(d.stop(), 0, "netwarden exits 0 on SIGTERM")

tap.done()
