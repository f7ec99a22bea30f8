"""A question's figures in a digest: what each question type sums up, for the digest to
render. Plain data, the same for every type."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Count:
    label: str
    count: int
    percent: float
    hidden: bool = False  # too few to show (small-cell suppression): count and percent are 0
    key: str = ""  # what it counts whatever the language: an option id, a point, a month


@dataclass(frozen=True, slots=True)
class Summary:
    question_id: str
    text: str
    answered: int
    skipped: int
    counts: tuple[Count, ...] = ()  # per option, per point of a scale, per month
    bars: bool = False  # the counts read best as bars (points of a scale, months)
    charted: bool = False  # the counts belong in the digest's bar chart
    facts: tuple[tuple[str, str], ...] = ()  # ("mean", "3.8"), ("earliest", "2026-11-02")
    mean: float | None = None
    median: float | None = None
    themes: tuple[tuple[str, int], ...] = ()
    theme_quotes: tuple[str, ...] = ()  # an answer that says each theme, in the same order
    theme_keys: tuple[str, ...] = ()  # each theme's stems: the same theme week after week
    themes_estimated: bool = False  # counted in a sample of the answers, then scaled
    quotes: tuple[str, ...] = ()  # citizen text: adapters escape it for their platform


def percent(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0
