"""Shared pieces of the system tests: free loopback ports, the real
binaries started as child processes, recording HTTP receivers, pilotctl
calls, a client of the daemon's IPC socket, and a tiny runner that prints
"system: N passed, N failed".

Every process a test starts is registered here and killed at exit, and every
file lives in a temporary directory that is removed at exit.
"""
import atexit
import http.server
import json
import os
import re
import shutil
import queue
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

BIN_DIR = os.environ.get("PILOT_BIN_DIR", os.path.join(
    os.path.dirname(__file__), "..", "..", "build"))
SOURCE_DIR = os.environ.get("PILOT_SOURCE_DIR", os.path.join(
    os.path.dirname(__file__), "..", ".."))
TEST_DIR = os.path.dirname(os.path.abspath(__file__))

_processes = []
_temp_dirs = []
_pid_files = []


def _cleanup():
    for path in _pid_files:
        try:
            with open(path, encoding="ascii") as f:
                os.kill(int(f.read().strip()), signal.SIGKILL)
        except (OSError, ValueError):
            pass
    for proc in _processes:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    for path in _temp_dirs:
        shutil.rmtree(path, ignore_errors=True)


atexit.register(_cleanup)

# Binaries built with ASan or UBSan (the test command's build) must not
# report anything, so a report from any process a test starts fails the
# test. ASan and LSan write their reports to files here, which also catches
# processes whose stderr is discarded. UBSan, linked together with ASan,
# ignores log_path and writes to stderr, so process logs and captured
# pilotctl output are searched for its reports too. Binaries built without
# sanitizers ignore these variables.
#
# AddressSanitizer keeps freed memory in a quarantine to catch uses after
# free, 256 MiB by default except on low-memory targets (compiler-rt's
# asan_flags.cpp).
# A full quarantine would hide a leak of that size from the tests that check
# a process's memory, so the processes the tests start keep at most
# ASAN_QUARANTINE_MIB.
ASAN_QUARANTINE_MIB = 16
SANITIZER_DIR = tempfile.mkdtemp(prefix="pilot-sanitizers-")
_temp_dirs.append(SANITIZER_DIR)
for _variable, _extra in (
        ("ASAN_OPTIONS", [f"quarantine_size_mb={ASAN_QUARANTINE_MIB}",
                          "log_path=" + os.path.join(SANITIZER_DIR, "asan")]),
        ("UBSAN_OPTIONS", ["log_path=" + os.path.join(SANITIZER_DIR,
                                                      "ubsan")])):
    os.environ[_variable] = ":".join(
        filter(None, [os.environ.get(_variable, ""), *_extra]))
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "runtime error:")
_seen_report_files = set()
_log_offsets = {}
_captured_reports = []


def note_sanitizer_output(text):
    """Stores `text`, the captured output of a process, if it contains a
    sanitizer report."""
    if any(marker in text for marker in SANITIZER_MARKERS):
        _captured_reports.append(text)


def _new_log_reports():
    """Returns the sanitizer lines added to *.log files in the temporary
    directories (process logs, a detached daemon's pilot.log) since the
    last call."""
    reports = []
    for directory in _temp_dirs:
        for root, _, files in os.walk(directory):
            for name in files:
                path = os.path.join(root, name)
                if not name.endswith(".log") or root == SANITIZER_DIR:
                    continue
                with open(path, "rb") as f:
                    f.seek(_log_offsets.get(path, 0))
                    text = f.read().decode("utf-8", "replace")
                    _log_offsets[path] = f.tell()
                lines = [line for line in text.splitlines()
                         if any(m in line for m in SANITIZER_MARKERS)]
                if lines:
                    reports.append(f"{path}:\n" + "\n".join(lines))
    return reports


def new_sanitizer_reports():
    """Returns each sanitizer report written since the last call."""
    reports = []
    for name in sorted(os.listdir(SANITIZER_DIR)):
        if name not in _seen_report_files:
            _seen_report_files.add(name)
            with open(os.path.join(SANITIZER_DIR, name), "rb") as f:
                reports.append(f.read().decode("utf-8", "replace"))
    reports += _new_log_reports()
    reports += _captured_reports
    _captured_reports.clear()
    return reports


