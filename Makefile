# trailwatch: build, test, demo, benchmarks. `make help` lists the targets.
#
# Rust builds share one target directory; Python tools (cargo-lambda with
# zig, moto, cfn-lint, checkov) live in .venv/, created once from the pinned
# requirements.txt + requirements.lock and reused after.
#
# The real CloudTrail records and the benchmark generator are not part of
# the project: they are read from the shared folder, ../shared beside the
# repository (TRAILWATCH_SHARED=DIR if yours is elsewhere), through
# scripts/trailwatch_local.py, which says which path it looked for when
# they are absent. Without them the demo replays data/scenario/, the rule
# tests skip their dataset cases, and the benchmarks and the detection
# report refuse to run.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
export CARGO_TARGET_DIR ?= $(CURDIR)/target
VENV := $(CURDIR)/.venv
PY := $(VENV)/bin/python
export PATH := $(VENV)/bin:$(PATH)
TRAILWATCH := $(CARGO_TARGET_DIR)/debug/trailwatch
LOCAL := python3 scripts/trailwatch_local.py
DEMO_DATA ?= auto

.PHONY: help venv lock lock-sam lint-sam build-debug lint test test-rust test-inputs rules-test scenario scenario-test lint-infra \
        deploy-moto load demo detection-report build deploy bench bench-inputs bench-compare build-release-cli \
        infra fuzz clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt requirements.lock
	test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt -c requirements.lock
	touch $@

venv: $(VENV)/.installed ## Create the Python tool environment (.venv/), pinned

lock: ## Re-pin requirements.lock from the current .venv
	$(VENV)/bin/pip freeze --all | grep -v -E '^(pip|setuptools|wheel)==' > requirements.lock

SAM_VENV := $(VENV)/sam

$(SAM_VENV)/.installed: requirements-sam.txt requirements-sam.lock $(VENV)/.installed
	test -x $(SAM_VENV)/bin/python || python3 -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-sam.txt -c requirements-sam.lock
	touch $@

lock-sam: ## Re-pin requirements-sam.lock from .venv/sam
	$(SAM_VENV)/bin/pip freeze --all | grep -v -E '^(pip|setuptools|wheel)==' > requirements-sam.lock

build-debug: ## Build the functions and the CLI (debug)
	cargo build -p trailwatch-eventbridge -p trailwatch-logs -p trailwatch-s3 -p trailwatch-cli

lint: ## rustfmt check and clippy on every crate and target, warnings as errors
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

test: venv lint build-debug test-rust rules-test scenario-test lint-infra lint-sam deploy-moto load ## All tests (CI: .ci/run)
	@echo "make test: all passed"

test-inputs: ## The standard benchmark inputs the tests use, when the shared folder is there
	$(LOCAL) bench-inputs $(CARGO_TARGET_DIR) --optional

test-rust: build-debug test-inputs ## Unit, conformance, equivalence and end-to-end tests
	cargo test --workspace

rules-test: build-debug ## Run every built-in rule's own tests (dataset cases on the shared records)
	@dataset="$$($(LOCAL) shared data/cloudtrail --optional)"; \
	if [ -n "$$dataset" ]; then \
	  echo "$(TRAILWATCH) rules test --dataset $$dataset"; $(TRAILWATCH) rules test --dataset "$$dataset"; \
	else \
	  echo "rules-test: no shared data/cloudtrail (../shared or TRAILWATCH_SHARED): dataset cases are skipped"; \
	  $(TRAILWATCH) rules test; \
	fi

scenario: ## Rewrite data/scenario/ from scripts/scenario.py
	python3 scripts/scenario.py

scenario-test: build-debug ## data/scenario/ is what the generator writes; its story sets off the alert rules, its ordinary traffic none
	python3 scripts/scenario.py --check --trailwatch $(TRAILWATCH)

lint-infra: venv ## cfn-lint and checkov on the generated template
	scripts/lint-infra.sh

