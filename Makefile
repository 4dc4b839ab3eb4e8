# The two commands a new user needs: `make demo` and `make test`.
# Both run scripts/setup.sh first when .venv is missing or older than the dependency files.
VENV := .venv
STAMP := $(VENV)/.setup-stamp
PY := $(VENV)/bin/python
DEMO_ARGS ?=
PYTEST_ARGS ?=

.PHONY: demo test setup doctor bench clean-venv

$(STAMP): pyproject.toml constraints.txt scripts/setup.sh
	bash scripts/setup.sh

setup: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/semcom demo $(DEMO_ARGS)

test: $(STAMP)
	@$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests: an empty suite is a defect" >&2; exit 1; fi; \
	exit $$rc

doctor: $(STAMP)
	$(VENV)/bin/semcom doctor

clean-venv:
	rm -rf $(VENV)
