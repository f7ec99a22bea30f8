"""The web chat's section of civicbot.toml, and building the adapter from it."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

from pydantic import Field, FilePath, IPvAnyNetwork, field_validator

from adapters.web import PLATFORM, SESSION_LIFETIME, STAFF, WebAdapter
from adapters.web_limits import ADDRESS_BURST, ADDRESS_PER_SECOND
from adapters.web_pages import Branding
from bot.config import PlatformSection
from bot.events import InboundHandler
from bot.platforms import Configured, PlatformContext
from conversations.survey import Duration

LOGO_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".svg": "image/svg+xml",
    ".webp": "image/webp",
}

LOOPBACK = ("127.0.0.1", "localhost", "::1")


class WebSettings(PlatformSection):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8080
    # Where people reach the chat, at a domain's root or under a path such as
    # https://example.org/feedback/; an https address makes the session cookie Secure.
    public_url: Annotated[str, Field(pattern=r"^https?://")] | None = None

    # The service's own name, logo and notices on the chat page (the demo shows none).
    service_name: Annotated[str, Field(min_length=1, max_length=80)] | None = None
    logo: FilePath | None = None  # a PNG, JPEG, SVG or WebP file, shown beside the name
    privacy_url: Annotated[str, Field(pattern=r"^https?://")] | None = None
    accessibility_url: Annotated[str, Field(pattern=r"^https?://")] | None = None

    @field_validator("logo")
    @classmethod
    def _an_image(cls, logo: Path | None) -> Path | None:
        if logo is not None and logo.suffix.lower() not in LOGO_TYPES:
            raise ValueError(f"a logo is a {', '.join(sorted(LOGO_TYPES))} file")
        return logo

    def branding(self) -> Branding:
        media_type = LOGO_TYPES[self.logo.suffix.lower()] if self.logo else None
        return Branding(self.service_name, media_type, self.privacy_url, self.accessibility_url)

    @field_validator("public_url")
    @classmethod
    def _ends_in_slash(cls, url: str | None) -> str | None:
        return url if url is None or url.endswith("/") else url + "/"

    # The environment variable holding the key to the staff page.
    staff_key_env: str = "CIVICBOT_STAFF_KEY"
    # Reverse proxies (addresses or networks) whose X-Forwarded-For names the client,
    # so that rate limits apply per client rather than to everyone behind the proxy.
    trusted_proxies: list[IPvAnyNetwork] = Field(default_factory=list)
    # Messages and new sessions per client address: a burst, then so many a second.
    address_burst: Annotated[int, Field(ge=1)] = ADDRESS_BURST
    address_per_second: Annotated[float, Field(gt=0)] = ADDRESS_PER_SECOND
    # How long a browser keeps its session: long enough to come back to a survey later.
    # A chat on public computers wants hours ("8 hours"), so that a forgotten page expires.
    session_lifetime: Duration = SESSION_LIFETIME


SETTINGS = WebSettings


def staff_key(settings: WebSettings, environ: Mapping[str, str]) -> str | None:
    """The key that opens the staff page: from the environment, or — only when the chat
    listens on this machine alone — a new one each start. Otherwise no staff page."""
    key = environ.get(settings.staff_key_env)
    if key:
        return key
    return secrets.token_urlsafe(24) if settings.host in LOOPBACK else None


def from_settings(settings: WebSettings, context: PlatformContext) -> Configured:
    key = staff_key(settings, context.environ)
    shown_key = None if context.environ.get(settings.staff_key_env) else key

    def build(handler: InboundHandler) -> WebAdapter:
        return WebAdapter(
            handler,
            host=settings.host,
            port=settings.port,
            public_url=settings.public_url,
            staff_key=key,
            show_staff_key=shown_key is not None,
            trusted_proxies=settings.trusted_proxies,
            branding=settings.branding(),
            logo=settings.logo,
            address_limit=(settings.address_burst, settings.address_per_second),
            session_lifetime=settings.session_lifetime,
        )

    if key is None:
        return Configured(build)
    # holding the staff key is the permission; open surveys' digests land on the page
    return Configured(build, frozenset({f"{PLATFORM}:{STAFF}"}), f"{PLATFORM}:{STAFF}")
