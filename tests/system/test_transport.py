#!/usr/bin/env python3
"""Tunnels, stream connections and datagrams between two real daemons on
loopback, each with its own registry and beacon started here, checked by
the webhook events at recording receivers, by pilotctl and by a client that
speaks the IPC framing directly."""
import hashlib
import os
import socket
import struct
import threading
import time
import zlib

from harness import (IPC_ERROR, IPC_SEND, Beacon, IpcError, Node, Receiver,
                     Registry, finish_pilotctl, free_udp_port,
                     memory_bound_mib, run, wait_until)
from lossy_relay import TO_TARGET, LossyRelay

EPHEMERAL = range(49152, 65536)
MIB = 1 << 20
PILS = b"PILS"


class Peer:
    """A daemon started for a test, its receiver and its registration."""

    def __init__(self, registry, beacon=None, identity_home=None,
                 extra_args=(), **options):
        self.receiver = Receiver()
        self.node = Node(registry, beacon)
        if identity_home is not None:
            # Same identity file, so the registry gives back the same node.
            self.node.home = identity_home
            self.node.socket = os.path.join(identity_home, "pilot.sock")
        self.daemon = self.node.start_daemon(*extra_args,
                                             webhook=self.receiver.url,
                                             public=True, **options)
        info = self.node.wait_registered()
        self.node_id = info["node_id"]
        self.address = info["address"]
        self.clients = []

    def ipc(self):
        client = self.node.ipc()
        self.clients.append(client)
        return client

    def stop(self):
        for client in self.clients:
            client.close()
        code = self.daemon.stop()
        self.receiver.close()
        assert code == 0, f"daemon exited {code}:\n{self.daemon.log()}"


class World:
    """A registry, an optional beacon and the peers of one test."""

    def __init__(self, beacon=False):
        self.registry = Registry()
        self.beacon = Beacon() if beacon else None
        self.peers = []
        self.relays = []

    def peer(self, beacon=None, **options):
        peer = Peer(self.registry, beacon or self.beacon, **options)
        self.peers.append(peer)
        return peer

    def relay(self, target, **faults):
        relay = LossyRelay(target, **faults)
        self.relays.append(relay)
        return relay

    def stop(self):
        for peer in self.peers:
            peer.stop()
        for relay in self.relays:
            relay.close()
        if self.beacon:
            assert self.beacon.stop() == 0
        self.registry.stop()


def with_world(beacon=False):
    """Runs the test with a World that is stopped afterwards, also when the
    test fails (the daemons' logs then go to stdout)."""
    def decorate(test):
        def wrapper():
            world = World(beacon)
            try:
                test(world)
            except BaseException:
                for peer in world.peers:
                    print(f"--- daemon {peer.address} log:\n"
                          f"{peer.daemon.log()[-6000:]}")
                try:
                    world.stop()
                except (AssertionError, OSError) as e:
                    print(f"--- stopping after the failure: {e!r}")
                raise
            world.stop()
        wrapper.__name__ = test.__name__
        return wrapper
    return decorate


def conn_fields(addr_key, port_key, local_key):
    """Returns a checker for the four fields of a conn.* event."""
    def check(data, addr, port=None, local_port=None, conn_id=None):
        assert set(data) == {addr_key, port_key, local_key, "conn_id"}, data
        assert data[addr_key] == addr, data
        assert isinstance(data[port_key], int), data
        assert isinstance(data[local_key], int), data
        assert isinstance(data["conn_id"], int) and data["conn_id"] >= 1, data
        if port is not None:
            assert data[port_key] == port, data
        if local_port is not None:
            assert data[local_key] == local_port, data
        if conn_id is not None:
            assert data["conn_id"] == conn_id, data
    return check


check_syn_event = conn_fields("src_addr", "src_port", "dst_port")
check_close_event = conn_fields("remote_addr", "remote_port", "local_port")


def check_established(receiver, peer_id, relay=False):
    data = receiver.wait_for_data(
        "tunnel.established", lambda d: d["peer_node_id"] == peer_id)
    assert data == {"peer_node_id": peer_id, "authenticated": True,
                    "relay": relay, "rekeyed": False}, data


