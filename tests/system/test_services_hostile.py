#!/usr/bin/env python3
"""The built-in services under attack from a hostile peer and a careless
user, between real daemons on loopback.

Port 444 gets garbage, stalls, and forged and replayed handshake messages.
Port 1001 gets frames at and over the limits, hostile file names and
memory pressure. Port 1002 gets oversize frames, stalled frames, slow
subscribers and fan-out pressure. After each attack the daemon must still
reply to pilotctl, still serve other peers, keep its memory bounded and
stop with exit code 0."""
import base64
import json
import os
import struct
import threading
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey)

from harness import memory_bound_mib, run, wait_until
from test_data_exchange import (BINARY, FILE, TEXT, data_dir, file_frame,
                                mode_of, read_ack)
from test_data_exchange import frame as data_frame
from test_pubsub import frame as event_frame
from test_transport import Peer, with_world

MIB = 1 << 20
MAX_FRAME = 16 * MIB


# -- helpers --------------------------------------------------------------------

def rss_mib(peer):
    """Returns the resident memory of the peer's daemon in MiB."""
    with open(f"/proc/{peer.daemon.proc.pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS line")


def check_alive(peer, other):
    """Fails unless `peer` replies to info and still accepts a message
    from `other`."""
    info = peer.node.ok("info")
    assert info["node_id"] == peer.node_id, info
    sent = other.node.ok("send-message", peer.address, "--data", "still here",
                         "--timeout", "20s", timeout=40)
    assert sent["ack"] == "ACK TEXT 10 bytes", sent


class Signer:
    """Signs handshake messages with a peer's own identity, as a hostile
    peer with a registered node can."""

    def __init__(self, peer):
        with open(os.path.join(data_dir(peer), "identity.json"),
                  encoding="ascii") as f:
            identity = json.load(f)
        seed = base64.b64decode(identity["private_key"])[:32]
        self.key = Ed25519PrivateKey.from_private_bytes(seed)
        self.public_key = identity["public_key"]
        self.node_id = peer.node_id

    def message(self, kind, to, node_id=None, timestamp=None,
                justification="", reason="", signature=None,
                public_key=None):
        node_id = self.node_id if node_id is None else node_id
        if signature is None:
            signature = base64.b64encode(self.key.sign(
                f"handshake:{node_id}:{to}".encode())).decode()
        return json.dumps({
            "type": kind, "node_id": node_id,
            "public_key": self.public_key if public_key is None
            else public_key,
            "justification": justification, "signature": signature,
            "reason": reason,
            "timestamp": int(time.time()) if timestamp is None else timestamp,
        }).encode()


def send_raw(client, peer, port, data, close=True):
    """Dials the peer's port, writes `data` and closes after a moment."""
    conn = client.dial(peer.address, port)
    if data:
        conn.send(data)
    if close:
        time.sleep(0.3)
        conn.close()
    return conn


def pending_ids(peer):
    return [e["node_id"] for e in peer.node.ok("pending")["pending"]]


def trusted_ids(peer):
    return [e["node_id"] for e in peer.node.ok("trust")["trusted"]]


# -- port 444 -------------------------------------------------------------------

@with_world(beacon=True)
def test_handshake_port_survives_garbage(world):
    a, b = world.peer(), world.peer()
    client = a.ipc()
    signer = Signer(a)
    attacks = [
        b"\x00\xff garbage \x01",
        b"}}}}{{{{",
        b'{"type":"handshake_request","node_id":',
        b"[1,2,3]",
        b'"just a string"',
        b'{"type":"handshake_request","node_id":-1}',
        b'{"type":"handshake_request","node_id":1e99}',
        b'{"type":"handshake_request","node_id":4294967296}',
        b'{"type":"handshake_request","timestamp":1.5}',
        b'{"type":"handshake_request","timestamp":99999999999999999999}',
        b'{"type":' + b'"' + b"x" * 20000 + b'"}',
        b"{" * 5000,
        signer.message("handshake_request", b.node_id,
                       justification="x" * 20000),
    ]
    conns = [send_raw(client, b, 444, data, close=False) for data in attacks]
    # Half a message that never ends, and a connection that sends nothing.
    conns.append(send_raw(client, b, 444, b'{"type":"handsh', close=False))
    conns.append(send_raw(client, b, 444, b"", close=False))
    # A real request from the same node still gets through.
    send_raw(client, b, 444, signer.message(
        "handshake_request", b.node_id, justification="real"))
    b.receiver.wait_for_data("handshake.pending",
                             lambda d: d["peer_node_id"] == a.node_id,
                             timeout=20)
    assert pending_ids(b) == [a.node_id]
    assert b.node.ok("pending")["pending"][0]["justification"] == "real"
    # The stalled connections end at the receive deadline.
    for conn in conns[-2:]:
        conn.wait_eof(timeout=20)
    for conn in conns:
        conn.close()
    check_alive(b, a)


