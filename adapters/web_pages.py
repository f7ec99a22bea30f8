"""What every response of the web chat carries: security headers, refusals in the page's
language, and the pages and static files, rendered in a language."""

from __future__ import annotations

import functools
import html
import json
import string
from dataclasses import dataclass
from importlib import resources
from typing import Any

from aiohttp import web

from adapters.web_limits import retry_after
from adapters.web_texts import PAGE_TEXTS, refusal

MAX_BODY_BYTES = 64 * 1024
STATIC = {"chat.css": "text/css", "chat.js": "text/javascript"}
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@web.middleware
async def security_headers(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPRequestEntityTooLarge:
        response = refuse(request, 413, "too_large", limit=MAX_BODY_BYTES)
    response.headers.update(HEADERS)
    return response


def refuse(request: web.Request, status: int, refused: str, **numbers: int) -> web.Response:
    """A refusal with its sentence (a key of the page's texts) in the page's language."""
    message = refusal(request.headers.get("Accept-Language", ""), refused, **numbers)
    return web.json_response({"error": message}, status=status)


def too_fast(request: web.Request, refused: str, wait: float) -> web.Response:
    """A 429: this session or this network sent too much; the page waits and resends."""
    return _retry_after(refuse(request, 429, refused), wait)


def unavailable(request: web.Request, refused: str, wait: float) -> web.Response:
    """A 503: nothing was kept of the request, and the page should send it again."""
    return _retry_after(refuse(request, 503, refused), wait)


def _retry_after(response: web.Response, wait: float) -> web.Response:
    response.headers["Retry-After"] = retry_after(wait)
    return response


@dataclass(frozen=True, slots=True)
class Branding:
    """The service's own name, logo and notices on the citizen's page; none by default."""

    name: str | None = None  # instead of "Feedback chat"
    logo: str | None = None  # the logo's media type when there is one (served at branding/logo)
    privacy_url: str | None = None
    accessibility_url: str | None = None


NEUTRAL = Branding()  # the demo's: "Feedback chat", no logo, no links


@functools.cache  # two pages in three languages: made once each
def rendered(name: str, language: str, branding: Branding = NEUTRAL) -> str:
    """A page with its words in `language`; the script's words ride in data-texts."""
    texts = PAGE_TEXTS[language]
    template = resources.files("adapters").joinpath(f"web_static/{name}").read_text("utf-8")
    values = {key: html.escape(text) for key, text in texts.items()}
    values["lang"] = language
    values["texts"] = html.escape(json.dumps(texts, ensure_ascii=False))
    # the words in every language, for when the conversation changes language
    values["languages"] = html.escape(json.dumps(PAGE_TEXTS, ensure_ascii=False))
    values["title_key"] = "title"
    if branding.name:
        values["title"] = html.escape(branding.name)
        values["title_key"] = ""  # the service's own name is the same in every language
    # the logo sits beside the name, which says the same: decorative for a screen reader
    values["logo"] = '<img class="logo" src="branding/logo" alt=""> ' if branding.logo else ""
    links = [
        f'<a href="{html.escape(url)}">{values[key]}</a>'
        for key, url in (
            ("privacy", branding.privacy_url),
            ("accessibility", branding.accessibility_url),
        )
        if url
    ]
    values["notices"] = f'<p class="notices">{" · ".join(links)}</p>' if links else ""
    return string.Template(template).substitute(values)


def same_origin(request: web.Request, public_host: str | None = None) -> bool:
    """Whether a request comes from the chat's own pages: the origin is the host asked
    for, or the public address's (a proxy may pass another Host on)."""
    origin = request.headers.get("Origin")
    return origin is None or origin.split("://", 1)[-1] in (request.host, public_host)


def static_file(name: str) -> tuple[bytes, str] | None:
    """The script or style the page asks for, with its media type; None for other names."""
    if name not in STATIC:
        return None
    return resources.files("adapters").joinpath(f"web_static/{name}").read_bytes(), STATIC[name]
