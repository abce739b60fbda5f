"""File names for invoice PDFs from a template of record fields: ``--pdf-name '{invoice_number}'``.

A name keeps letters, digits, ``.``, ``-`` and ``_``; anything else (``/``, spaces, ``:``) becomes
``_``, so no name can leave the directory or trip a file system. A record whose template fields
are empty (a draft has no number yet) falls back to its id. Names that clash — also when they
differ only in case, as they would on macOS and Windows — are told apart with ``_2``, ``_3``, … in
the order of the records' ids, so the same records always get the same names.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from .flatten import lookup

__all__ = ["DEFAULT_TEMPLATE", "PdfNames", "id_file_name", "template_fields"]

DEFAULT_TEMPLATE = "{id}"
_UNSAFE = re.compile(r"[^\w.\-]+")
_MAX_STEM = 150


def id_file_name(record_id: str) -> str:
    """A file name for any id: characters that could leave the directory are percent-encoded."""
    return quote(record_id, safe="-_.").replace(".", "%2E", 1 if record_id.startswith(".") else 0) + ".pdf"


def template_fields(template: str) -> list[str]:
    """The record fields a template names; raises ValueError for a template that is not one."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"{template!r} is not a name template like '{{invoice_number}}' ({exc})") from None
    names = [name for _, name, spec, conversion in parsed if name is not None]
    if not names or any(not n or not re.fullmatch(r"[A-Za-z_][\w.]*", n) for n in names):
        raise ValueError(f"{template!r} must name record fields in braces, e.g. '{{invoice_number}}'")
    if any(spec or conversion for _, name, spec, conversion in parsed if name is not None):
        raise ValueError(f"{template!r}: write plain fields like '{{invoice_number}}', without ':' or '!'")
    return names


def _safe(text: str) -> str:
    stem = _UNSAFE.sub("_", unicodedata.normalize("NFC", text)).strip("._")
    return stem[:_MAX_STEM]


@dataclass
class PdfNames:
    """Assigns each record's PDF its file name; remembers which names fell back or were told apart."""

    template: str = DEFAULT_TEMPLATE
    #: id → file name, for every record that has a PDF.
    files: dict[str, str] = field(default_factory=dict)
    #: id → why the file is not named by the template alone.
    notes: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._fields = template_fields(self.template)

    def base(self, record: Mapping[str, Any]) -> tuple[str, str | None]:
        """The record's preferred file name, and why it is not the template's (None if it is)."""
        record_id = str(record["id"])
        if self.template == DEFAULT_TEMPLATE:
            return id_file_name(record_id), None
        values = {name: lookup(dict(record), name) for name in self._fields}
        empty = [name for name, value in values.items() if value is None or str(value).strip() == ""]
        if empty:
            return id_file_name(record_id), f"{', '.join(empty)} empty: named by id"
        rendered = self.template
        for name, value in values.items():
            rendered = rendered.replace("{" + name + "}", str(value))
        stem = _safe(rendered.removesuffix(".pdf"))
        if not stem:
            return id_file_name(record_id), "no usable characters in the name: named by id"
        return stem + ".pdf", None

    def assign(self, records: Iterable[Mapping[str, Any]], keep: Mapping[str, str] = {}) -> None:
        """Name ``records`` (builtins with at least the template's fields), in id order.

        ``keep`` holds names already given in an earlier export generation (id → file name):
        those stay taken, and a record whose preferred name did not change keeps its file.
        """
        taken = {name.casefold() for record_id, name in keep.items()}
        self.files.update(keep)
        for record in sorted(records, key=lambda r: str(r["id"])):
            record_id = str(record["id"])
            preferred, note = self.base(record)
            previous = keep.get(record_id)
            if previous is not None:
                taken.discard(previous.casefold())
                if _same_name(previous, preferred):
                    taken.add(previous.casefold())
                    continue
            name = preferred
            counter = 1
            while name.casefold() in taken:
                counter += 1
                name = f"{preferred.removesuffix('.pdf')}_{counter}.pdf"
            if counter > 1:
                note = f"{preferred} was taken: numbered {counter}"
            taken.add(name.casefold())
            self.files[record_id] = name
            if note is None:
                self.notes.pop(record_id, None)
            else:
                self.notes[record_id] = note


def _same_name(given: str, preferred: str) -> bool:
    """Whether ``given`` is ``preferred`` or a numbered variant of it (``RE-1_2.pdf`` for ``RE-1.pdf``)."""
    stem = re.escape(preferred.removesuffix(".pdf"))
    return re.fullmatch(rf"{stem}(_\d+)?\.pdf", given) is not None
