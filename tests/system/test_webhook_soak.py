#!/usr/bin/env python3
"""Webhook soak: about a minute of load on one daemon while its webhook
receiver cycles through healthy, slow, failing and dead, several times.

Daemon A sends datagrams to daemon B as fast as the two of them take them,
and every datagram raises data.datagram at B. Meanwhile clients of A open
and close stream connections to B's echo port, which raise conn events at
B. B posts every event to soak_receiver.py, which runs as its own process
and records the webhook-id of each request and what it sent back.

The load adapts to what the daemons sustain, which also holds for a slow
sanitizer build, and no check depends on timing. Deadlines only keep a
stuck daemon from hanging the suite. Afterwards the test checks B's
counters against the receiver's records, B's memory against its level
after a warm-up, and that B still responds to pilotctl and delivers
events.
"""
import json
import os
import select
import subprocess
import sys
import threading
import time

from datagram_load import DatagramFlood, QuietIpcClient, webhook_counters
from harness import (TEST_DIR, IpcError, Node, Registry, assert_invariant,
                     run, wait_until)

# The shortest deadline the daemon accepts, so that slow responses can come
# after it as well as before it.
WEBHOOK_TIMEOUT_SECONDS = 1
WEBHOOK_CONCURRENCY = 8
# Each receiver cycle: the delay of its slow phase and the kind of its
# dead phase. Slow responses alternate between after and before the
# deadline. After a slow phase within the deadline the endpoint is up, so
# the dead phase that follows breaks reused connections, which the daemon
# resends on once.
CYCLES = ((1.5, "refuse"), (0.3, "hangup"), (1.5, "hangup"), (0.3, "reset"))
PHASE_SECONDS = 3.5
WARM_UP_SECONDS = 5.0
# Datagrams go to this port, where nothing listens, and the final check
# sends one to MARK_PORT, so that its event is easy to find.
LOAD_PORT = 9000
MARK_PORT = 9999
# Stream connections: each worker opens a batch, echoes a few bytes on each
# and closes them, then pauses.
CONNECTION_WORKERS = 2
CONNECTION_BATCH = 4
CONNECTION_PAUSE_SECONDS = 0.5
ECHO_PORT = 7
# Safety nets only; a healthy run needs a fraction of each.
SETTLE_TIMEOUT = 30
RECOVERY_TIMEOUT = 60
RECEIVER_REPLY_TIMEOUT = 30
# B's RSS after the load may exceed its RSS after the warm-up by this much.
MEMORY_ALLOWANCE_MIB = 32
MEMORY_ALLOWANCE_RATIO = 0.25


# -- B's memory ---------------------------------------------------------------

