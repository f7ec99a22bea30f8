"""The bot's Matrix device: logging in as the same device every time, and keeping its
encryption keys (uploaded, queried, claimed, and room keys shared before sending)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from nio import AsyncClient, LoginResponse, WhoamiResponse

from bot.config import ConfigError

log = logging.getLogger(__name__)


class MatrixLoginError(ConfigError):
    """The homeserver refused the bot's credentials; the message says which and why."""


@dataclass(frozen=True)
class MatrixLogin:
    """Who the bot is. An access token must belong to `device_id`; a password logs in
    to that device, so every start is the same device with the same keys."""

    user_id: str
    device_id: str
    access_token: str | None = None
    password: str | None = None


async def log_in(client: AsyncClient, login: MatrixLogin) -> None:
    """Log in as the configured device; raises MatrixLoginError saying what is wrong."""
    if login.access_token:
        client.restore_login(login.user_id, login.device_id, login.access_token)
        who = await client.whoami()
        if not isinstance(who, WhoamiResponse):
            raise MatrixLoginError(f"Matrix refused the access token of {login.user_id}: {who}")
        if who.device_id and who.device_id != login.device_id:
            raise MatrixLoginError(
                f"the Matrix access token belongs to device {who.device_id}, but "
                f"matrix.device_id is {login.device_id}: they must match, so that the "
                f"encryption keys stay with one device"
            )
    elif login.password:
        response = await client.login(login.password, device_name="civicbot")
        if not isinstance(response, LoginResponse):
            raise MatrixLoginError(f"Matrix login of {login.user_id} failed: {response}")
    else:
        raise MatrixLoginError("Matrix needs an access token or a password")
    if client.should_upload_keys:
        await client.keys_upload()
    log.info(
        "matrix: logged in as %s, device %s, encryption on",
        login.user_id,
        client.device_id,
    )


async def share_room_key(client: AsyncClient, room_id: str, lock: asyncio.Lock) -> None:
    """In an encrypted room: every member's devices known, and the room key sent to
    each of them (invited people too), before a message is encrypted with it."""
    room = client.rooms[room_id]
    if not room.encrypted:
        return
    async with lock:
        if not room.members_synced:
            await client.joined_members(room_id)
        if client.should_query_keys:
            await client.keys_query()
        if client.olm.should_share_group_session(room_id):
            await client.share_group_session(room_id, ignore_unverified_devices=True)


async def keep_keys(client: AsyncClient) -> None:
    """What nio's own sync loop does after each sync: keys out, keys in, sessions."""
    await client.send_to_device_messages()
    if client.should_upload_keys:
        await client.keys_upload()
    if client.should_query_keys:
        await client.keys_query()
    if client.should_claim_keys:
        await client.keys_claim(client.get_users_for_key_claiming())
