"""AUTH and HELLO AUTH, CLIENT, INFO, COMMAND, CONFIG, TIME, and redis-cli."""

import time
import unittest

import redis
import redis.backoff
import redis.retry

from compat_support import AUTH_PORT, PASSWORD, PORT, REDIS_CLI, SEALKV, RawClient, both_protocols, client, redis_cli


class Connection:
    def test_client_name_id_list_info(self):
        r = self.r
        cid = r.client_id()
        self.assertIsInstance(cid, int)
        self.assertIsNone(r.client_getname())
        self.assertTrue(r.client_setname("worker-1"))
        self.assertIn(r.client_getname(), (b"worker-1", "worker-1"))  # redis-py decodes it in RESP2 only
        self.assertError("Client names cannot contain spaces, newlines or special characters.", self.cmd, "CLIENT", "SETNAME", "a b")
        if SEALKV:  # CLIENT SETINFO is Redis 7.2's
            self.assertTrue(r.client_setinfo("LIB-NAME", "compat-suite"))
            self.assertTrue(r.client_setinfo("LIB-VER", "1.0"))
            self.assertError("Unrecognized option 'FOO'", self.cmd, "CLIENT", "SETINFO", "FOO", "x")
            self.assertError("LIB-NAME cannot contain spaces, newlines or special characters.", self.cmd, "CLIENT", "SETINFO", "lib-name", "a b")
        me = r.client_info()
        self.assertEqual(int(me["id"]), cid)
        self.assertEqual(me["name"], "worker-1")
        self.assertEqual(me["db"], 0)
        if SEALKV:
            self.assertEqual(me["lib-name"], "compat-suite")
        self.assertEqual(me["cmd"], "client|info")
        self.assertEqual(me["resp"], str(self.protocol))
        listed = r.client_list()
        self.assertIn(cid, [int(c["id"]) for c in listed])
        self.assertEqual([int(c["id"]) for c in r.client_list(client_id=[cid])], [cid])
        self.assertEqual(r.client_list(_type="pubsub"), [])
        self.assertTrue(r.client_setname(""))
        self.assertIsNone(r.client_getname())

    def test_info_sections(self):
        r = self.r
        r.set("a", 1)
        info = r.info()
        for field in ("redis_version", "redis_mode", "process_id", "tcp_port", "uptime_in_seconds", "connected_clients",
                      "used_memory", "loading", "total_commands_processed", "total_connections_received"):
            self.assertIn(field, info)
        self.assertTrue(info["redis_version"].startswith("7."))
        self.assertEqual(info["tcp_port"], PORT)
        self.assertEqual(info["loading"], 0)
        self.assertEqual(info["db0"]["keys"], 1)
        self.assertEqual(set(r.info("server")) & {"connected_clients"}, set())
        self.assertIn("connected_clients", r.info("clients"))
        self.assertIn("used_memory", r.info("memory"))
        self.assertIn("loading", r.info("persistence"))
        self.assertIn("db0", r.info("keyspace"))
        self.assertIn("redis_version", r.info("all"))
        both = r.execute_command("INFO", "server", "clients")
        self.assertIn("redis_version", both)
        self.assertIn("connected_clients", both)
        if SEALKV:
            persistence = r.info("persistence")
            for field in ("store_txnid", "store_file_bytes", "store_durability", "group_commits", "recovery_fell_back"):
                self.assertIn(field, persistence)
            self.assertEqual(persistence["recovery_fell_back"], 0)

    def test_command_config_time(self):
        r = self.r
        count = r.command_count()
        self.assertGreater(count, 50 if SEALKV else 200)
        names = [n.decode() if isinstance(n, bytes) else n for n in r.command_list()]
        for name in ("get", "set", "hello", "watch", "incrbyfloat", "expiretime", "client", "copy"):
            self.assertIn(name, names)
        info = r.command()
        self.assertEqual(info["get"]["arity"], 2)
        self.assertEqual(info["mset"]["step_count"], 2)
        self.assertEqual(info["mset"]["first_key_pos"], 1)
        self.assertIn("readonly", info["get"]["flags"])
        docs = self.cmd("COMMAND", "DOCS", "get")
        self.assertTrue(docs)
        self.assertEqual(r.config_get("maxmemory"), {"maxmemory": "0"})
        self.assertIn("databases", r.config_get("*"))
        self.assertEqual(r.config_get("no-such-thing"), {})
        seconds, micros = r.time()
        self.assertLess(abs(seconds + micros / 1e6 - time.time()), 5)

    def test_select_and_quit(self):
        r = client(self.protocol, db=5)
        r.set("five", "5")
        self.assertEqual(r.client_info()["db"], 5)
        self.assertIsNone(self.r.get("five"))
        r.close()
        c = RawClient()
        self.assertEqual(c.call("QUIT"), b"+OK\r\n")
        with self.assertRaises(ConnectionError):
            c.reply()
        c.close()


