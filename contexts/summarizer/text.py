"""Reading a context as the extractive summarizer and the quality metrics both do: prose sentences, code, terms.

Language-neutral by construction: words are Unicode letter runs, scripts written
without spaces (Chinese, Japanese, Thai…) are read as character pairs, and the
function words of any language are recognised by how many sentences they appear
in, with a short English list for documents too short to tell.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

# A sentence longer than this is cut at a word: a megabyte with no full stop is still readable.
MAX_SENTENCE_CHARS = 400
FENCE = re.compile(r"^\s*(```|~~~)")
LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+")
HEADING = re.compile(r"^\s{0,3}#{1,6}\s+")
CODE_START = re.compile(
    r"^\s*(?:def|class|import|from\s+\S+\s+import|return|function|const|let|var|public|private|protected|static|"
    r"package|fn|func|struct|interface|enum|#include|#define|SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER)\b"
)
# After . ! ? and spaces, a sentence starts with a capital, a digit, a quote or a letter of another script;
# "e.g. the" does not end one. 。！？ end a sentence with or without a space.
SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+(?=[\"'“‘(\[«¿¡]?[A-Z0-9\u00C0-\u024F\u0370-\u1FFF\u3000-\uFFEF])"
                          r"|(?<=[。！？])\s*")
WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
# Scripts written without spaces between words.
UNSPACED = re.compile(r"[\u0E00-\u0EFF\u1000-\u109F\u3040-\u30FF\u3400-\u4DBF\u4E00-\u9FFF\uAC00-\uD7AF\uF900-\uFAFF]")
ENGLISH_FUNCTION_WORDS = frozenset(
    "a an the and or but if then else of to in on at by for with from as is are was were be been being it its "
    "this that these those there here we you they he she i me my our your their his her them us not no do does "
    "did has have had will would can could should may might must shall so such than too very into out up down "
    "over under about after before also just only any all each some more most other which who whom whose what "
    "when where why how".split()
)
# In a document of at least this many sentences, a word in more than this share of them carries no topic.
COMMON_SHARE, COMMON_MIN_SENTENCES = 0.7, 6


def normalize(text: str) -> str:
    """NFKC, Unix line ends, no NUL: one form for every comparison."""
    return unicodedata.normalize("NFKC", text).replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


def terms(text: str) -> list[str]:
    """The words of a text, case-folded; runs of an unspaced script as overlapping character pairs."""
    found: list[str] = []
    for word in WORD.findall(text):
        word = word.casefold()
        if UNSPACED.search(word):
            found.extend(word[i:i + 2] for i in range(max(1, len(word) - 1)))
        elif len(word) > 1:  # single letters and digits say nothing on their own
            found.append(word)
    return found


def cut(sentence: str, limit: int = MAX_SENTENCE_CHARS) -> str:
    """The sentence, or its start up to a word boundary and an ellipsis."""
    if len(sentence) <= limit:
        return sentence
    head = sentence[:limit]
    space = head.rfind(" ")
    return (head[:space] if space > limit // 2 else head).rstrip(",;: ") + "…"


def looks_like_code(line: str) -> bool:
    """Whether a line reads as code rather than prose (indented, keyword-led, or mostly punctuation)."""
    stripped = line.strip()
    if not stripped:
        return False
    if line.startswith(("    ", "\t")) or CODE_START.match(line) or stripped.endswith(("{", "}", ";", "):")):
        return True
    visible = [c for c in stripped if not c.isspace()]
    symbols = sum(1 for c in visible if not c.isalnum())
    return len(visible) >= 4 and symbols / len(visible) > 0.3


def sentences_of(prose: str) -> list[str]:
    """Split a paragraph of prose into sentences, each cut to a readable length."""
    return [cut(part.strip()) for part in SENTENCE_END.split(prose) if part and part.strip()]


@dataclass
class Document:
    """A context read for summarizing: its prose sentences in order, its code lines, its headings."""

    title: str
    sentences: list[str] = field(default_factory=list)
    code_lines: list[str] = field(default_factory=list)
    headings: list[str] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.sentences or self.code_lines or self.headings or self.title.strip())


def read(title: str, content: str) -> Document:
    """Read a context: fenced and code-looking lines apart, list items and headings apart, the rest as sentences."""
    document = Document(title=normalize(title).strip())
    paragraph: list[str] = []
    in_fence = False

    def flush() -> None:
        if paragraph:
            document.sentences.extend(sentences_of(" ".join(paragraph)))
            paragraph.clear()

    for line in normalize(content).split("\n"):
        if FENCE.match(line):
            flush()
            in_fence = not in_fence
            continue
        if in_fence or looks_like_code(line):
            flush()
            if line.strip():
                document.code_lines.append(cut(line.strip(), 160))
            continue
        if not line.strip():
            flush()
        elif HEADING.match(line):
            flush()
            document.headings.append(HEADING.sub("", line).strip())
        elif LIST_ITEM.match(line):
            flush()
            paragraph.append(LIST_ITEM.sub("", line).strip())
            flush()
        else:
            paragraph.append(line.strip())
    flush()
    return document


def term_weights(document: Document) -> dict[str, float]:
    """How much each term says about the document: frequent in it, but not in most of its sentences."""
    units = document.sentences or document.code_lines
    unit_terms = [set(terms(unit)) for unit in units]
    frequency: Counter[str] = Counter()
    for unit in units:
        frequency.update(terms(unit))
    # The title and headings name the topic: their words count double.
    for named in (document.title, *document.headings):
        frequency.update({term: 2 for term in set(terms(named))})
    spread: Counter[str] = Counter(term for unit in unit_terms for term in unit)
    weights: dict[str, float] = {}
    for term, count in frequency.items():
        if term in ENGLISH_FUNCTION_WORDS:
            continue
        weight = 1.0 + math.log(count)
        if len(units) >= COMMON_MIN_SENTENCES and spread[term] / len(units) > COMMON_SHARE:
            weight *= 0.1
        weights[term] = weight
    return weights


def key_terms(document: Document, count: int = 10) -> list[str]:
    """The document's most telling terms, heaviest first (ties in order of appearance)."""
    weights = term_weights(document)
    return sorted(weights, key=lambda term: -weights[term])[:count]


def similarity(first: set[str], second: set[str]) -> float:
    """Jaccard similarity of two term sets (0 when either is empty)."""
    if not first or not second:
        return 0.0
    return len(first & second) / len(first | second)
