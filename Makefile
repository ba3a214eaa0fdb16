# The two set-up commands of the README. Each installs the Debian packages it needs first.
.PHONY: demo test deps test-deps docs bench bench-guard fuzz sanitize tamper

deps:
	@Tools/scripts/install-deps.sh

## The tests also drive redis-cli and redis-benchmark against `sealkv serve`, and redis-py from a
## virtual environment in .build/venv (Tests/compat), made here when missing.
test-deps:
	@Tools/scripts/install-deps.sh redis-tools
	@Tools/scripts/compat-venv.sh >/dev/null

## Creates an encrypted store in a temporary folder, writes, reopens, reads back.
demo: deps
	swift run -c release sealkv-demo

## The default test suite (about a few minutes on 2 cores).
test: test-deps
	swift build --build-tests
	swift test --skip-build --parallel --num-workers 2

## DocC documentation of the library and the crash harness, in .build/docs (about 70 seconds from a
## clean checkout on 2 cores, 10 once built); any warning, such as a link that does not resolve, fails it.
docs: deps
	swift package --allow-writing-to-directory .build/docs generate-documentation \
		--target SealKV --target SealKVCrashHarness --output-path .build/docs --warnings-as-errors

## Side-by-side benchmark against LMDB, SQLite and SQLCipher (about 25 minutes on 2 cores);
## writes Docs/BENCHMARKS.md and Docs/benchmarks.svg. KEYS and RUNS adjust it.
bench:
	@Tools/scripts/install-deps.sh liblmdb-dev libsqlcipher-dev libsqlite3-dev
	swift run -c release --package-path Tools/bench sealkv-bench --keys $(or $(KEYS),1000000) --runs $(or $(RUNS),3) --write-docs

## Regression guard: SealKV alone, 100,000 keys, against Tools/bench/baseline.json (about a minute).
bench-guard:
	@Tools/scripts/install-deps.sh liblmdb-dev
	swift run -c release --package-path Tools/bench sealkv-bench --guard

## libFuzzer targets, FUZZ_SECONDS each (default 300), from the committed seed corpus.
fuzz: deps
	swift build -c release --package-path Tools/fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
	mkdir -p .build/fuzz-corpus/page .build/fuzz-corpus/open
	Tools/fuzz/.build/release/fuzz-page .build/fuzz-corpus/page Tools/fuzz/corpus/page -max_total_time=$(or $(FUZZ_SECONDS),300) -rss_limit_mb=2048
	Tools/fuzz/.build/release/fuzz-open .build/fuzz-corpus/open Tools/fuzz/corpus/open -max_total_time=$(or $(FUZZ_SECONDS),300) -max_len=65536 -rss_limit_mb=2048

## The test suite under AddressSanitizer and ThreadSanitizer (about 25 minutes on 2 cores).
sanitize: test-deps
	Tools/scripts/sanitize.sh all

## Exhaustive tamper test: every bit flipped, every byte set to 0x00 and 0xFF (release build).
tamper: deps
	SEALKV_TAMPER=full swift test -c release -Xswiftc -enable-testing --filter everyMutationIsDetectedOrHarmless
