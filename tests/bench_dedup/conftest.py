"""The benchmark helpers live in bench/, a folder of scripts rather than an installed
package: put the repository root on sys.path so `bench.*` imports as the scripts see it."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
