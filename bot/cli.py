"""The `civicbot` command line."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bot.survey_files import check_file


@click.group()
def main() -> None:
    """civicbot: guided feedback conversations in chat."""


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
