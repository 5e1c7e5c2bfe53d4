"""The rule reference, generated from the rules themselves.

python -m chainlint.docs > docs/rules.md
"""

from __future__ import annotations

from chainlint.rules import ALL_RULES
from chainlint.rules.base import Rule

HEADER = """# Rule reference

Generated from the rules themselves by `python -m chainlint.docs > docs/rules.md`; a test fails
when this file is stale. `chainlint rule CODE` prints the same page in a terminal.

Errors break Alembic at run time; warnings are drift. CL2xx rules run only with `--base REF`.
"""


def rule_title(rule: type[Rule]) -> str:
    fix = "fixable" if rule.fixable else "not fixable"
    default = "" if rule.default_enabled else ", off by default"
    return f"{rule.code} {rule.name} ({rule.severity}, {fix}{default})"


def rule_page(rule: type[Rule], level: int = 1) -> str:
    """A rule's page: its title, then its four-part documentation, headings nested under it."""
    body = rule.documentation().replace("\n## ", "\n" + "#" * (level + 1) + " ")
    if body.startswith("## "):
        body = "#" * (level + 1) + body[2:]
    return f"{'#' * level} {rule_title(rule)}\n\n{body}\n"


def render_rules_markdown() -> str:
    table = ["| code | name | severity | fix | default |", "|---|---|---|---|---|"]
    for rule in ALL_RULES:
        table.append(
            f"| [{rule.code}](#{rule.code.lower()}) | {rule.name} | {rule.severity} | "
            f"{'yes' if rule.fixable else 'no'} | {'on' if rule.default_enabled else 'off'} |"
        )
    pages = [rule_page(rule, level=2) for rule in ALL_RULES]
    return HEADER + "\n" + "\n".join(table) + "\n\n" + "\n".join(pages)


if __name__ == "__main__":
    print(render_rules_markdown(), end="")
