#!/usr/bin/python3
"""RPC authorisation and framing against the real daemon: socket permissions;
SO_PEERCRED authorisation (uid in --allow-uid, gid in --allow-gid, root; others
refused with exit 3 and a clear message); netwardenctl's exit codes; garbage,
empty, oversized and partial frames, invalid requests and a flood of clients
are rejected while another client keeps being served in between."""
import os
import socket
import stat
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nwtest as nw  # noqa: E402

tap = nw.Tap()
nw.require_root(tap)
nw.require_binaries(tap)

# --- minimal protobuf for proto/netwarden.proto ------------------------------------------------
ERR = {0: "NONE", 1: "BAD_FRAME", 2: "TOO_LARGE", 3: "UNKNOWN_CLIENT", 4: "BAD_REQUEST",
       5: "PERMISSION", 6: "BUSY", 7: "INTERNAL"}


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def ld(field, payload):
    return varint(field << 3 | 2) + varint(len(payload)) + payload


def decode(buf):
    """{field: [values]} of one message; values are ints or bytes. Raises on bad input."""
    out, i = {}, 0

    def rd_varint():
        nonlocal i
        v = shift = 0
        while True:
            if i >= len(buf) or shift > 63:
                raise ValueError("truncated varint")
            b = buf[i]
            i += 1
            v |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return v
    while i < len(buf):
        key = rd_varint()
        f, wt = key >> 3, key & 7
        if wt == 0:
            v = rd_varint()
        elif wt == 2:
            n = rd_varint()
            if i + n > len(buf):
                raise ValueError("truncated field")
            v, i = buf[i:i + n], i + n
        elif wt == 1:
            v, i = buf[i:i + 8], i + 8
        elif wt == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d" % wt)
        out.setdefault(f, []).append(v)
    return out


REQ_STATS = ld(3, b"")


def req_register(cid):
    return ld(1, ld(1, cid.encode()))


def req_conns(cid):
    return ld(2, ld(1, cid.encode()))


def frame(payload):
    return struct.pack(">I", len(payload)) + payload


class Conn:
    def __init__(self, path, timeout=5):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)

    def send(self, raw):
        self.s.sendall(raw)

    def _read(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.s.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf

    def response(self):
        """('eof', None) | ('error', (code, message)) | ('ok', {field: ...})."""
        try:
            hdr = self._read(4)
            if hdr is None:
                return ("eof", None)
            n = struct.unpack(">I", hdr)[0]
            if n > 16 << 20:
                return ("bad", "response length %d" % n)
            body = self._read(n)
            if body is None:
                return ("eof", None)
        except ConnectionResetError:
            return ("eof", None)
        except socket.timeout:
            return ("timeout", None)
        msg = decode(body)
        if 1 in msg:
            e = decode(msg[1][0])
            return ("error", (ERR.get(e.get(1, [0])[0], "?"), e.get(2, [b""])[0].decode(errors="replace")))
        return ("ok", msg)

    def closed(self, timeout=5):
        """True once the server closed its end (EOF or reset) within timeout."""
        self.s.settimeout(timeout)
        try:
            while True:
                chunk = self.s.recv(4096)
                if not chunk:
                    return True
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self):
        self.s.close()


def served(d, what):
    """The well-behaved client B asks for stats and gets them."""
    B.send(frame(REQ_STATS))
    kind, msg = B.response()
    return tap.ok(kind == "ok" and 4 in msg, "client B is served %s" % what, (kind, msg))


# --- users and groups -------------------------------------------------------------------------------
try:
    g = "nwtg%s" % nw.RUN_ID
    g2 = "nwth%s" % nw.RUN_ID
    gid = nw.add_group(g)
    gid2 = nw.add_group(g2)
    u_denied = nw.add_user("nwtu1%s" % nw.RUN_ID, g)   # can reach the socket, not allowed
    u_uid = nw.add_user("nwtu2%s" % nw.RUN_ID, g)      # allowed by uid
    u_gid = nw.add_user("nwtu3%s" % nw.RUN_ID, g2)     # allowed by gid (g2), reaches socket via g
    u_out = nw.add_user("nwtu4%s" % nw.RUN_ID, g2)     # not in the socket's group at all
    d = nw.Daemon("--rpc-group=" + g, "--allow-uid=%d" % u_uid, "--allow-gid=%d" % gid2)
