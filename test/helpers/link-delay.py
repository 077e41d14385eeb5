"""Delay and drop a test host's outgoing packets, where the kernel has no netem (test/helpers/hosts.ts).

Usage (inside the host's network namespace, as root):
    python3 link-delay.py QUEUE DELAY_MS LOSS_PERCENT

An iptables rule sends the host's outgoing packets to NFQUEUE QUEUE; this program answers each
one after DELAY_MS (accept), or at once with a drop for LOSS_PERCENT of them: what
`tc qdisc add dev eth0 root netem delay Dms loss L%` does. It speaks the nfnetlink_queue
protocol over a raw netlink socket (no library needed) and ends when stdin closes.
"""

from __future__ import annotations

import heapq
import os
import random
import select
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NFQA_CFG_CMD, NFQA_CFG_PARAMS, NFQA_CFG_QUEUE_MAXLEN = 1, 2, 3
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NFQA_PACKET_HDR = 1
NFQA_VERDICT_HDR = 2
NF_DROP, NF_ACCEPT = 0, 1
NLM_F_REQUEST = 1
NLMSG_ERROR = 2


def attribute(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * ((4 - length % 4) % 4)


def message(msg_type: int, queue: int, attributes: bytes, flags: int = NLM_F_REQUEST) -> bytes:
    # nfgenmsg: family AF_UNSPEC, version 0, res_id = queue number (big endian).
    body = struct.pack("=BBH", socket.AF_UNSPEC, 0, socket.htons(queue)) + attributes
    return struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | msg_type, flags, 0, 0) + body


def main() -> None:
    queue, delay_ms, loss = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]) / 100
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    sock.bind((0, 0))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.send(message(NFQNL_MSG_CONFIG, queue, attribute(NFQA_CFG_CMD, struct.pack("=BBH", NFQNL_CFG_CMD_BIND, 0, 0))))
    sock.send(message(NFQNL_MSG_CONFIG, queue, attribute(NFQA_CFG_PARAMS, struct.pack(">IB", 0, NFQNL_COPY_META))))
    sock.send(message(NFQNL_MSG_CONFIG, queue, attribute(NFQA_CFG_QUEUE_MAXLEN, struct.pack(">I", 8192))))
    print("ready", flush=True)
    due: list[tuple[float, int]] = []  # (time, packet id)

    def verdict(packet_id: int, decision: int) -> None:
        sock.send(message(NFQNL_MSG_VERDICT, queue, attribute(NFQA_VERDICT_HDR, struct.pack(">II", decision, packet_id))))

    while True:
        now = time.monotonic()
        while due and due[0][0] <= now:
            verdict(heapq.heappop(due)[1], NF_ACCEPT)
        timeout = max(0.0, due[0][0] - now) if due else None
        readable, _, _ = select.select([sock, sys.stdin], [], [], timeout)
        if sys.stdin in readable and not os.read(sys.stdin.fileno(), 4096):
            return  # the test is done (or gone): the iptables rule goes with the namespace
        if sock not in readable:
            continue
        data = sock.recv(1 << 16)
        at = 0
        while at + 16 <= len(data):
            length, msg_type = struct.unpack_from("=IH", data, at)
            if length < 16:
                break
            if msg_type == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
                offset = at + 20  # nlmsghdr (16) + nfgenmsg (4)
                while offset + 4 <= at + length:
                    attr_len, attr_type = struct.unpack_from("=HH", data, offset)
                    if attr_len < 4:
                        break
                    if attr_type & 0x7FFF == NFQA_PACKET_HDR:
                        (packet_id,) = struct.unpack_from(">I", data, offset + 4)
                        if random.random() < loss:
                            verdict(packet_id, NF_DROP)
                        else:
                            heapq.heappush(due, (time.monotonic() + delay_ms / 1000, packet_id))
                        break
                    offset += (attr_len + 3) & ~3
            elif msg_type == NLMSG_ERROR:
                (error,) = struct.unpack_from("=i", data, at + 16)
                if error != 0:
                    print(f"netlink error {error}", file=sys.stderr, flush=True)
            at += (length + 3) & ~3


if __name__ == "__main__":
    main()