def binary(name):
    return os.path.join(BIN_DIR, name)


def memory_bound_mib(plain_bound):
    """Returns the RSS growth bound for a check whose bound on a plain build
    is plain_bound MiB. When pilot-daemon is linked with libasan, the bound
    grows by a quarter for the shadow memory (an eighth of the heap), the
    redzones and the allocator's metadata, and by ASAN_QUARANTINE_MIB for
    the quarantine."""
    done = subprocess.run(["readelf", "--dynamic", binary("pilot-daemon")],
                          capture_output=True, timeout=30, check=True)
    if b"libasan.so" not in done.stdout:
        return plain_bound
    return plain_bound * 1.25 + ASAN_QUARANTINE_MIB


def make_temp_dir():
    path = tempfile.mkdtemp(prefix="pilot-system-")
    _temp_dirs.append(path)
    return path


def free_port():
    """Returns a loopback TCP port that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_udp_port():
    """Returns a loopback UDP port that nothing is bound to right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout, interval=0.05, what="condition"):
    """Polls predicate until it returns a truthy value or timeout passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Process:
    """A child process whose stderr goes to a log file that tests can read."""

    def __init__(self, args, env=None, name=None):
        self.name = name or os.path.basename(args[0])
        self.log_path = os.path.join(make_temp_dir(), self.name + ".log")
        self._log = open(self.log_path, "wb")
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, env=full_env)
        _processes.append(self.proc)

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_for_log(self, pattern, timeout=10):
        regex = re.compile(pattern)

        def found():
            match = regex.search(self.log())
            if match is None and self.proc.poll() is not None:
                raise AssertionError(
                    f"{self.name} exited with {self.proc.returncode} before "
                    f"logging {pattern!r}:\n{self.log()}")
            return match

        return wait_until(found, timeout, what=f"{self.name} log {pattern!r}")

    def send_signal(self, signum):
        if self.proc.poll() is None:
            self.proc.send_signal(signum)

    def stop(self, signum=signal.SIGTERM, timeout=10):
        """Sends signum and returns the exit code; kills after timeout."""
        self.send_signal(signum)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"{self.name} did not stop within {timeout}s")

    def running(self):
        return self.proc.poll() is None


class Registry(Process):
    """A real pilot-registry on a free loopback port."""

    def __init__(self, extra_args=(), port=0):
        super().__init__([binary("pilot-registry"), "--listen",
                          f"127.0.0.1:{port}", *extra_args], name="registry")
        match = self.wait_for_log(r"registry-listening.*address=(\S+)")
        self.address = match.group(1)


class Beacon(Process):
    """A real pilot-beacon on a loopback UDP port (a free one by default)."""

    def __init__(self, *extra_args, port=0):
        super().__init__([binary("pilot-beacon"), "--listen",
                          f"127.0.0.1:{port}", *extra_args], name="beacon")
        match = self.wait_for_log(r"beacon-listening.*address=([\d.]+):(\d+)")
        self.address = (match.group(1), int(match.group(2)))
        self.text = f"{self.address[0]}:{self.address[1]}"


class Receiver:
    """A recording HTTP receiver on a free loopback port.

    behaviour(handler, body) decides the answer; the default answers 200.
    Every request is recorded with its path, headers and parsed body.
    """

    def __init__(self, behaviour=None):
        self.requests = []
        self.lock = threading.Lock()
        self.connections = 0
        receiver = self
        behaviour = behaviour or answer_status(200)

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                with receiver.lock:
                    receiver.connections += 1

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                with receiver.lock:
                    receiver.requests.append({
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "raw": raw,
                        "body": body,
                        "time": time.monotonic(),
                    })
                behaviour(self, body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/events"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def bodies(self):
        with self.lock:
            return [r["body"] for r in self.requests]

    def events(self):
        return [b["event"] for b in self.bodies() if b]

    def wait_for_event(self, name, timeout=10):
        def find():
            with self.lock:
                for request in self.requests:
                    if request["body"] and request["body"].get("event") == name:
                        return request
            return None

        return wait_until(find, timeout, what=f"event {name}")

    def event_data(self, name, where=None):
        """Returns the data of every recorded event called name, in arrival
        order, that where(data) accepts (all of them without where)."""
        with self.lock:
            bodies = [r["body"] for r in self.requests if r["body"]]
        return [b.get("data") for b in bodies if b.get("event") == name
                and (where is None or where(b.get("data")))]

    def wait_for_data(self, name, where=None, timeout=10):
        """Waits for an event called name whose data where(data) accepts and
        returns that data; fails with every recorded event of that name."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.event_data(name, where)
            if found:
                return found[0]
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {name} with "
                    f"matching data; recorded: {self.event_data(name)}; "
                    f"all events: {self.events()}")
            time.sleep(0.05)

    def assert_no_event(self, name, where=None, within=0.5):
        """Fails if an event called name that where(data) accepts arrives
        now or in the next `within` seconds."""
        deadline = time.monotonic() + within
        while True:
            found = self.event_data(name, where)
            assert not found, f"unexpected {name}: {found}"
            if time.monotonic() >= deadline:
                return
            time.sleep(0.05)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def answer_status(status, extra_headers=()):
    def behaviour(handler, _body):
        handler.send_response(status)
        for key, value in extra_headers:
            handler.send_header(key, value)
        handler.send_header("Content-Length", "0")
        handler.end_headers()
    return behaviour


