#!/usr/bin/env python3
"""Stream throughput over an encrypted tunnel between two pilot-daemons on
loopback, with no webhook and with the webhook pointed at a receiver that
accepts TCP connections and never answers.

Each run binds a port on daemon B, dials it from daemon A, sends --size-mib
MiB through A's IPC socket and stops the clock when B's IPC client has
received the last byte. The two setups run interleaved, --rounds times
each, and the table shows the median of each and the ratio between them.
MB is 10^6 bytes and Mbit is 10^6 bits.

A stream transfer raises only a few events. --datagram-rate N also sends N
datagrams per second from A to B during each transfer, and each one raises
a data.datagram event at B, so that the webhook has events to deliver or
drop while the stream runs.
"""
import argparse
import os
import platform
import queue
import statistics
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "system"))

GOAL_MBIT = 1000
GOAL_WEBHOOK_COST = 0.05


def cpu_seconds(pid):
    """Returns the user and system CPU time a process has used, from
    /proc/<pid>/stat (fields 14 and 15, in clock ticks)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Run:
    """One transfer: its duration and the CPU time of each daemon."""

    def __init__(self, size, seconds, cpu_a, cpu_b):
        self.mb_per_s = size / seconds / 1e6
        # Percent of one CPU over the transfer.
        self.load_a = cpu_a / seconds * 100
        self.load_b = cpu_b / seconds * 100
        # CPU milliseconds per MB, which other load on the host changes
        # much less than the throughput.
        self.cost_a = cpu_a * 1e3 / (size / 1e6)
        self.cost_b = cpu_b * 1e3 / (size / 1e6)


class Setup:
    """Daemons A and B on one registry, both with the same webhook URL (or
    none), and their IPC clients; B only counts what it receives."""

    def __init__(self, harness, registry, webhook):
        self.a = harness.Node(registry)
        self.b = harness.Node(registry)
        for node in (self.a, self.b):
            node.start_daemon(webhook=webhook, public=True)
        self.b_address = self.b.wait_registered()["address"]
        self.a.wait_registered()
        self.sender = self.a.ipc()
        self.listener = harness.IpcClient(self.b.socket, keep_data=False)
        self.datagram_sender = self.a.ipc()
        self.next_port = 2000

    def send_datagrams(self, rate, done):
        """Sends `rate` datagrams per second to B until `done` is set."""
        payload = b"d" * 64
        interval = 1 / rate
        next_send = time.perf_counter()
        while not done.is_set():
            self.datagram_sender.send_to(self.b_address, 9000, payload)
            next_send += interval
            delay = next_send - time.perf_counter()
            if delay > 0:
                done.wait(delay)

    def run(self, size, chunk, datagram_rate=0):
        """Transfers size bytes and returns the Run."""
        port = self.next_port
        self.next_port += 1
        self.listener.bind(port)
        conn = self.sender.dial(self.b_address, port)
        accepted = self.listener.accept()
        data = os.urandom(chunk)
        pids = (self.a.daemon.proc.pid, self.b.daemon.proc.pid)
        cpu_before = [cpu_seconds(pid) for pid in pids]
        done = threading.Event()
        datagrams = threading.Thread(target=self.send_datagrams,
                                     args=(datagram_rate, done), daemon=True)
        start = time.perf_counter()
        if datagram_rate:
            datagrams.start()
        for _ in range(size // chunk):
            conn.send(data, chunk)
        accepted.wait_received(size, timeout=max(60, size / 10e6))
        elapsed = time.perf_counter() - start
        cpu = [cpu_seconds(pid) - before
               for pid, before in zip(pids, cpu_before)]
        done.set()
        if datagram_rate:
            datagrams.join()
        conn.close()
        self.discard_datagrams()
        return Run(size, elapsed, *cpu)

    def discard_datagrams(self):
        while True:
            try:
                self.listener.datagrams.get_nowait()
            except queue.Empty:
                return

    def stop(self):
        self.sender.close()
        self.datagram_sender.close()
        self.listener.close()
        for node in (self.a, self.b):
            node.daemon.stop()


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin-dir", default=os.path.join(HERE, "..", "build"),
                        help="directory with the built binaries")
    parser.add_argument("--size-mib", type=int, default=128,
                        help="MiB sent per run (default 128)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="runs of each setup, interleaved (default 5)")
    parser.add_argument("--chunk-kib", type=int, default=512,
                        help="KiB per IPC Send frame, at most 1023 "
                        "(default 512)")
    parser.add_argument("--datagram-rate", type=int, default=0,
                        help="datagrams per second from A to B during each "
                        "transfer, each raising an event at B (default 0)")
    parser.add_argument("--warmup", type=int, default=1,
                        help="runs of each setup not counted (default 1)")
    return parser.parse_args()


def main():
    args = parse_arguments()
    os.environ["PILOT_BIN_DIR"] = os.path.abspath(args.bin_dir)
    import harness  # reads PILOT_BIN_DIR when imported

    size = args.size_mib << 20
    chunk = args.chunk_kib << 10
    if not 0 < chunk <= harness.IPC_MAX_SEND:
        sys.exit(f"--chunk-kib must be from 1 to {harness.IPC_MAX_SEND >> 10}")
    registry = harness.Registry()
    silent = harness.Receiver(harness.never_answer)
    setups = {"no webhook": Setup(harness, registry, None),
              "webhook never answers": Setup(harness, registry, silent.url)}
    results = {name: [] for name in setups}
    try:
        for round_number in range(args.warmup + args.rounds):
            for name, setup in setups.items():
                result = setup.run(size, chunk, args.datagram_rate)
                if round_number >= args.warmup:
                    results[name].append(result)
    finally:
        for setup in setups.values():
            setup.stop()
        registry.stop()
    print_table(args, results, len(silent.requests))


def print_table(args, results, unanswered):
    print_header(args)
    medians, costs = print_rows(results)
    base, dead = medians["no webhook"], medians["webhook never answers"]
    ratio = dead / base
    cpu_ratio = costs["webhook never answers"] / costs["no webhook"]
    print()
    print("CPU A/B %: median CPU time of the sending/receiving daemon over "
          "the transfer, in percent of one CPU")
    print("ms/MB A/B: median CPU milliseconds each daemon spent per MB sent")
    print(f"ratio b/a (webhook never answers / no webhook): throughput "
          f"{ratio:.3f} (cost {(1 - ratio) * 100:+.1f} %), CPU per MB "
          f"{cpu_ratio:.3f} ({(cpu_ratio - 1) * 100:+.1f} %)")
    print(f"POSTs the receiver read and never answered: {unanswered}")
    print(f"goal: > {GOAL_MBIT} Mbit/s: "
          f"{'met' if base * 8 > GOAL_MBIT else 'NOT met'}; "
          f"dead receiver costs < {GOAL_WEBHOOK_COST:.0%}: "
          f"{'met' if 1 - ratio < GOAL_WEBHOOK_COST else 'NOT met'}")


def print_header(args):
    print(f"stream throughput, encrypted tunnel on loopback: "
          f"{args.size_mib} MiB per run, {args.rounds} runs each "
          f"(+{args.warmup} warm-up), {args.chunk_kib} KiB IPC writes, "
          f"{args.datagram_rate} datagrams/s alongside")
    print(f"host: {platform.machine()}, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}, Python {platform.python_version()}, "
          f"binaries in {args.bin_dir}")
    print()
    print(f"{'setup':<24}{'median MB/s':>12}{'Mbit/s':>8}{'min MB/s':>10}"
          f"{'max MB/s':>10}{'CPU A %':>9}{'CPU B %':>9}{'ms/MB A':>9}"
          f"{'ms/MB B':>9}")


def print_rows(results):
    """Prints one row per setup; returns the median MB/s of each and its
    CPU milliseconds per MB, both daemons together."""
    medians = {}
    costs = {}
    for name, runs in results.items():
        rates = [run.mb_per_s for run in runs]
        medians[name] = statistics.median(rates)
        load_a = statistics.median(run.load_a for run in runs)
        load_b = statistics.median(run.load_b for run in runs)
        cost_a = statistics.median(run.cost_a for run in runs)
        cost_b = statistics.median(run.cost_b for run in runs)
        costs[name] = cost_a + cost_b
        print(f"{name:<24}{medians[name]:>12.1f}{medians[name] * 8:>8.0f}"
              f"{min(rates):>10.1f}{max(rates):>10.1f}{load_a:>9.0f}"
              f"{load_b:>9.0f}{cost_a:>9.2f}{cost_b:>9.2f}")
    return medians, costs


if __name__ == "__main__":
    main()
