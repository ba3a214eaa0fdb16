"""The string and counter commands, their options and error texts, over RESP2 and RESP3."""

import time

from compat_support import both_protocols

LONG_DOUBLE_1E308 = (b"99999999999999999996685879655845645660560099847415567207797047994921734868838061872100126921888539320"
                     b"44674722505401322315213474959396058359742081443019641876795910001960319077866310960450710666793915339"
                     b"5788938914560543563061268364901618630217086589253444881623791300855757318142424510452728255046343928578048")


class Strings:
    def test_get_set_and_set_options(self):
        r = self.r
        self.assertIsNone(r.get("k"))
        self.assertTrue(r.set("k", "v"))
        self.assertEqual(r.get("k"), b"v")
        self.assertIsNone(r.set("k", "w", nx=True))
        self.assertEqual(r.get("k"), b"v")
        self.assertTrue(r.set("k", "w", xx=True))
        self.assertIsNone(r.set("missing", "x", xx=True))
        self.assertIsNone(r.get("missing"))
        self.assertEqual(r.set("k", "z", get=True), b"w")
        self.assertIsNone(r.set("fresh", "1", get=True))
        # NX with GET answers the old value and sets nothing.
        self.assertEqual(self.cmd("SET", "k", "no", "NX", "GET"), b"z")
        self.assertEqual(r.get("k"), b"z")
        self.assertIsNone(self.cmd("SET", "absent", "no", "XX", "GET"))
        self.assertIsNone(r.get("absent"))

    def test_set_expiry_options(self):
        r = self.r
        now = time.time()
        self.assertTrue(r.set("ex", "v", ex=100))
        self.assertIn(r.ttl("ex"), (99, 100))
        self.assertTrue(r.set("px", "v", px=100000))
        self.assertTrue(99000 <= r.pttl("px") <= 100000)
        self.assertTrue(r.set("exat", "v", exat=int(now) + 200))
        self.assertIn(r.ttl("exat"), (198, 199, 200, 201))
        self.assertEqual(r.expiretime("exat"), int(now) + 200)
        self.assertTrue(r.set("pxat", "v", pxat=int(now * 1000) + 300000))
        self.assertEqual(r.pexpiretime("pxat"), int(now * 1000) + 300000)
        self.assertTrue(r.set("exat", "kept", keepttl=True))
        self.assertEqual(r.expiretime("exat"), int(now) + 200)
        self.assertTrue(r.set("exat", "plain"))
        self.assertEqual(r.ttl("exat"), -1)
        # A time already past: the key is set and gone at once.
        self.assertTrue(self.cmd("SET", "past", "v", "EXAT", "1"))
        self.assertIsNone(r.get("past"))
        # The same option twice: the last wins.
        self.assertTrue(self.cmd("SET", "twice", "v", "EX", "10", "EX", "1000"))
        self.assertIn(r.ttl("twice"), (999, 1000))

    def test_set_errors(self):
        syntax = "syntax error"
        for args in (["NX", "XX"], ["XX", "NX"], ["KEEPTTL", "EX", "10"], ["EX", "10", "KEEPTTL"], ["EX", "10", "PX", "10"],
                     ["EX"], ["FOO"], ["EXAT", "1", "PXAT", "1"]):
            self.assertError(syntax, self.cmd, "SET", "k", "v", *args)
        for value in ("0", "-1", "9999999999999999"):
            self.assertError("invalid expire time in 'set' command", self.cmd, "SET", "k", "v", "EX", value)
        self.assertError("invalid expire time in 'set' command", self.cmd, "SET", "k", "v", "PX", "0")
        self.assertError("invalid expire time in 'set' command", self.cmd, "SET", "k", "v", "PX", "9223372036854775807")
        self.assertError("value is not an integer or out of range", self.cmd, "SET", "k", "v", "EX", "abc")
        self.assertError("value is not an integer or out of range", self.cmd, "SET", "k", "v", "EX", "+1")
        self.assertError("wrong number of arguments for 'set' command", self.cmd, "SET", "k")
        self.assertIsNone(self.r.get("k"))

    def test_setnx_setex_psetex(self):
        r = self.r
        self.assertTrue(r.setnx("n", "1"))
        self.assertFalse(r.setnx("n", "2"))
        self.assertEqual(r.get("n"), b"1")
        self.assertEqual(self.cmd("SETEX", "se", 100, "v"), b"OK")
        self.assertIn(r.ttl("se"), (99, 100))
        self.assertEqual(self.cmd("PSETEX", "pse", 100000, "v"), b"OK")
        self.assertTrue(99000 <= r.pttl("pse") <= 100000)
        self.assertError("invalid expire time in 'setex' command", self.cmd, "SETEX", "k", "0", "v")
        self.assertError("invalid expire time in 'psetex' command", self.cmd, "PSETEX", "k", "-5", "v")
        self.assertError("value is not an integer or out of range", self.cmd, "SETEX", "k", "abc", "v")
        self.assertError("wrong number of arguments for 'setex' command", self.cmd, "SETEX", "k", "10")

    def test_getex(self):
        r = self.r
        r.set("g", "v")
        self.assertEqual(r.getex("g", ex=100), b"v")
        self.assertIn(r.ttl("g"), (99, 100))
        self.assertEqual(r.getex("g", px=50000), b"v")
        self.assertTrue(49000 <= r.pttl("g") <= 50000)
        self.assertEqual(r.getex("g", exat=int(time.time()) + 500), b"v")
        self.assertEqual(r.getex("g", persist=True), b"v")
        self.assertEqual(r.ttl("g"), -1)
        self.assertEqual(r.getex("g"), b"v")
        self.assertEqual(self.cmd("GETEX", "g", "PXAT", "1"), b"v")
        self.assertIsNone(r.get("g"))
        r.set("g", "v")
        self.assertIsNone(r.getex("nokey", ex=10))
        # A missing key is answered before its expiry argument is checked, as Redis does.
        self.assertIsNone(self.cmd("GETEX", "nokey", "EX", "0"))
        self.assertError("invalid expire time in 'getex' command", self.cmd, "GETEX", "g", "EX", "0")
        self.assertError("syntax error", self.cmd, "GETEX", "g", "EX", "10", "PX", "10")
        self.assertError("syntax error", self.cmd, "GETEX", "g", "PERSIST", "EX", "10")
        self.assertError("syntax error", self.cmd, "GETEX", "g", "FOO")
        self.assertError("syntax error", self.cmd, "GETEX", "g", "NX")

    def test_getset_getdel(self):
        r = self.r
        self.assertIsNone(r.getset("gs", "1"))
        r.expire("gs", 100)
        self.assertEqual(r.getset("gs", "2"), b"1")
        self.assertEqual(r.ttl("gs"), -1)
        self.assertEqual(r.getdel("gs"), b"2")
        self.assertIsNone(r.getdel("gs"))
        self.assertEqual(r.exists("gs"), 0)

    def test_mget_mset_msetnx(self):
        r = self.r
        self.assertTrue(r.mset({"a": "1", "b": "2"}))
        self.assertEqual(r.mget("a", "missing", "b"), [b"1", None, b"2"])
        self.assertTrue(r.msetnx({"c": "3", "d": "4"}))
        self.assertFalse(r.msetnx({"d": "x", "e": "5"}))
        self.assertIsNone(r.get("e"))
        self.assertEqual(r.get("d"), b"4")
        self.assertError("wrong number of arguments for 'mset' command", self.cmd, "MSET", "a", "1", "b")
        self.assertError("wrong number of arguments for 'msetnx' command", self.cmd, "MSETNX", "a")
        self.assertError("wrong number of arguments for 'mget' command", self.cmd, "MGET")

    def test_append_strlen_setrange_getrange(self):
        r = self.r
        self.assertEqual(r.append("s", "Hello"), 5)
        r.expire("s", 100)
        self.assertEqual(r.append("s", " World"), 11)
        self.assertIn(r.ttl("s"), (99, 100))  # APPEND keeps the expiry
        self.assertEqual(r.strlen("s"), 11)
        self.assertEqual(r.strlen("nokey"), 0)
        self.assertEqual(r.setrange("s", 6, "Redis"), 11)
        self.assertEqual(r.get("s"), b"Hello Redis")
        self.assertEqual(r.setrange("pad", 3, "ab"), 5)
        self.assertEqual(r.get("pad"), b"\x00\x00\x00ab")
        self.assertEqual(r.setrange("nothing", 5, ""), 0)
        self.assertEqual(r.exists("nothing"), 0)
        self.assertEqual(r.setrange("s", 100, ""), 11)
        self.assertError("offset is out of range", r.setrange, "s", -1, "x")
        self.assertError("value is not an integer or out of range", self.cmd, "SETRANGE", "s", "x", "y")
        self.assertError("string exceeds maximum allowed size (proto-max-bulk-len)", r.setrange, "s", 1 << 40, "x")
        r.set("h", "Hello")
        for (start, end, expected) in ((0, -1, b"Hello"), (0, -100, b"H"), (-1, -5, b""), (-100, -1, b"Hello"), (10, 20, b""),
                                       (2, 1, b""), (1, 3, b"ell"), (-3, -2, b"ll"), (0, 0, b"H")):
            self.assertEqual(r.getrange("h", start, end), expected, (start, end))
        self.assertEqual(r.getrange("nokey", 0, -1), b"")
        self.assertEqual(self.cmd("SUBSTR", "h", 1, 2), b"el")
        self.assertError("value is not an integer or out of range", self.cmd, "GETRANGE", "h", "a", "1")
        self.assertError("value is not an integer or out of range", self.cmd, "GETRANGE", "h", "1", "9999999999999999999")

    def test_counters(self):
        r = self.r
        self.assertEqual(r.incr("c"), 1)
        self.assertEqual(r.incrby("c", 41), 42)
        self.assertEqual(r.decr("c"), 41)
        self.assertEqual(r.decrby("c", 42), -1)
        self.assertEqual(r.incr("c"), 0)
        r.expire("c", 100)
        self.assertEqual(r.incr("c"), 1)
        self.assertIn(r.ttl("c"), (99, 100))  # counters keep the expiry
        not_integer = "value is not an integer or out of range"
        for text in ("abc", " 1", "+1", "01", "-0", "1.5", ""):
            r.set("bad", text)
            self.assertError(not_integer, r.incr, "bad")
        self.assertError(not_integer, self.cmd, "INCRBY", "c", "abc")
        self.assertError(not_integer, self.cmd, "INCRBY", "c", "+5")
        r.set("max", "9223372036854775807")
        self.assertError("increment or decrement would overflow", r.incr, "max")
        r.set("min", "-9223372036854775808")
        self.assertError("increment or decrement would overflow", r.decr, "min")
        self.assertError("decrement would overflow", self.cmd, "DECRBY", "c", "-9223372036854775808")
        self.assertEqual(r.get("max"), b"9223372036854775807")

    def test_incrbyfloat(self):
        r = self.r
        self.assertEqual(r.incrbyfloat("f", 1), 1.0)
        self.assertEqual(self.cmd("INCRBYFLOAT", "f", "0.5"), b"1.5")
        r.set("f", "3.0")
        self.assertEqual(self.cmd("INCRBYFLOAT", "f", "0.1"), b"3.1")
        self.assertEqual(self.cmd("INCRBYFLOAT", "f", "-3.1"), b"0")
        r.set("f", "5.0e3")
        self.assertEqual(self.cmd("INCRBYFLOAT", "f", "2.0e2"), b"5200")
        self.assertEqual(self.cmd("INCRBYFLOAT", "f", "0x10"), b"5216")
        self.assertEqual(self.cmd("INCRBYFLOAT", "f", ".5"), b"5216.5")
        # Redis computes in C long double and prints 17 decimals: 1e308 comes back as its exact digits.
        self.assertEqual(self.cmd("INCRBYFLOAT", "big", "1e308"), LONG_DOUBLE_1E308)
        r.expire("f", 100)
        self.cmd("INCRBYFLOAT", "f", "1")
        self.assertIn(r.ttl("f"), (99, 100))
        for text in ("abc", " 1", "1 ", "nan", ""):
            self.assertError("value is not a valid float", self.cmd, "INCRBYFLOAT", "f", text)
        self.assertError("increment would produce NaN or Infinity", self.cmd, "INCRBYFLOAT", "f", "inf")
        r.set("text", "hello")
        self.assertError("value is not a valid float", r.incrbyfloat, "text", 1)

    def test_binary_safe_values_and_keys(self):
        r = self.r
        every_byte = bytes(range(256)) * 4
        key = b"\x00\xff\r\n key \x01"
        self.assertTrue(r.set(key, every_byte))
        self.assertEqual(r.get(key), every_byte)
        self.assertEqual(r.strlen(key), len(every_byte))
        self.assertEqual(r.append(key, b"\x00"), len(every_byte) + 1)
        self.assertEqual(r.getrange(key, 0, 3), b"\x00\x01\x02\x03")
        self.assertEqual(r.keys(b"\x00*"), [key])
        big = bytes(range(256)) * 4096
        r.set("big", big)
        self.assertEqual(r.get("big"), big)


StringsRESP2, StringsRESP3 = both_protocols(Strings)
