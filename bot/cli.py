"""The `civicbot` command line."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import click
import uvloop

from bot.config import ConfigError, load_settings
from bot.survey_files import check_file


@click.group()
def main() -> None:
    """civicbot: guided feedback conversations in chat."""


@main.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="civicbot.toml; without it, the demo: the web chat on 127.0.0.1:8080",
)
def run(config_path: Path | None) -> None:
    """Run the bot until Ctrl-C or SIGTERM."""
    from bot.run import serve  # the server's imports are not needed by the other commands

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = load_settings(config_path)
    except ConfigError as error:
        click.echo(str(error), err=True)
        sys.exit(2)
    try:
        # uvloop: the same throughput, a third of asyncio's turn latency (bench/README.md)
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(serve(settings, announce=lambda line: click.echo(line)))
    except ConfigError as error:
        click.echo(str(error), err=True)
        sys.exit(2)
    except OSError as error:
        click.echo(f"civicbot could not start: {error}", err=True)
        sys.exit(1)


@main.command()
@click.argument("destination", type=click.Path(path_type=Path))
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="civicbot.toml, to find the database; without it, the demo's civicbot.db",
)
def backup(destination: Path, config_path: Path | None) -> None:
    """Copy the database to DESTINATION while the bot runs, with its pseudonym key."""
    from storage.contract import PSEUDONYM_KEY_VARIABLE, BackupError, back_up

    try:
        database = load_settings(config_path).storage.database
        made = back_up(database, destination)
    except (ConfigError, BackupError) as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    click.echo(f"{database} backed up to {made.database} ({made.size:,} bytes, checked)")
    if made.key is not None:
        click.echo(f"the pseudonym key is in {made.key}: keep the two together")
    else:
        click.echo(f"no key file: keep {PSEUDONYM_KEY_VARIABLE} with this backup")


@main.group()
def surveys() -> None:
    """Work with survey files."""


@surveys.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def check(files: tuple[Path, ...]) -> None:
    """Check survey FILES; print every problem and exit 1 if any file has an error."""
    failed = False
    for path in files:
        checked = check_file(path)
        for problem in checked.problems:
            click.echo(str(problem), err=problem.severity == "error")
        if checked.errors:
            failed = True
        elif checked.survey is not None:
            survey = checked.survey
            click.echo(
                f"{path}: ok: '{survey.id}', {len(survey.questions)} questions, "
                f"languages {', '.join(survey.languages)}"
            )
    sys.exit(1 if failed else 0)
