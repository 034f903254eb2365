#!/usr/bin/env python3
"""The data exchange service on port 1001 between two real daemons on
loopback: typed messages into the inbox, files into the received folder,
their webhook events at a recording receiver, and names chosen to escape
the folder or to collide, sent by pilotctl and by a client that speaks the
IPC framing directly."""
import base64
import hashlib
import json
import os
import stat
import struct

from harness import run, wait_until
from test_transport import with_world

MIB = 1 << 20
TEXT, BINARY, JSON_TYPE, FILE = 1, 2, 3, 4


def frame(frame_type, payload):
    return struct.pack(">II", frame_type, len(payload)) + payload


def file_frame(name, data):
    return frame(FILE, struct.pack(">H", len(name)) + name + data)


def read_ack(conn, timeout=30):
    """Reads one acknowledgement frame and returns its text."""
    frame_type, length = struct.unpack(">II", conn.read_exactly(8, timeout))
    assert frame_type == TEXT, frame_type
    return conn.read_exactly(length, timeout).decode()


def data_dir(peer):
    return os.path.join(peer.node.home, ".pilot")


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def check_saved_file(peer, event):
    """Checks that a file.received event names a 0600 file inside the
    received folder and returns its bytes."""
    received = os.path.join(data_dir(peer), "received")
    path = event["path"]
    assert os.path.isabs(path), event
    assert os.path.dirname(os.path.realpath(path)) == os.path.realpath(
        received), event
    assert mode_of(path) == 0o600, oct(mode_of(path))
    assert mode_of(received) == 0o700, oct(mode_of(received))
    with open(path, "rb") as f:
        return f.read()


def events_of(receiver, name):
    return receiver.event_data(name)


# -- messages -----------------------------------------------------------------

@with_world(beacon=True)
def test_messages_arrive_in_inbox(world):
    a, b = world.peer(), world.peer()
    text = a.node.ok("send-message", b.address, "--data", "hello <&>",
                     "--timeout", "20s")
    assert text == {"target": b.address, "type": "text", "bytes": 9,
                    "ack": "ACK TEXT 9 bytes"}, text
    doc = '{"k":[1,2],"s":"x"}'
    sent = a.node.ok("send-message", b.address, "--data", doc, "--type",
                     "json")
    assert sent["ack"] == f"ACK JSON {len(doc)} bytes", sent
    raw = b"\xff\xfebin\x01"
    sent = a.node.ok("send-message", b.address, "--data", raw, "--type",
                     "binary")
    assert sent["ack"] == "ACK BINARY 6 bytes", sent
    # A NUL cannot pass through argv, so this one goes by hand.
    client = a.ipc()
    conn = client.dial(b.address, 1001)
    nul_bytes = b"\x00\x01\x02\xff"
    conn.send(frame(BINARY, nul_bytes))
    assert read_ack(conn) == "ACK BINARY 4 bytes"
    conn.close()

    events = b.receiver.wait_for_data(
        "message.received", where=lambda d: d["size"] == 4)
    received = events_of(b.receiver, "message.received")
    assert [e["type"] for e in received] == ["TEXT", "JSON", "BINARY",
                                             "BINARY"], received
    for event in received:
        assert event["from"] == a.address, event
        assert type(event["size"]) is int, event
        assert set(event) == {"type", "from", "size"}, event
    assert [e["size"] for e in received] == [9, len(doc), 6, 4], received
    assert events["from"] == a.address

    inbox = b.node.ok("inbox")
    assert inbox["total"] == 4, inbox
    assert inbox["dir"] == os.path.join(data_dir(b), "inbox"), inbox
    by_type = {}
    for message in inbox["messages"]:
        by_type.setdefault(message["type"], []).append(message)
        assert message["from"] == a.address, message
        assert type(message["bytes"]) is int, message
    assert by_type["TEXT"][0]["data"] == "hello <&>"
    assert by_type["JSON"][0]["data"] == doc
    assert json.loads(by_type["JSON"][0]["data"]) == {"k": [1, 2], "s": "x"}
    binaries = sorted(base64.b64decode(m["data_base64"])
                      for m in by_type["BINARY"])
    assert binaries == sorted([raw, nul_bytes]), binaries
    inbox_dir = os.path.join(data_dir(b), "inbox")
    assert mode_of(inbox_dir) == 0o700
    for name in os.listdir(inbox_dir):
        assert mode_of(os.path.join(inbox_dir, name)) == 0o600, name
    # The stored file is Go's compact JSON: sorted keys, <&> escaped.
    text_file = [n for n in os.listdir(inbox_dir) if n.startswith("TEXT-")]
    assert len(text_file) == 1, os.listdir(inbox_dir)
    with open(os.path.join(inbox_dir, text_file[0]), "rb") as f:
        stored = f.read().decode()
    assert stored.startswith(
        '{"bytes":9,"data":"hello \\u003c\\u0026\\u003e","from":"'
        + a.address + '","received_at":"'), stored
    assert stored.endswith('","type":"TEXT"}'), stored

    cleared = b.node.ok("inbox", "--clear")
    assert cleared == {"cleared": 4}, cleared
    assert b.node.ok("inbox")["total"] == 0


# -- files --------------------------------------------------------------------

