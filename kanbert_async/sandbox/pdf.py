"""Tiny, valid one-page PDFs naming the invoice, so a download can be checked by its content."""

from __future__ import annotations

__all__ = ["render_pdf"]


def _pdf_text(text: str) -> str:
    # Standard-14 Helvetica covers Latin-1 only; anything else shows as '?' rather than breaking.
    safe = text.encode("latin-1", "replace").decode("latin-1")
    return (
        safe.replace("\\", "\\\\")
        .replace("(", "\\(")
        .replace(")", "\\)")
        .replace("\r", " ")
        .replace("\n", " ")
    )


def render_pdf(lines: list[str], min_bytes: int = 0) -> bytes:
    """A one-page PDF 1.4 showing ``lines``; padded with an unused stream to at least ``min_bytes``.

    The byte offsets in the cross-reference table are exact, so PDF readers open it without repair.
    """
    content_lines = ["BT", "/F1 11 Tf", "14 TL", "56 780 Td"]
    for n, line in enumerate(lines):
        size = "/F1 16 Tf" if n == 0 else "/F1 11 Tf"
        content_lines += [size, f"({_pdf_text(line)}) Tj", "T*"]
    content_lines.append("ET")
    content = "\n".join(content_lines).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
    ]
    document = _assemble(objects)
    shortfall = min_bytes - len(document)
    if shortfall > 0:
        # An unreferenced object is legal and ignored by readers: a cheap way to make big files
        # for download benchmarks and mid-body drop tests.
        filler = (b"0123456789abcdef" * (shortfall // 16 + 1))[:shortfall]
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(filler), filler))
        document = _assemble(objects)
    return document


def _assemble(objects: list[bytes]) -> bytes:
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: list[int] = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref_at = len(out)
    out += b"xref\n0 %d\n" % (len(objects) + 1)
    out += b"0000000000 65535 f \n"
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref_at)
    return bytes(out)
