#!/usr/bin/env python3
"""Writes the seed corpora in corpus/<target>/ from the byte examples of
the protocol description and the unit tests. Run it again after changing
a seed here; the files it writes are committed."""
import json
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))

SYN = bytes.fromhex(
    "11 01 0000 0000 00000001 0000 00000002 C000 03E8 00000000 00000000 0200 "
    "145ED874")
DATA = bytes.fromhex(
    "12010005000000000001000000000002c00003e80000000100000001"
    "01f65ee872c868656c6c6f")
SYN_ACK = bytes.fromhex(
    "1301000000000000000200000000000103e8c0000000000000000001020024f40f8e")
FIN_ACK = bytes.fromhex(
    "1601000000000000000200000000000103e8c000000000010000000700007de95191")
RST = bytes.fromhex(
    "1801000000000000000200000000000103e8c000000000000000000000005daed99a")
DATAGRAM = bytes.fromhex(
    "10020004000000000001000000000002c00113880000000000000000000033e63983"
    "70696e67")
SACK_PAYLOAD = bytes.fromhex("5341434b0200001001000020010000300100004001")
SACK_PACKET = bytes.fromhex(
    "1201001500000000000200000000000103e8c000000000010000000101fd41e53495"
) + SACK_PAYLOAD

ALICE_X25519 = bytes.fromhex(
    "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
ED25519_PUB = bytes.fromhex(
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
PILA_SIGNATURE = bytes.fromhex(
    "880af5e2ce0d44fc98432c2ff8c867567f42f442cd9e00c298199823844f1e7d"
    "54c5560c7c7480b2f90855b73178c665295538bd30e521f794c494e793e7610d")
PILS = bytes.fromhex(
    "50494c5300000001a1b2c3d40000000000000001"
    "56dfe3f8d3d878e2a8d87fc3412afca4dfc38b354ce7f0e1ecd34717b908c546"
    "1fcc585a0951448836deeed10cb8a3de519c")

PUBLIC_KEY = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
REGISTRY_BODIES = [
    '{"listen_addr":"127.0.0.1:4000","public_key":"%s","type":"register"}'
    % PUBLIC_KEY,
    '{"address":"0:0000.0000.0001","network_id":0,"node_id":1,'
    '"public_key":"%s","type":"register_ok"}' % PUBLIC_KEY,
    '{"node_id":1,"signature":"VnlNDnMgPNrEstsrIUUV4v6d2E7QkVIddCAIpv1x28UtcY1'
    '5dnl85d0ldVgesmCWwT8vPsUTgZrs82oJtGTtAQ==","type":"heartbeat"}',
    '{"time":1767225600,"type":"heartbeat_ok"}',
    '{"error":"request failed","type":"error"}',
    '{"node_id":1,"type":"lookup"}',
    '{"address":"0:0000.0000.0001","networks":[0],"node_id":1,"polo_score":0,'
    '"public":false,"public_key":"%s","type":"lookup_ok"}' % PUBLIC_KEY,
    '{"node_id":2,"requester_id":1,"signature":"a782c6+50CLxw5CdBgYqTOdXCgBvP0b'
    'H1Pc1vA1BZE/zb4XhaloIU6GMcNtJVitQIMY57SgoK21CUKmjSAItAw==",'
    '"type":"resolve"}',
    '{"type":"deregister_ok"}',
    '{"requests":[],"responses":[],"type":"poll_handshakes_ok"}',
    '{"node_id":1,"tags":null,"type":"set_tags_ok"}',
    '{"from_node_id":1,"justification":"need \\u003cdata\\u003e \\u0026 more",'
    '"signature":"9S+I5TI03acn8tKkIroprBmv6NzljsX4+ZcP04hlEtUrmPJEww0O11uGhVSG'
    'h4Xs/so1V4HlVcLx5g/kulFZCw==","to_node_id":2,"type":"request_handshake"}',
    '{"addr":"10.0.0.5:9001","beacon_id":7,"type":"beacon_register"}',
    '{"beacons":[{"addr":"10.0.0.5:9001","id":7}],"type":"beacon_list_ok"}',
    '{"node_id":3,"tags":["gpu","eu"],"signature":"","type":"set_tags"}',
]


def frame32(body):
    return struct.pack(">I", len(body)) + body


def ipc(command, payload=b""):
    return struct.pack(">IB", len(payload) + 1, command) + payload


def data_frame(kind, payload):
    return struct.pack(">II", kind, len(payload)) + payload


def event_frame(topic, payload):
    return (struct.pack(">H", len(topic)) + topic
            + struct.pack(">I", len(payload)) + payload)


def http(*lines, body=b""):
    return b"".join(line.encode() + b"\r\n" for line in lines) + b"\r\n" + body


def corpora():
    bodies = [b.encode() for b in REGISTRY_BODIES]
    handshake = (
        '{"type":"handshake_request","node_id":1,"public_key":"%s",'
        '"justification":"why","signature":"","reason":"",'
        '"timestamp":1772200000}' % PUBLIC_KEY)
    identity = (
        '{\n  "private_key": "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2DXWpgBg'
        'rEKt9VL/tPJZAc6DuFy89qmIyWvAhpo9wdRGg==",\n  "public_key": "%s"\n}'
        % PUBLIC_KEY)
    trust = json.dumps({
        "trusted": [
            {"node_id": 7, "public_key": PUBLIC_KEY,
             "approved_at": "2026-02-27T15:03:44+02:00", "mutual": True},
            {"node_id": 9, "public_key": "",
             "approved_at": "2026-02-27T15:03:44.5Z", "mutual": False,
             "network": 3}],
        "pending": [
            {"node_id": 11, "public_key": PUBLIC_KEY, "justification": "why",
             "received_at": "2026-02-27T15:03:44Z"}],
        "outgoing": [{"node_id": 12, "sent_at": "2026-02-27T15:03:44Z"}],
    }, indent=2)
    return {
        "packet": {
            "syn": SYN, "data": DATA, "syn-ack": SYN_ACK, "fin-ack": FIN_ACK,
            "rst": RST, "datagram": DATAGRAM, "sack": SACK_PACKET,
        },
        "sack": {"two-blocks": SACK_PAYLOAD},
        "tunnel_frame": {
            "pilt-syn": b"PILT" + SYN,
            "pilt-data": b"PILT" + DATA,
            "pils": PILS,
            "pilk": b"PILK" + struct.pack(">I", 1) + ALICE_X25519,
            "pila": b"PILA" + struct.pack(">I", 1) + ALICE_X25519
                    + ED25519_PUB + PILA_SIGNATURE,
            "pilp": b"PILP",
        },
        "beacon_message": {
            "discover": bytes.fromhex("0100000007"),
            "discover-reply-v4": bytes.fromhex("02047f0000011f91"),
            "discover-reply-v6": bytes.fromhex("0210" + "00" * 15 + "011f91"),
            "punch-request": bytes.fromhex("030000000100000002"),
            "punch-command": bytes.fromhex("0404c0a800051f90"),
            "relay": bytes.fromhex("050000000100000002") + b"PILP",
            "relay-deliver": bytes.fromhex("0600000001") + b"PILT" + SYN,
            "sync": bytes.fromhex("07000000090002000000010000000a"),
        },
        "registry_frame": {
            "one": frame32(bodies[0]),
            "two": frame32(bodies[1]) + frame32(bodies[3]),
            "partial": frame32(bodies[4])[:20],
        },
        "registry_message": {
            f"body-{i:02d}": bytes([0xff]) + body
            for i, body in enumerate(bodies)
        } | {
            "as-register-ok": bytes([24]) + bodies[1],
            "as-lookup-ok": bytes([27]) + bodies[6],
            "as-poll-ok": bytes([37]) + bodies[9],
            "as-beacon-list-ok": bytes([47]) + bodies[13],
        },
        "ipc_frame": {
            "bind": bytes.fromhex("00 00 00 03 01 03 e8"),
            "dial": bytes.fromhex("00 00 00 09 03 00 00 00 00 00 05 03 e9"),
            "send": bytes.fromhex("00 00 00 07 06 00 00 00 07 68 69"),
            "accept": bytes.fromhex(
                "00 00 00 0f 05 03 e8 00 00 00 09 00 00 00 00 00 09 c0 00"),
            "handshake": bytes.fromhex("00 00 00 08 0f 01 00 00 00 05 68 69"),
            "error": ipc(0x0A, b"\x00\x01port 1000 already bound"),
            "info": bytes.fromhex("000000010d"),
            "set-tags": ipc(0x19, b'["gpu","eu"]'),
            "send-to": ipc(0x0B, bytes.fromhex("000000000005138800") + b"ping"),
            "recv-from": ipc(0x0C, bytes.fromhex("0000000000051388c000") + b"pong"),
            "empty-then-visibility": bytes.fromhex("00000000") + ipc(0x15, b"\x01"),
            "set-webhook-config": ipc(
                0x42, b'{"url":"https://example.com/h","events":"conn.*",'
                      b'"retries":2,"timeout":"5s","secrets":[]}'),
        },
        "data_exchange": {
            "text": data_frame(1, b"hello"),
            "json": data_frame(3, b'{"task":"invoice"}'),
            "file": data_frame(4, b"\x00\x0areport.pdf%PDF-1.4"),
            "two": data_frame(2, b"\x00\x01\x02") + data_frame(7, b""),
        },
        "event_stream": {
            "subscribe": event_frame(b"alerts", b""),
            "publish": event_frame(b"alerts", b"disk almost full"),
            "two": event_frame(b"*", b"") + event_frame(b"a", b"x"),
        },
        "handshake_message": {
            "request": handshake.encode(),
            "revoke": (
                '{"type":"handshake_revoke","node_id":2,"public_key":"",'
                '"justification":"","signature":"","reason":"trust revoked",'
                '"timestamp":1}').encode(),
        },
        "identity_file": {"spec": identity.encode()},
        "trust_file": {"spec": trust.encode()},
        "pilot_config": {
            "spec": b'{"registry":"34.71.57.205:9000","beacon":"34.71.57.205:9001",'
                    b'"socket":"/tmp/pilot.sock","encrypt":true,'
                    b'"identity":"~/.pilot/identity.json"}',
            "webhook": b'{\n  "webhook": "http://127.0.0.1:8080/events"\n}\n',
        },
        "daemon_config": {
            "basic": b'{"registry":"127.0.0.1:9000","beacon":"",'
                     b'"listen":"127.0.0.1:0","keepalive":"30s","public":true}',
            "webhook": b'{"webhook":"http://127.0.0.1:8080/events",'
                       b'"webhook_timeout":"5s","webhook-buffer":1024,'
                       b'"webhook_concurrency":4}',
            "transport": b'{"idle-timeout":"2m","syn_rate_limit":100,'
                         b'"max-conns-per-port":1024,"no-echo":true}',
        },
        "webhook_url": {
            "plain": b"http://127.0.0.1:8080/events",
            "https": b"https://hooks.example.com/v2/events?token=abc",
            "user-info": b"http://user:secret@[::1]:9090/x",
            "refused": b"http://169.254.169.254/latest/meta-data",
            "hex-ip": b"http://0x7f.1/events",
            "path-without-slash": b"http://user:creht",
            # Decodes to a name that Boost.URL reads as an IPv4 address
            # followed by a path.
            "encoded-ipv4-prefix": b"http://1%38.254.1.26h/1tpt:/38./",
        },
        "http_response": {
            "ok": b"\x07" + http("HTTP/1.1 200 OK", "Content-Length: 2", body=b"ok"),
            "no-content": b"\xff" + http("HTTP/1.1 204 No Content"),
            "interim": b"\x03" + http("HTTP/1.1 100 Continue")
                       + http("HTTP/1.1 202 Accepted", "Content-Length: 0"),
            "chunked": b"\x10" + http("HTTP/1.1 500 Internal Server Error",
                                      "Transfer-Encoding: chunked",
                                      body=b"5\r\nerror\r\n0\r\n\r\n"),
            "close": b"\x40" + http("HTTP/1.0 429 Too Many Requests",
                                    "Connection: close", body=b"slow down"),
            # Read one byte at a time, this trailer trips an assertion in
            # Beast 1.81's chunk parser.
            "chunk-trailer-byte-reads": b"\x00" + http(
                "HTTP/1.1 500 Int", "Transfer-Encoding: chunked",
                body=b"0\r\nerror\r\n0\r\n\r\n"),
        },
    }


def main():
    for target, seeds in corpora().items():
        directory = os.path.join(HERE, "corpus", target)
        os.makedirs(directory, exist_ok=True)
        for name, data in seeds.items():
            with open(os.path.join(directory, name), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
