#!/usr/bin/env python3
"""The event stream broker on port 1002 between real daemons on loopback:
subscriptions and publishes through pilotctl and through a client that
speaks the IPC framing directly, the pubsub.* webhook events at recording
receivers, a subscriber that stops reading, a webhook changed at run time,
and a daemon that runs without the service."""
import json
import os
import select
import struct
import subprocess
import time

from harness import Receiver, binary, finish_pilotctl, run, wait_until
from test_transport import with_world

PORT = 1002
EPHEMERAL = range(49152, 65536)


def frame(topic, payload=b""):
    topic = topic.encode() if isinstance(topic, str) else topic
    return (struct.pack(">H", len(topic)) + topic
            + struct.pack(">I", len(payload)) + payload)


class FrameReader:
    """Splits the data of one connection into (topic, payload) frames."""

    def __init__(self, conn):
        self.conn = conn
        self.buffer = bytearray()

    def parse(self):
        frames = []
        while len(self.buffer) >= 2:
            topic_len = struct.unpack(">H", self.buffer[:2])[0]
            if len(self.buffer) < 2 + topic_len + 4:
                break
            size = struct.unpack(
                ">I", self.buffer[2 + topic_len:6 + topic_len])[0]
            end = 6 + topic_len + size
            if len(self.buffer) < end:
                break
            frames.append((bytes(self.buffer[2:2 + topic_len]).decode(),
                           bytes(self.buffer[6 + topic_len:end])))
            del self.buffer[:end]
        return frames

    def read_frames(self, count, timeout=30):
        """Returns exactly `count` frames; fails at the deadline."""
        frames = []
        deadline = time.monotonic() + timeout
        while len(frames) < count:
            left = deadline - time.monotonic()
            assert left > 0, f"{len(frames)} of {count} frames in {timeout}s"
            self.buffer += self.conn.read_some(left)
            frames += self.parse()
        assert len(frames) == count, frames
        return frames


def subscribe_ipc(peer, target, topic):
    """Dials the target's event stream from a new IPC client of `peer` and
    subscribes the connection to `topic`."""
    conn = peer.ipc().dial(target.address, PORT)
    conn.send(frame(topic))
    return conn


def wait_subscribed(receiver, count, timeout=15):
    wait_until(lambda: len(receiver.event_data("pubsub.subscribed")) >= count,
               timeout, what=f"{count} pubsub.subscribed events")


def check_remote(remote, address):
    assert type(remote) is str, remote
    host, port = remote.rsplit(":", 1)
    assert host == address, remote
    assert int(port) in EPHEMERAL, remote


