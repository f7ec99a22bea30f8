"""Block Kit for civicbot's messages: pure functions from a message to Slack's blocks.

Everything civicbot writes goes out as plain_text blocks, which Slack never parses
for mentions or links, with an escaped `text` for notifications: no participant's
words can ping a channel or disguise a link.
"""

from __future__ import annotations

from typing import Any

from conversations.outgoing import Message, typed_text

SECTION_LIMIT = 3_000  # characters in one section block
BLOCK_LIMIT = 50  # blocks in one message
BUTTONS_PER_ACTIONS_BLOCK = 25
BUTTON_TEXT_LIMIT = 75
CHECKBOXES_PER_GROUP = 10
SEND_CHOICES = "send-choices"


def escape(text: str) -> str:
    """Slack's three control characters, so `<!channel>` and `<@U…>` stay text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def blocks_for(message: Message) -> list[dict[str, Any]]:
    """Block Kit for a message: plain-text sections, the numbered choices as text, and
    buttons for single choices and scales (a typed answer always works too)."""
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": _plain(chunk)}
        for chunk in chunks(typed_text(message), SECTION_LIMIT)
    ]
    if message.choices and message.multiple:
        blocks.extend(_checkboxes(message))
    elif message.choices:
        for start in range(0, len(message.choices), BUTTONS_PER_ACTIONS_BLOCK):
            row = message.choices[start : start + BUTTONS_PER_ACTIONS_BLOCK]
            blocks.append(
                {
                    "type": "actions",
                    "block_id": f"choices-{start}",
                    "elements": [
                        {
                            "type": "button",
                            "action_id": f"choice-{start + i}",
                            "text": _plain(_button_label(message, start + i, choice.label)),
                            "value": choice.value,
                        }
                        for i, choice in enumerate(row)
                    ],
                }
            )
    return blocks[:BLOCK_LIMIT]


def _checkboxes(message: Message) -> list[dict[str, Any]]:
    """Multiple choice: checkboxes (ten to a group, Slack's limit) and a send button
    that carries the question, so an empty selection can still be answered."""
    blocks: list[dict[str, Any]] = []
    for start in range(0, len(message.choices), CHECKBOXES_PER_GROUP):
        row = message.choices[start : start + CHECKBOXES_PER_GROUP]
        options = [
            {
                "text": _plain(_button_label(message, start + i, choice.label)),
                "value": choice.value,
            }
            for i, choice in enumerate(row)
        ]
        blocks.append(
            {
                "type": "actions",
                "block_id": f"pick-{start}",
                "elements": [
                    {"type": "checkboxes", "action_id": f"pick-{start}", "options": options}
                ],
            }
        )
    send = {
        "type": "button",
        "action_id": SEND_CHOICES,
        "text": _plain(message.send_label or "✓"),
        "style": "primary",
        "value": message.question,
    }
    blocks.append({"type": "actions", "block_id": SEND_CHOICES, "elements": [send]})
    return blocks


def _plain(text: str) -> dict[str, Any]:
    """A text object Slack shows as it is: no mentions, links or formatting."""
    return {"type": "plain_text", "text": text, "emoji": True}


def _button_label(message: Message, index: int, label: str) -> str:
    shown = f"{index + 1}. {label}" if message.numbered else label
    return shown if len(shown) <= BUTTON_TEXT_LIMIT else shown[: BUTTON_TEXT_LIMIT - 1] + "…"


def chunks(text: str, size: int) -> list[str]:
    """Split at line ends where possible, so a long digest reads well across blocks."""
    chunks: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line) > size:
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:size])
            line = line[size:]
        if len(current) + len(line) > size:
            chunks.append(current)
            current = ""
        current += line
    if current or not chunks:
        chunks.append(current or " ")
    return [chunk.rstrip("\n") or " " for chunk in chunks]


def answered(blocks: list[dict[str, Any]], chosen_text: str) -> list[dict[str, Any]]:
    """An answered question's blocks: its buttons give way to the choice made."""
    kept = [b for b in blocks if b.get("type") != "actions"]
    chosen = {"type": "context", "elements": [{"type": "plain_text", "text": f"✓ {chosen_text}"}]}
    return [*kept, chosen]


def ticked_options(state: dict[str, Any]) -> list[dict[str, Any]]:
    """The options ticked in every checkbox group of a message's interaction state."""
    return [
        option
        for block in state.get("values", {}).values()
        for element in block.values()
        if element.get("type") == "checkboxes"
        for option in element.get("selected_options") or []
    ]
