# Two commands do all the set-up on a fresh machine:
#   make demo   builds .venv and runs the main job: derive, train, compare and report on the embedded digits
#   make test   builds .venv and runs the test suite (what CI runs)
PY ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo test test-slow bench bench-sweeps clean

$(STAMP): pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(VENV)/bin/pip install -q -c constraints.txt -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/vaebound demo

# One pytest worker per core (pytest-xdist); work stealing keeps a module's tests together until a worker runs dry.
test: $(STAMP)
	$(VENV)/bin/python -m pytest -q -n auto --dist worksteal

test-slow: $(STAMP)
	$(VENV)/bin/python -m pytest -q -m slow

bench: $(STAMP)
	$(VENV)/bin/python benchmarks/bench_bounds.py
	$(VENV)/bin/python benchmarks/bench_recording.py
	$(VENV)/bin/python benchmarks/bench_paper_net.py
	$(VENV)/bin/python benchmarks/bench_curvature.py
	$(VENV)/bin/python benchmarks/bench_probes.py --unbudgeted

bench-sweeps: $(STAMP)
	$(VENV)/bin/python benchmarks/bench_ensemble.py
	$(VENV)/bin/python benchmarks/bench_sweep.py

clean:
	rm -rf $(VENV) build *.egg-info
