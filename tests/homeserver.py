"""A real Synapse homeserver on 127.0.0.1 for the Matrix tests.

The config is generated into a temporary folder, then narrowed: one client
listener on a free loopback port, no federation, no key servers, rate limits
raised for the tests. Users are registered with the shared secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

SERVER_NAME = "localhost"
PLENTY = {"per_second": 1000, "burst_count": 1000}


@dataclass(frozen=True)
class Account:
    user_id: str
    access_token: str
    device_id: str
    password: str


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Synapse:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.shared_secret = secrets.token_hex(16)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        config = self.folder / "homeserver.yaml"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "synapse.app.homeserver",
                "--server-name",
                SERVER_NAME,
                "--config-path",
                str(config),
                "--generate-config",
                "--report-stats=no",
            ],
            cwd=self.folder,
            check=True,
            capture_output=True,
        )
        settings = yaml.safe_load(config.read_text())
        settings.update(
            {
                "listeners": [
                    {
                        "port": self.port,
                        "bind_addresses": ["127.0.0.1"],
                        "type": "http",
                        "tls": False,
                        "x_forwarded": False,
                        "resources": [{"names": ["client"], "compress": False}],
                    }
                ],
                "registration_shared_secret": self.shared_secret,
                "trusted_key_servers": [],
                "suppress_key_server_warning": True,
                "log_config": str(self._quiet_logging()),
                "rc_message": PLENTY,
                "rc_registration": PLENTY,
                "rc_login": {"address": PLENTY, "account": PLENTY, "failed_attempts": PLENTY},
                "rc_joins": {"local": PLENTY, "remote": PLENTY},
                "rc_joins_per_room": PLENTY,
                "rc_invites": {"per_room": PLENTY, "per_user": PLENTY, "per_issuer": PLENTY},
                "rc_room_creation": PLENTY,
                "rc_admin_redaction": PLENTY,
            }
        )
        config.write_text(yaml.safe_dump(settings))
        self._launch()

    def restart(self) -> None:
        """Stop and start again on the same port, with the same data."""
        self.stop()
        self._launch()

    def _launch(self) -> None:
        config = self.folder / "homeserver.yaml"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "synapse.app.homeserver", "--config-path", str(config)],
            cwd=self.folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"synapse exited with {self.process.returncode}")
            try:
                urllib.request.urlopen(f"{self.url}/_matrix/client/versions", timeout=1)
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("synapse did not start within 60 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def register(self, name: str, *, admin: bool = False) -> Account:
        """A new user, registered with the shared secret (Synapse's admin API)."""
        endpoint = f"{self.url}/_synapse/admin/v1/register"
        nonce = json.load(urllib.request.urlopen(endpoint))["nonce"]
        password = secrets.token_hex(8)
        role = b"admin" if admin else b"notadmin"
        mac = hmac.new(
            self.shared_secret.encode(),
            b"\0".join([nonce.encode(), name.encode(), password.encode(), role]),
            hashlib.sha1,
        ).hexdigest()
        body = json.dumps(
            {"nonce": nonce, "username": name, "password": password, "admin": admin, "mac": mac}
        ).encode()
        request = urllib.request.Request(
            endpoint, data=body, headers={"Content-Type": "application/json"}
        )
        found = json.load(urllib.request.urlopen(request))
        return Account(found["user_id"], found["access_token"], found["device_id"], password)

    def call(self, account: Account, method: str, path: str, body: dict | None = None) -> dict:
        """One client-server API request as `account`, e.g. ("GET", "/devices")."""
        request = urllib.request.Request(
            f"{self.url}/_matrix/client/v3{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Authorization": f"Bearer {account.access_token}",
                "Content-Type": "application/json",
            },
        )
        return json.load(urllib.request.urlopen(request))

    def _quiet_logging(self) -> Path:
        path = self.folder / "log.yaml"
        path.write_text(
            yaml.safe_dump(
                {
                    "version": 1,
                    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(message)s"}},
                    "handlers": {
                        "file": {
                            "class": "logging.FileHandler",
                            "filename": str(self.folder / "homeserver.log"),
                            "formatter": "plain",
                        }
                    },
                    "root": {"level": "WARNING", "handlers": ["file"]},
                    "disable_existing_loggers": False,
                }
            )
        )
        return path
