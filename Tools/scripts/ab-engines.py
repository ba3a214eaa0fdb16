#!/usr/bin/env python3
"""Alternated A/B rounds of sealkv-bench engines, each round in a rotated order, every round shown.

    swift build -c release --package-path Tools/bench
    Tools/scripts/ab-engines.py ROUNDS KEYS WORKLOADS ENGINES
    e.g. Tools/scripts/ab-engines.py 6 1000000 durable-puts,writers-1,writers-4,writers-16 \
             sealkv,sealkv-pwritev,sealkv-uring-writes

Each engine runs as `sealkv-bench --child ENGINE` in a fresh folder (the fill always runs first);
what a child writes to standard error (the automatic write engine's choices) is shown indented.
The last line per workload gives the medians and the last engine's over the one before it.
"""
import json, os, shutil, statistics, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH = os.path.join(ROOT, "Tools/bench/.build/x86_64-unknown-linux-gnu/release/sealkv-bench")

def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    rounds, keys, only, engines = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4].split(",")
    results = {e: [] for e in engines}
    for r in range(rounds):
        for e in engines[r % len(engines):] + engines[:r % len(engines)]:
            folder = tempfile.mkdtemp(prefix=f"sealkv-ab-{e}-")
            try:
                p = subprocess.run([BENCH, "--child", e, "--keys", keys, "--dir", folder, "--only", only],
                                   capture_output=True, check=True)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            if p.stderr:
                print("   ", p.stderr.decode().strip(), flush=True)
            rates = json.loads(p.stdout)["rates"]
            results[e].append(rates)
            print(f"round {r + 1} {e:20s} " + "  ".join(f"{k} {v:,.0f}" for k, v in sorted(rates.items())
                                                    if not k.endswith("fsyncs")), flush=True)
    print(f"medians of {rounds} rounds:")
    for k in sorted(results[engines[0]][0]):
        medians = [statistics.median(x[k] for x in results[e]) for e in engines]
        line = f"{k:20s} " + "  ".join(f"{e} {m:>10,.0f}" for e, m in zip(engines, medians))
        if len(engines) > 1 and medians[-2] > 0:
            line += f"  {engines[-1]}/{engines[-2]} {medians[-1] / medians[-2]:.2f}x"
        print(line)

main()
