#!/usr/bin/env python3
"""Every webhook setting from the receiver's side.

The tests cover pilotctl set-webhook with an event filter, retries and a
signing secret, the settings that pilotctl webhook shows, pilotctl webhook
test, and SIGHUP reloading the settings from the config file. Invalid values
must be rejected by the flag, the config file and set-webhook alike, and
secrets must never appear in pilotctl output or logs."""
import base64
import hashlib
import hmac
import json
import os
import re
import signal
import stat
import subprocess

from harness import (Beacon, Node, Receiver, Registry, answer_status, binary,
                     finish_pilotctl, free_port, run, wait_until)
from test_daemon_reload import start_with_config

SECRET = "whsec_Iw20Z4NEyKQwYlPzQNJsHb0ygzZNSAh9xcI5x+c/+Sk="
OTHER_SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
# The part of each secret that must never be printed.
SECRET_TEXTS = [SECRET[len("whsec_"):], OTHER_SECRET[len("whsec_"):]]


def assert_no_secret(text, where):
    for secret in SECRET_TEXTS:
        assert secret not in text, f"a secret appears in {where}"


def pilotctl_text(node, *args):
    """Runs pilotctl without --json; returns (exit code, stdout + stderr)."""
    env = dict(os.environ)
    env.update(node.env())
    done = subprocess.run([binary("pilotctl"), *args], env=env,
                          capture_output=True, timeout=60)
    return done.returncode, done.stdout.decode() + done.stderr.decode()


def checked(node, *args):
    """Runs pilotctl --json, checks that no secret is in its output and
    returns (exit code, parsed output)."""
    code, out = node.pilotctl(*args)
    assert_no_secret(json.dumps(out), "pilotctl " + args[0])
    return code, out


def config_path(node):
    return os.path.join(node.home, ".pilot", "config.json")


def read_config(node):
    with open(config_path(node), encoding="utf-8") as f:
        return json.load(f)


def signature_valid(request, secret):
    headers = request["headers"]
    key = base64.b64decode(secret[len("whsec_"):])
    signed = (headers["webhook-id"] + "." + headers["webhook-timestamp"]
              + ".").encode() + request["raw"]
    expected = "v1," + base64.b64encode(
        hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return expected in headers.get("webhook-signature", "").split(" ")


class Pair:
    """A registry, a beacon and two nodes; `target` has the webhook."""

    def __init__(self):
        self.registry = Registry()
        self.beacon = Beacon()
        self.caller = Node(self.registry, self.beacon)
        self.target = Node(self.registry, self.beacon)
        self.caller.start_daemon()
        # The target reads ~/.pilot/config.json, as after `pilotctl daemon
        # start`, so set-webhook saves its changes there.
        path = config_path(self.target)
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write("{}\n")
        self.target_daemon = self.target.start_daemon("--config", path,
                                                      public=True)
        self.caller.wait_registered()
        self.target_address = self.target.wait_registered()["address"]

    def connect(self):
        out = self.caller.ok("connect", self.target_address, "7",
                             "--message", "hello", "--timeout", "20s")
        assert out["response"] == "hello", out

    def stop(self):
        for node in (self.caller, self.target):
            if node.daemon is not None and node.daemon.running():
                node.daemon.stop()
        self.beacon.stop()
        self.registry.stop()


def test_filter_retries_and_secret_from_set_webhook():
    pair = Pair()
    receiver = Receiver()
    node = pair.target
    code, out = checked(node, "set-webhook", receiver.url, "--events",
                        "conn.*", "--retries", "1", "--secret", SECRET)
    assert code == 0, out
    data = out["data"]
    assert data["applied"] is True, data
    assert data["webhook"] == receiver.url, data
    assert data["settings"]["secrets"] == 1, data
    assert data["settings"]["events"] == "conn.*", data
    assert data["settings"]["retries"] == 1, data
    # Only conn.* events arrive, each signed with the secret.
    pair.connect()
    fin = receiver.wait_for_event("conn.fin")
    assert signature_valid(fin, SECRET), fin["headers"]
    node.ok("deregister")
    counters = wait_until(
        lambda: (lambda c: c if c["dropped_filtered"] >= 1 else None)(
            node.webhook_counters()), 10, what="a filtered event")
    events = receiver.events()
    assert events, events
    assert all(name.startswith("conn.") for name in events), events
    assert "conn.established" in events, events
    # pilotctl webhook shows the settings in effect, secrets only counted.
    assert counters["events"] == "conn.*", counters
    assert counters["retries"] == 1, counters
    assert counters["secrets"] == 1, counters
    code, text = pilotctl_text(node, "webhook")
    assert code == 0, text
    assert "secrets:        1 set (not shown)" in text, text
    assert "events:         conn.*" in text, text
    assert_no_secret(text, "pilotctl webhook")
    # The secret is saved in the config file, which only the owner reads.
    config = read_config(node)
    assert config["webhook-secret"] == SECRET, config
    assert config["webhook-events"] == "conn.*", config
    assert config["webhook-retries"] == 1, config
    assert stat.S_IMODE(os.stat(config_path(node)).st_mode) == 0o600
    code, text = pilotctl_text(node, "config")
    assert code == 0, text
    assert "(1 set, not shown)" in text, text
    assert_no_secret(text, "pilotctl config")
    _, out = checked(node, "config")
    assert out["data"]["webhook-secret"] == "(1 set, not shown)", out
    pair.stop()
    assert_no_secret(pair.target_daemon.log(), "the daemon log")
    receiver.close()


def test_webhook_test_reports_status_and_latency():
    registry = Registry()
    receiver = Receiver(answer_status(204))
    node = Node(registry)
    daemon = node.start_daemon()
    node.wait_registered()
    # Without a URL the test fails clearly.
    code, out = checked(node, "webhook", "test")
    assert code == 1, out
    assert out["message"] == "no webhook URL is set", out
    node.ok("set-webhook", receiver.url, "--events", "conn.*", "--secret",
            SECRET)
    # The test event bypasses the filter and is signed.
    code, out = checked(node, "webhook", "test")
    assert code == 0, out
    assert out["data"]["status"] == 204, out
    assert out["data"]["delivered"] is True, out
    assert out["data"]["latency_ms"] >= 0, out
    request = receiver.wait_for_event("webhook.test")
    assert signature_valid(request, SECRET), request["headers"]
    code, text = pilotctl_text(node, "webhook", "test")
    assert code == 0, text
    assert re.match(r"test event delivered: HTTP 204 in [\d.]+ ms", text), text
    # Against a port where nothing listens it fails with the reason.
    dead = f"http://127.0.0.1:{free_port()}/events"
    node.ok("set-webhook", dead, "--timeout", "2s")
    code, out = checked(node, "webhook", "test")
    assert code == 1, out
    assert out["code"] == "connection_failed", out
    assert out["message"].startswith("test event not delivered: "), out
    assert "(connect, after " in out["message"], out
    code, text = pilotctl_text(node, "webhook", "test")
    assert code == 1, text
    assert text.startswith("error: test event not delivered: "), text
    daemon.stop()
    assert_no_secret(daemon.log(), "the daemon log")
    receiver.close()
    registry.stop()


def write_json(path, value):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f)
    os.chmod(path, 0o600)