@with_world(beacon=True)
def test_forged_handshake_messages_are_dropped(world):
    a, b, c = world.peer(), world.peer(), world.peer()
    client = a.ipc()
    signer = Signer(a)
    now = int(time.time())
    bad_signature = base64.b64encode(b"\x01" * 64).decode()
    c_signer = Signer(c)
    forged = [
        # Someone else's node ID, signed with our key.
        signer.message("handshake_request", b.node_id, node_id=c.node_id),
        # Someone else's node ID, with that node's key, but from our node.
        c_signer.message("handshake_request", b.node_id,
                         justification="c's signature from a"),
        # A signature that does not verify.
        signer.message("handshake_request", b.node_id,
                       signature=bad_signature),
        # No signature at all, and no key.
        signer.message("handshake_request", b.node_id, signature="",
                       public_key=""),
        # Signature not base64.
        signer.message("handshake_request", b.node_id, signature="!!!"),
        # The key of another node in the message.
        signer.message("handshake_request", b.node_id,
                       public_key=c_signer.public_key),
        # Outside the time window.
        signer.message("handshake_request", b.node_id, timestamp=now - 400),
        signer.message("handshake_request", b.node_id, timestamp=now + 120),
        signer.message("handshake_request", b.node_id, timestamp=-(1 << 63)),
        signer.message("handshake_request", b.node_id,
                       timestamp=(1 << 63) - 1),
        # Signed for another receiver.
        signer.message("handshake_request", c.node_id),
    ]
    for data in forged:
        send_raw(client, b, 444, data)
    # An accept with no request of B outstanding, and a revoke from a
    # node that B never trusted.
    send_raw(client, b, 444, signer.message("handshake_accept", b.node_id))
    send_raw(client, b, 444, signer.message("handshake_revoke", b.node_id,
                                            reason="trust revoked"))
    time.sleep(2)
    assert pending_ids(b) == [], b.node.ok("pending")
    assert trusted_ids(b) == [], b.node.ok("trust")
    b.receiver.assert_no_event("handshake.received")
    b.receiver.assert_no_event("trust.revoked_by_peer")

    # A valid request, settled by a reject, then replayed byte for byte.
    request = signer.message("handshake_request", b.node_id,
                             justification="once")
    send_raw(client, b, 444, request)
    b.receiver.wait_for_data("handshake.pending",
                             lambda d: d["peer_node_id"] == a.node_id)
    b.node.ok("reject", str(a.node_id), "no")
    send_raw(client, b, 444, request)
    time.sleep(1.5)
    assert pending_ids(b) == []
    assert len(b.receiver.event_data("handshake.received")) == 1
    check_alive(b, a)


@with_world(beacon=True)
def test_careless_trust_commands_fail_cleanly(world):
    a = world.peer()
    for args in (("approve", "4242"), ("reject", "4242", "no"),
                 ("untrust", "4242"), ("approve", "0"),
                 ("approve", "not-a-number"), ("approve", "99999999999"),
                 ("handshake", str(a.node_id), "me")):
        code, out = a.node.pilotctl(*args)
        assert code != 0, (args, out)
        assert out.get("status") == "error", (args, out)
    a.receiver.assert_no_event("handshake.rejected")
    a.receiver.assert_no_event("trust.revoked")
    # A request to a node the registry does not know cannot be sent.
    code, out = a.node.pilotctl("handshake", "3999999", "nobody")
    assert code != 0, out
    assert out.get("status") == "error", out
    check_alive(a, world.peer())


