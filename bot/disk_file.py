"""A file made on disk for one too large to hold in memory: the export of a large run.

It has no name in the file system (a TemporaryFile), so it is gone once nothing holds
it, and with the process if that dies: what people answered is not left lying in a
temporary folder. Reads go by position (pread), so the web chat can serve it to two
downloads at once while nothing else moves a shared offset.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterator
from typing import BinaryIO

CHUNK = 1 << 16  # bytes read at a time


class DiskFile:
    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 - it lives as long as its holder

    @property
    def writer(self) -> BinaryIO:
        """Where the file is written, once, before anyone reads it."""
        return self._file

    @property
    def size(self) -> int:
        self._file.flush()
        return os.fstat(self._file.fileno()).st_size

    def chunks(self) -> Iterator[bytes]:
        reader = self.reader()
        while chunk := reader.read(CHUNK):
            yield chunk

    def reader(self) -> BinaryIO:
        """A reader of its own from the start, for libraries that take a file."""
        self._file.flush()
        return io.BufferedReader(_ByPosition(self._file.fileno()), CHUNK)

    def read(self) -> bytes:
        return self.reader().read()


class _ByPosition(io.RawIOBase):
    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._at = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True  # matrix-nio rewinds a file to send it again after a 429

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        start = {io.SEEK_SET: 0, io.SEEK_CUR: self._at, io.SEEK_END: os.fstat(self._fd).st_size}
        self._at = start[whence] + offset
        return self._at

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = os.pread(self._fd, len(buffer), self._at)
        buffer[: len(data)] = data
        self._at += len(data)
        return len(data)
