"""The coordinators' command grammar, the same on every platform.

An adapter only recognises that a message is a command (`/survey …` in Slack,
`!survey …` in Matrix, the staff page's box on the web) and passes the rest;
this module turns the rest into a `Command`, or says what would work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Literal

from pydantic import ValidationError

from conversations.survey import ReminderPolicy

USAGE = {
    "help": "survey help",
    "list": "survey list",
    "start": "survey start SURVEY [for everyone | for #channel | for @person …]"
    ' [at 2027-01-04 09:00 | every "0 9 1 * *"] [until 2027-02-01] [dry-run]',
    "status": "survey status RUN",
    "remind": "survey remind RUN [dry-run | after 2 days[, at most 2 times] | off]",
    "close": "survey close RUN [at 2027-02-01 17:00]",
    "digest": "survey digest RUN",
    "export": "survey export RUN [raw]",
    "schedule": "survey schedule RUN CRON",
    "unschedule": "survey unschedule SCHEDULE",
    "audit": "survey audit [RUN] [since 2027-01-01]",
    "approve": "survey approve REQUEST",
    "review": "survey review RUN [release REF | keep REF]",
    "reply": "survey reply REF TEXT | close",
    "act": "survey act RUN F1 noted|planned|done|declined [NOTE]",
    "outcomes": "survey outcomes RUN",
    "tell": "survey tell RUN [send]",
    "assist": "survey assist SURVEY [in LANGUAGE]",
}
# What each command does, in the staff's language (surveys.staff_language).
EXPLAINED = {
    "en": {
        "help": "these commands",
        "list": "the surveys and their runs",
        "start": "opens a run for an audience, now or later",
        "status": "people, responses, completion, reminders and schedules of a run",
        "remind": "nudges those who have not finished, or sets the run's reminders",
        "close": "the run takes no more answers, now or at a time",
        "digest": "posts the run's digest to its staff channel",
        "export": "the answers as CSV; raw: without redacting personal data, audited",
        "schedule": "a digest at a cron time, e.g. survey schedule 3 0 9 * * mon",
        "unschedule": "removes a digest schedule, or with S1 a scheduled start",
        "audit": "who did what; coordinators only",
        "approve": "a second coordinator lets a large audience go ahead",
        "review": "answers held out of digests (threats, slurs): release or keep each",
        "reply": "to the author of a quote, who stays unknown to you; close ends the thread",
        "act": "what was done about a digest's finding",
        "outcomes": "the run's findings and what was done about them",
        "tell": "you said, we did: a draft, or with send to everyone who took part",
        "assist": "type the answers of someone you reached by phone or in person",
    },
    "fi": {
        "help": "nämä komennot",
        "list": "kyselyt ja niiden kierrokset",
        "start": "avaa kierroksen kohderyhmälle, nyt tai myöhemmin",
        "status": "kierroksen ihmiset, vastaukset, valmiusaste, muistutukset ja ajastukset",
        "remind": "muistuttaa keskeneräisiä tai asettaa kierroksen muistutukset",
        "close": "kierros ei ota enää vastauksia, nyt tai tiettynä aikana",
        "digest": "lähettää kierroksen koosteen henkilökunnan kanavalle",
        "export": "vastaukset CSV-tiedostona; raw: henkilötietoja poistamatta, kirjataan",
        "schedule": "kooste cron-aikaan, esim. survey schedule 3 0 9 * * mon",
        "unschedule": "poistaa koosteen ajastuksen, tai S1:llä ajastetun aloituksen",
        "audit": "kuka teki mitä; vain koordinaattorit",
        "approve": "toinen koordinaattori hyväksyy suuren kohderyhmän",
        "review": "koosteista pidätetyt vastaukset (uhkaukset, herjat): päästä tai pidä",
        "reply": "vastaa lainauksen kirjoittajalle tietämättä kuka hän on; close lopettaa",
        "act": "mitä koosteen havainnolle tehtiin",
        "outcomes": "kierroksen havainnot ja mitä niille tehtiin",
        "tell": "te sanoitte, me teimme: luonnos, tai send lähettää kaikille osallistuneille",
        "assist": "kirjoita puhelimitse tai kasvokkain tavoittamasi henkilön vastaukset",
    },
    "sv": {
        "help": "de här kommandona",
        "list": "enkäterna och deras omgångar",
        "start": "öppnar en omgång för en målgrupp, nu eller senare",
        "status": "omgångens personer, svar, slutförande, påminnelser och scheman",
        "remind": "påminner dem som inte svarat klart, eller ställer in påminnelser",
        "close": "omgången tar inte emot fler svar, nu eller vid en tid",
        "digest": "skickar omgångens sammandrag till personalens kanal",
        "export": "svaren som CSV; raw: utan att ta bort personuppgifter, loggas",
        "schedule": "ett sammandrag vid en cron-tid, t.ex. survey schedule 3 0 9 * * mon",
        "unschedule": "tar bort ett schema för sammandrag, eller med S1 en schemalagd start",
        "audit": "vem gjorde vad; bara koordinatorer",
        "approve": "en andra koordinator godkänner en stor målgrupp",
        "review": "svar som hålls utanför sammandrag (hot, okvädingsord): släpp eller behåll",
        "reply": "svara den som skrev ett citat utan att veta vem; close avslutar tråden",
        "act": "vad som gjordes åt en iakttagelse i sammandraget",
        "outcomes": "omgångens iakttagelser och vad som gjordes åt dem",
        "tell": "ni sa, vi gjorde: ett utkast, eller med send till alla som deltog",
        "assist": "skriv in svaren för någon du nått per telefon eller personligen",
    },
}
_COMMANDS_HEADING = {"en": "Commands:", "fi": "Komennot:", "sv": "Kommandon:"}


def help_text(lang: str = "en") -> str:
    """Every command, and what it does in the staff's language."""
    explained = EXPLAINED.get(lang, EXPLAINED["en"])
    lines = [f"  {USAGE[name]}  ({explained[name]})" for name in USAGE]
    return "\n".join([_COMMANDS_HEADING.get(lang, "Commands:"), *lines])


