#!/usr/bin/env python3
"""Run the webhook benchmarks and print one table.

The three parts: delivery throughput next to wrk, the producer's cost of
raising one event, and a daemon's data path while its webhook endpoint is
down or black-holed.

1. Delivery: the webhook actor with the real HTTP client (webhook_bench
   throughput) POSTs data.datagram events to webhook_receiver, which
   responds with 204 at once, with webhook_concurrency 1 and 8. wrk POSTs
   the same request (the first one the receiver read: same path, headers
   and body) to the same receiver over as many connections. The runs take
   turns, and the ratio of each round is taken, so that a busy moment on
   the host hits both sides.
2. Producer cost: a producer actor sends events to the webhook actor as the
   connection actor does (webhook_bench produce), with the webhook on (URL
   of the fast receiver) and off. The result is nanoseconds per event in
   the producer, next to the cost of only building the event.
3. Data path: daemon A sends datagrams to daemon B over an encrypted tunnel
   on loopback, as fast as A takes them; each one raises data.datagram at B.
   B's webhook is (a) off, (b) at a closed port, (c) at a black hole that
   accepts TCP connections and never reads. The three setups take turns in
   chunks of --chunk events until each has raised --events; the table shows
   the median events/s and B's CPU per chunk, and B's peak RSS (VmHWM) at
   start, after 1M events and at the end.
"""
import argparse
import datetime
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "system"))

from transport_bench import cpu_seconds  # noqa: E402

GOAL_DELIVERY_RATIO = 0.8
GOAL_PRODUCER_NS = 1000
# Setups (b) and (c) may raise this much fewer events per second than (a)
# and still count as unaffected, because other load on the host moves each
# chunk's rate by more than that.
DATA_PATH_TOLERANCE = 0.10
# Peak RSS at the end may exceed the peak at MEMORY_MARK events by this much
# and still count as flat.
MEMORY_TOLERANCE_MIB = 8
# Events after which part 3 reads B's peak RSS the first time.
MEMORY_MARK = 1_000_000
# Part 3 fails when B raises no event for this many seconds.
STALL_TIMEOUT = 30



# -- host ---------------------------------------------------------------------

def cpu_model():
    with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.machine()


