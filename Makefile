# The two commands: `make run` starts the embedded stack, `make test` runs every check.
# Both create the virtual environment, install the locked dependencies and fetch Apache Kafka's
# jars (kafka/pom.xml, with Maven) first.
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
# Bytecode written once at install: every service process imports FastAPI, SQLAlchemy and
# pydantic, and with PYTHONDONTWRITEBYTECODE set (common in CI images) each start would compile
# them again (~3 s of CPU per process, many processes per stack).
export UV_COMPILE_BYTECODE := 1
MEMBERS := schemas paykit bff billing-consumer order-consumer capture-consumer psp-sim saas-demo payctl
# The embedded broker's jars, copied out of Maven's local repository (payctl.kafka_broker).
KAFKA_LIBS := $(TOOLS)/kafka/libs
MVN ?= mvn

.PHONY: run test lint typecheck install bench clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.installed: $(UV) uv.lock pyproject.toml */pyproject.toml
	$(UV) sync --frozen --python $(PYTHON)
	touch $@

$(KAFKA_LIBS)/.installed: kafka/pom.xml
	@command -v $(MVN) >/dev/null || { echo "Maven (mvn) is needed to fetch Apache Kafka: install it (on Debian: apt-get install maven), or run against a cluster of your own with KAFKA_BOOTSTRAP_SERVERS"; exit 1; }
	@# The class-data archives beside the jars go too: they are valid for these very jar files only.
	rm -rf $(TOOLS)/kafka
	$(MVN) --batch-mode --quiet --no-transfer-progress -Dstyle.color=never -f kafka/pom.xml package
	touch $@

# promtool and prometheus check and run deploy/prometheus in tests/test_deploy_prometheus.py.
# Missing, they come from Debian's package when this runs as root with apt-get. A policy-rc.d
# (Docker images ship one) keeps the package from starting its service; without systemd it
# would not start anyway.
.PHONY: prometheus-tools
prometheus-tools:
	@command -v promtool >/dev/null && command -v prometheus >/dev/null && exit 0; \
	if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
	  echo "promtool and prometheus are needed to test deploy/prometheus: install Prometheus 2 (on Debian, as root: apt-get install --no-install-recommends prometheus) so that both are on PATH" >&2; exit 1; \
	fi; \
	apt-cache show prometheus >/dev/null 2>&1 || apt-get update -qq; \
	policy=/usr/sbin/policy-rc.d; ours=; \
	if [ ! -e $$policy ]; then printf '#!/bin/sh\nexit 101\n' >$$policy && chmod +x $$policy && ours=1; fi; \
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
	status=$$?; if [ -n "$$ours" ]; then rm -f $$policy; fi; exit $$status

# The browser tests (tests/test_checkout_browser.py) drive Debian's Chromium with Playwright;
# Playwright's own browser download is not used. Missing, it comes from Debian's package when
# this runs as root with apt-get; CHROMIUM names another binary.
CHROMIUM ?= chromium
.PHONY: browser-tools
browser-tools:
	@command -v $(CHROMIUM) >/dev/null && exit 0; \
	if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
	  echo "Chromium is needed for the browser tests: install it (on Debian, as root: apt-get install --no-install-recommends chromium), or set CHROMIUM to its path" >&2; exit 1; \
	fi; \
	apt-cache show chromium >/dev/null 2>&1 || apt-get update -qq; \
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null

# The members are editable installs: their bytecode is compiled here (cheap when up to date).
install: $(VENV)/.installed $(KAFKA_LIBS)/.installed
	$(VENV)/bin/python -m compileall -q -j 0 $(MEMBERS)

run: install
	$(VENV)/bin/payctl up $(ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy

# The benchmark of docs/performance.md: `make bench ARGS="--rate 200 --duration 30"`.
bench: install
	$(VENV)/bin/payctl bench $(ARGS)

# Only the tests need Prometheus (deploy/prometheus) and Chromium: `make run` does not.
test: lint typecheck prometheus-tools browser-tools
	CHROMIUM=$$(command -v $(CHROMIUM)) $(VENV)/bin/pytest $(PYTEST_ARGS)

clean:
	rm -rf $(TOOLS) $(VENV) .pytest_cache .mypy_cache .ruff_cache
