"""What SealKV defines itself: the key-length policy and the size limits, refused with clear
errors on a connection that stays usable. The harness starts the server with --max-bulk 2m and
--client-output-limit 8m."""

import redis

from compat_support import RawClient, both_protocols, sealkv_only


class Limits:
    @sealkv_only
    def test_keys_sealkv_cannot_store_are_refused(self):
        r = self.r
        empty = "invalid key: SealKV keys are 1 to 1024 bytes long and this one is 0; sealkv serve refuses empty and longer keys"
        long = "invalid key: SealKV keys are 1 to 1024 bytes long and this one is 1025; sealkv serve refuses empty and longer keys"
        self.assertError(empty, r.set, "", "v")
        self.assertError(empty, r.get, "")
        self.assertError(long, r.set, "k" * 1025, "v")
        self.assertTrue(r.set("k" * 1024, "v"))
        self.assertError(long, r.mset, {"ok": "1", "k" * 1025: "2"})
        self.assertIsNone(r.get("ok"))  # nothing of the refused MSET was written
        self.assertError(empty, r.rename, "ok", "")
        self.assertError(empty, r.exists, "a", "")
        self.assertError(empty, self.cmd, "WATCH", "")
        # Inside MULTI the refusal dooms the transaction.
        p = r.pipeline(transaction=True)
        p.set("in-tx", "1")
        p.set("", "2")
        with self.assertRaises(redis.exceptions.ResponseError):
            p.execute()
        self.assertIsNone(r.get("in-tx"))
        self.assertTrue(r.ping())

    @sealkv_only
    def test_a_value_over_the_bulk_limit_is_refused_and_the_connection_stays_usable(self):
        c = RawClient()
        big = b"x" * (3 << 20)
        c.send(b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%d\r\n%s\r\n*1\r\n$4\r\nPING\r\n" % (len(big), big))
        self.assertEqual(c.reply(), b"-ERR argument of 3145728 bytes is longer than the server's bulk limit of 2097152 bytes (sealkv serve --max-bulk); the command was not run\r\n")
        self.assertEqual(c.reply(), b"+PONG\r\n")
        self.assertEqual(c.call("GET", "big"), b"$-1\r\n")
        c.close()
        self.assertError("argument of 3145728 bytes is longer than the server's bulk limit of 2097152 bytes (sealkv serve --max-bulk); the command was not run",
                         self.r.set, "big", big)
        self.assertTrue(self.r.set("fits", b"y" * (2 << 20)))
        self.assertEqual(self.r.config_get("proto-max-bulk-len"), {"proto-max-bulk-len": str(2 << 20)})
        # Values a command builds are held to the same limit.
        self.assertError("string exceeds maximum allowed size (proto-max-bulk-len)", self.r.append, "fits", "z")
        self.assertError("string exceeds maximum allowed size (proto-max-bulk-len)", self.r.setrange, "fits", 2 << 20, "z")

    @sealkv_only
    def test_a_reply_over_the_output_limit_is_refused(self):
        r = self.r
        for i in range(5):
            r.set("v%d" % i, b"v" * (2 << 20))
        message = ("the reply would be larger than the client output limit of 8388608 bytes (sealkv serve --client-output-limit); "
                   "ask for less at a time, e.g. SCAN with a smaller COUNT")
        self.assertError(message, r.mget, ["v%d" % i for i in range(5)])
        self.assertEqual(len(r.mget(["v0", "v1", "v2"])), 3)
        self.assertTrue(r.ping())


LimitsRESP2, LimitsRESP3 = both_protocols(Limits)
