"""The chaos runs reuse the end-to-end shop rig (tests/e2e/e2e_shop_rig.py)."""

from __future__ import annotations

import sys
from pathlib import Path

# pytest puts each test folder on sys.path by itself; the rig's folder is a sibling.
_E2E = str(Path(__file__).resolve().parent.parent / "e2e")
if _E2E not in sys.path:
    sys.path.insert(0, _E2E)
