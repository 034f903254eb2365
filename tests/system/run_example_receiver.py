#!/usr/bin/env python3
"""Runs webhook_receiver.py, the webhooks page's example, byte for byte
unchanged, on a port of our choosing.

The example binds ("", 8080). Tests must use free loopback ports, so this
wrapper swaps the address that http.server.HTTPServer binds to before the
example runs; the example's own code is executed as it is.

Usage: run_example_receiver.py PORT
"""
import http.server
import os
import runpy
import sys

port = int(sys.argv[1])
original_init = http.server.HTTPServer.__init__


def init_on_loopback(self, server_address, handler, *args, **kwargs):
    original_init(self, ("127.0.0.1", port), handler, *args, **kwargs)


http.server.HTTPServer.__init__ = init_on_loopback
example = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "webhook_receiver.py")
runpy.run_path(example, run_name="__main__")