def answer_after(seconds, status=200):
    def behaviour(handler, body):
        time.sleep(seconds)
        answer_status(status)(handler, body)
    return behaviour


def never_answer(handler, _body):
    """Keeps the connection open and never writes a response."""
    time.sleep(3600)


def answer_and_close(handler, _body):
    handler.send_response(200)
    handler.send_header("Content-Length", "0")
    handler.send_header("Connection", "close")
    handler.end_headers()
    handler.close_connection = True


class ExampleReceiver(Process):
    """The webhooks page's example receiver, unchanged, on a free port."""

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/events"
        super().__init__([sys.executable, "-u",
                          os.path.join(TEST_DIR, "run_example_receiver.py"),
                          str(self.port)], name="example-receiver")
        wait_until(lambda: _port_open(self.port), 10, what="example receiver")

    def lines(self):
        return [l for l in self.log().splitlines() if l.strip()]


def _port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _has_flag(args, name):
    return any(a in (f"--{name}", f"-{name}") or a.startswith(f"--{name}=")
               or a.startswith(f"-{name}=") for a in args)


class Node:
    """One daemon's world: a temporary HOME, a socket path and pilotctl.

    The daemon talks to `registry` and to `beacon`, anything whose `text`
    is a loopback host:port (a Beacon, or a relay in front of one), or to
    no beacon when it is None. A daemon started here never falls back to
    the public registry or beacon that are the daemon's defaults.
    """

    def __init__(self, registry, beacon=None):
        self.home = make_temp_dir()
        self.socket = os.path.join(self.home, "pilot.sock")
        self.registry = registry
        self.beacon = beacon
        self.daemon = None
        # A daemon started by "pilotctl daemon start" is not our child; its
        # pid file lets the exit handler kill it if a test fails midway.
        _pid_files.append(os.path.join(self.home, ".pilot", "pilot.pid"))

    def env(self):
        return {"HOME": self.home, "PILOT_SOCKET": self.socket,
                "PILOT_REGISTRY": self.registry.address}

    def beacon_address(self):
        """Returns the beacon's host:port, or "" for no beacon."""
        return self.beacon.text if self.beacon else ""

    def pilotctl(self, *args, timeout=30):
        """Runs pilotctl --json; returns (exit code, parsed JSON or None)."""
        if args[:2] == ("daemon", "start") and not _has_flag(args, "beacon"):
            args = (*args, f"--beacon={self.beacon_address()}")
        env = dict(os.environ)
        env.update(self.env())
        done = subprocess.run([binary("pilotctl"), "--json", *args], env=env,
                              capture_output=True, timeout=timeout)
        note_sanitizer_output(done.stderr.decode("utf-8", "replace"))
        text = (done.stdout if done.returncode == 0 else done.stderr).decode()
        try:
            return done.returncode, json.loads(text)
        except ValueError:
            return done.returncode, {"raw": text,
                                     "stderr": done.stderr.decode()}

    def pilotctl_process(self, *args):
        """Starts pilotctl --json in the background and returns the Popen
        with stdout and stderr as pipes; finish_pilotctl waits for it."""
        env = dict(os.environ)
        env.update(self.env())
        proc = subprocess.Popen([binary("pilotctl"), "--json", *args],
                                env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        _processes.append(proc)
        return proc

    def ok(self, *args, timeout=30):
        """Runs pilotctl and returns its data; fails the test on an error."""
        code, out = self.pilotctl(*args, timeout=timeout)
        assert code == 0, f"pilotctl {' '.join(args)} exited {code}: {out}"
        assert out.get("status") == "ok", out
        return out["data"]

    def start_daemon(self, *extra_args, listen="127.0.0.1:0", webhook=None,
                     public=False, encrypt=True, endpoint=None,
                     idle_timeout=None, syn_rate_limit=None, time_wait=None,
                     echo=True):
        """Starts pilot-daemon in the foreground of a child process.

        Durations are Go duration strings such as "2s". extra_args go last
        and may name any other flag.
        """
        options = []
        if not _has_flag(extra_args, "beacon"):
            # pilot-daemon takes an empty value only as the next argument.
            options += ["--beacon", self.beacon_address()]
        if webhook is not None:
            options += ["--webhook", webhook]
        if public:
            options.append("--public")
        if not encrypt:
            options.append("--no-encrypt")
        if endpoint is not None:
            options += ["--endpoint", endpoint]
        if idle_timeout is not None:
            options += ["--idle-timeout", idle_timeout]
        if syn_rate_limit is not None:
            options += ["--syn-rate-limit", str(syn_rate_limit)]
        if time_wait is not None:
            options += ["--time-wait", time_wait]
        if not echo:
            options.append("--no-echo")
        self.daemon = Process([
            binary("pilot-daemon"), "--registry", self.registry.address,
            "--socket", self.socket, "--listen", listen,
            "--identity", os.path.join(self.home, ".pilot", "identity.json"),
            *options, *extra_args], env=self.env(), name="daemon")
        return self.daemon

    def wait_registered(self, timeout=15):
        def registered():
            if self.daemon is not None and not self.daemon.running():
                raise AssertionError(
                    f"pilot-daemon exited with {self.daemon.proc.returncode} "
                    f"before registering:\n{self.daemon.log()}")
            code, out = self.pilotctl("info", timeout=5)
            if code == 0 and out["data"].get("node_id"):
                return out["data"]
            return None

        return wait_until(registered, timeout, interval=0.1,
                          what="daemon registration")

    def webhook_counters(self):
        return self.ok("webhook")

    def ipc(self):
        """Returns a new IpcClient connected to this node's daemon."""
        return IpcClient(self.socket)


# -- IPC client ---------------------------------------------------------------

IPC_BIND = 0x01
IPC_BIND_OK = 0x02
IPC_DIAL = 0x03
IPC_DIAL_OK = 0x04
IPC_ACCEPT = 0x05
IPC_SEND = 0x06
IPC_RECV = 0x07
IPC_CLOSE = 0x08
IPC_CLOSE_OK = 0x09
IPC_ERROR = 0x0A
IPC_SEND_TO = 0x0B
IPC_RECV_FROM = 0x0C
IPC_INFO = 0x0D
IPC_INFO_OK = 0x0E
IPC_MAX_FRAME = 1 << 20
# Data per Send: a frame of at most 1 MiB contains the command byte, the
# 4-byte connection ID and the data.
IPC_MAX_SEND = IPC_MAX_FRAME - 5


def encode_address(text):
    """Encodes a text address N:NNNN.HHHH.LLLL as its 6 wire bytes."""
    network, groups = text.split(":", 1)
    _, high, low = groups.split(".")
    return struct.pack(">HHH", int(network), int(high, 16), int(low, 16))


def decode_address(raw):
    """Decodes 6 wire bytes to the text address N:NNNN.HHHH.LLLL."""
    network, high, low = struct.unpack(">HHH", raw)
    return f"{network}:{network:04X}.{high:04X}.{low:04X}"


class IpcError(Exception):
    """An Error (0x0A) reply of the daemon; the message is its text."""


class StreamConnection:
    """One stream connection of an IpcClient: the data the daemon pushed in
    Recv frames, and whether the receive side has ended."""

    def __init__(self, client, conn_id, local_port=None, remote_addr=None,
                 remote_port=None):
        self.client = client
        self.id = conn_id
        self.local_port = local_port
        self.remote_addr = remote_addr
        self.remote_port = remote_port
        self.buffer = bytearray()
        self.received = 0
        self.eof = False
        # False for connections whose data only gets counted (benchmarks).
        self.keep_data = client.keep_data
        self.changed = threading.Condition(client.lock)

    def send(self, data, chunk=256 * 1024):
        """Sends data in Send frames of at most `chunk` bytes each."""
        view = memoryview(data)
        for start in range(0, len(view), chunk):
            self.client.send_frame(
                IPC_SEND, struct.pack(">I", self.id) + view[start:start + chunk])

    def read_some(self, timeout=10):
        """Returns the data received so far (waiting for some), or b"" once
        the receive side has ended and everything was read."""
        with self.changed:
            if not self.changed.wait_for(lambda: self.buffer or self.eof,
                                         timeout):
                raise AssertionError(
                    f"no data on connection {self.id} within {timeout}s")
            data = bytes(self.buffer)
            self.buffer.clear()
            return data

    def read_exactly(self, size, timeout=30):
        """Returns exactly size bytes; fails on EOF or at the deadline."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while len(self.buffer) < size:
                left = deadline - time.monotonic()
                if self.eof:
                    raise AssertionError(
                        f"connection {self.id} ended after "
                        f"{len(self.buffer)} of {size} bytes")
                if left <= 0 or not self.changed.wait(left):
                    raise AssertionError(
                        f"connection {self.id}: {len(self.buffer)} of {size} "
                        f"bytes within {timeout}s")
            data = bytes(self.buffer[:size])
            del self.buffer[:size]
            return data

    def wait_received(self, size, timeout=30):
        """Waits until `size` bytes in all have arrived (kept or not)."""
        with self.changed:
            if not self.changed.wait_for(
                    lambda: self.received >= size or self.eof, timeout):
                raise AssertionError(
                    f"connection {self.id}: {self.received} of {size} bytes "
                    f"within {timeout}s")
            assert self.received >= size, (
                f"connection {self.id} ended after {self.received} of "
                f"{size} bytes")

    def wait_eof(self, timeout=10):
        with self.changed:
            if not self.changed.wait_for(lambda: self.eof, timeout):
                raise AssertionError(
                    f"connection {self.id} still open after {timeout}s")

    def close(self, timeout=10):
        return self.client.close_connection(self.id, timeout)


class IpcClient:
    """A client of the daemon's IPC socket that speaks its framing directly:
    `len u32 BE | cmd u8 | payload`, requests answered in order, and Accept,
    Recv, CloseOK and RecvFrom pushes at any time.

    A reader thread sorts what the daemon sends: replies go to the oldest
    waiting request, Recv data to its StreamConnection, Accept pushes to
    `accepted`, datagrams to `datagrams`. Errors that no request waits for
    (failed Sends) are kept in `unsolicited_errors`. With keep_data false,
    connections only count the bytes they receive.
    """

    def __init__(self, socket_path, timeout=10, keep_data=True):
        self.keep_data = keep_data
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(socket_path)
        self.sock.settimeout(None)
        self.lock = threading.Lock()
        self.send_lock = threading.Lock()
        self.waiters = []  # [expected command, conn ID or None, queue]
        self.connections = {}
        self.accepted = queue.Queue()
        self.datagrams = queue.Queue()
        self.unsolicited_errors = []
        self.closed = False
        # Cleared while a test wants the daemon's pushes to back up.
        self.reading = threading.Event()
        self.reading.set()
        self.reader = threading.Thread(target=self._read_loop, daemon=True)
        self.reader.start()

    # -- sending --

    def send_frame(self, command, payload=b""):
        header = struct.pack(">IB", len(payload) + 1, command)
        with self.send_lock:
            self.sock.sendall(header)
            if payload:
                self.sock.sendall(payload)

    def request(self, command, payload, expected, conn_id=None, timeout=10):
        """Sends a request and returns the payload of its reply; raises
        IpcError for an Error reply."""
        answer = queue.Queue(maxsize=1)
        with self.send_lock:
            with self.lock:
                self.waiters.append([expected, conn_id, answer])
            header = struct.pack(">IB", len(payload) + 1, command)
            self.sock.sendall(header + bytes(payload))
        try:
            reply_command, reply = answer.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(
                f"no reply to IPC command 0x{command:02x} within {timeout}s")
        if reply_command == IPC_ERROR:
            raise IpcError(reply[2:].decode("utf-8", "replace"))
        return reply

    def bind(self, port, timeout=10):
        reply = self.request(IPC_BIND, struct.pack(">H", port), IPC_BIND_OK,
                             timeout=timeout)
        return struct.unpack(">H", reply)[0]

    def dial(self, address, port, timeout=45):
        """Dials address:port and returns the StreamConnection."""
        reply = self.request(IPC_DIAL,
                             encode_address(address) + struct.pack(">H", port),
                             IPC_DIAL_OK, timeout=timeout)
        conn_id = struct.unpack(">I", reply)[0]
        with self.lock:
            conn = self._connection(conn_id)
            conn.remote_addr, conn.remote_port = address, port
        return conn

    def accept(self, timeout=10):
        try:
            return self.accepted.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no Accept push within {timeout}s")

    def close_connection(self, conn_id, timeout=10):
        reply = self.request(IPC_CLOSE, struct.pack(">I", conn_id),
                             IPC_CLOSE_OK, conn_id=conn_id, timeout=timeout)
        return struct.unpack(">I", reply)[0]

    def send_to(self, address, port, data):
        """Sends one datagram; the daemon replies only on failure."""
        self.send_frame(IPC_SEND_TO,
                        encode_address(address) + struct.pack(">H", port)
                        + data)

    def receive_datagram(self, timeout=10):
        """Returns (src_addr, src_port, dst_port, data) of the next
        RecvFrom push."""
        try:
            return self.datagrams.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no RecvFrom push within {timeout}s")

    def info(self, timeout=10):
        return json.loads(self.request(IPC_INFO, b"", IPC_INFO_OK,
                                       timeout=timeout))

    def pause_reading(self):
        """Stops reading the socket after the read in progress (at most
        4 MiB), so that the daemon's pushes back up."""
        self.reading.clear()

    def resume_reading(self):
        self.reading.set()

    def close(self):
        self.closed = True
        self.reading.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.reader.join(5)

    # -- receiving --

    def _connection(self, conn_id):
        conn = self.connections.get(conn_id)
        if conn is None:
            conn = StreamConnection(self, conn_id)
            self.connections[conn_id] = conn
        return conn

    def _read_loop(self):
        pending = bytearray()
        chunk = bytearray(4 << 20)
        view = memoryview(chunk)
        while True:
            self.reading.wait()
            try:
                n = self.sock.recv_into(chunk)
            except OSError:
                n = 0
            if n == 0:
                break
            pending += view[:n]
            offset = 0
            while len(pending) - offset >= 4:
                length = int.from_bytes(pending[offset:offset + 4], "big")
                if len(pending) - offset - 4 < length:
                    break
                if length and pending[offset + 4] == IPC_RECV:
                    self._on_recv(pending, offset + 5, offset + 4 + length)
                elif length:
                    self._dispatch(pending[offset + 4],
                                   pending[offset + 5:offset + 4 + length])
                offset += 4 + length
            del pending[:offset]
        with self.lock:
            for conn in self.connections.values():
                conn.eof = True
                conn.changed.notify_all()
            for _, _, answer in self.waiters:
                answer.put((IPC_ERROR, b"\0\1IPC socket closed"))
            self.waiters.clear()

    def _on_recv(self, frames, start, end):
        # Called for every segment, so the data is copied only when kept.
        conn_id = int.from_bytes(frames[start:start + 4], "big")
        with self.lock:
            conn = self._connection(conn_id)
            conn.received += end - start - 4
            if conn.keep_data:
                conn.buffer += frames[start + 4:end]
            conn.changed.notify_all()

    def _dispatch(self, command, payload):
        if command == IPC_ACCEPT:
            local_port, conn_id = struct.unpack(">HI", payload[:6])
            with self.lock:
                conn = self._connection(conn_id)
                conn.local_port = local_port
                conn.remote_addr = decode_address(bytes(payload[6:12]))
                conn.remote_port = struct.unpack(">H", payload[12:14])[0]
            self.accepted.put(conn)
        elif command == IPC_RECV_FROM:
            src = decode_address(bytes(payload[:6]))
            src_port, dst_port = struct.unpack(">HH", payload[6:10])
            self.datagrams.put((src, src_port, dst_port, bytes(payload[10:])))
        elif command == IPC_CLOSE_OK:
            self._on_close_ok(int.from_bytes(payload[:4], "big"),
                              bytes(payload))
        else:
            self._on_reply(command, bytes(payload))

    def _on_close_ok(self, conn_id, payload):
        with self.lock:
            conn = self._connection(conn_id)
            conn.eof = True
            conn.changed.notify_all()
            if (self.waiters and self.waiters[0][0] == IPC_CLOSE_OK
                    and self.waiters[0][1] == conn_id):
                self.waiters.pop(0)[2].put((IPC_CLOSE_OK, payload))

    def _on_reply(self, command, payload):
        with self.lock:
            if not self.waiters:
                if command == IPC_ERROR:
                    self.unsolicited_errors.append(
                        payload[2:].decode("utf-8", "replace"))
                return
            expected, _, answer = self.waiters[0]
            if command in (expected, IPC_ERROR):
                self.waiters.pop(0)
                answer.put((command, payload))


def finish_pilotctl(proc, timeout):
    """Waits for a pilotctl started by Node.pilotctl_process and returns
    its data; fails with its error output if it failed or ran too long."""
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise AssertionError(f"pilotctl still running after {timeout}s")
    note_sanitizer_output(stderr.decode("utf-8", "replace"))
    assert proc.returncode == 0, (
        f"pilotctl exited {proc.returncode}: {stderr.decode()}")
    out = json.loads(stdout)
    assert out.get("status") == "ok", out
    return out["data"]


def assert_invariant(counters):
    total = (counters["delivered"] + counters["failed"] + counters["dropped"]
             + counters["in_flight"] + counters["buffered"])
    assert counters["emitted"] == total, f"invariant broken: {counters}"


def timed(fn, *args, **kwargs):
    """Returns (seconds, result) of one call."""
    start = time.monotonic()
    result = fn(*args, **kwargs)
    return time.monotonic() - start, result


def run(tests):
    """Runs test functions in order and prints the summary line."""
    passed = failed = 0
    only = set(sys.argv[1:])
    for test in tests:
        if only and test.__name__ not in only:
            continue
        start = time.monotonic()
        try:
            test()
            reports = new_sanitizer_reports()
            assert not reports, "sanitizer reports:\n" + "\n".join(reports)
        except Exception:  # a failed test must not stop the others
            failed += 1
            print(f"FAIL {test.__name__} ({time.monotonic() - start:.1f}s)")
            traceback.print_exc(file=sys.stdout)
            print("\n".join(new_sanitizer_reports()))
        else:
            passed += 1
            print(f"PASS {test.__name__} ({time.monotonic() - start:.1f}s)")
        sys.stdout.flush()
    late_reports = new_sanitizer_reports()
    if late_reports:
        failed += 1
        print("FAIL sanitizer reports after the last test:")
        print("\n".join(late_reports))
    print(f"system: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
