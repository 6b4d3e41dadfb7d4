# The README's commands. Each target does its own set-up on a fresh machine.
PYTHON ?= python3
export SAM_CLI_TELEMETRY := 0
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup rehearse test bench lint build validate clean

setup: $(STAMP) servers

# The virtual environment with every package, pinned by requirements.lock.
$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

# The rehearsal starts its own PostgreSQL and Redis servers; it only needs the binaries.
.PHONY: servers
servers:
	@command -v redis-server >/dev/null || { \
	  echo "installing redis-server from Debian's packages"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) \
	  || (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server); }
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  echo "installing PostgreSQL from Debian's packages"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-client) \
	  || (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-client); }

## A full local migration rehearsal against emulated AWS and real Postgres and Redis.
rehearse: setup
	$(BIN)/heroku2aws rehearse $(ARGS)

## Lint, then every test.
test: setup lint
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

## Benchmarks: figures measured side by side in one run.
bench: setup
	$(BIN)/python -m bench

lint: setup
	$(BIN)/ruff check .
	$(BIN)/cfn-lint template.yaml
	$(BIN)/sam validate --lint --template template.yaml --region us-east-1
	$(BIN)/python -m heroku2aws_conformance

## `sam build` for the python3.12 runtime (pyenv: PYENV_VERSION=3.11.7:3.12.1 makes python3.12 resolve).
build: setup
	PYENV_VERSION=$${PYENV_VERSION:-3.11.7:3.12.1} $(BIN)/sam build --template template.yaml

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .ruff_cache .mypy_cache
