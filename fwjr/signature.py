"""Error signatures: the same failure under one short, stable name, whatever its message says.

One failure reaches operators as hundreds of message texts that differ only in file names,
LFNs and PFNs, hosts, numbers, dates and addresses. Masking those parts leaves the shape of
the message; its hash names the failure, so failures can be counted per (exit code,
signature) the way BigPanDA groups its error dialogs. The mask works on the message's head
(`SIGNATURE_HEAD` characters): a log tail appended after it (ErrorLoggingAddition) varies
with every job and would give each job a signature of its own.

Pure and deterministic: the stream, the replay and the offline commands compute the same
signature for the same text, so their error counts agree.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

# Characters of a message (after masking) that make its signature.
SIGNATURE_HEAD: Final = 400
# Distinct messages whose signature is remembered; repeats are the common case on a grid.
_CACHE_LIMIT: Final = 20_000

# Order matters: an URL or a path swallows the hosts and numbers inside it, a date its digits.
_MASKS: Final[tuple[tuple[str, str], ...]] = (
    (r"\b[a-z][a-z0-9+.-]*://\S+", "<url>"),
    (r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", "<uuid>"),
    (r"\b\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?", "<date>"),
    (r"\b\d{1,2}[-/ ](?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*[-/ ]\d{2,4}\b", "<date>"),
    (r"\b\d{2}:\d{2}:\d{2}(?:[.,]\d+)?\b", "<time>"),
    (r"(?:(?<=\s)|(?<=^)|(?<=[\"'(=:]))(?:/[^\s/\"'():,;]+){2,}/?", "<path>"),
    (r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b", "<ip>"),
    (r"\b(?:[a-z0-9-]+\.)+(?:ch|gov|edu|org|net|com|de|fr|it|uk|es|ru|kr|cn|br|pt|be|fi|ee|pl|hu|at|tw|in|pk|us|io)\b(?::\d+)?", "<host>"),
    (r"\b0x[0-9a-f]+\b", "<hex>"),
    (r"\b[0-9a-f]{12,}\b", "<hex>"),
    (r"[-+]?\b\d+(?:\.\d+)?(?:e[-+]?\d+)?\b", "<n>"),
)
_MASK: Final = re.compile("|".join(f"({pattern})" for pattern, _ in _MASKS), re.IGNORECASE | re.MULTILINE)
_TOKENS: Final[tuple[str, ...]] = tuple(token for _, token in _MASKS)
_SPACES: Final = re.compile(r"\s+")
_cache: dict[str, str] = {}


def masked(message: str) -> str:
    """The message's head with its variable parts replaced by `<kind>` tokens and spaces collapsed."""
    head = message[: SIGNATURE_HEAD * 2]
    text = _MASK.sub(_token, head)
    return _SPACES.sub(" ", text).strip()[:SIGNATURE_HEAD]


def signature(message: str) -> str:
    """A 12-hex-digit name for the message's masked form; "" for an empty message."""
    if not message:
        return ""
    head = message[: SIGNATURE_HEAD * 2]
    known = _cache.get(head)
    if known is not None:
        return known
    name = hashlib.blake2b(masked(head).encode(), digest_size=6).hexdigest()
    if len(_cache) >= _CACHE_LIMIT:
        _cache.clear()
    _cache[head] = name
    return name


def _token(match: re.Match[str]) -> str:
    return _TOKENS[(match.lastindex or 1) - 1]