@with_world(beacon=True)
def test_corrupt_trust_file_is_kept(world):
    a, b = world.peer(), world.peer()
    path = os.path.join(data_dir(b), "trust.json")
    home = b.node.home
    world.peers.remove(b)
    b.stop()
    corrupt = b'{"trusted": [{"node_id": "seven"'
    with open(path, "wb") as f:
        f.write(corrupt)
    os.chmod(path, 0o600)
    again = Peer(world.registry, world.beacon, identity_home=home)
    world.peers.append(again)
    again.daemon.wait_for_log(r"trust-file-invalid")
    a.node.ok("handshake", str(again.node_id), "hello")
    again.receiver.wait_for_data("handshake.pending",
                                 lambda d: d["peer_node_id"] == a.node_id)
    with open(path, "rb") as f:
        assert f.read() == corrupt
    check_alive(again, a)


@with_world(beacon=True)
def test_odd_trust_files_are_kept(world):
    a = world.peer()
    path = os.path.join(data_dir(a), "trust.json")
    home = a.node.home
    world.peers.remove(a)
    a.stop()
    for content in (b"", b"[]", b'{"trusted": [{"node_id": 4294967296}]}',
                    b'{"trusted": [{"node_id": -1}]}',
                    b'{"trusted": {"node_id": 7}}',
                    b'{"pending": [{"node_id": 7, "received_at": 5}]}'):
        with open(path, "wb") as f:
            f.write(content)
        os.chmod(path, 0o600)
        again = Peer(world.registry, world.beacon, identity_home=home)
        again.daemon.wait_for_log(r"trust-file-invalid")
        assert again.node.ok("trust")["trusted"] == [], content
        again.stop()
        with open(path, "rb") as f:
            assert f.read() == content
    # A file with unknown keys and a null list is a valid one.
    with open(path, "wb") as f:
        f.write(b'{"trusted": null, "extra": {"x": [1]}}')
    again = Peer(world.registry, world.beacon, identity_home=home)
    world.peers.append(again)
    assert again.node.ok("trust")["trusted"] == []
    assert "trust-file-invalid" not in again.daemon.log()


@with_world(beacon=True)
def test_stop_during_attacks(world):
    a, b = world.peer(), world.peer()
    # A stuck subscriber with a queue, a half handshake and a large frame
    # in progress while the daemon stops.
    stuck = a.ipc()
    sub = stuck.dial(b.address, 1002)
    sub.send(event_frame(b"t"))
    pub = a.ipc().dial(b.address, 1002)
    pub.send(event_frame(b"p"))
    wait_until(lambda: len(b.receiver.event_data("pubsub.subscribed")) >= 2,
               15, what="two subscriptions")
    stuck.pause_reading()
    for _ in range(8):
        pub.send(event_frame(b"t", b"\0" * MIB))
    send_raw(a.ipc(), b, 444, b'{"type":"handsh', close=False)
    big = a.ipc().dial(b.address, 1001)
    big.send(struct.pack(">II", BINARY, MAX_FRAME) + b"\0" * (8 * MIB))
    time.sleep(1)
    world.peers.remove(b)
    started = time.monotonic()
    code = b.daemon.stop(timeout=15)
    assert code == 0, b.daemon.log()[-3000:]
    assert time.monotonic() - started < 10
    b.receiver.close()
    stuck.resume_reading()


# -- port 1001 ------------------------------------------------------------------

@with_world(beacon=True)
def test_data_frames_at_the_limits(world):
    a, b = world.peer(), world.peer()
    client = a.ipc()
    conn = client.dial(b.address, 1001)
    conn.send(data_frame(TEXT, b""))
    assert read_ack(conn) == "ACK TEXT 0 bytes"
    conn.send(data_frame(FILE, b""))
    assert read_ack(conn) == "ACK FILE 0 bytes"
    conn.send(data_frame(FILE, b"\x00"))
    assert read_ack(conn) == "ACK FILE 1 bytes"
    # A name longer than the payload: no name, so nothing is saved.
    conn.send(data_frame(FILE, struct.pack(">H", 500) + b"short"))
    assert read_ack(conn) == "ACK FILE 7 bytes"
    conn.send(data_frame(99, b"abc"))
    assert read_ack(conn) == "ACK UNKNOWN(99) 3 bytes"
    conn.send(data_frame(0xFFFFFFFF, b""))
    assert read_ack(conn) == "ACK UNKNOWN(4294967295) 0 bytes"
    payload = os.urandom(MAX_FRAME)
    conn.send(data_frame(BINARY, payload))
    assert read_ack(conn, timeout=60) == f"ACK BINARY {MAX_FRAME} bytes"
    assert not os.path.exists(os.path.join(data_dir(b), "received")) or \
        os.listdir(os.path.join(data_dir(b), "received")) == []
    # One byte over ends the connection before the payload arrives.
    conn.send(struct.pack(">II", BINARY, MAX_FRAME + 1) + b"x" * 1000)
    conn.wait_eof(timeout=20)
    over = client.dial(b.address, 1001)
    over.send(struct.pack(">II", TEXT, 0xFFFFFFFF))
    over.wait_eof(timeout=20)
    check_alive(b, a)


