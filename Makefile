# salessim: `make report` builds the standard reports, `make test` runs every test.
# Both bootstrap .venv first; `make install` alone prepares it. Idempotent.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install report test test-quick lab lint format lock bench clean

install: $(STAMP)

# Exact versions come from requirements.lock (every dependency, tested together); the package itself
# is installed on top without resolving again. Python 3.11.0–3.11.4 cannot take the lock (some locked
# releases need 3.11.5+): there it installs from pyproject.toml's lower bounds instead, and says so.
$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "salessim needs Python 3.11+ (found $$($(PYTHON) --version))"; exit 2; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	if $(BIN)/python -c 'import sys; sys.exit(sys.version_info < (3, 11, 5))'; then \
		$(BIN)/python -m pip install --quiet -r requirements.lock && \
		$(BIN)/python -m pip install --quiet --no-deps -e .; \
	else \
		echo "Python $$($(BIN)/python --version) is older than 3.11.5: installing from pyproject.toml's lower bounds, not requirements.lock"; \
		$(BIN)/python -m pip install --quiet -e '.[dev,dask,lab]'; \
	fi
	$(BIN)/python -m ipykernel install --sys-prefix --name salessim --display-name "salessim (.venv)"
	touch $(STAMP)

report: install
	$(BIN)/salessim reports --out reports

# files go to the two workers whole, in collection order: tests/conftest.py puts the long ones
# first (LONG_FILES), so the workers finish together
test: install
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder --durations=25

test-quick: install
	$(BIN)/python -m pytest -n 2 -m "not slow"

# JupyterLab on the notebooks; LAB_ARGS passes options (e.g. LAB_ARGS="--no-browser --port 8899")
# (as root, e.g. in a container, JupyterLab needs --allow-root)
LAB_ARGS ?=
LAB_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)
lab: install
	$(BIN)/jupyter lab $(LAB_ROOT) $(LAB_ARGS) notebooks

# the report notebooks are linted with the package (imports after the parameters cell allowed)
# one formatter (ruff format) and one linter (ruff check) over the package, the tests and the
# notebooks; `make format` applies the formatter
lint: install
	$(BIN)/ruff format --check salessim tests notebooks
	$(BIN)/ruff check salessim tests notebooks
	$(BIN)/mypy salessim

format: install
	$(BIN)/ruff format salessim tests notebooks

# Refresh requirements.lock to the newest releases pyproject.toml allows, for every platform and
# Python 3.11.5+; then `make install` (it reinstalls from the new lock) and `make test` before committing.
lock: install
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra dask --extra lab --universal \
		--python-version 3.11.5 --no-annotate --custom-compile-command "make lock" -o requirements.lock

bench: install
	$(BIN)/salessim bench

# the simulation cache (in the user's cache directory) is cleared while salessim is still installed
clean:
	-test ! -x $(BIN)/salessim || $(BIN)/salessim cache clear
	rm -rf $(VENV) reports .pytest_cache .hypothesis .ruff_cache .mypy_cache .salessim-cache
