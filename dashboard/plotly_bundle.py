"""The board's plotly.js: the "cartesian" partial bundle from the npm registry, installed as an asset.

Dash's dcc.Graph otherwise loads the full plotly.js (4.8 MB), whose evaluation took ~1 s of the
browser's main thread on a cold load here, more than the rest of the page. The board draws only
scatter lines, bars, pies and heatmaps, all in the cartesian bundle (1.5 MB). dcc.Graph uses
`window.Plotly` when a script has defined it, so the bundle only has to be one of the assets Dash
includes in every page (Dash's documented way to use a partial bundle). It is fetched at
install (scripts/setup.sh, the Dockerfile), not committed: the same version as the plotly.js that
the installed plotly (Python) writes figures for, checked against the integrity the registry
publishes. Without it the board still works, with the full bundle.

    python -m dashboard.plotly_bundle      # fetch it unless present
"""

from __future__ import annotations

import base64
import hashlib
import io
import sys
import tarfile
import urllib.request
from pathlib import Path

import orjson
from plotly.offline import get_plotlyjs_version

PACKAGE = "plotly.js-cartesian-dist-min"
REGISTRY = "https://registry.npmjs.org"
ASSETS = Path(__file__).resolve().parent / "assets"
MEMBER = "package/plotly-cartesian.min.js"
# The trace types the cartesian bundle registers (its package README); a figure of any other type
# would not draw. tests/unit/test_plotly_bundle.py checks every figure the board builds against it.
TRACE_TYPES: frozenset[str] = frozenset(
    ("bar", "box", "contour", "heatmap", "histogram", "histogram2d", "histogram2dcontour", "image", "pie", "scatter", "scatterternary", "violin")
)


def bundle_path(version: str | None = None) -> Path:
    """Where the bundle of `version` (default: the installed plotly's plotly.js) is kept."""
    return ASSETS / f"plotly-cartesian-{version or get_plotlyjs_version()}.min.js"


def installed() -> Path | None:
    """The bundle matching the installed plotly, if it has been fetched."""
    path = bundle_path()
    return path if path.is_file() else None


def fetch(version: str | None = None, timeout: float = 60) -> Path:
    """Download, verify and install the bundle; stale versions are removed so Dash serves one."""
    version = version or get_plotlyjs_version()
    target = bundle_path(version)
    if target.is_file():
        return target
    metadata_url = f"{REGISTRY}/{PACKAGE}/{version}"
    with urllib.request.urlopen(metadata_url, timeout=timeout) as response:
        dist = orjson.loads(response.read())["dist"]
    with urllib.request.urlopen(dist["tarball"], timeout=timeout) as response:
        tarball = response.read()
    _check_integrity(tarball, dist["integrity"], dist["tarball"])
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        member = archive.extractfile(MEMBER)
        if member is None:
            raise ValueError(f"{dist['tarball']}: no file {MEMBER} in the package")
        script = member.read()
    for stale in ASSETS.glob("plotly-cartesian-*.min.js"):
        stale.unlink()
    partial = target.with_suffix(".part")
    partial.write_bytes(script)
    partial.rename(target)
    return target


def _check_integrity(data: bytes, integrity: str, source: str) -> None:
    """npm's Subresource Integrity string (`sha512-<base64>`) must match the bytes."""
    algorithm, _, expected = integrity.partition("-")
    if algorithm not in ("sha512", "sha384", "sha256"):
        raise ValueError(f"{source}: unsupported integrity algorithm {algorithm!r} in {integrity!r}")
    actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if actual != expected:
        raise ValueError(f"{source}: {algorithm} is {actual}, the registry says {expected}")


def main() -> int:
    try:
        path = fetch()
    except (OSError, ValueError, KeyError, tarfile.TarError) as error:
        print(f"plotly bundle: not installed ({error}); the board will load the full plotly.js", file=sys.stderr)
        return 1
    print(f"plotly bundle: {path.relative_to(ASSETS.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