def round_trip(sender, receiver_conn, size, chunk=256 * 1024, timeout=60):
    """Sends `size` random bytes from the connection `sender`; the accepted
    connection `receiver_conn` echoes every chunk back through its own
    client. Returns the SHA-256 digests of the data sent, of the data
    the far side received, and of the data that came back."""
    data = os.urandom(size)
    far_hash = hashlib.sha256()
    far_count = [0]
    failure = []

    def echo():
        try:
            while far_count[0] < size:
                piece = receiver_conn.read_some(timeout)
                if not piece:
                    break
                far_hash.update(piece)
                far_count[0] += len(piece)
                receiver_conn.send(piece)
        except BaseException as e:  # reported by the main thread
            failure.append(e)

    echo_thread = threading.Thread(target=echo, daemon=True)
    echo_thread.start()
    sending = threading.Thread(target=sender.send, args=(data, chunk),
                               daemon=True)
    sending.start()
    back = sender.read_exactly(size, timeout)
    sending.join(timeout)
    echo_thread.join(timeout)
    assert not failure, f"echo side failed: {failure[0]!r}"
    assert far_count[0] == size, f"far side got {far_count[0]} of {size}"
    return (hashlib.sha256(data).hexdigest(), far_hash.hexdigest(),
            hashlib.sha256(back).hexdigest())


def connect_pair(a, b, port=1000):
    """Binds `port` on b, dials it from a; returns (dialed, accepted)."""
    listener = b.ipc()
    assert listener.bind(port) == port
    dialer = a.ipc()
    dialed = dialer.dial(b.address, port)
    accepted = listener.accept()
    assert accepted.local_port == port, accepted.local_port
    assert accepted.remote_addr == a.address, accepted.remote_addr
    assert accepted.remote_port in EPHEMERAL, accepted.remote_port
    return dialed, accepted


def encode_packet(flags, protocol, src_node, dst_node, src_port, dst_port,
                  seq=0, ack=0, window=0, payload=b""):
    """Encodes an overlay packet on network 0: the 34-byte header with its
    CRC-32, then the payload."""
    header = struct.pack(">BBHHIHIHHIIHI", 0x10 | flags, protocol,
                         len(payload), 0, src_node, 0, dst_node, src_port,
                         dst_port, seq, ack, window, 0)
    crc = zlib.crc32(header + payload)
    return header[:30] + struct.pack(">I", crc) + payload


def tunnel_counters(peer):
    info = peer.node.ok("info")
    return (info["pkts_sent"], info["pkts_recv"])


def frames_dropped(peer):
    return peer.node.ok("info")["frames_dropped"]


def assert_tunnel_quiet(peers, seconds=2.0):
    """Fails if the peers' daemons send or receive any tunnel packet within
    `seconds`, as a packet loop between them would."""
    before = [tunnel_counters(p) for p in peers]
    time.sleep(seconds)
    after = [tunnel_counters(p) for p in peers]
    assert after == before, f"tunnel packets kept flowing: {before} -> {after}"


def pils_counter(frame):
    """Returns the sender node ID and the nonce counter of a PILS frame."""
    sender, counter = struct.unpack(">I4xQ", frame[4:20])
    return sender, counter


def resident_mib(process):
    """Returns the resident memory of a running process in MiB."""
    with open(f"/proc/{process.proc.pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {process.name}")


# -- tunnel and stream basics -------------------------------------------------

@with_world(beacon=True)
def test_tunnel_comes_up_authenticated(world):
    a, b = world.peer(), world.peer()
    out = a.node.ok("connect", b.address, "7", "--message", "hello",
                    "--timeout", "20s")
    assert out["response"] == "hello", out
    check_established(a.receiver, b.node_id)
    check_established(b.receiver, a.node_id)
    peers = a.node.ok("peers")
    entry = [p for p in peers["peers"] if p["node_id"] == b.node_id]
    assert len(entry) == 1, peers
    assert entry[0]["encrypted"] is True, entry
    assert entry[0]["authenticated"] is True, entry
    assert entry[0]["endpoint"].startswith("127.0.0.1:"), entry
    info = a.node.ok("info")
    assert info["encrypted_peers"] >= 1, info
    assert info["authenticated_peers"] >= 1, info
    # Encrypted mode adds peers through the key exchange, not on a packet.
    a.receiver.assert_no_event("tunnel.peer_added")
    # Duplicate key exchanges during the bring-up raise no false alarm.
    a.receiver.assert_no_event("security.nonce_replay")
    b.receiver.assert_no_event("security.nonce_replay")


@with_world(beacon=True)
def test_echo_over_pilotctl_connect(world):
    a, b = world.peer(), world.peer()
    out = a.node.ok("connect", b.address, "7", "--message", "echo me",
                    "--timeout", "20s")
    assert out["target"] == b.address, out
    assert out["port"] == 7, out
    assert out["sent"] == "echo me", out
    assert out["response"] == "echo me", out
    syn = b.receiver.wait_for_data("conn.syn_received")
    check_syn_event(syn, a.address, local_port=7)
    assert syn["src_port"] in EPHEMERAL, syn
    established = b.receiver.wait_for_data("conn.established")
    assert established == syn, (established, syn)
    # pilotctl closes its connection, so port 7 gets the FIN.
    fin = b.receiver.wait_for_data("conn.fin")
    check_close_event(fin, a.address, port=syn["src_port"], local_port=7,
                      conn_id=syn["conn_id"])
    # The dialer never reports conn.established, and its own close no
    # conn.fin.
    a.receiver.assert_no_event("conn.established")
    a.receiver.assert_no_event("conn.fin")


