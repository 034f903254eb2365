#!/usr/bin/env python3
"""Webhook delivery against receivers that fail in every way the contract
names. In each case the daemon keeps answering pilotctl promptly, the
counters keep their invariant, and shutdown stays within its grace."""
import time

from harness import (Node, Receiver, Registry, answer_after,
                     answer_and_close, answer_status, assert_invariant,
                     free_port, never_answer, run, timed, wait_until)

WEBHOOK_TIMEOUT = "1s"


def start_node(registry, url, *extra):
    node = Node(registry)
    daemon = node.start_daemon("--webhook", url, "--webhook-timeout",
                               WEBHOOK_TIMEOUT, *extra)
    node.wait_registered()
    return node, daemon


def settled_counters(node, predicate, what):
    """Waits until the counters satisfy predicate; returns them."""
    return wait_until(lambda: (lambda c: c if predicate(c) else None)(
        node.webhook_counters()), 10, what=what)


def assert_info_is_prompt(node):
    elapsed, _ = timed(node.ok, "info")
    assert elapsed < 1.0, f"info took {elapsed:.2f}s"


def stop_within(daemon, seconds):
    elapsed, code = timed(daemon.stop)
    assert code == 0, code
    assert elapsed < seconds, f"stop took {elapsed:.2f}s"


def test_refused_port_marks_endpoint_down():
    registry = Registry()
    url = f"http://127.0.0.1:{free_port()}/events"
    node, daemon = start_node(registry, url)
    counters = settled_counters(node, lambda c: c["failed"] >= 1,
                                "the failed attempt")
    assert counters["failed_connect"] == 1, counters
    assert counters["state"] == "down", counters
    assert_invariant(counters)
    assert_info_is_prompt(node)
    stop_within(daemon, 5)
    registry.stop()


def test_receiver_that_never_answers_times_out():
    registry = Registry()
    receiver = Receiver(never_answer)
    node, daemon = start_node(registry, receiver.url)
    receiver.wait_for_event("node.registered")
    # While the request hangs, the daemon keeps answering.
    assert_info_is_prompt(node)
    counters = node.webhook_counters()
    assert_invariant(counters)
    counters = settled_counters(node, lambda c: c["failed"] >= 1,
                                "the attempt to time out")
    assert counters["failed_timeout"] == 1, counters
    assert_invariant(counters)
    # Shutdown waits at most the grace (3 s by default) for the webhook.
    stop_within(daemon, 8)
    receiver.close()
    registry.stop()


def test_slow_receiver_within_deadline_is_delivered():
    registry = Registry()
    receiver = Receiver(answer_after(0.5))
    node, daemon = start_node(registry, receiver.url)
    assert_info_is_prompt(node)
    counters = settled_counters(node, lambda c: c["delivered"] >= 1,
                                "the slow delivery")
    assert counters["failed"] == 0, counters
    assert_invariant(counters)
    stop_within(daemon, 8)
    receiver.wait_for_event("node.deregistered")
    receiver.close()
    registry.stop()


def test_redirect_is_a_failure_and_not_followed():
    registry = Registry()
    target = Receiver()
    receiver = Receiver(answer_status(307, [("Location", target.url)]))
    node, daemon = start_node(registry, receiver.url)
    counters = settled_counters(node, lambda c: c["failed"] >= 1,
                                "the redirect failure")
    assert counters["failed_status_3xx"] == 1, counters
    assert counters["state"] == "up", counters
    assert_invariant(counters)
    time.sleep(0.3)
    assert target.requests == [], "the redirect was followed"
    stop_within(daemon, 8)
    receiver.close()
    target.close()
    registry.stop()


def test_client_and_server_errors_are_counted_by_class():
    registry = Registry()
    for status, key in [(404, "failed_status_4xx"),
                        (503, "failed_status_5xx")]:
        receiver = Receiver(answer_status(status))
        node, daemon = start_node(registry, receiver.url)
        counters = settled_counters(node, lambda c: c["failed"] >= 1,
                                    f"the {status} failure")
        assert counters[key] == 1, counters
        assert counters["state"] == "up", counters
        assert_invariant(counters)
        assert_info_is_prompt(node)
        stop_within(daemon, 8)
        # The endpoint stayed up, so node.deregistered was still attempted.
        receiver.wait_for_event("node.deregistered")
        receiver.close()
    registry.stop()


def test_receiver_closing_after_each_response():
    registry = Registry()
    receiver = Receiver(answer_and_close)
    node, daemon = start_node(registry, receiver.url)
    settled_counters(node, lambda c: c["delivered"] >= 1, "the delivery")
    stop_within(daemon, 8)
    receiver.wait_for_event("node.deregistered")
    assert receiver.events() == ["node.registered", "node.deregistered"]
    assert receiver.connections == 2, receiver.connections
    receiver.close()
    registry.stop()


def test_keep_alive_reuses_one_connection():
    registry = Registry()
    receiver = Receiver()
    node, daemon = start_node(registry, receiver.url)
    settled_counters(node, lambda c: c["delivered"] >= 1, "the delivery")
    stop_within(daemon, 8)
    receiver.wait_for_event("node.deregistered")
    assert receiver.connections == 1, receiver.connections
    receiver.close()
    registry.stop()


if __name__ == "__main__":
    run([
        test_refused_port_marks_endpoint_down,
        test_receiver_that_never_answers_times_out,
        test_slow_receiver_within_deadline_is_delivered,
        test_redirect_is_a_failure_and_not_followed,
        test_client_and_server_errors_are_counted_by_class,
        test_receiver_closing_after_each_response,
        test_keep_alive_reuses_one_connection,
    ])
