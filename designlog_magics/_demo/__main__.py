"""``python -m designlog_magics._demo``: the same as ``python -m designlog_magics.demo``."""

import sys

from .cli import main

sys.exit(main())
