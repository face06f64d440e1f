# `make train`:    train the Time Machine LM (d2l's recipe) on $(BACKEND), print perplexity and a sample.
# `make generate`: continue a prefix with the model `make train` saved (runs/latest).
# `make test`:     the suite a contributor runs before a pull request: `lint` (ruff, mypy; fails in
#                  seconds), `package` (the wheel built, installed into a fresh venv and run), `numpy`
#                  (the framework-neutral tests), one tox environment per framework, then `cross`
#                  (checkpoints and parity between frameworks and environments), `notebooks` (every
#                  notebook executed at quick size) and `docs` (the book in headless Chromium).
# `make test-all`: the whole suite, what CI runs: `make test` with the slow tests too (several framework
#                  processes at once: data-parallel runs, the benchmark's subprocesses).
# `make lint`:     ruff check, ruff format --check and mypy only.
# `make docs`:     the book, a static site in site/ (open site/index.html); `make test` also drives it in
#                  headless Chromium (tox -e docs: tests/test_book.py).
# All bootstrap tox (with tox-uv: uv installs the environments) into .venv-tox; tox builds the framework's environment (.tox/$(BACKEND)),
# with the versions pinned in constraints/, and installs this package there.
#   make train BACKEND=jax ARGS="--impl concise --epochs 10"
#   make generate ARGS='--prefix "the time machine" --temperature 0.8'
PYTHON ?= python3
BACKEND ?= torch
ARGS ?=
TOX := .venv-tox/bin/tox
CLI := .tox/$(BACKEND)/bin/lstm-multi
BACKENDS := torch tensorflow jax mxnet

ENVS := package,numpy,torch,tensorflow,jax,mxnet,cross,notebooks,docs
# the book's build, as tox -e docs runs it before its test (-W -n: a broken reference or a missing figure fails)
SPHINX_BUILD := sphinx-build -b html -W --keep-going -n -q -d build/book-doctrees -c docs . site

.PHONY: train generate test lint env docs
train: env
	$(CLI) train --backend $(BACKEND) $(ARGS)

generate: env
	$(CLI) generate --backend $(BACKEND) --checkpoint runs/latest/model.safetensors $(ARGS)

test: $(TOX)
	$(TOX) run -e lint
	$(TOX) run -e $(ENVS)

test-all: $(TOX)
	$(TOX) run -e lint
	LSTM_MULTI_TEST_SLOW=1 $(TOX) run -e $(ENVS)

lint: $(TOX)
	$(TOX) run -e lint

docs: $(TOX)
	$(TOX) run -e docs --notest -q
	.tox/docs/bin/$(SPHINX_BUILD)
	@echo "the book: site/index.html (open it, or serve it: python3 -m http.server -d site)"

env: $(TOX)
	@case " $(BACKENDS) " in *" $(BACKEND) "*) ;; \
	  *) echo "BACKEND must be one of: $(BACKENDS) (got '$(BACKEND)')" >&2; exit 2;; esac
	$(TOX) run -e $(BACKEND) --notest -q

$(TOX):
	$(PYTHON) -m venv .venv-tox
	.venv-tox/bin/pip install -q "tox==4.67.16" "tox-uv==1.37.1"