def memory_mib(pid, field):
    """Returns a field of /proc/<pid>/status, such as VmRSS, in MiB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field} for process {pid}")


def resident_mib(pid):
    return memory_mib(pid, "VmRSS")


# -- the receiver -------------------------------------------------------------

class SoakReceiver:
    """soak_receiver.py in a child process, driven over its stdin."""

    def __init__(self):
        self.proc = subprocess.Popen(
            [sys.executable, "-u", os.path.join(TEST_DIR, "soak_receiver.py")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self._read_line("start")
        if not line.startswith("port="):
            self.close()
            raise AssertionError(f"soak_receiver did not start: {line!r}")
        self.url = f"http://127.0.0.1:{int(line[5:])}/events"

    def _read_line(self, what):
        ready, _, _ = select.select([self.proc.stdout], [], [],
                                    RECEIVER_REPLY_TIMEOUT)
        if not ready:
            raise AssertionError(f"soak_receiver did not {what} within "
                                 f"{RECEIVER_REPLY_TIMEOUT}s")
        return self.proc.stdout.readline()

    def command(self, text):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        reply = json.loads(self._read_line(f"reply to {text!r}"))
        assert "error" not in reply, reply
        return reply

    def mode(self, *words):
        return self.command(" ".join(["mode", *words]))

    def report(self):
        return self.command("report")

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


# -- load ---------------------------------------------------------------------

class ConnectionChurn:
    """Threads that open stream connections from A to B's echo port, echo
    a few bytes on each and close them, for as long as `running` is set."""

    def __init__(self, node, destination):
        self.node = node
        self.destination = destination
        self.running = threading.Event()
        self.closed = False
        self.lock = threading.Lock()
        self.completed = 0
        self.failures = []
        self.threads = [threading.Thread(target=self._work, daemon=True)
                        for _ in range(CONNECTION_WORKERS)]
        for thread in self.threads:
            thread.start()

    def _work(self):
        client = QuietIpcClient(self.node.socket, keep_data=True)
        try:
            while not self.closed:
                if not self.running.wait(0.1):
                    continue
                self._batch(client)
                time.sleep(CONNECTION_PAUSE_SECONDS)
        finally:
            client.close()

    def _batch(self, client):
        try:
            connections = [client.dial(self.destination, ECHO_PORT)
                           for _ in range(CONNECTION_BATCH)]
            for conn in connections:
                conn.send(b"soak")
            for conn in connections:
                assert conn.read_exactly(4) == b"soak"
                conn.close()
        except (IpcError, AssertionError, OSError) as e:
            with self.lock:
                self.failures.append(repr(e))
            return
        with self.lock:
            self.completed += len(connections)

    def close(self):
        self.closed = True
        self.running.clear()
        for thread in self.threads:
            thread.join(60)


class Load:
    """The datagram flood and the connection churn, started and stopped
    together."""

    def __init__(self, a, b_address):
        self.flood = DatagramFlood(a.socket, b_address, LOAD_PORT)
        self.churn = ConnectionChurn(a, b_address)

    def start(self):
        self.flood.running.set()
        self.churn.running.set()

    def stop(self):
        self.flood.running.clear()
        self.churn.running.clear()

    def close(self):
        self.stop()
        self.flood.close()
        self.churn.close()


# -- phases -------------------------------------------------------------------

def receiver_cycle(receiver, slow_delay, dead_kind):
    """Runs one cycle: healthy, slow, failing, dead, PHASE_SECONDS each."""
    receiver.mode("healthy")
    time.sleep(PHASE_SECONDS)
    receiver.mode("slow", str(slow_delay))
    time.sleep(PHASE_SECONDS)
    receiver.mode("failing")
    time.sleep(PHASE_SECONDS)
    receiver.mode("dead", dead_kind)
    time.sleep(PHASE_SECONDS)


def wait_delivering(node, receiver):
    """Makes the receiver healthy and waits until B delivers to it again:
    after a dead phase the endpoint stays down until a probe succeeds."""
    receiver.mode("healthy")
    start = webhook_counters(node)["delivered"]

    def delivering():
        counters = webhook_counters(node)
        return counters["state"] == "up" and counters["delivered"] > start

    wait_until(delivering, RECOVERY_TIMEOUT, interval=0.5,
               what="deliveries to the healthy receiver")


def settled(node, receiver):
    """Waits until B has nothing in flight or buffered and the receiver
    has no delayed response pending; returns (counters, receiver report)."""
    def quiet():
        counters = webhook_counters(node)
        if counters["in_flight"] or counters["buffered"]:
            return None
        report = receiver.report()
        if report["pending"]:
            return None
        # Read again: a response may have finished an attempt meanwhile.
        again = webhook_counters(node)
        return (again, report) if again == counters else None

    return wait_until(quiet, SETTLE_TIMEOUT, interval=0.5,
                      what="B's webhook to settle")


def deliver_fresh_event(a_client, receiver, b_address):
    """Sends datagrams to MARK_PORT until the receiver has accepted the
    event of one of them. Returns a pair [event ID, 2xx responses] for each
    of those events that the receiver saw."""
    receiver.command(f'watch "dst_port":{MARK_PORT}')

    def accepted():
        a_client.send_to(b_address, MARK_PORT, b"fresh")
        watched = receiver.report()["watched"]
        return watched if any(count for _, count in watched) else None

    return wait_until(accepted, RECOVERY_TIMEOUT, interval=0.5,
                      what="a fresh event at the healthy receiver")


# -- the test -----------------------------------------------------------------

class Soak:
    """The registry, the two daemons, the receiver and the load."""

    def __init__(self):
        self.registry = Registry()
        self.receiver = SoakReceiver()
        self.a = Node(self.registry)
        self.b = Node(self.registry)
        self.a.start_daemon(public=True)
        self.b.start_daemon(
            "--webhook-timeout", f"{WEBHOOK_TIMEOUT_SECONDS}s",
            "--webhook-concurrency", str(WEBHOOK_CONCURRENCY),
            webhook=self.receiver.url, public=True)
        self.a.wait_registered()
        self.b_address = self.b.wait_registered()["address"]
        self.b_pid = self.b.daemon.proc.pid
        self.load = Load(self.a, self.b_address)
        self.clients = []

    def a_client(self):
        """Returns a new IPC client of A, closed with the soak."""
        client = QuietIpcClient(self.a.socket)
        self.clients.append(client)
        return client

    def run_load(self, seconds):
        self.load.start()
        time.sleep(seconds)
        self.load.stop()

    def close(self):
        self.load.close()
        for client in self.clients:
            client.close()
        for node in (self.a, self.b):
            if node.daemon is not None and node.daemon.running():
                node.daemon.stop()
        self.receiver.close()
        self.registry.stop()


def report_line(name, value):
    print(f"soak: {name}: {value}")
    sys.stdout.flush()


def report_endpoint_changes(daemon, count=8):
    """Prints the last `count` times the daemon logged its endpoint going
    up or down, which shows how long the recovery after the last dead
    phase took."""
    changes = [line for line in daemon.log().splitlines()
               if "webhook-endpoint-up" in line
               or "webhook-endpoint-down" in line]
    for line in changes[-count:]:
        report_line("B's endpoint", line[:200])


def check_counters(counters):
    assert_invariant(counters)
    assert counters["in_flight"] == 0, counters
    assert counters["buffered"] == 0, counters


def check_webhook_ids(counters, report):
    """Every request carried a webhook-id of this daemon run, and no event
    was accepted twice."""
    assert report["malformed_ids"] == [], report["malformed_ids"]
    assert len(report["prefixes"]) == 1, report["prefixes"]
    assert report["max_event_id"] <= counters["emitted"], report
    # Nothing delivered twice, from the receiver's side: no event got a
    # 2xx response twice.
    assert report["accepted_twice"] == 0, report["accepted_twice_examples"]
    # From the daemon's side: it counted no event delivered twice, which
    # would show as more deliveries than events the receiver accepted.
    assert counters["delivered"] <= report["distinct_accepted_ids"], \
        (counters, report)
    # An event arrives twice only when the daemon sent it once more on a
    # new connection after a reused one failed before any response byte.
    # It does that at most once per attempt, and only for a request that
    # got no response.
    assert report["seen_max"] <= 2, report["seen_twice_examples"]
    assert report["seen_twice"] <= report["unanswered"], report


def check_responses(counters, report):
    """B counted each response the receiver sent, unless it had given up
    on the request first.

    The receiver counts a response as sent when the connection was still
    open as it wrote it. A slow response can still come too late: the
    daemon's deadline passes after the write and before the daemon reads
    it, and the daemon counts a `timeout` for a request that got a
    response. So B may count fewer deliveries than the receiver sent 2xx
    responses, and fewer 5xx failures than it sent 500s, but each one
    missing is one of B's timeouts. All other failures are the dead
    receiver's refused, reset or closed connections.
    """
    received = (report["sent_2xx"] + report["sent_5xx"]
                + report["unanswered"] + report["pending"])
    assert report["requests"] == received, report
    assert counters["delivered"] <= report["sent_2xx"], (counters, report)
    assert counters["failed_status_5xx"] <= report["sent_5xx"], \
        (counters, report)
    missing = (report["sent_2xx"] - counters["delivered"]
               + report["sent_5xx"] - counters["failed_status_5xx"])
    assert missing <= counters["failed_timeout"], (counters, report)
    for unexpected in ("failed_status_3xx", "failed_status_4xx",
                       "failed_dns", "failed_tls", "dropped_oversize",
                       "dropped_filtered", "dropped_disabled"):
        assert counters[unexpected] == 0, (unexpected, counters)


def check_memory(baseline, after):
    """B's memory after the load is back near its level after the warm-up.

    While the endpoint is up, the webhook keeps at most its buffer (1024
    events of well under 1 KiB each) and WEBHOOK_CONCURRENCY requests and
    idle connections: about 1 MiB. Every stream connection is closed again.
    The allowance covers what the allocator keeps for reuse instead of
    returning it to the system, and in a sanitizer build its quarantine of
    freed memory (ASAN_QUARANTINE_MIB in harness.py) and the shadow memory
    of the heap.
    """
    allowance = MEMORY_ALLOWANCE_MIB + MEMORY_ALLOWANCE_RATIO * baseline
    assert after <= baseline + allowance, (
        f"B's RSS went from {baseline:.1f} MiB after the warm-up to "
        f"{after:.1f} MiB after the load, more than {allowance:.1f} MiB up")


def test_webhook_soak():
    soak = Soak()
    try:
        soak_with(soak)
    except BaseException:
        print(f"--- daemon B log:\n{soak.b.daemon.log()[-6000:]}")
        raise
    finally:
        soak.close()


def soak_with(soak):
    b, receiver = soak.b, soak.receiver
    # Warm up with a healthy receiver, so that the baseline includes the
    # buffers, pools and tables that the load fills once.
    soak.run_load(WARM_UP_SECONDS)
    before, _ = settled(b, receiver)
    baseline = resident_mib(soak.b_pid)

    started = time.monotonic()
    datagrams_before = soak.load.flood.sent
    connections_before = soak.load.churn.completed
    soak.load.start()
    for slow_delay, dead_kind in CYCLES:
        receiver_cycle(receiver, slow_delay, dead_kind)
    cycles_ended = time.monotonic()
    wait_delivering(b, receiver)
    soak.load.stop()
    elapsed = time.monotonic() - started
    recovery = time.monotonic() - cycles_ended
    report_line("recovery", f"B delivered again {recovery:.1f} s after the "
                "last dead phase")
    report_endpoint_changes(b.daemon)
    counters, report = settled(b, receiver)
    after = resident_mib(soak.b_pid)
    raised = counters["emitted"] - before["emitted"]
    report_line("load", f"{elapsed:.0f} s, {raised} events raised at B "
                f"({raised / elapsed:.0f}/s), "
                f"{soak.load.flood.sent - datagrams_before} datagrams "
                f"written to A, "
                f"{soak.load.churn.completed - connections_before} stream "
                f"connections opened and closed")
    report_line("counters", json.dumps(counters))
    report_line("receiver", json.dumps(report))
    report_line("B's RSS", f"{baseline:.1f} MiB after the warm-up, "
                f"{after:.1f} MiB after the load, peak "
                f"{memory_mib(soak.b_pid, 'VmHWM'):.1f} MiB")
    assert not soak.load.churn.failures, soak.load.churn.failures[:5]
    check_counters(counters)
    check_webhook_ids(counters, report)
    check_responses(counters, report)
    check_memory(baseline, after)

    # B still responds to pilotctl and delivers a new event.
    assert b.ok("info")["address"] == soak.b_address
    watched = deliver_fresh_event(soak.a_client(), receiver, soak.b_address)
    final, report = settled(b, receiver)
    report_line("fresh event", f"[event ID, 2xx responses]: {watched}")
    assert final["delivered"] > counters["delivered"], final
    assert all(accepted <= 1 for _, accepted in report["watched"]), report
    check_counters(final)
    check_webhook_ids(final, report)
    check_responses(final, report)
    for node in (soak.a, b):
        assert node.daemon.stop() == 0, node.daemon.log()[-6000:]


if __name__ == "__main__":
    run([test_webhook_soak])
