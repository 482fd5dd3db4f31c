"""The Maven poms of the JVM tools as package data: the build installs this folder as fwjr.poms (setup.py).

The file makes the folder a regular package, which an editable install needs to map it into fwjr.
"""