@with_world(beacon=True)
def test_hostile_file_names(world):
    a, b = world.peer(), world.peer()
    client = a.ipc()
    conn = client.dial(b.address, 1001)
    escape = f"escape-{os.getpid()}-{time.monotonic_ns()}".encode()
    names = [b".", b"/etc/passwd", b"../../../../tmp/" + escape, b"a\nb.txt",
             b"\x1b[31mred\x1b[0m.txt", b"\xff\xfe\xfd.bin", b"n" * 5000,
             b"...", b"-", b"x/", b"x/..", b"~", b"\x00", b"a\\..\\b",
             ("é" * 2000 + ".txt").encode(), b"x." + b"e" * 300,
             b"COM1", b" ", b"..." + b"/" * 100]
    for i, name in enumerate(names):
        conn.send(file_frame(name, f"n{i}".encode()))
    acks = [read_ack(conn) for _ in names]
    assert all(ack == f"ACK FILE {len(f'n{i}')} bytes"
               for i, ack in enumerate(acks)), acks
    wait_until(lambda: len(b.receiver.event_data("file.received"))
               == len(names), 15, what="every file.received")
    received = os.path.realpath(os.path.join(data_dir(b), "received"))
    assert mode_of(received) == 0o700
    contents = set()
    for event in b.receiver.event_data("file.received"):
        path = os.path.realpath(event["path"])
        assert os.path.dirname(path) == received, event
        assert mode_of(path) == 0o600, event
        assert "/" not in event["filename"], event
        assert "\x00" not in event["filename"], event
        with open(path, "rb") as f:
            contents.add(f.read())
    assert len(contents) == len(names)
    assert len(os.listdir(received)) == len(names)
    assert not os.path.exists(os.path.join("/tmp", escape.decode()))
    check_alive(b, a)


@with_world(beacon=True)
def test_many_files_with_one_name(world):
    a, b = world.peer(), world.peer()
    client = a.ipc()
    conn = client.dial(b.address, 1001)
    count = 300
    conn.send(b"".join(file_frame(b"same.txt", str(i).encode())
                       for i in range(count)))
    acks = [read_ack(conn) for _ in range(count)]
    assert all(ack.startswith("ACK FILE") for ack in acks), acks[:5]
    received = os.path.join(data_dir(b), "received")
    wait_until(lambda: len(os.listdir(received)) == count, 20,
               what="every file")
    contents = set()
    for name in os.listdir(received):
        with open(os.path.join(received, name), "rb") as f:
            contents.add(f.read())
    assert contents == {str(i).encode() for i in range(count)}


@with_world(beacon=True)
def test_send_file_at_and_over_the_limit(world):
    a, b = world.peer(), world.peer()
    exact = os.path.join(a.node.home, "exact.bin")
    with open(exact, "wb") as f:
        f.write(b"\x5a" * (MAX_FRAME - 2 - len("exact.bin")))
    out = a.node.ok("send-file", b.address, exact, "--timeout", "90s",
                    timeout=120)
    assert out["ack"].startswith("ACK FILE"), out
    over = os.path.join(a.node.home, "over.bin")
    with open(over, "wb") as f:
        f.write(b"\x5a" * (MAX_FRAME + 1))
    code, out = a.node.pilotctl("send-file", b.address, over, timeout=60)
    assert code != 0, out
    assert out.get("status") == "error", out
    time.sleep(1)
    assert len(b.receiver.event_data("file.received")) == 1
    check_alive(b, a)


