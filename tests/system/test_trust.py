#!/usr/bin/env python3
"""The trust handshake on port 444 between real daemons on loopback:
one-way requests with manual approval, crossed requests, rejection,
revocation, a private peer reached through the registry's mailbox, and
trust.json surviving a restart. Every handshake and trust event is checked
at a recording receiver, with the exact fields and their JSON types."""
import os
import stat

from harness import Node, Receiver, run, wait_until
from test_transport import Peer, with_world


def check_peer_event(data, peer_id, **text_fields):
    """Checks an event body of peer_node_id plus the given text fields."""
    assert set(data) == {"peer_node_id", *text_fields}, data
    assert isinstance(data["peer_node_id"], int), data
    assert data["peer_node_id"] == peer_id, data
    for key, value in text_fields.items():
        assert isinstance(data[key], str), data
        assert data[key] == value, data


def wait_event(peer, name, peer_id, **text_fields):
    data = peer.receiver.wait_for_data(
        name, lambda d: d.get("peer_node_id") == peer_id, timeout=20)
    check_peer_event(data, peer_id, **text_fields)
    return data


def trusted_entry(peer, peer_id):
    for entry in peer.node.ok("trust")["trusted"]:
        if entry["node_id"] == peer_id:
            return entry
    return None


def pending_ids(peer):
    return [entry["node_id"] for entry in peer.node.ok("pending")["pending"]]


def wait_trusted(peer, peer_id, timeout=30):
    return wait_until(lambda: trusted_entry(peer, peer_id), timeout,
                      what=f"trust in node {peer_id}")


def approve_request(a, b, justification="hi"):
    """Make A request trust from B and B approve it, then wait until A
    trusts B."""
    a.node.ok("handshake", str(b.node_id), justification)
    wait_event(b, "handshake.pending", a.node_id, justification=justification)
    b.node.ok("approve", str(a.node_id))
    wait_trusted(a, b.node_id)


def check_trusted_entry(entry, peer_id, mutual):
    assert set(entry) >= {"node_id", "mutual", "network", "public_key",
                          "approved_at"}, entry
    assert entry["node_id"] == peer_id, entry
    assert entry["mutual"] is mutual, entry
    assert isinstance(entry["approved_at"], int), entry
    assert isinstance(entry["public_key"], str), entry
    assert len(entry["public_key"]) == 44, entry


# -- flow A: one-way request, manual approval ----------------------------------

@with_world(beacon=True)
def test_request_and_approve(world):
    a, b = world.peer(), world.peer()
    sent = a.node.ok("handshake", str(b.node_id), "let me in")
    assert sent == {"node_id": b.node_id, "status": "sent"}, sent
    wait_event(b, "handshake.received", a.node_id, justification="let me in")
    wait_event(b, "handshake.pending", a.node_id, justification="let me in")
    pending = b.node.ok("pending")["pending"]
    assert len(pending) == 1, pending
    entry = pending[0]
    assert entry["node_id"] == a.node_id, entry
    assert entry["justification"] == "let me in", entry
    assert isinstance(entry["received_at"], int), entry
    approved = b.node.ok("approve", str(a.node_id))
    assert approved["node_id"] == a.node_id, approved
    wait_event(b, "handshake.approved", a.node_id)
    check_trusted_entry(trusted_entry(b, a.node_id), a.node_id, mutual=False)
    # The accept makes A trust B, without an event on A's side.
    check_trusted_entry(wait_trusted(a, b.node_id), b.node_id, mutual=True)
    assert pending_ids(b) == []
    a.receiver.assert_no_event("handshake.received")
    a.receiver.assert_no_event("handshake.approved")


@with_world(beacon=True)
def test_approve_without_request_fails(world):
    a = world.peer()
    code, out = a.node.pilotctl("approve", "4242")
    assert code != 0, out
    assert "no pending request" in str(out), out
    code, out = a.node.pilotctl("reject", "4242", "why")
    assert code != 0, out
    a.receiver.assert_no_event("handshake.rejected")


@with_world(beacon=True)
def test_reject_settles_the_request(world):
    a, b = world.peer(), world.peer()
    a.node.ok("handshake", str(b.node_id), "please")
    wait_event(b, "handshake.pending", a.node_id, justification="please")
    b.node.ok("reject", str(a.node_id), "not today")
    wait_event(b, "handshake.rejected", a.node_id, reason="not today")
    assert pending_ids(b) == []
    # A's request is settled, so a late accept could not make A trust B.
    assert trusted_entry(a, b.node_id) is None


# -- flow B: crossed requests ---------------------------------------------------

