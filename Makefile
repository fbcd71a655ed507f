# jupyter-token-broker: `make demo` runs the demo, `make test` runs every test. Both set up from nothing.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: help setup system-deps demo demo-lab test lint contract contract-check test-js test-node-versions test-python test-hub test-hub55 test-ui bench build clean

help:
	@echo "make demo   - set up everything and run a JupyterHub + demo IdP + demo API: log in once, every notebook gets tokens"
	@echo "make demo-lab - the same without a hub: JupyterLab + broker + demo IdP + demo API"
	@echo "make test   - set up everything and run lint, broker, server-extension and browser tests"
	@echo "make bench  - run the benchmarks"
	@echo "make contract - regenerate the wire types and shared constants from packages/broker/openapi.yaml"

# --- set-up -----------------------------------------------------------------------------------------
node_modules/.package-lock.json: package.json package-lock.json packages/*/package.json ui-tests/package.json binder/archive-browser/package.json
	npm ci --no-audit --no-fund
	@touch $@

$(BIN)/.requirements: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	@touch $@

build: node_modules/.package-lock.json $(BIN)/.requirements
	npm run build -w @jupyter-token-broker/broker
	npm run build -w jupyter-token-broker
	npm run build -w @jupyter-token-broker/archive-browser

# Debian's Chromium (browser tests), dbus + gnome-keyring (a real Secret Service for the keyring store tests)
system-deps:
	./scripts/system-deps.sh

# jupyter-builder directly (`jupyter labextension develop` is deprecated and says so); warnings and errors only
setup: build
	$(BIN)/pip install -q --no-build-isolation -e packages/labextension
	$(BIN)/jupyter-builder develop --overwrite --log-level=WARN packages/labextension
	$(BIN)/pip install -q --no-build-isolation -e binder/archive-browser
	$(BIN)/jupyter-builder develop --overwrite --log-level=WARN binder/archive-browser
	$(BIN)/jupyter server extension enable --sys-prefix --log-level=WARN jupyter_token_broker >/dev/null

# --- the demo -----------------------------------------------------------------------------------------
# The hub demo. Ports: DEMO_IDP_PORT, DEMO_API_PORT, DEMO_HUB_PORT (9400, 9401, 8000); its state: .cache/hub-demo
demo: setup
	node packages/demo/start-hub-demo.mjs

# JupyterLab alone. Ports: DEMO_IDP_PORT, DEMO_API_PORT, DEMO_JUPYTER_PORT (9400, 9401, 8888); its files: .cache/demo
demo-lab: setup
	node packages/demo/start-demo.mjs

# --- the contract ----------------------------------------------------------------------------------
# packages/broker/openapi.yaml is the one source of the HTTP contract: the lab extension's wire types and
# the constants TypeScript and Python share are generated from it (scripts/generate-contract.mjs) and
# checked in. `contract-check` regenerates into a temp dir and fails when a checked-in file differs.
contract: node_modules/.package-lock.json
	node scripts/generate-contract.mjs

contract-check: node_modules/.package-lock.json
	node scripts/generate-contract.mjs --check

# --- tests ----------------------------------------------------------------------------------------------
lint: node_modules/.package-lock.json $(BIN)/.requirements contract-check
	npx eslint .
	npx prettier --check .
	$(BIN)/ruff check packages/labextension binder ui-tests bench packages/broker/test/fixtures/dot
	$(BIN)/ruff format --check packages/labextension binder ui-tests bench packages/broker/test/fixtures/dot

# jest for the broker (real oidc-provider), node:test for the demo IdP/API, type + unit tests of the lab extension
test-js: setup system-deps
	npm test -w @jupyter-token-broker/broker
	npm test -w @jupyter-token-broker/demo
	npm test -w jupyter-token-broker

# the same JavaScript tests on Node 22 and 24 (binaries from the npm registry, cached in .cache/node)
test-node-versions: setup system-deps
	./scripts/node-versions.sh

test-python: setup
	$(BIN)/pytest -q packages/labextension/tests --ignore=packages/labextension/tests/hub

# a real JupyterHub (+ configurable-http-proxy from npm, GenericOAuthenticator) against the demo IdP
test-hub: setup
	$(BIN)/pytest -q packages/labextension/tests/hub

# the same hub tests on JupyterHub 5.5.0 (what Zero to JupyterHub 4.4 ships), from a second virtualenv
HUB55 := .venv-hub55
$(HUB55)/.requirements:
	$(PYTHON) -m venv $(HUB55)
	$(HUB55)/bin/pip install -q "jupyterhub==5.5.0" "oauthenticator==17.4.0"
	@touch $@

test-hub55: setup $(HUB55)/.requirements
	TB_TEST_JUPYTERHUB=$(CURDIR)/$(HUB55)/bin/jupyterhub $(BIN)/pytest -q packages/labextension/tests/hub

test-ui: setup system-deps
	npm test -w @jupyter-token-broker/ui-tests

test: lint test-js test-node-versions test-python test-hub test-hub55 test-ui

bench: setup
	./scripts/node-versions.sh --fetch
	node bench/run.mjs

clean:
	rm -rf $(VENV) $(HUB55) node_modules packages/*/lib packages/*/dist packages/labextension/jupyter_token_broker/labextension packages/labextension/jupyter_token_broker/broker \
		binder/archive-browser/lib binder/archive-browser/archive_browser/labextension .cache
