"""Realistic WMArchive FWJR documents, deterministic for a seed, and the archive layout.

Every test, benchmark and demo needs FWJRs and the real archive cannot leave CERN, so the
generator makes documents shaped like the real ones: the site,
agent-host and jobtype shares and failure rates of one real day of WMArchive aggregates
(data/generator_model.json, see docs/generator.md), the step layout and field set of the
WMArchive samples, the agent's own CouchDB form and pseudo-steps, exit codes from the real
dictionary with messages in the real texts' style, and the real-world damage a consumer
has to survive (drifted, malformed and duplicated documents).

Everything random comes from seeded `random.Random`s: the same arguments give the same
documents, byte for byte, on any machine.

Split by what each module holds: the random draws, the model file and its shares, the
workflow catalogue, the error texts, the step parts, the job builder, the agent's CouchDB
form, drift and damage, the stream, and the archive writer; this package's names are its
public face.
"""

from __future__ import annotations

from fwjr.synth.archive import document_ts, write_archive
from fwjr.synth.drift import Document
from fwjr.synth.feed import default_minutes, generate_documents
from fwjr.synth.model import DEFAULT_START_TS, MODEL_PATH, load_model
from fwjr.synth.scenarios import Burst, load_scenario

__all__ = [
    "DEFAULT_START_TS",
    "MODEL_PATH",
    "Burst",
    "Document",
    "default_minutes",
    "document_ts",
    "generate_documents",
    "load_model",
    "load_scenario",
    "write_archive",
]
