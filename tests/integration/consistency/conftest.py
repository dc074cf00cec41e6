"""The integration tests reuse the unit tests' declared system and seed data."""

from __future__ import annotations

import sys
from pathlib import Path

# One declaration of the test system for both suites (tests/ has no packages).
sys.path.insert(0, str(Path(__file__).parents[2] / "unit" / "consistency"))