def assert_silent(conn, within=1.0):
    """Fails if data arrives on the connection within `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with conn.changed:
            assert not conn.buffer, f"unexpected data: {bytes(conn.buffer)!r}"
        time.sleep(0.05)


def read_line(proc, timeout=15):
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, f"no output line within {timeout}s"
    return proc.stdout.readline()


# -- fan-out ------------------------------------------------------------------

@with_world(beacon=True)
def test_publish_reaches_subscribers_not_sender(world):
    a, b, c = world.peer(), world.peer(), world.peer()
    news = a.node.pilotctl_process("subscribe", b.address, "news", "--count",
                                   "1", "--timeout", "30s")
    every = c.node.pilotctl_process("subscribe", b.address, "*", "--count",
                                    "2", "--timeout", "30s")
    wait_subscribed(b.receiver, 2)
    payload = "hello <&> \u00e9 news"
    published = a.node.ok("publish", b.address, "news", "--data", payload)
    assert published == {"target": b.address, "topic": "news",
                         "bytes": len(payload.encode())}, published
    a.node.ok("publish", b.address, "weather", "--data", "rain")
    expected_news = {"topic": "news", "data": payload,
                     "bytes": len(payload.encode())}
    assert finish_pilotctl(news, 30) == {"events": [expected_news],
                                         "timeout": False}
    assert finish_pilotctl(every, 30) == {
        "events": [expected_news,
                   {"topic": "weather", "data": "rain", "bytes": 4}],
        "timeout": False}

    # Each publish subscribed its own connection first, then published.
    subscribed = b.receiver.event_data("pubsub.subscribed")
    topics = sorted(d["topic"] for d in subscribed)
    assert topics == ["*", "news", "news", "weather"], subscribed
    for data in subscribed:
        assert set(data) == {"topic", "remote"}, data
        assert type(data["topic"]) is str, data
        address = c.address if data["topic"] == "*" else a.address
        check_remote(data["remote"], address)
    published = b.receiver.event_data("pubsub.published")
    assert [d["topic"] for d in published] == ["news", "weather"], published
    for data in published:
        assert set(data) == {"topic", "size", "from"}, data
        assert type(data["size"]) is int, data
        check_remote(data["from"], a.address)
    assert published[0]["size"] == len(payload.encode())
    assert published[1]["size"] == 4
    # The publisher's own connection subscribed to the topic it published
    # on, from the same remote.
    publisher = [d for d in subscribed if d["remote"] == published[0]["from"]]
    assert [d["topic"] for d in publisher] == ["news"], subscribed

    # Every connection ended, so each subscription ended with its remote.
    wait_until(lambda: len(b.receiver.event_data("pubsub.unsubscribed")) >= 4,
               15, what="four pubsub.unsubscribed events")
    unsubscribed = b.receiver.event_data("pubsub.unsubscribed")
    assert sorted((d["topic"], d["remote"]) for d in unsubscribed) == sorted(
        (d["topic"], d["remote"]) for d in subscribed), unsubscribed
    for data in unsubscribed:
        assert set(data) == {"topic", "remote"}, data


@with_world(beacon=True)
def test_sender_and_wildcard_rules(world):
    a, b = world.peer(), world.peer()
    news = subscribe_ipc(a, b, "news")
    every = subscribe_ipc(a, b, "*")
    other_every = subscribe_ipc(a, b, "*")
    empty = subscribe_ipc(a, b, "")
    wait_subscribed(b.receiver, 4)
    news_reader = FrameReader(news)
    every_reader = FrameReader(every)
    other_reader = FrameReader(other_every)

    # A publish on news from a news subscriber: not back to the sender.
    binary = bytes(range(256)) * 4
    news.send(frame("news", binary))
    assert every_reader.read_frames(1) == [("news", binary)]
    assert other_reader.read_frames(1) == [("news", binary)]
    assert_silent(news)

    # A publish to * reaches each * subscriber once, and no one else.
    every.send(frame("*", b"to all"))
    assert other_reader.read_frames(1) == [("*", b"to all")]
    assert_silent(every, 0.5)
    assert_silent(news, 0.5)

    # The empty topic is a topic of its own; * subscribers see it too.
    news.send(frame("", b"empty topic"))
    assert FrameReader(empty).read_frames(1) == [("", b"empty topic")]
    assert every_reader.read_frames(1) == [("", b"empty topic")]
    assert other_reader.read_frames(1) == [("", b"empty topic")]

    # A publish without subscribers is still reported.
    news.send(frame("nobody", b"x"))
    data = b.receiver.wait_for_data("pubsub.published",
                                    lambda d: d["topic"] == "nobody")
    assert data["size"] == 1, data

    # Closing reports the end of every subscription, the empty topic too.
    for conn in (news, every, other_every, empty):
        conn.close()
    wait_until(lambda: len(b.receiver.event_data("pubsub.unsubscribed")) >= 4,
               15, what="four pubsub.unsubscribed events")
    topics = sorted(d["topic"] for d in
                    b.receiver.event_data("pubsub.unsubscribed"))
    assert topics == ["", "*", "*", "news"], topics


@with_world(beacon=True)
def test_oversized_frame_closes_connection(world):
    a, b = world.peer(), world.peer()
    conn = subscribe_ipc(a, b, "news")
    wait_subscribed(b.receiver, 1)
    # A topic length of 1025 is over the limit.
    conn.send(struct.pack(">H", 1025) + b"x" * 16)
    conn.wait_eof(15)
    data = b.receiver.wait_for_data("pubsub.unsubscribed")
    assert data["topic"] == "news", data
    # The broker still serves others.
    other = subscribe_ipc(a, b, "news")
    wait_subscribed(b.receiver, 2)
    a.node.ok("publish", b.address, "news", "--data", "still here")
    assert FrameReader(other).read_frames(1) == [("news", b"still here")]


# -- slow subscribers ---------------------------------------------------------

@with_world(beacon=True)
def test_slow_subscriber_does_not_stall_others(world):
    # B raises pubsub.published for each of the thousands of events below.
    # Its webhook passes only the subscription events, so they cannot push
    # pubsub.unsubscribed out of the buffer.
    a = world.peer()
    b = world.peer(extra_args=(
        "--webhook-events", "pubsub.subscribed,pubsub.unsubscribed"))
    c = world.peer()
    slow_client = c.ipc()
    slow = slow_client.dial(b.address, PORT)
    slow.send(frame("news"))
    fast = subscribe_ipc(a, b, "news")
    publisher = subscribe_ipc(a, b, "publisher")
    wait_subscribed(b.receiver, 3)
    # The slow subscriber never reads its IPC socket from now on.
    slow_client.pause_reading()

    def slow_left():
        return b.receiver.event_data(
            "pubsub.unsubscribed",
            lambda d: d["remote"].startswith(c.address + ":"))

    fast_reader = FrameReader(fast)
    size = 8 * 1024
    sent = 0
    batch = 256
    # Publish in batches until the broker drops the slow subscriber; the
    # fast one must get every event of each batch meanwhile.
    for _ in range(40):
        frames = [frame("news", struct.pack(">I", sent + i) * (size // 4))
                  for i in range(batch)]
        publisher.send(b"".join(frames))
        received = fast_reader.read_frames(batch, timeout=60)
        for i, (topic, payload) in enumerate(received):
            assert topic == "news"
            assert payload == struct.pack(">I", sent + i) * (size // 4)
        sent += batch
        if slow_left():
            break
    left = slow_left()
    assert left, f"slow subscriber still subscribed after {sent} events"
    assert left[0]["topic"] == "news", left
    assert "subscriber-too-slow" in b.daemon.log()

    # Once it reads again it gets what was in flight, then the end.
    slow_client.resume_reading()
    slow.wait_eof(60)
    assert slow.received < sent * (size + 10), slow.received
    # The fast subscriber is still served.
    publisher.send(frame("news", b"after"))
    assert fast_reader.read_frames(1) == [("news", b"after")]


# -- webhook changes ----------------------------------------------------------

@with_world(beacon=True)
def test_events_follow_webhook_changes(world):
    a, b = world.peer(), world.peer()
    first = b.receiver
    sub = subscribe_ipc(a, b, "news")
    wait_subscribed(first, 1)
    # A receiver made at run time, after the daemon started.
    second = Receiver()
    try:
        applied = b.node.ok("set-webhook", second.url)
        assert applied["applied"] is True, applied
        a.node.ok("publish", b.address, "news", "--data", "to second")
        assert FrameReader(sub).read_frames(1) == [("news", b"to second")]
        data = second.wait_for_data("pubsub.published")
        assert data["topic"] == "news", data
        assert data["size"] == 9, data
        second.wait_for_data("pubsub.subscribed")
        second.wait_for_data("pubsub.unsubscribed")
        first.assert_no_event("pubsub.published", within=0.5)

        b.node.ok("clear-webhook")
        late = "to nobody at all"
        a.node.ok("publish", b.address, "news", "--data", late)
        assert FrameReader(sub).read_frames(1) == [("news", late.encode())]
        second.assert_no_event("pubsub.published",
                               lambda d: d["size"] == len(late), within=1.0)
        first.assert_no_event("pubsub.published", within=0.1)
    finally:
        second.close()


# -- unbounded subscribe ------------------------------------------------------

@with_world(beacon=True)
def test_unbounded_subscribe_prints_json_lines(world):
    a, b = world.peer(), world.peer()
    proc = a.node.pilotctl_process("subscribe", b.address, "news")
    try:
        wait_subscribed(b.receiver, 1)
        for text in ("one", "two <&>"):
            a.node.ok("publish", b.address, "news", "--data", text)
            line = read_line(proc)
            assert line.endswith(b"\n"), line
            event = json.loads(line)
            assert event == {"bytes": len(text), "data": text,
                             "topic": "news"}, event
            # The line is Go's encoding: sorted keys, <&> escaped.
            assert line.startswith(b'{"bytes":'), line
        assert b"\\u003c" in line, line
    finally:
        proc.kill()
        proc.communicate()
    data = b.receiver.wait_for_data(
        "pubsub.unsubscribed", lambda d: d["remote"].startswith(a.address))
    assert data["topic"] == "news", data


# -- large events and text output ---------------------------------------------

@with_world(beacon=True)
def test_large_event_and_text_output(world):
    a, b = world.peer(), world.peer()
    big = a.node.pilotctl_process("subscribe", b.address, "big", "--count",
                                  "1", "--timeout", "60s")
    env = dict(os.environ)
    env.update(a.node.env())
    text = subprocess.Popen(
        [binary("pilotctl"), "subscribe", b.address, "news", "--count", "1",
         "--timeout", "30s"], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    try:
        wait_subscribed(b.receiver, 2)
        # 3 MiB arrive as many segments and several IPC frames.
        payload = bytes(ord("a") + i % 26 for i in range(3 << 20))
        publisher = subscribe_ipc(a, b, "publisher")
        publisher.send(frame("big", payload))
        result = finish_pilotctl(big, 60)
        assert result["timeout"] is False, result["timeout"]
        assert len(result["events"]) == 1, len(result["events"])
        event = result["events"][0]
        assert event["topic"] == "big", event["topic"]
        assert event["bytes"] == len(payload), event["bytes"]
        assert event["data"] == payload.decode(), len(event["data"])

        a.node.ok("publish", b.address, "news", "--data", "hello text")
        stdout, stderr = text.communicate(timeout=30)
        assert text.returncode == 0, stderr
        assert stdout == b"[news] hello text\n", stdout

        # A bounded subscription without events ends at its timeout.
        quiet = a.node.ok("subscribe", b.address, "quiet", "--timeout", "1s")
        assert quiet == {"events": [], "timeout": True}, quiet
    finally:
        if text.poll() is None:
            text.kill()
            text.communicate()


# -- service switched off -----------------------------------------------------

@with_world(beacon=True)
def test_disabled_service_fails_cleanly(world):
    a = world.peer()
    b = world.peer(extra_args=("--no-eventstream",))
    code, out = a.node.pilotctl("publish", b.address, "news", "--data", "x",
                                "--timeout", "20s")
    assert code == 1, out
    assert out["status"] == "error", out
    assert out["code"] == "connection_failed", out
    assert "1002" in out["message"], out
    code, out = a.node.pilotctl("subscribe", b.address, "news", "--timeout",
                                "20s")
    assert code == 1, out
    assert out["code"] == "connection_failed", out
    b.receiver.assert_no_event("pubsub.subscribed", within=0.2)


if __name__ == "__main__":
    run([
        test_publish_reaches_subscribers_not_sender,
        test_sender_and_wildcard_rules,
        test_oversized_frame_closes_connection,
        test_slow_subscriber_does_not_stall_others,
        test_events_follow_webhook_changes,
        test_unbounded_subscribe_prints_json_lines,
        test_large_event_and_text_output,
        test_disabled_service_fails_cleanly,
    ])
