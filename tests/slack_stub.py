"""A loopback stand-in for Slack's Web API, answering as Slack documents, and helpers to
send correctly signed requests the way Slack does."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

import aiohttp
from aiohttp import web

BOT_TOKEN = "xoxb-test-token"
APP_TOKEN = "xapp-test-token"
SIGNING_SECRET = "test-signing-secret"
TEAM = "T0001"
POST_BURST = 4  # posts over chat.postMessage's rate that a bucket takes before a 429
ALT_TEXT_LIMIT = 1000  # characters of an image's alt_txt (files.getUploadURLExternal)


@dataclass
class Call:
    method: str
    params: dict[str, Any]


# The start of each reply, in order, to the library survey answered through to its end
# as bench/turns.py's SCRIPT answers it: what the kill tests check each person received.
LIBRARY_REPLIES = [
    "City library feedback",
    "How often do you visit the library?",
    "Which services have you used",
    "Overall, how satisfied",
    "What is one thing we could do better?",
    "Your age group",
    "Thank you! Library staff read every answer.",
]


@dataclass
class SlackWebApi:
    """Records every call; `fail` queues answers (e.g. a 429 or `channel_not_found`)."""

    locales: dict[str, str] = field(default_factory=dict)
    channels: dict[str, list[str]] = field(default_factory=dict)  # id -> member ids
    channel_names: dict[str, str] = field(default_factory=dict)  # id -> name (else: the id)
    people: dict[str, dict[str, Any]] = field(default_factory=dict)  # users.list's members
    calls: list[Call] = field(default_factory=list)
    fail: dict[str, list[tuple[int, dict[str, Any], dict[str, str]]]] = field(default_factory=dict)
    _ts: itertools.count = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None
    url: str = ""
    sockets: list[web.WebSocketResponse] = field(default_factory=list)
    uploads: dict[str, bytes] = field(default_factory=dict)
    acks: dict[str, asyncio.Event] = field(default_factory=dict)
    # Each channel's messages, oldest first, as conversations.history shows them.
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # Calls of a method to carry out and then answer with a reset connection.
    reset_after: dict[str, int] = field(default_factory=dict)
    # Calls of a method to carry out and then answer only once `unstalled` is set.
    stall: dict[str, int] = field(default_factory=dict)
    stalled: asyncio.Event = field(default_factory=asyncio.Event)
    # Seconds between carrying out a call and its answer reaching the caller, as the
    # network and Slack take in life: a crash in between leaves the outcome unknown.
    latency: float = 0.0
    unstalled: asyncio.Event = field(default_factory=asyncio.Event)
    # chat.postMessage's limits as Slack documents them: about one post a second per
    # channel after a short burst, and a workspace-wide limit (Slack names no figure;
    # 0: none). A post over either gets 429 `ratelimited` with Retry-After: 1.
    posts_per_second: float = 0.0  # per channel; 0: no limit
    workspace_posts_per_second: float = 0.0
    _posting: dict[str, float] = field(default_factory=dict)  # bucket -> next free time
    posted: int = 0  # chat.postMessage calls carried out (not refused)
    limited: int = 0  # chat.postMessage calls answered 429
    _called: asyncio.Condition = field(default_factory=asyncio.Condition)
    connected: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        application = web.Application()
        application.router.add_post("/api/{method}", self._call)
        application.router.add_get("/api/{method}", self._call)  # users.info is a GET
        application.router.add_get("/socket", self._socket)
        application.router.add_post("/upload/{file}", self._upload)
        application.router.add_post("/response/{command}", self._response)
        self._runner = web.AppRunner(application)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/api/"

    async def stop(self) -> None:
        self.unstalled.set()
        await self._runner.cleanup()

    async def until(self, check: Callable[[], bool], seconds: float = 30) -> None:
        """Wait (at most `seconds`) until `check` holds, looking again after every call."""
        async with asyncio.timeout(seconds), self._called:
            await self._called.wait_for(check)

    def made(self, method: str) -> list[dict[str, Any]]:
        return [c.params for c in self.calls if c.method == method]

    def top_level(self, channel: str) -> list[dict[str, Any]]:
        """The channel's messages that are not in a thread, oldest first."""
        return [m for m in self.history.get(channel, []) if "thread_ts" not in m]

    async def _upload(self, request: web.Request) -> web.Response:
        """Step two of files_upload_v2: the bytes go to the URL step one gave."""
        data = await request.read()
        self.uploads[request.match_info["file"]] = data
        return web.Response(text=f"OK - {len(data)}")

    async def _response(self, request: web.Request) -> web.Response:
        """A slash command's response_url: takes JSON, answers a plain 'ok'."""
        body = await request.json()
        self.calls.append(Call("response_url", {**body, "url": str(request.url)}))
        async with self._called:
            self._called.notify_all()
        if self.fail.get("response_url"):
            status, answer, headers = self.fail["response_url"].pop(0)
            return web.json_response(answer, status=status, headers=headers)
        return web.Response(text="ok")

    def slash_command(self, user: str, channel: str, text: str, *, team: str = TEAM) -> str:
        """The form Slack posts for `/survey text`, with a response_url into this stand-in."""
        trigger = f"{time.time():.6f}"
        return urlencode(
            {
                "token": "legacy",
                "team_id": team,
                "channel_id": channel,
                "user_id": user,
                "command": "/survey",
                "text": text,
                "trigger_id": f"trigger-{trigger}",
                "response_url": self.url.replace("/api/", f"/response/{trigger}"),
                "api_app_id": "A0001",
            }
        )

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        """Socket Mode: says hello, then carries envelopes out and acknowledgements back."""
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self.sockets.append(socket)
        await socket.send_json({"type": "hello", "num_connections": 1})
        self.connected.set()
        async for frame in socket:
            if frame.type == aiohttp.WSMsgType.TEXT:
                envelope_id = json.loads(frame.data).get("envelope_id", "")
                self.acks.setdefault(envelope_id, asyncio.Event()).set()
        return socket

    async def acknowledged(self, envelope_id: str) -> None:
        """Wait for civicbot's acknowledgement of an envelope."""
        await asyncio.wait_for(self.acks.setdefault(envelope_id, asyncio.Event()).wait(), 10)

    async def send_envelope(
        self, kind: str, payload: dict[str, Any], envelope_id: str, retry_attempt: int = 0
    ) -> None:
        await self.sockets[-1].send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": False,
                "retry_attempt": retry_attempt,
                "retry_reason": "timeout" if retry_attempt else "",
            }
        )

    async def disconnect(self) -> None:
        """What Slack sends before it moves a connection: the client must reconnect."""
        self.connected.clear()
        await self.sockets[-1].send_json(
            {"type": "disconnect", "reason": "refresh_requested", "debug_info": {"host": "stub"}}
        )

    async def _call(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if method == "apps.connections.open":
            if request.headers.get("Authorization") != f"Bearer {APP_TOKEN}":
                return web.json_response({"ok": False, "error": "invalid_auth"})
            self.calls.append(Call(method, {}))
            return web.json_response(
                {"ok": True, "url": self.url.replace("http", "ws", 1).replace("/api/", "/socket")}
            )
        if request.headers.get("Authorization") != f"Bearer {BOT_TOKEN}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        params: dict[str, Any] = dict(request.query)  # slack_sdk puts some in the query
        if request.content_type == "application/json":
            params.update(await request.json())
        elif request.method == "POST":
            params.update(await request.post())
            for key in ("blocks", "users"):
                if isinstance(params.get(key), str) and params[key].startswith("["):
                    params[key] = json.loads(params[key])
        self.calls.append(Call(method, params))
        async with self._called:
            self._called.notify_all()
        if self.fail.get(method):
            status, body, headers = self.fail[method].pop(0)
            return web.json_response(body, status=status, headers=headers)
        if method == "chat.postMessage" and self._over_limit(params["channel"]):
            self.limited += 1
            return web.json_response(
                {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": "1"}
            )
        answer = self._answer(method, params)
        if self.latency:
            await asyncio.sleep(self.latency)
        if self.stall.get(method):
            self.stall[method] -= 1
            self.stalled.set()
            await self.unstalled.wait()
        if self.reset_after.get(method):
            self.reset_after[method] -= 1
            assert request.transport is not None
            request.transport.abort()  # done, but the caller never hears of it
        return web.json_response(answer)

    def _over_limit(self, channel: str) -> bool:
        """Whether a post into `channel` now is over a limit. Each limit is a bucket
        refilled at its rate (the generic cell rate algorithm): a channel's holds
        POST_BURST posts, the workspace's a second's worth."""
        now = time.monotonic()
        limits = [
            (channel, self.posts_per_second, POST_BURST),
            (" workspace", self.workspace_posts_per_second, self.workspace_posts_per_second),
        ]
        buckets = [(key, 1 / rate, max(burst, 1)) for key, rate, burst in limits if rate]
        due = [max(self._posting.get(key, now), now) for key, _, _ in buckets]
        if any(
            at - now > (burst - 1) * every
            for (_, every, burst), at in zip(buckets, due, strict=True)
        ):
            return True
        for (key, every, _), at in zip(buckets, due, strict=True):
            self._posting[key] = at + every
        return False

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        ts = f"{1_700_000_000 + next(self._ts)}.000100"
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://civic.slack.com/",
                "team": "Civic",
                "user": "civicbot",
                "team_id": TEAM,
                "user_id": "UBOT",
                "bot_id": "BBOT",
            }
        if method == "users.info":
            user = params["user"]
            return {"ok": True, "user": {"id": user, "locale": self.locales.get(user, "en-US")}}
        if method == "chat.postMessage":
            message = {"text": params.get("text"), "blocks": params.get("blocks"), "ts": ts}
            if params.get("metadata"):
                message["metadata"] = params["metadata"]
            if params.get("thread_ts"):
                message["thread_ts"] = params["thread_ts"]
            self.history.setdefault(params["channel"], []).append(message)
            self.posted += 1
            return {"ok": True, "channel": params["channel"], "ts": ts, "message": message}
        if method in ("conversations.history", "conversations.replies"):
            return self._history(method, params)
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": ts}
        if method == "chat.update":
            return {"ok": True, "channel": params["channel"], "ts": params["ts"]}
        if method == "files.getUploadURLExternal":
            if len(params.get("alt_txt") or "") > ALT_TEXT_LIMIT:
                return {"ok": False, "error": "alt_txt_too_large"}
            file_id = f"F{next(self._ts)}"
            upload_url = self.url.replace("/api/", f"/upload/{file_id}")
            return {"ok": True, "upload_url": upload_url, "file_id": file_id}
        if method == "files.completeUploadExternal":
            files = (
                params["files"]
                if isinstance(params["files"], list)
                else json.loads(params["files"])
            )
            return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in files]}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": "D" + str(params["users"]).upper()}}
        if method == "users.list":
            return _page(list(self.people.values()), params, "members")
        if method == "conversations.list":
            listed = [
                {"id": c, "name": self.channel_names.get(c, c.lower()), "is_archived": False}
                for c in self.channels
            ]
            return _page(listed, params, "channels")
        if method == "conversations.members":
            members = self.channels.get(params["channel"])
            if members is None:
                return {"ok": False, "error": "channel_not_found"}
            start = int(params.get("cursor") or 0)
            page = members[start : start + 2]  # small pages, to exercise pagination
            cursor = str(start + 2) if start + 2 < len(members) else ""
            return {"ok": True, "members": page, "response_metadata": {"next_cursor": cursor}}
        return {"ok": False, "error": "unknown_method"}

    def _history(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """A channel's top-level messages newest first, or a thread's oldest first, with
        their metadata only when asked for (as Slack does)."""
        if method == "conversations.history":
            listed = self.top_level(params["channel"])[::-1]
        else:
            messages = self.history.get(params["channel"], [])
            listed = [m for m in messages if params["ts"] in (m["ts"], m.get("thread_ts"))]
        listed = listed[: int(params.get("limit") or 100)]
        if str(params.get("include_all_metadata")).lower() not in ("1", "true"):
            listed = [{k: v for k, v in m.items() if k != "metadata"} for m in listed]
        return {"ok": True, "messages": listed, "has_more": False}


def _page(items: list[Any], params: dict[str, Any], key: str) -> dict[str, Any]:
    """One page of a cursor-paginated list, two items long, to exercise pagination."""
    start = int(params.get("cursor") or 0)
    cursor = str(start + 2) if start + 2 < len(items) else ""
    return {"ok": True, key: items[start : start + 2], "response_metadata": {"next_cursor": cursor}}


def signed(body: str, *, secret: str = SIGNING_SECRET, at: int | None = None) -> dict[str, str]:
    """The headers Slack sends: a timestamp and the v0 HMAC-SHA256 signature."""
    timestamp = str(int(time.time()) if at is None else at)
    base = f"v0:{timestamp}:{body}".encode()
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}


