# The README's commands. Each target does its own set-up on a fresh machine.
PYTHON ?= python3
export SAM_CLI_TELEMETRY := 0
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup rehearse test bench lint build validate clean image

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

## Benchmarks: figures measured side by side in one run (pg_freeze compares against pgcopydb: installed from
## Debian's packages when missing; BENCH_FREEZE_GB=0.2 for a quick run).
bench: setup
	@command -v pgcopydb >/dev/null || { \
	  echo "installing pgcopydb from Debian's packages"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgcopydb) \
	  || (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgcopydb); }
	$(BIN)/python -m bench

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy layers/shared/python/heroku2aws
	$(BIN)/cfn-lint template.yaml
	$(BIN)/sam validate --lint --template template.yaml --region us-east-1
	$(BIN)/python -m heroku2aws_conformance

## `sam build` for the python3.12 runtime (pyenv: PYENV_VERSION=3.11.7:3.12.1 makes python3.12 resolve).
build: setup
	PYENV_VERSION=$${PYENV_VERSION:-3.11.7:3.12.1} $(BIN)/sam build --template template.yaml

## The ECS tasks' image (docker/task.Dockerfile), pushed to the stack's ECR repository at the tag the
## stack's TaskImageTag parameter names (default: the package version). Needs Docker and AWS credentials:
##   make image STACK=heroku2aws-<app> [IMAGE_TAG=0.1.0] [PG_CLIENT_MAJOR=16]
STACK ?= heroku2aws-sample-app
IMAGE_TAG ?= $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
PG_CLIENT_MAJOR ?= 15
image: setup
	@uri=$$($(BIN)/python -c "import boto3,sys; o=boto3.client('cloudformation').describe_stacks(StackName='$(STACK)')['Stacks'][0]['Outputs']; print(next(x['OutputValue'] for x in o if x['OutputKey']=='TaskImageRepositoryUri'))") && \
	registry=$${uri%%/*} && \
	$(BIN)/python -c "import base64,boto3; print(base64.b64decode(boto3.client('ecr').get_authorization_token()['authorizationData'][0]['authorizationToken']).decode().split(':',1)[1])" \
	  | docker login --username AWS --password-stdin $$registry && \
	docker build -f docker/task.Dockerfile --build-arg PG_CLIENT_MAJOR=$(PG_CLIENT_MAJOR) -t $$uri:$(IMAGE_TAG) . && \
	docker push $$uri:$(IMAGE_TAG)

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .ruff_cache .mypy_cache
