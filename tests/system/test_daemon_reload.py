#!/usr/bin/env python3
"""The daemon's --config file at run time: SIGHUP makes the file's webhook
URL the one in effect, whatever IPC clients set since, and Info names the
file and the registry in use."""
import json
import os
import re
import signal
import socket
import struct

from harness import Node, Receiver, Registry, run, wait_until

IPC_SET_WEBHOOK = 0x1B
IPC_SET_WEBHOOK_OK = 0x1C


def set_webhook_over_ipc(node, url):
    """Changes the URL with the raw IPC command, which saves no file."""
    payload = url.encode()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(node.socket)
        sock.sendall(struct.pack(">I", 1 + len(payload))
                     + bytes([IPC_SET_WEBHOOK]) + payload)
        header = sock.recv(5)
    assert len(header) == 5, header
    assert header[4] == IPC_SET_WEBHOOK_OK, header


def start_with_config(registry, config):
    node = Node(registry)
    path = os.path.join(node.home, "daemon.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(config, f)
    daemon = node.start_daemon("--config", "~/daemon.json",
                               "--shutdown-grace", "1s")
    node.wait_registered()
    return node, daemon, path


RELOADED = re.compile(r" (reloaded|webhook-updated): ")


def reload_and_wait(daemon):
    """Sends SIGHUP and waits for the log line of a successful reload."""
    count = len(RELOADED.findall(daemon.log()))
    daemon.send_signal(signal.SIGHUP)
    wait_until(lambda: len(RELOADED.findall(daemon.log())) > count, 5,
               what="the reload")


def test_sighup_restores_url_changed_over_ipc():
    registry = Registry()
    from_file, from_ipc = Receiver(), Receiver()
    node, daemon, _ = start_with_config(registry, {"webhook": from_file.url})
    set_webhook_over_ipc(node, from_ipc.url)
    assert node.webhook_counters()["url"] == from_ipc.url
    reload_and_wait(daemon)
    assert node.webhook_counters()["url"] == from_file.url
    assert "the webhook URL is unchanged" not in daemon.log()
    daemon.proc.kill()
    from_file.close()
    from_ipc.close()
    registry.stop()


def test_sighup_restores_query_changed_over_ipc():
    registry = Registry()
    receiver = Receiver()
    node, daemon, _ = start_with_config(
        registry, {"webhook": receiver.url + "?token=file"})
    # The redacted URLs are equal; only the query differs.
    set_webhook_over_ipc(node, receiver.url + "?token=ipc")
    reload_and_wait(daemon)
    # node.deregistered goes to the URL in effect.
    node.ok("deregister")
    request = receiver.wait_for_event("node.deregistered")
    assert request["path"] == "/events?token=file", request["path"]
    daemon.proc.kill()
    receiver.close()
    registry.stop()


def test_info_names_config_file_and_registry():
    registry = Registry()
    node, daemon, path = start_with_config(registry, {})
    info = node.ok("info")
    assert info["config_file"] == path, info["config_file"]
    assert info["registry"] == registry.address, info["registry"]
    assert info["registry_error"] == "", info["registry_error"]
    daemon.proc.kill()
    registry.stop()


if __name__ == "__main__":
    run([
        test_sighup_restores_url_changed_over_ipc,
        test_sighup_restores_query_changed_over_ipc,
        test_info_names_config_file_and_registry,
    ])
