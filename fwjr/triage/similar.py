"""Similar workflows: failing in the same way, so one decision can be taken for all of them.

A workflow's error pattern is its step errors counted per (exit code, site, step type),
normalised to unit length; two workflows are similar when the cosine of their patterns is at
least the threshold (setting triage_similarity), as WorkflowWebTools clusters workflows by
their error tables. Groups are the connected sets of similar workflows.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from fwjr.triage.rules import step_type

Key = tuple[int, str, str]


def error_vectors(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[Key, float]]:
    """Workflow -> {(exit code, site, step type): step errors} from fwjr.store.evidence.error_patterns rows."""
    vectors: dict[str, dict[Key, float]] = defaultdict(lambda: defaultdict(float))
    for row in rows:
        vectors[row["workflow"]][(int(row["exit_code"]), row["site"], step_type(row["step"]))] += float(row["count"])
    return vectors


def similarity(vectors: Mapping[str, Mapping[Key, float]]) -> tuple[list[str], np.ndarray]:
    """The workflows (sorted) and their pairwise cosine similarities."""
    names = sorted(vectors)
    keys = sorted({key for vector in vectors.values() for key in vector})
    column = {key: i for i, key in enumerate(keys)}
    matrix = np.zeros((len(names), len(keys)))
    for row, name in enumerate(names):
        for key, value in vectors[name].items():
            matrix[row, column[key]] = value
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    unit = np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)
    return names, unit @ unit.T


def similar_workflows(vectors: Mapping[str, Mapping[Key, float]], threshold: float, limit: int = 10) -> dict[str, list[dict[str, Any]]]:
    """Workflow -> the other workflows at least `threshold` similar to it, most similar first."""
    names, cosines = similarity(vectors)
    found: dict[str, list[dict[str, Any]]] = {}
    for i, name in enumerate(names):
        order = np.argsort(-cosines[i], kind="stable")
        found[name] = [
            {"workflow": names[j], "similarity": round(float(cosines[i, j]), 3)}
            for j in order if j != i and cosines[i, j] >= threshold
        ][:limit]
    return found


def most_similar(vectors: Mapping[str, Mapping[Key, float]], name: str, threshold: float, limit: int = 10) -> list[dict[str, Any]]:
    """The workflows at least `threshold` similar to `name`, most similar first (as
    `similar_workflows` lists them): one row of the similarity matrix, for the workflow page.
    The whole matrix is N x N for N workflows (2,000 workflows: 1.7 s); one row costs a pass over
    the vectors."""
    mine = vectors.get(name)
    norm = math.sqrt(sum(v * v for v in mine.values())) if mine else 0.0
    if not norm:
        return []
    found = []
    for other, vector in vectors.items():
        small, large = (mine, vector) if len(mine) <= len(vector) else (vector, mine)
        dot = sum(value * large.get(key, 0.0) for key, value in small.items()) if other != name else 0.0
        if dot <= 0:
            continue
        cosine = dot / (norm * math.sqrt(sum(v * v for v in vector.values())))
        if cosine >= threshold:
            found.append((cosine, other))
    found.sort(key=lambda item: (-item[0], item[1]))
    return [{"workflow": other, "similarity": round(cosine, 3)} for cosine, other in found[:limit]]


def groups(similar: Mapping[str, list[dict[str, Any]]], order: Iterable[str]) -> dict[str, str]:
    """Workflow -> group id (g1, g2, ...) for the workflows with at least one similar one,
    numbered in `order` (the triage ranking) of each group's first member."""
    parent: dict[str, str] = {}

    def root(name: str) -> str:
        while parent.get(name, name) != name:
            name = parent[name]
        return name

    for name, others in similar.items():
        for other in others:
            a, b = root(name), root(other["workflow"])
            if a != b:
                parent[max(a, b)] = min(a, b)
    ids: dict[str, str] = {}
    out: dict[str, str] = {}
    for name in order:
        if not similar.get(name):
            continue
        top = root(name)
        ids.setdefault(top, f"g{len(ids) + 1}")
        out[name] = ids[top]
    return out
