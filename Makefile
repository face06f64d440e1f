# `make train`:    train the Time Machine LM (d2l's recipe) on $(BACKEND), print perplexity and a sample.
# `make generate`: continue a prefix with the model `make train` saved (runs/latest).
# `make test`:     the whole test suite, one tox environment per framework, then `cross`
#                  (checkpoints and parity between frameworks and environments), then
#                  `notebooks` (every notebook executed at quick size).
# All bootstrap tox into .venv-tox; tox builds the framework's environment (.tox/$(BACKEND)),
# with the versions pinned in constraints/, and installs this package there.
#   make train BACKEND=jax ARGS="--impl concise --epochs 10"
#   make generate ARGS='--prefix "the time machine" --temperature 0.8'
PYTHON ?= python3
BACKEND ?= torch
ARGS ?=
TOX := .venv-tox/bin/tox
CLI := .tox/$(BACKEND)/bin/lstm-multi
BACKENDS := torch tensorflow jax mxnet

.PHONY: train generate test env
train: env
	$(CLI) train --backend $(BACKEND) $(ARGS)

generate: env
	$(CLI) generate --backend $(BACKEND) --checkpoint runs/latest/model.safetensors $(ARGS)

test: $(TOX)
	$(TOX) run -e torch,tensorflow,jax,mxnet,cross,notebooks

env: $(TOX)
	@case " $(BACKENDS) " in *" $(BACKEND) "*) ;; \
	  *) echo "BACKEND must be one of: $(BACKENDS) (got '$(BACKEND)')" >&2; exit 2;; esac
	$(TOX) run -e $(BACKEND) --notest -q

$(TOX):
	$(PYTHON) -m venv .venv-tox
	.venv-tox/bin/pip install -q "tox==4.67.15"
