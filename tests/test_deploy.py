"""What docs/deploy.md gives an operations team: a systemd unit that systemd accepts, a
container image that answers a survey, and dependencies pinned for both."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest
import yaml

from bot.config import load_settings

ROOT = Path(__file__).resolve().parent.parent


def test_the_service_unit_passes_systemds_own_check(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (Debian's systemd package)")
    unit = (ROOT / "deploy" / "civicbot.service").read_text()
    civicbot = Path(sys.executable).with_name("civicbot")  # this checkout's, for ExecStart
    checked = tmp_path / "civicbot.service"
    checked.write_text(unit.replace("/opt/civicbot/.venv/bin/civicbot", str(civicbot)))
    verified = subprocess.run(
        ["systemd-analyze", "verify", str(checked)], capture_output=True, text=True, timeout=60
    )
    assert verified.returncode == 0, verified.stderr
    assert verified.stderr == ""  # systemd warns of a setting it ignores, and still exits 0
    for hardening in ("NoNewPrivileges=yes", "ProtectSystem=strict", "Restart=on-failure"):
        assert hardening in unit


def test_every_dependency_is_pinned_in_the_constraints_file() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    names = {re.split(r"[\[<>=~! ]", requirement, maxsplit=1)[0] for requirement in wanted}
    pinned = {
        line.split("==")[0].lower().replace("_", "-")
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line
    }
    assert {name.lower().replace("_", "-") for name in names} <= pinned


def docker_works() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0


def test_the_container_image_builds_and_answers_a_survey(tmp_path: Path) -> None:
    if not docker_works():
        pytest.skip("no Docker daemon to build the image with (docker info fails)")
    tag = "civicbot-test:latest"
    subprocess.run(["docker", "build", "-t", tag, str(ROOT)], check=True, timeout=900)
    started = subprocess.run(
        ["docker", "run", "-d", "-p", "127.0.0.1::8080", "-e", "CIVICBOT_PSEUDONYM_KEY=t", tag],
        check=True,
        capture_output=True,
        text=True,
    )
    container = started.stdout.strip()
    try:
        port = (
            subprocess.run(
                ["docker", "port", container, "8080"], check=True, capture_output=True, text=True
            )
            .stdout.split(":")[-1]
            .strip()
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)  # the container is still starting
        assert page.status == 200
        cookie = page.headers["Set-Cookie"].split(";")[0]
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/messages",
            data=b'{"text": "library", "id": "event-0001"}',
            headers={"Content-Type": "application/json", "Cookie": cookie},
        )
        assert urllib.request.urlopen(request, timeout=10).status == 202
        answer = urllib.request.urlopen(
            urllib.request.Request(
                f"http://127.0.0.1:{port}/api/messages?after=0&wait=10",
                headers={"Cookie": cookie},
            ),
            timeout=20,
        ).read()
        assert b"City library feedback" in answer
    finally:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True)


def test_the_containers_settings_load_and_compose_holds_no_secret() -> None:
    for settings in sorted((ROOT / "deploy").glob("civicbot.*.toml")):
        load_settings(settings)  # raises, naming the setting, if one cannot be used
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    for name, service in compose["services"].items():
        for variable, value in (service.get("environment") or {}).items():
            if re.search("KEY|TOKEN|SECRET|PASSWORD", variable):
                assert str(value).startswith("${"), (name, variable)  # from .env, never here
    worker = compose["services"]["civicbot-postgresql"]
    assert worker["depends_on"]["postgres"]["condition"] == "service_healthy"
    url = load_settings(ROOT / "deploy/civicbot.postgresql.toml").storage.url
    assert url.startswith("postgresql://civicbot@postgres:")  # its password: the environment