HELP = help_text()

DRY_RUNS = frozenset({"start", "remind"})  # the commands that message people
DRY_RUN_WORDS = frozenset({"dry-run", "dryrun", "--dry-run"})

AudienceKind = Literal["open", "channel", "users", "numbers"]  # numbers: by text message


@dataclass(frozen=True, slots=True)
class Audience:
    kind: AudienceKind
    names: tuple[str, ...] = ()  # the channel, or the people

    def describe(self) -> str:
        if self.kind == "open":
            return "everyone who types its keyword"
        if self.kind == "channel":
            return f"the members of {self.names[0]}"
        if self.kind == "numbers":  # addresses: never repeated, never kept outside erasure's reach
            count = len(self.names)
            return f"{count} phone number{'s' if count != 1 else ''}"
        return ", ".join(self.names)


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    survey: str | None = None
    run: int | None = None
    audience: Audience = field(default_factory=lambda: Audience("open"))
    cron: str | None = None
    schedule: int | None = None
    raw: bool = False  # export: the participants' words as written
    since: date | None = None  # audit: entries from this day on
    # start: once at a local time, or a new run by a cron time; its runs close at `until`
    at: datetime | None = None
    every: str | None = None
    until: datetime | None = None
    dry_run: bool = False  # start, remind: say what would be sent, to how many, send nothing
    request: int | None = None  # approve: the held request's number
    # review: what to do with the held answer `reference` (None: list what is held)
    decision: Literal["released", "kept"] | None = None
    reference: str | None = None  # review, reply: an answer's reference
    text: str = ""  # reply: what to say; act: the note
    finding: int | None = None  # act: the finding's number (F3)
    status: str | None = None  # act: noted | planned | done | declined
    send: bool = False  # tell: send it, not only draft it
    starts: bool = False  # unschedule: `schedule` is a scheduled start's (S1), not a digest's
    # remind: reminders sent by the run itself from now on, or "off"; None: remind now
    reminders: ReminderPolicy | Literal["off"] | None = None
    language: str | None = None  # assist: the language the session is held in


@dataclass(frozen=True, slots=True)
class Unusable:
    """Why the command cannot be run, and what would work."""

    message: str


_RUN = re.compile(r"^#?(\d{1,9})$")
_REFERENCE = re.compile(r"^#?[0-9A-Za-z]{5}$")
_FINDING = re.compile(r"^\[?[Ff](\d{1,4})\]?$")
ACT_STATUSES = ("noted", "planned", "done", "declined")
_START_SCHEDULE = re.compile(r"^[sS](\d{1,9})$")


def _after_words(text: str, count: int) -> str:
    """What follows the first `count` words of `text`, with its line breaks."""
    rest = text.strip()
    for _ in range(count):
        rest = _FIRST_WORD.sub("", rest, count=1)
    return rest.strip()


_FIRST_WORD = re.compile(r"^\S+\s*")


HELD_NUMBER = "[number]"  # a phone number as the audit log and a held request keep it


def audited(text: str, parsed: Command | Unusable) -> str:
    """The command as the audit log keeps it: phone numbers left out (erasure could not
    reach them there)."""
    if isinstance(parsed, Command) and parsed.audience.kind == "numbers":
        for number in parsed.audience.names:
            text = text.replace(number, HELD_NUMBER)
    return text[:500]


