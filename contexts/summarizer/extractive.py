"""The built-in summarizer: picks the context's most telling sentences, in their order. No network, no model.

Written here rather than taken from a library: the extractive packages on PyPI
(sumy, gensim's old summarizer, pytextrank) either need NLTK or spaCy data
downloaded at run time, which this service cannot fetch and should not depend on,
or read English only. What is needed is small: sentence splitting that copes with
any script and with code, a term weighting, and a selection that avoids repeating
itself; about a hundred lines, deterministic, and linear in the size of the context.
"""

from __future__ import annotations

import re

from contexts.summarizer import text
from contexts.summarizer.base import Draft

# The algorithm's version: stored as the summary's model, so a summary says how it was made.
MODEL_NAME = "extractive-v1"
MAX_SENTENCES = 5
SHARE_OF_SENTENCES = 0.2
MAX_CHARS = 1000
# Sentences more alike than this (Jaccard over their terms) say the same thing: only the first is kept.
MAX_OVERLAP = 0.5
# Only the best candidates are compared with each other, so a megabyte costs no more than a page to select from.
CANDIDATES = 200
CODE_LINES = 3
# Lines of code that declare something: what an outline of code alone shows.
DECLARATION = re.compile(
    r"^\s*(?:(?:export|public|private|protected|static|async|pub)\s+)*"
    r"(?:def|class|function|fn|func|struct|interface|enum|type|CREATE|module)\b"
)


class ExtractiveSummarizer:
    """Summarize by extraction: score sentences by their terms' weight, prefer the lead, skip repeats."""

    name = "extractive"

    def summarize(self, *, title: str, content: str, model: str = MODEL_NAME) -> Draft:
        return Draft(text=summarize_text(title, content), model=MODEL_NAME)

    def close(self) -> None:
        return None


def summarize_text(title: str, content: str) -> str:
    """The extractive summary of a context: a few of its sentences, or its code's outline, or its title."""
    document = text.read(title, content)
    if document.sentences:
        return _pick_sentences(document)
    if document.code_lines:
        return _outline_code(document.code_lines)
    # Nothing but headings or a title: they are the summary.
    return "; ".join(document.headings) or document.title


def _pick_sentences(document: text.Document) -> str:
    sentences = document.sentences
    weights = text.term_weights(document)
    scored = []
    for position, sentence in enumerate(sentences):
        sentence_terms = set(text.terms(sentence))
        if not sentence_terms:
            continue
        score = sum(weights.get(term, 0.0) for term in sentence_terms) / len(sentence_terms) ** 0.7
        # Writers put the point first: the opening sentences get a little more.
        if position == 0:
            score *= 1.25
        elif position < max(3, len(sentences) // 10):
            score *= 1.1
        scored.append((score, position, sentence_terms))
    if not scored:
        return text.cut(sentences[0])
    wanted = max(1, min(MAX_SENTENCES, round(len(sentences) * SHARE_OF_SENTENCES)))
    chosen: list[tuple[int, set[str]]] = []
    length = 0
    for _, position, sentence_terms in sorted(scored, key=lambda item: (-item[0], item[1]))[:CANDIDATES]:
        if len(chosen) == wanted:
            break
        if any(text.similarity(sentence_terms, other) > MAX_OVERLAP for _, other in chosen):
            continue
        added = len(sentences[position]) + 1
        if chosen and length + added > MAX_CHARS:
            continue
        chosen.append((position, sentence_terms))
        length += added
    return " ".join(sentences[position] for position, _ in sorted(chosen, key=lambda item: item[0]))


def _outline_code(code_lines: list[str]) -> str:
    """Code alone: the lines that declare things (functions, classes, tables), else its first lines."""
    declarations = [line for line in code_lines if DECLARATION.match(line)]
    picked = (declarations or code_lines)[:CODE_LINES]
    return "Code: " + "; ".join(text.cut(line.rstrip("{:").strip(), 120) for line in picked)
