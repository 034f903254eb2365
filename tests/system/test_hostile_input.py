#!/usr/bin/env python3
"""Hostile and careless input against the daemon's IPC socket, the registry's
TCP port, the daemon's webhook client, its config and identity files, and a
registry that lies. After each attack the process under attack is alive,
serves a well-behaved client at once, and keeps its counters consistent."""
import base64
import json
import os
import re
import signal
import socket
import struct
import subprocess
import threading
import time

from harness import (Node, Receiver, Registry, assert_invariant, binary,
                     free_port, make_temp_dir, memory_bound_mib, run,
                     timed, wait_until)

# IPC command bytes.
IPC_ERROR = 0x0A
IPC_INFO = 0x0D
IPC_INFO_OK = 0x0E
IPC_RESOLVE_HOSTNAME = 0x11
IPC_SET_HOSTNAME = 0x13
IPC_SET_VISIBILITY = 0x15
IPC_SET_TAGS = 0x19
IPC_SET_WEBHOOK = 0x1B
IPC_SET_WEBHOOK_OK = 0x1C
IPC_WEBHOOK_STATS = 0x40

MAX_FRAME = 1 << 20
GENERIC_ERROR = {"error": "request failed", "type": "error"}
# Bytes of an HTTP request: as a length prefix they read as 0x47455420.
HTTP_BYTES = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
WEBHOOK_TIMEOUT = "1s"
SHUTDOWN_GRACE = 1.0


# -- process helpers ----------------------------------------------------------

def rss_kib(pid):
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def closed_by_peer(sock, timeout=2.0):
    """Returns whether the peer closes `sock` within `timeout` unasked."""
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def send_without_reading(sock, data, seconds):
    """Writes as much of `data` as the peer takes within `seconds`."""
    sock.setblocking(False)
    offset = 0
    deadline = time.monotonic() + seconds
    while offset < len(data) and time.monotonic() < deadline:
        try:
            offset += sock.send(data[offset:offset + 65536])
        except BlockingIOError:
            time.sleep(0.01)
        except OSError:
            break
    return offset


# -- IPC ----------------------------------------------------------------------

def ipc_frame(command, payload=b""):
    return struct.pack(">I", 1 + len(payload)) + bytes([command]) + payload


def read_exactly(sock, size):
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def read_ipc_frame(sock):
    """Returns (command, payload), or None when the daemon closed."""
    try:
        header = read_exactly(sock, 4)
        if header is None:
            return None
        body = read_exactly(sock, struct.unpack(">I", header)[0])
    except ConnectionResetError:
        return None
    if body is None:
        return None
    return body[0], body[1:]


def ipc_connect(node):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(5)
    sock.connect(node.socket)
    return sock


def ipc_call(node, command, payload=b""):
    with ipc_connect(node) as sock:
        sock.sendall(ipc_frame(command, payload))
        return read_ipc_frame(sock)


def assert_info_on(sock):
    sock.sendall(ipc_frame(IPC_INFO))
    reply = read_ipc_frame(sock)
    assert reply is not None, "the daemon closed a well-behaved client"
    assert reply[0] == IPC_INFO_OK, reply


def assert_daemon_healthy(node, daemon, keeper=None):
    """The daemon runs, a fresh pilotctl gets info within 1 s, and a client
    connected before the attack is still served."""
    assert daemon.running(), f"daemon exited:\n{daemon.log()[-2000:]}"
    elapsed, _ = timed(node.ok, "info")
    assert elapsed < 1.0, f"info took {elapsed:.2f}s"
    if keeper is not None:
        assert_info_on(keeper)


def start_node(registry, *extra):
    node = Node(registry)
    daemon = node.start_daemon("--shutdown-grace", f"{SHUTDOWN_GRACE:g}s",
                               *extra)
    node.wait_registered()
    return node, daemon


def longest_log_line(process):
    return max(len(line) for line in process.log().splitlines())


def test_ipc_garbage_and_bad_lengths():
    registry = Registry()
    node, daemon = start_node(registry)
    keeper = ipc_connect(node)
    assert_info_on(keeper)
    attacks = {
        "http bytes": HTTP_BYTES,
        "length 1 MiB + 1": struct.pack(">I", MAX_FRAME + 1),
        "length 0xFFFFFFFF": b"\xff\xff\xff\xff",
    }
    for name, data in attacks.items():
        with ipc_connect(node) as sock:
            sock.sendall(data)
            assert closed_by_peer(sock), f"{name}: connection left open"
        assert_daemon_healthy(node, daemon, keeper)
    # A frame cut in the middle, then the client goes away.
    with ipc_connect(node) as sock:
        sock.sendall(struct.pack(">I", 100) + bytes([IPC_INFO]) + b"abc")
    assert_daemon_healthy(node, daemon, keeper)
    # A frame of length 0 is skipped, and the frame after it gets a reply.
    with ipc_connect(node) as sock:
        sock.sendall(struct.pack(">I", 0) + ipc_frame(IPC_INFO))
        reply = read_ipc_frame(sock)
    assert reply is not None and reply[0] == IPC_INFO_OK, reply
    keeper.close()
    daemon.proc.kill()
    registry.stop()


