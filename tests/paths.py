"""Where the tests find the repository and the shared reference data (beside the clone, as in CI)."""

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REFERENCE = REPO.parent / "shared" / "reference"
WMARCHIVE = REFERENCE / "wmarchive"
