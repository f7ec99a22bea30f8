"""Short references to answers: how staff name a quote or a held answer (to review it,
to reply to its author) without anything that says who wrote it or when."""

from __future__ import annotations

from dataclasses import replace

from bot.digest import Digest
from storage.contract import Storage

REFERENCE_LETTERS = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's: no I, L, O or U
REFERENCE_LENGTH = 5


def answer_reference(store: Storage, response_id: int, question_id: str) -> str:
    """A short name for one answer, the same every time, that only this database makes."""
    number = int(store.pseudonym("answer", f"{response_id}:{question_id}")[:8], 16)
    letters = []
    for _ in range(REFERENCE_LENGTH):
        number, digit = divmod(number, len(REFERENCE_LETTERS))
        letters.append(REFERENCE_LETTERS[digit])
    return "".join(letters)


def shown_quotes(digest: Digest) -> set[str]:
    """Every quote the digest shows: under its questions, with its themes, and flagged."""
    quotes = {q for summary in digest.questions for q in (*summary.quotes, *summary.theme_quotes)}
    return (quotes | set(digest.low_with_comment.quotes)) - {""}


async def with_references(store: Storage, digest: Digest, *, now: float) -> Digest:
    """The digest with a reference beside each quote it can trace to an answer, each kept
    so that `survey reply` finds the answer again."""
    references = {
        quote: answer_reference(store, *digest.sources[quote])
        for quote in shown_quotes(digest)
        if quote in digest.sources
    }
    if references:
        await store.remember_references(
            run_id=digest.run_id,
            references=[(code, *digest.sources[quote]) for quote, code in references.items()],
            now=now,
        )
    return replace(digest, references=references)
