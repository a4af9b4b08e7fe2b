# Everything the project needs is installed by these targets: a virtual environment in .venv/,
# the Apache Kafka broker jars from Maven Central (deploy/local/kafka/pom.xml) and, for the
# tests, a schema registry built from Maven Central (deploy/local/registry/pom.xml).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
PEER_VENV := $(VENV)/peer
PEER_INSTALLED := $(PEER_VENV)/.installed
KAFKA_JARS := deploy/local/kafka/target/libs/.resolved
REGISTRY_JAR := deploy/local/registry/target/quarkus-app/quarkus-run.jar
# deploy/k8s is checked offline: kustomize built with Go, the operators' CRDs fetched at pinned
# versions (deploy/k8s/crds/fetch.sh). Go is needed once, for these two.
GO ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
KUSTOMIZE_VERSION := v5.8.1
KUSTOMIZE := $(VENV)/.kustomize-$(KUSTOMIZE_VERSION)
K8S_CRDS := deploy/k8s/.crds/.fetched
# docker-compose.yml is loaded by compose-go, the loader of Docker Compose itself.
COMPOSE_CHECK := $(BIN)/compose-check

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-16s %s\n", $$1, $$2}'

$(INSTALLED): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required (set PYTHON=/path/to/python3.11)")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

# The Quix Streams peer of `make bench` wants an older confluent-kafka and pydantic than .venv
# has: it gets its own environment, with the project and its `bench` extra (pyproject.toml).
$(PEER_INSTALLED): pyproject.toml $(INSTALLED)
	@test -x $(PEER_VENV)/bin/python || $(PYTHON) -m venv $(PEER_VENV)
	$(PEER_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PEER_VENV)/bin/python -m pip install --quiet -e '.[bench]'
	@touch $@

$(KAFKA_JARS): deploy/local/kafka/pom.xml
	@command -v java >/dev/null || { echo "Java 17 is required for the local Kafka broker"; exit 1; }
	@command -v mvn >/dev/null || { echo "Maven is required once, to fetch the Kafka jars"; exit 1; }
	mvn -q -B -f deploy/local/kafka/pom.xml package
	@touch $@

$(REGISTRY_JAR): deploy/local/registry/pom.xml deploy/local/registry/settings.xml
	@command -v java >/dev/null || { echo "Java 17 is required for the schema registry"; exit 1; }
	@command -v mvn >/dev/null || { echo "Maven is required once, to build the schema registry"; exit 1; }
	mvn -q -B -s deploy/local/registry/settings.xml -f deploy/local/registry/pom.xml package
	@touch $@

# kustomize into .venv/bin; the stamp names the version, so a new pin installs again.
$(KUSTOMIZE): | $(INSTALLED)
	@command -v $(GO) >/dev/null || { echo "Go is required once, to build kustomize (set GO=/path/to/go)"; exit 1; }
	GOBIN=$(abspath $(BIN)) $(GO) install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)
	@touch $@

$(K8S_CRDS): deploy/k8s/crds/fetch.sh deploy/k8s/crds/strimzi/pom.xml deploy/k8s/crds/SHA256SUMS
	@command -v $(GO) >/dev/null || { echo "Go is required once, to fetch the KEDA CRDs (set GO=/path/to/go)"; exit 1; }
	@command -v mvn >/dev/null || { echo "Maven is required once, to generate the Strimzi CRDs"; exit 1; }
	GO=$(GO) deploy/k8s/crds/fetch.sh
	@touch $@

$(COMPOSE_CHECK): deploy/compose-check/main.go deploy/compose-check/go.mod deploy/compose-check/go.sum | $(INSTALLED)
	@command -v $(GO) >/dev/null || { echo "Go is required once, to build compose-check (set GO=/path/to/go)"; exit 1; }
	cd deploy/compose-check && $(GO) build -mod=readonly -o $(abspath $@) .

install: $(INSTALLED) $(PEER_INSTALLED) $(KAFKA_JARS) ## create .venv (and .venv/peer) and fetch the Kafka broker jars

# The tests also check deploy/: kustomize, the operators' CRDs and compose-check (Go, once);
# and Confluent framing against a real schema registry.
install-checks: install $(KUSTOMIZE) $(K8S_CRDS) $(COMPOSE_CHECK) $(REGISTRY_JAR) ## install, plus the offline checkers of deploy/ and docker-compose.yml, and the test schema registry

k8s-check: install-checks ## build the deploy/k8s overlays, validate them and docker-compose.yml offline
	$(BIN)/python -m pytest tests/deploy tests/unit/test_docker_compose.py -q

demo: install ## the main job: a small city's hour of traffic through the backbone, summary, searches
	$(BIN)/streams demo

test: install-checks ## run unit and integration tests (starts and stops its own Kafka broker)
	$(BIN)/python -m pytest

bench-normalize: install ## normalize throughput: adapters per source, and the agent through Kafka
	$(BIN)/streams bench normalize

bench-correlate: install ## dedup+correlation throughput (rules, worker through Kafka) and alert latency
	$(BIN)/streams bench correlate

bench-sink: install ## warehouse sink rows/s: insert path alone, and the sink stage through Kafka
	$(BIN)/streams bench sink

bench-gateway: install ## ingest gateway payloads/s and payloads per gateway CPU-second
	$(BIN)/streams bench gateway

bench-search: install ## search p50/p99 per query kind on generated data (large: see docs/search.md)
	$(BIN)/streams bench search

loadtest: install ## replay a generated city end to end; report in loadtest-report/ (docs/loadtest.md)
	$(BIN)/streams loadtest --out loadtest-report

bench: install ## normalize+dedup side by side: bare copy loop (limit), ours, a Quix Streams peer
	$(BIN)/streams bench side-by-side

lint: install ## ruff
	$(BIN)/ruff check streams tests loadtest
	$(BIN)/ruff format --check streams tests loadtest

format: install ## apply ruff formatting and safe fixes
	$(BIN)/ruff format streams tests loadtest
	$(BIN)/ruff check --fix streams tests loadtest

typecheck: install ## mypy (strict) on streams/
	$(BIN)/mypy

kafka-up: install ## start the local Kafka broker (127.0.0.1:9092)
	$(BIN)/streams dev kafka up

kafka-down: install ## stop the local Kafka broker
	$(BIN)/streams dev kafka down

clean: ## stop local services and remove .local/ (data, logs)
	-test -x $(BIN)/streams && $(BIN)/streams dev kafka down
	-test -x $(BIN)/streams && $(BIN)/streams dev registry down
	rm -rf .local

.PHONY: help install install-checks k8s-check demo test loadtest bench bench-normalize bench-correlate bench-sink bench-gateway bench-search lint format typecheck kafka-up kafka-down clean
