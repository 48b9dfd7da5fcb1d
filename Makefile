# Set-up is automatic: every target creates .venv (with a Python >= 3.12 found on the machine)
# and installs the package with its dev extras when pyproject.toml changes.
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= output/demo

.PHONY: demo test lint format bench docs sbc-full clean clean-cache

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $$(tools/find_python.sh) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/bayesinv demo --out $(OUT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest -n 2 --dist worksteal

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

docs: $(STAMP)
	$(BIN)/python -m sphinx -W --keep-going -b html docs docs/_build/html

# benchmark-only peers (scikit-fmm) come from the bench extra
$(VENV)/.installed-bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]"
	@touch $@

bench: $(VENV)/.installed-bench
	$(BIN)/python benchmarks/run.py --out benchmarks/results

sbc-full: $(STAMP)
	$(BIN)/python benchmarks/sbc_full.py --out output/sbc_full

clean:
	rm -rf $(VENV) output benchmarks/results

# numba's on-disk caches of the kernels: numba does not invalidate a cached function when a
# function it calls (in another module) changes, so delete them after pulling kernel changes
clean-cache:
	find bayesinv -path '*/__pycache__/*.nb[ic]' -delete