ConnectionRESP2, ConnectionRESP3 = both_protocols(Connection)


@unittest.skipUnless(AUTH_PORT, "set COMPAT_AUTH_PORT and COMPAT_PASSWORD for a server with a password")
class Authentication(unittest.TestCase):
    def test_hello_auth_and_auth(self):
        for protocol in (2, 3):
            r = client(protocol, port=AUTH_PORT, password=PASSWORD)
            self.assertTrue(r.ping())
            r.set("secret", "x")
            self.assertEqual(r.get("secret"), b"x")
            r.close()
        no_retry = redis.retry.Retry(redis.backoff.NoBackoff(), 0)
        for protocol in (2, 3):
            with self.assertRaises(redis.AuthenticationError):
                client(protocol, port=AUTH_PORT, password="wrong", retry=no_retry).ping()
        c = RawClient(AUTH_PORT)
        self.assertEqual(c.call("GET", "secret"), b"-NOAUTH Authentication required.\r\n")
        self.assertTrue(c.call("HELLO", "3").startswith(b"-NOAUTH HELLO must be called with the client already authenticated"))
        self.assertEqual(c.call("HELLO", "3", "AUTH", "default", "wrong"), b"-WRONGPASS invalid username-password pair or user is disabled.\r\n")
        self.assertEqual(c.call("AUTH", "wrong"), b"-WRONGPASS invalid username-password pair or user is disabled.\r\n")
        self.assertEqual(c.call("AUTH", "other", PASSWORD), b"-WRONGPASS invalid username-password pair or user is disabled.\r\n")
        self.assertTrue(c.call("HELLO", "3", "AUTH", "default", PASSWORD, "SETNAME", "authed").startswith(b"%7\r\n"))
        self.assertEqual(c.call("GET", "secret"), b"$1\r\nx\r\n")
        self.assertEqual(c.call("CLIENT", "GETNAME"), b"$6\r\nauthed\r\n")
        self.assertEqual(c.call("RESET"), b"+RESET\r\n")
        self.assertEqual(c.call("GET", "secret"), b"-NOAUTH Authentication required.\r\n")
        self.assertEqual(c.call("AUTH", PASSWORD), b"+OK\r\n")
        self.assertEqual(c.call("GET", "secret"), b"$1\r\nx\r\n")
        c.close()
        # Before authentication a client may send only small requests, as Redis allows.
        c = RawClient(AUTH_PORT)
        c.send(b"*20\r\n")
        self.assertEqual(c.reply(), b"-ERR Protocol error: unauthenticated multibulk length\r\n")
        c.close()


class NoPassword(unittest.TestCase):
    def test_auth_without_a_password_configured(self):
        c = RawClient()
        self.assertEqual(c.call("AUTH", "x"), b"-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n")
        self.assertEqual(c.call("AUTH", "default", "anything"), b"+OK\r\n")
        self.assertEqual(c.call("AUTH", "other", "x"), b"-WRONGPASS invalid username-password pair or user is disabled.\r\n")
        self.assertTrue(c.call("HELLO", "3", "AUTH", "default", "anything").startswith(b"%7\r\n"))
        c.close()


@unittest.skipUnless(REDIS_CLI, "redis-cli is not installed")
class RedisCli(unittest.TestCase):
    def setUp(self):
        client().flushall()

    def test_commands_through_redis_cli(self):
        for protocol in (2, 3):
            self.assertEqual(redis_cli("SET", "cli", "v", "EX", "100", protocol=protocol), "OK")
            self.assertEqual(redis_cli("GET", "cli", protocol=protocol), "v")
            self.assertEqual(redis_cli("TTL", "cli", protocol=protocol), "100")
            self.assertEqual(redis_cli("INCRBYFLOAT", "n", "2.5", protocol=protocol), "2.5")
            self.assertEqual(redis_cli("DEL", "n", protocol=protocol), "1")
            self.assertIn("redis_version:", redis_cli("INFO", "server", protocol=protocol))
        self.assertEqual(redis_cli("GET", "missing"), "")
        self.assertEqual(redis_cli("GET", "missing", protocol=3), "")
        self.assertEqual(redis_cli("CONFIG", "GET", "maxmemory"), "maxmemory\n0")
        self.assertEqual(redis_cli("CLIENT", "GETNAME"), "")
        self.assertTrue(redis_cli("NOSUCH").startswith("ERR unknown command 'NOSUCH'"))
        # A pipe of commands, as `redis-cli < file` sends them.
        out = redis_cli(stdin=b"SET piped 1\nINCR piped\nGET piped\n")
        self.assertEqual(out.split("\n"), ["OK", "2", "2"])


if __name__ == "__main__":
    unittest.main()
