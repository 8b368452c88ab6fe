# txlake — build, demo, test and release tasks.
# On a fresh machine `make demo` and `make test` do all the set-up they need.
# `make` alone lists the targets.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

GO      ?= go
PYTHON3 ?= python3

VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  := $(shell git rev-parse --short HEAD 2>/dev/null)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

BIN  := bin/txlake
# The demo's lake: `make demo LAKE=/tmp/mylake`.
LAKE ?= lake
DEMO_LOGS := demo-data/logs

# Python for the interop tests (pyarrow, scipy), installed by `make deps`.
VENV      := .cache/venv
VENV_PY   := $(VENV)/bin/python
DEPS_STAMP := $(VENV)/.requirements-test.stamp
export TXLAKE_PYTHON ?= $(abspath $(VENV_PY))
# TXLAKE_REQUIRE_SERVICES=1 makes tests fail, not skip, when a service or
# the Python packages are missing (CI sets it).
TXLAKE_REQUIRE_SERVICES ?=
export TXLAKE_REQUIRE_SERVICES

# Services started around `make test` (testdata/services/start-<name>.sh).
# s3: versitygw; hdfs: Hadoop MiniDFSCluster; postgres: Debian's PostgreSQL.
SERVICES ?= s3 hdfs postgres
TEST_TIMEOUT ?= 35m
TEST_FLAGS ?= -race -count=1 -timeout $(TEST_TIMEOUT)
FUZZTIME ?= 20s

# Pinned goreleaser, built from source through the Go module proxy (the first
# run builds it, ~6 min on 2 cores; later runs use Go's build cache).
GORELEASER_VERSION := v2.15.1
GORELEASER ?= $(GO) run github.com/goreleaser/goreleaser/v2@$(GORELEASER_VERSION)

.PHONY: help build demo demo-s3 demo-hdfs services-stop test test-airflow deps bench bench-rss fuzz release-check lint clean clean-all

help: ## list the targets
	@echo "Usage: make TARGET [LAKE=dir] [SERVICES='s3 hdfs'] [TXLAKE_REQUIRE_SERVICES=1]"
	@echo
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-14s %s\n", $$1, $$2}'

build: ## build bin/txlake (version from git describe)
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/txlake

demo: build ## generate 14 days of logs with drift, ingest them into LAKE (default ./lake), query it
	@case "$(LAKE)" in ""|/|.|..) echo "refusing to use LAKE='$(LAKE)'" >&2; exit 2;; esac
	rm -rf demo-data "$(LAKE)"
	@# BRL is already in the generator's mix, so the new currency is CHF.
	$(BIN) gen --out $(DEMO_LOGS) --days 14 --rows-per-day 20000 --seed 7 --compress gzip --fraud-rate 0.002 \
		--drift from=2026-01-12,amount_scale=2.5,country=BR:0.3,new_currency=CHF,null_rate=email:0.2
	$(BIN) ingest --schema schemas/transactions.yaml --source '$(DEMO_LOGS)/transactions-*' --lake "$(LAKE)"
	@echo; echo "== partitions"
	$(BIN) query --lake "$(LAKE)" "SELECT dt, count(*) AS rows, sum(amount) AS amount FROM transactions GROUP BY dt ORDER BY dt"
	@echo; echo "== top merchant categories"
	$(BIN) query --lake "$(LAKE)" "SELECT merchant_category, count(*) AS rows, sum(amount) AS amount, round(avg(amount), 2) AS avg_amount FROM transactions GROUP BY merchant_category ORDER BY rows DESC LIMIT 10"
	@echo; echo "== quarantine reasons"
	$(BIN) query --lake "$(LAKE)" "SELECT rule, field, count(*) AS rows, any_value(reason) AS example FROM transactions_quarantine GROUP BY rule, field ORDER BY rows DESC"
	@echo; echo "== rows tagged by the row rules (schemas/transactions.rules.yaml), per day"
	$(BIN) query --lake "$(LAKE)" "SELECT dt, count(*) FILTER (list_contains(tags, 'velocity')) AS velocity, count(*) FILTER (list_contains(tags, 'novelty')) AS novelty, count(*) FILTER (list_contains(tags, 'outlier')) AS outlier, count(*) FILTER (list_contains(tags, 'large_usd')) AS large_usd, count(*) AS rows FROM transactions GROUP BY dt HAVING count(*) > 100 ORDER BY dt"
	@echo; echo "== the first velocity burst, with the customer's rows an hour either side (the truth is in $(DEMO_LOGS)/labels-*.jsonl)"
	$(BIN) query --lake "$(LAKE)" "WITH f AS (SELECT customer_id, created_at FROM transactions WHERE list_contains(tags, 'velocity') ORDER BY created_at LIMIT 1) SELECT t.created_at, t.customer_id, t.amount, t.currency, t.country, t.tags FROM transactions t, f WHERE t.customer_id = f.customer_id AND t.created_at BETWEEN f.created_at - INTERVAL 1 HOUR AND f.created_at + INTERVAL 1 HOUR ORDER BY t.created_at"
	@echo; echo "== drift: the first week against the last day (gen --drift shifted amount, country, currency and email from 2026-01-12)"
	$(BIN) drift --lake "$(LAKE)" --table transactions --reference 2026-01-01..2026-01-07 --current 2026-01-14 --fail-on-drift || test $$? -eq 3

