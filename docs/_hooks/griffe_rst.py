"""Griffe extension: render the reStructuredText bits of elm-snn's docstrings as Markdown.

The docstrings are Google style (what mkdocstrings parses) but use a few Sphinx habits that
Markdown would show literally:

* cross-reference roles, e.g. ``:class:`~elm_snn.functional.elm.ELMState``` or
  ``:func:`reset```, become inline code with the name as written (the last component when
  the target starts with ``~``);
* a paragraph ending in ``::`` introduces a literal block; the ``::`` becomes ``:`` and the
  indented block that follows stays an (indented) Markdown code block.

Only the text shown in the site changes; the docstrings themselves are untouched.
"""

from __future__ import annotations

import re
from typing import Any

from griffe import Extension, Object

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|obj|exc|const):`(~?)([^`]+)`")
_LITERAL_INTRO = re.compile(r"(\S)::[ \t]*$", re.MULTILINE)
_BARE_LITERAL_INTRO = re.compile(r"^([ \t]*)::[ \t]*$", re.MULTILINE)


def rst_to_markdown(text: str) -> str:
    """Rewrite Sphinx roles and ``::`` literal-block markers of one docstring."""

    def role(match: re.Match) -> str:
        short, target = match.group(1), match.group(2)
        return f"`{target.rsplit('.', 1)[-1] if short else target}`"

    text = _ROLE.sub(role, text)
    text = _BARE_LITERAL_INTRO.sub(r"\1", text)
    return _LITERAL_INTRO.sub(r"\1:", text)


class RstToMarkdown(Extension):
    """Apply :func:`rst_to_markdown` to every docstring griffe loads."""

    def on_object(self, *, obj: Object, **kwargs: Any) -> None:
        """Rewrite ``obj``'s docstring in place (the docstring text griffe renders)."""
        if obj.docstring is not None:
            obj.docstring.value = rst_to_markdown(obj.docstring.value)
