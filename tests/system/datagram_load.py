"""Datagram load on a daemon: a flood of SendTo frames paced by the
daemon, an IPC client that ignores the daemon's datagram pushes, and the
webhook counters read over IPC.
"""
import json
import socket
import struct
import threading

from harness import IPC_RECV_FROM, IPC_SEND_TO, IpcClient, encode_address

IPC_WEBHOOK_STATS = 0x40
IPC_WEBHOOK_STATS_OK = 0x41
FRAMES_PER_WRITE = 256


class QuietIpcClient(IpcClient):
    """An IPC client that discards the RecvFrom pushes which every client
    of the daemon gets for each datagram, instead of queueing them."""

    def _dispatch(self, command, payload):
        if command != IPC_RECV_FROM:
            super()._dispatch(command, payload)


def webhook_counters(node):
    """Returns the webhook counters of the node's daemon over a short IPC
    connection."""
    client = QuietIpcClient(node.socket, keep_data=False)
    try:
        return json.loads(client.request(IPC_WEBHOOK_STATS, b"",
                                         IPC_WEBHOOK_STATS_OK, timeout=20))
    finally:
        client.close()


class DatagramFlood:
    """Writes SendTo frames to a daemon's IPC socket from a thread while
    `running` is set, as fast as the daemon reads them, so that the
    daemon's pace sets the load. Another thread reads and discards what
    the daemon sends back: errors for datagrams it had no room for, and
    datagrams it received."""

    def __init__(self, socket_path, destination, port, payload=b"s" * 64):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(socket_path)
        request = encode_address(destination) + struct.pack(">H", port)
        frame = (struct.pack(">IB", len(request) + len(payload) + 1,
                             IPC_SEND_TO) + request + payload)
        self.batch = frame * FRAMES_PER_WRITE
        self.sent = 0
        self.running = threading.Event()
        self.closed = False
        self.writer = threading.Thread(target=self._write, daemon=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.writer.start()
        self.reader.start()

    def _write(self):
        while not self.closed:
            if not self.running.wait(0.1):
                continue
            try:
                self.sock.sendall(self.batch)
            except OSError:
                return
            self.sent += FRAMES_PER_WRITE

    def _read(self):
        while True:
            try:
                if not self.sock.recv(1 << 20):
                    return
            except OSError:
                return

    def close(self):
        self.closed = True
        self.running.clear()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.writer.join(5)
        self.reader.join(5)
