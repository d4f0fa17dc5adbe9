# Two commands do all the set-up on a fresh machine with Python 3.11:
#   make repro   run the pipeline (dvc repro) on the embedded default of params.yaml
#   make test    run the test suite
# Both create and reuse a virtual environment in .venv.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)

PIP_VERSION := 26.3

.PHONY: repro quick paper paper-smoke test test-all bench lock readme clean

# every dependency at the version of requirements.lock (the digits depend on them: tests/test_golden.py),
# then the package itself, which adds nothing the lock does not hold
$(BIN)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install pip==$(PIP_VERSION)
	$(BIN)/python -m pip install -r requirements.lock
	$(BIN)/python -m pip install --no-deps -e '.[test]'
	$(BIN)/python -m pip check
	touch $@

# after changing pyproject.toml's dependencies: resolve them afresh in a new environment and pin the result
lock:
	rm -rf .venv-lock
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install pip==$(PIP_VERSION)
	.venv-lock/bin/python -m pip install -e '.[test]'
	{ echo "# Every dependency of fractalvid and its tests, pinned (make lock writes it; make installs it)."; \
	  echo "# Resolved on Linux x86-64 with CPython 3.11: torch's nvidia-* packages are its Linux wheels' own."; \
	  .venv-lock/bin/python -m pip freeze --exclude-editable; } > requirements.lock
	rm -rf .venv-lock

# dvc repro copies outputs into its cache; relinking turns the copies into hard links (no second copy on disk)
repro: $(BIN)/.installed
	$(BIN)/dvc repro dvc.yaml
	$(BIN)/dvc checkout --relink dvc.yaml
	$(BIN)/python -m fractalvid.readme

# the quick profile (params-quick.yaml, on top of params.yaml): the whole pipeline in about 3 minutes, as a
# temporary DVC experiment named "quick"; the workspace and the committed metrics stay as they are.
# S="pretrain.epochs=10 ..." adds tweaks (the experiment is then named quick-<tweaks>); NAME= names it.
QUICK_NAME = $(subst =,-,$(subst $(space),_,$(strip quick $(S))))
space := $(subst ,, )
quick: $(BIN)/.installed
	$(BIN)/python -m fractalvid exp-run params-quick.yaml --overlay --name $(or $(NAME),$(QUICK_NAME)) \
	  $(addprefix --set ,$(S))

# the paper's settings (params-paper.yaml) as a DVC experiment named "paper", in a temporary copy of the
# project: params.yaml and the workspace stay as they are (for a GPU machine with the real sets in data/real)
# The plan first: it stops here, before any generation, when the real sets, the GPU or the disk are missing
paper: $(BIN)/.installed
	$(BIN)/python -m fractalvid plan params-paper.yaml
	$(BIN)/python -m fractalvid exp-run params-paper.yaml --name paper

# params-paper.yaml's pipeline on a CPU with only its counts shrunk (params-paper-smoke.yaml), in a fresh copy
# of the project, and the variants the profile does not select through the CLI: about 10 minutes on 2 cores
paper-smoke: $(BIN)/.installed
	$(BIN)/python -m pytest -m slow tests/test_paper_smoke.py

test: $(BIN)/.installed
	$(BIN)/python -m pytest

test-all: $(BIN)/.installed
	$(BIN)/python -m pytest -m ""

# the README's tables, from reports/metrics/results.json and the archived results files (fractalvid.readme)
readme: $(BIN)/.installed
	$(BIN)/python -m fractalvid.readme

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/generate.py

clean:
	rm -rf $(VENV) .pytest_cache

# Teaching (docs/teaching.md). The tour in JupyterLab, with the project's own JupyterLab settings
# (.jupyterlab/user-settings: no "official Jupyter news?" pop-up over the figures, no update check)
LAB_SETTINGS := $(CURDIR)/.jupyterlab/user-settings
# where the student copy and the slides go: built files, not committed (.gitignore)
TEACHING ?= build/teaching
.PHONY: tour student slides

tour: $(BIN)/.installed
	JUPYTERLAB_SETTINGS_DIR=$(LAB_SETTINGS) $(BIN)/jupyter lab notebooks/00_tour.ipynb

# the tour without the cells tagged "solution" (the exercises' answers and their code), outputs cleared
student: $(BIN)/.installed
	$(BIN)/jupyter nbconvert --to notebook --log-level=WARN --ClearOutputPreprocessor.enabled=True \
	  --TagRemovePreprocessor.enabled=True --TagRemovePreprocessor.remove_cell_tags=solution \
	  --output-dir $(TEACHING) --output 00_tour_student notebooks/00_tour.ipynb
	@echo "$(TEACHING)/00_tour_student.ipynb"

# the tour's figures (reports/figures/00_tour, made by its pipeline stage) as one PDF, a page each, in the
# order the tour shows them: slides that need neither a notebook nor a network
slides: $(BIN)/.installed
	$(BIN)/python -c "from fractalvid.tour import slides_pdf; \
	  pages = slides_pdf('reports/figures/00_tour', 'notebooks/00_tour.ipynb', '$(TEACHING)/tour_slides.pdf'); \
	  print('$(TEACHING)/tour_slides.pdf:', len(pages), 'pages')"
