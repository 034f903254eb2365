#!/usr/bin/env python3
"""Signed webhooks over HTTPS, checked from the receiver's side: a Python
`ssl` receiver with its own CA (made with the openssl command line) and an
independent Standard Webhooks verifier. Events arrive and every signature
verifies, a CA the server's certificate does not chain to fails as
`failed_tls`, and during a secret rotation each request verifies with
either secret."""
import base64
import hashlib
import hmac
import http.server
import json
import os
import secrets
import ssl
import subprocess
import threading
import time

from harness import (Node, Registry, assert_invariant, make_temp_dir, run,
                     wait_until)

# The tolerance of the standardwebhooks libraries (WEBHOOK_TOLERANCE_IN_SECONDS
# in the JavaScript one): a timestamp more than five minutes from the
# receiver's clock is rejected.
TIMESTAMP_TOLERANCE_SECONDS = 5 * 60


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True,
                   capture_output=True, timeout=60)


def make_ca(directory, name):
    """Creates the CA `name` in `directory`; returns the certificate path."""
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
            "-subj", f"/CN=Pilot system test {name}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout", f"{name}.key", "-out", f"{name}.pem", cwd=directory)
    return os.path.join(directory, f"{name}.pem")


def make_server_certificate(directory, ca_name):
    """Issues a certificate for localhost and 127.0.0.1 from the CA
    `ca_name`; returns the certificate and key paths."""
    with open(os.path.join(directory, "server.ext"), "w",
              encoding="ascii") as f:
        f.write("basicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth\n"
                "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=localhost",
            "-keyout", "server.key", "-out", "server.csr", cwd=directory)
    openssl("x509", "-req", "-in", "server.csr", "-CA", f"{ca_name}.pem",
            "-CAkey", f"{ca_name}.key", "-CAcreateserial", "-days", "2",
            "-extfile", "server.ext", "-out", "server.pem", cwd=directory)
    return (os.path.join(directory, "server.pem"),
            os.path.join(directory, "server.key"))


class Pki:
    """The receiver's CA and certificate, and a second CA that did not
    issue it."""

    def __init__(self):
        self.directory = make_temp_dir()
        self.ca_file = make_ca(self.directory, "ca")
        self.other_ca_file = make_ca(self.directory, "other-ca")
        self.certificate, self.key = make_server_certificate(self.directory,
                                                             "ca")


