"""How good a summary is, measured against its context the same way for every backend.

- compression_ratio: the summary's length over the context's (characters, title and content). Lower is
  shorter; 1 or more means it says no less than the context.
- coverage: the share of the context's key terms (its ten most telling words, contexts.summarizer.text)
  that the summary contains.
- redundancy: the mean Jaccard similarity of the terms of each pair of the summary's sentences; 0 when it
  has one sentence or none say the same thing.
- score, in [0, 1]: 0.5 x coverage + 0.3 x brevity + 0.2 x (1 - redundancy), where brevity is 1 up to a
  compression ratio of 0.4 (or whatever the ratio for a context under 400 characters, which may well be its
  own summary) and falls linearly to 0 at a ratio of 1. An empty summary scores 0.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

from contexts.summarizer import text

KEY_TERMS = 10
BRIEF_RATIO = 0.4
SHORT_CONTEXT_CHARS = 400
WEIGHTS = {"coverage": 0.5, "brevity": 0.3, "distinctness": 0.2}


def measure(*, title: str, content: str, summary: str) -> tuple[float, dict[str, Any]]:
    """Return the overall score and the metrics of a summary of this context."""
    source_chars = len(title) + len(content)
    document = text.read(title, content)
    key_terms = text.key_terms(document, KEY_TERMS)
    summary_terms = set(text.terms(text.normalize(summary)))
    covered = [term for term in key_terms if term in summary_terms]
    coverage = len(covered) / len(key_terms) if key_terms else 0.0
    ratio = len(summary) / source_chars if source_chars else 0.0
    if source_chars < SHORT_CONTEXT_CHARS or ratio <= BRIEF_RATIO:
        brevity = 1.0
    else:
        brevity = max(0.0, (1 - ratio) / (1 - BRIEF_RATIO))
    sentence_terms = [set(text.terms(sentence)) for sentence in text.read("", summary).sentences]
    pairs = list(combinations(sentence_terms, 2))
    redundancy = sum(text.similarity(a, b) for a, b in pairs) / len(pairs) if pairs else 0.0
    if summary.strip():
        score = (WEIGHTS["coverage"] * coverage + WEIGHTS["brevity"] * brevity
                 + WEIGHTS["distinctness"] * (1 - redundancy))
    else:
        score = 0.0
    metrics = {
        "compression_ratio": round(ratio, 4),
        "coverage": round(coverage, 4),
        "redundancy": round(redundancy, 4),
        "brevity": round(brevity, 4),
        "key_terms": key_terms,
        "key_terms_covered": covered,
        "summary_sentences": len(sentence_terms),
    }
    return round(min(1.0, max(0.0, score)), 4), metrics
