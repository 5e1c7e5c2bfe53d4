"""Hypothesis strategies for hostile migration trees: what CI systems, editors and hostile pull
requests feed a linter. Each tree mixes well-formed migrations (so rules and fixes have work to
do) with files that are broken in the ways issue 11 lists: identifiers no header can carry,
deep expressions, odd encodings and line endings, syntax errors, binary junk."""

from __future__ import annotations

from hypothesis import strategies as st

# Identifier values, written as Python string literals (repr), so a lone surrogate or a
# control character reaches chainlint as an escape in valid source.
HOSTILE_IDS = [
    "",
    " ",
    "a ",
    " a",
    "a\nb",
    "a,b",
    "a'b",
    'a"b',
    "None",
    "\ud800",
    "\x1b[31mred",
    "a\tb",
    "x" * 40,
    "é_ünïcode",
    "a@b",
    "a-b",
    "a:b",
    "a+b",
    "\u202eevil",
    "line\rfeed",
]
PLAIN_IDS = ["a1", "b2", "c3", "d4", "e5", "f6", "0001", "abc123", "rev_x"]

ids = st.one_of(st.sampled_from(PLAIN_IDS), st.sampled_from(HOSTILE_IDS))


def _literal(value: str | tuple[str, ...] | None) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(repr(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return repr(value)


# Right-hand sides that are not plain literals.
EXPRESSIONS = [
    "x" + ".a" * 1000,
    "1" + "+1" * 500,
    "f'{1}'",
    "compute()",
    "CONSTANT",
    "(" * 50 + "'a1'" + ")" * 50,
    "('a1',) * 3",
    "42",
    "b'a1'",
    "[" + ", ".join(repr(f"u{i}") for i in range(2000)) + "]",
]


@st.composite
def assignment_value(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["id", "id", "id", "none", "tuple", "expression"]))
    if kind == "id":
        return _literal(draw(ids))
    if kind == "none":
        return "None"
    if kind == "tuple":
        return _literal(tuple(draw(st.lists(ids, min_size=0, max_size=3))))
    return draw(st.sampled_from(EXPRESSIONS))


@st.composite
def header(draw: st.DrawFn, revision: str, revises: str) -> str:
    if not draw(st.booleans()):
        return ""
    rev_line = revision if draw(st.booleans()) else draw(st.sampled_from(HOSTILE_IDS + PLAIN_IDS))
    revises_line = revises if draw(st.booleans()) else draw(st.sampled_from(HOSTILE_IDS))
    # A header is text in a docstring: no line break, and nothing UTF-8 cannot carry.
    rev_line = _header_text(rev_line)
    revises_line = _header_text(revises_line)
    return (
        f'"""message\n\nRevision ID: {rev_line}\nRevises: {revises_line}\nCreate Date: x\n\n"""\n'
    )


def _header_text(value: str) -> str:
    value = value.replace("\n", " ").replace("\r", " ")
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


BODIES = [
    "def upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n",
    "def upgrade():\n    op.add_column('t', sa.Column('c', sa.Integer(), nullable=False))\n\n\n"
    "def downgrade():\n    op.drop_column('t', 'c')\n",
    "def upgrade():\n    op.create_table('t', sa.Column('id', sa.Integer(), primary_key=True))\n"
    "    op.create_table('t', sa.Column('id', sa.Integer()))\n",
    "def upgrade():\n    op.execute('DROP TABLE nowhere; \\x00')\n",
    "def upgrade():\n    with op.batch_alter_table('t') as b:\n        b.drop_column('zz')\n",
    "def upgrade():\n    x = " + "1+" * 400 + "1\n",
    "def upgrade(:\n    pass\n",  # a syntax error
    "",
]


@st.composite
def migration_source(draw: st.DrawFn) -> str:
    revision = draw(assignment_value())
    down = draw(assignment_value())
    lines = []
    if draw(st.booleans()):
        lines.append(draw(header(revision.strip("'\""), down.strip("'\"()"))))
    lines += ["from alembic import op", "import sqlalchemy as sa", ""]
    if draw(st.booleans()):
        lines.append("CONSTANT = 'a1'")
    if draw(st.integers(0, 9)) > 0:
        lines.append(f"revision = {revision}")
    if draw(st.integers(0, 9)) > 0:
        lines.append(f"down_revision = {down}")
    if draw(st.booleans()):
        lines.append(f"branch_labels = {draw(assignment_value())}")
    if draw(st.booleans()):
        lines.append(f"depends_on = {draw(assignment_value())}")
    lines += ["", "", draw(st.sampled_from(BODIES))]
    return "\n".join(lines)


ENCODINGS = [
    None,
    "utf-8",
    "latin-1",
    "undefined",
    "punycode",
    "idna",
    "utf-16",
    "rot13",
]


@st.composite
def encoded_file(draw: st.DrawFn) -> bytes:
    """A migration's bytes: a cookie (or none), a line-ending style, sometimes a BOM, junk."""
    source = draw(migration_source())
    cookie = draw(st.sampled_from(ENCODINGS))
    if cookie is not None:
        source = f"# -*- coding: {cookie} -*-\n" + source
    if draw(st.integers(0, 5)) == 0:
        source = source.replace("# revision", "# caf\udce9 revision")
    newline = draw(st.sampled_from(["\n", "\n", "\r\n", "\r"]))
    text = source.replace("\n", newline)
    data = text.encode("utf-8", "surrogateescape")
    damage = draw(st.integers(0, 11))
    if damage == 0:
        data = b"\xef\xbb\xbf" + data
    elif damage == 1:
        data = data[: draw(st.integers(0, len(data)))]
    elif damage == 2:
        data = data + b"\x00\xff\xfe"
    elif damage == 3:
        data = data.replace(b"import sqlalchemy", b"import sqlalchemy  # \xe9t\xe9")
    return data


@st.composite
def valid_chain(draw: st.DrawFn) -> dict[str, bytes]:
    """A short well-formed chain, sometimes with a fixable defect, for the rules to chew on."""
    count = draw(st.integers(1, 4))
    files: dict[str, bytes] = {}
    previous: str | None = None
    for index in range(count):
        rev = f"{index:04d}"
        down = previous
        defect = draw(st.sampled_from(["none", "none", "stem", "header", "overlong", "label"]))
        if defect == "overlong":
            rev = rev + "y" * 40
        revises = down or ""
        if defect == "header":
            revises = "somewhere_else"
        label = "'None'" if defect == "label" else "None"
        down_literal = repr(down)
        if defect == "stem" and down is not None:
            down_literal = repr(f"{down}_step")
        source = (
            f'"""step {index}\n\nRevision ID: {rev}\nRevises: {revises}\n'
            f'Create Date: 2024-01-0{index + 1} 00:00:00\n\n"""\n'
            "from alembic import op\nimport sqlalchemy as sa\n\n"
            f"revision = {rev!r}\ndown_revision = {down_literal}\n"
            f"branch_labels = {label}\ndepends_on = None\n\n\n"
            "def upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n"
        )
        files[f"{rev}_step.py"] = source.encode()
        previous = rev
    return files


@st.composite
def hostile_tree(draw: st.DrawFn) -> dict[str, bytes]:
    files = draw(valid_chain())
    for index in range(draw(st.integers(1, 4))):
        name = draw(st.sampled_from([f"h{index}.py", f"sub/h{index}.py", f"__init__{index}.py"]))
        files[name] = draw(encoded_file())
    return files
