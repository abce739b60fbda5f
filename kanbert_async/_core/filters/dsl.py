"""The reader of Kanbert's filter DSL, into the filter tree (:mod:`.tree`).

The DSL: ``title contains "Acme" and (date_of_invoice >= "2024-01-01" or x is null)``.

Grammar (keywords and operators case-insensitive)::

    expr      := and_expr ("or" and_expr)*
    and_expr  := primary ("and" primary)*
    primary   := "(" expr ")" | condition
    condition := FIELD OP value                      OP: eq ne neq lt lte le gt gte ge in nin notin
                                                         contains like startswith endswith, or
                                                         = == != <> < <= > >=, or "not in"
               | FIELD ("isnull" | "isnotnull" | "notnull")
               | FIELD "is" ["not"] "null"
               | FIELD ("any" | "all" | "none") ["(" expr ")"]         relation conditions
               | FIELD "count" ["(" expr ")"] CMP INTEGER               (a sandbox extension)
    value     := STRING | NUMBER | true | false | null | WORD | list
    list      := "[" [value ("," value)*] "]"  |  "(" [value ("," value)*] ")"

Strings are double- or single-quoted; a backslash escapes the next character (``\\n``, ``\\t`` and
``\\r`` are the control characters). A bare WORD (``me.id``, ``today-30d``, ``booked``) is a
string; what it means (a special value, an enum value) depends on the field. Numbers are read
exactly, as ``int`` or ``Decimal``. ``x eq null`` means ``x is null``.
"""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal
from typing import Any

from .operators import COUNT_OPERATORS, canonical_operator
from .tree import And, Condition, Count, Filter, FilterError, Or

__all__ = ["parse_dsl", "split_top_level"]

