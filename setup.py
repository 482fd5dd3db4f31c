"""Compiles the per-FWJR core with mypyc at install; pyproject.toml holds everything else.

The .py files stay the one implementation: mypyc turns each into a C extension that sits beside
it (`pip install -e .` builds them in place), and fwjr/__init__.py falls back to the .py files
when a source is newer than its extension. docs/merge.md ("Compiled with mypyc") has the figures.
"""

from mypyc.build import mypycify
from setuptools import setup

COMPILED = ["fwjr/values.py", "fwjr/bucket.py", "fwjr/merge.py", "fwjr/aggregate.py", "fwjr/reader.py"]

# Imports beyond the compiled modules are read for their types only: their own type errors, or
# third-party packages absent from the build environment, must not stop the build.
setup(ext_modules=mypycify(["--ignore-missing-imports", "--follow-imports=silent", *COMPILED], group_name="fwjr_core"))
