# dislab: the README's two commands live here.
#   make demo   install (local .venv) and run the main job
#   make test   install (local .venv) and run the whole test suite
# The dev/CI install takes the CPU wheel of torch through requirements/constraints.txt
# (on these machines it lies in /opt/wheels); pyproject itself admits any torch 2.x.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP_FLAGS := -c requirements/constraints.txt $(if $(wildcard /opt/wheels),--find-links /opt/wheels,)
STAMP  := $(VENV)/.dislab-installed
DEMO_OUT ?= runs/demo

.PHONY: install demo test browser clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements/constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q $(PIP_FLAGS) -e '.[dev]'
	touch $@

demo: install
	$(BIN)/dislab demo --out $(DEMO_OUT)

# The report test opens report.html in a real headless Chromium (Debian's package). Installing it
# needs root and the Debian mirror; where that fails the browser tests skip and say why.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1) \
	  || echo "note: chromium could not be installed; browser tests will skip"; } ; true

test: install browser
	$(BIN)/python -m pytest -q --durations=15

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build dist *.egg-info
