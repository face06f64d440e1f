# `make train`: train the Time Machine LM (torch, d2l's recipe), print perplexity and a sample.
# `make test`:  the whole test suite, one tox environment per framework, then `cross`
#               (checkpoints and parity between frameworks and environments), then
#               `notebooks` (every notebook executed at quick size).
# Both bootstrap tox into .venv-tox; tox builds every other environment itself.
PYTHON ?= python3
TOX := .venv-tox/bin/tox

.PHONY: train test
train: $(TOX)
	$(TOX) run -e train -- $(ARGS)

test: $(TOX)
	$(TOX) run -e torch,tensorflow,jax,mxnet,cross,notebooks

$(TOX):
	$(PYTHON) -m venv .venv-tox
	.venv-tox/bin/pip install -q "tox==4.67.15"