def test_ipc_bad_payloads_get_errors():
    registry = Registry()
    receiver = Receiver()
    node, daemon = start_node(registry, "--webhook", receiver.url)
    cases = [
        (0x99, b"zz", "unknown command: 0x99"),
        (0x7F, b"x" * (MAX_FRAME - 1), "unknown command: 0x7F"),
        (IPC_SET_TAGS, b"{not json", "set_tags"),
        (IPC_SET_TAGS, b"[" * 100000, "set_tags"),
        (IPC_SET_TAGS, b"[1, 2]", "set_tags"),
        (IPC_SET_TAGS, b'["a", "b", "c", "d"]', "maximum 3 tags"),
        (IPC_SET_VISIBILITY, b"", "set_visibility"),
        (IPC_SET_WEBHOOK, b"http://127.0.0.1:1/" + b"a" * (MAX_FRAME - 40),
         "2048"),
        (IPC_SET_WEBHOOK, b"http://169.254.169.254/latest", "metadata"),
        (IPC_SET_WEBHOOK, b"http://127.0.0.1:1/\x00\xff\n", "not a valid URL"),
    ]
    for command, payload, expected in cases:
        reply = ipc_call(node, command, payload)
        assert reply is not None, f"0x{command:02X}: daemon closed"
        assert reply[0] == IPC_ERROR, (command, reply)
        assert expected.encode() in reply[1], (command, reply[1][:200])
    assert_daemon_healthy(node, daemon)
    assert node.webhook_counters()["url"] == receiver.url
    daemon.proc.kill()
    receiver.close()
    registry.stop()


def test_ipc_huge_hostname_no_crash():
    registry = Registry()
    node, daemon = start_node(registry)
    attacks = [
        (IPC_SET_HOSTNAME, b"h" * (MAX_FRAME - 64)),
        (IPC_SET_TAGS, json.dumps(["t" * (MAX_FRAME - 64)]).encode()),
    ]
    for command, payload in attacks:
        reply = ipc_call(node, command, payload)
        assert reply is not None, (
            f"0x{command:02X} with a 1 MiB value: no reply, daemon "
            f"exit {daemon.proc.poll()}:\n{daemon.log()[-300:]}")
        assert reply[0] == IPC_ERROR, reply[:1]
        assert len(reply[1]) < MAX_FRAME, len(reply[1])
        assert_daemon_healthy(node, daemon)
    # Payloads reach the log only truncated.
    assert longest_log_line(daemon) < 65536, longest_log_line(daemon)
    daemon.proc.kill()
    registry.stop()


def test_ipc_pipelined_requests_answered():
    registry = Registry()
    node, daemon = start_node(registry)
    with ipc_connect(node) as sock:
        sock.sendall(ipc_frame(IPC_INFO) * 40)
        replies = [read_ipc_frame(sock) for _ in range(40)]
    answered = [r for r in replies if r is not None and r[0] == IPC_INFO_OK]
    assert len(answered) == 40, f"{len(answered)} of 40 pipelined answered"
    # Clients that pipeline and leave must not use up the client slots.
    for _ in range(70):
        with ipc_connect(node) as sock:
            sock.sendall(ipc_frame(IPC_INFO) * 40)
    wait_until(lambda: node.pilotctl("info", timeout=5)[0] == 0, 5,
               what="a fresh client to be served")
    assert_daemon_healthy(node, daemon)
    daemon.proc.kill()
    registry.stop()


def test_ipc_client_limit_recovers():
    registry = Registry()
    node, daemon = start_node(registry)
    keeper = ipc_connect(node)
    assert_info_on(keeper)
    crowd = [ipc_connect(node) for _ in range(100)]
    served = 0
    for sock in crowd:
        try:
            sock.sendall(ipc_frame(IPC_INFO))
            reply = read_ipc_frame(sock)
        except OSError:
            reply = None
        served += reply is not None
    assert 0 < served < 100, f"{served} of 100 clients served"
    assert_info_on(keeper)
    for sock in crowd:
        sock.close()
    wait_until(lambda: node.pilotctl("info", timeout=5)[0] == 0, 5,
               what="a fresh client after the crowd left")
    assert_daemon_healthy(node, daemon, keeper)
    keeper.close()
    daemon.proc.kill()
    registry.stop()


