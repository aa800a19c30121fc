# liftgwas: `make run` runs the default study end to end, `make test` runs every test.
# Both install what they need first: Debian packages when run as root (the compiler among
# them, which the venv's source-only packages need), then the venvs.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# The GWAS-SSF validator's own venv (tests only; its pins clash with the workflow's, see envs/gwas-ssf.lock)
TOOLS := .tools/gwas-ssf
TOOLS_INSTALLED := $(TOOLS)/.installed

CORES ?= all

.PHONY: run test report lint lock system-deps venv tools clean

# profiles/local sets the local core count (profiles/default, the workflow profile of every
# run, must not: `cores` caps each rule's threads, cluster jobs included)
run: system-deps venv
	$(BIN)/snakemake --profile profiles/local --cores $(CORES)
	$(BIN)/snakemake --profile profiles/local --cores $(CORES) --report results/report.html
	@echo "Done: results/recall/table1.md, results/figures/, report at results/report.html"

test: system-deps venv tools
	$(BIN)/python -m pytest tests

report: venv
	$(BIN)/snakemake --profile profiles/local --report results/report.html

lint: venv
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint

venv: $(INSTALLED)

$(INSTALLED): envs/requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --no-deps -r envs/requirements.lock
	# pip check: every pinned package's own requirements are met by the lock
	$(BIN)/pip check
	touch $@

tools: $(TOOLS_INSTALLED)

$(TOOLS_INSTALLED): envs/gwas-ssf.lock
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --no-deps -r envs/gwas-ssf.lock
	$(TOOLS)/bin/pip check
	touch $@

# Debian packages (plink2, slurm-wlm, munge); needs root, skipped with a note otherwise.
system-deps:
	@missing=$$(for p in $$(grep -v '^#' envs/apt-packages.txt); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
	    echo "NOTE: not root, cannot install Debian packages: $$missing (tests needing them will skip)"; exit 0; fi; \
	echo "Installing Debian packages: $$missing"; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing

# Re-resolve the pinned lock from envs/requirements.in.
lock:
	rm -rf /tmp/liftgwas-lock && $(PYTHON) -m venv /tmp/liftgwas-lock
	/tmp/liftgwas-lock/bin/pip install --quiet -r envs/requirements.in
	/tmp/liftgwas-lock/bin/pip freeze --all | grep -v '^pip==' > envs/requirements.lock

clean:
	rm -rf results .snakemake
