"""Shared pieces of the Redis compatibility suite.

The suite drives a running server with real client libraries (redis-py, redis-cli) and with a raw
socket where the exact bytes matter. It runs against `sealkv serve` (the default) or, to check that
its expectations are Redis's own, against a real redis-server:

    COMPAT_PORT=6379 COMPAT_TARGET=redis python -m unittest discover -s Tests/compat

COMPAT_PORT        the server's port (required)
COMPAT_TARGET      "sealkv" (default) or "redis"; SealKV-only tests are skipped for "redis"
COMPAT_AUTH_PORT   a second server of the same kind started with a password (optional)
COMPAT_PASSWORD    that password
"""

import os
import shutil
import socket
import subprocess
import unittest

import redis

HOST = "127.0.0.1"
PORT = int(os.environ["COMPAT_PORT"])
TARGET = os.environ.get("COMPAT_TARGET", "sealkv")
AUTH_PORT = int(os.environ["COMPAT_AUTH_PORT"]) if os.environ.get("COMPAT_AUTH_PORT") else None
PASSWORD = os.environ.get("COMPAT_PASSWORD")
SEALKV = TARGET == "sealkv"
REDIS_CLI = shutil.which("redis-cli")


def sealkv_only(test):
    """For behaviour SealKV defines itself (its key and size limits)."""
    return unittest.skipUnless(SEALKV, "SealKV's own behaviour")(test)


def client(protocol=3, port=PORT, **kwargs):
    return redis.Redis(host=HOST, port=port, protocol=protocol, socket_timeout=20, **kwargs)


class CompatCase(unittest.TestCase):
    """A test against a flushed server through redis-py speaking `protocol`."""

    protocol = 3

    def setUp(self):
        self.r = client(self.protocol)
        # The same connection settings without redis-py's reply conversions, for exact replies.
        self.raw = client(self.protocol)
        self.raw.response_callbacks.clear()
        self.r.flushall()

    def tearDown(self):
        self.r.close()
        self.raw.close()

    def assertError(self, text, fn, *args, **kwargs):
        """Calling fn raises a server error whose message (its ERR prefix removed) is `text`."""
        with self.assertRaises(redis.ResponseError) as cm:
            fn(*args, **kwargs)
        self.assertEqual(str(cm.exception), text)

    def cmd(self, *args):
        """The server's reply as redis-py's parser gives it, without per-command conversions."""
        return self.raw.execute_command(*args)


def both_protocols(mixin):
    """Two TestCase classes running `mixin`'s tests over RESP2 and RESP3."""
    name = mixin.__name__
    resp2 = type(name + "RESP2", (mixin, CompatCase), {"protocol": 2})
    resp3 = type(name + "RESP3", (mixin, CompatCase), {"protocol": 3})
    return resp2, resp3


def encode(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


class RawClient:
    """A socket speaking RESP by hand, returning each reply's exact bytes."""

    def __init__(self, port=PORT, timeout=20):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.buffer = b""

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def call(self, *args):
        self.send(encode(args))
        return self.reply()

    def _fill(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("closed by the server")
        self.buffer += chunk

    def _line(self, start):
        while True:
            end = self.buffer.find(b"\r\n", start)
            if end >= 0:
                return end
            self._fill()

    def _frame_end(self, start):
        end = self._line(start)
        kind, header = self.buffer[start:start + 1], self.buffer[start + 1:end]
        after = end + 2
        if kind in b"+-:,#_(":
            return after
        if kind in b"$=!":
            n = int(header)
            if n < 0:
                return after
            while len(self.buffer) < after + n + 2:
                self._fill()
            return after + n + 2
        if kind in b"*~>%":
            n = int(header)
            for _ in range(max(n, 0) * (2 if kind == b"%" else 1)):
                after = self._frame_end(after)
            return after
        raise AssertionError("not a RESP reply: %r" % self.buffer[start:start + 40])

    def reply(self):
        end = self._frame_end(0)
        frame, self.buffer = self.buffer[:end], self.buffer[end:]
        return frame


def redis_cli(*args, protocol=2, stdin=None):
    """redis-cli's output for one command, its trailing newline removed."""
    argv = [REDIS_CLI, "-h", HOST, "-p", str(PORT)] + (["-3"] if protocol == 3 else []) + [str(a) for a in args]
    out = subprocess.run(argv, input=stdin, capture_output=True, timeout=30)
    return out.stdout.decode(errors="replace").rstrip("\n")
