#!/usr/bin/env python3
"""A real pilot-beacon on loopback, driven by real UDP sockets: Discover,
hole-punch coordination, relay, two beacons relaying for each other, entry
expiry, and hostile datagrams that must neither stop nor wedge it."""
import os
import random
import re
import signal
import socket
import struct
import subprocess

from harness import Process, binary, run

REPLY_TIMEOUT = 5


class Beacon(Process):
    """A real pilot-beacon on a loopback UDP port (a free one by default)."""

    def __init__(self, *extra_args, port=0):
        super().__init__([binary("pilot-beacon"), "--listen",
                          f"127.0.0.1:{port}", *extra_args], name="beacon")
        match = self.wait_for_log(r"beacon-listening.*address=([\d.]+):(\d+)")
        self.address = (match.group(1), int(match.group(2)))


class NodeSocket:
    """A node's UDP socket on a free loopback port, talking to one beacon."""

    def __init__(self, beacon, host="127.0.0.1"):
        self.beacon = beacon
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.address = self.sock.getsockname()

    def send(self, datagram):
        self.sock.sendto(datagram, self.beacon.address)

    def receive(self):
        """Returns the next datagram; fails the test after REPLY_TIMEOUT."""
        self.sock.settimeout(REPLY_TIMEOUT)
        try:
            datagram, _ = self.sock.recvfrom(65535)
        except socket.timeout:
            raise AssertionError(
                f"no datagram within {REPLY_TIMEOUT}s at {self.address}")
        return datagram

    def assert_silent(self, seconds=0.5):
        self.sock.settimeout(seconds)
        try:
            datagram, source = self.sock.recvfrom(65535)
        except socket.timeout:
            return
        raise AssertionError(f"unexpected {datagram.hex()} from {source}")

    def discover(self, node_id):
        """Sends Discover and returns the DiscoverReply."""
        self.send(discover(node_id))
        reply = self.receive()
        assert reply == endpoint_message(0x02, self.address), reply.hex()
        return reply

    def close(self):
        self.sock.close()


def discover(node_id):
    return struct.pack(">BI", 0x01, node_id)


def punch_request(requester, target):
    return struct.pack(">BII", 0x03, requester, target)


def relay(sender, dest, payload):
    return struct.pack(">BII", 0x05, sender, dest) + payload


def endpoint_message(message_type, address):
    """DiscoverReply (0x02) or PunchCommand (0x04) for an IPv4 address."""
    host, port = address
    return (struct.pack(">BB", message_type, 4) + socket.inet_aton(host)
            + struct.pack(">H", port))


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def counter(log, name):
    """Returns the last logged value of a beacon-stats counter."""
    values = re.findall(rf"beacon-stats.* {name}=(\d+)", log)
    assert values, f"no {name} counter in the log:\n{log}"
    return int(values[-1])


def test_discover_replies_with_observed_address():
    beacon = Beacon()
    node = NodeSocket(beacon)
    reply = node.discover(1)
    assert reply[:2] == b"\x02\x04", reply.hex()
    assert socket.inet_ntoa(reply[2:6]) == "127.0.0.1"
    assert struct.unpack(">H", reply[6:8])[0] == node.address[1]
    # The start-up probe with node 0 gets the same reply.
    node.discover(0)
    node.close()
    assert beacon.stop() == 0


def test_punch_request_reaches_both_nodes():
    beacon = Beacon()
    a, b = NodeSocket(beacon), NodeSocket(beacon)
    a.discover(100)
    b.discover(200)
    a.send(punch_request(100, 200))
    assert a.receive() == endpoint_message(0x04, b.address)
    assert b.receive() == endpoint_message(0x04, a.address)
    # An unknown target gets nothing back.
    a.send(punch_request(100, 999))
    a.assert_silent()
    a.close()
    b.close()
    assert beacon.stop() == 0


def test_relay_reaches_destination():
    beacon = Beacon()
    a, b = NodeSocket(beacon), NodeSocket(beacon)
    a.discover(300)
    b.discover(400)
    a.send(relay(300, 400, b"test relay payload"))
    assert b.receive() == bytes.fromhex("060000012c") + b"test relay payload"
    # Relaying under another node's ID is dropped.
    stranger = NodeSocket(beacon)
    stranger.send(relay(300, 400, b"forged"))
    b.assert_silent()
    for node in (a, b, stranger):
        node.close()
    assert beacon.stop() == 0


