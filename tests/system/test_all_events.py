#!/usr/bin/env python3
"""Drives every one of the 26 webhook events from real traffic between real
daemons on loopback, and checks every body the recording receivers got: the
envelope, the event name, and the names and JSON types of the data's
fields. A second test runs the webhooks page's example receiver unchanged
and checks the lines it prints for handshakes, messages and files."""
import os
import socket
import threading

from harness import (ExampleReceiver, IpcError, Registry, free_udp_port,
                     make_temp_dir, run, wait_until)
from lossy_relay import TO_TARGET
from test_transport import PILS, connect_pair, with_world

# The data fields of each event and their JSON types; None for an event
# without data. Python's bool is an int, so ints are checked by exact type.
CONN_ACCEPT = {"src_addr": str, "src_port": int, "dst_port": int,
               "conn_id": int}
CONN_REMOTE = {"remote_addr": str, "remote_port": int, "local_port": int,
               "conn_id": int}
PEER = {"peer_node_id": int}
TOPIC = {"topic": str, "remote": str}
EVENT_FIELDS = {
    "node.registered": {"address": str, "endpoint": str},
    "node.reregistered": {"address": str},
    "node.deregistered": None,
    "conn.syn_received": CONN_ACCEPT,
    "conn.established": CONN_ACCEPT,
    "conn.fin": CONN_REMOTE,
    "conn.rst": CONN_REMOTE,
    "conn.idle_timeout": CONN_REMOTE,
    "tunnel.peer_added": {"peer_node_id": int, "endpoint": str},
    "tunnel.established": {"peer_node_id": int, "authenticated": bool,
                           "relay": bool, "rekeyed": bool},
    "tunnel.relay_activated": PEER,
    "security.syn_rate_limited": {"src_addr": str, "src_port": int},
    "security.nonce_replay": {"peer_node_id": int, "counter": int},
    "data.datagram": {"src_addr": str, "src_port": int, "dst_port": int,
                      "size": int},
    "handshake.received": {"peer_node_id": int, "justification": str},
    "handshake.pending": {"peer_node_id": int, "justification": str},
    "handshake.auto_approved": {"peer_node_id": int, "reason": str},
    "handshake.approved": PEER,
    "handshake.rejected": {"peer_node_id": int, "reason": str},
    "trust.revoked": PEER,
    "trust.revoked_by_peer": PEER,
    "message.received": {"type": str, "from": str, "size": int},
    "file.received": {"filename": str, "size": int, "path": str},
    "pubsub.subscribed": TOPIC,
    "pubsub.unsubscribed": TOPIC,
    "pubsub.published": {"topic": str, "size": int, "from": str},
}
assert len(EVENT_FIELDS) == 26


def check_body(body):
    """Fails unless `body` is a well-formed event of the table above."""
    event = body.get("event")
    assert event in EVENT_FIELDS, f"unknown event {event!r}: {body}"
    assert type(body.get("node_id")) is int, body
    assert isinstance(body.get("timestamp"), str), body
    assert type(body.get("event_id")) is int, body
    fields = EVENT_FIELDS[event]
    data = body.get("data")
    if fields is None:
        assert data is None, body
        return
    assert isinstance(data, dict), body
    assert set(data) == set(fields), f"{event} fields: {sorted(data)}"
    for name, kind in fields.items():
        assert type(data[name]) is kind, \
            f"{event}.{name} is {type(data[name]).__name__}: {body}"


def check_all_bodies(peers):
    """Checks every body of every receiver; returns the event names seen."""
    seen = set()
    for peer in peers:
        for body in peer.receiver.bodies():
            check_body(body)
            seen.add(body["event"])
    return seen


def raise_transport_events(a, b, b_relay):
    """Connections, a datagram, a refused dial and a replayed frame between
    A and B (B is behind a relay that records A's encrypted frames)."""
    connect_pair(a, b, port=1000)
    closing, _ = connect_pair(a, b, port=1010)
    closing.close()
    b.receiver.wait_for_data("conn.fin")
    client = a.ipc()
    try:
        client.dial(b.address, 2999, timeout=20)
        raise AssertionError("a dial to an unbound port succeeded")
    except IpcError:
        pass
    a.receiver.wait_for_data("conn.rst")
    client.send_to(b.address, 5000, b"datagram")
    b.receiver.wait_for_data("data.datagram")
    frames = b_relay.captured_frames(TO_TARGET)
    assert frames, "no encrypted frame went from A to B"
    b_relay.inject(TO_TARGET, frames[-1])
    b.receiver.wait_for_data("security.nonce_replay")


def raise_trust_events(a, b, c):
    """A requests trust from B, which approves; B and C request it from each
    other (B auto-approves); C requests it from A, which rejects; A revokes
    B."""
    a.node.ok("handshake", str(b.node_id), "why")
    b.receiver.wait_for_data("handshake.pending")
    b.node.ok("approve", str(a.node_id))
    b.receiver.wait_for_data("handshake.approved")
    wait_until(lambda: any(t["node_id"] == b.node_id
                           for t in a.node.ok("trust")["trusted"]), 20,
               what="A to trust B after B's accept")
    b.node.ok("handshake", str(c.node_id), "hello")
    c.receiver.wait_for_data("handshake.pending")
    c.node.ok("handshake", str(b.node_id), "hello back")
    mutual = b.receiver.wait_for_data("handshake.auto_approved")
    assert mutual == {"peer_node_id": c.node_id, "reason": "mutual"}, mutual
    c.node.ok("handshake", str(a.node_id), "please")
    a.receiver.wait_for_data("handshake.pending")
    a.node.ok("reject", str(c.node_id), "not", "now")
    rejected = a.receiver.wait_for_data("handshake.rejected")
    assert rejected == {"peer_node_id": c.node_id, "reason": "not now"}
    a.node.ok("untrust", str(b.node_id))
    a.receiver.wait_for_data("trust.revoked")
    b.receiver.wait_for_data("trust.revoked_by_peer", timeout=20)


