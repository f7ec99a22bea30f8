"""The coordinators' command grammar: what each command means, and what wrong ones are told."""

from __future__ import annotations

import pytest

from bot.commands import EXPLAINED, USAGE, Audience, Command, Unusable, help_text, parse


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("survey", Command("help")),
        ("survey help", Command("help")),
        ("/survey list", Command("list")),
        ("!survey start library", Command("start", survey="library")),
        ("survey start library for everyone", Command("start", survey="library")),
        (
            "survey start home-care for #staff-team",
            Command("start", survey="home-care", audience=Audience("channel", ("#staff-team",))),
        ),
        (
            "survey start home-care for members of !abc:example.org",
            Command(
                "start", survey="home-care", audience=Audience("channel", ("!abc:example.org",))
            ),
        ),
        (
            "survey start library for @anna, @bo",
            Command("start", survey="library", audience=Audience("users", ("@anna", "@bo"))),
        ),
        ("survey status 3", Command("status", run=3)),
        ("survey close #3", Command("close", run=3)),
        ("survey remind 12", Command("remind", run=12)),
        ("survey digest 1", Command("digest", run=1)),
        ("survey export 1", Command("export", run=1)),
        ("survey export 1 raw", Command("export", run=1, raw=True)),
        ("survey schedule 2 0 9 * * mon", Command("schedule", run=2, cron="0 9 * * mon")),
        ("survey unschedule 4", Command("unschedule", schedule=4)),
        ("START library", Command("start", survey="library")),
        (
            "survey reply #K7P2Q Thank you.\nWe open on Sundays  from March.",
            Command("reply", reference="K7P2Q", text="Thank you.\nWe open on Sundays  from March."),
        ),
        (
            "reply K7P2Q Two lines:\n- ramps\n- lifts",
            Command("reply", reference="K7P2Q", text="Two lines:\n- ramps\n- lifts"),
        ),
        (
            "survey act 3 F2 done 'Ramp built.\nOpen since May.'",
            Command("act", run=3, finding=2, status="done", text="Ramp built.\nOpen since May."),
        ),
    ],
)
def test_commands_mean_what_they_say(typed: str, meant: Command) -> None:
    assert parse(typed) == meant


@pytest.mark.parametrize(
    ("typed", "told"),
    [
        ("survey launch library", "There is no command 'launch'."),
        ("survey start", "'survey start' needs a survey"),
        (
            "survey start library to everyone",
            "'survey start' continues with 'for' and the audience",
        ),
        ("survey status", "'survey status' needs the number of a run, from survey list"),
        ("survey close three", "'survey close' needs the number of a run"),
        ("survey schedule 2 every monday", "needs a cron time of five fields"),
        ("survey digest 2 now", "'survey digest' takes only the run number"),
        ("survey list all", "'survey list' takes nothing more"),
    ],
)
def test_wrong_commands_are_told_what_would_work(typed: str, told: str) -> None:
    result = parse(typed)
    assert isinstance(result, Unusable)
    assert told in result.message
    assert "survey" in result.message.split("Use:")[-1] or "Commands:" in result.message


@pytest.mark.parametrize("lang", ["en", "fi", "sv"])
def test_help_says_what_every_command_does_in_each_staff_language(lang: str) -> None:
    assert set(EXPLAINED[lang]) == set(USAGE)
    listed = help_text(lang).splitlines()[1:]
    assert [line.split("  (")[0].strip() for line in listed] == list(USAGE.values())
