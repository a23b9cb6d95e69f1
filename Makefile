# hybridops.talos — one entry point for setup, demo, tests and benchmarks.
# Every target that needs tools depends on `setup`, which is idempotent and quick when nothing changed.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(VENV)/collections
export ANSIBLE_ROLES_PATH := $(CURDIR)/roles
export ANSIBLE_PYTHON_INTERPRETER := $(BIN)/python
export ANSIBLE_LOCALHOST_WARNING := false
PYTEST := $(BIN)/python -m pytest

.PHONY: help setup demo test test-sanity test-lint test-yamllint test-molecule test-unit \
        test-integration test-pytest build artifact-check changelog-lint docs-check bench bench-config bench-inventory bench-site bench-mesh bench-kube \
        bench-backup bench-upgrade drill-restore clean

help:
	@echo "make demo   - set everything up and run the main job against the local lab"
	@echo "make test   - set everything up and run every test suite"
	@echo "make test-unit|test-integration|test-sanity|test-lint|test-yamllint|test-molecule|docs-check"
	@echo "make bench  - run the benchmarks under benchmarks/"
	@echo "make drill-restore - the backup/restore drill against a lab of its own (run it under labrun)"

setup:
	@bash scripts/setup.sh

demo: setup
	@bash scripts/demo.sh

# The pytest suites run last so that the output ends with pytest's summary line.
test: setup test-sanity test-lint test-yamllint changelog-lint docs-check build artifact-check test-molecule test-pytest

test-sanity: setup
	@bash scripts/sanity.sh

test-lint: setup
	$(BIN)/ansible-lint --profile production --strict

test-yamllint: setup
	$(BIN)/yamllint --strict .

changelog-lint: setup
	$(BIN)/antsibull-changelog lint

docs-check: setup
	@bash scripts/docs_check.sh

build: setup
	@bash scripts/build_check.sh

# The built artifact passes galaxy-importer and antsibull-docs, installs cleanly and validates configs.
artifact-check: build
	@bash scripts/artifact_check.sh

test-molecule: setup
	@bash scripts/molecule.sh

test-unit: setup
	$(PYTEST) tests/unit

test-integration: setup
	$(PYTEST) tests/integration

# One pytest process, no xdist: the Talos lab suites start several node processes with fixed namespace
# names per suite, and one summary line then counts every test. The slowest tests are listed to show where the
# 45-minute budget goes.
test-pytest: setup
	$(PYTEST) --durations=25 tests/unit tests/integration

bench: setup
	@for b in benchmarks/bench_*.py; do [ -e "$$b" ] || continue; $(BIN)/python "$$b" || exit 1; done

bench-inventory: setup
	$(BIN)/python benchmarks/bench_inventory.py

bench-site: setup
	$(BIN)/python benchmarks/bench_site.py

bench-upgrade: setup
	$(BIN)/python benchmarks/bench_upgrade.py

bench-mesh: setup
	$(BIN)/python benchmarks/bench_mesh.py

bench-kube: setup
	$(BIN)/python benchmarks/bench_kube.py

bench-config: setup
	$(BIN)/python benchmarks/bench_config.py

bench-backup: setup
	$(BIN)/python benchmarks/bench_backup.py

# The restore drill (docs/backup-restore.md): back up, destroy etcd, refuse four bad sets, restore, compare.
# It is also part of `make test`; run it under the lab lock (labrun make drill-restore).
drill-restore: setup
	$(PYTEST) -s -p no:cacheprovider tests/integration/backup/test_drill.py

clean:
	rm -rf .cache .tmp tests/output *.tar.gz
