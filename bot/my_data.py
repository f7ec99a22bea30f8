"""`my data`: what is stored from someone, readable, in their language."""

from __future__ import annotations

from bot.survey_files import SurveyCatalogue
from conversations.messages import say
from storage.contract import Storage


async def stored_data(
    store: Storage, surveys: SurveyCatalogue, pid: str, lang: str, *, accessible: bool = False
) -> str:
    """Every response linked to the person, its answers in survey order, and whether the
    service may reply about them; whether they have the accessible profile on."""
    stored = await store.stored_responses(pid)
    profile = [say(lang, "my_data_accessible")] if accessible else []
    if not stored:
        return "\n".join([say(lang, "my_data_none"), *profile])
    lines = [say(lang, "my_data"), *profile]
    for response in stored:
        survey = surveys.surveys.get(response.survey_id)
        if survey is None:
            lines.append(f"{response.survey_id} ({response.status})")
            continue
        shown = lang if lang in survey.languages else survey.default_language
        lines.append(f"{survey.title[shown]} ({response.status}):")
        for question_id, value in sorted(response.answers, key=lambda a: survey.order(a[0])):
            question = survey.question(question_id)
            lines.append(f"  {question.text[shown]} {question.shown(value, shown)}")
        if response.may_reply is not None:
            answer = say(shown, "yes" if response.may_reply else "no")
            lines.append(f"  {say(shown, 'my_data_may_reply', answer=answer)}")
    lines.append(say(lang, "my_data_footer"))
    return "\n".join(lines)
