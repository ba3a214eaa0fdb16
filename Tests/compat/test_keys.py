"""Key and expiry commands, SCAN and KEYS, databases, over RESP2 and RESP3."""

import time

from compat_support import SEALKV, both_protocols


class Keys:
    def test_del_unlink_exists_touch_type(self):
        r = self.r
        r.mset({"a": "1", "b": "2", "c": "3"})
        self.assertEqual(r.exists("a", "a", "missing"), 2)
        self.assertEqual(r.touch("a", "missing"), 1)
        self.assertEqual(r.type("a"), b"string")
        self.assertEqual(r.type("missing"), b"none")
        self.assertEqual(r.delete("a", "missing", "a"), 1)
        self.assertEqual(r.unlink("b", "c"), 2)
        self.assertEqual(r.dbsize(), 0)
        self.assertError("wrong number of arguments for 'del' command", self.cmd, "DEL")
        self.assertError("wrong number of arguments for 'exists' command", self.cmd, "EXISTS")

    def test_rename_renamenx(self):
        r = self.r
        r.set("src", "v", ex=100)
        self.assertTrue(r.rename("src", "dst"))
        self.assertIsNone(r.get("src"))
        self.assertEqual(r.get("dst"), b"v")
        self.assertIn(r.ttl("dst"), (99, 100))  # the expiry moves with the value
        self.assertTrue(r.rename("dst", "dst"))
        self.assertError("no such key", r.rename, "missing", "x")
        self.assertError("no such key", r.renamenx, "missing", "x")
        r.set("other", "o")
        self.assertFalse(r.renamenx("dst", "other"))
        self.assertFalse(r.renamenx("dst", "dst"))
        self.assertTrue(r.renamenx("dst", "third"))
        self.assertEqual(r.get("third"), b"v")
        self.assertTrue(r.rename("third", "other"))
        self.assertEqual(r.get("other"), b"v")

    def test_copy(self):
        r = self.r
        r.set("src", "v", ex=100)
        self.assertTrue(r.copy("src", "dst"))
        self.assertEqual(r.get("dst"), b"v")
        self.assertIn(r.ttl("dst"), (99, 100))
        self.assertFalse(r.copy("src", "dst"))
        r.set("src", "w")
        self.assertTrue(r.copy("src", "dst", replace=True))
        self.assertEqual(r.get("dst"), b"w")
        self.assertFalse(r.copy("missing", "x"))
        self.assertTrue(r.copy("src", "src", destination_db=1))
        other = self.r.connection_pool.connection_kwargs
        db1 = type(self.r)(host=other["host"], port=other["port"], db=1, protocol=self.protocol)
        self.assertEqual(db1.get("src"), b"w")
        db1.close()
        self.assertError("source and destination objects are the same", r.copy, "src", "src")
        self.assertError("syntax error", self.cmd, "COPY", "src", "x", "FOO")
        self.assertError("DB index is out of range", self.cmd, "COPY", "src", "x", "DB", "99")
        self.assertError("value is not an integer or out of range", self.cmd, "COPY", "src", "x", "DB", "abc")

    def test_expire_family(self):
        r = self.r
        r.set("k", "v")
        self.assertFalse(r.expire("missing", 10))
        self.assertTrue(r.expire("k", 10, nx=True))
        self.assertFalse(r.expire("k", 20, nx=True))
        self.assertFalse(r.expire("k", 5, gt=True))
        self.assertTrue(r.expire("k", 50, gt=True))
        self.assertFalse(r.expire("k", 100, lt=True))
        self.assertTrue(r.expire("k", 5, lt=True))
        self.assertTrue(r.expire("k", 5, xx=True))
        self.assertTrue(r.persist("k"))
        self.assertFalse(r.persist("k"))
        self.assertFalse(r.expire("k", 5, xx=True))
        self.assertFalse(r.expire("k", 5, gt=True))  # no expiry counts as infinite
        self.assertTrue(r.expire("k", 5, lt=True))
        self.assertTrue(r.pexpire("k", 100000))
        self.assertTrue(99000 <= r.pttl("k") <= 100000)
        at = int(time.time()) + 1000
        self.assertTrue(r.expireat("k", at))
        self.assertEqual(r.expiretime("k"), at)
        self.assertTrue(r.pexpireat("k", at * 1000 + 123))
        self.assertEqual(r.pexpiretime("k"), at * 1000 + 123)
        self.assertEqual(r.expiretime("k"), at)
        self.assertEqual(r.expiretime("missing"), -2)
        r.set("plain", "v")
        self.assertEqual(r.expiretime("plain"), -1)
        self.assertEqual(r.ttl("plain"), -1)
        self.assertEqual(r.ttl("missing"), -2)
        self.assertEqual(r.pttl("missing"), -2)
        # A time not in the future deletes the key.
        self.assertTrue(r.expire("plain", -1))
        self.assertEqual(r.exists("plain"), 0)
        r.set("plain", "v")
        self.assertTrue(r.expireat("plain", 1))
        self.assertEqual(r.exists("plain"), 0)

    def test_expire_errors(self):
        self.r.set("k", "v")
        self.assertError("NX and XX, GT or LT options at the same time are not compatible", self.cmd, "EXPIRE", "k", "10", "NX", "XX")
        self.assertError("NX and XX, GT or LT options at the same time are not compatible", self.cmd, "EXPIRE", "k", "10", "nx", "gt")
        self.assertError("GT and LT options at the same time are not compatible", self.cmd, "EXPIRE", "k", "10", "GT", "LT")
        self.assertError("Unsupported option FOO", self.cmd, "EXPIRE", "k", "10", "FOO")
        self.assertError("Unsupported option foo", self.cmd, "EXPIRE", "k", "abc", "foo")
        self.assertError("value is not an integer or out of range", self.cmd, "EXPIRE", "k", "abc")
        self.assertError("invalid expire time in 'expire' command", self.cmd, "EXPIRE", "k", "9999999999999999")
        self.assertError("invalid expire time in 'pexpire' command", self.cmd, "PEXPIRE", "k", "9223372036854775807")
        self.assertError("value is not an integer or out of range", self.cmd, "PEXPIREAT", "k", "9999999999999999999")
        self.assertError("wrong number of arguments for 'expire' command", self.cmd, "EXPIRE", "k")
        self.assertEqual(self.r.ttl("k"), -1)

    def test_keys_and_scan(self):
        r = self.r
        r.mset({"user:%d" % i: i for i in range(300)})
        r.mset({"other:%d" % i: i for i in range(50)})
        self.assertEqual(len(r.keys("user:*")), 300)
        self.assertEqual(sorted(r.keys("user:1?")), [b"user:%d" % i for i in range(10, 20)])
        self.assertEqual(sorted(r.keys("[uo]ther:4[0-2]")), [b"other:40", b"other:41", b"other:42"])
        seen = list(r.scan_iter(match="user:*", count=17))
        self.assertEqual(len(seen), 300)
        self.assertEqual(len(set(seen)), 300)
        self.assertEqual(len(list(r.scan_iter(count=1000))), 350)
        self.assertEqual(list(r.scan_iter(_type="hash")), [])
        self.assertEqual(len(list(r.scan_iter(_type="string", count=64))), 350)
        cursor, first = r.scan(0, count=5)
        # COUNT is a hint to Redis; SealKV examines exactly that many keys.
        self.assertTrue(1 <= len(first) <= 10)
        if SEALKV:
            self.assertEqual(len(first), 5)
        self.assertNotEqual(cursor, 0)
        self.assertError("invalid cursor", self.cmd, "SCAN", "abc")
        self.assertError("syntax error", self.cmd, "SCAN", "0", "COUNT", "0")
        self.assertError("value is not an integer or out of range", self.cmd, "SCAN", "0", "COUNT", "abc")
        self.assertError("syntax error", self.cmd, "SCAN", "0", "FOO", "bar")
        self.assertError("syntax error", self.cmd, "SCAN", "0", "MATCH")

    def test_databases_flush_and_select(self):
        r = self.r
        kwargs = r.connection_pool.connection_kwargs
        db3 = type(r)(host=kwargs["host"], port=kwargs["port"], db=3, protocol=self.protocol)
        db3.set("only3", "x")
        self.assertIsNone(r.get("only3"))
        self.assertEqual(db3.keys("*"), [b"only3"])
        r.set("zero", "0")
        self.assertTrue(db3.flushdb())
        self.assertEqual(db3.dbsize(), 0)
        self.assertEqual(r.dbsize(), 1)
        db3.set("again", "x")
        self.assertTrue(r.flushall())
        self.assertEqual(db3.dbsize(), 0)
        self.assertEqual(r.dbsize(), 0)
        self.assertTrue(r.flushdb(asynchronous=True))
        self.assertEqual(self.cmd("FLUSHALL", "SYNC"), b"OK")
        self.assertError("syntax error", self.cmd, "FLUSHDB", "FOO")
        self.assertError("DB index is out of range", self.cmd, "SELECT", "16")
        self.assertError("DB index is out of range", self.cmd, "SELECT", "-1")
        self.assertError("value is not an integer or out of range", self.cmd, "SELECT", "abc")
        db3.close()


KeysRESP2, KeysRESP3 = both_protocols(Keys)
