"""A large file (an export) on disk: nameless, read by several at once, rewound."""

from __future__ import annotations

import os

from bot.disk_file import CHUNK, DiskFile


def written(data: bytes) -> DiskFile:
    file = DiskFile()
    file.writer.write(data)
    return file


def test_two_downloads_at_once_each_get_the_whole_file() -> None:
    data = os.urandom(3 * CHUNK + 5)
    file = written(data)
    first, second = file.reader(), file.reader()
    halves = first.read(CHUNK), second.read(2 * CHUNK)
    assert halves == (data[:CHUNK], data[: 2 * CHUNK])
    assert first.read() == data[CHUNK:]
    assert b"".join(file.chunks()) == data
    assert file.size == len(data)


def test_a_reader_rewinds_for_a_second_try() -> None:
    file = written(b"response,status\n1,completed\n")
    reader = file.reader()
    reader.read()
    reader.seek(0)
    assert reader.tell() == 0
    assert reader.read() == b"response,status\n1,completed\n"


def test_the_file_has_no_name_to_be_found_by() -> None:
    file = written(b"private")
    where = os.readlink(f"/proc/self/fd/{file.writer.fileno()}")
    assert not os.path.exists(where)  # unlinked from the start: gone with the process
