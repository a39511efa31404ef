# Tekil CRM — two commands: `make run` and `make test` (see README).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000

.PHONY: setup run test lint typecheck pytest chromium testdata constraints clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml constraints.txt | $(PY)
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(VENV)/.installed node_modules/.installed
	$(PY) manage.py compile_translations

run: setup
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py collectstatic --noinput --verbosity 0
	@echo ""
	@echo "  Tekil CRM: http://127.0.0.1:$(PORT)/   (demo logins above; owners set up two-factor at first login)"
	@echo "  Stop with Ctrl+C."
	@echo ""
	TEKIL_HTTPS=0 PORT=$(PORT) $(VENV)/bin/honcho -f Procfile.embedded start

# Debian's Chromium drives the browser tests (Playwright cannot download browsers here).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = "0" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing: install it (sudo apt-get install chromium); browser tests will be skipped"; fi; }

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup
	$(VENV)/bin/mypy .

# Public data sets models are checked against (CDNOW for lifetime value), cached in
# var/testdata; without network the tests that need them skip and say why.
testdata: setup
	$(PY) -m tests.testdata

pytest: setup chromium testdata
	$(PY) -m pytest $(PYTEST_ARGS)

test: lint typecheck pytest

# Refresh the pinned versions after changing pyproject.toml.
constraints: | $(PY)
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m pip freeze --exclude-editable | grep -v '^-e' > constraints.txt

clean:
	rm -rf $(VENV) node_modules var
