#!/usr/bin/env python3
"""node.* events from a real daemon registering with a real registry, seen
by real HTTP receivers, and the webhook URL moved at run time by pilotctl."""
import json
import os
import re
import signal
import time

from harness import (ExampleReceiver, Node, Receiver, Registry,
                     assert_invariant, free_port, run, timed, wait_until)

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def read_config(node):
    path = os.path.join(node.home, ".pilot", "config.json")
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def test_example_receiver_prints_registered_and_deregistered():
    registry = Registry()
    receiver = ExampleReceiver()
    node = Node(registry)
    daemon = node.start_daemon("--webhook", receiver.url)
    node.wait_registered()
    wait_until(lambda: "Event: node.registered" in receiver.lines(), 10,
               what="example receiver line for node.registered")
    assert daemon.stop() == 0
    wait_until(lambda: "Event: node.deregistered" in receiver.lines(), 10,
               what="example receiver line for node.deregistered")
    assert receiver.lines() == ["Event: node.registered",
                                "Event: node.deregistered"], receiver.lines()
    receiver.stop()
    registry.stop()


def test_registered_body_and_headers():
    registry = Registry()
    receiver = Receiver()
    node = Node(registry)
    daemon = node.start_daemon("--webhook", receiver.url)
    info = node.wait_registered()
    request = receiver.wait_for_event("node.registered")
    body = request["body"]
    assert list(body) == ["event", "node_id", "timestamp", "data", "event_id"]
    assert body["node_id"] == info["node_id"]
    assert isinstance(body["node_id"], int)
    assert TIMESTAMP.match(body["timestamp"]), body["timestamp"]
    assert body["event_id"] == 1
    assert body["data"]["address"] == info["address"]
    assert isinstance(body["data"]["endpoint"], str)
    assert re.match(r"^[\d.]+:\d+$", body["data"]["endpoint"]), body["data"]
    headers = request["headers"]
    assert headers["content-type"] == "application/json"
    assert int(headers["content-length"]) == len(request["raw"])
    assert headers["user-agent"].startswith("pilot-daemon/")
    assert headers["x-pilot-event"] == "node.registered"
    assert re.match(rf"^{info['node_id']}-[0-9a-zA-Z]+-1$",
                    headers["webhook-id"]), headers["webhook-id"]
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
    assert headers["host"] == f"127.0.0.1:{receiver.port}"
    assert request["path"] == "/events"
    assert daemon.stop() == 0
    deregistered = receiver.wait_for_event("node.deregistered")
    assert b'"data":null' in deregistered["raw"], deregistered["raw"]
    assert deregistered["body"]["event_id"] == 2
    receiver.close()
    registry.stop()


def test_hot_swap_moves_events_to_the_new_receiver():
    registry = Registry()
    first, second = Receiver(), Receiver()
    node = Node(registry)
    daemon = node.start_daemon("--webhook", first.url)
    node.wait_registered()
    first.wait_for_event("node.registered")
    elapsed, data = timed(node.ok, "set-webhook", second.url)
    assert data["webhook"] == second.url, data
    assert data["applied"] is True, data
    assert elapsed < 2, f"set-webhook took {elapsed:.2f}s"
    # pilotctl deregister raises node.deregistered: the next event goes to
    # the new URL only.
    node.ok("deregister")
    second.wait_for_event("node.deregistered")
    assert daemon.stop() == 0
    assert first.events() == ["node.registered"], first.events()
    assert second.events() == ["node.deregistered"], second.events()
    first.close()
    second.close()
    registry.stop()


def test_clear_webhook_stops_delivery_and_persists():
    registry = Registry()
    receiver = Receiver()
    node = Node(registry)
    node.ok("set-webhook", receiver.url)  # no daemon yet: persisted only
    assert read_config(node)["webhook"] == receiver.url
    daemon = node.start_daemon("--config",
                               os.path.join(node.home, ".pilot", "config.json"),
                               "--keepalive", "1s")
    node.wait_registered()
    receiver.wait_for_event("node.registered")
    data = node.ok("clear-webhook")
    assert data["webhook"] == "", data
    assert data["applied"] is True, data
    assert "webhook" not in read_config(node)
    node.ok("deregister")
    wait_until(lambda: node.webhook_counters()["dropped"] >= 1, 10,
               what="node.deregistered dropped as disabled")
    counters = node.webhook_counters()
    assert counters["state"] == "disabled", counters
    assert_invariant(counters)
    assert receiver.events() == ["node.registered"], receiver.events()
    assert daemon.stop() == 0
    receiver.close()
    registry.stop()


def test_reregistered_after_registry_restart_without_store():
    port = free_port()
    registry = Registry(port=port)
    receiver = Receiver()
    node = Node(registry)
    daemon = node.start_daemon("--webhook", receiver.url, "--keepalive", "1s")
    node.wait_registered()
    receiver.wait_for_event("node.registered")
    registry.stop()
    registry = Registry(port=port)
    request = receiver.wait_for_event("node.reregistered", timeout=30)
    info = node.wait_registered()
    assert request["body"]["data"] == {"address": info["address"]}
    assert request["body"]["node_id"] == info["node_id"]
    assert daemon.stop() == 0
    receiver.close()
    registry.stop()


def test_daemon_stop_delivers_deregistered():
    registry = Registry()
    receiver = Receiver()
    node = Node(registry)
    started = node.ok("daemon", "start", "--registry", registry.address,
                      "--socket", node.socket, "--listen", "127.0.0.1:0",
                      "--webhook", receiver.url)
    assert started["node_id"] >= 1
    receiver.wait_for_event("node.registered")
    stopped = node.ok("daemon", "stop")
    assert stopped["pid"] == started["pid"]
    request = receiver.wait_for_event("node.deregistered")
    assert request["body"]["data"] is None
    code, out = node.pilotctl("daemon", "status", "--check")
    assert code == 1, out
    receiver.close()
    registry.stop()


