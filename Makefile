# drwatch - the front door. `make help` lists the targets.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

MODULE      := github.com/drwatch/drwatch
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION    ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS     := -s -w -X $(MODULE)/internal/buildinfo.Version=$(VERSION) -X $(MODULE)/internal/buildinfo.Revision=$(REVISION)
BIN         := bin/drwatch
GOLANGCI    := bin/golangci-lint
GOLANGCI_V  := v2.15.0
LAB         := bin/drwatch-lab

export GOFLAGS ?= -mod=mod

.PHONY: help
help: ## list the targets
	@awk 'BEGIN{FS=":.*## "} /^[a-zA-Z0-9_-]+:.*## /{printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## build bin/drwatch with the version stamped in
	go build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/drwatch

.PHONY: test
test: vet tidy-check unit e2e ## every test: vet, unit tests (race), end-to-end tests against a real lab

.PHONY: unit
unit: ## unit tests with the race detector
	go test -race -count=1 ./...

.PHONY: e2e
e2e: build lab-bin deps ## end-to-end tests: starts the real OpenSearch lab (fetched via Maven), runs drwatch against it, stops it
	deploy/e2e.sh

.PHONY: test-ccr
test-ccr: build lab-bin deps ## end-to-end tests incl. those that need the replication plugin; fails without it
	DRWATCH_REQUIRE_CCR=1 deploy/e2e.sh

.PHONY: deps
deps: ## the end-to-end tests' programs: prometheus, promtool, prometheus-alertmanager, chromium (installed with apt-get as root)
	deploy/deps.sh

.PHONY: rules
rules: deps ## check the Prometheus alerting rules and run their unit tests (promtool)
	promtool check rules deploy/prometheus/drwatch-alerts.yml
	promtool test rules deploy/prometheus/drwatch-alerts_test.yml

.PHONY: vet
vet: ## gofmt (no file left unformatted) and go vet
	@unformatted=$$(gofmt -l cmd deploy e2e internal); if [ -n "$$unformatted" ]; then echo "gofmt -w these files:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	go vet -tags crashhook ./...
	go vet -tags 'e2e ccr measure secure nodes' ./e2e/

.PHONY: tidy-check
tidy-check: ## go mod tidy leaves no diff
	@cp go.mod bin/go.mod.bak 2>/dev/null || (mkdir -p bin && cp go.mod bin/go.mod.bak); cp go.sum bin/go.sum.bak
	@go mod tidy
	@if ! diff -q go.mod bin/go.mod.bak >/dev/null || ! diff -q go.sum bin/go.sum.bak >/dev/null; then \
		echo "go mod tidy changed go.mod/go.sum: commit the tidy result"; diff go.mod bin/go.mod.bak || true; exit 1; fi

.PHONY: lint
lint: $(GOLANGCI) vet ## golangci-lint (pinned) with revive, errorlint, staticcheck
	$(GOLANGCI) run ./...

$(GOLANGCI):
	GOBIN=$(CURDIR)/bin go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_V)

.PHONY: bench
bench: ## benchmarks (probe parsing and a whole cycle for 5,000 indices)
	go test -run '^$$' -bench . -benchmem ./internal/...

.PHONY: measure
measure: build lab-bin ## measure on the real lab: detection over 10 kills, promotion time for 1/10/50 indices, RTO (docs/measurements.md)
	$(LAB) fetch
	go test -count=1 -timeout 60m -v -tags 'e2e ccr measure' -run '^TestMeasure' ./e2e/ 2>&1 | tee bin/measure.log | grep -E 'MEASURE|^(---|ok|FAIL)'

.PHONY: fuzz
fuzz: ## fuzz the config loader for 60s
	go test ./internal/config -run '^$$' -fuzz FuzzParse -fuzztime 60s

.PHONY: lab-bin
lab-bin: ## build bin/drwatch-lab, the lab's command (up, down, status, start-node, stop-node, kill, freeze, thaw, capture)
	go build -o $(LAB) ./cmd/drwatch-lab

.PHONY: lab-up
lab-up: lab-bin ## start the local leader and follower (OpenSearch via Maven) on 127.0.0.1
	$(LAB) up

.PHONY: lab-status
lab-status: lab-bin ## show the lab's nodes and remote connection (exit 1 unless both nodes answer)
	$(LAB) status

.PHONY: lab-down
lab-down: lab-bin ## stop the lab and delete its data
	$(LAB) down

.PHONY: capture
capture: lab-bin ## record the replication plugin's answers from a fresh lab into internal/testutil/fakeos/testdata/lab
	$(LAB) capture

.PHONY: demo
demo: build ## the failover demo: lab up, drwatch in auto mode, the leader killed twice, every acknowledged write counted
	go run ./deploy/demo

.PHONY: clean
clean: ## remove build output (not the download cache)
	rm -rf bin
