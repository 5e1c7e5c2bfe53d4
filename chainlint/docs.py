"""The rule reference, generated from the rules themselves.

python -m chainlint.docs > docs/rules.md
"""

from __future__ import annotations

import os

from chainlint.rules import ALL_RULES
from chainlint.rules.base import Rule

# Where this repository's docs/rules.md is read on the web: SARIF's helpUri for each rule is
# this URL and the rule's anchor. There is no public URL yet; a fork, a mirror or a pinned
# commit sets CHAINLINT_DOCS_URL (for example .../blob/<commit>/docs/rules.md).
RULES_URL = "https://github.com/your-org/chainlint/blob/main/docs/rules.md"


def rule_anchor(rule: type[Rule]) -> str:
    """The stable anchor of a rule's section in docs/rules.md: its code in lower case."""
    return rule.code.lower()


def rule_url(rule: type[Rule]) -> str:
    base = os.environ.get("CHAINLINT_DOCS_URL") or RULES_URL
    return f"{base.split('#', 1)[0]}#{rule_anchor(rule)}"


HEADER = """# Rule reference

Generated from the rules themselves by `python -m chainlint.docs > docs/rules.md`; a test fails
when this file is stale. `chainlint rule CODE` prints the same page in a terminal.

Errors break Alembic at run time; warnings are drift. CL2xx rules run only with `--base REF`.
"""


def rule_title(rule: type[Rule]) -> str:
    fix = "fixable" if rule.fixable else "not fixable"
    default = "" if rule.default_enabled else ", off by default"
    return f"{rule.code} {rule.name} ({rule.severity}, {fix}{default})"


def rule_page(rule: type[Rule], level: int = 1, anchor: bool = False) -> str:
    """A rule's page: its title, then its four-part documentation, headings nested under it.
    With `anchor`, an explicit `<a id>` keeps `#cl001` links stable whatever the title says."""
    body = rule.documentation().replace("\n## ", "\n" + "#" * (level + 1) + " ")
    if body.startswith("## "):
        body = "#" * (level + 1) + body[2:]
    target = f'<a id="{rule_anchor(rule)}"></a>\n\n' if anchor else ""
    return f"{target}{'#' * level} {rule_title(rule)}\n\n{body}\n"


def render_rules_markdown() -> str:
    table = ["| code | name | severity | fix | default |", "|---|---|---|---|---|"]
    for rule in ALL_RULES:
        table.append(
            f"| [{rule.code}](#{rule_anchor(rule)}) | {rule.name} | {rule.severity} | "
            f"{'yes' if rule.fixable else 'no'} | {'on' if rule.default_enabled else 'off'} |"
        )
    pages = [rule_page(rule, level=2, anchor=True) for rule in ALL_RULES]
    return HEADER + "\n" + "\n".join(table) + "\n\n" + "\n".join(pages)


if __name__ == "__main__":
    print(render_rules_markdown(), end="")