RELOADED = re.compile(r" (reloaded|webhook-updated|reload-failed): ")


def reload_and_wait(daemon):
    count = len(RELOADED.findall(daemon.log()))
    daemon.send_signal(signal.SIGHUP)
    wait_until(lambda: len(RELOADED.findall(daemon.log())) > count, 5,
               what="the reload")


def test_sighup_applies_every_webhook_setting():
    registry = Registry()
    receiver = Receiver()
    node, daemon, path = start_with_config(
        registry, {"webhook": receiver.url, "webhook_events": "node.*"})
    counters = node.webhook_counters()
    assert counters["events"] == "node.*", counters
    assert counters["secrets"] == 0, counters
    write_json(path, {"webhook": receiver.url, "webhook_events": "conn.*",
                      "webhook_retries": 2, "webhook_concurrency": 3,
                      "webhook_timeout": "2s", "webhook_buffer": 32,
                      "webhook_secret": SECRET + "," + OTHER_SECRET})
    reload_and_wait(daemon)
    counters = node.webhook_counters()
    assert counters["events"] == "conn.*", counters
    assert counters["retries"] == 2, counters
    assert counters["concurrency"] == 3, counters
    assert counters["timeout_ms"] == 2000, counters
    assert counters["buffer_size"] == 32, counters
    assert counters["secrets"] == 2, counters
    assert re.search(r"webhook-updated: .*changed=", daemon.log()), daemon.log()
    # Both secrets sign during a rotation.
    node.ok("webhook", "test")
    request = receiver.wait_for_event("webhook.test")
    assert signature_valid(request, SECRET), request["headers"]
    assert signature_valid(request, OTHER_SECRET), request["headers"]
    # A file with an invalid value changes nothing.
    write_json(path, {"webhook": receiver.url, "webhook_retries": 9})
    reload_and_wait(daemon)
    assert "reload-failed" in daemon.log(), daemon.log()
    assert node.webhook_counters()["retries"] == 2
    daemon.stop()
    assert_no_secret(daemon.log(), "the daemon log")
    receiver.close()
    registry.stop()


def daemon_start_failure(node, *args):
    """Runs pilot-daemon with args that must be rejected; returns its
    output."""
    done = subprocess.run(
        [binary("pilot-daemon"), "--registry", node.registry.address,
         "--socket", node.socket, "--beacon", "", *args],
        capture_output=True, timeout=10, env={**os.environ, **node.env()})
    assert done.returncode != 0, done
    return done.stdout.decode() + done.stderr.decode()


