#!/usr/bin/env python3
"""Records the kernel data that diag's parser tests read, in a private network namespace.

Run as root:  unshare -n python3 tests/diag/data/record.py tests/diag/data
It makes a known scene, then saves the raw sock_diag replies (IPv4 and IPv6 dumps, every TCP
state, with SK_MEMINFO), /proc/net/netstat, /proc/net/snmp, and what `ss` says about the same
scene, so the tests compare our parser with ss on identical bytes:
  * 127.0.0.1:7001 listen(3), never accepted, 6 clients: queue full (ss: Recv-Q 4, Send-Q 3)
  * [::1]:7002 listen(8): 3 connections accepted and closed by the server -> TIME_WAIT
"""
import os, socket, struct, subprocess, sys, time

out = sys.argv[1]
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)

full = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
full.bind(("127.0.0.1", 7001))
full.listen(3)
clients = []
for _ in range(6):
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.setblocking(False)
    c.connect_ex(("127.0.0.1", 7001))
    clients.append(c)

closer = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
closer.bind(("::1", 7002))
closer.listen(8)
for _ in range(3):
    c = socket.create_connection(("::1", 7002))
    s, _ = closer.accept()
    s.close()  # the server closes first: TIME_WAIT on the server side
    c.recv(1)
    c.close()
    clients.append(c)

time.sleep(1.5)  # let the refused final ACKs be retransmitted into ListenOverflows


def dump(family):
    nl = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 4)  # NETLINK_SOCK_DIAG
    req = struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 1 << (7 - 1), 0, 0xFFFFFFFF)  # INET_DIAG_SKMEMINFO
    req += b"\0" * 48  # inet_diag_sockid: match any
    hdr = struct.pack("=IHHII", 16 + len(req), 20, 0x301, 1, 0)  # SOCK_DIAG_BY_FAMILY, REQUEST|DUMP
    nl.sendto(hdr + req, (0, 0))
    data = b""
    while True:
        chunk = nl.recv(65536)
        data += chunk
        if struct.unpack_from("=H", chunk, 4)[0] == 3 or not chunk:  # NLMSG_DONE
            break
    return data


for name, fam in (("inet", socket.AF_INET), ("inet6", socket.AF_INET6)):
    with open(os.path.join(out, f"sock_diag_{name}.bin"), "wb") as f:
        f.write(dump(fam))
for src, dst in (("/proc/net/netstat", "proc_net_netstat.txt"), ("/proc/net/snmp", "proc_net_snmp.txt")):
    with open(src, "rb") as i, open(os.path.join(out, dst), "wb") as o:
        o.write(i.read())
with open(os.path.join(out, "ss.txt"), "w") as f:
    for args in (["-lnt"], ["-ant"], ["-Htan", "state", "time-wait"]):
        f.write("$ ss " + " ".join(args) + "\n")
        f.write(subprocess.run(["ss"] + args, capture_output=True, text=True).stdout)