def load_average():
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def memory_kib(pid, field):
    """Returns a field of /proc/<pid>/status in KiB, such as VmHWM."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def parse_values(text):
    """Parses the `key=value` words of a bench line into a dict of floats."""
    return {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)", text)}


# -- processes ----------------------------------------------------------------

class Receiver:
    """webhook_receiver on a free loopback port; stop() returns its
    counters."""

    def __init__(self, bin_dir, *args):
        self.proc = subprocess.Popen(
            [os.path.join(bin_dir, "bench", "webhook_receiver"), *args],
            stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        match = re.match(r"port=(\d+)", line)
        if not match:
            self.proc.kill()
            raise RuntimeError(f"webhook_receiver did not start: {line!r}")
        self.port = int(match.group(1))
        self.url = f"http://127.0.0.1:{self.port}/events"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        out, _ = self.proc.communicate(timeout=10)
        return parse_values(out)


def run_bench(bin_dir, *args):
    """Runs webhook_bench and returns its result line as a dict."""
    done = subprocess.run(
        [os.path.join(bin_dir, "bench", "webhook_bench"), *args],
        capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"webhook_bench {' '.join(args)} failed: "
                           f"{done.stderr.strip()}")
    return parse_values(done.stdout)


# -- 1. delivery throughput ---------------------------------------------------

def lua_string(data):
    """Returns data as a Lua string literal, with every byte that is not
    printable ASCII written as a decimal escape."""
    out = []
    for byte in data:
        char = chr(byte)
        if char in '"\\' or not 32 <= byte < 127:
            out.append(f"\\{byte:03d}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def wrk_script(request_path, script_path):
    """Writes a wrk script that sends the saved request; returns its target
    path and body size. wrk adds Content-Length itself."""
    with open(request_path, "rb") as f:
        raw = f.read()
    head, body = raw.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    method, target, _ = lines[0].split(b" ", 2)
    script = [f"wrk.method = {lua_string(method)}",
              f"wrk.body = {lua_string(body)}"]
    for line in lines[1:]:
        name, value = line.split(b":", 1)
        if name.strip().lower() == b"content-length":
            continue
        script.append(f"wrk.headers[{lua_string(name.strip())}] = "
                      f"{lua_string(value.strip())}")
    with open(script_path, "w", encoding="ascii") as f:
        f.write("\n".join(script) + "\n")
    return target.decode(), len(body), len(head) + 4


def run_wrk(url, script, connections, seconds):
    done = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", script,
         url], capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr.strip()}")
    rate = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    if not rate:
        raise RuntimeError(f"wrk printed no rate:\n{done.stdout}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    if errors:
        raise RuntimeError(f"wrk got {errors.group(1)} error responses")
    return float(rate.group(1))


# The rows of part 1: a label and the extra webhook_bench arguments. The
# daemon runs the webhook actor on its own thread. The other rows run it on
# CAF's shared workers, with the default idle-worker polling and without its
# 50 µs sleeps (see --moderate-polls in webhook_bench.cpp).
DELIVERY_VARIANTS = [("own thread (daemon)", ["--own-thread"]),
                     ("shared workers", []),
                     ("shared, moderate-polls 0", ["--moderate-polls", "0"])]


def bench_delivery(args, workdir):
    """Returns the median rates and ratios of each row and the request
    size: ({(concurrency, label): (rates, ratios)}, {concurrency: wrk
    rates}, body size, header size)."""
    request_path = os.path.join(workdir, "request.http")
    receiver = Receiver(args.bin_dir, "--save-request", request_path)
    rows = {(c, label): ([], []) for c in (1, 8)
            for label, _ in DELIVERY_VARIANTS}
    wrk_rates = {1: [], 8: []}
    try:
        # The warm-up run also saves the first request for wrk.
        run_bench(args.bin_dir, "throughput", "--url", receiver.url,
                  "--seconds", "1")
        script = os.path.join(workdir, "request.lua")
        target, body_size, head_size = wrk_script(request_path, script)
        wrk_url = f"http://127.0.0.1:{receiver.port}{target}"
        for round_number in range(args.rounds):
            for concurrency in wrk_rates:
                runs = [("wrk", None)] + DELIVERY_VARIANTS
                # Rotate the order, so that no run always goes first.
                shift = round_number % len(runs)
                runs = runs[shift:] + runs[:shift]
                rates = {}
                for label, extra in runs:
                    if extra is None:
                        rates[label] = run_wrk(wrk_url, script, concurrency,
                                               args.seconds)
                        continue
                    result = run_bench(
                        args.bin_dir, "throughput", "--url", receiver.url,
                        "--concurrency", str(concurrency), "--seconds",
                        str(args.seconds), *extra)
                    if result["failed"] or result["dropped"]:
                        raise RuntimeError(f"webhook run lost events: "
                                           f"{result}")
                    rates[label] = result["events_per_second"]
                wrk_rates[concurrency].append(rates["wrk"])
                for label, _ in DELIVERY_VARIANTS:
                    row = rows[(concurrency, label)]
                    row[0].append(rates[label])
                    row[1].append(rates[label] / rates["wrk"])
    finally:
        receiver.stop()
    return rows, wrk_rates, body_size, head_size


# -- 2. producer cost ---------------------------------------------------------

def bench_producer(args):
    """Returns {variant: [ns/event]}: the webhook on, off, and the cost of
    building the events without sending them."""
    receiver = Receiver(args.bin_dir)
    variants = {"enabled": ["--url", receiver.url, "--own-thread"],
                "enabled, shared workers": ["--url", receiver.url],
                "disabled": ["--own-thread"], "build only": ["--build-only"]}
    results = {name: [] for name in variants}
    try:
        for round_number in range(args.rounds):
            order = list(variants)
            shift = round_number % len(order)
            for name in order[shift:] + order[:shift]:
                result = run_bench(args.bin_dir, "produce", *variants[name],
                                   "--events", str(args.producer_events))
                results[name].append(result["producer_ns_per_event"])
    finally:
        receiver.stop()
    return results


# -- 3. data path with the endpoint down --------------------------------------

def datagram_load():
    """Returns the system tests' datagram load module. Imported late,
    because its harness reads PILOT_BIN_DIR when imported."""
    import datagram_load as module
    return module


class DataPathSetup:
    """Daemons A and B on one registry; B's webhook is set to `webhook`."""

    def __init__(self, harness, registry, webhook, memory_mark):
        self.a = harness.Node(registry)
        self.b = harness.Node(registry)
        self.a.start_daemon(public=True)
        self.b.start_daemon(webhook=webhook, public=True)
        b_address = self.b.wait_registered()["address"]
        self.a.wait_registered()
        self.sender = datagram_load().DatagramFlood(self.a.socket, b_address, 9000)
        self.pid = self.b.daemon.proc.pid
        self.raised = 0
        self.chunks = []  # (events/s, B's CPU %, B's CPU µs per event)
        # B's peak RSS when it starts, once it has raised `memory_mark`
        # events, and at the end.
        self.memory_mark = memory_mark
        self.hwm_start = memory_kib(self.pid, "VmHWM")
        self.hwm_mark = None
        self.hwm_end = None
        self.rss_end = None

    def events(self):
        return datagram_load().webhook_counters(self.b)["emitted"]

    def run_chunk(self, count):
        """Sends datagrams until B has raised `count` more events."""
        before = self.events()
        cpu_before = cpu_seconds(self.pid)
        start = time.perf_counter()
        self.sender.running.set()
        raised = 0
        progress_at = (time.monotonic(), raised)
        while raised < count:
            time.sleep(0.05)
            raised = self.events() - before
            if raised > progress_at[1]:
                progress_at = (time.monotonic(), raised)
            elif time.monotonic() - progress_at[0] > STALL_TIMEOUT:
                raise RuntimeError(
                    f"daemon B raised no event for {STALL_TIMEOUT} s after "
                    f"{raised} of {count}; the end of its log:\n"
                    f"{self.b.daemon.log()[-2000:]}")
        elapsed = time.perf_counter() - start
        cpu = cpu_seconds(self.pid) - cpu_before
        self.sender.running.clear()
        self.raised += raised
        self.chunks.append((raised / elapsed, cpu / elapsed * 100,
                            cpu / raised * 1e6))
        if self.hwm_mark is None and self.raised >= self.memory_mark:
            self.hwm_mark = memory_kib(self.pid, "VmHWM")

    def finish(self):
        self.sender.close()
        # Let the datagrams already sent arrive before the last reading.
        time.sleep(0.5)
        self.hwm_end = memory_kib(self.pid, "VmHWM")
        self.rss_end = memory_kib(self.pid, "VmRSS")
        self.counters = datagram_load().webhook_counters(self.b)
        for node in (self.a, self.b):
            node.daemon.stop()


