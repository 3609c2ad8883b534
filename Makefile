# Everything runs from a virtual environment in .venv that the first target needing it creates.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
MOCK_STAMP := $(VENV)/.installed-mock
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
HOST   ?= 127.0.0.1
PORT   ?= 8080
# The oldest Python the project claims (requires-python): the provider's and the mock's tests
# run on it too, from a second environment. pyenv's 3.10 unless OLDEST_PYTHON says otherwise.
OLDEST_PYTHON ?= $(shell p=$$(pyenv prefix "$$(pyenv latest 3.10 2>/dev/null)" 2>/dev/null) && \
	echo "$$p/bin/python3" || command -v /usr/bin/python3.10)
OLDEST_VENV   := .venv-oldest
OLDEST_TESTS  := $(addprefix tests/,\
	provider/test_http.py provider/test_properties.py provider/test_limits.py \
	provider/test_decoding.py provider/test_aichat_command.py provider/test_framing.py \
	provider/test_raw_answers.py \
	contract/test_cases_socketless.py contract/test_cases_live.py \
	mock/core/test_fault_catalogue.py mock/core/test_engine.py mock/core/test_journal.py \
	mock/core/test_stores.py mock/core/test_matching.py mock/core/test_selection_model.py \
	mock/core/test_selector.py mock/serve/test_hostile_patterns.py \
	mock/web/test_site_routes.py \
	kit/test_parity.py kit/test_scenarios.py kit/test_assertions.py kit/test_remote_client.py \
	distribution/test_floors.py)
# When this make started, before any install: make bench reports the time its installs took.
STARTED := $(shell date +%s)

.PHONY: install test test-oldest lint serve demo bench soak wrk java browser screenshots mutants mutants-mock history clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@# The distribution was called aichat before 0.2: an environment made then drops it first.
	$(BIN)/python -m pip uninstall --quiet --yes aichat 2>/dev/null || true
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# make demo and make serve run the mock and the aichat command alone: the same .venv with the
# mock extra only (Flask, jsonschema, httptools, uvloop), not the dev extra's test tools, so a
# first demo from a fresh clone waits seconds, not a minute. An environment make install made
# has it all already; make install or make test later adds the rest to this one. The files are
# not byte-compiled at install: Python does it for the modules the demo imports, as it runs.
$(MOCK_STAMP): pyproject.toml
	@if [ -f $(STAMP) ] && [ $(STAMP) -nt pyproject.toml ]; then touch $@; else \
		set -x; [ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV); \
		$(BIN)/python -m pip install --quiet --no-compile -e '.[mock]' && touch $@; fi

# Debian's Chromium for the browser tests (Playwright's own browser download is not used), and
# certutil (libnss3-tools), with which a test has Chromium trust the mock's CA as a user would.
browser:
	@[ -x /usr/bin/chromium ] && [ -x /usr/bin/certutil ] || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium libnss3-tools \
		>/dev/null; }

# Nothing may be skipped here: a missing dependency fails (tests/conftest.py).
test: export AICHAT_NO_SKIPS = 1
# One test process per core (pytest-xdist): the suite runs in about half the time on 2 cores;
# then the tests marked serial (pyproject.toml; all in tests/contract), in one process.
test: $(STAMP) browser curl history-envs lint
	$(BIN)/python -m pytest -n auto -m 'not serial'
	$(BIN)/python -m pytest -q -p no:xdist -m serial tests/contract
	$(MAKE) --no-print-directory test-oldest

# With the oldest versions claimed, too: each dependency of the provider, the mock and the
# fixtures at exactly its lower bound in pyproject.toml (tests/distribution/floors.py).
$(OLDEST_VENV)/.installed: pyproject.toml tests/distribution/floors.py $(STAMP)
	@[ -x "$(OLDEST_PYTHON)" ] || { echo "Python 3.10 not found (pyenv install 3.10, or set \
	OLDEST_PYTHON): the tests run on the oldest Python the project claims"; exit 1; }
	rm -rf $(OLDEST_VENV)
	$(OLDEST_PYTHON) -m venv $(OLDEST_VENV)
	$(BIN)/python tests/distribution/floors.py > $(OLDEST_VENV)/floors.txt
	$(OLDEST_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(OLDEST_VENV)/bin/python -m pip install --quiet -c $(OLDEST_VENV)/floors.txt -e '.[testing]' \
		hypothesis pytest-timeout pytest-xdist brotli
	touch $@

# The provider's and the mock's tests on the oldest Python and dependencies the project claims.
test-oldest: export AICHAT_AT_FLOORS = 1
test-oldest: $(OLDEST_VENV)/.installed
	$(OLDEST_VENV)/bin/python -m pytest -q -n auto -p no:cacheprovider $(OLDEST_TESTS)

# Refresh the README's screenshots of the chat page and the inspector: the browser test that
# plays the scripted demo they show saves them here, with the version the pages showed in
# their metadata (tests/docs/test_screenshots.py holds it to the package's).
screenshots: $(STAMP) browser
	AICHAT_SCREENSHOT_DIR=docs/screenshots $(BIN)/python -m pytest -q -p no:cacheprovider \
		tests/mock/web/test_pages_in_chromium.py::test_the_readme_screenshots

lint: $(STAMP)
	$(BIN)/ruff check aichat mock_server tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

serve: $(MOCK_STAMP)
	$(BIN)/python -m mock_server --host $(HOST) --port $(PORT)

demo: $(MOCK_STAMP)
	$(BIN)/python -m mock_server.serve.demo

# An OpenAI client, g4f, the provider and the site on this machine: the mock and g4f's API server
# with the provider in it (port 1337), one question through the official openai SDK and one
# through curl (Debian's, where it is missing), the requests the mock recorded.
.PHONY: demo-api curl
demo-api: $(STAMP) curl
	$(BIN)/python -m mock_server.serve.demo_api

# Debian's curl, where it is missing: make demo-api asks with it, and the tests of the mock as
# a proxy run it as a client.
curl:
	@command -v curl >/dev/null || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq curl >/dev/null; }

