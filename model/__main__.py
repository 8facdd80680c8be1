"""``python -m model``: the command line (see ``model.cli.main``)."""

import sys

from model.cli.main import main

sys.exit(main())
