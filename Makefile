# Guangzhou City Partner assistant. `make run` and `make test` are all a new machine needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

export PYTHONPATH := $(CURDIR)
RASA_PY   := .venv-rasa/bin/python
APP_PY    := .venv-app/bin/python
UV        := bash scripts/uv.sh
TEST_REDIS_DB ?= 15
RASA_SIDE_REDIS_DB ?= 10  # the Rasa-side unit tests' own database while the app's run beside them
# Configuration: .env.example's development defaults, then a git-ignored .env, read with dotenv's rules
# (a secret holding `$` or `#` arrives unchanged); a variable already in the environment wins.
WITH_ENV  := $(APP_PY) -m scripts.env --

.PHONY: help run test eval bench lint audit env lock model redis postgres chromium wrk clean check-data validate deploy-check

help:
	@echo "make run    - set up, train if needed, start Redis, the Rasa replicas, the action server and the web app"
	@echo "make test   - everything CI runs: lint, data validation, unit, story and integration tests"
	@echo "make eval   - held-out intent/entity F1, everyday writing, fact retrieval, test stories, screening personas"
	@echo "make bench  - this assistant side by side with a stock 'rasa init' bot: results/bench.{md,json,png} (~10 min)"
	@echo "make deploy-check - images, compose.yaml and Kubernetes manifests checked offline (part of make test)"

# --- environments (rebuilt only when a lock file changes) ---------------------------------
# Byte-compiled at install: with PYTHONDONTWRITEBYTECODE set (these machines set it) Python never writes .pyc
# files, and a Rasa server then compiled TensorFlow's and Rasa's sources at every start: 10.5 s of imports
# against 3.2 s (make bench, issue 14). The stamp names the compiled layout, so older environments catch up.
.venv-rasa/.compiled: requirements/rasa.lock.txt
	@py310=$$(bash scripts/find_python310.sh) || exit 1; \
	echo "setup: Rasa environment on $$py310 (first time: a few minutes)"; \
	$(UV) venv -q --allow-existing --python "$$py310" .venv-rasa && \
	$(UV) pip sync -q --compile-bytecode --python .venv-rasa/bin/python requirements/rasa.lock.txt
	@$(RASA_PY) -m rasa telemetry disable >/dev/null 2>&1 || true
	@touch $@

.venv-app/.compiled: requirements/app.lock.txt
	@echo "setup: app environment on Python 3.11"
	@$(UV) venv -q --allow-existing --python 3.11 .venv-app && \
	$(UV) pip sync -q --compile-bytecode --python .venv-app/bin/python requirements/app.lock.txt
	@touch $@

env: .venv-rasa/.compiled .venv-app/.compiled

lock:
	$(UV) pip compile -q requirements/rasa.in --python-version 3.10 -o requirements/rasa.lock.txt
	$(UV) pip compile -q requirements/app.in --python-version 3.11 -o requirements/app.lock.txt
	@# The images' locks: runtime packages only, at the development locks' versions, with hashes (deploy/docker/).
	$(UV) pip compile -q requirements/rasa.runtime.in --python-version 3.10 --generate-hashes -c requirements/rasa.lock.txt -o requirements/rasa.runtime.lock.txt
	$(UV) pip compile -q requirements/actions.runtime.in --python-version 3.10 --generate-hashes -c requirements/rasa.lock.txt -o requirements/actions.runtime.lock.txt
	$(UV) pip compile -q requirements/app.runtime.in --python-version 3.11 --generate-hashes -c requirements/app.lock.txt -o requirements/app.runtime.lock.txt

# --- services and model --------------------------------------------------------------------
wrk:
	@bash scripts/ensure_wrk.sh --required

redis: env
	@$(WITH_ENV) bash scripts/ensure_redis.sh

postgres: env
	@$(WITH_ENV) bash scripts/ensure_postgres.sh

# Browser tests of the staff console drive Debian's Chromium (installed when missing and run as root).
chromium:
	@bash scripts/ensure_chromium.sh >/dev/null

check-data: env
	@$(RASA_PY) -m bot.shared.program.check

model: env check-data
	@bash scripts/train_if_changed.sh

run: env redis model
	@$(WITH_ENV) bash scripts/run_all.sh