def raise_service_events(a, b):
    """A message, a file and a publish from A to B's services."""
    a.node.ok("send-message", str(b.node_id), "--data", "hello")
    b.receiver.wait_for_data("message.received")
    path = os.path.join(make_temp_dir(), "notes.txt")
    with open(path, "wb") as f:
        f.write(b"x" * 1000)
    a.node.ok("send-file", str(b.node_id), path)
    b.receiver.wait_for_data("file.received")
    subscriber = a.node.pilotctl_process(
        "subscribe", str(b.node_id), "news", "--count", "1", "--timeout",
        "20s")
    wait_until(lambda: b.receiver.event_data("pubsub.subscribed"), 20,
               what="the subscription on B")
    a.node.ok("publish", str(b.node_id), "news", "--data", "hi")
    subscriber.wait(30)
    b.receiver.wait_for_data("pubsub.published")
    b.receiver.wait_for_data("pubsub.unsubscribed")


def raise_plaintext_events(world):
    """tunnel.peer_added between two plaintext nodes, and SYNs faster than
    the second one's limit of one per second."""
    d = world.peer(encrypt=False)
    e = world.peer(encrypt=False, syn_rate_limit=1)
    listener = e.ipc()
    listener.bind(1000)
    e.receiver.wait_for_data("node.registered")
    clients = [d.ipc() for _ in range(3)]
    threads = [threading.Thread(target=lambda c=c: dial_quietly(c, e),
                                daemon=True) for c in clients]
    for thread in threads:
        thread.start()
    e.receiver.wait_for_data("tunnel.peer_added")
    e.receiver.wait_for_data("security.syn_rate_limited", timeout=20)
    for thread in threads:
        thread.join(45)


def dial_quietly(client, target):
    try:
        client.dial(target.address, 1000, timeout=40)
    except (IpcError, AssertionError):
        pass


def raise_relay_event(world):
    """A node that peers can reach only through the beacon's relay."""
    blackhole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    blackhole.bind(("127.0.0.1", 0))
    try:
        to_beacon = world.relay(world.beacon.address)
        f = world.peer()
        g = world.peer(beacon=to_beacon,
                       endpoint=f"127.0.0.1:{blackhole.getsockname()[1]}")
        conn = f.ipc().dial(g.address, 7, timeout=40)
        conn.send(b"relayed")
        assert conn.read_exactly(7, 20) == b"relayed"
        g.receiver.wait_for_data("tunnel.relay_activated")
    finally:
        blackhole.close()


@with_world(beacon=True)
def test_every_event_fires_with_its_fields(world):
    b_port = free_udp_port()
    b_relay = world.relay(("127.0.0.1", b_port),
                          capture=lambda d: d.startswith(PILS))
    a = world.peer(extra_args=("--keepalive", "1s"))
    b = world.peer(listen=f"127.0.0.1:{b_port}", endpoint=b_relay.text,
                   idle_timeout="2s")
    c = world.peer()
    # C's keepalive (30 s) is longer than B's idle timeout, unlike A's.
    idle, _ = connect_pair(c, b, port=1020)
    raise_transport_events(a, b, b_relay)
    raise_trust_events(a, b, c)
    raise_service_events(a, b)
    raise_plaintext_events(world)
    raise_relay_event(world)
    # The idle sweep runs every 15 s. A's connection may time out too: A's
    # revoke dropped the tunnel's session keys, and until they are renewed
    # no keepalive reaches B.
    timed_out = b.receiver.wait_for_data(
        "conn.idle_timeout", lambda d: d["remote_addr"] == c.address,
        timeout=30)
    assert timed_out["local_port"] == 1020, timed_out
    idle.close()
    # A new registry on the same port makes A register again.
    port = world.registry.address.rsplit(":", 1)[1]
    world.registry.stop()
    world.registry = Registry(port=int(port))
    a.receiver.wait_for_data("node.reregistered", timeout=30)
    # Stopping A raises node.deregistered before its webhook drains.
    world.peers.remove(a)
    for client in a.clients:
        client.close()
    assert a.daemon.stop() == 0, a.daemon.log()
    a.receiver.wait_for_event("node.deregistered")
    a.receiver.close()
    seen = check_all_bodies(world.peers + [a])
    missing = sorted(set(EVENT_FIELDS) - seen)
    assert not missing, f"events never raised: {missing}"


@with_world(beacon=True)
def test_example_receiver_prints_handshake_message_and_file(world):
    example = ExampleReceiver()
    try:
        a = world.peer()
        b = world.peer()
        b.node.ok("set-webhook", example.url)
        a.node.ok("handshake", str(b.node_id), "for the example")
        a.node.ok("send-message", str(b.node_id), "--data", "hi",
                  "--type", "json")
        path = os.path.join(make_temp_dir(), "report.pdf")
        with open(path, "wb") as f:
            f.write(b"%PDF" * 256)
        a.node.ok("send-file", str(b.node_id), path)
        expected = [f"Handshake from node {a.node_id}: for the example",
                    f"Message from {a.address}: JSON",
                    "File received: report.pdf (1024 bytes)"]
        wait_until(lambda: all(line in example.lines() for line in expected),
                   15, what=f"the example receiver to print {expected}")
    finally:
        example.stop()


if __name__ == "__main__":
    run([
        test_every_event_fires_with_its_fields,
        test_example_receiver_prints_handshake_message_and_file,
    ])