def bench_data_path(args):
    """Returns {setup name: DataPathSetup} after the interleaved chunks."""
    import harness
    registry = harness.Registry()
    black_hole = Receiver(args.bin_dir, "--black-hole")
    down_url = f"http://127.0.0.1:{harness.free_port()}/events"
    mark = min(MEMORY_MARK, args.events)
    setups = {}
    try:
        setups["(a) off"] = DataPathSetup(harness, registry, None, mark)
        setups["(b) down"] = DataPathSetup(harness, registry, down_url, mark)
        setups["(c) black hole"] = DataPathSetup(harness, registry,
                                                 black_hole.url, mark)
        while any(s.raised < args.events for s in setups.values()):
            for setup in setups.values():
                left = args.events - setup.raised
                if left > 0:
                    setup.run_chunk(min(args.chunk, left))
    finally:
        for setup in setups.values():
            setup.finish()
        black_hole.stop()
        registry.stop()
    return setups


# -- table --------------------------------------------------------------------

def short_count(count):
    """Returns 1000000 as 1M and 250000 as 250k."""
    if count % 1_000_000 == 0:
        return f"{count // 1_000_000}M"
    return f"{count // 1000}k" if count % 1000 == 0 else str(count)


def verdict(met):
    return "met" if met else "NOT met"


def print_delivery(args, rows, wrk_rates, body_size, head_size):
    print(f"1. Delivery to a local receiver that responds 204 at once: "
          f"{body_size}-byte body, {head_size}-byte header; {args.rounds} "
          f"interleaved runs of {args.seconds} s, medians")
    print(f"   {'concurrency':<13}{'webhook actor on':<26}{'webhook events/s':>17}"
          f"{'wrk requests/s':>16}{'ratio':>7}   goal >= "
          f"{GOAL_DELIVERY_RATIO}")
    for (concurrency, label), (rates, ratios) in rows.items():
        ratio = statistics.median(ratios)
        print(f"   {concurrency:<13}{label:<26}"
              f"{statistics.median(rates):>17.0f}"
              f"{statistics.median(wrk_rates[concurrency]):>16.0f}"
              f"{ratio:>7.2f}   {verdict(ratio >= GOAL_DELIVERY_RATIO)}")
    print("   ratio: median of the per-round ratios webhook / wrk; wrk -t1 "
          "with as many connections as the concurrency")


def print_producer(args, producer):
    print(f"2. Producer cost of raising one event: {args.rounds} "
          f"interleaved runs of {args.producer_events:,} events, medians")
    print(f"   {'webhook':<25}{'ns/event':>10}{'min':>8}{'max':>8}   "
          f"goal < {GOAL_PRODUCER_NS} ns")
    for name, values in producer.items():
        median = statistics.median(values)
        goal = (verdict(median < GOAL_PRODUCER_NS) if name != "build only"
                else "")
        print(f"   {name:<25}{median:>10.0f}{min(values):>8.0f}"
              f"{max(values):>8.0f}   {goal}")
    print("   ns/event: building a data.datagram event as the connection "
          "actor does and sending it to the webhook actor; build only: "
          "building it")