except Exception as e:
    tap.bail("setup: %s" % e)

st = os.stat(d.socket)
tap.ok(stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660 and st.st_uid == 0
       and st.st_gid == gid, "socket is 0660 root:%s" % g,
       "mode %o uid %d gid %d" % (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid))
sd = os.stat(d.sockdir)
tap.ok(stat.S_IMODE(sd.st_mode) == 0o750 and sd.st_uid == 0 and sd.st_gid == gid,
       "socket directory is 0750 root:%s" % g,
       "mode %o uid %d gid %d" % (stat.S_IMODE(sd.st_mode), sd.st_uid, sd.st_gid))

# --- who may talk to the worker ---------------------------------------------------------------------
r = d.ctl("stats", user=(u_denied, gid, []))
tap.ok(r.returncode == 3 and "permission" in r.stderr.lower() and r.stdout == "",
       "uid %d (socket group, not allowed) is refused: exit 3, %r" % (u_denied, r.stderr.strip()),
       "exit %d stdout %r stderr %r" % (r.returncode, r.stdout[:200], r.stderr))
r = d.ctl("conns", client_id="nwt-denied", user=(u_denied, gid, []))
tap.ok(r.returncode == 3 and "permission" in r.stderr.lower(),
       "uid %d is refused for conns too (exit 3)" % u_denied, "exit %d %r" % (r.returncode, r.stderr))
r = d.ctl("stats", user=(u_out, gid2, []))
tap.ok(r.returncode == 3 and "permission" in r.stderr.lower(),
       "uid %d (not in the socket group) is refused at the socket: exit 3, %r"
       % (u_out, r.stderr.strip()), "exit %d %r" % (r.returncode, r.stderr))
r = d.ctl("stats", user=(u_uid, gid, []))
tap.ok(r.returncode == 0 and '"worker_pid"' in r.stdout,
       "uid %d in --allow-uid gets stats" % u_uid, "exit %d %r" % (r.returncode, r.stderr))
r = d.ctl("conns", client_id="nwt-allowed", user=(u_uid, gid, []))
tap.ok(r.returncode == 0 and '"conns"' in r.stdout,
       "uid %d in --allow-uid gets conns" % u_uid, "exit %d %r" % (r.returncode, r.stderr))
r = d.ctl("stats", user=(u_gid, gid2, [gid]))
tap.ok(r.returncode == 0 and '"worker_pid"' in r.stdout,
       "uid %d with gid %d in --allow-gid gets stats" % (u_gid, gid2),
       "exit %d %r" % (r.returncode, r.stderr))
r = d.ctl("stats")
tap.ok(r.returncode == 0, "root is always allowed", r.stderr)
r = d.ctl("conns", json_out=False, client_id="nwt-table")
tap.ok(r.returncode == 0 and r.stdout.strip() != "", "netwardenctl conns prints a table", r.stderr)

# --- netwardenctl's own errors ------------------------------------------------------------------------
missing = os.path.join(d.dir, "nope", "netwarden.sock")
r = d.ctl("stats", socket=missing)
tap.ok(r.returncode == 2 and "not running" in r.stderr and missing in r.stderr,
       "no daemon: exit 2, %r" % r.stderr.strip(), "exit %d %r" % (r.returncode, r.stderr))
r = d.ctl("frobnicate")
tap.ok(r.returncode == 1 and r.stderr.strip() != "", "unknown command: exit 1 with usage",
       "exit %d %r" % (r.returncode, r.stderr))
r = d.ctl("conns", client_id="x" * 5000)
tap.ok(r.returncode in (1, 4) and r.stderr.strip() != "",
       "over-long client id refused (exit %d: %r)" % (r.returncode, r.stderr.strip()[:100]),
       "exit %d %r" % (r.returncode, r.stderr))

