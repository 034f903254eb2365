#!/usr/bin/env python3
"""A webhook receiver for the soak test that switches between healthy,
slow, failing and dead on command and records every webhook-id it reads.

It runs as its own process, so that the test's load generator and this
receiver do not share one interpreter lock. It serves HTTP/1.1 with
keep-alive on a loopback port and prints `port=N` once it listens. Then it
reads one command per line on stdin and writes one JSON line per command
on stdout:

    mode healthy          respond 200 at once
    mode slow SECONDS     respond 200 after SECONDS
    mode failing          respond 500 at once
    mode dead refuse      close the listening socket and every connection,
                          so that new connections are refused
    mode dead reset       reset each new connection at once, and each open
                          one when its next request has arrived
    mode dead hangup      read each request, then close the connection
                          without a response
    watch TEXT            record the event ID of later requests whose
                          body contains TEXT
    report                the counters and the findings below
    quit

A response counts as sent when the connection was still open at the moment
the receiver wrote it. The daemon may still have given up on it: its
deadline may pass after the write and before it reads the response.
"""
import asyncio
import json
import re
import socket
import struct
import sys

HOST = "127.0.0.1"
# Headers larger than this end the connection, so a broken client cannot
# make the receiver buffer without bound.
MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 1 << 20
WEBHOOK_ID = re.compile(rb"^(\d+-[0-9a-f]+)-(\d+)$")
# Up to this many examples of each finding go into a report.
MAX_EXAMPLES = 10


class Ledger:
    """What the receiver saw and sent, per event ID of one daemon run.

    Event IDs are dense from 1, so two bytearrays indexed by the ID count
    how often each event arrived and how often it got a 2xx response.
    Both counts saturate at 255. The totals are kept up to date as
    requests arrive, because a report must not stall the event loop.
    """

    def __init__(self):
        self.seen = bytearray()
        self.accepted = bytearray()
        self.prefixes = set()
        self.malformed_ids = []
        self.requests = 0
        self.sent_2xx = 0
        self.sent_5xx = 0
        # Requests that got no response: the receiver hung up on purpose,
        # or the daemon closed the connection before the response was due.
        self.unanswered = 0
        self.pending = 0
        self.connections = 0
        self.distinct_ids = 0
        self.distinct_accepted_ids = 0
        self.max_event_id = 0
        self.seen_max = 0
        self.seen_twice = []
        self.accepted_twice = []
        # Requests per X-Pilot-Event header.
        self.events = {}
        self.watch_text = None
        self.watched = []

    def _grow(self, event_id):
        if event_id >= len(self.seen):
            extra = max(event_id + 1 - len(self.seen), len(self.seen))
            self.seen.extend(bytes(extra))
            self.accepted.extend(bytes(extra))

    def record_request(self, webhook_id, event, body):
        """Counts a request; returns its event ID, or None when the
        webhook-id is missing or malformed."""
        self.requests += 1
        self.events[event] = self.events.get(event, 0) + 1
        match = WEBHOOK_ID.match(webhook_id or b"")
        if match is None:
            if len(self.malformed_ids) < MAX_EXAMPLES:
                self.malformed_ids.append(webhook_id.decode("ascii", "replace")
                                          if webhook_id else None)
            return None
        self.prefixes.add(match.group(1).decode("ascii"))
        event_id = int(match.group(2))
        self._grow(event_id)
        count = min(self.seen[event_id] + 1, 255)
        self.seen[event_id] = count
        if count == 1:
            self.distinct_ids += 1
        if count == 2:
            self.seen_twice.append(event_id)
        self.seen_max = max(self.seen_max, count)
        self.max_event_id = max(self.max_event_id, event_id)
        if self.watch_text is not None and self.watch_text in body:
            self.watched.append(event_id)
        return event_id

    def record_response(self, event_id, status):
        if not 200 <= status < 300:
            self.sent_5xx += 1
            return
        self.sent_2xx += 1
        if event_id is None:
            return
        count = min(self.accepted[event_id] + 1, 255)
        self.accepted[event_id] = count
        if count == 1:
            self.distinct_accepted_ids += 1
        if count == 2:
            self.accepted_twice.append(event_id)

    def report(self):
        return {
            "requests": self.requests,
            "sent_2xx": self.sent_2xx,
            "sent_5xx": self.sent_5xx,
            "unanswered": self.unanswered,
            "pending": self.pending,
            "connections": self.connections,
            "distinct_ids": self.distinct_ids,
            "distinct_accepted_ids": self.distinct_accepted_ids,
            "max_event_id": self.max_event_id,
            "accepted_twice": len(self.accepted_twice),
            "accepted_twice_examples": self.accepted_twice[:MAX_EXAMPLES],
            "seen_twice": len(self.seen_twice),
            "seen_twice_examples": self.seen_twice[:MAX_EXAMPLES],
            "seen_max": self.seen_max,
            "events": {k.decode("ascii", "replace"): v
                       for k, v in sorted(self.events.items())},
            "prefixes": sorted(self.prefixes),
            "malformed_ids": self.malformed_ids,
            # The event IDs of the watched requests, each with how often
            # it got a 2xx response.
            "watched": [[i, self.accepted[i]] for i in self.watched],
        }