def test_ipc_client_that_never_reads():
    registry = Registry()
    node, daemon = start_node(registry)
    keeper = ipc_connect(node)
    pid = daemon.proc.pid
    rss_before = rss_kib(pid)
    stubborn = ipc_connect(node)
    send_without_reading(stubborn, ipc_frame(IPC_INFO) * 5000, 2)
    assert_daemon_healthy(node, daemon, keeper)
    growth = rss_kib(pid) - rss_before
    assert growth < memory_bound_mib(16) * 1024, f"RSS grew by {growth} KiB"
    stubborn.close()
    assert_daemon_healthy(node, daemon, keeper)
    keeper.close()
    daemon.proc.kill()
    registry.stop()


def test_ipc_oversize_lookup_keeps_registry():
    registry = Registry()
    node, daemon = start_node(registry)
    # The frame fits the IPC limit; the registry request it makes does not.
    reply = ipc_call(node, IPC_RESOLVE_HOSTNAME, b"h" * (MAX_FRAME - 16))
    assert reply is not None and reply[0] == IPC_ERROR, reply
    # The registry is reachable, so one oversize request must not make the
    # daemon report it unreachable until the next heartbeat.
    data = node.ok("set-hostname", "after-oversize")
    assert data["hostname"] == "after-oversize", data
    assert node.ok("find", "after-oversize")["node_id"] > 0
    daemon.proc.kill()
    registry.stop()


def test_daemon_memory_flat_under_ipc_flood():
    registry = Registry()
    receiver = Receiver()
    node, daemon = start_node(registry, "--webhook", receiver.url)
    pid = daemon.proc.pid
    dead = f"http://127.0.0.1:{free_port()}/events"
    requests = [
        (IPC_INFO, b""),
        (IPC_WEBHOOK_STATS, b""),
        (IPC_SET_WEBHOOK, dead.encode()),
        (IPC_SET_WEBHOOK, receiver.url.encode()),
        (IPC_SET_HOSTNAME, b"bad name!"),
        (0x99, b"x" * 1000),
    ]
    fds_before = open_fds(pid)

    def flood():
        with ipc_connect(node) as sock:
            for i in range(1500):
                sock.sendall(ipc_frame(*requests[i % len(requests)]))
                assert read_ipc_frame(sock) is not None
        for _ in range(200):
            with ipc_connect(node) as sock:
                sock.sendall(ipc_frame(IPC_INFO)[:3])

    # The first round fills the allocator's caches (and under
    # AddressSanitizer part of its quarantine); later rounds must not grow.
    flood()
    rss_before = rss_kib(pid)
    for _ in range(4):
        flood()

    assert_daemon_healthy(node, daemon)
    growth = rss_kib(pid) - rss_before
    bound = memory_bound_mib(32) * 1024
    assert growth < bound, f"RSS grew by {growth} KiB"
    wait_until(lambda: open_fds(pid) <= fds_before, 5,
               what=f"file descriptors back to {fds_before}")
    daemon.proc.kill()
    receiver.close()
    registry.stop()


# -- registry TCP port --------------------------------------------------------

def registry_frame(body):
    return struct.pack(">I", len(body)) + body