def new_secret():
    """Returns a new `whsec_` secret with a 32-byte key."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def verify_signature(secret, headers, raw_body, now=None):
    """Verifies a request the way Standard Webhooks verifiers do: the
    timestamp must be within the tolerance, and one of the space-separated
    `v1,` signatures must equal the HMAC-SHA256 of `id.timestamp.body`
    under the key of `secret`, compared in constant time."""
    now = time.time() if now is None else now
    try:
        message_id = headers["webhook-id"]
        timestamp = int(headers["webhook-timestamp"])
        signatures = headers["webhook-signature"]
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > TIMESTAMP_TOLERANCE_SECONDS:
        return False
    assert secret.startswith("whsec_"), "not a whsec_ secret"
    key = base64.b64decode(secret[len("whsec_"):], validate=True)
    signed = f"{message_id}.{timestamp}.".encode() + raw_body
    expected = base64.b64encode(
        hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for entry in signatures.split(" "):
        version, _, signature = entry.partition(",")
        if version == "v1" and hmac.compare_digest(signature, expected):
            return True
    return False


class TlsReceiver:
    """A recording HTTPS receiver on 127.0.0.1 and a free port that
    responds 204 to every POST."""

    def __init__(self, pki):
        self.requests = []
        self.connections = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                with receiver.lock:
                    receiver.connections += 1

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                with receiver.lock:
                    receiver.requests.append({
                        "path": self.path,
                        "headers": {k.lower(): v
                                    for k, v in self.headers.items()},
                        "raw": raw,
                        "received_at": time.time(),
                    })
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pki.certificate, pki.key)
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.server.daemon_threads = True
        # A client that rejects the certificate ends the handshake with an
        # error in the handler, which is expected here.
        self.server.handle_error = lambda request, client_address: None
        # The handshake runs in the handler's thread, so that a client that
        # fails it cannot stall the accepting thread.
        self.server.socket = context.wrap_socket(
            self.server.socket, server_side=True,
            do_handshake_on_connect=False)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def url(self, host="localhost"):
        return f"https://{host}:{self.port}/events"

    def recorded(self):
        with self.lock:
            return list(self.requests)

    def events(self):
        return [json.loads(r["raw"])["event"] for r in self.recorded()]

    def wait_for_event(self, name, timeout=15):
        return wait_until(lambda: name in self.events(), timeout,
                          what=f"event {name} over https")

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def start_node(registry, config):
    """Starts a daemon whose webhook settings come from a config file, as
    secrets should (flags are visible in ps)."""
    node = Node(registry)
    path = os.path.join(node.home, "daemon.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(config, f)
    os.chmod(path, 0o600)
    daemon = node.start_daemon("--config", path, "--webhook-timeout", "2s",
                               "--shutdown-grace", "1s")
    node.wait_registered()
    return node, daemon


def assert_secrets_hidden(node, daemon, secret_list):
    counters = node.webhook_counters()
    output = json.dumps(counters)
    for secret in secret_list:
        key_text = secret[len("whsec_"):]
        assert key_text not in output, "pilotctl webhook shows a secret"
        assert key_text not in daemon.log(), "the daemon log shows a secret"
    assert counters["secrets"] == len(secret_list), counters


def test_signed_events_arrive_over_https():
    pki = Pki()
    receiver = TlsReceiver(pki)
    registry = Registry()
    secret = new_secret()
    node, daemon = start_node(registry, {
        "webhook": receiver.url(), "webhook-ca-file": pki.ca_file,
        "webhook-secret": secret})

    receiver.wait_for_event("node.registered")
    node.ok("deregister")
    receiver.wait_for_event("node.deregistered")
    requests = receiver.recorded()
    # Both events travel on one kept-alive TLS connection.
    assert receiver.connections == 1, receiver.connections
    for request in requests:
        assert request["path"] == "/events", request["path"]
        assert verify_signature(secret, request["headers"], request["raw"],
                                now=request["received_at"]), (
            f"signature does not verify: {request['headers']}")
        # The verifier can fail: another secret does not verify.
        assert not verify_signature(new_secret(), request["headers"],
                                    request["raw"],
                                    now=request["received_at"])

    counters = wait_until(
        lambda: (lambda c: c if c["delivered"] >= len(requests) else None)(
            node.webhook_counters()), 10, what="the delivered counter")
    assert counters["failed_tls"] == 0, counters
    assert counters["ca_file"] == pki.ca_file, counters
    assert counters["url"] == receiver.url(), counters
    assert_invariant(counters)
    assert_secrets_hidden(node, daemon, [secret])
    assert daemon.stop() == 0
    registry.stop()
    receiver.close()


def wait_for_tls_failure(node):
    return wait_until(
        lambda: (lambda c: c if c["failed_tls"] >= 1 else None)(
            node.webhook_counters()), 15, what="a failed_tls count")


def test_wrong_ca_counts_failed_tls():
    pki = Pki()
    receiver = TlsReceiver(pki)
    registry = Registry()
    node, daemon = start_node(registry, {
        "webhook": receiver.url(), "webhook-ca-file": pki.other_ca_file})
    counters = wait_for_tls_failure(node)
    assert counters["delivered"] == 0, counters
    assert "certificate verify failed" in counters["last_error"], counters
    assert_invariant(counters)
    assert receiver.recorded() == [], "a request passed a failed handshake"
    assert daemon.stop() == 0
    registry.stop()
    receiver.close()


def test_system_trust_store_rejects_private_ca():
    pki = Pki()
    receiver = TlsReceiver(pki)
    registry = Registry()
    node, daemon = start_node(registry, {"webhook": receiver.url()})
    counters = wait_for_tls_failure(node)
    assert counters["delivered"] == 0, counters
    assert counters["ca_file"] == "", counters
    assert receiver.recorded() == [], "a request passed a failed handshake"
    assert daemon.stop() == 0
    registry.stop()
    receiver.close()


def test_rotation_signatures_verify_with_either_secret():
    pki = Pki()
    receiver = TlsReceiver(pki)
    registry = Registry()
    old_secret, new = new_secret(), new_secret()
    node, daemon = start_node(registry, {
        "webhook": receiver.url("127.0.0.1"), "webhook-ca-file": pki.ca_file,
        "webhook-secret": f"{old_secret},{new}"})
    receiver.wait_for_event("node.registered")
    requests = receiver.recorded()
    for request in requests:
        headers, raw = request["headers"], request["raw"]
        assert len(headers["webhook-signature"].split(" ")) == 2, headers
        at = request["received_at"]
        assert verify_signature(old_secret, headers, raw, now=at), headers
        assert verify_signature(new, headers, raw, now=at), headers
        assert not verify_signature(new_secret(), headers, raw, now=at)
        # A receiver whose clock is far ahead rejects the request.
        assert not verify_signature(
            new, headers, raw, now=at + TIMESTAMP_TOLERANCE_SECONDS + 60)
    assert_secrets_hidden(node, daemon, [old_secret, new])
    assert daemon.stop() == 0
    registry.stop()
    receiver.close()


if __name__ == "__main__":
    run([
        test_signed_events_arrive_over_https,
        test_wrong_ca_counts_failed_tls,
        test_system_trust_store_rejects_private_ca,
        test_rotation_signatures_verify_with_either_secret,
    ])
