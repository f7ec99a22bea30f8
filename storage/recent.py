"""The conversations of recently active participants, kept in memory after each commit.

A participant in a survey sends a message every few seconds; re-reading their row
each time costs more than the rest of the turn, because every commit empties the
reading connection's page cache. The cache is bounded, so memory stays flat however
many conversations are open, and it is written through: only `Store` changes these
rows, and it updates or forgets the entry whenever it does.
"""

from __future__ import annotations

from collections import OrderedDict

from storage.records import ConversationRow, Loaded, TurnRecord

CAPACITY = 4_096


class RecentConversations:
    def __init__(self, capacity: int = CAPACITY) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[str, Loaded] = OrderedDict()

    def get(self, pid: str) -> Loaded | None:
        loaded = self._entries.get(pid)
        if loaded is not None:
            self._entries.move_to_end(pid)
        return loaded

    def put(self, pid: str, loaded: Loaded) -> None:
        self._entries[pid] = loaded
        self._entries.move_to_end(pid)
        if len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def committed(self, turn: TurnRecord) -> None:
        """Bring the entry up to date with a turn that has just been committed."""
        if turn.assist is not None:  # the intermediary's session changed: read it again
            self.forget(turn.assist[0])
        before = self._entries.get(turn.pid)
        if before is None and not (turn.new_participant and turn.address):
            return  # not cached, and the turn alone does not say everything
        if before is not None and before.known_participant and _changes_nothing_kept(turn):
            self._entries.move_to_end(turn.pid)  # most turns outside a survey
            return
        address = turn.address[2] if turn.address else before.address
        conversation = before.conversation if before else None
        if turn.state is not None:  # a turn is only ever stored in an open run
            conversation = ConversationRow(
                turn.run_id, turn.kept_response, turn.state, turn.finished, True, turn.now
            )
        opted_out = before.opted_out if turn.opted_out is None and before else bool(turn.opted_out)
        accessible = (
            before.accessible if turn.accessible is None and before else bool(turn.accessible)
        )
        session = before.assist if before else None
        self.put(
            turn.pid,
            Loaded(True, address, conversation, opted_out, assist=session, accessible=accessible),
        )

    def forget(self, pid: str) -> None:
        self._entries.pop(pid, None)

    def forget_run(self, run_id: int) -> None:
        """A run was closed: conversations in it must be read again."""
        stale = [
            pid
            for pid, entry in self._entries.items()
            if entry.conversation is not None and entry.conversation.run_id == run_id
        ]
        for pid in stale:
            del self._entries[pid]

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def _changes_nothing_kept(turn: TurnRecord) -> bool:
    return (
        turn.state is None
        and turn.address is None
        and turn.opted_out is None
        and turn.accessible is None
    )
