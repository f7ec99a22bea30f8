"""The `civicbot` command line."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click
import uvloop

from bot import logs
from bot.config import ConfigError, Settings, load_settings, with_credentials
from bot.survey_files import check_file, survey_files
from conversations import plain_language
from conversations.checks import Problem
from conversations.text import fold
from storage.records import StorageUnusable

if TYPE_CHECKING:
    from storage.contract import Storage

T = TypeVar("T")


# The database's commands find it through civicbot.toml.
CONFIG_OPTION = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="civicbot.toml, to find the database; without it, the demo's civicbot.db",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="civicbot", prog_name="civicbot", message="%(prog)s %(version)s")
def main() -> None:
    """civicbot: guided feedback conversations in chat."""


@main.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="civicbot.toml; without it, the demo: the web chat on 127.0.0.1:8080",
)
@click.option("--host", help="the web chat's address, over web.host")
@click.option("--port", type=click.IntRange(0, 65535), help="the web chat's port, over web.port")
def run(config_path: Path | None, host: str | None, port: int | None) -> None:
    """Run the bot until Ctrl-C or SIGTERM."""
    from bot.run import serve  # the server's imports are not needed by the other commands

    try:
        settings = with_web_address(load_settings(config_path), host=host, port=port)
    except ConfigError as error:
        click.echo(str(error), err=True)
        sys.exit(2)
    logs.configure(settings.log_level, form=settings.log_format)
    try:
        # uvloop: the same throughput, a third of asyncio's turn latency (bench/README.md)
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(serve(settings, announce=lambda line: click.echo(line)))
    except ConfigError as error:
        click.echo(str(error), err=True)
        sys.exit(2)
    except (OSError, StorageUnusable) as error:
        click.echo(f"civicbot could not start: {error}", err=True)
        sys.exit(1)


@main.command()
@click.argument("destination", type=click.Path(path_type=Path))
@CONFIG_OPTION
def backup(destination: Path, config_path: Path | None) -> None:
    """Back up while the bot runs. DESTINATION ending in .tar.gz: one archive of the
    database, its pseudonym key, the Matrix crypto store and sync checkpoint, with
    checksums (civicbot restore takes it back); any other name: a copy of the database,
    with its key file beside it."""
    from storage.archive import archive
    from storage.contract import PSEUDONYM_KEY_VARIABLE, BackupError, back_up

    try:
        database = load_settings(config_path).storage.database
        if destination.name.endswith((".tar.gz", ".tgz")):
            archived = archive(database, destination)
            click.echo(
                f"{database} and what goes with it archived to {archived.path}"
                f" ({archived.files} files, {archived.size:,} bytes, with checksums)"
            )
            return
        made = back_up(database, destination)
    except (ConfigError, BackupError) as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    click.echo(f"{database} backed up to {made.database} ({made.size:,} bytes, checked)")
    if made.key is not None:
        click.echo(f"the pseudonym key is in {made.key}: keep the two together")
    else:
        click.echo(f"no key file: keep {PSEUDONYM_KEY_VARIABLE} with this backup")


@main.command()
@click.argument("source", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@CONFIG_OPTION
def restore(source: Path, config_path: Path | None) -> None:
    """Put an archive from civicbot backup in place of the configured database (with its
    key, Matrix crypto store and checkpoint), once its checksums hold and while no
    civicbot runs on it; what was there is moved aside, not deleted."""
    from storage.archive import restore as restore_archive
    from storage.contract import BackupError

    try:
        database = load_settings(config_path).storage.database
        moved = restore_archive(source, database)
    except (ConfigError, BackupError) as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    click.echo(f"restored {source} to {database}; civicbot run starts from it")
    for aside in moved:
        click.echo(f"  what was there is now {aside}")


@main.command()
@click.argument("folder", default=".", type=click.Path(path_type=Path, file_okay=False))
def init(folder: Path) -> None:
    """Write a commented civicbot.toml and the example surveys into FOLDER (here by
    default), to start a service from; nothing that is there already is overwritten."""
    from bot.init_files import write_starting_files

    folder.mkdir(parents=True, exist_ok=True)
    try:
        written = write_starting_files(folder)
    except FileExistsError as taken:
        click.echo(f"{taken}: there already; civicbot init overwrites nothing", err=True)
        sys.exit(1)
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"next: edit {written[0]}, then civicbot run --config {written[0]}")


@main.command()
@click.option("--check", is_flag=True, help="only list what is pending; exit 1 if anything is")
@CONFIG_OPTION
def migrate(check: bool, config_path: Path | None) -> None:
    """Bring the database up to this release's schema (civicbot run does it too, at its
    start), backing it up first; with --check, only say what would be done."""
    from storage.database import connect
    from storage.migrations import applied_version, pending

    settings = _settings_or_exit(config_path)
    logs.configure(settings.log_level, form=settings.log_format)  # it names the backup
    database = settings.storage.url or settings.storage.database
    if settings.storage.url:
        from storage.postgres_schema import pending_on

        try:
            version, due = pending_on(settings.storage.url, with_credentials(os.environ))
        except StorageUnusable as refused:
            click.echo(str(refused), err=True)
            sys.exit(1)
    else:
        if not settings.storage.database.is_file():
            click.echo(f"{database}: there is no database here yet; civicbot run makes one")
            sys.exit(1 if check else 0)
        connection = connect(settings.storage.database)
        try:
            version, due = applied_version(connection), pending(connection)
        finally:
            connection.close()
    click.echo(f"{database} is at version {version}.")
    for migration in due:
        click.echo(f"  to apply: {migration.version}: {migration.description}")
    if not due:
        click.echo("Nothing to apply.")
        return
    if check:
        sys.exit(1)
    _with_storage(settings, _nothing)
    if settings.storage.url:  # backups of PostgreSQL are the server's (docs/scaling.md)
        click.echo(f"Applied {len(due)}.")
    else:
        click.echo(f"Applied {len(due)}; the log above names the backup taken first.")


async def _nothing(store: Storage) -> None:
    return None


@main.group()
def surveys() -> None:
    """Work with survey files."""


@surveys.command("check")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def check(paths: tuple[Path, ...]) -> None:
    """Check survey files (or every survey file in a folder); print every problem and exit
    1 if any file has an error, or two surveys share an id or a keyword."""
    files = [f for p in paths for f in (survey_files(p) if p.is_dir() else [p])]
    failed = not files
    if not files:
        click.echo(f"{', '.join(map(str, paths))}: no *.yaml or *.yml file", err=True)
    taken: dict[str, Path] = {}  # id or keyword -> the file that has it
    for path in files:
        checked = check_file(path)
        for problem in checked.problems:
            click.echo(str(problem), err=problem.severity == "error")
        failed = failed or bool(checked.errors)
        survey = checked.survey
        if checked.errors or survey is None:
            continue
        for kind, name in (("id", survey.id), ("keyword", survey.keyword)):
            if name and (other := taken.setdefault(f"{kind}:{fold(name)}", path)) != path:
                click.echo(f"{path}: error: {kind} '{name}' is used by {other} too", err=True)
                failed = True
        for question, message in plain_language.report(survey):
            click.echo(str(Problem(str(path), question, message, "warning")))
        click.echo(
            f"{path}: ok: '{survey.id}', {len(survey.questions)} questions, "
            f"languages {', '.join(survey.languages)}"
        )
    sys.exit(1 if failed else 0)


@main.group()
def storage() -> None:
    """Where civicbot keeps its data: moving it to PostgreSQL."""


@storage.command("copy")
@click.option(
    "--to",
    "url",
    required=True,
    help="postgresql://user@host:port/database, empty; its password in CIVICBOT_DATABASE_PASSWORD",
)
@CONFIG_OPTION
def storage_copy(url: str, config_path: Path | None) -> None:
    """Copy the SQLite database (storage.database) whole into an empty PostgreSQL
    database, for storage.url; the SQLite file is only read."""
    from storage.copy import copy_to_postgres
    from storage.pseudonyms import KEY_VARIABLE, key_file

    settings = _settings_or_exit(config_path)
    database = settings.storage.database
    environ = with_credentials(os.environ)
    try:
        copied = copy_to_postgres(database, url, environ)
    except StorageUnusable as refused:
        click.echo(f"nothing copied: {refused}", err=True)
        sys.exit(1)
    click.echo(
        f"copied {sum(copied.rows.values()):,} rows of {len(copied.rows)} tables from"
        f" {database} to {url} (schema version {copied.version})"
    )
    click.echo(f'next: storage.url = "{url}" in civicbot.toml, for every worker')
    if not environ.get(KEY_VARIABLE):
        click.echo(
            f"and every worker needs {KEY_VARIABLE}: the key is in {key_file(database)}"
            " (without it, returning participants look new)"
        )


@main.group()
def staff() -> None:
    """Personal sign-ins to the web staff page."""


@staff.command("add")
@click.argument("name")
@click.argument("role")
@CONFIG_OPTION
def staff_add(name: str, role: str, config_path: Path | None) -> None:
    """Add staff member NAME with ROLE; print their personal sign-in link (shown once)."""
    from bot.staff_door import add_account

    settings = _settings_or_exit(config_path)
    try:
        key = _with_storage(
            settings, lambda store: add_account(store, name=name, role=role, now=time.time())
        )
    except ValueError as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    web = settings.platforms.get("web")
    base = (web.public_url or f"http://{web.host}:{web.port}/") if web else "https://…/"
    link = f"{base}staff?key={key}"
    click.echo(f"{name} ({role}) signs in with this link, shown only now:\n{link}")
    click.echo(f"civicbot staff revoke {name} ends the link and every session it opened.")


@staff.command("revoke")
@click.argument("name")
@CONFIG_OPTION
def staff_revoke(name: str, config_path: Path | None) -> None:
    """End NAME's sign-in link and sessions at once."""
    settings = _settings_or_exit(config_path)
    if not _with_storage(settings, lambda store: store.revoke_staff(name=name)):
        click.echo(f"there is no staff account '{name}'", err=True)
        sys.exit(1)
    click.echo(f"{name} can no longer sign in; their sessions have ended.")