@with_world(beacon=True)
def test_crossed_requests_approve_each_other(world):
    a, b = world.peer(), world.peer()
    a.node.ok("handshake", str(b.node_id), "from a")
    wait_event(b, "handshake.pending", a.node_id, justification="from a")
    b.node.ok("handshake", str(a.node_id), "from b")
    wait_event(a, "handshake.received", b.node_id, justification="from b")
    wait_event(a, "handshake.auto_approved", b.node_id, reason="mutual")
    check_trusted_entry(wait_trusted(a, b.node_id), b.node_id, mutual=True)
    check_trusted_entry(wait_trusted(b, a.node_id), a.node_id, mutual=True)
    # A's accept settles A's request pending at B, and B's webhook learns
    # of it as a mutual approval.
    wait_event(b, "handshake.auto_approved", a.node_id, reason="mutual")
    wait_until(lambda: pending_ids(b) == [], 10, what="empty pending list")
    a.receiver.assert_no_event("handshake.pending")


# -- flow D: revocation ---------------------------------------------------------

@with_world(beacon=True)
def test_revoke_reaches_the_peer(world):
    a, b = world.peer(), world.peer()
    approve_request(a, b)
    a.node.ok("untrust", str(b.node_id))
    wait_event(a, "trust.revoked", b.node_id)
    wait_event(b, "trust.revoked_by_peer", a.node_id)
    assert trusted_entry(a, b.node_id) is None
    wait_until(lambda: trusted_entry(b, a.node_id) is None, 10,
               what="B to drop A")
    code, out = a.node.pilotctl("untrust", str(b.node_id))
    assert code != 0, out
    assert "was not trusted" in str(out), out
    assert len(a.receiver.event_data("trust.revoked")) == 1


@with_world(beacon=True)
def test_revoke_by_the_approver(world):
    a, b = world.peer(), world.peer()
    approve_request(a, b)
    b.node.ok("untrust", str(a.node_id))
    wait_event(b, "trust.revoked", a.node_id)
    wait_event(a, "trust.revoked_by_peer", b.node_id)
    wait_until(lambda: trusted_entry(a, b.node_id) is None, 10,
               what="A to drop B")
    # B sent the revoke, so B raises no revoked_by_peer of its own.
    b.receiver.assert_no_event("trust.revoked_by_peer", within=1.0)


# -- persistence ----------------------------------------------------------------

@with_world(beacon=True)
def test_trust_survives_a_restart(world):
    a, b, c = world.peer(), world.peer(), world.peer()
    a.node.ok("handshake", str(b.node_id), "keep me")
    wait_event(b, "handshake.pending", a.node_id, justification="keep me")
    b.node.ok("approve", str(a.node_id))
    c.node.ok("handshake", str(b.node_id), "later")
    wait_event(b, "handshake.pending", c.node_id, justification="later")
    trusted = b.node.ok("trust")
    pending = b.node.ok("pending")
    path = os.path.join(b.node.home, ".pilot", "trust.json")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    home = b.node.home
    world.peers.remove(b)
    b.stop()
    again = Peer(world.registry, world.beacon, identity_home=home)
    world.peers.append(again)
    assert again.node_id == b.node_id
    assert again.node.ok("trust") == trusted
    assert again.node.ok("pending") == pending


# -- flow C: a private peer through the registry's mailbox ----------------------

@with_world(beacon=True)
def test_private_peer_through_the_relay(world):
    a = world.peer()
    receiver = Receiver()
    node = Node(world.registry, world.beacon)
    daemon = node.start_daemon("--keepalive", "1s", webhook=receiver.url,
                               public=False)
    try:
        info = node.wait_registered()
        b_id = info["node_id"]
        sent = a.node.ok("handshake", str(b_id), "through the registry")
        assert sent == {"node_id": b_id, "status": "sent"}, sent
        # The relayed request raises the same events as a direct one.
        for name in ("handshake.received", "handshake.pending"):
            data = receiver.wait_for_data(
                name, lambda d: d.get("peer_node_id") == a.node_id,
                timeout=30)
            check_peer_event(data, a.node_id,
                             justification="through the registry")
        pending = node.ok("pending")["pending"]
        assert [e["node_id"] for e in pending] == [a.node_id], pending
        # The key comes from the registry, not from the relayed request.
        assert len(pending[0]["public_key"]) == 44, pending
        node.ok("approve", str(a.node_id))
        check_trusted_entry(wait_trusted(a, b_id), b_id, mutual=True)
    finally:
        code = daemon.stop()
        receiver.close()
    assert code == 0, daemon.log()


if __name__ == "__main__":
    run([
        test_request_and_approve,
        test_approve_without_request_fails,
        test_reject_settles_the_request,
        test_crossed_requests_approve_each_other,
        test_revoke_reaches_the_peer,
        test_revoke_by_the_approver,
        test_trust_survives_a_restart,
        test_private_peer_through_the_relay,
    ])
