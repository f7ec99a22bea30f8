"""The civicbot command line behaves as command lines do: --version, -h, --host and
--port, and a clear word when the surveys cannot be found or two share a keyword."""

from __future__ import annotations

import sqlite3
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main, with_web_address
from bot.config import ConfigError, load_settings

LIBRARY = (Path(__file__).resolve().parent.parent / "surveys" / "library-services.yaml").read_text(
    encoding="utf-8"
)


def civicbot(*args: str, **env: str):
    return CliRunner().invoke(main, list(args), env={"CIVICBOT_PSEUDONYM_KEY": "k", **env})


def test_version_and_help_are_there() -> None:
    assert civicbot("--version").output == f"civicbot {version('civicbot')}\n"
    assert "Run the bot until Ctrl-C or SIGTERM." in civicbot("run", "-h").output
    assert "Check survey files" in civicbot("surveys", "check", "-h").output


def test_host_and_port_on_the_command_line_win_over_the_file(tmp_path: Path) -> None:
    config = tmp_path / "civicbot.toml"
    config.write_text('[web]\nhost = "127.0.0.1"\nport = 8080\n', encoding="utf-8")
    settings = with_web_address(load_settings(config), host="0.0.0.0", port=9000)
    assert (settings.platforms["web"].host, settings.platforms["web"].port) == ("0.0.0.0", 9000)


def test_host_and_port_without_the_web_chat_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "civicbot.toml"
    config.write_text("[web]\nenabled = false\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="--host and --port are the web chat's"):
        with_web_address(load_settings(config), host=None, port=9000)


@pytest.mark.parametrize(
    ("folder_content", "said"),
    [
        (None, "is not a folder"),
        ({}, "holds no survey that loads (no *.yaml or *.yml file)"),
        ({"broken.yaml": "id: [unclosed\n"}, "holds no survey that loads"),
    ],
)
def test_a_surveys_folder_that_gives_no_survey_stops_the_start_naming_it(
    tmp_path: Path, folder_content: dict[str, str] | None, said: str
) -> None:
    folder = tmp_path / "my-surveys"
    if folder_content is not None:
        folder.mkdir()
        for name, text in folder_content.items():
            (folder / name).write_text(text, encoding="utf-8")
    config = tmp_path / "civicbot.toml"
    config.write_text(
        f'[surveys]\nfolder = "{folder.name}"\n[web]\nport = 0\n[storage]\n'
        f'database = "{tmp_path / "civicbot.db"}"\n',
        encoding="utf-8",
    )
    ran = civicbot("run", "--config", str(config))
    assert ran.exit_code == 2
    assert f"surveys.folder: {folder} {said}" in ran.output


def test_surveys_check_takes_a_folder_and_refuses_a_keyword_used_twice(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(LIBRARY, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(
        LIBRARY.replace("id: library-services", "id: library-again"), encoding="utf-8"
    )
    checked = civicbot("surveys", "check", str(tmp_path))
    assert checked.exit_code == 1
    assert (
        f"{tmp_path / 'b.yaml'}: error: keyword 'library' is used by {tmp_path / 'a.yaml'} too"
        in (checked.output)
    )
    assert civicbot("surveys", "check", str(tmp_path / "a.yaml")).exit_code == 0


def test_every_package_and_the_example_surveys_are_in_a_non_editable_install() -> None:
    root = Path(__file__).resolve().parent.parent
    setuptools = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]
    in_tree = {
        ".".join(init.parent.relative_to(root).parts)
        for top in ("bot", "adapters", "conversations", "storage")
        for init in (root / top).rglob("__init__.py")
    }
    assert in_tree <= set(setuptools["packages"])  # a package left out breaks `pip install .`
    assert setuptools["package-dir"]["bot.example_surveys"] == "surveys"
    assert setuptools["package-data"]["bot.example_surveys"] == ["*.yaml"]


def a_database_of_the_release_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A database with data, as the release before the newest migration left it."""
    from storage import migrations
    from storage.database import connect

    database = tmp_path / "civicbot.db"
    with monkeypatch.context() as before:
        before.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:-1])
        connection = connect(database)
        migrations.migrate(connection)
    connection.execute("INSERT INTO participants (pid, created_at) VALUES ('p1', 0)")
    connection.commit()
    connection.close()
    return database


def test_migrate_check_lists_what_is_pending_and_migrate_backs_up_before_applying(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storage.migrations import MIGRATIONS

    newest = MIGRATIONS[-1]
    database = a_database_of_the_release_before(tmp_path, monkeypatch)
    config = tmp_path / "civicbot.toml"
    config.write_text(f'[storage]\ndatabase = "{database}"\n')
    checked = civicbot("migrate", "--check", "--config", str(config))
    assert checked.exit_code == 1
    assert f"is at version {newest.version - 1}" in checked.output
    assert f"to apply: {newest.version}: {newest.description}" in checked.output
    applied = civicbot("migrate", "--config", str(config))
    assert applied.exit_code == 0, applied.output
    (backup,) = tmp_path.glob(f"civicbot.db.v{newest.version - 1}.*.backup")
    with sqlite3.connect(backup) as copy:  # the way back: the data, at the old version
        assert copy.execute("SELECT pid FROM participants").fetchall() == [("p1",)]
        (version,) = copy.execute("SELECT max(version) FROM schema_migrations").fetchone()
        assert version == newest.version - 1
    again = civicbot("migrate", "--check", "--config", str(config))
    assert again.exit_code == 0
    assert "Nothing to apply." in again.output


def test_a_new_database_is_not_backed_up_before_its_first_migrations(tmp_path: Path) -> None:
    config = tmp_path / "civicbot.toml"
    config.write_text(f'[storage]\ndatabase = "{tmp_path / "civicbot.db"}"\n')
    (tmp_path / "civicbot.db").touch()
    assert civicbot("migrate", "--config", str(config)).exit_code == 0
    assert list(tmp_path.glob("*.backup")) == []


def test_init_writes_settings_and_surveys_that_load_and_never_overwrites(tmp_path: Path) -> None:
    made = civicbot("init", str(tmp_path / "service"))
    assert made.exit_code == 0, made.output
    settings = load_settings(tmp_path / "service" / "civicbot.toml")
    assert settings.surveys.folder == tmp_path / "service" / "surveys"
    assert settings.storage.database == tmp_path / "service" / "civicbot.db"
    assert civicbot("surveys", "check", str(settings.surveys.folder)).exit_code == 0
    again = civicbot("init", str(tmp_path / "service"))
    assert again.exit_code == 1
    assert "civicbot init overwrites nothing" in again.output