@with_world(beacon=True)
def test_ping_bench_and_connections(world):
    a, b = world.peer(), world.peer()
    ping = a.node.ok("ping", b.address, "--count", "2", "--timeout", "20s")
    assert ping["target"] == b.address, ping
    assert ping["timeout"] is False, ping
    assert len(ping["results"]) == 2, ping
    assert len({r["seq"] for r in ping["results"]}) == 2, ping
    for result in ping["results"]:
        assert "error" not in result, ping
        assert result["rtt_ms"] >= 0, ping
        assert result["bytes"] > 0, ping

    bench = a.node.ok("bench", b.address, "1", "--timeout", "60s")
    assert bench["sent_bytes"] == MIB, bench
    assert bench["recv_bytes"] == MIB, bench
    assert bench["send_mbps"] > 0, bench
    assert bench["total_mbps"] > 0, bench

    dialed, accepted = connect_pair(a, b)
    listing = b.node.ok("connections")
    entry = [c for c in listing["connections"] if c["id"] == accepted.id]
    assert len(entry) == 1, listing
    assert entry[0]["state"] == "ESTABLISHED", entry
    assert entry[0]["local_port"] == 1000, entry
    assert entry[0]["remote_addr"] == a.address, entry
    assert entry[0]["remote_port"] == accepted.remote_port, entry
    assert listing["total"] >= 1, listing

    # disconnect closes B's side, so A gets the FIN.
    assert b.node.ok("disconnect", str(accepted.id)) == {"conn_id": accepted.id}
    dialed.wait_eof()
    fin = a.receiver.wait_for_data("conn.fin",
                                   lambda d: d["local_port"] != 7)
    check_close_event(fin, b.address, port=1000,
                      local_port=accepted.remote_port)


@with_world(beacon=True)
def test_send_and_recv_over_pilotctl(world):
    a, b = world.peer(), world.peer()
    recv = b.node.pilotctl_process("recv", "1000", "--count", "1",
                                   "--timeout", "20s")

    # recv binds port 1000 once it runs; until then the dial is refused.
    def sent():
        code, out = a.node.pilotctl("send", b.address, "1000", "--data",
                                    "over the tunnel", "--timeout", "5s")
        return out["data"] if code == 0 else None

    out = wait_until(sent, 15, interval=0.2, what="pilotctl send")
    assert out["sent"] == "over the tunnel", out
    data = finish_pilotctl(recv, 25)
    assert data["timeout"] is False, data
    assert len(data["messages"]) == 1, data
    message = data["messages"][0]
    assert message["data"] == "over the tunnel", message
    assert message["bytes"] == len("over the tunnel"), message
    assert message["port"] == 1000, message


@with_world(beacon=True)
def test_16_mib_round_trip_intact(world):
    a, b = world.peer(), world.peer()
    dialed, accepted = connect_pair(a, b)
    syn = b.receiver.wait_for_data("conn.established")
    check_syn_event(syn, a.address, port=accepted.remote_port,
                    local_port=1000, conn_id=accepted.id)
    sent, far, back = round_trip(dialed, accepted, 16 * MIB, timeout=90)
    assert far == sent, "the far side received other bytes than were sent"
    assert back == sent, "the echoed bytes differ from the bytes sent"
    assert not a.receiver.event_data("security.nonce_replay")
    assert not b.receiver.event_data("security.nonce_replay")
    dialed.close()
    accepted.wait_eof()
    fin = b.receiver.wait_for_data("conn.fin")
    check_close_event(fin, a.address, port=accepted.remote_port,
                      local_port=1000, conn_id=accepted.id)


@with_world(beacon=False)
def test_plaintext_tunnel_adds_peer(world):
    a = world.peer(encrypt=False)
    b = world.peer(encrypt=False)
    dialed, accepted = connect_pair(a, b)
    sent, far, back = round_trip(dialed, accepted, 256 * 1024)
    assert far == sent, "the far side received other bytes than were sent"
    assert back == sent, "the echoed bytes differ from the bytes sent"
    added = b.receiver.wait_for_data("tunnel.peer_added")
    assert set(added) == {"peer_node_id", "endpoint"}, added
    assert added["peer_node_id"] == a.node_id, added
    assert added["endpoint"].startswith("127.0.0.1:"), added
    a.receiver.assert_no_event("tunnel.established")
    b.receiver.assert_no_event("tunnel.established")


