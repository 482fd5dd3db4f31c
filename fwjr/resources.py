"""The files the package ships besides its code: the ClickHouse DDL and the Maven poms.

Their one copy is at the top of the repository (sql/, tools/); the build maps those folders into
the package as fwjr.sql and fwjr.poms (setup.py), and importlib.resources finds them wherever the
package is installed: a wheel in a virtual environment or an image, or the checkout itself.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

SQL_PACKAGE = "fwjr.sql"
POMS_PACKAGE = "fwjr.poms"


def folder(package: str) -> Path:
    """The folder of a data package on disk.

    Maven reads its pom from a file and the migration runner lists the DDL folder, so a resource
    inside a zip would not do; the package is never zipped (its mypyc extensions cannot be).
    """
    found = files(package)
    if not isinstance(found, Path):
        raise RuntimeError(f"{package} is not a folder on disk ({found!r}); install fwjr-monitor unzipped")
    return found


def sql_dir() -> Path:
    """The folder of the DDL migrations (sql/*.sql in the repository)."""
    return folder(SQL_PACKAGE)


def pom(tool: str) -> Path:
    """The Maven pom that resolves the jars of one JVM tool: kafka, hadoop or spark."""
    return folder(POMS_PACKAGE) / tool / "pom.xml"
