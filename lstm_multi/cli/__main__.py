"""``python -m lstm_multi.cli ARGS``: the same as ``lstm-multi ARGS`` (torchrun starts workers this way)."""

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
