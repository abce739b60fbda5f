"""How OpenAPI names become Python names. One place, so stubs, models and tests agree.

Resources are named from an operation's first tag ("Incoming Invoices" → ``incoming_invoices``),
falling back to the operationId's resource part. Methods are named from the operationId's action,
read as a Laravel controller action (index → ``list``, show → ``get``, store → ``create``,
destroy/delete → ``delete``). Scramble often writes operationIds in lower case
(``incominginvoices.updatebooking``), which loses the action's word boundaries; they are recovered
from the words of the operation's path, summary and tag (``update_booking``).
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable

#: Laravel's resource actions, and what a Python caller expects to read instead.
ACTION_NAMES = {"index": "list", "show": "get", "store": "create", "destroy": "delete"}

#: Words an action is often made of, whatever the operation's path and summary say.
_COMMON_WORDS = (
    "index", "show", "store", "create", "update", "destroy", "delete", "restore", "list", "get",
    "set", "add", "remove", "attach", "detach", "sync", "upload", "download", "export", "import",
    "send", "archive", "unarchive", "duplicate", "copy", "move", "assign", "unassign", "approve",
    "reject", "cancel", "close", "open", "book", "unbook", "mark", "as", "by", "for", "to", "from",
    "all", "bulk", "batch", "external", "pdf", "csv", "me", "my", "current", "status", "find",
)  # fmt: skip

#: Names the client itself uses: a resource must not shadow them.
RESERVED_RESOURCE_NAMES = frozenset(
    {"map", "stats", "rate_limit", "base_url", "aclose", "call", "paginate", "download"}
)

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NON_WORD = re.compile(r"[^0-9a-zA-Z]+")


def snake(name: str) -> str:
    """``outgoingInvoices``, ``Outgoing Invoices`` → ``outgoing_invoices``; ``page[size]`` → ``page_size``."""
    spaced = _CAMEL_BOUNDARY.sub("_", name)
    return _NON_WORD.sub("_", spaced).strip("_").lower()


def pascal(name: str) -> str:
    """``outgoing_invoices`` / ``outgoingInvoices`` → ``OutgoingInvoices``."""
    return "".join(part[:1].upper() + part[1:] for part in snake(name).split("_"))


def safe_identifier(name: str) -> str:
    """A Python identifier for ``name``: keywords get a trailing underscore, leading digits a prefix."""
    ident = snake(name) or "value"
    if ident[0].isdigit():
        ident = f"n_{ident}"
    if keyword.iskeyword(ident) or ident in {"self", "options"}:
        ident += "_"
    return ident


def resource_name(tags: Iterable[str] | None, operation_id: str) -> str:
    """The client attribute of an operation's resource: its first tag, else the operationId's prefix."""
    tag = next(iter(tags or ()), None)
    source = tag if tag and snake(tag) else operation_id.rpartition(".")[0] or operation_id
    name = safe_identifier(source)
    return f"{name}_" if name in RESERVED_RESOURCE_NAMES else name


def vocabulary(*texts: str | None) -> set[str]:
    """The words of free texts (paths, summaries, tags), lower-cased, plus common action words."""
    words = set(_COMMON_WORDS)
    for text in texts:
        for word in snake(text or "").split("_"):
            if word.isalpha():
                words.add(word)
                # "bookings" in the path, "booking" in the action.
                if word.endswith("s") and len(word) > 3:
                    words.add(word[:-1])
    return words


def split_words(run: str, words: set[str]) -> list[str]:
    """Split a lower-case run of letters into known words, fewest pieces first; a run that known
    words do not cover entirely stays whole (a guess at part of it would read worse).
    ``split_words("updatebooking", {"update", "booking"})`` → ``["update", "booking"]``."""
    n = len(run)
    # best[i]: (pieces, where the last piece starts) of the fewest-piece split of run[:i].
    best: list[tuple[int, int] | None] = [None] * (n + 1)
    best[0] = (0, 0)
    for end in range(1, n + 1):
        for start in range(end):
            prev = best[start]
            if prev is None or run[start:end] not in words:
                continue
            current = best[end]
            if current is None or prev[0] + 1 < current[0]:
                best[end] = (prev[0] + 1, start)
    if best[n] is None:
        return [run]
    pieces: list[str] = []
    end = n
    while end > 0:
        entry = best[end]
        assert entry is not None
        pieces.append(run[entry[1] : end])
        end = entry[1]
    return pieces[::-1]


def action_words(action: str, words: set[str]) -> str:
    """The snake_case form of an operationId action, word boundaries recovered where lost."""
    if action != action.lower() or not action.isalpha():
        return snake(action)  # camelCase, snake_case or kebab-case keep their boundaries
    return "_".join(split_words(action, words))


def operation_names(path: str, operation: dict[str, object]) -> tuple[str, str]:
    """(resource, action in snake_case) of an operation, e.g. ``("incoming_invoices", "update_booking")``.

    The action is the operationId's last dotted part, before Laravel verbs are mapped to Python
    ones (:func:`method_name` does that).
    """
    operation_id = str(operation["operationId"])
    tags = operation.get("tags")
    tag_list = [str(t) for t in tags] if isinstance(tags, list) else []
    prefix, _, action = operation_id.rpartition(".")
    words = vocabulary(path, str(operation.get("summary") or ""), prefix, *tag_list)
    return resource_name(tag_list, operation_id), action_words(action, words)


def method_name(action: str, *, resource: str = "", paginated: bool, binary: bool) -> str:
    """The Python method for an action: Laravel verbs read as Python verbs, lists and downloads say so.

    An action that names the resource itself (``taskcomments.comments`` in "Task Comments") is its
    listing.
    """
    name = ACTION_NAMES.get(action, action)
    if paginated and resource and name == resource.rsplit("_", 1)[-1]:
        name = "list"
    if paginated and name != "list" and not name.startswith("list_"):
        name = f"list_{name}"
    if binary and not name.startswith("download"):
        name = f"download_{name}"
    return safe_identifier(name)
