"""``python -m designlog_magics.demo data DIR | run --workspace DIR``: see ``_demo.cli``."""

import sys

from ._demo.cli import main

if __name__ == "__main__":
    sys.exit(main())
