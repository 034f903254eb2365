#!/usr/bin/env python3
"""Hostile input against the overlay transport of real daemons on loopback:
forged, truncated and replayed tunnel frames, key-exchange floods, a peer
that stops acknowledging, pipelined IPC requests and malformed transport
commands. Every daemon talks to a registry started here and to no beacon
unless a test starts one."""
import base64
import hashlib
import json
import os
import random
import socket
import struct
import threading
import time
import zlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey, X25519PublicKey)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from harness import (IPC_CLOSE, IPC_ERROR, IPC_MAX_SEND, IPC_SEND, Beacon,
                     IpcError, Registry, free_port, free_udp_port,
                     memory_bound_mib, run, wait_until)
from test_transport import Peer as TransportPeer
from test_transport import connect_pair

MIB = 1 << 20
RAW = serialization.Encoding.Raw
RAW_PUBLIC = serialization.PublicFormat.Raw


# -- daemons ------------------------------------------------------------------

class Peer(TransportPeer):
    """A transport test's daemon, with the address of its tunnel socket."""

    def __init__(self, registry, beacon=None, identity_home=None, **options):
        super().__init__(registry, beacon, identity_home, **options)
        match = self.daemon.wait_for_log(
            r"tunnel-started.*listen=([\d.]+):(\d+)")
        self.udp = (match.group(1), int(match.group(2)))

    def info(self):
        return self.node.ok("info")

    def frames_dropped(self):
        return self.info()["frames_dropped"]

    def peer_ids(self):
        return [p["node_id"] for p in self.info()["peer_list"]]

    def rss_mib(self):
        with open(f"/proc/{self.daemon.proc.pid}/status",
                  encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS for the daemon")

    def kill(self):
        """Kills the daemon without letting it close its connections."""
        for client in self.clients:
            client.close()
        self.clients = []
        self.daemon.proc.kill()
        self.daemon.proc.wait()
        self.receiver.close()


def echo_round_trip(src, dst, data=b"ping", timeout=60):
    """Dials dst's echo port from src and checks that `data` comes back."""
    conn = src.ipc().dial(dst.address, 7, timeout=timeout)
    conn.send(data)
    assert conn.read_exactly(len(data), timeout=10) == data


class Pump:
    """Streams a repeating random pattern from `dialed` to `accepted` and
    checks every byte that arrives."""

    def __init__(self, dialed, accepted, chunk=64 * 1024):
        self.pattern = os.urandom(1 << 16) * 2
        self.dialed = dialed
        self.accepted = accepted
        self.chunk = chunk
        self.sent = 0
        self.received = 0
        self.failure = None
        self.running = True
        self.threads = [threading.Thread(target=self._send, daemon=True),
                        threading.Thread(target=self._receive, daemon=True)]
        for thread in self.threads:
            thread.start()

    def _piece(self, offset, size):
        start = offset % (1 << 16)
        return self.pattern[start:start + size]

    def _send(self):
        try:
            while self.running:
                self.dialed.send(self._piece(self.sent, self.chunk),
                                 chunk=self.chunk)
                self.sent += self.chunk
                while self.running and self.sent - self.received > 4 * MIB:
                    time.sleep(0.01)
        except Exception as e:  # reported by check_flowing()
            self.failure = self.failure or f"send: {e!r}"

    def _receive(self):
        try:
            while self.running:
                piece = self.accepted.read_some(timeout=30)
                if not piece:
                    self.failure = self.failure or "the stream ended"
                    return
                while piece:
                    # Compare in pieces no longer than the pattern period.
                    part = piece[:1 << 16]
                    if part != self._piece(self.received, len(part)):
                        self.failure = f"corrupt data at byte {self.received}"
                        return
                    self.received += len(part)
                    piece = piece[len(part):]
        except Exception as e:  # reported by check_flowing()
            self.failure = self.failure or f"receive: {e!r}"

    def check_flowing(self, seconds=2.0):
        """Asserts that data keeps arriving intact."""
        before = self.received
        time.sleep(seconds)
        assert self.failure is None, self.failure
        assert self.received > before, "the stream stalled"

    def stop(self):
        self.running = False


# -- tunnel frames --------------------------------------------------------------

def packet(flags, protocol, src, dst, src_port, dst_port, seq=0, ack=0,
           window=0, payload=b""):
    """Encodes an overlay packet. `src` and `dst` are node IDs on network 0."""
    head = (struct.pack(">BBH", 0x10 | flags, protocol, len(payload))
            + struct.pack(">HI", 0, src) + struct.pack(">HI", 0, dst)
            + struct.pack(">HHIIH", src_port, dst_port, seq, ack, window))
    crc = zlib.crc32(head + b"\0\0\0\0" + payload) & 0xFFFFFFFF
    return head + struct.pack(">I", crc) + payload


def parse_packet(data):
    flags, protocol = data[0] & 0x0F, data[1]
    src_port, dst_port, seq, ack, window = struct.unpack(">HHIIH",
                                                         data[16:30])
    return {"flags": flags, "protocol": protocol, "src_port": src_port,
            "dst_port": dst_port, "seq": seq, "ack": ack}


def udp_socket():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    return sock


def send_paced(sock, frames, target):
    """Sends frames in bursts small enough for the daemon's socket buffer."""
    for i, frame in enumerate(frames):
        sock.sendto(frame, target)
        if i % 100 == 99:
            time.sleep(0.005)


def registry_request(registry, message):
    host, port = registry.address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        body = json.dumps(message).encode()
        sock.sendall(struct.pack(">I", len(body)) + body)
        reply = b""
        while len(reply) < 4 or len(reply) < 4 + struct.unpack(
                ">I", reply[:4])[0]:
            data = sock.recv(65536)
            assert data, "the registry closed the connection"
            reply += data
        return json.loads(reply[4:])


class ScriptedPeer:
    """A node registered from here that speaks PILA and PILS itself, so a
    test can send a daemon authenticated frames of its choice."""

    def __init__(self, registry):
        self.sock = udp_socket()
        self.identity = Ed25519PrivateKey.generate()
        self.x25519 = X25519PrivateKey.generate()
        self.x25519_public = self.x25519.public_key().public_bytes(
            RAW, RAW_PUBLIC)
        identity_public = self.identity.public_key().public_bytes(
            RAW, RAW_PUBLIC)
        port = self.sock.getsockname()[1]
        reply = registry_request(registry, {
            "type": "register", "listen_addr": f"127.0.0.1:{port}",
            "public_key": base64.b64encode(identity_public).decode()})
        assert reply["type"] == "register_ok", reply
        self.node_id = reply["node_id"]
        self.pila = (b"PILA" + struct.pack(">I", self.node_id)
                     + self.x25519_public + identity_public
                     + self.identity.sign(b"auth"
                                          + struct.pack(">I", self.node_id)
                                          + self.x25519_public))
        self.aead = None
        self.prefix = os.urandom(4)
        self.counter = 0

    def handshake(self, target, timeout=10):
        """Exchanges keys with the daemon at the UDP address `target`."""
        deadline = time.monotonic() + timeout
        self.sock.settimeout(0.5)
        while time.monotonic() < deadline:
            self.sock.sendto(self.pila, target)
            try:
                data, _ = self.sock.recvfrom(70000)
            except socket.timeout:
                continue
            if data[:4] == b"PILA":
                shared = self.x25519.exchange(
                    X25519PublicKey.from_public_bytes(data[8:40]))
                self.aead = AESGCM(hashlib.sha256(b"pilot-tunnel-v1:"
                                                  + shared).digest())
                return
        raise AssertionError("the daemon sent no key exchange")

    def seal(self, data):
        self.counter += 1
        nonce = self.prefix + struct.pack(">Q", self.counter)
        return (b"PILS" + struct.pack(">I", self.node_id) + nonce
                + self.aead.encrypt(nonce, data, None))

    def receive(self, seconds):
        """Returns the packets the daemon sent within `seconds`."""
        packets = []
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return packets
            self.sock.settimeout(left)
            try:
                data, _ = self.sock.recvfrom(70000)
            except socket.timeout:
                return packets
            if data[:4] == b"PILS":
                packets.append(self.aead.decrypt(data[8:20], data[20:], None))


# -- tests ----------------------------------------------------------------------

def test_garbage_frames_dropped_during_transfer():
    registry = Registry()
    beacon = Beacon()
    a, b = Peer(registry, beacon), Peer(registry, beacon)
    pump = Pump(*connect_pair(a, b))
    pump.check_flowing()
    forger = Ed25519PrivateKey.generate()
    forger_public = forger.public_key().public_bytes(RAW, RAW_PUBLIC)
    rng = random.Random(1)
    a_id = struct.pack(">I", a.node_id)
    bad_crc = bytearray(packet(0x2, 1, a.node_id, b.node_id, 1, 1000,
                               payload=b"x" * 10))
    bad_crc[33] ^= 0xFF
    long_length = bytearray(bad_crc)
    long_length[2:4] = b"\xff\xff"
    frames = (
        [os.urandom(rng.randint(4, 1500)) for _ in range(1000)]
        + [b""] * 100
        + [os.urandom(n) for n in (1, 2, 3) for _ in range(50)]
        # Every magic, cut below its minimum size.
        + [magic + os.urandom(n)
           for magic, minimum in ((b"PILT", 34), (b"PILS", 32),
                                  (b"PILK", 36), (b"PILA", 132))
           for n in range(minimum)]
        + [b"PILT" + os.urandom(65000), b"PILS" + os.urandom(65000)] * 5
        # Beacon messages, including relayed frames, from a stranger.
        + [bytes([rng.randint(0, 15)]) + os.urandom(rng.randint(0, 80))
           for _ in range(500)]
        + [b"\x06" + a_id + b"PILS" + a_id + os.urandom(60)] * 100
        + [b"PILT" + bytes(bad_crc), b"PILT" + bytes(long_length)] * 100
        # A had an encrypted session, so its plaintext is refused.
        + [b"PILT" + packet(0x8, 1, a.node_id, b.node_id, port, 1000)
           for port in range(49152, 49352)]
        # Forged PILS that claim A with counters near the top.
        + [b"PILS" + a_id + os.urandom(4) + struct.pack(">Q", counter)
           + os.urandom(60)
           for counter in (2**64 - 1, 2**63, 2**32) for _ in range(50)]
        # Key exchanges that claim A: a foreign identity, a bad signature.
        + [b"PILA" + a_id + os.urandom(32) + forger_public
           + forger.sign(b"x")] * 100
        + [b"PILK" + a_id + os.urandom(32)] * 100)

    rss_before = b.rss_mib()
    dropped_before = b.frames_dropped()
    attacker = udp_socket()
    send_paced(attacker, frames, b.udp)
    pump.check_flowing()

    dropped = b.frames_dropped() - dropped_before
    # The kernel may drop a few when the socket buffer runs full.
    assert dropped >= 0.95 * len(frames), (dropped, len(frames))
    assert b.peer_ids() == [a.node_id], b.info()["peer_list"]
    growth = b.rss_mib() - rss_before
    assert growth < memory_bound_mib(32), f"B grew by {growth:.0f} MiB"
    pump.stop()
    for peer in (a, b):
        peer.stop()
    beacon.stop()
    registry.stop()


def test_forged_inner_packets_dropped():
    registry = Registry()
    a, b = Peer(registry), Peer(registry)
    watcher = b.ipc()
    scripted = ScriptedPeer(registry)
    scripted.handshake(b.udp)
    dropped_before = b.frames_dropped()
    # An authenticated peer that claims A as the source, addresses another
    # node, or seals bytes that are no packet.
    for sealed in (packet(0, 2, a.node_id, b.node_id, 5, 6000, payload=b"a"),
                   packet(0, 2, scripted.node_id, 77, 5, 6000,
                          payload=b"b"),
                   b"not a packet" * 4):
        scripted.sock.sendto(scripted.seal(sealed), b.udp)
    wait_until(lambda: b.frames_dropped() - dropped_before >= 3, 5,
               what="three drops")
    # A genuine datagram from the scripted peer still arrives.
    scripted.sock.sendto(scripted.seal(packet(
        0, 2, scripted.node_id, b.node_id, 5, 6000, payload=b"real")),
        b.udp)
    src, _, dst_port, data = watcher.receive_datagram(timeout=5)
    assert (dst_port, data) == (6000, b"real"), (src, dst_port, data)
    assert watcher.datagrams.empty(), "a forged datagram reached the client"
    a.stop()
    b.stop()
    registry.stop()


def test_pilk_flood_keeps_authenticated_peer():
    registry = Registry()
    a, b = Peer(registry), Peer(registry)
    dialed, accepted = connect_pair(a, b)
    dialed.send(b"before")
    assert accepted.read_exactly(6) == b"before"
    # PILKs from node IDs the registry does not know each install an
    # unauthenticated session at B: more of them than B's peer table holds.
    # Most are dropped by the key-exchange budgets, so it takes a while.
    attacker = udp_socket()
    rng = random.Random(2)
    deadline = time.monotonic() + 60
    full_rounds = 0
    while full_rounds < 3:
        assert time.monotonic() < deadline, "B's peer table never filled"
        for _ in range(4000):
            attacker.sendto(b"PILK" + struct.pack(">I", rng.randint(
                1000, 2**32 - 2)) + os.urandom(32), b.udp)
            time.sleep(0.0001)
        # Go on for a while once the table is full, so that new sessions
        # have to evict old ones.
        if b.info()["peers"] >= 4096:
            full_rounds += 1

    assert a.node_id in b.peer_ids(), "the flood evicted the idle peer A"
    # The idle connection still carries data both ways.
    accepted.send(b"after")
    assert dialed.read_exactly(5, timeout=10) == b"after"
    dialed.send(b"again")
    assert accepted.read_exactly(5, timeout=10) == b"again"
    a.stop()
    b.stop()
    registry.stop()


def test_forged_pila_flood_allows_rekey():
    registry = Registry()
    a_listen = f"127.0.0.1:{free_udp_port()}"
    a = Peer(registry, listen=a_listen)
    b = Peer(registry)
    echo_round_trip(a, b)
    # PILAs that claim A, signed by another identity, 20 a second.
    forger = Ed25519PrivateKey.generate()
    x25519_public = os.urandom(32)
    claim = struct.pack(">I", a.node_id) + x25519_public
    forged = (b"PILA" + claim
              + forger.public_key().public_bytes(RAW, RAW_PUBLIC)
              + forger.sign(b"auth" + claim))
    stop = threading.Event()

    def flood():
        sock = udp_socket()
        while not stop.is_set():
            sock.sendto(forged, b.udp)
            time.sleep(0.05)

    flooder = threading.Thread(target=flood, daemon=True)
    flooder.start()
    try:
        time.sleep(2)
        # A restarts on the same address with a new X25519 key.
        a.kill()
        a = Peer(registry, identity_home=a.node.home, listen=a_listen)
        echo_round_trip(a, b, timeout=20)
        echo_round_trip(b, a, timeout=20)
    finally:
        stop.set()
        flooder.join()
    a.stop()
    b.stop()
    registry.stop()


def test_replayed_pila_cannot_cut_tunnel():
    registry = Registry()
    a, b = Peer(registry), Peer(registry)
    # A answers a frame it cannot open with its key exchange, so anyone can
    # get one, and replay it to B before A and B have talked.
    attacker = udp_socket()
    attacker.settimeout(5)
    attacker.sendto(b"PILS" + struct.pack(">I", 424242) + os.urandom(120),
                    a.udp)
    while True:
        frame, _ = attacker.recvfrom(70000)
        if frame[:4] == b"PILA":
            break
    attacker.sendto(frame, b.udp)
    wait_until(lambda: a.node_id in b.peer_ids(), 5,
               what="B taking the replayed key exchange")
    # B holds a session for A that A knows nothing of; A must still get
    # B's key, in both directions.
    echo_round_trip(a, b, timeout=20)
    echo_round_trip(b, a, timeout=20)
    a.stop()
    b.stop()
    registry.stop()


def test_close_after_sends_delivers_all():
    registry = Registry()
    a, b = Peer(registry), Peer(registry)
    dialed, accepted = connect_pair(a, b)
    data = os.urandom(IPC_MAX_SEND)
    # Six 1 MiB Sends and a Close, written without waiting, as a driver
    # does: the Close must not cut off the Sends still waiting for room.
    for _ in range(6):
        dialed.client.send_frame(IPC_SEND, struct.pack(">I", dialed.id) + data)
    dialed.client.send_frame(IPC_CLOSE, struct.pack(">I", dialed.id))
    accepted.wait_eof(timeout=60)
    assert accepted.received == 6 * len(data), accepted.received
    assert hashlib.sha256(bytes(accepted.buffer)).digest() == hashlib.sha256(
        data * 6).digest()
    assert not dialed.client.unsolicited_errors, (
        dialed.client.unsolicited_errors)
    a.stop()
    b.stop()
    registry.stop()


def test_silent_peer_aborts_connection():
    registry = Registry()
    b = Peer(registry)
    listener = b.ipc()
    listener.bind(1000)
    scripted = ScriptedPeer(registry)
    scripted.handshake(b.udp)
    me, you = scripted.node_id, b.node_id
    scripted.sock.sendto(scripted.seal(packet(0x1, 1, me, you, 40000, 1000,
                                              window=512)), b.udp)
    conn = listener.accept()

    scripted.sock.sendto(scripted.seal(packet(0x2, 1, me, you, 40000, 1000,
                                              seq=1, ack=1, window=512)),
                         b.udp)
    # B's program sends 3 MiB, and the peer never acknowledges any of it.
    for _ in range(3):
        conn.send(os.urandom(IPC_MAX_SEND), chunk=IPC_MAX_SEND)

    start = time.monotonic()
    seen = []
    while time.monotonic() - start < 40:
        seen += [parse_packet(p) for p in scripted.receive(1.0)]
        with listener.lock:
            if conn.eof:
                break

    assert conn.eof, "B's program never learned that the connection ended"
    elapsed = time.monotonic() - start
    assert elapsed < 35, f"the connection ended after {elapsed:.0f} s"
    assert any(p["flags"] & 0x8 for p in seen), "B sent no RST"
    # Retransmissions repeat the first segment, which starts at byte 1.
    first = [p for p in seen if p["seq"] == 1 and p["flags"] == 0x2]
    assert len(first) >= 2, f"{len(first)} transmissions of the first segment"
    assert b.info()["connections"] == 0, b.info()["conn_list"]
    other = Peer(registry)
    echo_round_trip(other, b)
    other.stop()
    b.stop()
    registry.stop()


def test_transport_ipc_bad_payloads():
    registry = Registry()
    a, b = Peer(registry), Peer(registry)
    client = b.ipc()
    address_a = struct.pack(">HI", 0, a.node_id)
    address_b = struct.pack(">HI", 0, b.node_id)
    cases = [
        (0x01, b"", "bind: missing port"),
        (0x01, b"\x03", "bind: missing port"),
        (0x01, b"\x00\x07", "port 7 already bound"),
        (0x03, b"", "dial: missing address/port"),
        (0x03, address_a, "dial: missing address/port"),
        (0x03, struct.pack(">HIH", 0, 0, 7), "invalid node ID"),
        (0x03, struct.pack(">HIH", 0, 0xFFFFFFFF, 7), "invalid node ID"),
        (0x03, address_b + b"\x00\x09", "connection refused"),
        (0x06, b"", "send: missing conn_id"),
        (0x06, b"\x00\x00", "send: missing conn_id"),
        (0x06, b"\x00\x00\x00\x63hi", "connection 99 not found"),
        (0x08, b"", "close: missing conn_id"),
        (0x0B, b"", "send_to: missing address/port"),
        (0x0B, address_a, "send_to: missing address/port"),
        (0x0B, struct.pack(">HIH", 0, 0xFFFFFFFF, 5) + b"x",
         "broadcast is not available"),
        (0x0B, address_a + b"\x00\x05" + b"x" * 70000, "at most 65428"),
        (0x0B, struct.pack(">HIH", 0, 0, 5) + b"x", "invalid node ID"),
        (0x0B, struct.pack(">HIH", 0, 987654, 5) + b"x", "node 987654"),
        (0x00, b"", "unknown command: 0x00"),
        (0x05, b"\x00" * 14, "unknown command: 0x05"),
        (0x07, b"\x00" * 8, "unknown command: 0x07"),
    ]
    for command, payload, expected in cases:
        # Each case fails, so its only reply is an Error.
        try:
            client.request(command, payload, IPC_ERROR)
            reply = "no error"
        except IpcError as e:
            reply = str(e)
        assert expected in reply, (hex(command), payload[:20], reply)

    assert client.close_connection(99) == 99
    echo_round_trip(a, b)
    a.stop()
    b.stop()
    registry.stop()


def test_registry_and_beacon_restarts_keep_stream():
    registry_port = free_port()
    registry = Registry(port=registry_port)
    beacon = Beacon()
    beacon_port = beacon.address[1]
    a, b = Peer(registry, beacon), Peer(registry, beacon)
    pump = Pump(*connect_pair(a, b))
    pump.check_flowing()
    registry.stop()
    pump.check_flowing()
    # A peer with a tunnel is dialed without asking the registry.
    echo_round_trip(a, b)
    registry = Registry(port=registry_port)
    beacon.stop()
    pump.check_flowing()
    beacon = Beacon(port=beacon_port)
    pump.check_flowing()
    pump.stop()
    for peer in (a, b):
        peer.stop()
    beacon.stop()
    registry.stop()


if __name__ == "__main__":
    run([
        test_garbage_frames_dropped_during_transfer,
        test_forged_inner_packets_dropped,
        test_pilk_flood_keeps_authenticated_peer,
        test_forged_pila_flood_allows_rekey,
        test_replayed_pila_cannot_cut_tunnel,
        test_close_after_sends_delivers_all,
        test_silent_peer_aborts_connection,
        test_transport_ipc_bad_payloads,
        test_registry_and_beacon_restarts_keep_stream,
    ])
