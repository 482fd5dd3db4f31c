"""One workflow's similar workflows (the workflow page's row) agree with the whole matrix (the queue's)."""

from __future__ import annotations

import random

from fwjr.triage.similar import most_similar, similar_workflows


def test_one_row_lists_what_the_whole_matrix_lists() -> None:
    rng = random.Random(16)
    keys = [(code, site, step) for code in (8021, 50660, 60311) for site in ("T1_A", "T2_B", "T2_C") for step in ("cmsRun", "stageOut")]
    vectors = {f"wf{n:02d}": {key: float(rng.randint(1, 40)) for key in rng.sample(keys, rng.randint(1, 4))} for n in range(60)}
    vectors["wf-copy"] = dict(vectors["wf07"])
    for threshold in (0.5, 0.8, 0.95):
        whole = similar_workflows(vectors, threshold)
        for name in vectors:
            ranked = sorted(whole[name], key=lambda s: (-s["similarity"], s["workflow"]))  # equal cosines may differ in the last bit
            assert sorted(most_similar(vectors, name, threshold), key=lambda s: (-s["similarity"], s["workflow"])) == ranked, (threshold, name)
    assert most_similar(vectors, "wf07", 0.8)[0] == {"workflow": "wf-copy", "similarity": 1.0}
    assert most_similar(vectors, "unknown", 0.5) == []
