"""MULTI/EXEC, WATCH under contention from other clients, and pipelines."""

import threading

import redis

from compat_support import both_protocols, client


class Transactions:
    def test_multi_exec_runs_in_order(self):
        p = self.r.pipeline(transaction=True)
        p.set("m", 1).incr("m").get("m").incrby("m", 10)
        self.assertEqual(p.execute(), [True, 2, b"2", 12])

    def test_queued_replies_and_errors(self):
        c = self.raw
        conn = c.connection_pool.get_connection()
        try:
            def call(*args):
                conn.send_command(*args)
                try:
                    return conn.read_response()
                except redis.ResponseError as e:
                    return e
            self.assertEqual(call("MULTI"), b"OK")
            self.assertEqual(call("SET", "a", "1"), b"QUEUED")
            self.assertEqual(call("INCR", "a"), b"QUEUED")
            self.assertEqual(str(call("MULTI")), "MULTI calls can not be nested")
            self.assertEqual(str(call("WATCH", "a")), "WATCH inside MULTI is not allowed")
            self.assertEqual(call("SET", "b", "x"), b"QUEUED")
            self.assertEqual(call("INCR", "b"), b"QUEUED")
            replies = call("EXEC")
            self.assertEqual(replies[:3], [b"OK", 2, b"OK"])
            self.assertIsInstance(replies[3], redis.ResponseError)
            self.assertEqual(str(replies[3]), "value is not an integer or out of range")
            # A command refused while queuing dooms the transaction.
            self.assertEqual(call("MULTI"), b"OK")
            self.assertEqual(call("SET", "a", "9"), b"QUEUED")
            self.assertTrue(str(call("NOSUCHCOMMAND")).startswith("unknown command 'NOSUCHCOMMAND'"))
            self.assertEqual(str(call("GET")), "wrong number of arguments for 'get' command")
            e = call("EXEC")
            self.assertIsInstance(e, redis.exceptions.ExecAbortError)
            self.assertEqual(str(e), "Transaction discarded because of previous errors.")
            self.assertEqual(call("GET", "a"), b"2")
            # EXEC itself refused aborts at once.
            self.assertEqual(call("MULTI"), b"OK")
            e = call("EXEC", "extra")
            self.assertEqual(str(e), "Transaction discarded because of: wrong number of arguments for 'exec' command")
            self.assertEqual(str(call("EXEC")), "EXEC without MULTI")
            self.assertEqual(str(call("DISCARD")), "DISCARD without MULTI")
            self.assertEqual(call("MULTI"), b"OK")
            self.assertEqual(call("SET", "q", "1"), b"QUEUED")
            self.assertEqual(call("DISCARD"), b"OK")
            self.assertIsNone(call("GET", "q"))
            self.assertEqual(call("MULTI"), b"OK")
            self.assertEqual(call("EXEC"), [])
        finally:
            c.connection_pool.release(conn)

    def test_watch_aborts_when_another_client_writes(self):
        other = client(self.protocol)
        p = self.r.pipeline(transaction=True)
        p.watch("w")
        p.multi()
        p.set("w", "mine")
        other.set("w", "theirs")
        with self.assertRaises(redis.WatchError):
            p.execute()
        self.assertEqual(self.r.get("w"), b"theirs")
        # The same value written again also breaks a watch, as in Redis.
        p.watch("w")
        p.multi()
        p.set("w", "mine")
        other.set("w", "theirs")
        with self.assertRaises(redis.WatchError):
            p.execute()
        # UNWATCH forgets.
        p.watch("w")
        p.unwatch()
        p.multi()
        other.set("w", "again")
        p.set("w", "mine")
        self.assertEqual(p.execute(), [True])
        other.close()

    def test_watch_breaks_when_the_key_expires(self):
        self.r.set("e", "v", px=100)
        p = self.r.pipeline(transaction=True)
        p.watch("e")
        import time
        time.sleep(0.3)
        p.multi()
        p.set("e", "new")
        with self.assertRaises(redis.WatchError):
            p.execute()

    def test_watch_of_untouched_and_missing_keys_holds(self):
        self.r.set("quiet", "1")
        p = self.r.pipeline(transaction=True)
        p.watch("quiet", "missing")
        self.r.set("unrelated", "x")
        p.multi()
        p.incr("quiet")
        self.assertEqual(p.execute(), [2])

    def test_transaction_with_contention_keeps_exact_counts(self):
        workers, rounds = 4, 60
        attempts = [0] * workers
        self.r.set("counter", 0)

        def work(i):
            c = client(self.protocol)

            def increment(pipe):
                attempts[i] += 1
                value = int(pipe.get("counter"))
                pipe.multi()
                pipe.set("counter", value + 1)
            for _ in range(rounds):
                c.transaction(increment, "counter")
            c.close()

        threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(int(self.r.get("counter")), workers * rounds)
        self.assertGreaterEqual(sum(attempts), workers * rounds)

    def test_pipeline_of_many_commands(self):
        p = self.r.pipeline(transaction=False)
        for i in range(2000):
            p.set("p%d" % i, i)
        for i in range(2000):
            p.get("p%d" % i)
        p.incr("p5")
        p.incr("not-a-number-yet")
        out = p.execute(raise_on_error=False)
        self.assertEqual(out[:2000], [True] * 2000)
        self.assertEqual(out[2000:4000], [str(i).encode() for i in range(2000)])
        self.assertEqual(out[4000:], [6, 1])


TransactionsRESP2, TransactionsRESP3 = both_protocols(Transactions)
