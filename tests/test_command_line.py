"""The civicbot command line behaves as command lines do: --version, -h, --host and
--port, and a clear word when the surveys cannot be found or two share a keyword."""

from __future__ import annotations

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
