"""Just enough CSS selector matching to ask "which elements of this HTML does a stylesheet
style?", for the panel's stylesheet against the notebook's own outputs.

Known: type, ``*``, ``.class``, ``#id``, ``[attr]``, ``[attr=value]``, the descendant and
child combinators, ``:has(...)``, and pseudo-elements (``::before``, ``::after``: they style
the element they hang on). Anything else raises, so that a stylesheet using more is not
silently judged harmless.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}


@dataclass(eq=False)
class Node:
    tag: str
    attrs: dict[str, str]
    parent: Node | None = None
    children: list[Node] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()

    def describe(self) -> str:
        classes = "".join(f".{c}" for c in sorted(self.classes))
        return f"<{self.tag}{classes}>"


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self._open = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs}, self._open)
        self._open.children.append(node)
        if tag not in VOID:
            self._open = node

    def handle_startendtag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs}, self._open)
        self._open.children.append(node)

    def handle_endtag(self, tag):
        node = self._open
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:
            self._open = node.parent


def parse_html(text: str) -> list[Node]:
    """Every element of ``text``, in document order."""
    builder = _TreeBuilder()
    builder.feed(text)
    builder.close()
    return [node for node in builder.root.walk() if node is not builder.root]


def selectors(stylesheet: str) -> list[str]:
    """The selectors of every rule, ``@supports`` and ``@media`` blocks included."""
    text = re.sub(r"</?style>", "", stylesheet)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    found: list[str] = []
    _rules(text, found)
    return found


def _rules(text: str, found: list[str]) -> None:
    position = 0
    while True:
        brace = text.find("{", position)
        if brace < 0:
            if text[position:].strip():
                raise ValueError(f"CSS left over: {text[position:]!r}")
            return
        prelude = text[position:brace].strip()
        depth, end = 1, brace + 1
        while depth:
            if end >= len(text):
                raise ValueError(f"unclosed block after {prelude!r}")
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            end += 1
        if prelude.startswith(("@supports", "@media")):
            _rules(text[brace + 1 : end - 1], found)
        elif prelude.startswith("@"):
            raise ValueError(f"unknown at-rule {prelude!r}")
        else:
            found.extend(_split(prelude, ","))
        position = end


def _split(text: str, separator: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == separator and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    parts.append(current.strip())
    return [p for p in parts if p]


_SIMPLE = re.compile(
    r"(?P<tag>^[a-zA-Z][\w-]*|^\*)|\.(?P<cls>[\w-]+)|#(?P<id>[\w-]+)"
    r"|\[(?P<attr>[\w-]+)(?:=(?P<value>\"[^\"]*\"|'[^']*'|[\w-]+))?\]"
    r"|::(?P<element>[\w-]+)|:(?P<pseudo>[\w-]+)(?:\((?P<arg>[^()]*)\))?"
)


def _compounds(selector: str) -> list[tuple[str, str]]:
    """[(combinator to the left, compound)], leftmost first."""
    tokens = re.findall(r"\s*(>)\s*|\s+|((?:[^\s>(]|\([^()]*\))+)", selector.strip())
    result, combinator = [], " "
    for child, compound in tokens:
        if child:
            combinator = ">"
        elif compound:
            result.append((combinator, compound))
            combinator = " "
    return result


def _compound_matches(node: Node, compound: str) -> bool:
    position = 0
    while position < len(compound):
        match = _SIMPLE.match(compound, position)
        if match is None or match.end() == position:
            raise ValueError(f"selector part not understood: {compound[position:]!r}")
        position = match.end()
        if match["tag"] and match["tag"] != "*" and match["tag"].lower() != node.tag:
            return False
        if match["cls"] and match["cls"] not in node.classes:
            return False
        if match["id"] and node.attrs.get("id") != match["id"]:
            return False
        if match["attr"]:
            if match["attr"] not in node.attrs:
                return False
            if match["value"] is not None and node.attrs[match["attr"]] != match["value"].strip(
                "\"'"
            ):
                return False
        if match["element"] and match["element"] not in ("before", "after"):
            raise ValueError(f"pseudo-element not understood: ::{match['element']}")
        if match["pseudo"]:
            if match["pseudo"] != "has" or match["arg"] is None:
                raise ValueError(f"pseudo-class not understood: :{match['pseudo']}")
            if not _has(node, match["arg"]):
                return False
    return True


def _has(node: Node, relative: str) -> bool:
    relative = relative.strip()
    if relative.startswith(">"):
        candidates = node.children
        relative = relative[1:]
    else:
        candidates = [d for c in node.children for d in c.walk()]
    return any(matches(c, relative, scope=node) for c in candidates)


def matches(node: Node, selector: str, scope: Node | None = None) -> bool:
    """Whether ``selector`` matches ``node`` (ancestors looked for up to ``scope``)."""
    parts = _compounds(selector)

    def at(element: Node | None, index: int) -> bool:
        if element is None or element is scope:
            return False
        combinator, compound = parts[index]
        if not _compound_matches(element, compound):
            return False
        if index == 0:
            return True
        if combinator == ">":
            return at(element.parent, index - 1)
        ancestor = element.parent
        while ancestor is not None and ancestor is not scope:
            if at(ancestor, index - 1):
                return True
            ancestor = ancestor.parent
        return False

    return at(node, len(parts) - 1)


def styled(stylesheet: str, html: str) -> list[tuple[str, str]]:
    """(selector, element) for every element of ``html`` a rule of ``stylesheet`` matches."""
    rules = selectors(stylesheet)
    return [
        (selector, node.describe())
        for node in parse_html(html)
        if node.tag != "style"
        for selector in rules
        if matches(node, selector)
    ]
