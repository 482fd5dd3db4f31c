"""Compiles the per-FWJR core with mypyc and maps the top-level sql/ and tools/ into the package.

The .py files stay the one implementation: mypyc turns each into a C extension that sits beside
it (`pip install -e .` builds them in place), and fwjr/__init__.py falls back to the .py files
when a source is newer than its extension. docs/merge.md ("Compiled with mypyc") has the figures.

The DDL (sql/*.sql) and the Maven poms (tools/*/pom.xml) keep their one copy at the top of the
repository and ship as the data packages fwjr.sql and fwjr.poms (package_dir below), which
fwjr/resources.py finds with importlib.resources in a wheel and in an editable checkout alike.
pyproject.toml holds everything else, including which files of them are package data.
"""

from mypyc.build import mypycify
from setuptools import find_packages, setup

COMPILED = ["fwjr/values.py", "fwjr/bucket.py", "fwjr/merge.py", "fwjr/aggregate.py", "fwjr/reader.py"]
DATA_PACKAGES = {"fwjr.sql": "sql", "fwjr.poms": "tools"}

setup(
    packages=[*find_packages(include=["fwjr*", "streams*", "batch*", "dashboard*"]), *DATA_PACKAGES],
    package_dir=DATA_PACKAGES,
    # Imports beyond the compiled modules are read for their types only: their own type errors, or
    # third-party packages absent from the build environment, must not stop the build.
    ext_modules=mypycify(["--ignore-missing-imports", "--follow-imports=silent", *COMPILED], group_name="fwjr_core"),
)