def message_event(user: str, text: str, event_id: str, *, channel: str | None = None) -> str:
    event = {"type": "message", "channel": channel or f"D{user}", "channel_type": "im"}
    return _event_callback(event_id, {**event, "user": user, "text": text})


def edit_event(original: str, text: str, event_id: str) -> str:
    """message_changed: the person edited the message `original` (a message_event) to
    `text`, as Slack tells of it."""
    before = json.loads(original)["event"]
    message = {k: before[k] for k in ("type", "user", "text", "ts")}
    event = {
        "type": "message",
        "subtype": "message_changed",
        "hidden": True,
        "channel": before["channel"],
        "channel_type": "im",
        "message": {**message, "text": text, "edited": {"user": before["user"], "ts": "1"}},
        "previous_message": message,
    }
    return _event_callback(event_id, event)


def delete_event(original: str, event_id: str) -> str:
    before = json.loads(original)["event"]
    event = {
        "type": "message",
        "subtype": "message_deleted",
        "hidden": True,
        "channel": before["channel"],
        "channel_type": "im",
        "deleted_ts": before["ts"],
        "previous_message": {k: before[k] for k in ("type", "user", "text", "ts")},
    }
    return _event_callback(event_id, event)


def interaction(kind: str, **payload: Any) -> str:
    """An interactive payload of a kind civicbot never offers (a shortcut, a modal)."""
    fields = {"type": kind, "team": {"id": TEAM}, "user": {"id": "UANN", "team_id": TEAM}}
    return urlencode({"payload": json.dumps({**fields, "trigger_id": "t", **payload})})


