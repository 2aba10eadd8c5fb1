"""``python -m designlog_magics``: the ``designlog`` command."""

import sys

from .cli import main

sys.exit(main())