def test_set_webhook_persists_where_daemon_reads():
    registry = Registry()
    receiver = Receiver()
    node = Node(registry)
    path = os.path.join(node.home, ".pilot", "config.json")
    # A hand-started daemon reads no config file: the change is not saved.
    daemon = node.start_daemon()
    node.wait_registered()
    data = node.ok("set-webhook", receiver.url)
    assert data["applied"] is True, data
    assert data["config_file"] is None, data
    assert not os.path.exists(path)
    node.ok("clear-webhook")
    assert daemon.stop() == 0

    # `pilotctl daemon start` creates config.json and has the daemon read it,
    # so a SIGHUP applies what set-webhook saved there.
    started = node.ok("daemon", "start", "--registry", registry.address,
                      "--socket", node.socket, "--listen", "127.0.0.1:0")
    assert node.ok("info")["config_file"] == path
    data = node.ok("set-webhook", receiver.url)
    assert data["config_file"] == path, data
    assert read_config(node)["webhook"] == receiver.url

    config = read_config(node)
    config["webhook-retries"] = 2
    with open(path, "w", encoding="utf-8") as f:
        json.dump(config, f)
    os.kill(started["pid"], signal.SIGHUP)
    wait_until(lambda: node.webhook_counters()["retries"] == 2, 10,
               what="the reloaded retries")
    node.ok("daemon", "stop")
    receiver.close()
    registry.stop()


def test_set_webhook_warns_about_overriding_flags():
    registry = Registry()
    receiver = Receiver()
    node = Node(registry)
    path = os.path.join(node.home, "daemon.json")
    with open(path, "w", encoding="utf-8") as f:
        f.write("{}\n")
    daemon = node.start_daemon("--config", path, "--webhook", receiver.url,
                               "--webhook-retries", "1")
    node.wait_registered()
    info = node.ok("info")
    assert sorted(info["webhook_flags"]) == ["webhook", "webhook-retries"]
    data = node.ok("set-webhook", receiver.url, "--buffer", "8")
    assert data["overridden_by_flags"] == ["webhook"], data
    data = node.ok("set-webhook", receiver.url, "--retries", "2")
    assert data["overridden_by_flags"] == ["webhook", "webhook-retries"], data
    data = node.ok("clear-webhook")
    assert data["overridden_by_flags"] == ["webhook"], data
    assert daemon.stop() == 0
    receiver.close()
    registry.stop()


def test_daemon_stop_refuses_another_daemons_socket():
    registry = Registry()
    node, other = Node(registry), Node(registry)
    started = node.ok("daemon", "start", "--registry", registry.address,
                      "--socket", node.socket, "--listen", "127.0.0.1:0")
    other_daemon = other.start_daemon()
    other.wait_registered()
    # PILOT_SOCKET names the other daemon; the PID file names node's.
    node.socket, own_socket = other.socket, node.socket
    code, out = node.pilotctl("daemon", "stop")
    node.socket = own_socket
    assert code == 1, out
    assert out["code"] == "invalid_argument", out
    assert f"but the PID file names pid {started['pid']}" in out["message"]
    assert other_daemon.running()
    assert node.ok("info")["pid"] == started["pid"]
    assert node.ok("daemon", "stop")["pid"] == started["pid"]
    assert other_daemon.stop() == 0
    registry.stop()


def test_set_webhook_refuses_bad_urls_and_keeps_config():
    registry = Registry()
    receiver = Receiver()
    node = Node(registry)
    node.ok("set-webhook", receiver.url)
    path = os.path.join(node.home, ".pilot", "config.json")
    with open(path, "rb") as f:
        before = f.read()
    assert os.stat(path).st_mode & 0o777 == 0o600
    daemon = node.start_daemon("--webhook", receiver.url)
    node.wait_registered()
    for bad in ["ftp://127.0.0.1/x", "http://169.254.169.254/latest",
                "http://metadata.google.internal/", "http://[fe80::1]:80/",
                "not a url", "http://127.0.0.1:0/x",
                "http://127.0.0.1:8080/#frag"]:
        code, out = node.pilotctl("set-webhook", bad)
        assert code == 1, (bad, out)
        assert out["code"] == "invalid_argument", (bad, out)
        with open(path, "rb") as f:
            assert f.read() == before, bad
    counters = node.webhook_counters()
    assert counters["state"] == "up", counters
    assert daemon.stop() == 0
    receiver.close()
    registry.stop()


def test_info_answers_promptly_while_registry_is_down():
    registry = Registry()
    node = Node(registry)
    daemon = node.start_daemon("--keepalive", "1s")
    node.wait_registered()
    registry.stop(signal.SIGKILL)
    for _ in range(5):
        elapsed, data = timed(node.ok, "info")
        assert elapsed < 1.0, f"info took {elapsed:.2f}s"
        assert data["node_id"] >= 1
        time.sleep(0.5)
    assert daemon.stop() == 0


if __name__ == "__main__":
    run([
        test_example_receiver_prints_registered_and_deregistered,
        test_registered_body_and_headers,
        test_hot_swap_moves_events_to_the_new_receiver,
        test_clear_webhook_stops_delivery_and_persists,
        test_reregistered_after_registry_restart_without_store,
        test_daemon_stop_delivers_deregistered,
        test_set_webhook_persists_where_daemon_reads,
        test_set_webhook_warns_about_overriding_flags,
        test_daemon_stop_refuses_another_daemons_socket,
        test_set_webhook_refuses_bad_urls_and_keeps_config,
        test_info_answers_promptly_while_registry_is_down,
    ])
