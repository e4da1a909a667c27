"""What a reopened follow skips: lines before the last timestamp stored, and at that instant
the texts already sent (sinceTime has whole seconds, so the server sends them again)."""

from deployments.logs.dedupe import Deduper

LINES = [
    ("2026-01-01T00:00:01.250Z", "older"),
    ("2026-01-01T00:00:01.5Z", "a"),
    ("2026-01-01T00:00:01.5Z", "a"),
    ("2026-01-01T00:00:01.5Z", "b"),
    ("2026-01-01T00:00:02Z", "c"),
    ("2026-01-01T00:00:02Z", "c"),
]


def test_a_reopened_stream_yields_only_what_follows_the_stored_position():
    dedupe = Deduper("2026-01-01T00:00:01.5Z", ["a"])
    kept = [text for ts, text in LINES if dedupe.accept(ts, text)]
    assert kept == ["a", "b", "c", "c"], "one 'a' was sent before; the second is new"
    assert (dedupe.last_ts, dedupe.at_last) == ("2026-01-01T00:00:02Z", ["c", "c"])


def test_the_same_lines_sent_again_after_a_reopening_are_all_skipped():
    dedupe = Deduper()
    assert [text for ts, text in LINES if dedupe.accept(ts, text)] == [t for _, t in LINES]
    dedupe.reopened()
    assert [text for ts, text in LINES if dedupe.accept(ts, text)] == []
    assert dedupe.accept("2026-01-01T00:00:02.000000001Z", "d")
