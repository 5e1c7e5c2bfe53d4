"""The rules' fast paths against the plain definitions they replace: same answer on every input.

The fast paths (one regex instead of five, a plain-id shortcut before the per-character checks)
exist for 10,000-revision trees; these properties pin them to the slow definitions, which stay
here as the reference.
"""

from __future__ import annotations

import re

from hypothesis import example, given
from hypothesis import strategies as st

from chainlint.rules.cl005_illegal_revision_id import header_unsafe
from chainlint.rules.cl104_placeholder_revision_id import _PLACEHOLDER

# Characters that matter to the checks, mixed with arbitrary text.
_TRICKY = st.sampled_from(
    [
        *"0aAfFxX_1-@+:,'\"()[] \t\n\r\x0b\x0c\x00\x85\xa0\u2028\u3000\u017fK\u00e9",
        *("None", "todo", "deadbeef", "a1b2c3d4e5f6", "000000", "aaaa"),
    ]
)
IDS = st.one_of(st.text(), st.lists(_TRICKY, max_size=8).map("".join))


def reference_header_unsafe(value: str) -> str | None:
    """header_unsafe as first written: no shortcut."""
    if not value.strip():
        return "is blank"
    if value != value.strip():
        return "has leading or trailing whitespace"
    if value == "None":
        return "is the string 'None', which a header reads as no revision"
    if any(not char.isprintable() for char in value):
        return "contains a line break or another control character"
    if any(char.isspace() for char in value):
        return "contains whitespace"
    found = sorted(set(value) & {",", "'", '"'})
    if found:
        return f"contains {' and '.join(repr(c) for c in found)}"
    if value[0] in "([" or value[-1] in ")]":
        return "starts or ends with a bracket"
    return None


REFERENCE_PLACEHOLDERS = (
    re.compile(r"^(.)\1{3,}$"),
    re.compile(r"^0{6,}[0-9]{1,6}$"),
    re.compile(r"^(a1b2c3d4e5f6|1a2b3c4d5e6f|abcdef123456|123456abcdef)$"),
    re.compile(r"^(0123456789ab|123456789abc|1234567890ab)$"),
    re.compile(r"^(abc123|deadbeef|cafebabe|feedface|badc0ffee|xxxx|todo|changeme)", re.I),
)


@given(IDS)
@example("None")
@example("a_1")
@example("")
@example("ab\n")
def test_header_unsafe_shortcut_agrees_with_the_definition(value: str) -> None:
    assert header_unsafe(value) == reference_header_unsafe(value)


@given(IDS)
@example("aaaa")
@example("aaaa\n")
@example("\naaaa")
@example("0000001")
@example("00000000000001")
@example("DEADBEEF99")
@example("xdeadbeef")
@example("1234567890ab\n")
def test_one_placeholder_pattern_agrees_with_the_five(value: str) -> None:
    expected = any(pattern.search(value) for pattern in REFERENCE_PLACEHOLDERS)
    assert bool(_PLACEHOLDER.match(value)) == expected
