"""Text in a PNG file's metadata (tEXt chunks, PNG specification 11.3.4.3): the screenshots
carry the version the page showed when they were taken, and a test reads it back."""

from __future__ import annotations

import struct
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: The keyword of the version the pictured page showed ("Software" is one of PNG's own).
VERSION_KEY = "Software"


def _chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    """Each chunk's type and data, in file order; ``ValueError`` for what is not a PNG."""
    if not png.startswith(SIGNATURE):
        raise ValueError("not a PNG file: its signature is missing")
    found = []
    at = len(SIGNATURE)
    while at < len(png):
        (length,) = struct.unpack(">I", png[at:at + 4])
        kind, data = png[at + 4:at + 8], png[at + 8:at + 8 + length]
        (crc,) = struct.unpack(">I", png[at + 8 + length:at + 12 + length])
        if len(data) != length or crc != zlib.crc32(kind + data):
            raise ValueError(f"the PNG's {kind!r} chunk at byte {at} is damaged")
        found.append((kind, data))
        at += 12 + length
    return found


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def with_text(png: bytes, key: str, value: str) -> bytes:
    """``png`` with the text ``value`` under ``key``, right after its header chunk (a text of
    that key already there is dropped)."""
    chunks = [(kind, data) for kind, data in _chunks(png)
              if not (kind == b"tEXt" and data.partition(b"\0")[0] == key.encode("latin-1"))]
    if not chunks or chunks[0][0] != b"IHDR":
        raise ValueError("the PNG does not start with its header chunk")
    text = (b"tEXt", key.encode("latin-1") + b"\0" + value.encode("latin-1"))
    return SIGNATURE + b"".join(_chunk(kind, data) for kind, data in [chunks[0], text, *chunks[1:]])


def texts(png: bytes) -> dict[str, str]:
    """The PNG's tEXt chunks, keyword to text."""
    found = {}
    for kind, data in _chunks(png):
        if kind == b"tEXt":
            key, _, value = data.partition(b"\0")
            found[key.decode("latin-1")] = value.decode("latin-1")
    return found