def print_data_path(args, setups):
    print(f"3. Daemon B raising data.datagram for datagrams from A: "
          f"{args.events:,} events per setup in interleaved chunks of "
          f"{args.chunk:,}; medians over chunks")
    mark = min(MEMORY_MARK, args.events)
    print(f"   {'setup':<16}{'events/s':>10}{'vs (a)':>8}{'B CPU %':>9}"
          f"{'B us/event':>12}{'HWM start':>11}{'HWM ' + short_count(mark):>10}"
          f"{'HWM end':>9}{'RSS end':>9}")
    base = statistics.median(c[0] for c in setups["(a) off"].chunks)
    flat = True
    unaffected = True
    for name, setup in setups.items():
        rate = statistics.median(c[0] for c in setup.chunks)
        load = statistics.median(c[1] for c in setup.chunks)
        cost = statistics.median(c[2] for c in setup.chunks)
        growth = (setup.hwm_end - setup.hwm_mark) / 1024
        flat = flat and growth <= MEMORY_TOLERANCE_MIB
        unaffected = unaffected and rate >= base * (1 - DATA_PATH_TOLERANCE)
        print(f"   {name:<16}{rate:>10.0f}{rate / base:>8.2f}{load:>9.0f}"
              f"{cost:>12.2f}{setup.hwm_start / 1024:>11.1f}"
              f"{setup.hwm_mark / 1024:>10.1f}{setup.hwm_end / 1024:>9.1f}"
              f"{setup.rss_end / 1024:>9.1f}")
    print(f"   HWM: B's peak RSS (VmHWM, MiB) at start, after {mark:,} "
          f"events and at the end; RSS end: VmRSS at the end")
    print("   B us/event: B's CPU time per event raised; the sender and A "
          "use the rest of the host")
    for name, setup in setups.items():
        c = setup.counters
        print(f"   {name} webhook: state {c['state']}, emitted "
              f"{c['emitted']}, delivered {c['delivered']}, failed "
              f"{c['failed']}, dropped {c['dropped']} (down "
              f"{c['dropped_down']}, full {c['dropped_full']}, disabled "
              f"{c['dropped_disabled']})")
    print(f"   goal: flat memory (end within {MEMORY_TOLERANCE_MIB} MiB of "
          f"{short_count(mark)}): {verdict(flat)}; no effect on the data path "
          f"(b and c within {DATA_PATH_TOLERANCE:.0%} of a): "
          f"{verdict(unaffected)}")


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin-dir", default=os.path.join(HERE, "..", "build"),
                        help="build directory with the binaries")
    parser.add_argument("--rounds", type=int, default=5,
                        help="interleaved runs of parts 1 and 2 (default 5)")
    parser.add_argument("--seconds", type=int, default=3,
                        help="seconds per delivery run (default 3)")
    parser.add_argument("--producer-events", type=int, default=1_000_000,
                        help="events per producer run (default 1000000)")
    parser.add_argument("--events", type=int, default=3_000_000,
                        help="events B raises per setup in part 3 (default "
                        "3000000; 10000000 for the full run, which takes "
                        "about 3 times as long)")
    parser.add_argument("--chunk", type=int, default=500_000,
                        help="events per chunk in part 3 (default 500000)")
    parser.add_argument("--quick", action="store_true",
                        help="3 rounds of 2 s, 200000 producer events, and "
                        "300000 events in chunks of 100000 in part 3")
    parser.add_argument("--only", choices=["delivery", "producer",
                                           "data-path"],
                        action="append", help="run only these parts")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.seconds = 3, 2
        args.producer_events = 200_000
        args.events, args.chunk = 300_000, 100_000
    return args


def main():
    args = parse_arguments()
    args.bin_dir = os.path.abspath(args.bin_dir)
    os.environ["PILOT_BIN_DIR"] = args.bin_dir
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing; bench/webhook installs it with apt-get")
    parts = set(args.only or ["delivery", "producer", "data-path"])
    started = datetime.datetime.now(datetime.timezone.utc)
    load_before = load_average()
    workdir = tempfile.mkdtemp(prefix="pilot-webhook-bench-")
    try:
        delivery = (bench_delivery(args, workdir) if "delivery" in parts
                    else None)
        producer = bench_producer(args) if "producer" in parts else None
        data_path = bench_data_path(args) if "data-path" in parts else None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    minutes = (datetime.datetime.now(datetime.timezone.utc)
               - started).total_seconds() / 60
    print(f"webhook benchmarks, {started:%Y-%m-%d %H:%M} UTC, "
          f"{minutes:.1f} min")
    print(f"host: {cpu_model()}, {os.cpu_count()} CPUs, load average "
          f"{load_before} before, {load_average()} after")
    print(f"binaries: {args.bin_dir}")
    if delivery:
        print()
        print_delivery(args, *delivery)
    if producer:
        print()
        print_producer(args, producer)
    if data_path:
        print()
        print_data_path(args, data_path)


if __name__ == "__main__":
    main()