def registry_connect(registry, source="127.0.0.1"):
    host, port = registry.address.rsplit(":", 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(5)
    sock.bind((source, 0))
    sock.connect((host, int(port)))
    return sock


def read_registry_reply(sock):
    """Returns the decoded reply, or None when the registry closed."""
    try:
        header = read_exactly(sock, 4)
        if header is None:
            return None
        body = read_exactly(sock, struct.unpack(">I", header)[0])
    except ConnectionResetError:
        return None
    return None if body is None else json.loads(body)


def registry_call(sock, message):
    sock.sendall(registry_frame(json.dumps(message).encode()))
    return read_registry_reply(sock)


def registry_raw(registry, data, source="127.0.0.1"):
    with registry_connect(registry, source) as sock:
        sock.sendall(data)
        return read_registry_reply(sock)


def new_public_key():
    return base64.b64encode(os.urandom(32)).decode()


def assert_registry_serves(registry):
    assert registry.running(), f"registry exited:\n{registry.log()[-2000:]}"
    with registry_connect(registry) as sock:
        elapsed, reply = timed(registry_call, sock, {"type": "beacon_list"})
    assert reply == {"beacons": [], "type": "beacon_list_ok"}, reply
    assert elapsed < 1.0, f"beacon_list took {elapsed:.2f}s"


def test_registry_drops_bad_frames():
    registry = Registry()
    closing = {
        "length 0": struct.pack(">I", 0),
        "length 1 MiB + 1": struct.pack(">I", MAX_FRAME + 1),
        "length 0xFFFFFFFF": b"\xff\xff\xff\xff",
        "http bytes": HTTP_BYTES,
        "array": registry_frame(b"[1, 2, 3]"),
        "string": registry_frame(b'"lookup"'),
        "number": registry_frame(b"42"),
        "not json": registry_frame(b"{type: lookup}"),
        "deep array": registry_frame(b"[" * 100000 + b"]" * 100000),
        "deep object": registry_frame(b'{"a":' * 5000 + b"1" + b"}" * 5000),
        "trailing bytes": registry_frame(b'{"type":"lookup"} x'),
        "two objects": registry_frame(b'{"type":"lookup"}{"type":"x"}'),
    }
    for name, data in closing.items():
        with registry_connect(registry) as sock:
            sock.sendall(data)
            assert closed_by_peer(sock), f"{name}: connection left open"
        assert_registry_serves(registry)
    answered = {
        "null": b"null",
        "wrong types": b'{"type": ["lookup"], "node_id": "1"}',
        "numeric type": b'{"type": 5}',
        "unknown type": b'{"type": "' + b"x" * 100000 + b'"}',
        "negative id": b'{"type": "lookup", "node_id": -1}',
        "huge id": b'{"type": "lookup", "node_id": 184467440737095516150}',
        "invalid utf-8": b'{"type": "lookup\xff\xfe", "node_id": 1}',
        "short key": b'{"type": "register", "public_key": "AAAA"}',
    }
    for name, body in answered.items():
        reply = registry_raw(registry, registry_frame(body))
        assert reply == GENERIC_ERROR, f"{name}: {reply}"
    # A number beyond a double either closes or fails; it never crashes.
    reply = registry_raw(registry, registry_frame(
        b'{"type": "lookup", "node_id": 1e400}'))
    assert reply in (None, GENERIC_ERROR), reply
    assert_registry_serves(registry)
    registry.stop()


def test_registry_rejects_bad_signatures():
    registry = Registry()
    pid = registry.proc.pid
    with registry_connect(registry, "127.0.0.6") as sock:
        reply = registry_call(sock, {"type": "register",
                                     "public_key": new_public_key()})
        assert reply["type"] == "register_ok", reply
        node_id = reply["node_id"]
        forged = {"type": "set_hostname", "node_id": node_id,
                  "hostname": "stolen", "signature": "A" * 86 + "=="}
        assert registry_call(sock, forged) == GENERIC_ERROR
        unsigned = {"type": "set_visibility", "node_id": node_id,
                    "public": True}
        assert registry_call(sock, unsigned) == GENERIC_ERROR
        lookup = registry_call(sock, {"type": "lookup", "node_id": node_id})
        assert "hostname" not in lookup, lookup
        assert lookup["public"] is False, lookup
        rss_before = rss_kib(pid)
        for i in range(3000):
            signature = "!!!" if i % 2 else new_public_key() * 2
            reply = registry_call(sock, {"type": "heartbeat",
                                         "node_id": node_id,
                                         "signature": signature})
            assert reply == GENERIC_ERROR, reply
    growth = rss_kib(pid) - rss_before
    assert growth < memory_bound_mib(8) * 1024, f"RSS grew by {growth} KiB"
    assert_registry_serves(registry)
    registry.stop()


def test_registry_limits_connections_per_ip():
    registry = Registry()
    crowd = [registry_connect(registry, "127.0.0.2") for _ in range(100)]
    served = 0
    for sock in crowd:
        try:
            served += registry_call(sock, {"type": "beacon_list"}) is not None
        except OSError:
            pass
    assert 0 < served <= 64, f"{served} of 100 connections from one IP"
    # Another address is served while the crowd keeps its connections open.
    assert_registry_serves(registry)
    for sock in crowd:
        sock.close()
    registry.stop()


def test_registry_rate_limits_register():
    registry = Registry()
    first_key = new_public_key()
    with registry_connect(registry, "127.0.0.3") as sock:
        results = [registry_call(sock, {"type": "register",
                                        "public_key": key})
                   for key in [first_key] + [new_public_key()
                                             for _ in range(14)]]
        accepted = [r["type"] == "register_ok" for r in results]
        assert accepted == [True] * 10 + [False] * 5, accepted
        # A known key still re-registers with an empty bucket.
        again = registry_call(sock, {"type": "register",
                                     "public_key": first_key})
        assert again["node_id"] == results[0]["node_id"], again
    with registry_connect(registry, "127.0.0.4") as sock:
        other = registry_call(sock, {"type": "register",
                                     "public_key": new_public_key()})
        assert other["type"] == "register_ok", other
    registry.stop()


def test_registry_closes_slow_client():
    registry = Registry(["--idle-timeout", "1s"])
    with registry_connect(registry) as sock:
        assert closed_by_peer(sock, 3), "an idle connection stayed open"
    # One byte every 0.25 s never completes a request within the timeout.
    body = json.dumps({"type": "lookup", "node_id": 1,
                       "pad": "x" * 40}).encode()
    data = registry_frame(body)
    start = time.monotonic()
    with registry_connect(registry) as sock:
        try:
            for byte in data:
                sock.sendall(bytes([byte]))
                time.sleep(0.25)
                if time.monotonic() - start > 3:
                    break
            still_open = not closed_by_peer(sock, 0.5)
        except OSError:
            still_open = False
    elapsed = time.monotonic() - start
    assert not still_open, f"a trickling client held on for {elapsed:.1f}s"
    assert_registry_serves(registry)
    registry.stop()


# -- hostile webhook receivers ------------------------------------------------

class RawReceiver:
    """A TCP server that reads each HTTP request and lets `behaviour(conn)`
    write whatever it likes; returning "close" closes the connection."""

    def __init__(self, behaviour):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/events"
        self.behaviour = behaviour
        self.requests = 0
        self.connections = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections.append(conn)
            threading.Thread(target=self._serve, args=(conn,),
                             daemon=True).start()

    def _serve(self, conn):
        buffer = b""
        try:
            while True:
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length:\s*(\d+)",
                                       head).group(1))
                while len(buffer) < length:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                buffer = buffer[length:]
                self.requests += 1
                if self.behaviour(conn) == "close":
                    conn.close()
                    return
        except OSError:
            pass

    def close(self):
        self.sock.close()
        for conn in self.connections:
            try:
                conn.close()
            except OSError:
                pass