# Debian's wrk drives the load runs; where it cannot be installed the benchmarks fall back to
# their own Python load generator and say so in their table.
wrk:
	@[ -x /usr/bin/wrk ] || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq wrk >/dev/null; } || \
		echo "wrk could not be installed: the benchmarks use their Python load generator"

# WireMock, the bench's reference, runs on Java: Debian's headless runtime where java is missing.
java:
	@command -v java >/dev/null || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq default-jre-headless \
		>/dev/null; } || echo "Java could not be installed: the bench runs without WireMock"

# Ratios of the provider and the mock measured in one run (it also installs Stoplight Prism and
# WireMock from npm into bench/.node, and py-spy, and times make test); rewrites
# docs/benchmarks.md.
# py-spy samples the mock for the profile make bench publishes (bench/profile.py).
PYSPY_STAMP := $(VENV)/.py-spy-installed

$(PYSPY_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet 'py-spy>=0.3.14'
	touch $@

bench: $(STAMP) $(PYSPY_STAMP) wrk java
	$(BIN)/python -m bench.report --started $(STARTED)

# Bounded reliability runs of the mock and the provider; summarised in docs/benchmarks.md.
soak: $(STAMP)
	$(BIN)/python -m bench.soak --doc

# Every distinct Aichat a g4f release shipped, graded unchanged through the intercept beside
# ours: rewrites docs/history.md. The wheels and environments are cached in .history/.
# The g4f releases whose cards make test checks (tests/grade/expected/g4f-VERSION.json),
# fetched and installed into .history/ before the tests run, which fetch nothing.
GRADED_RELEASES := $(patsubst tests/grade/expected/g4f-%.json,%,$(wildcard tests/grade/expected/g4f-*.json))
.PHONY: history-envs
history-envs: $(STAMP)
	$(BIN)/python -m mock_server.grade.history --cache .history --prepare $(GRADED_RELEASES)

history: $(STAMP)
	$(BIN)/python -m mock_server.grade.history --cache .history --doc docs/history.md

# Mutation testing, not part of make test, in two parts that each stay under 30 minutes on 2
# cores (together they would not): make mutants runs mutmut over the provider's module (18
# minutes measured); make mutants-mock runs mutmut over the mock's core (the fault catalogue,
# replies, journal, journal file and engine: 10 minutes), then the hand-made one-line changes
# to the constants mutmut does not reach, the provider's and the mock's
# (bench/constant_mutants.py, about 10 minutes). [tool.mutmut] in pyproject.toml names the
# files and tests of both; each part runs only its own mutants against its own tests
# (AICHAT_MUTANTS), in a fresh mutants/. Each rewrites its sections of docs/testing.md; a
# survivor without a reason in bench/survivors.py, or a constant change no test catches,
# fails the target.
MUTMUT_STAMP := $(VENV)/.mutmut-installed

$(MUTMUT_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet 'mutmut>=3.8.1,<4'
	touch $@

mutants: $(MUTMUT_STAMP)
	rm -rf mutants
	AICHAT_MUTANTS=provider CI=1 $(BIN)/mutmut run --max-children 2 'aichat.*'
	$(BIN)/python -m bench.mutation_report --part provider --doc docs/testing.md

mutants-mock: $(MUTMUT_STAMP)
	rm -rf mutants
	AICHAT_MUTANTS=mock CI=1 $(BIN)/mutmut run --max-children 2 'mock_server.core.*'
	$(BIN)/python -m bench.mutation_report --part mock --doc docs/testing.md; report=$$?; \
	$(BIN)/python -m bench.constant_mutants --doc docs/testing.md && [ $$report = 0 ]

clean:
	rm -rf $(VENV) $(OLDEST_VENV) mutants build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
