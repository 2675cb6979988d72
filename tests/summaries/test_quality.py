"""Quality metrics: compression, coverage of key terms, redundancy, and a score in [0, 1]."""

from __future__ import annotations

from contexts.summarizer import text
from contexts.summarizer.quality import measure

CONTEXT = (
    "The billing service sends invoices every month. Invoices were sent twice in March because the billing "
    "job ran on two servers. The billing team added a lock so the job runs once. Customers who paid twice get "
    "a refund in April. The incident review is on Friday. Refunds are handled by the billing team. "
    "Nobody else was affected by the incident."
)


def test_a_good_summary_covers_the_key_terms_briefly_without_repeating_itself():
    summary = "Invoices were sent twice in March because the billing job ran on two servers; a lock now prevents it."
    score, metrics = measure(title="Billing incident", content=CONTEXT, summary=summary)
    assert set(metrics["key_terms"][:3]) == {"billing", "invoices", "incident"}
    assert 0.3 <= metrics["coverage"] <= 1
    assert metrics["compression_ratio"] == round(len(summary) / (len("Billing incident") + len(CONTEXT)), 4)
    assert metrics["redundancy"] == 0.0 and metrics["summary_sentences"] == 1
    assert 0.5 < score <= 1


def test_repeating_a_sentence_is_counted_as_redundancy_and_lowers_the_score():
    once = "Invoices were sent twice in March. The billing team added a lock."
    twice = "Invoices were sent twice in March. Invoices were sent twice in March, again."
    score_once, metrics_once = measure(title="", content=CONTEXT, summary=once)
    score_twice, metrics_twice = measure(title="", content=CONTEXT, summary=twice)
    assert metrics_once["redundancy"] < 0.2 < metrics_twice["redundancy"] <= 1
    assert score_twice < score_once


def test_a_summary_as_long_as_its_context_scores_no_brevity():
    _, metrics = measure(title="", content=CONTEXT * 2, summary=CONTEXT * 2)
    assert metrics["compression_ratio"] >= 0.99 and metrics["brevity"] < 0.05
    # A short context may well be its own summary.
    _, short = measure(title="", content="Call the bank.", summary="Call the bank.")
    assert short["brevity"] == 1.0 and short["coverage"] == 1.0


def test_an_empty_summary_scores_zero_and_an_empty_context_has_no_key_terms():
    score, metrics = measure(title="", content=CONTEXT, summary="")
    assert score == 0.0 and metrics["coverage"] == 0.0
    score, metrics = measure(title="", content="", summary="")
    assert score == 0.0 and metrics["key_terms"] == [] and metrics["compression_ratio"] == 0.0


def test_scores_stay_within_zero_and_one_for_any_input():
    for summary in ("", "x", CONTEXT * 3, "billing " * 50, "請求書が二回送られた。"):
        score, _ = measure(title="t", content=CONTEXT, summary=summary)
        assert 0.0 <= score <= 1.0


def test_function_words_are_never_key_terms_in_any_language():
    document = text.read("", (
        "Le serveur de facturation a redémarré le lundi. Le client a reçu la facture de mars. "
        "Le paiement de la facture a échoué le mardi. Le service de support a répondu le jour même. "
        "Le serveur de facturation a été mis à jour. Le rapport de la semaine est prêt. "
        "Le directeur a lu le rapport le vendredi."
    ))
    assert "le" not in text.key_terms(document) and "de" not in text.key_terms(document)
    assert "facturation" in text.key_terms(document)