def drip_status_line(conn):
    for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n":
        conn.sendall(bytes([byte]))
        time.sleep(0.5)


def endless_chunked_body(conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    while True:
        conn.sendall(b"1000\r\n" + b"x" * 4096 + b"\r\n")


def ten_megabyte_body(conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10485760\r\n\r\n")
    conn.sendall(b"x" * 10485760)


def huge_header_block(conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\n" + b"".join(
        b"X-Junk-%d: %s\r\n" % (i, b"y" * 1000) for i in range(2000))
        + b"Content-Length: 0\r\n\r\n")


def not_http(conn):
    conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n" + bytes(range(256)) * 8)
    time.sleep(60)


def interim_flood(conn):
    while True:
        conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n" * 64)


def close_mid_body(conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc")
    return "close"


def reset_connection(conn):
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                    struct.pack("ii", 1, 0))
    return "close"


def no_length_keep_alive(conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nok")
    time.sleep(60)


def status_zero(conn):
    conn.sendall(b"HTTP/1.1 000 Zero\r\nContent-Length: 0\r\n\r\n")


def hang(conn):
    time.sleep(60)


def settled_counters(node):
    """Waits until the first event's attempt ended; returns the counters."""
    def settled():
        counters = node.webhook_counters()
        done = counters["delivered"] + counters["failed"] >= 1
        return counters if done and counters["in_flight"] == 0 else None

    return wait_until(settled, 5, what="the first attempt to end")


def attack_webhook(behaviour):
    """Runs a daemon against a receiver with `behaviour`; returns what the
    checks need after asserting what holds for every receiver."""
    registry = Registry()
    receiver = RawReceiver(behaviour)
    node, daemon = start_node(registry, "--webhook", receiver.url,
                              "--webhook-timeout", WEBHOOK_TIMEOUT)
    counters = settled_counters(node)
    assert_invariant(counters)
    assert_daemon_healthy(node, daemon)
    elapsed, code = timed(daemon.stop)
    assert code == 0, code
    assert elapsed < SHUTDOWN_GRACE + 2, f"stop took {elapsed:.2f}s"
    receiver.close()
    registry.stop()
    return counters


def test_receiver_dripping_status_line():
    counters = attack_webhook(drip_status_line)
    assert counters["failed_timeout"] == 1, counters
    assert counters["state"] == "down", counters


def test_receiver_endless_chunked_body():
    counters = attack_webhook(endless_chunked_body)
    assert counters["delivered"] == 1, counters
    assert counters["state"] == "up", counters


def test_receiver_ten_megabyte_body():
    counters = attack_webhook(ten_megabyte_body)
    assert counters["delivered"] == 1, counters
    assert counters["state"] == "up", counters


def test_receiver_huge_header_block():
    counters = attack_webhook(huge_header_block)
    assert counters["failed_connect"] == 1, counters
    assert "header limit" in counters["last_error"], counters


def test_receiver_not_speaking_http():
    counters = attack_webhook(not_http)
    assert counters["failed_connect"] == 1, counters
    assert "invalid HTTP response" in counters["last_error"], counters


def test_receiver_interim_response_flood():
    counters = attack_webhook(interim_flood)
    assert counters["failed_timeout"] == 1, counters
    assert counters["delivered"] == 0, counters


def test_receiver_resetting_connection():
    counters = attack_webhook(reset_connection)
    assert counters["failed_connect"] == 1, counters
    assert counters["state"] == "down", counters
    assert "reset" in counters["last_error"], counters


def test_receiver_closing_mid_body():
    # The 200 arrived, then the body was cut: an HTTP response was received,
    # so the endpoint is not down and the 2xx counts as delivered.
    counters = attack_webhook(close_mid_body)
    assert counters["state"] == "up", counters
    assert counters["delivered"] == 1, counters


def test_receiver_no_length_keep_alive():
    # HTTP/1.1 200 without Content-Length on a connection left open. The
    # receiver sent a 2xx, so the event is delivered and the endpoint up.
    counters = attack_webhook(no_length_keep_alive)
    assert counters["state"] == "up", counters
    assert counters["delivered"] == 1, counters


def test_receiver_status_zero_error_text():
    counters = attack_webhook(status_zero)
    assert counters["failed"] == 1, counters
    assert counters["last_error"] != "", counters


def test_stop_within_grace_while_hanging():
    registry = Registry()
    for behaviour in [hang, drip_status_line, interim_flood,
                      no_length_keep_alive]:
        receiver = RawReceiver(behaviour)
        node, daemon = start_node(registry, "--webhook", receiver.url,
                                  "--webhook-timeout", "5s")
        wait_until(lambda: receiver.requests >= 1, 5, what="the request")
        assert node.webhook_counters()["in_flight"] == 1
        elapsed, code = timed(daemon.stop)
        assert code == 0, code
        assert elapsed < SHUTDOWN_GRACE + 2, (
            f"{behaviour.__name__}: stop took {elapsed:.2f}s")
        # Events still in flight or buffered at the end count as abandoned.
        log = daemon.log()
        final = re.search(r"in_flight=(\d+) buffered=(\d+)", log)
        abandoned = re.search(r"daemon-stopped.*webhook_abandoned=(\d+)", log)
        assert final and abandoned, log
        assert int(abandoned[1]) == int(final[1]) + int(final[2]), log
        if behaviour is hang:
            assert int(abandoned[1]) >= 1, log
        receiver.close()
    registry.stop()


# -- hot swaps ----------------------------------------------------------------

def test_hot_swap_storm():
    registry = Registry()
    hanging = RawReceiver(hang)
    good = Receiver()
    dead = f"http://127.0.0.1:{free_port()}/events"
    node, daemon = start_node(registry, "--webhook", hanging.url,
                              "--webhook-timeout", "2s")
    wait_until(lambda: hanging.requests >= 1, 5, what="the hanging request")

    urls = [dead, hanging.url, good.url]
    slowest = 0.0
    for i in range(1, 201):
        elapsed, data = timed(node.ok, "set-webhook", urls[i % 3])
        assert data["applied"] is True, data
        slowest = max(slowest, elapsed)
    assert slowest < 0.5, f"slowest set-webhook took {slowest:.2f}s"

    # The same over the raw socket, 600 times, without process start-up.
    with ipc_connect(node) as sock:
        for i in range(600):
            start = time.monotonic()
            sock.sendall(ipc_frame(IPC_SET_WEBHOOK, urls[i % 3].encode()))
            reply = read_ipc_frame(sock)
            slowest = max(slowest, time.monotonic() - start)
            assert reply is not None and reply[0] == IPC_SET_WEBHOOK_OK
    assert slowest < 0.5, f"slowest raw swap took {slowest:.2f}s"

    node.ok("set-webhook", good.url)
    counters = node.webhook_counters()
    assert counters["url"] == good.url, counters
    assert_invariant(counters)
    node.ok("deregister")
    good.wait_for_event("node.deregistered")
    assert good.events() == ["node.deregistered"], good.events()
    assert hanging.requests == 1, hanging.requests
    assert_invariant(node.webhook_counters())

    elapsed, code = timed(daemon.stop)
    assert code == 0, code
    assert elapsed < SHUTDOWN_GRACE + 2, f"stop took {elapsed:.2f}s"
    hanging.close()
    good.close()
    registry.stop()


# -- config files, identity and restarts --------------------------------------

def run_daemon_briefly(registry, home, *args):
    """Runs pilot-daemon expecting it to refuse to start."""
    done = subprocess.run(
        [binary("pilot-daemon"), "--registry", registry.address,
         "--socket", os.path.join(home, "pilot.sock"),
         "--listen", "127.0.0.1:0", "--beacon", "",
         "--identity", os.path.join(home, "identity.json"), *args],
        env={**os.environ, "HOME": home}, capture_output=True, timeout=5)
    return done.returncode, done.stderr.decode()


def test_config_errors_name_key_and_line():
    registry = Registry()
    home = make_temp_dir()
    path = os.path.join(home, "config.json")
    cases = [
        ('{\n "webhook-timeout": 5\n}\n', "webhook-timeout", 2),
        ('{\n "registry": "127.0.0.1:1",\n "webhook_buffer": "many"\n}\n',
         "webhook_buffer", 3),
        ('{\n\n "public": "yes"\n}\n', "public", 3),
        ('{\n "webhook": "http://127.0.0.1:1/x",\n "webhook": 5\n}\n',
         "webhook", 3),
        ('{\n "webhook": "http://127.0.0.1:1/x"\n "hostname": "a"\n}\n',
         "webhook", 3),
        ('{\n "webhook-buffer": 99999999999999999999999\n}\n',
         "webhook-buffer", 2),
        ('{\n "webhook-concurrency": -1\n}\n', "webhook-concurrency", 2),
        ('{\n "log-level": ["debug"]\n}\n', "log-level", 2),
        ('{\n "webhook": "http://169.254.169.254/latest"\n}\n', "webhook", 2),
        ('{\n "x": 1,\n "keepalive": "1ns"\n}\n', "keepalive", 3),
    ]
    for text, key, line in cases:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        code, stderr = run_daemon_briefly(registry, home, "--config", path)
        assert code != 0, f"started with {text!r}"
        assert f"line {line}" in stderr, (text, stderr)
        assert f'"{key}"' in stderr, (text, stderr)
        with open(path, encoding="utf-8") as f:
            assert f.read() == text, "the config file was changed"
    for text in ['[1, 2]', '', '"just text"']:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        code, stderr = run_daemon_briefly(registry, home, "--config", path)
        assert code != 0, f"started with {text!r}"
        assert "line 1" in stderr, (text, stderr)
        with open(path, encoding="utf-8") as f:
            assert f.read() == text, "the config file was changed"
    registry.stop()


def test_sighup_broken_config_changes_nothing():
    registry = Registry()
    first, second = Receiver(), Receiver()
    node = Node(registry)
    path = os.path.join(node.home, "daemon.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"webhook": first.url}, f)
    daemon = node.start_daemon("--config", path)
    node.wait_registered()
    for broken in ['{"webhook": "' + second.url + '",', '{"webhook": 5}',
                   '{"webhook": "http://169.254.169.254/"}', '',
                   '{"webhook": "' + second.url + '", "keepalive": "0s"}']:
        with open(path, "w", encoding="utf-8") as f:
            f.write(broken)
        count = daemon.log().count("reload-failed")
        daemon.send_signal(signal.SIGHUP)
        wait_until(lambda: daemon.log().count("reload-failed") > count, 5,
                   what="the failed reload")
        assert_daemon_healthy(node, daemon)
        assert node.webhook_counters()["url"] == first.url
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"webhook": second.url}, f)
    daemon.send_signal(signal.SIGHUP)
    wait_until(lambda: node.webhook_counters()["url"] == second.url, 5,
               what="the good reload")
    daemon.proc.kill()
    first.close()
    second.close()
    registry.stop()


def test_registry_restarts_keep_node_usable():
    port = free_port()
    store = os.path.join(make_temp_dir(), "registry.json")
    registry = Registry(["--store", store], port=port)
    receiver = Receiver()
    node = Node(registry)
    daemon = node.start_daemon("--webhook", receiver.url, "--keepalive", "1s",
                               "--shutdown-grace", "1s")
    node_id = node.wait_registered()["node_id"]
    wait_until(lambda: os.path.exists(store), 5, what="the store file")
    assert os.stat(store).st_mode & 0o777 == 0o600
    # Killed, then back with its store: the node keeps its ID and its
    # signed requests work again.
    registry.proc.kill()
    registry.proc.wait()
    assert_daemon_healthy(node, daemon)
    node.registry = Registry(["--store", store], port=port)
    wait_until(lambda: node.pilotctl("set-hostname", "kept", timeout=5)[0]
               == 0, 15, interval=0.2, what="set-hostname after restart")
    assert node.ok("info")["node_id"] == node_id
    # Stopped and back without a store: the daemon registers again.
    node.registry.stop()
    node.registry = Registry(port=port)
    receiver.wait_for_event("node.reregistered", timeout=15)
    wait_until(lambda: node.pilotctl("set-hostname", "again", timeout=5)[0]
               == 0, 10, interval=0.2, what="set-hostname after re-register")
    assert_invariant(node.webhook_counters())
    daemon.proc.kill()
    receiver.close()
    node.registry.stop()


def test_identity_private_stable_guarded():
    registry = Registry()
    node, daemon = start_node(registry)
    node_id = node.ok("info")["node_id"]
    path = os.path.join(node.home, ".pilot", "identity.json")
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert os.stat(os.path.dirname(path)).st_mode & 0o777 == 0o700
    assert daemon.stop() == 0
    daemon = node.start_daemon()
    assert node.wait_registered()["node_id"] == node_id
    assert daemon.stop() == 0
    for corrupt in [b'{"private_key": "garbage"', b"", b"\x00" * 64]:
        with open(path, "wb") as f:
            f.write(corrupt)
        daemon = node.start_daemon()
        assert daemon.proc.wait(10) != 0
        assert "identity file" in daemon.log(), daemon.log()[-500:]
        with open(path, "rb") as f:
            assert f.read() == corrupt, "the identity file was overwritten"
    registry.stop()


def test_daemon_stop_ignores_foreign_pid():
    registry = Registry()
    node = Node(registry)
    pid_file = os.path.join(node.home, ".pilot", "pilot.pid")
    os.makedirs(os.path.dirname(pid_file), mode=0o700)
    bystander = subprocess.Popen(["sleep", "30"])
    try:
        for content in [str(bystander.pid), "garbage", "99999999", ""]:
            with open(pid_file, "w", encoding="ascii") as f:
                f.write(content)
            code, out = node.pilotctl("daemon", "stop")
            assert code == 1, out
            assert out["code"] == "not_running", out
            assert bystander.poll() is None, "stop signalled another process"
    finally:
        bystander.kill()
        bystander.wait()
        if os.path.exists(pid_file):
            os.remove(pid_file)
    registry.stop()


# -- a registry that lies -----------------------------------------------------

class LyingRegistry:
    """Reads registry frames and replies with `answer(conn, request)`."""

    def __init__(self, answer):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.address = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.answer = answer
        self.requests = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,),
                             daemon=True).start()

    def _serve(self, conn):
        try:
            while True:
                request = read_registry_reply(conn)
                if request is None:
                    return
                self.requests.append(request)
                self.answer(conn, request)
        except OSError:
            pass

    def close(self):
        self.sock.close()


