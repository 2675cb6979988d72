"""The built-in summarizer: deterministic, offline, sensible on any content it may meet."""

from __future__ import annotations

import time

from contexts.summarizer.extractive import MAX_CHARS, MODEL_NAME, ExtractiveSummarizer, summarize_text
from contexts.summarizer.quality import measure

REPORT = (
    "The quarterly review found that churn fell to 3 percent after the onboarding redesign. "
    "Support tickets about billing doubled in March because invoices were sent twice. "
    "The team agreed to fix the invoice job before the April run. "
    "Lunch was served at noon. "
    "Onboarding completion rose from 54 to 71 percent, the largest gain this year. "
    "The next review is on 12 June, when the billing fix will be checked. "
    "Several people mentioned the weather. "
    "Churn and onboarding remain the two numbers the board follows most closely. "
    "Marketing will present the new pricing page in May. "
    "The office plants were watered."
)


def test_the_same_context_always_gives_the_same_summary():
    assert len({summarize_text("Quarterly review", REPORT) for _ in range(5)}) == 1
    draft = ExtractiveSummarizer().summarize(title="Quarterly review", content=REPORT)
    assert draft.model == MODEL_NAME and draft.input_tokens is None


def test_a_summary_is_a_few_of_the_contexts_own_sentences_in_their_order():
    summary = summarize_text("Quarterly review", REPORT)
    sentences = [s for s in REPORT.split(". ")]
    picked = [s.rstrip(".") for s in summary.split(". ")]
    assert 1 <= len(picked) <= 2
    positions = [next(i for i, s in enumerate(sentences) if s.rstrip(".") == p) for p in picked]
    assert positions == sorted(positions)
    assert "plants" not in summary and "Lunch" not in summary and "weather" not in summary
    score, metrics = measure(title="Quarterly review", content=REPORT, summary=summary)
    assert metrics["compression_ratio"] < 0.4 and score > 0.5


def test_an_empty_context_summarizes_to_its_title_or_nothing():
    assert summarize_text("", "") == ""
    assert summarize_text("", " \n\n\t ") == ""
    assert summarize_text("Shopping list", "") == "Shopping list"


def test_a_one_sentence_context_is_its_own_summary():
    assert summarize_text("", "Call the bank on Monday.") == "Call the bank on Monday."
    assert summarize_text("", "no punctuation at all here") == "no punctuation at all here"


def test_a_megabyte_is_summarized_quickly_and_briefly():
    paragraph = REPORT + "\n\n"
    content = (paragraph * (1024 * 1024 // len(paragraph) + 1))[: 1024 * 1024]
    started = time.monotonic()
    summary = summarize_text("Big", content)
    elapsed = time.monotonic() - started
    assert 0 < len(summary) <= MAX_CHARS
    assert all(sentence.rstrip(".") in content for sentence in summary.split(". "))
    assert elapsed < 20, f"1 MB took {elapsed:.1f} s"


def test_a_megabyte_without_a_full_stop_is_cut_at_a_word():
    summary = summarize_text("", "word " * 200_000)
    assert summary.endswith("…") and len(summary) <= 402 and "wor…" not in summary


def test_non_english_content_is_summarized_from_its_own_sentences():
    french = ("Le conseil a approuvé le budget de l'école. Les travaux de la cantine commenceront en juillet. "
              "Le budget de l'école prévoit aussi des ordinateurs. Il a plu toute la journée.")
    german = ("Die Versammlung beschloss den Haushalt. Der Haushalt sieht neue Fahrräder vor. "
              "Übrigens war das Wetter schön. Die Fahrräder kommen im Mai.")
    russian = "Совет утвердил бюджет школы. Ремонт столовой начнётся в июле. Бюджет школы включает компьютеры."
    chinese = "董事会批准了学校的预算。食堂的维修将于七月开始。学校的预算还包括新电脑。今天下雨了。"
    japanese = "理事会は学校の予算を承認した。食堂の改修は七月に始まる。学校の予算には新しいコンピューターも含まれる。"
    for text in (french, german, russian, chinese, japanese):
        summary = summarize_text("", text)
        assert summary and summary in text, (text, summary)
        assert len(summary) < len(text)
    assert "budget" in summarize_text("", french)
    assert "预算" in summarize_text("", chinese)


def test_code_is_kept_out_of_the_sentences_and_code_alone_is_outlined():
    mixed = (
        "# Deploying\n\nThe deploy script builds the image and pushes it to the registry. "
        "Run it from the project folder after the tests pass.\n\n"
        "```sh\nmake test && ./deploy.sh --push\n```\n\n"
        "    for host in hosts: restart(host)\n\n"
        "Rollbacks use the previous image tag.\n"
    )
    summary = summarize_text("Deploy notes", mixed)
    assert "deploy.sh" not in summary and "restart(host)" not in summary and "```" not in summary
    assert "deploy script" in summary
    code = (
        "import os\n\n"
        "def parse(text: str) -> list[str]:\n    return text.split()\n\n"
        "class Parser:\n    def __init__(self):\n        self.items = []\n"
    )
    outline = summarize_text("parser.py", code)
    assert outline == "Code: def parse(text: str) -> list[str]; class Parser; def __init__(self)"


def test_markdown_lists_are_read_as_items():
    notes = "Decisions:\n- Ship the billing fix on Friday\n- Move the review to June\n- Hire a second designer\n"
    summary = summarize_text("Decisions", notes)
    assert summary and "- " not in summary
