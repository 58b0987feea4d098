# alertbeam: every target works on a fresh machine with Go 1.26; anything else
# a target needs (Kafka jars, Python packages) is fetched by the scripts in
# .ci/ into caches under $(CACHE).

GO       ?= go
PKGS     ?= ./...
CACHE    ?= $(HOME)/.cache/alertbeam
FUZZTIME ?= 30s
BIN      := bin/alertbeam
export CACHE

.PHONY: all build demo test integration ci bench lint fmt generate fuzz crosscompile clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/alertbeam

## demo: run the main job on a fresh machine (embedded broker, a simulated night).
demo: build
	./$(BIN) demo

# gotestsum runs go test and closes with a count of tests run, failed and
# skipped, so a gate that ran nothing cannot pass unnoticed.
GOTEST := $(GO) tool gotestsum --format pkgname-and-test-fails --

## test: unit tests (embedded broker, in-process registry, prism direct runner).
test:
	$(GOTEST) -count=1 -skip '^TestIntegration' $(PKGS)

## integration: start real Apache Kafka (KRaft, from Maven Central), run the
## TestIntegration tests against it, and always stop it.
integration:
	.ci/deps
	# -p 1: some tests stop and restart the one broker, which must not
	# pull it from under another package's tests.
	.ci/with-kafka $(GOTEST) -count=1 -p 1 -run '^TestIntegration' -timeout 30m $(PKGS)

## fuzz: run every Go fuzz target for FUZZTIME each.
fuzz:
	@set -e; for f in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
	  for t in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$f/*_test.go | sed 's/^func //'); do \
	    echo "fuzz $$f $$t ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$f; \
	  done; \
	done

## bench: Go benchmarks (decode/encode, Kafka IO against raw sarama).
bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) tool staticcheck $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

## generate: regenerate the Go alert structs from schemas/avsc.
generate:
	cd schemas && $(GO) generate ./...

## crosscompile: the worker binary Dataflow stages (linux/amd64, no cgo).
crosscompile:
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -o bin/alertbeam-linux-amd64 ./cmd/alertbeam

## ci: the whole gate, as .ci/run runs it.
ci:
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory lint && \
	$(MAKE) --no-print-directory test && \
	$(MAKE) --no-print-directory fuzz FUZZTIME=5s && \
	$(MAKE) --no-print-directory crosscompile && \
	$(MAKE) --no-print-directory integration && \
	echo "make ci: passed in $$(( $$(date +%s) - start ))s"

clean:
	rm -rf bin
