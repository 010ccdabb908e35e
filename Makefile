# Set-up and the two commands the README starts with. Everything installs into .venv from the
# package registries; torch is pinned (torch==2.13.0, a CPU wheel) and only the [train] extra pulls it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
EXAMPLE := 市民来电反映：朝阳区望京街道望京西园三区小区内有人私搭乱建，占用消防通道，希望相关部门尽快核实处理。来电人电话13812345678。

.PHONY: run test lint bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.runtime: setup.cfg pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.dev: setup.cfg pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e '.[dev,train]'
	touch $@ $(VENV)/.runtime

run: $(VENV)/.runtime
	$(VENV)/bin/dispatch-nlp dispatch --pretty "$(EXAMPLE)"

test: $(VENV)/.dev
	$(PY) -m pytest -q tests

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check dispatch_nlp training catalog benchmarks tests

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .hypothesis
