# alertbeam: every target works on a fresh machine with Go 1.26; anything else
# a target needs (Kafka jars, Python packages) is fetched by the scripts in
# .ci/ into caches under $(CACHE).

GO       ?= go
PKGS     ?= ./...
CACHE    ?= $(HOME)/.cache/alertbeam
FUZZTIME ?= 30s
BIN      := bin/alertbeam
export CACHE

# Build settings (README, "Binary size"). The tag leaves out the gRPC
# transport of Google's storage client (DirectPath: xDS, Envoy's protos,
# 142 packages, 19 MB of the binary); alertbeam and Beam use its JSON API.
# It goes in GOFLAGS so that builds, tests, lint and fuzzing compile the
# same packages into one cache and the tests test what ships; a -tags in
# your own GOFLAGS comes later and wins.
GOTAGS   ?= disable_grpc_modules
export GOFLAGS := -tags=$(GOTAGS) $(GOFLAGS)
# The binary ships without DWARF and the ELF symbol table (106 MB of 298).
# Panics and stack traces still name functions, files and lines (the Go
# runtime keeps its own table); debuggers need a plain go build. Beam falls
# back on the symbol table only for functions not registered with
# beam/register, and alertbeam registers all of them: make test runs a
# binary built so (cmd/alertbeam's TestShutdownDemo).
LDFLAGS  ?= -s -w

.PHONY: all build demo test integration cluster soak ci bench bench-memory gobench lint fmt generate fuzz crosscompile clean

all: build

build:
	$(GO) build -ldflags='$(LDFLAGS)' -o $(BIN) ./cmd/alertbeam

## demo: run the main job on a fresh machine (embedded broker, a simulated night).
demo: build
	./$(BIN) demo

# gotestsum runs go test and closes with a count of tests run, failed and
# skipped, so a gate that ran nothing cannot pass unnoticed.
GOTEST := $(GO) tool gotestsum --format pkgname-and-test-fails --

## test: unit tests (embedded broker, in-process registry, prism direct runner).
test:
	# The Python venv (astropy, Hipparcos-2) of io/catalog's independent
	# check; without it those tests skip, or fail under CI=true.
	-.ci/deps python
	# Debian's chromium, for the status page's test in headless Chromium.
	-.ci/deps chromium
	# cmd/alertbeam runs its CLI end to end for ~8 minutes: more than go
	# test's default 10-minute limit allows on a busy machine.
	$(GOTEST) -count=1 -skip '^TestIntegration' -timeout 25m $(PKGS)

# The cluster tests print their figures (recovery times, duplicates).
CLUSTERTEST := $(GO) tool gotestsum --format standard-verbose --

## integration: start real Apache Kafka (KRaft, from Maven Central), run the
## TestIntegration tests against it, and always stop it; then the same on
## a three-node cluster for the TestIntegrationCluster tests.
integration:
	.ci/deps
	# -p 1: some tests stop and restart the one broker, which must not
	# pull it from under another package's tests.
	.ci/with-kafka $(GOTEST) -count=1 -p 1 -run '^TestIntegration' -skip '^TestIntegrationCluster' -timeout 30m $(PKGS)
	.ci/with-kafka-cluster $(CLUSTERTEST) -count=1 -run '^TestIntegrationCluster' -timeout 20m ./cmd/alertbeam

## cluster: a three-node Kafka cluster in the foreground, for trying things
## by hand: prints its addresses and control script; Ctrl-C stops it.
cluster:
	.ci/with-kafka-cluster

## soak: the cluster broker-kill test with 20,000 alerts (about 7 minutes).
soak:
	ALERTBEAM_SOAK=1 .ci/with-kafka-cluster $(CLUSTERTEST) -count=1 -run '^TestIntegrationClusterBrokerKill$$' -timeout 90m ./cmd/alertbeam

## fuzz: run every Go fuzz target for FUZZTIME each.
## (.ci/fuzz runs one again only after Go 1.26's fuzzing-coordinator race.)
fuzz:
	@GO=$(GO) .ci/fuzz $(FUZZTIME)

## bench: alertbeam bench on real Apache Kafka started by .ci/with-kafka:
## ZTF, 20,000 alerts (1,000-alert visits every 5 s in the live phase), then
## LSST with 10,000-alert visits every 39 s. Writes $(BENCHOUT)/ztf.json,
## lsst.json and BENCH.md (the tables, with the machine). About 20 minutes;
## needs ~30 GB free for Kafka's log. Not part of ci.
BENCHOUT ?= bench-results
bench: build
	.ci/deps
	mkdir -p $(BENCHOUT)
	.ci/with-kafka sh -c '\
	  ./$(BIN) bench --brokers "$$ALERTBEAM_KAFKA" --alerts 20000 --json $(BENCHOUT)/ztf.json --markdown $(BENCHOUT)/ztf.md && \
	  ./$(BIN) bench --brokers "$$ALERTBEAM_KAFKA" --survey lsst --alerts 20000 --burst 10000 --cadence 39s --visits 5 \
	      --json $(BENCHOUT)/lsst.json --markdown $(BENCHOUT)/lsst.md'
	cat $(BENCHOUT)/ztf.md $(BENCHOUT)/lsst.md > $(BENCHOUT)/BENCH.md
	@echo "wrote $(BENCHOUT)/BENCH.md"

## bench-memory: peak RSS of every backlog phase at 10,000 and at 50,000
## ZTF alerts on real Kafka (the second run reports each phase's RSS as a
## multiple of the first's). About 15 minutes; needs ~50 GB free.
bench-memory: build
	.ci/deps
	mkdir -p $(BENCHOUT)
	.ci/with-kafka sh -c '\
	  ./$(BIN) bench --brokers "$$ALERTBEAM_KAFKA" --alerts 10000 --phases $(MEMPHASES) --json $(BENCHOUT)/memory-10k.json && \
	  ./$(BIN) bench --brokers "$$ALERTBEAM_KAFKA" --alerts 50000 --phases $(MEMPHASES) --baseline $(BENCHOUT)/memory-10k.json \
	      --json $(BENCHOUT)/memory-50k.json --markdown $(BENCHOUT)/memory.md'
MEMPHASES := raw,distribute-floor,distribute,full-floor,full,qa

## gobench: Go benchmarks (decode/encode, Kafka IO against raw sarama).
gobench:
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
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -ldflags='$(LDFLAGS)' -o bin/alertbeam-linux-amd64 ./cmd/alertbeam

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