# --- hostile frames, with client B served in between ------------------------------------------------
try:
    B = Conn(d.socket)
    served(d, "at the start")

    A = Conn(d.socket)
    A.send(frame(b"\xff\xff\xff\xff\xff"))
    kind, msg = A.response()
    tap.ok(kind == "error" and msg[0] == "BAD_FRAME", "garbage frame gets ERROR_BAD_FRAME", (kind, msg))
    served(d, "after a garbage frame")

    A2 = Conn(d.socket)
    A2.send(frame(b""))
    kind, msg = A2.response()
    tap.ok((kind == "error" and msg[0] in ("BAD_FRAME", "BAD_REQUEST")) or kind == "eof",
           "empty frame gets an error or a close", (kind, msg))

    A3 = Conn(d.socket)
    A3.send(frame(req_register("")))
    kind, msg = A3.response()
    tap.ok(kind == "error" and msg[0] == "BAD_REQUEST", "Register with an empty client id: ERROR_BAD_REQUEST",
           (kind, msg))
    A3.send(frame(req_conns("nwt-never-registered-%d" % os.getpid())))
    kind, msg = A3.response()
    tap.ok(kind == "error" and msg[0] == "UNKNOWN_CLIENT",
           "GetConnections for an unregistered id: ERROR_UNKNOWN_CLIENT", (kind, msg))
    A3.send(frame(req_register("nwt-raw-%d" % os.getpid())))
    kind, msg = A3.response()
    tap.ok(kind == "ok" and 2 in msg, "the same connection can still Register properly", (kind, msg))
    A3.send(frame(req_conns("nwt-raw-%d" % os.getpid())))
    kind, msg = A3.response()
    tap.ok(kind == "ok" and (3 in msg), "and then GetConnections", (kind, msg))

    A4 = Conn(d.socket)
    A4.send(b"\x7f\xff\xff\xff")
    kind, msg = A4.response()
    tap.ok((kind == "error" and msg[0] == "TOO_LARGE") or kind == "eof",
           "length 0x7fffffff gets ERROR_TOO_LARGE or a close (%s)" % kind, (kind, msg))
    tap.ok(A4.closed(5), "and the connection is closed")
    served(d, "after an oversized length")

    A5 = Conn(d.socket)
    A5.send(b"\x00\x00")  # half a header, then silence
    served(d, "while another client sits on half a header")
    A6 = Conn(d.socket)
    A6.send(struct.pack(">I", 100) + b"\x1a")  # promises 100 bytes, sends 1
    served(d, "while another client sits on a partial body")
    A7 = Conn(d.socket)
    A7.send(frame(ld(99, b"\x01\x02")))  # unknown field only: decodes, no kind
    kind, msg = A7.response()
    tap.ok(kind == "error" and msg[0] in ("BAD_FRAME", "BAD_REQUEST"),
           "request with no known kind gets an error", (kind, msg))

    # a flood: more connections than the server takes; B keeps working
    flood = []
    for _ in range(80):
        try:
            flood.append(Conn(d.socket, timeout=3))
        except OSError:
            break
    answered = refused = 0
    for c in flood:
        try:
            c.send(frame(REQ_STATS))
            kind, msg = c.response()
        except OSError:
            kind, msg = "eof", None
        if kind == "ok":
            answered += 1
        elif kind == "eof" or (kind == "error" and msg[0] == "BUSY"):
            refused += 1
    tap.ok(refused > 0 and answered + refused == len(flood),
           "a flood of %d connections: %d answered, %d refused (busy or closed)"
           % (len(flood), answered, refused))
    served(d, "during the flood")
    for c in flood:
        c.close()
    for c in (A, A2, A3, A5, A6, A7):
        c.close()
    r = d.ctl("stats")
    tap.ok(r.returncode == 0, "netwardenctl still works after all that", r.stderr)
    B.close()
except Exception as e:
    tap.ok(False, "hostile-frame sequence ran", repr(e))

tap.ok(d.p.poll() is None and not d.log_lines(r"worker pid \d+ exited"),
       "the worker never died", d.log()[-1500:])
tap.eq(d.stop(), 0, "netwarden exits 0 on SIGTERM")
tap.done()