def register_ok(conn, request, **fields):
    reply = {"type": "register_ok", "node_id": 7, "network_id": 0,
             "address": "0:0000.0000.0007",
             "public_key": request.get("public_key", "")}
    reply.update(fields)
    conn.sendall(registry_frame(json.dumps(reply).encode()))


def test_daemon_survives_lying_registry():
    answers = {
        "http bytes": lambda conn, _: conn.sendall(HTTP_BYTES),
        "huge length": lambda conn, _: conn.sendall(b"\xff\xff\xff\xff"),
        "array": lambda conn, _: conn.sendall(registry_frame(b"[1, 2]")),
        "string id": lambda conn, r: register_ok(conn, r, node_id="7"),
        "negative id": lambda conn, r: register_ok(conn, r, node_id=-7),
    }
    started = []
    for name, answer in answers.items():
        liar = LyingRegistry(answer)
        node = Node(liar)
        started.append((name, liar, node, node.start_daemon(
            "--shutdown-grace", "1s")))
    for name, liar, node, daemon in started:
        wait_until(lambda: len(liar.requests) >= 2, 5,
                   what=f"{name}: a second register attempt")
        # The registry actor starts before the IPC socket does, so on a
        # loaded machine both attempts may come before the socket exists.
        daemon.wait_for_log(r"ipc-listening")
        assert_daemon_healthy(node, daemon)
        assert node.ok("info")["node_id"] == 0, name
        elapsed, code = timed(daemon.stop)
        assert code == 0, (name, code)
        assert elapsed < 3, f"{name}: stop took {elapsed:.2f}s"
        liar.close()