lint-sam: $(SAM_VENV)/.installed ## sam validate --lint on the generated SAM template (offline)
	AWS_DEFAULT_REGION=us-east-1 SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam validate --lint --template-file infra/template.yaml

deploy-moto: venv build-debug ## Deploy the template into a local moto CloudFormation and check it
	$(PY) scripts/deploy-moto.py

load: venv build-debug ## 10,000 invocations of each function, SNS failing a share: nothing lost; with DynamoDB state and retries: nothing twice
	$(PY) scripts/load.py
	$(PY) scripts/load.py --state

demo: venv build-debug ## Replay CloudTrail records through the three functions (EventBridge, logs, S3) on local AWS stand-ins (DEMO_DATA=auto|shared|scenario)
	$(PY) scripts/demo.py --data $(DEMO_DATA)

detection-report: build-debug ## Detection quality on the shared real records -> docs/detection-report.md
	python3 scripts/detection-report.py

infra: build-debug ## Regenerate infra/template.yaml from the rules
	$(TRAILWATCH) infra generate --output infra/template.yaml

SAM := AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} SAM_CLI_TELEMETRY=0 SAM_CLI_BETA_RUST_CARGO_LAMBDA=1 $(SAM_VENV)/bin/sam
SAM_BUILD := $(CARGO_TARGET_DIR)/sam

build: venv $(SAM_VENV)/.installed ## sam build: the three functions for Lambda (cargo-lambda, arm64, release) and the template to deploy, in target/sam
	$(SAM) build --beta-features --template-file infra/template.yaml --build-dir $(SAM_BUILD)
	@for f in $(SAM_BUILD)/*Function/bootstrap; do ls -l "$$f"; done

deploy: build ## Deploy what `make build` built with AWS SAM (guided the first time)
	@if [ -f infra/samconfig.toml ]; then $(SAM) deploy --config-file infra/samconfig.toml -t $(SAM_BUILD)/template.yaml; \
	else $(SAM) deploy --guided -t $(SAM_BUILD)/template.yaml; fi

build-release-cli: ## Release build of the CLI (benchmarks)
	cargo build --release -p trailwatch-cli

$(VENV)/.bench-installed: $(VENV)/.installed requirements-bench.txt requirements-bench.lock
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-bench.txt -c requirements.lock -c requirements-bench.lock
	touch $@

bench-inputs: ## The standard benchmark inputs (shared generator and records) into the target directory
	$(LOCAL) bench-inputs $(CARGO_TARGET_DIR)

bench-compare: venv build-release-cli bench-inputs $(VENV)/.bench-installed ## trailwatch vs moto and LocalStack: events/s, ratios, match counts
	$(PY) scripts/bench_compare.py

bench: bench-inputs ## Criterion benchmarks: events/s at 10/100/1,000 patterns, CIS filters, decoding
	cargo bench -p trailwatch-engine --bench matching

# A short run of each target by default; the 10-million-execution campaign is
#   make fuzz FUZZ_SANITIZER=none FUZZ_RUNS=10000000 FUZZ_SECONDS=0
FUZZ_SECONDS ?= 60
FUZZ_RUNS ?= -1
FUZZ_SANITIZER ?= address
FUZZ_TARGETS ?= event_pattern filter_pattern rule_loader envelope

fuzz: ## Each fuzz target for FUZZ_SECONDS (60) or FUZZ_RUNS, under FUZZ_SANITIZER (address|none) (fuzz/README.md)
	cargo install cargo-fuzz --locked --version 0.13.2
	python3 fuzz/seed_corpus.py
	cd fuzz && for t in $(FUZZ_TARGETS); do \
	  RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer $(FUZZ_SANITIZER) --target-dir target/$(FUZZ_SANITIZER) $$t corpus/$$t -- \
	    -dict=dicts/$$t.dict -max_total_time=$(FUZZ_SECONDS) -runs=$(FUZZ_RUNS) \
	    -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 || exit 1; done

clean: ## Remove build output and the demo's files
	cargo clean
	rm -rf .demo