@with_world(beacon=True)
def test_many_large_unfinished_frames_stay_bounded(world):
    a, b = world.peer(), world.peer()
    before = rss_mib(b)
    conns = []
    for _ in range(8):
        # One client each: a Send on a closed connection gets an
        # error reply that the client's next request would otherwise take.
        conn = a.ipc().dial(b.address, 1001)
        conn.send(struct.pack(">II", BINARY, MAX_FRAME) + b"\0" * (14 * MIB))
        conns.append(conn)
    time.sleep(8)
    # 8 x 14 MiB is over the 64 MiB buffer limit: the slowest ones go.
    closed = [c for c in conns if c.eof]
    assert closed, "no connection was closed"
    # The budget: 64 MiB of unfinished frames, whose buffers may take up to
    # 16 MiB each once half a frame arrived, a 2 MiB receive window per
    # connection, and the daemon's working set under load. NOTE: the bound
    # only catches growth far beyond it; the closed connections above are
    # the sharper check that the limit holds.
    grown = rss_mib(b) - before
    assert grown < memory_bound_mib(256), f"RSS grew by {grown:.0f} MiB"
    check_alive(b, a)
    for conn in conns:
        conn.close()


# -- port 1002 ------------------------------------------------------------------

@with_world(beacon=True)
def test_event_frames_at_the_limits(world):
    a, b = world.peer(), world.peer()
    client = a.ipc()
    ok = client.dial(b.address, 1002)
    ok.send(event_frame(b"t" * 1024))
    b.receiver.wait_for_data("pubsub.subscribed",
                             lambda d: d["topic"] == "t" * 1024)
    over = client.dial(b.address, 1002)
    over.send(struct.pack(">H", 1025) + b"t" * 1025 + struct.pack(">I", 0))
    over.wait_eof(timeout=20)
    big = client.dial(b.address, 1002)
    big.send(event_frame(b"x"))
    big.send(struct.pack(">H", 1) + b"x" + struct.pack(">I", MAX_FRAME + 1))
    big.wait_eof(timeout=20)
    # Exactly 16 MiB goes through to a subscriber.
    sub = client.dial(b.address, 1002)
    sub.send(event_frame(b"big"))
    pub = client.dial(b.address, 1002)
    pub.send(event_frame(b"pub"))
    wait_until(lambda: len(b.receiver.event_data("pubsub.subscribed")) >= 4,
               15, what="four subscriptions")
    payload = os.urandom(MAX_FRAME)
    pub.send(event_frame(b"big", payload))
    got = sub.read_exactly(2 + 3 + 4 + MAX_FRAME, timeout=90)
    assert got[9:] == payload
    check_alive(b, a)


class Trickle:
    """Keeps unfinished frames alive by sending one more byte on each
    connection every second, as a slow-loris attacker does."""

    def __init__(self, conns):
        self.conns = conns
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.wait(1.0):
            for conn in self.conns:
                if not conn.eof:
                    conn.send(b"\0")

    def close(self):
        self.stop.set()
        self.thread.join(5)


def check_honest_transfer_beats_stalled_frames(a, b, c, port, start_stall,
                                               transfer):
    """Has `a` hold unfinished frames just under the service's 64 MiB
    buffer limit on four connections, kept alive byte by byte, then runs
    an honest transfer of 8 MiB from `c`, which must succeed."""
    stalled = []
    for _ in range(4):
        conn = a.ipc().dial(b.address, port)
        start_stall(conn)
        stalled.append(conn)
    trickle = Trickle(stalled)
    try:
        time.sleep(3)
        transfer()
    finally:
        trickle.close()
        for conn in stalled:
            conn.close()
    check_alive(b, a)


@with_world(beacon=True)
def test_stalled_publishers_do_not_block_others(world):
    a, b, c = world.peer(), world.peer(), world.peer()

    def start_stall(conn):
        conn.send(event_frame(b"junk"))
        conn.send(struct.pack(">H", 1) + b"j" + struct.pack(">I", MAX_FRAME)
                  + b"\0" * (15 * MIB))

    def transfer():
        honest = c.ipc()
        sub = honest.dial(b.address, 1002)
        sub.send(event_frame(b"news"))
        pub = honest.dial(b.address, 1002)
        pub.send(event_frame(b"pub"))
        wait_until(lambda: len(b.receiver.event_data(
            "pubsub.subscribed", lambda d: d["topic"] in ("news", "pub")))
            == 2, 15, what="honest subscriptions")
        payload = os.urandom(8 * MIB)
        pub.send(event_frame(b"news", payload))
        got = sub.read_exactly(2 + 4 + 4 + len(payload), timeout=30)
        assert got[10:] == payload

    check_honest_transfer_beats_stalled_frames(a, b, c, 1002, start_stall,
                                               transfer)


