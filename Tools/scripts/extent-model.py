#!/usr/bin/env python3
"""How often could a durable single-put commit get its pages as one contiguous extent?

Models the benchmark's 1M-key store (depth 4: 1 root, 7 first-level and 528 second-level branches,
44,643 leaves, packed densely after the fill, plus one free-tree leaf) under single-put commits of
random keys with no reader alive: each commit rewrites root, one branch per level, one leaf and the
free-tree leaf (5 pages) and frees the old copies, which become reusable two commits later (the
previous meta still reaches them until this commit is durable).

Policies for where the 5 new pages go:
  scattered   take any reusable pages (as the allocator does now; which ones does not matter)
  extent      a run of 5 consecutive reusable pages if one exists, else scattered
  extent+grow a run of 5 if one exists, else 5 new pages at the end of the file
The free pages are kept as maximal intervals, so a run is found in O(log n).

Usage: extent-model.py [COMMITS] (default 20000). Prints, per policy, the share of commits whose
5 pages formed one run, the mean number of write regions (runs of consecutive pages, plus the meta
page), and the file's size against the live pages.
"""
import random, sys, heapq

def simulate(policy, commits, seed=1):
    rng = random.Random(seed)
    counts = [1, 7, 528, 44643]
    page = {}; nxt = 2
    for lvl, n in enumerate(counts):
        for i in range(n): page[(lvl, i)] = nxt; nxt += 1
    page[('free', 0)] = nxt; nxt += 1
    start = end = nxt
    s2e, e2s = {}, {}        # free intervals [s, e)
    heap = []                # (start) of intervals with length >= k, lazily checked
    k = 5
    def add_free(p):
        s, e = p, p + 1
        if p in e2s: s = e2s.pop(p); del s2e[s]
        if e in s2e: e2 = s2e.pop(e); del e2s[e2]; e = e2
        s2e[s] = e; e2s[e] = s
        if e - s >= k: heapq.heappush(heap, s)
    def take_run():
        while heap:
            s = heap[0]
            if s in s2e and s2e[s] - s >= k:
                e = s2e.pop(s); del e2s[e]
                if e - (s + k) > 0: s2e[s + k] = e; e2s[e] = s + k; 
                if e - (s + k) >= k: heapq.heapreplace(heap, s + k)
                else: heapq.heappop(heap)
                return list(range(s, s + k))
            heapq.heappop(heap)
        return None
    def take_any(n):
        out = []
        while len(out) < n and s2e:
            s, e = next(iter(s2e.items()))
            del s2e[s]; del e2s[e]
            m = min(n - len(out), e - s)
            out += list(range(s, s + m))
            if s + m < e: s2e[s + m] = e; e2s[e] = s + m
        return out
    pending = []
    one = 0; regions = 0
    for c in range(commits):
        while pending and pending[0][0] <= c:
            for p in pending.pop(0)[1]: add_free(p)
        leaf = rng.randrange(counts[3])
        path = [(0, 0), (1, leaf * 7 // counts[3]), (2, leaf * 528 // counts[3]), (3, leaf), ('free', 0)]
        got = take_run() if policy != 'scattered' else None
        if got is None and policy == 'extent+grow':
            got = list(range(end, end + k)); end += k
        if got is None:
            got = take_any(k)
            while len(got) < k: got.append(end); end += 1
        got.sort()
        r = 1 + sum(1 for a, b in zip(got, got[1:]) if b != a + 1)
        one += (r == 1); regions += r + 1
        old = [page[n] for n in path]
        for n, p in zip(path, got): page[n] = p
        pending.append((c + 2, old))
    freepages = sum(e - s for s, e in s2e.items())
    return one / commits, regions / commits, end - start, freepages

commits = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
live = 1 + 7 + 528 + 44643 + 1
for policy in ['scattered', 'extent', 'extent+grow']:
    share, mean_regions, growth, freepages = simulate(policy, commits)
    print(f"{policy:12s} one run: {share:6.1%}  regions per commit (with meta): {mean_regions:.2f}  file: {(live + growth) / live:.2f}x the live pages ({growth} pages grown, {freepages} free) after {commits} commits")
