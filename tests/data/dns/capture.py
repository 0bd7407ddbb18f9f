#!/usr/bin/env python3
"""Regenerate the DNS test corpus in this directory (run as root: binds port 53).

Starts dnsmasq on 127.0.0.77 with local records only (A, AAAA, a CNAME chain,
MX/TXT/SRV/PTR for skipped types, many addresses for compression), sends each
query over UDP (and a few over TCP) with EDNS, and writes the raw bytes:
  <name>.q.bin       the query as sent
  <name>.r.bin       the response payload (UDP) or one message (TCP, no prefix)
  <name>.tcp.bin     the TCP stream bytes as received (length-prefixed)
The files are committed; this script only documents how they were made.
"""
import os
import random
import socket
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = "127.0.0.77"

DNSMASQ_ARGS = [
    "--keep-in-foreground", "--no-resolv", "--no-hosts", "--no-daemon",
    "--bind-interfaces", "--listen-address=" + SERVER, "--port=53",
    "--pid-file=", "--local-ttl=300", "--local=/test/", "--log-facility=/dev/null",
    "--host-record=www.example.test,192.0.2.10,2001:db8::10",
    "--host-record=c.chain.test,198.51.100.7,2001:db8::7",
    "--cname=a.chain.test,b.chain.test",
    "--cname=b.chain.test,c.chain.test",
    "--cname=Alias.Example.test,www.example.test",
    "--mx-host=example.test,mail.example.test,10",
    "--txt-record=txt.example.test,\"v=spf1 -all\",\"second string\"",
    "--srv-host=_sip._udp.example.test,sip.example.test,5060,10,20",
    "--ptr-record=10.2.0.192.in-addr.arpa,www.example.test",
] + ["--host-record=many.example.test,203.0.113.%d" % i for i in range(1, 25)] + [
    "--host-record=v6many.example.test," + ",".join("2001:db8:1::%x" % i for i in range(1, 9)),
]

# (file name, query name, qtype, use tcp)
QUERIES = [
    ("a_www", "www.example.test", 1, False),
    ("aaaa_www", "www.example.test", 28, False),
    ("a_cname_chain", "a.chain.test", 1, False),
    ("aaaa_cname_chain", "a.chain.test", 28, False),
    ("a_alias_mixed_case", "Alias.Example.test", 1, False),
    ("a_many", "many.example.test", 1, False),
    ("aaaa_many", "v6many.example.test", 28, False),
    ("nxdomain", "nothere.example.test", 1, False),
    ("mx", "example.test", 15, False),
    ("txt", "txt.example.test", 16, False),
    ("srv", "_sip._udp.example.test", 33, False),
    ("ptr", "10.2.0.192.in-addr.arpa", 12, False),
    ("refused", "version.bind", 16, False),
    ("tcp_a_cname_chain", "a.chain.test", 1, True),
    ("tcp_a_many", "many.example.test", 1, True),
]


def query(name, qtype, txid):
    hdr = struct.pack("!HHHHHH", txid, 0x0100, 1, 0, 0, 1)
    q = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
    opt = b"\0" + struct.pack("!HHIH", 41, 1232, 0, 0)  # EDNS0, as dig sends
    return hdr + q + struct.pack("!HH", qtype, 1) + opt


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError
        b += c
    return b


def main():
    rnd = random.Random(53)
    proc = subprocess.Popen(["dnsmasq"] + DNSMASQ_ARGS)
    try:
        time.sleep(0.5)
        for fname, name, qtype, tcp in QUERIES:
            q = query(name, qtype, rnd.randrange(1, 65536))
            if tcp:
                with socket.create_connection((SERVER, 53), timeout=2) as s:
                    s.sendall(struct.pack("!H", len(q)) + q)
                    n = struct.unpack("!H", recv_exact(s, 2))[0]
                    r = recv_exact(s, n)
                with open(os.path.join(HERE, fname + ".tcp.bin"), "wb") as f:
                    f.write(struct.pack("!H", n) + r)
            else:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.settimeout(2)
                    s.sendto(q, (SERVER, 53))
                    r = s.recv(65535)
            for suffix, data in ((".q.bin", q), (".r.bin", r)):
                with open(os.path.join(HERE, fname + suffix), "wb") as f:
                    f.write(data)
            print("%-22s %4d bytes rcode %d" % (fname, len(r), r[3] & 0xF))
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    sys.exit(main())