class Receiver:
    """The listening socket, the current mode and the open connections."""

    def __init__(self, loop):
        self.loop = loop
        self.ledger = Ledger()
        self.mode = "healthy"
        self.delay = 0.0
        self.server = None
        # Keeps the port bound while nothing listens on it, so that
        # connections are refused and no other program takes the port.
        self.placeholder = None
        self.port = 0
        self.connections = set()

    async def listen(self):
        if self.placeholder is not None:
            self.placeholder.close()
            self.placeholder = None
        self.server = await self.loop.create_server(
            lambda: Connection(self), HOST, self.port, reuse_address=True,
            backlog=512)
        self.port = self.server.sockets[0].getsockname()[1]

    async def set_mode(self, words):
        name = words[0]
        if name == "slow":
            self.delay = float(words[1])
        if name == "dead":
            name = "dead-" + words[1]
        if name not in ("healthy", "slow", "failing", "dead-refuse",
                        "dead-reset", "dead-hangup"):
            raise ValueError(f"unknown mode {' '.join(words)!r}")
        self.mode = name
        # The other dead modes keep open connections, so that the daemon's
        # next request on one of them fails, which it sends once more on a
        # new connection.
        if name == "dead-refuse":
            for connection in list(self.connections):
                connection.close()
        if name == "dead-refuse" and self.server is not None:
            self.server.close()
            self.server = None
            self.placeholder = socket.socket(socket.AF_INET,
                                             socket.SOCK_STREAM)
            self.placeholder.setsockopt(socket.SOL_SOCKET,
                                        socket.SO_REUSEADDR, 1)
            self.placeholder.bind((HOST, self.port))
        if name != "dead-refuse" and self.server is None:
            await self.listen()


class Connection(asyncio.Protocol):
    """One keep-alive connection that handles one request at a time, as
    the daemon sends them."""

    def __init__(self, receiver):
        self.receiver = receiver
        self.ledger = receiver.ledger
        self.transport = None
        self.buffer = bytearray()
        self.busy = False

    def connection_made(self, transport):
        self.transport = transport
        self.ledger.connections += 1
        if self.receiver.mode == "dead-reset":
            self.reset()
            return
        self.receiver.connections.add(self)

    def connection_lost(self, _exc):
        self.receiver.connections.discard(self)

    def close(self):
        self.transport.close()

    def reset(self):
        """Closes the connection with a TCP reset instead of a FIN."""
        sock = self.transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack("ii", 1, 0))
        self.transport.abort()

    def data_received(self, data):
        self.buffer += data
        if len(self.buffer) > MAX_HEADER_BYTES + MAX_BODY_BYTES:
            self.transport.abort()
            return
        self.handle_next()

    def handle_next(self):
        while not self.busy and not self.transport.is_closing():
            request = self.take_request()
            if request is None:
                return
            self.handle(*request)

    def take_request(self):
        """Removes one whole request from the buffer; returns its
        webhook-id, event name and body, or None while it is
        incomplete."""
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > MAX_HEADER_BYTES:
                self.transport.abort()
            return None
        headers = {}
        for line in bytes(self.buffer[:end]).split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get(b"content-length", b"0"))
        if len(self.buffer) < end + 4 + length:
            return None
        body = bytes(self.buffer[end + 4:end + 4 + length])
        del self.buffer[:end + 4 + length]
        return (headers.get(b"webhook-id"), headers.get(b"x-pilot-event", b""),
                body)

    def handle(self, webhook_id, event, body):
        event_id = self.ledger.record_request(webhook_id, event, body)
        mode = self.receiver.mode
        if mode == "dead-hangup":
            self.ledger.unanswered += 1
            self.transport.close()
        elif mode == "dead-reset":
            self.ledger.unanswered += 1
            self.reset()
        elif mode == "slow":
            self.busy = True
            self.ledger.pending += 1
            self.receiver.loop.call_later(self.receiver.delay,
                                          self.respond_late, event_id)
        else:
            self.respond(event_id, 500 if mode == "failing" else 200)

    def respond_late(self, event_id):
        self.busy = False
        self.ledger.pending -= 1
        self.respond(event_id, 200)
        self.handle_next()

    def respond(self, event_id, status):
        if self.transport.is_closing():
            self.ledger.unanswered += 1
            return
        reason = b"OK" if status == 200 else b"Internal Server Error"
        self.transport.write(b"HTTP/1.1 %d %s\r\nContent-Length: 0\r\n\r\n"
                             % (status, reason))
        self.ledger.record_response(event_id, status)


async def serve_commands(receiver):
    reader = asyncio.StreamReader()
    await receiver.loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        words = line.decode().split()
        if not words or words[0] == "quit":
            return
        try:
            if words[0] == "mode":
                await receiver.set_mode(words[1:])
                reply = {"mode": receiver.mode}
            elif words[0] == "watch":
                receiver.ledger.watch_text = words[1].encode()
                reply = {"watch": words[1]}
            elif words[0] == "report":
                reply = receiver.ledger.report()
            else:
                reply = {"error": f"unknown command {words[0]!r}"}
        except (ValueError, IndexError, OSError) as e:
            reply = {"error": f"{line.decode().strip()!r} failed: {e}"}
        print(json.dumps(reply), flush=True)


async def main():
    receiver = Receiver(asyncio.get_running_loop())
    await receiver.listen()
    print(f"port={receiver.port}", flush=True)
    await serve_commands(receiver)


if __name__ == "__main__":
    asyncio.run(main())
