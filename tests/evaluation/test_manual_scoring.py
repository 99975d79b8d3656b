"""The manual-reading metric on answers staff were really given (issue 29's verbatim replies) and on
the answers they should have been given."""

from __future__ import annotations

from store_assistant.evaluation.manual_cases import Gold, ReadingCase
from store_assistant.evaluation.manual_scoring import score, verdict

HDR = ReadingCase(id="lg-c3-hdr10plus", split="dev", asks="compatibility", kind="yesno",
                  question="Does the LG C3 support HDR10+?", paraphrases=("HDR10 plus on the C3?",),
                  must_say=("HDR10+",), must_not_say=(), answer="no", gold=(Gold(
                      "products/lg-c3-oled.md",
                      "Does not support HDR10+ (Dolby Vision and HDR10 are supported)."),))
WEIGHT = ReadingCase(id="lg-c3-weight-77", split="dev", asks="variant-spec", kind="value",
                     question="How heavy is the 77 inch LG C3 without the stand?",
                     paraphrases=("77in C3 weight?",), must_say=("33.5 kg|33.5kg",),
                     must_not_say=("16.6", "22.5", "13.8"), gold=(Gold(
                         "products/lg-c3-oled.md",
                         'Weight without stand: 16.6 kg (55"), 22.5 kg (65"), 33.5 kg (77")'),))


def test_the_answers_staff_got_are_wrong_and_a_flip_is_counted() -> None:
    got = score(HDR, "Yes, the LG C3 supports HDR10+.")
    assert not got.correct and got.flipped and got.verdict == "yes"
    assert not score(WEIGHT, "The Samsung TV weighs 13.8 kg.").correct


def test_right_answers_and_quotes_score_right() -> None:
    right = score(HDR, "No, HDR10+ is not supported.\n\nFrom the LG C3 manual (Compatibility):"
                       "\n\n- Does not support HDR10+ (Dolby Vision and HDR10 are supported).")
    assert right.correct and right.flipped is False and right.evidence_hit
    quote_only = score(HDR, "From the LG C3 manual (Compatibility):\n- Does **not** support "
                            "HDR10+ (Dolby Vision and HDR10 are supported).")
    assert not quote_only.correct and quote_only.flipped is False and quote_only.evidence_hit
    assert score(WEIGHT, "33.5 kg without the stand (77\").").correct
    assert not score(WEIGHT, "33.5 kg (77\"); the 55\" is 16.6 kg.").correct  # a wrong value too


def test_the_verdict_reader() -> None:
    assert verdict("No, it isn't.") == "no"
    assert verdict("Yes - HDMI 2 (eARC).") == "yes"
    assert verdict("Chromecast is NOT built in (use a streaming stick).") == "no"
    assert verdict("HDMI 2 (eARC).") is None  # a statement alone is no verdict
    assert verdict("From the manual:\n\n") is None
    assert verdict("From the manual (Setup):\n\n- Does not pair.") is None  # a bare quote


def test_a_wrong_value_counts_in_the_replys_words_not_in_the_quote_under_them() -> None:
    line = 'Weight without stand: 16.6 kg (55"), 22.5 kg (65"), 33.5 kg (77")'
    quoted = f"33.5 kg (77\").\n\nFrom the LG C3 manual (Specifications):\n\n- {line}"
    assert score(WEIGHT, quoted).correct and score(WEIGHT, quoted).evidence_hit
    # the line alone lists every size: it does not say which one was asked
    bare = f"From the LG C3 manual (Specifications):\n\n- {line}"
    assert not score(WEIGHT, bare).correct
    assert not score(WEIGHT, f"16.6 kg.\n\nFrom the LG C3 manual (Specifications):\n\n- {line}").correct