@with_world(beacon=False)
def test_stalled_reader_bounds_memory(world):
    a, b = world.peer(), world.peer()
    dialed, accepted = connect_pair(a, b)
    reader = accepted.client
    size = 32 * MIB
    data = os.urandom(size)
    rss_before = resident_mib(b.daemon)
    reader.pause_reading()
    sending = threading.Thread(target=dialed.send, args=(data,), daemon=True)
    sending.start()
    # The sender must block once the window and the buffers are full,
    # instead of B buffering all 32 MiB for a client that does not read.
    time.sleep(3)
    assert sending.is_alive(), "32 MiB went out to a reader that reads nothing"
    growth = resident_mib(b.daemon) - rss_before
    bound = memory_bound_mib(16)
    assert growth < bound, f"B grew by {growth:.0f} MiB for a stalled reader"
    # Once the client reads again, the whole stream arrives intact.
    reader.resume_reading()
    received = accepted.read_exactly(size, timeout=60)
    sending.join(10)
    assert hashlib.sha256(received).digest() == hashlib.sha256(data).digest()


@with_world(beacon=False)
def test_large_datagram_arrives_whole(world):
    a, b = world.peer(), world.peer()
    watcher = b.ipc()
    sender = a.ipc()
    # The largest payload SendTo takes: it fits a PILS frame relayed by the
    # beacon in one IPv4 UDP datagram.
    payload = os.urandom(65428)

    def arrived():
        sender.send_to(b.address, 6000, payload)
        try:
            return watcher.receive_datagram(timeout=0.5)
        except AssertionError:
            return None

    src, _, dst_port, data = wait_until(arrived, 10, what="a 64 KiB datagram")
    assert (src, dst_port) == (a.address, 6000)
    assert data == payload, f"{len(data)} bytes arrived, other than sent"
    event = b.receiver.wait_for_data("data.datagram",
                                     lambda d: d["dst_port"] == 6000)
    assert event["size"] == len(payload), event
    assert not sender.unsolicited_errors, sender.unsolicited_errors


@with_world(beacon=False)
def test_peer_restart_rekeys_tunnel(world):
    b_port = free_udp_port()
    a, b = world.peer(), world.peer(listen=f"127.0.0.1:{b_port}")
    client = a.ipc()
    conn = client.dial(b.address, 7)
    conn.send(b"before")
    assert conn.read_exactly(6) == b"before"
    check_established(a.receiver, b.node_id)
    # B restarts on the same port with the same identity, hence the same
    # node, but a new tunnel key. A still has the old one.
    b.stop()
    world.peers.remove(b)
    b2 = Peer(world.registry, None, listen=f"127.0.0.1:{b_port}",
              identity_home=b.node.home)
    world.peers.append(b2)
    assert b2.node_id == b.node_id, (b2.node_id, b.node_id)
    conn = client.dial(b.address, 7, timeout=40)
    conn.send(b"after")
    assert conn.read_exactly(5, timeout=20) == b"after"
    rekeyed = a.receiver.wait_for_data(
        "tunnel.established", lambda d: d["rekeyed"])
    assert rekeyed == {"peer_node_id": b.node_id, "authenticated": True,
                       "relay": False, "rekeyed": True}, rekeyed


@with_world(beacon=False)
def test_fin_exchange_settles(world):
    a, b = world.peer(), world.peer()
    dialed, accepted = connect_pair(a, b)
    dialed.close()
    accepted.wait_eof()
    b.receiver.wait_for_data("conn.fin")
    # A daemon that replies to each FIN|ACK with a FIN|ACK would bounce
    # them back and forth.
    time.sleep(0.5)
    assert_tunnel_quiet([a, b])


@with_world(beacon=False)
def test_sack_like_data_arrives_intact(world):
    a, b = world.peer(), world.peer()
    dialed, accepted = connect_pair(a, b)
    # One segment whose data starts like a SACK block list.
    data = b"SACK\x01" + struct.pack(">II", 1, 4097) + b"user data"
    dialed.send(data)
    assert accepted.read_exactly(len(data)) == data
    accepted.send(data)
    assert dialed.read_exactly(len(data)) == data


