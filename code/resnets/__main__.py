"""``python -m resnets``: see ``resnets.cli`` or run ``python -m resnets --help``."""

import sys

from .cli import main

sys.exit(main())
