# The two set-up commands of the README. Each installs the Debian packages it needs first.
.PHONY: demo test deps test-deps bench bench-guard

deps:
	@Tools/scripts/install-deps.sh

## The tests also drive redis-cli and redis-benchmark against `sealkv serve`.
test-deps:
	@Tools/scripts/install-deps.sh redis-tools

## Creates an encrypted store in a temporary folder, writes, reopens, reads back.
demo: deps
	swift run -c release sealkv-demo

## The default test suite (about a few minutes on 2 cores).
test: test-deps
	swift build --build-tests
	swift test --skip-build --parallel --num-workers 2

## Side-by-side benchmark against LMDB, SQLite and SQLCipher (about 15 minutes on 2 cores);
## writes Docs/BENCHMARKS.md and Docs/benchmarks.svg. KEYS and RUNS adjust it.
bench:
	@Tools/scripts/install-deps.sh liblmdb-dev libsqlcipher-dev libsqlite3-dev
	swift run -c release --package-path Tools/bench sealkv-bench --keys $(or $(KEYS),1000000) --runs $(or $(RUNS),3) --write-docs

## Regression guard: SealKV alone, 100,000 keys, against Tools/bench/baseline.json (about a minute).
bench-guard:
	@Tools/scripts/install-deps.sh liblmdb-dev
	swift run -c release --package-path Tools/bench sealkv-bench --guard
