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
VCSIM := $(TOOLS)/vcsim
VCSIM_BUILD := $(STAMPS)/vcsim-build
VCSIM_APT := golang-go dpkg-dev golang-github-vmware-govmomi-dev
VCSIM_DEB_SRC := /etc/apt/sources.list.d/novacron-deb-src

# Debian packages: libvirt-python's build, the daemon and hypervisor for integration tests and
# the lab, Prometheus and its exporter, sshd, guest-image tools, rsvg-convert for pictures, and
# PostgreSQL 15 (the team-mode store: its server for tests and the lab, libpq for psycopg),
# chromium (headless) for the test of the wall in a browser.
APT_PACKAGES := pkg-config gcc libvirt-dev libvirt-daemon libvirt-daemon-driver-qemu \
	libvirt-clients qemu-system-x86 prometheus prometheus-libvirt-exporter openssh-server \
	busybox-static cpio tmux librsvg2-bin \
	qemu-utils \
	postgresql-15 libpq5 \
	chromium

.PHONY: run test bench lint setup clean pictures

run: setup
	$(BIN)/novacron $(ARGS)

test: setup $(VCSIM)
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/pytest -q -p no:cacheprovider $(PYTEST_ARGS)

bench: setup $(VCSIM)
	$(BIN)/python -m tests.bench $(ARGS)

# The README's pictures (docs/*.png): the demo with its Prometheus, each main screen.
pictures: setup
	$(BIN)/python -m tests.pictures

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

# vcsim, VMware's vCenter simulator (govmomi), for the vSphere tests and bench. Debian 12 ships
# govmomi's libraries but leaves vcsim's main package out of the -dev package, so it is built
# from Debian's source package, offline, in GOPATH mode against the packaged libraries: a
# deb-src entry for bookworm main is added (a copy of the machine's own bookworm entry, same
# mirror and Signed-By) when there is none. Nothing is fetched from outside Debian's mirror.
$(VCSIM): | $(STAMPS)/apt
	@missing=$$(for p in $(VCSIM_APT); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	has_src=$$(apt-get indextargets --format '$$(RELEASE) $$(COMPONENT)' 'Created-By: Sources' | grep -x 'bookworm main'); \
	if { [ -n "$$missing" ] || [ -z "$$has_src" ]; } && [ "$$(id -u)" != 0 ]; then \
		echo "novacron: building vcsim needs root (Debian packages: $${missing:-none missing}; a deb-src entry for bookworm main)" >&2; exit 1; fi; \
	if [ -z "$$has_src" ]; then \
		read -r site entry < <(apt-get indextargets --format '$$(SITE) $$(RELEASE) $$(COMPONENT) $$(SOURCESENTRY)' \
			'Created-By: Packages' | awk '$$2 == "bookworm" && $$3 == "main" {print $$1, $$4; exit}'); \
		[ -n "$$site" ] || { echo "novacron: no apt source for bookworm main to copy" >&2; exit 1; }; \
		file=$${entry%:*}; \
		echo "Adding a deb-src entry for bookworm main ($$site) in $(VCSIM_DEB_SRC).*"; \
		case "$$file" in \
		*.sources) awk -v site="$${site%/}" 'BEGIN {RS = ""; FS = "\n"} \
			{ for (i = 1; i <= NF; i++) { u = $$i " "; gsub(/\/ /, " ", u); if (u ~ /^URIs:/ && index(u, " " site " ")) ok = NR } } \
			ok == NR && !done { done = 1; for (i = 1; i <= NF; i++) { if ($$i ~ /^Types:/) $$i = "Types: deb-src"; \
			else if ($$i ~ /^Suites:/) $$i = "Suites: bookworm"; else if ($$i ~ /^Components:/) $$i = "Components: main"; print $$i } }' \
			"$$file" > $(VCSIM_DEB_SRC).sources ;; \
		*) sed -n "$${entry##*:}s/^[[:space:]]*deb[[:space:]]/deb-src /p" "$$file" > $(VCSIM_DEB_SRC).list ;; \
		esac; \
		apt-get update -qq; \
	fi; \
	if [ -n "$$missing" ]; then echo "Installing Debian packages:" $$missing; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi
	rm -rf $(VCSIM_BUILD) && mkdir -p $(VCSIM_BUILD)/src/github.com/vmware $(dir $@)
	cd $(VCSIM_BUILD) && apt-get source golang-github-vmware-govmomi >source.log 2>&1 || { cat $(VCSIM_BUILD)/source.log >&2; exit 1; }
	mv $(VCSIM_BUILD)/golang-github-vmware-govmomi-*/ $(VCSIM_BUILD)/src/github.com/vmware/govmomi
	GO111MODULE=off GOPATH=$(abspath $(VCSIM_BUILD)):/usr/share/gocode GOCACHE=$(abspath $(VCSIM_BUILD))/cache \
		CGO_ENABLED=0 go build -o $@ github.com/vmware/govmomi/vcsim
	rm -rf $(VCSIM_BUILD)

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q uv==$(UV_VERSION)

$(STAMPS)/venv: $(UV) pyproject.toml uv.lock $(STAMPS)/apt
	$(UV) sync --locked --python $(PYTHON) --quiet
	@touch $@

clean:
	rm -rf $(VENV) $(STAMPS)
