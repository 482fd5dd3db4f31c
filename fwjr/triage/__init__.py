"""Triage: for every failing workflow, the decision an operator has to make, and its evidence.

rules (the remedy rules file), sites (site status from the jobs), evidence (what the store says
about each failing workflow), decide (the pure decision), similar (workflows failing alike) and
report (the decision per workflow for a range, what the CLI, the API and the pages call).
docs/triage.md describes them.
"""