def parse(text: str) -> Command | Unusable:
    words = text.split()
    prefixed = bool(words) and words[0].lower() in ("survey", "/survey", "!survey")
    if prefixed:
        words = words[1:]
    if not words:
        return Command("help")
    name, args = words[0].lower(), words[1:]
    if name not in USAGE:
        return Unusable(f"There is no command '{words[0]}'.\n{HELP}")
    if name in DRY_RUNS and args and args[-1].lower() in DRY_RUN_WORDS:
        parsed = parse(" ".join([name, *args[:-1]]))
        return replace(parsed, dry_run=True) if isinstance(parsed, Command) else parsed
    if name == "approve":
        if len(args) != 1 or not _RUN.match(args[0]):
            return _usage(name, "needs the number of the request, from the reply that held it")
        return Command(name, request=int(_RUN.match(args[0]).group(1)))
    if name == "reply":
        if not args or not _REFERENCE.match(args[0]):
            return _usage(name, "needs the reference of a quote (#K7P2Q) from a digest")
        reference = args[0].lstrip("#").upper()
        said = _after_words(text, 2 + prefixed)  # its own line breaks kept
        return Command(name, reference=reference, text=said)
    if name in ("help", "list"):
        return Command(name) if not args else _usage(name, "takes nothing more")
    if name == "start":
        return _start(args)
    if name == "assist":
        if len(args) == 1:
            return Command(name, survey=args[0])
        if len(args) == 3 and args[1].lower() == "in":
            return Command(name, survey=args[0], language=args[2].lower())
        return _usage(name, "needs a survey, and may end with 'in' and a language (in fi)")
    if name == "audit":
        return _audit(args)
    if name == "unschedule":
        if len(args) == 1 and (start := _START_SCHEDULE.match(args[0])):
            return Command(name, schedule=int(start.group(1)), starts=True)
        if len(args) != 1 or not _RUN.match(args[0]):
            return _usage(name, "needs the number of a schedule, from survey status")
        return Command(name, schedule=int(_RUN.match(args[0]).group(1)))
    if not args or not _RUN.match(args[0]):
        return _usage(name, "needs the number of a run, from survey list")
    run = int(_RUN.match(args[0]).group(1))
    if name == "schedule":
        cron = " ".join(args[1:])
        if len(args[1:]) != 5:
            return _usage(name, "needs a cron time of five fields: minute hour day month weekday")
        return Command(name, run=run, cron=cron)
    if name == "export" and [a.lower() for a in args[1:]] == ["raw"]:
        return Command(name, run=run, raw=True)
    if name == "review" and len(args) > 1:
        decisions = {"release": "released", "keep": "kept"}
        if len(args) != 3 or args[1].lower() not in decisions:
            return _usage(name, "continues with 'release' or 'keep' and a reference")
        return Command(name, run=run, decision=decisions[args[1].lower()], reference=args[2])
    if name == "act":
        finding = _FINDING.match(args[1]) if len(args) > 1 else None
        status = args[2].lower() if len(args) > 2 else ""
        if finding is None or status not in ACT_STATUSES:
            return _usage(name, "needs a finding's number and what became of it")
        # other languages' notes, quoted or not, are split apart in bot/outcomes.py
        note = _after_words(text, 4 + prefixed).strip("\"'“”")
        return Command(name, run=run, finding=int(finding.group(1)), status=status, text=note)
    if name == "tell" and [a.lower() for a in args[1:]] == ["send"]:
        return Command(name, run=run, send=True)
    if name == "remind" and len(args) > 1:
        return _reminders(run, " ".join(args[1:]))
    if name == "close" and len(args) > 1:
        moment = _moment(" ".join(args[2:]), end_of_day=True) if args[1].lower() == "at" else None
        if moment is None:
            return _usage(name, "continues with 'at' and a date and time such as 2027-02-01 17:00")
        return Command(name, run=run, until=moment)
    if len(args) > 1:
        return _usage(name, "takes only the run number")
    return Command(name, run=run)


def _start(args: list[str]) -> Command | Unusable:
    if not args:
        return _usage("start", "needs a survey: its id or keyword, from survey list")
    args, timing = _timing(args)
    if isinstance(timing, Unusable):
        return timing
    started = _audience(args)
    return replace(started, **timing) if isinstance(started, Command) else started


_TIMING_WORDS = ("at", "every", "until")


