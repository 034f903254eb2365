"""Shared pieces of the system tests: free loopback ports, the real
binaries started as child processes, recording HTTP receivers, pilotctl
calls, and a tiny runner that prints "system: N passed, N failed".

Every process a test starts is registered here and killed at exit, and every
file lives in a temporary directory that is removed at exit.
"""
import atexit
import http.server
import json
import os
import re
import shutil
import signal
import socket
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


def binary(name):
    return os.path.join(BIN_DIR, name)


def make_temp_dir():
    path = tempfile.mkdtemp(prefix="pilot-system-")
    _temp_dirs.append(path)
    return path


def free_port():
    """Returns a loopback TCP port that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
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


class Node:
    """One daemon's world: a temporary HOME, a socket path and pilotctl."""

    def __init__(self, registry):
        self.home = make_temp_dir()
        self.socket = os.path.join(self.home, "pilot.sock")
        self.registry = registry
        self.daemon = None
        # A daemon started by "pilotctl daemon start" is not our child; its
        # pid file lets the exit handler kill it if a test fails midway.
        _pid_files.append(os.path.join(self.home, ".pilot", "pilot.pid"))

    def env(self):
        return {"HOME": self.home, "PILOT_SOCKET": self.socket,
                "PILOT_REGISTRY": self.registry.address}

    def pilotctl(self, *args, timeout=30):
        """Runs pilotctl --json; returns (exit code, parsed JSON or None)."""
        env = dict(os.environ)
        env.update(self.env())
        done = subprocess.run([binary("pilotctl"), "--json", *args], env=env,
                              capture_output=True, timeout=timeout)
        text = (done.stdout if done.returncode == 0 else done.stderr).decode()
        try:
            return done.returncode, json.loads(text)
        except ValueError:
            return done.returncode, {"raw": text,
                                     "stderr": done.stderr.decode()}

    def ok(self, *args, timeout=30):
        """Runs pilotctl and returns its data; fails the test on an error."""
        code, out = self.pilotctl(*args, timeout=timeout)
        assert code == 0, f"pilotctl {' '.join(args)} exited {code}: {out}"
        assert out.get("status") == "ok", out
        return out["data"]

    def start_daemon(self, *extra_args):
        """Starts pilot-daemon in the foreground of a child process."""
        self.daemon = Process([
            binary("pilot-daemon"), "--registry", self.registry.address,
            "--socket", self.socket, "--listen", "127.0.0.1:0",
            "--identity", os.path.join(self.home, ".pilot", "identity.json"),
            *extra_args], env=self.env(), name="daemon")
        return self.daemon

    def wait_registered(self, timeout=15):
        def registered():
            code, out = self.pilotctl("info", timeout=5)
            if code == 0 and out["data"].get("node_id"):
                return out["data"]
            return None

        return wait_until(registered, timeout, interval=0.1,
                          what="daemon registration")

    def webhook_counters(self):
        return self.ok("webhook")


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
        except Exception:  # a failed test must not stop the others
            failed += 1
            print(f"FAIL {test.__name__} ({time.monotonic() - start:.1f}s)")
            traceback.print_exc(file=sys.stdout)
        else:
            passed += 1
            print(f"PASS {test.__name__} ({time.monotonic() - start:.1f}s)")
        sys.stdout.flush()
    print(f"system: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