@with_world(beacon=True)
def test_stalled_file_senders_do_not_block_others(world):
    a, b, c = world.peer(), world.peer(), world.peer()

    def start_stall(conn):
        conn.send(struct.pack(">II", BINARY, MAX_FRAME) + b"\0" * (15 * MIB))

    def transfer():
        path = os.path.join(c.node.home, "honest.bin")
        with open(path, "wb") as f:
            f.write(os.urandom(8 * MIB))
        out = c.node.ok("send-file", b.address, path, "--timeout", "60s",
                        timeout=90)
        assert out["ack"] == f"ACK FILE {8 * MIB} bytes", out

    check_honest_transfer_beats_stalled_frames(a, b, c, 1001, start_stall,
                                               transfer)


@with_world(beacon=True)
def test_slow_subscriber_is_dropped(world):
    a, b, c = world.peer(), world.peer(), world.peer()
    slow_client = a.ipc()
    slow = slow_client.dial(b.address, 1002)
    slow.send(event_frame(b"flood"))
    fast_client = c.ipc()
    fast = fast_client.dial(b.address, 1002)
    fast.send(event_frame(b"flood"))
    pub = fast_client.dial(b.address, 1002)
    pub.send(event_frame(b"pub"))
    wait_until(lambda: len(b.receiver.event_data("pubsub.subscribed")) >= 3,
               15, what="three subscriptions")
    slow_client.pause_reading()
    before = rss_mib(b)
    chunk = os.urandom(MIB)
    frames = 96
    for _ in range(frames):
        pub.send(event_frame(b"flood", chunk))
    fast.wait_received(frames * (2 + 5 + 4 + MIB), timeout=120)
    b.daemon.wait_for_log(r"subscriber-too-slow|write-failed", timeout=60)
    grown = rss_mib(b) - before
    assert grown < memory_bound_mib(200), f"RSS grew by {grown:.0f} MiB"
    slow_client.resume_reading()
    check_alive(b, a)


@with_world(beacon=True)
def test_fan_out_to_stuck_subscribers_stays_bounded(world):
    a, b, c = world.peer(), world.peer(), world.peer()
    stuck_client = a.ipc()
    subscribers = []
    for _ in range(24):
        conn = stuck_client.dial(b.address, 1002)
        conn.send(event_frame(b"fan"))
        subscribers.append(conn)
    wait_until(lambda: len(b.receiver.event_data("pubsub.subscribed")) >= 24,
               30, what="24 subscriptions")
    stuck_client.pause_reading()
    before = rss_mib(b)
    pub = c.ipc().dial(b.address, 1002)
    pub.send(event_frame(b"pub"))
    payload = os.urandom(MAX_FRAME)
    peak = before
    for _ in range(2):
        pub.send(event_frame(b"fan", payload))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        peak = max(peak, rss_mib(b))
        time.sleep(0.2)
    # The broker bounds what waits for subscribers to 256 MiB in all; two
    # frames to 24 subscribers must not cost 24 copies each.
    bound = memory_bound_mib(400)
    assert peak - before < bound, f"RSS grew by {peak - before:.0f} MiB"
    stuck_client.resume_reading()
    check_alive(b, c)


if __name__ == "__main__":
    run([
        test_handshake_port_survives_garbage,
        test_forged_handshake_messages_are_dropped,
        test_careless_trust_commands_fail_cleanly,
        test_corrupt_trust_file_is_kept,
        test_odd_trust_files_are_kept,
        test_stop_during_attacks,
        test_data_frames_at_the_limits,
        test_hostile_file_names,
        test_many_files_with_one_name,
        test_send_file_at_and_over_the_limit,
        test_many_large_unfinished_frames_stay_bounded,
        test_event_frames_at_the_limits,
        test_stalled_publishers_do_not_block_others,
        test_stalled_file_senders_do_not_block_others,
        test_slow_subscriber_is_dropped,
        test_fan_out_to_stuck_subscribers_stays_bounded,
    ])