def test_relay_crosses_two_beacons():
    port1, port2 = free_udp_port(), free_udp_port()
    beacon1 = Beacon("--beacon-id", "1", "--peers", f"127.0.0.1:{port2}",
                     "--sync-interval", "1s", port=port1)
    beacon2 = Beacon("--beacon-id", "2", "--peers", f"127.0.0.1:{port1}",
                     "--sync-interval", "1s", port=port2)
    node10, node20 = NodeSocket(beacon1), NodeSocket(beacon2)
    node10.discover(10)
    node20.discover(20)
    # Beacon 1 learns node 20 from beacon 2's next Sync; resend until then.
    payload = b"PILT over two beacons"
    for _ in range(40):
        node10.send(relay(10, 20, payload))
        node20.sock.settimeout(0.25)
        try:
            datagram, source = node20.sock.recvfrom(65535)
            break
        except socket.timeout:
            continue
    else:
        raise AssertionError("the relay never reached node 20")
    assert source == beacon2.address, source
    assert datagram == bytes.fromhex("060000000a") + payload, datagram.hex()
    node10.close()
    node20.close()
    assert beacon1.stop() == 0
    assert beacon2.stop() == 0
    assert counter(beacon1.log(), "relays_forwarded") >= 1
    assert counter(beacon2.log(), "relays_delivered") >= 1


def test_entries_expire_after_entry_ttl():
    beacon = Beacon("--entry-ttl", "1s")
    a, b = NodeSocket(beacon), NodeSocket(beacon)
    a.discover(500)
    b.discover(600)
    # Only node 500 refreshes its entry; node 600 expires.
    for _ in range(3):
        b.assert_silent(0.5)
        a.discover(500)
    a.send(punch_request(500, 600))
    a.assert_silent()
    b.assert_silent(0.1)
    a.close()
    b.close()
    assert beacon.stop() == 0


def test_hostile_datagrams_do_not_stop_the_beacon():
    beacon = Beacon()
    # The beacon rate-limits Discovers per source address, so the flood
    # comes from another loopback address than the node checked below.
    attacker = NodeSocket(beacon, host="127.0.0.2")
    rng = random.Random(1234)
    hostile = [b"", b"\x01", b"\x02\x07", b"\x07\x00\x00\x00\x01\xff\xff",
               b"\x06\x00\x00\x00\x01x", b"\x0f", b"\xff" * 100, b"PILP",
               b"\x05" + b"\x00" * 65000, os.urandom(65507)]
    for _ in range(2000):
        size = rng.randrange(0, 64)
        datagram = bytes(rng.randrange(256) for _ in range(size))
        if datagram:
            datagram = bytes([datagram[0] % 9]) + datagram[1:]
        hostile.append(datagram)
    for datagram in hostile:
        attacker.send(datagram)
    # The same beacon process still replies.
    node = NodeSocket(beacon)
    node.discover(7)
    assert beacon.running()
    attacker.close()
    node.close()
    assert beacon.stop() == 0
    log = beacon.log()
    assert counter(log, "malformed") >= 3
    assert counter(log, "unexpected") >= 4


def test_sigint_stops_with_status_zero():
    beacon = Beacon()
    assert beacon.stop(signal.SIGINT) == 0
    assert "beacon-stopped" in beacon.log()


def test_invalid_flags_exit_with_status_two():
    for args in (["--entry-ttl", "soon"], ["--peers", "127.0.0.1"],
                 ["--listen", "127.0.0.1"], ["--no-such-flag"]):
        done = subprocess.run([binary("pilot-beacon"), *args],
                              capture_output=True, timeout=10)
        assert done.returncode == 2, (args, done.returncode)
        assert done.stderr, args


def test_go_style_single_dash_flags():
    beacon = Process([binary("pilot-beacon"), "-addr", "127.0.0.1:0",
                      "-beacon-id", "3", "-log-level", "debug"],
                     name="beacon")
    beacon.wait_for_log(r"beacon-listening.*beacon_id=3")
    assert beacon.stop() == 0


if __name__ == "__main__":
    run([
        test_discover_replies_with_observed_address,
        test_punch_request_reaches_both_nodes,
        test_relay_reaches_destination,
        test_relay_crosses_two_beacons,
        test_entries_expire_after_entry_ttl,
        test_hostile_datagrams_do_not_stop_the_beacon,
        test_sigint_stops_with_status_zero,
        test_invalid_flags_exit_with_status_two,
        test_go_style_single_dash_flags,
    ])