# --- quality -------------------------------------------------------------------------------
lint: env
	@$(APP_PY) -m ruff check bot actions components rasa_addons scripts tests
	@.venv-app/bin/lint-imports --no-cache | grep -E "^Contracts:|BROKEN|->" ; exit $${PIPESTATUS[0]}

# Known vulnerabilities in both lock files (pip-audit; see scripts/audit.sh for what happens offline).
audit: env
	@bash scripts/audit.sh

validate: env
	@.venv-rasa/bin/rasa data validate --data nlu stories --domain domain.yml --config config.yml --fail-on-warnings 2>&1 | grep -Ev "Deprecat|declare_namespace|pkg_resources|xla_computation|escape sequence|replace\(|Downloads a file" ; exit $${PIPESTATUS[0]}

# Offline (no container engine or cluster here): generated files match deploy/processes.yml, the Kustomize overlays
# against the Kubernetes API schemas, compose.yaml against the compose spec, the Dockerfiles through hadolint.
deploy-check: env
	@$(APP_PY) -m scripts.deploy check
	@$(APP_PY) -m pytest -q tests/deploy

test: env redis postgres chromium wrk lint audit check-data validate deploy-check model
	@mkdir -p results
	@# Two phases at once: the Python 3.11 suite waits on servers and browsers much of its time, the Rasa-side suite
	@# and the test stories keep the other core busy meanwhile. The Rasa side has its own Redis database and
	@# pytest directory, so neither flushes nor cleans up what the other uses; its output follows the first phase's.
	@echo "== program data, eligibility, intake API on SQLite and PostgreSQL, NLU data contract (Python 3.11)"
	@echo "   meanwhile: bot.shared on Rasa's Python 3.10, NLU components, actions, Rasa add-ons; then the test stories"
	@rasa_side=$$(mktemp -d); \
	( TEST_REDIS_DB=$(RASA_SIDE_REDIS_DB) TEST_OUTBOX_REDIS_DB=$(RASA_SIDE_REDIS_DB) $(WITH_ENV) $(RASA_PY) -m pytest -q \
	    -p no:cacheprovider --basetemp="$$rasa_side/tmp" tests/bot/shared tests/components tests/actions tests/rasa_addons \
	  && { $(WITH_ENV) .venv-rasa/bin/rasa test core --model models/current.tar.gz --stories tests/stories \
	         --fail-on-prediction-errors --out results/stories >/dev/null 2>results/stories.log \
	       && echo "test stories: all passed" \
	       || { tail -40 results/stories.log; cat results/stories/failed_test_stories.yml 2>/dev/null; exit 1; }; } \
	) >"$$rasa_side/out.log" 2>&1 & side=$$!; \
	$(WITH_ENV) $(APP_PY) -m pytest -q tests/bot tests/nlu tests/scripts; app=$$?; \
	wait $$side; rasa=$$?; \
	echo "== bot.shared on Rasa's Python 3.10, NLU components, actions, Rasa add-ons; test stories (English and Chinese)"; \
	cat "$$rasa_side/out.log"; rm -rf "$$rasa_side"; \
	[ $$app -eq 0 ] && [ $$rasa -eq 0 ]
	@echo "== integration: real Rasa server, action server and Redis over the REST webhook"
	@REDIS_DB=$(TEST_REDIS_DB) $(WITH_ENV) $(APP_PY) -m pytest -q tests/integration

eval: env redis model
	@mkdir -p results
	@$(WITH_ENV) $(RASA_PY) tests/eval/run_eval.py --model models/current.tar.gz
	@echo "== screening personas through /api/chat (a cluster of real processes; about 3 minutes)"
	@$(WITH_ENV) $(APP_PY) -m tests.eval.personas

# Side by side with a stock `rasa init` bot (build/bench/stock), on its own ports and Redis DB 12 so the
# test suite can run meanwhile. Options: make bench BENCH_ARGS="--quick" (see python -m scripts.bench --help).
bench: env redis model
	@bash scripts/ensure_wrk.sh
	@$(WITH_ENV) $(APP_PY) -m scripts.bench $(BENCH_ARGS)

clean:
	rm -rf results var .pytest_cache .ruff_cache