@staff.command("list")
@CONFIG_OPTION
def staff_list(config_path: Path | None) -> None:
    """The staff accounts and their roles."""
    settings = _settings_or_exit(config_path)
    for account in _with_storage(settings, lambda store: store.staff_accounts()):
        click.echo(f"{account.name}: {account.role}")


def with_web_address(settings: Settings, *, host: str | None, port: int | None) -> Settings:
    """The settings with the web chat's address from the command line, where given."""
    given = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    if not given:
        return settings
    web = settings.platforms.get("web")
    if web is None or not web.enabled:
        raise ConfigError("--host and --port are the web chat's, and it is not enabled")
    platforms = {**settings.platforms, "web": web.model_copy(update=given)}
    return settings.model_copy(update={"platforms": platforms})


def _settings_or_exit(config_path: Path | None) -> Settings:
    try:
        return load_settings(config_path)
    except ConfigError as error:
        click.echo(str(error), err=True)
        sys.exit(2)


def _with_storage(settings: Settings, work: Callable[[Storage], Awaitable[T]]) -> T:
    """Run `work(storage)` against the configured database, opened and closed around it."""
    from storage.contract import open_storage

    async def opened() -> T:
        store = open_storage(
            settings.storage.url or settings.storage.database, environ=with_credentials(os.environ)
        )
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(opened())
