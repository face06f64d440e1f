"""One sub-package per framework, each with the same files and names: lstm.py, lm.py, ops.py."""