demo-s3: build ## the demo against a local S3 (versitygw on loopback); leaves it running (make services-stop)
	testdata/services/start-s3.sh
	. .cache/services/s3.env && $(GO) run ./testdata/services/s3/mkbucket demo
	rm -rf demo-data
	$(BIN) gen --out $(DEMO_LOGS) --days 14 --rows-per-day 20000 --seed 7 --compress gzip
	. .cache/services/s3.env && \
	$(BIN) ingest --s3-endpoint "$$TXLAKE_TEST_S3_ENDPOINT" --lake s3://demo/lake --schema schemas/transactions.yaml --source '$(DEMO_LOGS)/*' && \
	$(BIN) query --s3-endpoint "$$TXLAKE_TEST_S3_ENDPOINT" --lake s3://demo/lake "SELECT dt, count(*) AS rows, sum(amount) AS amount FROM transactions GROUP BY dt ORDER BY dt"

demo-hdfs: build ## the demo against a local HDFS (MiniDFSCluster); leaves it running (make services-stop)
	testdata/services/start-hdfs.sh
	rm -rf demo-data
	$(BIN) gen --out $(DEMO_LOGS) --days 14 --rows-per-day 20000 --seed 7 --compress gzip
	. .cache/services/hdfs.env && \
	$(BIN) ingest --lake "hdfs://$$TXLAKE_TEST_HDFS_NAMENODE/demo/lake" --schema schemas/transactions.yaml --source '$(DEMO_LOGS)/*' && \
	$(BIN) query --lake "hdfs://$$TXLAKE_TEST_HDFS_NAMENODE/demo/lake" "SELECT dt, count(*) AS rows, sum(amount) AS amount FROM transactions GROUP BY dt ORDER BY dt"

services-stop: ## stop the local S3, HDFS and PostgreSQL test services
	-testdata/services/stop-s3.sh
	-testdata/services/stop-hdfs.sh
	-testdata/services/stop-postgres.sh

$(DEPS_STAMP): requirements-test.txt
	@test -x $(VENV_PY) || $(PYTHON3) -m venv $(VENV)
	$(VENV_PY) -m pip install --quiet --disable-pip-version-check --no-input -r requirements-test.txt
	$(VENV_PY) -c "import pyarrow, scipy; print('deps: pyarrow', pyarrow.__version__, 'scipy', scipy.__version__)"
	@touch $@

# deps covers the Python packages only. The headless-browser test of the HTML
# drift report (cmd/txlake/drift_html_test.go) also needs Debian's chromium, a
# system package: `apt-get install chromium` (.ci/run installs it when missing;
# without it the test skips, or fails under TXLAKE_REQUIRE_SERVICES=1).
deps: $(DEPS_STAMP) ## install the tests' Python packages into .cache/venv (no-op when current)
	@:

test: deps ## run all Go tests with -race (starts the SERVICES)
	testdata/services/with-services.sh $(SERVICES) -- $(GO) test $(TEST_FLAGS) ./...

# The Airflow DAG test with Apache Airflow itself installed (not in `make
# test`: installing apache-airflow takes about 3 minutes; `make test` checks
# the DAG's commands against `txlake plan` without Airflow).
AIRFLOW_VERSION ?= 3.3.2
AIRFLOW_VENV := .cache/airflow-venv
test-airflow: ## import and check deploy/airflow/txlake_dag.py under Apache Airflow (installs it into .cache/airflow-venv)
	@test -x $(AIRFLOW_VENV)/bin/python || $(PYTHON3) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/python -c 'import airflow' 2>/dev/null || $(AIRFLOW_VENV)/bin/pip install --quiet --disable-pip-version-check apache-airflow==$(AIRFLOW_VERSION)
	AIRFLOW_HOME=$(abspath .cache/airflow-home) TXLAKE_PYTHON=$(abspath $(AIRFLOW_VENV)/bin/python) $(GO) test -count=1 -run TestAirflowDAGCommandsMatchPlan -v ./cmd/txlake

# `make bench BENCH_BYTES=256M` for a quick run; `make bench-rss BENCH_BYTES=4G`
# for the memory check (docs/performance.md).
BENCH_BYTES ?= 1G
BENCH_RUNS  ?= 3
BENCH_FLAGS ?=

bench: build ## txlake ingest vs DuckDB COPY on BENCH_BYTES (1G) of gen JSONL and CSV, 3 runs each, then the drift benchmark; results JSON under .cache/bench
	$(GO) run ./testdata/bench -bin $(BIN) -bytes $(BENCH_BYTES) -runs $(BENCH_RUNS) $(BENCH_FLAGS)

bench-rss: build ## peak RSS of one txlake ingest of BENCH_BYTES of gen JSONL (make bench-rss BENCH_BYTES=4G)
	$(GO) run ./testdata/bench -bin $(BIN) -bytes $(BENCH_BYTES) -rss $(BENCH_FLAGS)

bench-drift: ## time one drift report of 1M current against 10M reference rows (builds the lake once under .cache/bench-drift-lake)
	TXLAKE_BENCH_LAKE=$(abspath .cache/bench-drift-lake) $(GO) test -run '^$$' -bench DriftReport -benchtime 1x -timeout 30m ./jobs/drift

fuzz: ## run every fuzz target for FUZZTIME (20s)
	@grep -rl --include='*_test.go' --exclude-dir=.cache --exclude-dir=.git --exclude-dir=dist '^func Fuzz' . | sort | \
	while read -r f; do \
		for fn in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$$f"); do \
			echo "== $$fn ./$$(dirname "$${f#./}")"; \
			$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) "./$$(dirname "$${f#./}")"; \
		done; \
	done

# goreleaser v2 is fetched and built through the Go module proxy: validate
# .goreleaser.yaml, then build the snapshot for this platform (linux/amd64,
# CGO_ENABLED=1) exactly as a release would, into dist/.
release-check: ## goreleaser check + snapshot build into dist/
	$(GORELEASER) check
	$(GORELEASER) build --snapshot --clean --single-target
	@ls -l dist/*/txlake
	@b=$$(ls dist/*/txlake | head -1); "$$b" version

lint: ## go vet and gofmt
	$(GO) vet ./...
	@out=$$(find . -name '*.go' -not -path './.cache/*' -not -path './dist/*' -not -path './.git/*' -print0 | xargs -0 gofmt -l); \
	if [ -n "$$out" ]; then echo "gofmt: these files need formatting (gofmt -w):"; echo "$$out"; exit 1; fi

clean: ## remove build outputs and the demo's data and lake
	rm -rf bin dist demo-data lake

clean-all: clean ## also remove .cache (the Python venv)
	rm -rf .cache
