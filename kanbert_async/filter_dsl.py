"""Read Kanbert's filter DSL into filter trees: ``parse_filter('title contains "Acme" and x is null')``.

The API accepts the DSL as it is, but a tree can be checked against the operation's filter table
before anything is sent, and combined with other filters (a partition's range) without quoting
games. The grammar (operators case-insensitive)::

    expr      := and_expr ("or" and_expr)*
    and_expr  := term ("and" term)*
    term      := "(" expr ")" | condition
    condition := FIELD OP value | FIELD "is" ["not"] "null" | FIELD ("isnull" | "isnotnull" | "notnull")
                 | FIELD ("in" | "nin" | "notin" | "not in") "[" value ("," value)* "]"
    OP        := = != < <= > >= | eq ne neq lt lte le gt gte ge contains like startswith endswith
    value     := "double" | 'single' (backslash escapes) | number | true | false | null
                 | me.id | now | today | today±Nd | sow | eow | som | eom
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from ._core.errors import InvalidRequestError
from .filters import And, Condition, Filter, Or, SpecialValue

__all__ = ["FilterSyntaxError", "parse_filter"]

_SYMBOLS = {"=": "eq", "==": "eq", "!=": "ne", "<>": "ne", "<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}
_WORD_OPERATORS = frozenset(
    {"eq", "ne", "neq", "lt", "lte", "le", "gt", "gte", "ge", "contains", "like", "startswith", "endswith"}
)
_LIST_OPERATORS = frozenset({"in", "nin", "notin"})
_NULL_OPERATORS = {"isnull": "isnull", "isnotnull": "isnotnull", "notnull": "isnotnull"}
_SPECIAL = re.compile(r"^(me\.id|now|today|sow|eow|som|eom|today[+-]\d+d)$", re.IGNORECASE)
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<symbol><=|>=|!=|<>|==|=|<|>|\(|\)|\[|\]|,)
      | (?P<number>-?\d+(?:\.\d+)?(?![\w.]))
      | (?P<word>[A-Za-z_][\w.]*(?:[+-]\d+d)?)
    )""",
    re.VERBOSE,
)


class FilterSyntaxError(InvalidRequestError):
    """The filter text does not parse; the message points at the position."""


def _tokens(text: str) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise FilterSyntaxError(
                f"filter: unexpected {text[position:].strip()[:20]!r} at position {position}"
            )
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind), match.start(kind)))
        position = match.end()
    return tokens


def _unquote(literal: str) -> str:
    return re.sub(r"\\(.)", r"\1", literal[1:-1])


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.index = 0

    def error(self, expected: str) -> FilterSyntaxError:
        if self.index >= len(self.tokens):
            return FilterSyntaxError(f"filter {self.text!r}: expected {expected} at the end")
        _, value, position = self.tokens[self.index]
        return FilterSyntaxError(
            f"filter {self.text!r}: expected {expected} at position {position}, got {value!r}"
        )

    def peek(self) -> tuple[str, str] | None:
        if self.index < len(self.tokens):
            kind, value, _ = self.tokens[self.index]
            return kind, value
        return None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise self.error("more")
        self.index += 1
        return token

    def keyword(self, *words: str) -> bool:
        token = self.peek()
        if token is not None and token[0] == "word" and token[1].lower() in words:
            self.index += 1
            return True
        return False

    def symbol(self, sym: str) -> bool:
        if self.peek() == ("symbol", sym):
            self.index += 1
            return True
        return False

    def parse(self) -> Filter:
        if not self.tokens:
            raise FilterSyntaxError("filter: the expression is empty")
        node = self.expr()
        if self.peek() is not None:
            raise self.error("'and', 'or' or the end")
        return node

    def expr(self) -> Filter:
        nodes = [self.and_expr()]
        while self.keyword("or"):
            nodes.append(self.and_expr())
        return nodes[0] if len(nodes) == 1 else Or(*nodes)

    def and_expr(self) -> Filter:
        nodes = [self.term()]
        while self.keyword("and"):
            nodes.append(self.term())
        return nodes[0] if len(nodes) == 1 else And(*nodes)

    def term(self) -> Filter:
        if self.symbol("("):
            node = self.expr()
            if not self.symbol(")"):
                raise self.error("')'")
            return node
        return self.condition()

    def condition(self) -> Condition:
        kind, field = self.take()
        if kind != "word":
            self.index -= 1
            raise self.error("a field name")
        if self.keyword("is"):
            negated = self.keyword("not")
            if not self.keyword("null"):
                raise self.error("'null'")
            return Condition(field, "isnotnull" if negated else "isnull")
        token = self.peek()
        if token is None:
            raise self.error("an operator")
        kind, word = token
        lowered = word.lower()
        if kind == "word" and lowered in _NULL_OPERATORS:
            self.index += 1
            return Condition(field, _NULL_OPERATORS[lowered])
        if kind == "word" and lowered == "not":
            self.index += 1
            if not self.keyword("in"):
                raise self.error("'in' after 'not'")
            return Condition(field, "nin", self.value_list())
        if kind == "word" and lowered in _LIST_OPERATORS:
            self.index += 1
            return Condition(field, lowered, self.value_list())
        if kind == "symbol" and word in _SYMBOLS:
            self.index += 1
            return Condition(field, _SYMBOLS[word], self.value())
        if kind == "word" and lowered in _WORD_OPERATORS:
            self.index += 1
            return Condition(field, lowered, self.value())
        raise self.error("an operator")

    def value_list(self) -> tuple[Any, ...]:
        if not self.symbol("["):
            raise self.error("'['")
        values = [self.value()]
        while self.symbol(","):
            values.append(self.value())
        if not self.symbol("]"):
            raise self.error("']'")
        return tuple(values)

    def value(self) -> Any:
        token = self.peek()
        if token is None:
            raise self.error("a value")
        kind, text = token
        self.index += 1
        if kind == "string":
            return _unquote(text)
        if kind == "number":
            return int(text) if re.fullmatch(r"-?\d+", text) else Decimal(text)
        if kind == "word":
            lowered = text.lower()
            if lowered in {"true", "false"}:
                return lowered == "true"
            if lowered == "null":
                return None
            if _SPECIAL.match(text):
                return SpecialValue(lowered)
        self.index -= 1
        raise self.error("a value (a quoted string, a number, true/false/null or a special value)")


def parse_filter(text: str) -> Filter:
    """Parse the API's filter DSL into a tree of :class:`~kanbert_async.filters.Condition` nodes.

    Example: ``parse_filter('status in ["open", "paid"] and title contains "Acme"')``.
    Raises :class:`FilterSyntaxError` (an :class:`InvalidRequestError`) saying where it failed.
    """
    return _Parser(text).parse()
