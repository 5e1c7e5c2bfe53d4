"""Python source bytes -> text, decoded as the interpreter would (BOM, PEP 263 cookie)."""

from __future__ import annotations

import io
import tokenize


def decode_source(data: bytes) -> tuple[str, str]:
    """The text and the encoding it was decoded with; raises SyntaxError, LookupError or
    UnicodeDecodeError for what the interpreter would refuse."""
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    return data.decode(encoding), encoding
