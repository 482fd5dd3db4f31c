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
from scipy import sparse

from fwjr.triage.rules import step_type

Key = tuple[int, str, str]


def error_vectors(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[Key, float]]:
    """Workflow -> {(exit code, site, step type): step errors} from fwjr.store.evidence.error_patterns rows."""
    vectors: dict[str, dict[Key, float]] = defaultdict(lambda: defaultdict(float))
    for row in rows:
        vectors[row["workflow"]][(int(row["exit_code"]), row["site"], step_type(row["step"]))] += float(row["count"])
    return vectors


def similarity(vectors: Mapping[str, Mapping[Key, float]]) -> tuple[list[str], sparse.csr_array]:
    """The workflows (sorted) and their pairwise cosine similarities, as a sparse matrix: a
    workflow's pattern holds a few of the thousands of (exit code, site, step type) keys (7 days
    of 2,000 workflows: 39,000 of 11 million cells), and the dense product took a second and
    180 MB where the sparse one takes a few ms."""
    names = sorted(vectors)
    keys = sorted({key for vector in vectors.values() for key in vector})
    column = {key: i for i, key in enumerate(keys)}
    rows = [row for row, name in enumerate(names) for _ in vectors[name]]
    columns = [column[key] for name in names for key in vectors[name]]
    values = np.array([value for name in names for value in vectors[name].values()], dtype=float)
    matrix = sparse.csr_array((values, (rows, columns)), shape=(len(names), len(keys)))
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    unit = sparse.csr_array(sparse.diags_array(scale) @ matrix)
    return names, sparse.csr_array(unit @ unit.T)


def similar_workflows(vectors: Mapping[str, Mapping[Key, float]], threshold: float, limit: int = 10) -> dict[str, list[dict[str, Any]]]:
    """Workflow -> the other workflows at least `threshold` (> 0) similar to it, most similar first,
    equal ones in name order."""
    names, cosines = similarity(vectors)
    found: dict[str, list[dict[str, Any]]] = {}
    for i, name in enumerate(names):
        first, last = cosines.indptr[i], cosines.indptr[i + 1]
        others, values = cosines.indices[first:last], cosines.data[first:last]
        keep = (values >= threshold) & (others != i)
        others, values = others[keep], values[keep]
        ranked = np.lexsort((others, -values))[:limit]
        found[name] = [{"workflow": names[others[k]], "similarity": round(float(values[k]), 3)} for k in ranked]
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
