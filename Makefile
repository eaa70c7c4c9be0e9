# `make demo` and `make test` are the README's quick start. Both create .venv once
# (Python 3.11) and reuse it; it is rebuilt when setup.cfg changes.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/kubric-gen render movi_a --seed 0 --output output/movi_a/seed_00000 --overwrite \
		--resolution 128x128 --samples 32
	@echo "scene directory: output/movi_a/seed_00000/ (rgba_*.png, metadata.json, events.json, provenance.json)"
	@echo "preview:         output/movi_a/seed_00000/preview.gif"

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) output .pytest_cache .ruff_cache .hypothesis