@with_world(beacon=True)
def test_large_file_arrives_intact(world):
    a, b = world.peer(), world.peer()
    path = os.path.join(a.node.home, "big.bin")
    content = os.urandom(10 * MIB)
    with open(path, "wb") as f:
        f.write(content)
    out = a.node.ok("send-file", b.address, path, "--timeout", "60s",
                    timeout=90)
    assert out == {"filename": "big.bin", "bytes": 10 * MIB,
                   "destination": b.address,
                   "ack": f"ACK FILE {10 * MIB} bytes"}, out
    event = b.receiver.wait_for_data("file.received")
    assert event["filename"] == "big.bin", event
    assert event["size"] == 10 * MIB, event
    assert set(event) == {"filename", "size", "path"}, event
    saved = check_saved_file(b, event)
    assert hashlib.sha256(saved).digest() == hashlib.sha256(content).digest()
    name = os.path.basename(event["path"])
    assert name.startswith("big-"), name
    assert name.endswith(".bin"), name

    listing = b.node.ok("received")
    assert listing["total"] == 1, listing
    entry = listing["files"][0]
    assert entry["name"] == name, entry
    assert entry["bytes"] == 10 * MIB, entry
    assert entry["path"] == event["path"], entry
    assert entry["modified"].endswith("Z"), entry
    assert listing["dir"] == os.path.join(data_dir(b), "received"), listing


@with_world(beacon=True)
def test_hostile_names_stay_inside(world):
    a, b = world.peer(), world.peer()
    client = a.ipc()
    conn = client.dial(b.address, 1001)
    long_name = ("n" * 300 + ".txt").encode()
    names = [b"../../escape.txt", b"a\x00b.txt", long_name, b"..", b"/"]
    for i, name in enumerate(names):
        conn.send(file_frame(name, f"content {i}".encode()))
    acks = [read_ack(conn) for _ in names]
    assert acks == ["ACK FILE 9 bytes"] * len(names), acks
    conn.close()

    b.receiver.wait_for_event("file.received")
    wait_until(lambda: len(events_of(b.receiver, "file.received")) == 5, 10,
               what="five file.received events")
    events = events_of(b.receiver, "file.received")
    filenames = [e["filename"] for e in events]
    assert filenames[0] == "escape.txt", filenames
    assert filenames[1] == "a_b.txt", filenames
    assert filenames[2].endswith(".txt"), filenames[2]
    assert len(filenames[2]) <= 200, filenames[2]
    assert filenames[3] == "file", filenames
    assert filenames[4] == "file", filenames
    for i, event in enumerate(events):
        assert check_saved_file(b, event) == f"content {i}".encode(), event
        assert len(os.path.basename(event["path"]).encode()) <= 255
    # The two names that became "file" are separate files.
    assert events[3]["path"] != events[4]["path"], events
    # Nothing landed outside the received folder.
    for root in (data_dir(b), b.node.home, os.path.dirname(b.node.home)):
        assert "escape.txt" not in os.listdir(root), root
    assert len(os.listdir(os.path.join(data_dir(b), "received"))) == 5


@with_world(beacon=True)
def test_same_name_twice_is_kept_twice(world):
    a, b = world.peer(), world.peer()
    client = a.ipc()
    conn = client.dial(b.address, 1001)
    # Two frames in one Send reach the service in the same millisecond.
    conn.send(file_frame(b"twin.txt", b"first") +
              file_frame(b"twin.txt", b"second"))
    assert read_ack(conn) == "ACK FILE 5 bytes"
    assert read_ack(conn) == "ACK FILE 6 bytes"
    conn.close()
    path = os.path.join(a.node.home, "twin.txt")
    with open(path, "wb") as f:
        f.write(b"third")
    a.node.ok("send-file", b.address, path)
    a.node.ok("send-file", b.address, path)
    wait_until(lambda: len(events_of(b.receiver, "file.received")) == 4, 10,
               what="four file.received events")
    events = events_of(b.receiver, "file.received")
    assert all(e["filename"] == "twin.txt" for e in events), events
    assert len({e["path"] for e in events}) == 4, events
    contents = sorted(check_saved_file(b, e) for e in events)
    assert contents == [b"first", b"second", b"third", b"third"], contents

    cleared = b.node.ok("received", "--clear")
    assert cleared == {"cleared": 4}, cleared
    assert b.node.ok("received")["total"] == 0


@with_world(beacon=True)
def test_disabled_service_fails_cleanly(world):
    a = world.peer()
    b = world.peer(extra_args=("--no-dataexchange",))
    check_disabled_service(a, b)


def check_disabled_service(a, b):
    b_address = b.address
    path = os.path.join(a.node.home, "note.txt")
    with open(path, "wb") as f:
        f.write(b"note")
    code, out = a.node.pilotctl("send-file", b_address, path, "--timeout",
                                "20s")
    assert code == 1, out
    assert out["status"] == "error", out
    assert out["code"] == "connection_failed", out
    code, out = a.node.pilotctl("send-message", b_address, "--data", "x")
    assert code == 1, out
    assert out["code"] == "connection_failed", out
    assert not os.path.exists(os.path.join(b.node.home, ".pilot", "received"))
    assert events_of(b.receiver, "file.received") == []


if __name__ == "__main__":
    run([
        test_messages_arrive_in_inbox,
        test_large_file_arrives_intact,
        test_hostile_names_stay_inside,
        test_same_name_twice_is_kept_twice,
        test_disabled_service_fails_cleanly,
    ])
