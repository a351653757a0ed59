# NovaCron Console: everything an operator or CI needs, from a fresh Debian 12 machine (as root).
#   make run    set up, then open the console (demo fleet when there is no config)
#   make test   set up, then run the whole suite (lint contracts, unit, functional, snapshots, integration)
#   make bench  set up, then print the benchmarks beside their baselines

SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
STAMPS := .make-stamps
TOOLS := $(STAMPS)/tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin

# Debian packages: libvirt-python's build, the daemon and hypervisor for integration tests and
# the lab, Prometheus and its exporter, sshd, guest-image tools, and rsvg-convert for pictures.
APT_PACKAGES := pkg-config gcc libvirt-dev libvirt-daemon libvirt-daemon-driver-qemu \
	libvirt-clients qemu-system-x86 prometheus prometheus-libvirt-exporter openssh-server \
	busybox-static cpio tmux librsvg2-bin \
	qemu-utils

.PHONY: run test bench lint setup clean

run: setup
	$(BIN)/novacron $(ARGS)

test: setup
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/pytest -q -p no:cacheprovider $(PYTEST_ARGS)

bench: setup
	$(BIN)/python -m tests.bench $(ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

setup: $(STAMPS)/apt $(STAMPS)/venv

$(STAMPS)/apt:
	@mkdir -p $(STAMPS)
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "novacron: missing Debian packages: $$missing (run 'sudo apt-get install $$missing' or run make as root)" >&2; exit 1; fi; \
		echo "Installing Debian packages: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@touch $@

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q uv==$(UV_VERSION)

$(STAMPS)/venv: $(UV) pyproject.toml uv.lock $(STAMPS)/apt
	$(UV) sync --locked --python $(PYTHON) --quiet
	@touch $@

clean:
	rm -rf $(VENV) $(STAMPS)