def test_invalid_values_are_rejected_everywhere():
    registry = Registry()
    node = Node(registry)
    # The daemon's flags.
    text = daemon_start_failure(node, "--webhook-retries", "4")
    assert "--webhook-retries: must be from 0 to 3" in text, text
    bad_secret = "whsec_" + base64.b64encode(b"short").decode()
    text = daemon_start_failure(node, "--webhook-secret", bad_secret)
    assert "--webhook-secret: webhook secret key must be " in text, text
    assert bad_secret not in text, text
    text = daemon_start_failure(node, "--webhook-events", "conn.opened")
    assert "conn.opened" in text, text
    text = daemon_start_failure(node, "--webhook-ca-file",
                                os.path.join(node.home, "missing.pem"))
    assert "--webhook-ca-file: " in text, text
    # The config file names the key and the line.
    path = os.path.join(node.home, "bad.json")
    with open(path, "w", encoding="utf-8") as f:
        f.write('{\n  "webhook_concurrency": 65\n}\n')
    text = daemon_start_failure(node, "--config", path)
    assert (f"config file {path}, line 2: \"webhook_concurrency\": must be "
            "from 1 to 64") in text, text
    # set-webhook, with and without a daemon, saves nothing it rejects.
    receiver = Receiver()
    for running in (False, True):
        if running:
            node.start_daemon()
            node.wait_registered()
        for option, value in (("--retries", "9"), ("--concurrency", "0"),
                              ("--buffer", "70000"), ("--timeout", "31s"),
                              ("--events", "conn.opened"),
                              ("--secret", bad_secret)):
            code, out = checked(node, "set-webhook", receiver.url, option,
                                value)
            assert code == 1, out
            assert out["code"] == "invalid_argument", out
            assert bad_secret not in out["message"], out
            assert not os.path.exists(config_path(node)), option
    counters = node.webhook_counters()
    assert counters["url"] == "", counters
    assert counters["retries"] == 0, counters
    node.daemon.stop()
    receiver.close()
    registry.stop()


def test_mistyped_secret_flags_hidden():
    registry = Registry()
    node = Node(registry)
    for args in (("--webhook-secrets=" + SECRET,),
                 ("--webhook-secrets", SECRET),
                 ("--webhook_secret" + SECRET,)):
        text = daemon_start_failure(node, *args)
        assert "--help for the flags" in text, text
        assert_no_secret(text, "pilot-daemon " + args[0][:18])

    # Unknown keys in the config file are a warning, with the key names.
    path = os.path.join(node.home, "typo.json")
    write_json(path, {"webhook_secretz": SECRET, "webhook" + SECRET: 1})
    daemon = node.start_daemon("--config", path)
    node.wait_registered()
    assert "ignoring unknown keys" in daemon.log(), daemon.log()
    assert_no_secret(daemon.log(), "the config file warning")
    assert daemon.stop() == 0

    for args in (("set-webhook", "http://127.0.0.1:1/", "--secrets=" + SECRET),
                 ("config", "--set", "webhook_secrets=" + SECRET),
                 ("config", "--set", "webhook_secret" + SECRET)):
        code, text = pilotctl_text(node, *args)
        assert code != 0, text
        assert_no_secret(text, "pilotctl " + " ".join(args[:2]))
        code, out = checked(node, *args)
        assert code != 0, out
    assert not os.path.exists(config_path(node))
    registry.stop()


def test_concurrent_changes_are_all_saved():
    registry = Registry()
    node = Node(registry)
    url = "http://127.0.0.1:1/events"
    changes = [("set-webhook", url, "--retries", "2"),
               ("set-webhook", url, "--buffer", "8"),
               ("set-webhook", url, "--concurrency", "3"),
               ("set-webhook", url, "--timeout", "2s"),
               ("set-webhook", url, "--events", "conn.*"),
               ("config", "--set", "hostname=racer"),
               ("config", "--set", "keepalive=10s")]
    # Each run loads, changes and saves the file; without the lock on it,
    # a run that loaded before another saved would drop that change.
    for _ in range(3):
        os.makedirs(os.path.dirname(config_path(node)), exist_ok=True)
        write_json(config_path(node), {})
        processes = [node.pilotctl_process(*args) for args in changes]
        for proc in processes:
            finish_pilotctl(proc, 30)
        config = read_config(node)
        expected = {"webhook": url, "webhook-retries": 2,
                    "webhook-buffer": 8, "webhook-concurrency": 3,
                    "webhook-timeout": "2s", "webhook-events": "conn.*",
                    "hostname": "racer", "keepalive": "10s"}
        assert config == expected, config
    registry.stop()


if __name__ == "__main__":
    run([
        test_filter_retries_and_secret_from_set_webhook,
        test_webhook_test_reports_status_and_latency,
        test_sighup_applies_every_webhook_setting,
        test_invalid_values_are_rejected_everywhere,
        test_mistyped_secret_flags_hidden,
        test_concurrent_changes_are_all_saved,
    ])