def test_daemon_rejects_forged_address():
    liar = LyingRegistry(lambda conn, r: register_ok(
        conn, r, address="0:0000.0000.0007\n" + "A" * 5000))
    node = Node(liar)
    daemon = node.start_daemon("--shutdown-grace", "1s")
    wait_until(lambda: liar.requests, 5, what="the register request")
    time.sleep(0.3)
    # The address of node 7 is 0:0000.0000.0007 and nothing else.
    address = node.ok("info")["address"]
    assert address in ("", "0:0000.0000.0007"), address[:80]
    daemon.proc.kill()
    liar.close()


if __name__ == "__main__":
    run([
        test_ipc_garbage_and_bad_lengths,
        test_ipc_bad_payloads_get_errors,
        test_ipc_huge_hostname_no_crash,
        test_ipc_pipelined_requests_answered,
        test_ipc_client_limit_recovers,
        test_ipc_client_that_never_reads,
        test_ipc_oversize_lookup_keeps_registry,
        test_daemon_memory_flat_under_ipc_flood,
        test_registry_drops_bad_frames,
        test_registry_rejects_bad_signatures,
        test_registry_limits_connections_per_ip,
        test_registry_rate_limits_register,
        test_registry_closes_slow_client,
        test_receiver_dripping_status_line,
        test_receiver_endless_chunked_body,
        test_receiver_ten_megabyte_body,
        test_receiver_huge_header_block,
        test_receiver_not_speaking_http,
        test_receiver_interim_response_flood,
        test_receiver_resetting_connection,
        test_receiver_closing_mid_body,
        test_receiver_no_length_keep_alive,
        test_receiver_status_zero_error_text,
        test_stop_within_grace_while_hanging,
        test_hot_swap_storm,
        test_config_errors_name_key_and_line,
        test_sighup_broken_config_changes_nothing,
        test_registry_restarts_keep_node_usable,
        test_identity_private_stable_guarded,
        test_daemon_stop_ignores_foreign_pid,
        test_daemon_survives_lying_registry,
        test_daemon_rejects_forged_address,
    ])
