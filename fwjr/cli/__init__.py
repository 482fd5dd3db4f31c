"""The `fwjr` command (Typer): its command groups and their terminal output.

`main` holds the commands, `ops` the operator-database group, `generate` the generator's
options, `tables` and `progress` what a terminal shows (rich; silent in pipes and files).
"""
