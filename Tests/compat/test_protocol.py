"""The exact bytes of replies in RESP2 and in RESP3 (after HELLO 3), HELLO itself, and framing."""

import unittest

import redis

from compat_support import RawClient, client


class ReplyBytes(unittest.TestCase):
    """Each reply as Redis 7 writes it, in both protocols."""

    def setUp(self):
        client().flushall()
        self.c2 = RawClient()
        self.c3 = RawClient()
        self.assertTrue(self.c3.call("HELLO", "3").startswith(b"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n"))
        self.c2.call("SET", "k", "v")

    def tearDown(self):
        self.c2.close()
        self.c3.close()

    def connect(self):
        c = RawClient()
        self.addCleanup(c.close)
        return c

    def both(self, args, resp2, resp3=None):
        """`args` gives `resp2` on a RESP2 connection and `resp3` on a RESP3 one; a `{}` in an
        argument becomes a key of each connection's own, for commands that change what they read."""
        self.assertEqual(self.c2.call(*[a.replace("{}", "2") for a in args]), resp2, args)
        self.assertEqual(self.c3.call(*[a.replace("{}", "3") for a in args]), resp2 if resp3 is None else resp3, args)

    def test_nulls_and_scalars(self):
        self.both(["GET", "missing"], b"$-1\r\n", b"_\r\n")
        self.both(["MGET", "k", "missing"], b"*2\r\n$1\r\nv\r\n$-1\r\n", b"*2\r\n$1\r\nv\r\n_\r\n")
        self.both(["SET", "k", "v", "NX"], b"$-1\r\n", b"_\r\n")
        self.both(["GETDEL", "missing"], b"$-1\r\n", b"_\r\n")
        self.both(["CLIENT", "GETNAME"], b"$-1\r\n", b"_\r\n")
        self.both(["PING"], b"+PONG\r\n")
        self.both(["PING", "hi"], b"$2\r\nhi\r\n")
        self.both(["ECHO", "x y"], b"$3\r\nx y\r\n")
        self.both(["TYPE", "k"], b"+string\r\n")
        self.both(["TYPE", "missing"], b"+none\r\n")
        self.both(["TTL", "missing"], b":-2\r\n")
        self.both(["EXISTS", "k", "k"], b":2\r\n")
        self.both(["INCRBYFLOAT", "f{}", "1.5"], b"$3\r\n1.5\r\n")
        self.both(["INCRBYFLOAT", "f{}", "1"], b"$3\r\n2.5\r\n")
        self.both(["GETRANGE", "missing", "0", "-1"], b"$0\r\n\r\n")
        self.both(["DEL", "f{}"], b":1\r\n")
        self.both(["SCAN", "0", "MATCH", "nothing*"], b"*2\r\n$1\r\n0\r\n*0\r\n")
        self.both(["KEYS", "k"], b"*1\r\n$1\r\nk\r\n")

    def test_maps_sets_and_verbatim_strings(self):
        self.both(["CONFIG", "GET", "maxmemory"], b"*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n", b"%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n")
        self.both(["CONFIG", "GET", "no-such-setting"], b"*0\r\n", b"%0\r\n")
        info2, info3 = self.c2.call("COMMAND", "INFO", "get"), self.c3.call("COMMAND", "INFO", "get")
        self.assertTrue(info2.startswith(b"*1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@read\r\n+@string\r\n+@fast\r\n"), info2)
        self.assertTrue(info3.startswith(b"*1\r\n*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n~3\r\n+@read\r\n+@string\r\n+@fast\r\n"), info3)
        self.both(["COMMAND", "INFO", "no-such-command"], b"*1\r\n$-1\r\n", b"*1\r\n_\r\n")
        self.assertTrue(self.c2.call("INFO", "server").startswith(b"$"))
        self.assertTrue(self.c3.call("INFO", "server").split(b"\r\n")[1].startswith(b"txt:# Server"))
        self.assertTrue(self.c2.call("CLIENT", "INFO").startswith(b"$"))
        self.assertTrue(self.c3.call("CLIENT", "INFO").split(b"\r\n")[1].startswith(b"txt:id="))
        self.assertTrue(self.c3.call("CLIENT", "LIST").startswith(b"="))
        time2 = self.c2.call("TIME")
        self.assertTrue(time2.startswith(b"*2\r\n$10\r\n"), time2)
        self.assertTrue(self.c3.call("TIME").startswith(b"*2\r\n$10\r\n"))

    def test_exec_aborted_by_watch_is_a_null_array(self):
        for c, null in ((self.c2, b"*-1\r\n"), (self.c3, b"_\r\n")):
            self.assertEqual(c.call("WATCH", "k"), b"+OK\r\n")
            self.assertEqual(c.call("MULTI"), b"+OK\r\n")
            self.assertEqual(c.call("SET", "k", "mine"), b"+QUEUED\r\n")
            client().set("k", "theirs")
            self.assertEqual(c.call("EXEC"), null)
        self.assertEqual(self.c2.call("MULTI"), b"+OK\r\n")
        self.assertEqual(self.c2.call("GET", "missing"), b"+QUEUED\r\n")
        self.assertEqual(self.c2.call("EXEC"), b"*1\r\n$-1\r\n")
        self.assertEqual(self.c3.call("MULTI"), b"+OK\r\n")
        self.assertEqual(self.c3.call("GET", "missing"), b"+QUEUED\r\n")
        self.assertEqual(self.c3.call("EXEC"), b"*1\r\n_\r\n")

    def test_hello(self):
        c = self.connect()
        hello2 = c.call("HELLO", "2")
        self.assertTrue(hello2.startswith(b"*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n"), hello2)
        self.assertIn(b"$5\r\nproto\r\n:2\r\n", hello2)
        self.assertEqual(c.call("HELLO", "4"), b"-NOPROTO unsupported protocol version\r\n")
        self.assertEqual(c.call("HELLO", "abc"), b"-ERR Protocol version is not an integer or out of range\r\n")
        self.assertEqual(c.call("HELLO", "3", "FOO"), b"-ERR Syntax error in HELLO option 'FOO'\r\n")
        self.assertEqual(c.call("HELLO", "3", "AUTH", "default"), b"-ERR Syntax error in HELLO option 'AUTH'\r\n")
        self.assertEqual(c.call("GET", "missing"), b"$-1\r\n")  # still RESP2 after the refusals
        hello = c.call("HELLO", "3", "SETNAME", "named")
        self.assertIn(b"$5\r\nproto\r\n:3\r\n", hello)
        self.assertIn(b"$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n", hello)
        self.assertEqual(c.call("CLIENT", "GETNAME"), b"$5\r\nnamed\r\n")
        self.assertEqual(c.call("GET", "missing"), b"_\r\n")
        self.assertTrue(c.call("HELLO").startswith(b"%7\r\n"))
        self.assertEqual(c.call("RESET"), b"+RESET\r\n")
        self.assertEqual(c.call("GET", "missing"), b"$-1\r\n")
        self.assertEqual(c.call("CLIENT", "GETNAME"), b"$-1\r\n")

    def test_hello_map_through_redis_py(self):
        for protocol in (2, 3):
            r = client(protocol)
            info = r.execute_command("HELLO", protocol)
            info = {k.decode() if isinstance(k, bytes) else k: v for k, v in (info.items() if isinstance(info, dict) else zip(info[::2], info[1::2]))}
            self.assertEqual(info["server"], b"redis")
            self.assertEqual(info["proto"], protocol)
            self.assertEqual(info["id"], r.client_id())
            r.close()

    def test_errors_and_inline_commands(self):
        c = self.connect()
        self.assertEqual(c.call("NOSUCH", "a", "b"), b"-ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' \r\n")
        self.assertEqual(c.call("GET"), b"-ERR wrong number of arguments for 'get' command\r\n")
        self.assertEqual(c.call("CLIENT", "ID", "x"), b"-ERR wrong number of arguments for 'client|id' command\r\n")
        self.assertEqual(c.call("CLIENT", "FOO"), b"-ERR unknown subcommand 'FOO'. Try CLIENT HELP.\r\n")
        self.assertEqual(c.call("COMMAND", "FOO"), b"-ERR unknown subcommand 'FOO'. Try COMMAND HELP.\r\n")
        self.assertEqual(c.call("CONFIG", "GET"), b"-ERR wrong number of arguments for 'config|get' command\r\n")
        self.assertEqual(c.call("PING", "a", "b"), b"-ERR wrong number of arguments for 'ping' command\r\n")
        c.send(b"SET inline \"two words\\x21\"\r\nGET inline\r\n\r\nPING\n")
        self.assertEqual(c.reply(), b"+OK\r\n")
        self.assertEqual(c.reply(), b"$10\r\ntwo words!\r\n")
        self.assertEqual(c.reply(), b"+PONG\r\n")
        c.send(b"*0\r\n*1\r\n$4\r\nPING\r\n")
        self.assertEqual(c.reply(), b"+PONG\r\n")
        c.send(b"SET \"unbalanced\r\n")
        self.assertEqual(c.reply(), b"-ERR Protocol error: unbalanced quotes in request\r\n")
        with self.assertRaises(ConnectionError):
            c.reply()
        c = self.connect()
        c.send(b"*1\r\n:5\r\n")
        self.assertEqual(c.reply(), b"-ERR Protocol error: expected '$', got ':'\r\n")
        c = self.connect()
        c.send(b"*x\r\n")
        self.assertEqual(c.reply(), b"-ERR Protocol error: invalid multibulk length\r\n")
        c = self.connect()
        c.send(b"*1\r\n$-5\r\n")
        self.assertEqual(c.reply(), b"-ERR Protocol error: invalid bulk length\r\n")

    def test_redis_py_pipelines_in_both_protocols(self):
        for protocol in (2, 3):
            r = client(protocol)
            p = r.pipeline(transaction=False)
            r.delete("a")
            p.set("a", 1).get("a").incr("a").mget("a", "missing").config_get("maxmemory")
            self.assertEqual(p.execute(), [True, b"1", 2, [b"2", None], {"maxmemory": "0"}])
            r.close()


if __name__ == "__main__":
    unittest.main()
