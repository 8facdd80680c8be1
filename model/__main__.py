"""``python -m model``: the command line (see ``model.cli``)."""

import sys

from model.cli import main

sys.exit(main())
