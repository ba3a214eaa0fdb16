# The two set-up commands of the README. Each installs the Debian packages it needs first.
.PHONY: demo test deps test-deps

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