def mention_event(user: str, channel: str, text: str, event_id: str) -> str:
    """`@civicbot text` in a channel, as the app_mention event Slack sends."""
    event = {"type": "app_mention", "channel": channel, "user": user, "text": f"<@UBOT> {text}"}
    return _event_callback(event_id, event)


def _event_callback(event_id: str, event: dict[str, Any]) -> str:
    """The Events API envelope around one event."""
    ts = f"{time.time():.6f}"
    return json.dumps(
        {
            "token": "legacy",
            "team_id": TEAM,
            "api_app_id": "A0001",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "event": {**event, "ts": ts, "event_ts": ts},
        }
    )


def click(user: str, message: dict[str, Any], button: dict[str, Any]) -> str:
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM, "domain": "civic"},
        "user": {"id": user, "team_id": TEAM},
        "api_app_id": "A0001",
        "container": {"type": "message", "message_ts": message["ts"], "channel_id": f"D{user}"},
        "channel": {"id": f"D{user}", "name": "directmessage"},
        "message": message,
        "trigger_id": f"trigger-{time.time()}",
        "actions": [
            {
                "type": "button",
                "action_id": button["action_id"],
                "block_id": "choices-0",
                "text": button["text"],
                "value": button["value"],
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


def send_choices(user: str, message: dict[str, Any], ticked: list[dict[str, Any]]) -> str:
    """The send button under checkboxes, with the ticked options in the payload's state."""
    send = message["blocks"][-1]["elements"][0]
    groups = [b for b in message["blocks"] if b.get("block_id", "").startswith("pick-")]
    values = {
        group["block_id"]: {
            group["elements"][0]["action_id"]: {
                "type": "checkboxes",
                "selected_options": [o for o in group["elements"][0]["options"] if o in ticked],
            }
        }
        for group in groups
    }
    payload = json.loads(parse_qs(click(user, message, send))["payload"][0])
    payload["state"] = {"values": values}
    payload["actions"][0]["block_id"] = send["action_id"]
    return urlencode({"payload": json.dumps(payload)})


async def post(
    session: aiohttp.ClientSession,
    url: str,
    body: str,
    *,
    form: bool = False,
    headers: dict[str, str] | None = None,
) -> aiohttp.ClientResponse:
    content_type = "application/x-www-form-urlencoded" if form else "application/json"
    sent_headers = {"Content-Type": content_type, **(signed(body) if headers is None else headers)}
    return await session.post(url, data=body.encode(), headers=sent_headers)
