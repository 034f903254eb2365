"""A UDP relay on loopback that sits between a daemon and its peer (another
daemon or the beacon) and can drop, reorder and duplicate datagrams.

The relay has two sockets. The front socket is the address the first party
sends to (a daemon registers it with --endpoint, so its peers reach it
there); every datagram arriving on it is forwarded from the back socket to
the target. Datagrams that come back to the back socket go out of the front
socket to whoever last sent to the front. Both parties therefore see the
relay's sockets as the other side's address.

Faults come from a seeded random generator so a run can be repeated;
thread timing can still change which datagram a fault hits.
"""
import random
import select
import socket
import threading
import time

TO_TARGET = "to_target"
TO_CLIENT = "to_client"


class LossyRelay:
    """Forwards UDP between one client and `target`, with faults.

    loss, reorder and duplicate are the fractions of datagrams that are
    dropped, held back behind the next datagram in the same direction
    (released after `hold` seconds at the latest) and sent twice. `capture`
    (a function of the datagram) selects datagrams to keep in `captured`
    with their direction.
    """

    def __init__(self, target, loss=0.0, reorder=0.0, duplicate=0.0, seed=1,
                 hold=0.02, capture=None):
        self.target = target
        self.loss = loss
        self.reorder = reorder
        self.duplicate = duplicate
        self.hold = hold
        self.capture = capture
        self.random = random.Random(seed)
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind(("127.0.0.1", 0))
        self.back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.back.bind(("127.0.0.1", 0))
        for sock in (self.front, self.back):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.address = self.front.getsockname()
        self.text = f"{self.address[0]}:{self.address[1]}"
        self.client = None
        self.lock = threading.Lock()
        self.captured = []
        self.counts = {"forwarded": 0, "dropped": 0, "reordered": 0,
                       "duplicated": 0}
        # Per direction: the datagram held back and when it must go out.
        self.held = {TO_TARGET: None, TO_CLIENT: None}
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def set_faults(self, loss=None, reorder=None, duplicate=None):
        with self.lock:
            if loss is not None:
                self.loss = loss
            if reorder is not None:
                self.reorder = reorder
            if duplicate is not None:
                self.duplicate = duplicate

    def inject(self, direction, datagram):
        """Sends datagram as if the relay had forwarded it, with no faults:
        to the target from the back socket, or to the client from the front
        socket."""
        self._send(direction, datagram)

    def captured_frames(self, direction=None):
        with self.lock:
            return [d for where, d in self.captured
                    if direction is None or where == direction]

    def close(self):
        self.running = False
        self.thread.join(5)
        self.front.close()
        self.back.close()

    def _send(self, direction, datagram):
        try:
            if direction == TO_TARGET:
                self.back.sendto(datagram, self.target)
            elif self.client is not None:
                self.front.sendto(datagram, self.client)
        except OSError:
            pass  # A full buffer or a gone peer is a loss, as on a network.

    def _forward(self, direction, datagram):
        with self.lock:
            if self.capture is not None and self.capture(datagram):
                self.captured.append((direction, datagram))
            roll = self.random.random()
            if roll < self.loss:
                self.counts["dropped"] += 1
                return
            copies = 2 if self.random.random() < self.duplicate else 1
            if copies == 2:
                self.counts["duplicated"] += 1
            hold = (self.held[direction] is None
                    and self.random.random() < self.reorder)
            if hold:
                self.counts["reordered"] += 1
                self.held[direction] = (datagram, copies,
                                        time.monotonic() + self.hold)
                return
            released = self.held[direction]
            self.held[direction] = None
            self.counts["forwarded"] += 1
        for _ in range(copies):
            self._send(direction, datagram)
        if released is not None:
            for _ in range(released[1]):
                self._send(direction, released[0])

    def _release_expired(self):
        now = time.monotonic()
        for direction in (TO_TARGET, TO_CLIENT):
            with self.lock:
                held = self.held[direction]
                if held is None or held[2] > now:
                    continue
                self.held[direction] = None
            for _ in range(held[1]):
                self._send(direction, held[0])

    def _run(self):
        while self.running:
            try:
                ready, _, _ = select.select([self.front, self.back], [], [],
                                            self.hold / 2)
            except (OSError, ValueError):
                return
            for sock in ready:
                try:
                    datagram, source = sock.recvfrom(65535)
                except OSError:
                    continue
                if sock is self.front:
                    self.client = source
                    self._forward(TO_TARGET, datagram)
                elif source == self.target:
                    self._forward(TO_CLIENT, datagram)
            self._release_expired()
