"""Python source bytes -> text, decoded as the interpreter would (BOM, PEP 263 cookie)."""

from __future__ import annotations

import codecs
import io
import tokenize


def decode_source(data: bytes) -> tuple[str, str]:
    """The text and the encoding it was decoded with; raises SyntaxError, LookupError or
    UnicodeDecodeError for what the interpreter would refuse."""
    # Most files: no BOM and no "coding" in the two lines a cookie may occupy, so the encoding
    # is UTF-8 (what tokenize.detect_encoding returns then); anything else takes its path.
    if not data.startswith(codecs.BOM_UTF8):
        first = data.find(b"\n")
        second = data.find(b"\n", first + 1) if first >= 0 else -1
        head = data if second < 0 else data[:second]
        if b"coding" not in head:
            try:
                return data.decode("utf-8"), "utf-8"
            except UnicodeDecodeError:
                pass  # the slow path raises what the interpreter would say
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    return data.decode(encoding), encoding
