"""Where the project's files are."""

from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]
ROOT = PACKAGE.parent
SCENARIOS = ROOT / "scenarios"
DATA = PACKAGE / "data"
