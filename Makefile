# `make demo` and `make test` are the README's quick start. Both create .venv once
# (Python 3.11, with docker/install.sh: the same steps as the container images) and reuse it;
# it is updated when setup.cfg or the install script change. The demo installs only what it
# runs (Beam and TFDS: no PyTorch, no test or docs tools); `make test` adds every extra.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo
INSTALL := bash docker/install.sh --python $(PYTHON) --venv $(VENV) --upgrade-pip --editable --quiet

.PHONY: demo test lint docs clean

$(STAMP): setup.cfg pyproject.toml docker/install.sh
	$(INSTALL) --extras all
	touch $(STAMP) $(DEMO_STAMP)

$(DEMO_STAMP): setup.cfg pyproject.toml docker/install.sh
	$(INSTALL) --extras beam,tfds
	touch $(DEMO_STAMP)

# A small MOVi-A dataset end to end: 4 scenes rendered with the Beam pipeline (local
# runner), packaged as the TFDS dataset movi_a_demo, loaded back, and a page to look at them.
demo: $(DEMO_STAMP)
	$(BIN)/kubric-gen run movi_a --num-scenes 4 --output output/movi_a --resolution 128x128 --samples 16 \
		--tfds movi_a_demo --tfds-data-dir output/tfds
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python -c "import kubric_gen.datasets, tensorflow_datasets as tfds; \
		ex = next(iter(tfds.load('movi_a_demo', data_dir='output/tfds', split='train').take(1))); \
		print('loaded movi_a_demo:', {k: tuple(ex[k].shape) for k in ('video', 'segmentations', 'forward_flow', 'depth')})"
	$(BIN)/kubric-gen view output/movi_a --frames 24 > /dev/null
	@echo "scenes:   output/movi_a/scene_0000000{0..3}/ (frames, ground truth, metadata.json; run summary output/movi_a/_run.json)"
	@echo "dataset:  output/tfds/movi_a_demo/ (tfds.load('movi_a_demo', data_dir='output/tfds'))"
	@echo "look at every layer, box and track of the scenes in a browser:"
	@echo "  xdg-open output/_view_movi_a/index.html      # macOS: open ...; or file://$(CURDIR)/output/_view_movi_a/index.html"

# One pytest-xdist worker per core; whole test files go to one worker, so a module's shared
# renders (module-scoped fixtures) are made once; the longest files first (tests/conftest.py's
# LONGEST_FILES; xdist's own reordering is off). `pytest -q tests/test_x.py` runs one file alone.
test: $(STAMP)
	$(BIN)/python -m pytest -q -n auto --dist loadfile --no-loadscope-reorder

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/hadolint docker/Dockerfile docker/Dockerfile.gpu
	$(BIN)/mypy --cache-dir .mypy_cache   # the public API's types ([tool.mypy] in pyproject.toml)

# The documentation site (mkdocs.yml, docs/) into site/; any warning fails it (--strict).
# Not --quiet: it hides the warnings from --strict too, so a broken site would pass.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

clean:
	rm -rf $(VENV) output .pytest_cache .ruff_cache .mypy_cache .hypothesis