_SYMBOLS = {"=": "eq", "==": "eq", "!=": "ne", "<>": "ne", "<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}
_WORD_OPERATORS = frozenset(
    {
        "eq", "ne", "neq", "lt", "lte", "le", "gt", "gte", "ge", "in", "nin", "notin",
        "contains", "like", "startswith", "endswith", "isnull", "isnotnull", "notnull",
    }
)  # fmt: skip
_NO_VALUE = frozenset({"isnull", "isnotnull"})
_RELATION_WORDS = frozenset({"any", "all", "none"})

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<special>today[+-]\d+d\b)
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w.]))
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<symbol><=|>=|!=|<>|==|=|<|>)
  | (?P<punct>[()\[\],])
    """,
    re.VERBOSE | re.DOTALL | re.IGNORECASE,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}


@dataclasses.dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str
    pos: int

    @property
    def lower(self) -> str:
        return self.text.lower()


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body, flags=re.DOTALL)


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            snippet = text[pos : pos + 20]
            if text[pos] in "\"'":
                raise FilterError(f"Invalid filter: unterminated string at position {pos}.", position=pos)
            raise FilterError(f"Invalid filter: unexpected {snippet!r} at position {pos}.", position=pos)
        kind = match.lastgroup
        assert kind is not None
        if kind != "ws":
            out.append(_Token(kind, match.group(), pos))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.index = 0
        self.end = len(text)

    # -- token helpers --------------------------------------------------------------------------

    def peek(self, offset: int = 0) -> _Token | None:
        index = self.index + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise FilterError("Invalid filter: the expression ends too early.", position=self.end)
        self.index += 1
        return token

    def at_word(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "word" and token.lower in words

    def at_punct(self, char: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "punct" and token.text == char

    def expect_punct(self, char: str) -> None:
        token = self.peek()
        if token is None or token.kind != "punct" or token.text != char:
            raise self.error(f"expected '{char}'", token)
        self.index += 1

    def error(self, what: str, token: _Token | None) -> FilterError:
        if token is None:
            return FilterError(f"Invalid filter: {what} but the expression ends.", position=self.end)
        return FilterError(
            f"Invalid filter: {what} at position {token.pos}, found {token.text!r}.", position=token.pos
        )

    # -- grammar --------------------------------------------------------------------------------

    def parse(self) -> Filter:
        node = self.expr()
        token = self.peek()
        if token is not None:
            raise self.error("expected 'and', 'or' or the end", token)
        return node

    def expr(self) -> Filter:
        nodes = [self.and_expr()]
        while self.at_word("or"):
            self.index += 1
            nodes.append(self.and_expr())
        return nodes[0] if len(nodes) == 1 else Or(*nodes)

    def and_expr(self) -> Filter:
        nodes = [self.primary()]
        while self.at_word("and"):
            self.index += 1
            nodes.append(self.primary())
        return nodes[0] if len(nodes) == 1 else And(*nodes)

    def primary(self) -> Filter:
        if self.at_punct("("):
            self.index += 1
            node = self.expr()
            self.expect_punct(")")
            return node
        return self.condition()

    def condition(self) -> Condition:
        token = self.take()
        if token.kind != "word" or token.lower in ("and", "or"):
            raise self.error("expected a field name", token)
        field = token.text
        op_token = self.peek()
        if op_token is None:
            raise self.error(f"expected an operator after '{field}'", None)
        if op_token.kind == "symbol":
            self.index += 1
            return self.finish(field, _SYMBOLS[op_token.text])
        if op_token.kind != "word":
            raise self.error(f"expected an operator after '{field}'", op_token)
        word = op_token.lower
        self.index += 1
        if word == "is":
            negated = self.at_word("not")
            if negated:
                self.index += 1
            if not self.at_word("null"):
                raise self.error("expected 'null' after 'is'", self.peek())
            self.index += 1
            return Condition(field, "isnotnull" if negated else "isnull")
        if word == "not":
            if not self.at_word("in"):
                raise self.error("expected 'in' after 'not'", self.peek())
            self.index += 1
            return self.finish(field, "nin")
        if word in _RELATION_WORDS:
            return Condition(field, word, self.optional_group())
        if word == "count":
            return self.count(field)
        if word not in _WORD_OPERATORS:
            raise self.error(f"unknown operator after '{field}'", op_token)
        return self.finish(field, canonical_operator(word))

    def finish(self, field: str, op: str) -> Condition:
        if op in _NO_VALUE:
            return Condition(field, op)
        if op in ("in", "nin"):
            return Condition(field, op, self.value_list())
        value = self.value()
        if value is None and op in ("eq", "ne"):
            return Condition(field, "isnull" if op == "eq" else "isnotnull")
        return Condition(field, op, value)

    def optional_group(self) -> Filter | None:
        if not self.at_punct("("):
            return None
        self.index += 1
        node = self.expr()
        self.expect_punct(")")
        return node

    def count(self, field: str) -> Condition:
        where = self.optional_group()
        token = self.take()
        if token.kind == "symbol":
            op = _SYMBOLS[token.text]
        elif token.kind == "word" and canonical_operator(token.lower) in COUNT_OPERATORS:
            op = canonical_operator(token.lower)
        else:
            raise self.error("expected a comparison after 'count'", token)
        number = self.take()
        if number.kind != "number" or not number.text.isdigit():
            raise self.error("expected a whole number to compare the count with", number)
        return Condition(field, "count", Count(op, int(number.text), where))

    def value_list(self) -> tuple[Any, ...]:
        token = self.peek()
        if token is None or token.kind != "punct" or token.text not in "[(":
            return (self.value(),)  # a single value reads as a list of one
        closing = "]" if token.text == "[" else ")"
        self.index += 1
        values: list[Any] = []
        if self.at_punct(closing):
            self.index += 1
            return ()
        while True:
            values.append(self.value())
            if self.at_punct(","):
                self.index += 1
                continue
            self.expect_punct(closing)
            return tuple(values)

    def value(self) -> Any:
        token = self.take()
        if token.kind == "string":
            return _unquote(token.text)
        if token.kind == "number":
            number = Decimal(token.text)
            return int(number) if re.fullmatch(r"-?\d+", token.text) else number
        if token.kind in ("word", "special"):
            low = token.lower
            if low == "true":
                return True
            if low == "false":
                return False
            if low == "null":
                return None
            return token.text
        raise self.error("expected a value", token)


def parse_dsl(text: str) -> Filter:
    """Read a DSL filter into a filter tree; raises :class:`FilterError` naming the position of a problem."""
    return _Parser(text).parse()


def split_top_level(text: str, separator: str = ",") -> list[str]:
    """Split ``text`` at ``separator`` where it is outside quotes, brackets and parentheses.

    Used for computed-field arguments: ``total_net, title in ["a, b"]`` → two parts.
    """
    parts: list[str] = []
    depth = 0
    quote: str | None = None
    start = 0
    index = 0
    while index < len(text):
        char = text[index]
        if quote is not None:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == separator and depth == 0:
            parts.append(text[start:index])
            start = index + 1
        index += 1
    parts.append(text[start:])
    return parts
