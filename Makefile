# authgate — see README.md. Only Go is needed for `make run` and `make test`.
SHELL := /bin/bash
GO    ?= go
BIN   ?= bin
# Tests run with the race detector; CI sets REDIS_URL (otherwise the tests start a
# redis-server of their own, or miniredis when none is installed).
TESTFLAGS ?= -race -count=1 -timeout 15m

.PHONY: run build test bench bench-go fuzz lint vet fmt compose-config clean

# Every fuzz target (package:Func); `make fuzz` runs each for FUZZTIME beyond its seed
# corpus. A failing input is written to the package's testdata/fuzz/<Func>/ and becomes
# a seed case once committed.
FUZZTIME ?= 5s
FUZZ_TARGETS = \
	./gateway/internal/routing:FuzzCheckPathMatch \
	./authsvc/internal/users:FuzzCanonicalEmail \
	./gateway/internal/proxy:FuzzStripIdentityHeaders \
	./gateway/internal/proxy:FuzzDirectMatchesReverseProxy \
	./gateway/internal/forwarded:FuzzForwarded \
	./gateway/internal/authapi:FuzzDecodeBody \
	./gateway/internal/loginui:FuzzRedirects \
	./gateway/internal/config:FuzzLoadYAML \
	./authsvc/internal/tokens:FuzzParse \
	./authsvc/internal/password:FuzzVerifyMalformed \
	./upstream-demo:FuzzAssertion

build:
	$(GO) build -o $(BIN)/gateway ./gateway
	$(GO) build -o $(BIN)/upstream-demo ./upstream-demo

## run: the whole stack on embedded defaults (FerretDB + in-process Redis under ./data),
## gateway on :8000 in front of upstream-demo on 127.0.0.1:8081. Ctrl-C stops both.
run: build
	@trap 'exit 0' INT TERM; \
	trap 'kill $$GW $$UP 2>/dev/null; wait $$GW $$UP 2>/dev/null; echo "authgate stopped"' EXIT; \
	./$(BIN)/gateway & GW=$$!; \
	./$(BIN)/upstream-demo --listen 127.0.0.1:8081 --mongodb-uri mongodb://127.0.0.1:27018/ & UP=$$!; \
	for i in $$(seq 1 200); do (exec 3<>/dev/tcp/127.0.0.1/8000) 2>/dev/null && break; kill -0 $$GW 2>/dev/null || break; sleep 0.2; done; \
	if kill -0 $$GW 2>/dev/null; then \
	  echo; echo "authgate is up: http://localhost:8000  (try: curl http://localhost:8000/api/healthChecker)"; \
	  echo "upstream-demo behind it on 127.0.0.1:8081; data in ./data; Ctrl-C stops both"; echo; \
	fi; \
	wait -n $$GW $$UP

test:
	$(GO) test $(TESTFLAGS) ./...

## bench: the benchmark suite (bench/README.md): every scenario over real sockets,
## interleaved with its baseline, report in bench/results/<date>-<host>.md. About five
## minutes on 2 cores; BENCH_QUICK=1 for a short run, BENCH_FLAGS for the runner's flags.
bench:
	$(GO) build -o $(BIN)/bench ./bench/run
	./$(BIN)/bench $(if $(BENCH_QUICK),-quick) $(BENCH_FLAGS)

## bench-go: the Go micro-benchmarks (incl. the in-process proxied request).
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./gateway/... ./authsvc/...

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; name=$${t##*:}; echo "== fuzz $$name ($$pkg, $(FUZZTIME))"; \
	  $(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

lint:
	$(GO) tool golangci-lint run ./...

vet:
	$(GO) vet ./...

fmt:
	gofmt -l -w .

## compose-config: validate compose.yaml (needs docker-compose; dummy keys only for the check).
compose-config:
	ACCESS_TOKEN_PRIVATE_KEY=x ACCESS_TOKEN_PUBLIC_KEY=x REFRESH_TOKEN_PRIVATE_KEY=x REFRESH_TOKEN_PUBLIC_KEY=x \
	  docker-compose -f compose.yaml config -q

clean:
	rm -rf $(BIN)