def _timing(args: list[str]) -> tuple[list[str], dict[str, object] | Unusable]:
    """Split `at …`, `every "CRON"` and `until …` off the end of a start command."""
    timing: dict[str, object] = {}
    positions = [i for i, word in enumerate(args) if word.lower() in _TIMING_WORDS and i > 0]
    for start, end in zip(positions, [*positions[1:], len(args)], strict=False):
        word, value = args[start].lower(), " ".join(args[start + 1 : end]).strip()
        if word in timing:
            return args, _usage("start", f"says '{word}' twice")
        if word == "every":
            cron = value.strip("\"'“”")
            if len(cron.split()) != 5:
                return args, _usage(
                    "start", 'every needs a cron time of five fields, e.g. every "0 9 1 * *"'
                )
            timing["every"] = cron
            continue
        moment = _moment(value, end_of_day=word == "until")
        if moment is None:
            return args, _usage("start", f"{word} needs a date and time such as 2027-01-04 09:00")
        timing[word] = moment
    if "at" in timing and "every" in timing:
        return args, _usage("start", "takes either at (once) or every (again and again)")
    return (args[: positions[0]] if positions else args), timing


def without_timing(text: str) -> str:
    """A start command as typed, without its `at`, `every` and `until`: what a schedule runs."""
    words = text.split()
    survey_at = next(i for i, w in enumerate(words) if w.lower() == "start") + 1
    cut = next(
        (i for i, w in enumerate(words) if i > survey_at and w.lower() in _TIMING_WORDS),
        len(words),
    )
    return " ".join(words[:cut])


def _moment(text: str, *, end_of_day: bool) -> datetime | None:
    """A local date and time; a date alone is its start, or with `end_of_day` its end."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        try:
            return datetime.fromisoformat(text.replace(" ", "T", 1))
        except ValueError:
            return None
    return datetime.combine(day + timedelta(days=1) if end_of_day else day, datetime.min.time())


def _audience(args: list[str]) -> Command | Unusable:
    survey, rest = args[0], args[1:]
    if not rest:
        return Command("start", survey=survey)
    if rest[0].lower() != "for" or len(rest) < 2:
        return _usage("start", "continues with 'for' and the audience")
    who = rest[1:]
    if len(who) == 1 and who[0].lower() in ("everyone", "anyone", "open"):
        return Command("start", survey=survey, audience=Audience("open"))
    if [w.lower() for w in who[:2]] == ["members", "of"] and len(who) == 3:
        return Command("start", survey=survey, audience=Audience("channel", (who[2],)))
    if len(who) == 1 and who[0].startswith(("#", "!")):
        return Command("start", survey=survey, audience=Audience("channel", (who[0],)))
    # phone numbers, maybe written with spaces; or as a held wave keeps them ([number])
    if who[0][:1] == "+" or who[0][:1].isdigit() or who[0].startswith(HELD_NUMBER):
        written = " ".join(who)
        numbers = written.split(",") if "," in written else written.split()
        named = tuple(n.strip() for n in numbers if n.strip())
        return Command("start", survey=survey, audience=Audience("numbers", named))
    people = tuple(name.strip(",") for name in who if name.strip(","))
    if not people:
        return _usage("start", "needs at least one person after 'for'")
    return Command("start", survey=survey, audience=Audience("users", people))


_POLICY = re.compile(
    r"^after\s+(\d{1,4})\s*(hours?|days?|weeks?)(?:\s*,?\s*at\s+most\s+(\d{1,3})\s+times?)?$",
    re.IGNORECASE,
)
_UNIT = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}


def _reminders(run: int, text: str) -> Command | Unusable:
    if text.lower() == "off":
        return Command("remind", run=run, reminders="off")
    found = _POLICY.match(text.strip())
    if found is None:
        return _usage("remind", f"cannot read '{text}'")
    count, unit, at_most = found.groups()
    after = int(count) * _UNIT[unit.lower().rstrip("s")]
    try:
        policy = ReminderPolicy(after=after, **({"at_most": int(at_most)} if at_most else {}))
    except ValidationError as error:
        problem = error.errors()[0]
        return _usage(
            "remind", f"{problem['loc'][0]}: {problem['msg'].removeprefix('Value error, ')}"
        )
    return Command("remind", run=run, reminders=policy)


def _audit(args: list[str]) -> Command | Unusable:
    run = None
    if args and _RUN.match(args[0]):
        run, args = int(_RUN.match(args[0]).group(1)), args[1:]
    if not args:
        return Command("audit", run=run)
    if len(args) != 2 or args[0].lower() != "since":
        return _usage("audit", "continues with 'since' and a date")
    try:
        since = date.fromisoformat(args[1])
    except ValueError:
        return _usage("audit", f"needs a date such as 2027-01-01, not '{args[1]}'")
    return Command("audit", run=run, since=since)


def _usage(name: str, problem: str) -> Unusable:
    return Unusable(f"'survey {name}' {problem}. Use: {USAGE[name]}")