@with_world(beacon=False)
def test_parallel_streams_intact(world):
    a, b = world.peer(), world.peer()
    listener = b.ipc()
    listener.bind(1000)
    dialer = a.ipc()
    pairs = []
    for _ in range(8):
        dialed = dialer.dial(b.address, 1000)
        pairs.append((dialed, listener.accept()))
    results = [None] * len(pairs)
    failures = []

    def transfer(index, dialed, accepted):
        try:
            results[index] = round_trip(dialed, accepted, MIB)
        except BaseException as e:  # reported by the main thread
            failures.append(e)

    threads = [threading.Thread(target=transfer, args=(i, *pair),
                                daemon=True)
               for i, pair in enumerate(pairs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    assert not failures, failures
    for sent, far, back in results:
        assert far == sent, "a stream delivered other bytes than were sent"
        assert back == sent, "a stream echoed other bytes than were sent"


@with_world(beacon=False)
def test_client_disconnect_closes_its_connections(world):
    a, b = world.peer(), world.peer()
    dialed, accepted = connect_pair(a, b)
    # A's client goes away without closing: A closes the connection for
    # it, and B's listening client going away releases port 1000.
    dialed.client.close()
    accepted.wait_eof()
    fin = b.receiver.wait_for_data("conn.fin")
    check_close_event(fin, a.address, port=accepted.remote_port,
                      local_port=1000, conn_id=accepted.id)
    accepted.client.close()
    client = a.ipc()

    def refused():
        try:
            client.dial(b.address, 1000, timeout=20).close()
        except IpcError as e:
            return str(e) == "connection refused"
        return False

    wait_until(refused, 10, interval=0.2, what="port 1000 to be released")


# -- datagrams ----------------------------------------------------------------

@with_world(beacon=True)
def test_datagram_reaches_listener(world):
    a, b = world.peer(), world.peer()
    listen = b.node.pilotctl_process("listen", "5000", "--count", "1",
                                     "--timeout", "20s")
    watcher = b.ipc()
    sender = a.ipc()
    payload = b"datagram payload"
    # Datagrams are not retransmitted, and listen may not be connected yet:
    # send until it has printed one.
    deadline = time.monotonic() + 20
    while listen.poll() is None and time.monotonic() < deadline:
        sender.send_to(b.address, 5000, payload)
        time.sleep(0.2)
    data = finish_pilotctl(listen, 5)
    assert not sender.unsolicited_errors, sender.unsolicited_errors
    assert data["timeout"] is False, data
    message = data["messages"][0]
    assert message["src_addr"] == a.address, message
    assert message["src_port"] in EPHEMERAL, message
    assert message["data"] == payload.decode(), message
    assert message["bytes"] == len(payload), message

    event = b.receiver.wait_for_data(
        "data.datagram", lambda d: d["src_port"] == message["src_port"])
    assert event == {"src_addr": a.address, "src_port": message["src_port"],
                     "dst_port": 5000, "size": len(payload)}, event
    # Every IPC client gets the datagram, whether or not it bound the port.
    src, src_port, dst_port, data = watcher.receive_datagram()
    assert (src, dst_port, data) == (a.address, 5000, payload)
    assert src_port in EPHEMERAL


@with_world(beacon=False)
def test_send_datagram_command_raises_event(world):
    a, b = world.peer(), world.peer()
    data = a.node.ok("send-datagram", b.address, "5004", "--data", "hi there")
    assert data == {"target": b.address, "port": 5004, "bytes": 8}, data
    event = b.receiver.wait_for_data("data.datagram",
                                     lambda d: d["dst_port"] == 5004)
    assert event["src_addr"] == a.address, event
    assert event["size"] == 8, event
    code, out = a.node.pilotctl("send-datagram", "0:0000.0000.FFFF", "5004",
                                "--data", "x")
    assert code == 1, out
    assert out["code"] == "connection_failed", out
    code, out = a.node.pilotctl("send-datagram", b.address, "5004")
    assert code == 1, out
    assert out["code"] == "invalid_argument", out
    # One byte more than a relayed PILS frame carries in IPv4 UDP.
    code, out = a.node.pilotctl("send-datagram", b.address, "5004",
                                "--data", "x" * 65429)
    assert code == 1, out
    assert "at most 65428 bytes, not 65429" in out["message"], out


@with_world(beacon=False)
def test_empty_datagram_raises_no_event(world):
    a, b = world.peer(), world.peer()
    sender = a.ipc()
    sender.send_to(b.address, 5001, b"first")
    b.receiver.wait_for_data("data.datagram", lambda d: d["dst_port"] == 5001)
    sender.send_to(b.address, 5002, b"")
    sender.send_to(b.address, 5003, b"last")
    b.receiver.wait_for_data("data.datagram", lambda d: d["dst_port"] == 5003)
    b.receiver.assert_no_event("data.datagram",
                               lambda d: d["dst_port"] == 5002)


# -- connection lifecycle -----------------------------------------------------

@with_world(beacon=False)
def test_idle_connection_times_out(world):
    a = world.peer()
    b = world.peer(idle_timeout="2s")
    dialed, accepted = connect_pair(a, b)
    started = time.monotonic()
    idle = b.receiver.wait_for_data("conn.idle_timeout", timeout=25)
    waited = time.monotonic() - started
    check_close_event(idle, a.address, port=accepted.remote_port,
                      local_port=1000, conn_id=accepted.id)
    assert waited >= 1.5, f"closed after {waited:.1f}s of a 2s idle timeout"
    # B closes with a FIN: A reports it and its client sees EOF.
    fin = a.receiver.wait_for_data("conn.fin")
    check_close_event(fin, b.address, port=1000,
                      local_port=accepted.remote_port, conn_id=dialed.id)
    dialed.wait_eof()
    accepted.wait_eof()
    b.receiver.assert_no_event("conn.fin")


@with_world(beacon=False)
def test_dial_to_closed_port_is_refused(world):
    a, b = world.peer(), world.peer()
    client = a.ipc()
    try:
        client.dial(b.address, 4242, timeout=20)
    except IpcError as e:
        assert str(e) == "connection refused", str(e)
    else:
        raise AssertionError("the dial to a port nobody bound succeeded")
    rst = a.receiver.wait_for_data("conn.rst")
    check_close_event(rst, b.address, port=4242)
    assert rst["local_port"] in EPHEMERAL, rst
    # The refusing side creates no connection and raises no conn event.
    b.receiver.assert_no_event("conn.syn_received")
    code, out = a.node.pilotctl("connect", b.address, "4243", "--message",
                                "x", "--timeout", "10s")
    assert code == 1, out
    assert out["code"] == "connection_failed", out
    assert "connection refused" in out["message"], out


@with_world(beacon=False)
def test_no_echo_refuses_port_7(world):
    a = world.peer()
    b = world.peer(echo=False)
    client = a.ipc()
    try:
        client.dial(b.address, 7, timeout=20)
    except IpcError as e:
        assert str(e) == "connection refused", str(e)
    else:
        raise AssertionError("port 7 accepted a dial with --no-echo")
    # Port 7 is free for a client to bind instead.
    assert b.ipc().bind(7) == 7


@with_world(beacon=False)
def test_close_sends_fin_to_peer(world):
    a, b = world.peer(), world.peer()
    dialed, accepted = connect_pair(a, b)
    dialed.send(b"last words")
    assert accepted.read_exactly(len(b"last words")) == b"last words"
    assert dialed.close() == dialed.id
    accepted.wait_eof()
    fin = b.receiver.wait_for_data("conn.fin")
    check_close_event(fin, a.address, port=accepted.remote_port,
                      local_port=1000, conn_id=accepted.id)
    # The closing side reports nothing, and B reports its FIN only once.
    a.receiver.assert_no_event("conn.fin", within=1.0)
    assert len(b.receiver.event_data("conn.fin")) == 1, \
        b.receiver.event_data("conn.fin")
    # Send on the closed connection fails.
    client = dialed.client
    try:
        client.request(IPC_SEND, struct.pack(">I", dialed.id) + b"late",
                       expected=IPC_ERROR, timeout=5)
    except IpcError as e:
        assert "not" in str(e), str(e)
    else:
        raise AssertionError("a Send on a closed connection succeeded")


# -- security -----------------------------------------------------------------

@with_world(beacon=False)
def test_syn_flood_trips_limiter(world):
    a = world.peer()
    b = world.peer(syn_rate_limit=1)
    listener = b.ipc()
    listener.bind(1000)
    # Bring the tunnel up first so every SYN below arrives encrypted.
    connect_pair(a, b, port=2001)
    # The bucket has room for one token, so these dials get through one at
    # a time as their SYNs are retransmitted (after 1 s, 3 s and 7 s).
    clients = [a.ipc() for _ in range(3)]
    results = []

    def dial(client):
        try:
            results.append(client.dial(b.address, 1000, timeout=40))
        except (IpcError, AssertionError) as e:
            results.append(e)

    threads = [threading.Thread(target=dial, args=(c,), daemon=True)
               for c in clients]
    for thread in threads:
        thread.start()
    limited = b.receiver.wait_for_data("security.syn_rate_limited")
    assert set(limited) == {"src_addr", "src_port"}, limited
    assert limited["src_addr"] == a.address, limited
    assert limited["src_port"] in EPHEMERAL, limited
    # Dropped SYNs are retransmitted, so every dial still gets through.
    for thread in threads:
        thread.join(45)
    failures = [r for r in results if isinstance(r, BaseException)]
    assert not failures, failures
    assert len(results) == len(clients)


@with_world(beacon=False)
def test_plaintext_injection_is_ignored(world):
    a_port = free_udp_port()
    a = world.peer(listen=f"127.0.0.1:{a_port}")
    b = world.peer()
    dialed, accepted = connect_pair(a, b)
    a_conn_port = accepted.remote_port
    dropped = frames_dropped(a)
    # Plaintext packets claiming to come from B: an RST for the connection
    # and a data segment. An encrypted tunnel accepts neither.
    rst = encode_packet(0x8, 1, b.node_id, a.node_id, 1000, a_conn_port)
    data = encode_packet(0x2, 1, b.node_id, a.node_id, 1000, a_conn_port,
                         seq=1, ack=1, window=512, payload=b"injected")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as attacker:
        for packet in (data, rst):
            attacker.sendto(b"PILT" + packet, ("127.0.0.1", a_port))
    a.receiver.assert_no_event("conn.rst", within=1.0)
    assert frames_dropped(a) >= dropped + 2, "the injected frames went unseen"
    accepted.send(b"genuine")
    assert dialed.read_exactly(len(b"genuine")) == b"genuine"
    dialed.send(b"still open")
    assert accepted.read_exactly(len(b"still open")) == b"still open"


@with_world(beacon=False)
def test_pong_to_port_zero_does_not_loop(world):
    a_port = free_udp_port()
    a = world.peer(listen=f"127.0.0.1:{a_port}", encrypt=False)
    b = world.peer(encrypt=False)
    dialed, _ = connect_pair(a, b)
    dialed.close()
    time.sleep(0.5)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as attacker:
        # A ping from port 5 gets one pong, to B's port 5, which B ignores.
        sent_before = tunnel_counters(a)[0]
        ping = encode_packet(0, 3, b.node_id, a.node_id, 5, 0, seq=6,
                             payload=b"ping")
        attacker.sendto(b"PILT" + ping, ("127.0.0.1", a_port))
        wait_until(lambda: tunnel_counters(a)[0] == sent_before + 1, 5,
                   what="the pong to port 5")
        # From port 0 to port 0: a pong sent back to port 0 would look
        # like a ping to B, and so on without end.
        ping = encode_packet(0, 3, b.node_id, a.node_id, 0, 0, seq=7,
                             payload=b"loop?")
        attacker.sendto(b"PILT" + ping, ("127.0.0.1", a_port))
    time.sleep(0.5)
    assert_tunnel_quiet([a, b])


@with_world(beacon=True)
def test_forged_beacon_messages_are_ignored(world):
    b_port = free_udp_port()
    a = world.peer()
    b = world.peer(listen=f"127.0.0.1:{b_port}")
    dropped = frames_dropped(b)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as attacker, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as victim:
        victim.bind(("127.0.0.1", 0))
        victim_host, victim_port = victim.getsockname()
        # RelayDeliver from a stranger, naming A as the source.
        attacker.sendto(struct.pack(">BI", 0x06, a.node_id) + b"PILP",
                        ("127.0.0.1", b_port))
        # PunchCommand from a stranger, pointing at the victim.
        attacker.sendto(struct.pack(">BB", 0x04, 4)
                        + socket.inet_aton(victim_host)
                        + struct.pack(">H", victim_port),
                        ("127.0.0.1", b_port))
        victim.settimeout(1.0)
        try:
            datagram, _ = victim.recvfrom(65535)
        except socket.timeout:
            pass
        else:
            raise AssertionError(f"B punched {datagram!r} at a stranger's "
                                 f"target")
    b.receiver.assert_no_event("tunnel.relay_activated")
    assert frames_dropped(b) >= dropped + 2, "the forged messages went unseen"
    # A's traffic to B still goes direct.
    out = a.node.ok("connect", b.address, "7", "--message", "direct",
                    "--timeout", "20s")
    assert out["response"] == "direct", out
    established = b.receiver.wait_for_data(
        "tunnel.established", lambda d: d["peer_node_id"] == a.node_id)
    assert established["relay"] is False, established


def last_pils_through_relay(world):
    """Starts A and B with B behind a relay that keeps every PILS frame,
    sends one message from A to B, and returns (relay, a, b, dialed,
    accepted, the last PILS frame from A to B)."""
    b_port = free_udp_port()
    relay = world.relay(("127.0.0.1", b_port),
                        capture=lambda d: d.startswith(PILS))
    a = world.peer()
    b = world.peer(listen=f"127.0.0.1:{b_port}", endpoint=relay.text)
    dialed, accepted = connect_pair(a, b)
    dialed.send(b"warm")
    assert accepted.read_exactly(4) == b"warm"
    frames = relay.captured_frames(TO_TARGET)
    assert frames, "no PILS frame went from A to B"
    return relay, a, b, dialed, accepted, frames[-1]


@with_world(beacon=False)
def test_replayed_pils_frame_raises_nonce_replay(world):
    relay, a, b, dialed, accepted, frame = last_pils_through_relay(world)
    sender, counter = pils_counter(frame)
    assert sender == a.node_id, (sender, a.node_id)

    def replays():
        return b.receiver.event_data(
            "security.nonce_replay", lambda d: d["counter"] == counter)
    before = len(replays())
    relay.inject(TO_TARGET, frame)
    wait_until(lambda: len(replays()) > before, 10,
               what=f"security.nonce_replay for counter {counter}")
    event = replays()[-1]
    assert event == {"peer_node_id": a.node_id, "counter": counter}, event
    # The replay was dropped: B got no second copy, and the tunnel works.
    dialed.send(b"pong")
    assert accepted.read_exactly(4) == b"pong"


@with_world(beacon=False)
def test_forged_pils_counter_does_not_block(world):
    relay, _, b, dialed, accepted, frame = last_pils_through_relay(world)
    # Same sender and nonce prefix as A's last frame, a counter far ahead
    # and a body that no key sealed: it must not move B's replay window.
    forged = (frame[:12] + struct.pack(">Q", (1 << 62) + 5)
              + os.urandom(len(frame) - 20))
    dropped = frames_dropped(b)
    relay.inject(TO_TARGET, forged)
    wait_until(lambda: frames_dropped(b) > dropped, 5,
               what="B to drop the forged frame")
    for i in range(20):
        message = b"after %02d" % i
        dialed.send(message)
        assert accepted.read_exactly(len(message), timeout=10) == message
    replays = b.receiver.event_data("security.nonce_replay")
    assert not replays, f"genuine frames were rejected as replays: {replays}"


@with_world(beacon=True)
def test_relay_fallback_when_direct_path_blocked(world):
    # B registers an endpoint that no daemon reads, and reaches the beacon only
    # through a relay, so neither the registry nor a hole punch can give A
    # a direct path to B's socket.
    blackhole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    blackhole.bind(("127.0.0.1", 0))
    try:
        to_beacon = world.relay(world.beacon.address)
        a = world.peer()
        b = world.peer(beacon=to_beacon,
                       endpoint=f"127.0.0.1:{blackhole.getsockname()[1]}")
        client = a.ipc()
        conn = client.dial(b.address, 7, timeout=40)
        conn.send(b"via the beacon")
        assert conn.read_exactly(len(b"via the beacon"), 20) == \
            b"via the beacon"
        activated = b.receiver.wait_for_data("tunnel.relay_activated")
        assert activated == {"peer_node_id": a.node_id}, activated
        established = b.receiver.wait_for_data(
            "tunnel.established", lambda d: d["relay"])
        assert established["peer_node_id"] == a.node_id, established
        assert established["authenticated"] is True, established
        # The dialer switches to the relay itself and reports nothing.
        a.receiver.assert_no_event("tunnel.relay_activated")
    finally:
        blackhole.close()


@with_world(beacon=False)
def test_transfer_survives_lossy_path(world):
    b_port = free_udp_port()
    relay = world.relay(("127.0.0.1", b_port), loss=0.07, reorder=0.05,
                        duplicate=0.02, seed=7)
    a = world.peer()
    b = world.peer(listen=f"127.0.0.1:{b_port}", endpoint=relay.text)
    dialed, accepted = connect_pair(a, b)
    sent, far, back = round_trip(dialed, accepted, 4 * MIB, timeout=90)
    assert far == sent, "the far side received other bytes than were sent"
    assert back == sent, "the echoed bytes differ from the bytes sent"
    counts = relay.counts
    assert counts["dropped"] > 0, counts
    assert counts["reordered"] > 0, counts


if __name__ == "__main__":
    run([
        test_tunnel_comes_up_authenticated,
        test_echo_over_pilotctl_connect,
        test_ping_bench_and_connections,
        test_send_and_recv_over_pilotctl,
        test_16_mib_round_trip_intact,
        test_fin_exchange_settles,
        test_sack_like_data_arrives_intact,
        test_parallel_streams_intact,
        test_client_disconnect_closes_its_connections,
        test_stalled_reader_bounds_memory,
        test_peer_restart_rekeys_tunnel,
        test_plaintext_tunnel_adds_peer,
        test_datagram_reaches_listener,
        test_send_datagram_command_raises_event,
        test_empty_datagram_raises_no_event,
        test_large_datagram_arrives_whole,
        test_idle_connection_times_out,
        test_dial_to_closed_port_is_refused,
        test_no_echo_refuses_port_7,
        test_close_sends_fin_to_peer,
        test_syn_flood_trips_limiter,
        test_plaintext_injection_is_ignored,
        test_pong_to_port_zero_does_not_loop,
        test_forged_beacon_messages_are_ignored,
        test_replayed_pils_frame_raises_nonce_replay,
        test_forged_pils_counter_does_not_block,
        test_relay_fallback_when_direct_path_blocked,
        test_transfer_survives_lossy_path,
    ])
