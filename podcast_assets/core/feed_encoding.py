"""A feed's bytes as UTF-8, whatever encoding it was written in, before any XML parser sees them.

The order is feedparser's (and the XML spec's, Appendix F): a byte order mark, then the charset of the HTTP
`Content-Type`, then the XML declaration's `encoding`, then UTF-8, then detection (charset-normalizer). A declared
encoding that Python does not know, or that the bytes do not decode in, is skipped and named in `problem`; the
feed is still read. The declaration is rewritten to say UTF-8, so expat (which refuses multi-byte encodings such
as Big5 or Shift_JIS) and feedparser read the same text.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from email.message import Message

import charset_normalizer

# Longest first: the UTF-32 LE mark begins with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
)
# "<?" (or "<" then a name) in a UTF-16/32 document without a byte order mark.
_BOMLESS = (
    (b"\x00\x00\x00\x3c", "utf-32-be"),
    (b"\x3c\x00\x00\x00", "utf-32-le"),
    (b"\x00\x3c\x00\x3f", "utf-16-be"),
    (b"\x3c\x00\x3f\x00", "utf-16-le"),
)
_DECLARATION = re.compile(rb"^\s*<\?xml\b[^>]{0,300}?\?>")
_DECLARED_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._:\-]{1,40})["']""")
_WIDE = ("utf-16", "utf-32", "utf_16", "utf_32", "ucs-2", "ucs2", "ucs-4", "ucs4")


@dataclass(frozen=True)
class DecodedFeed:
    utf8: bytes  # the document as UTF-8, its XML declaration (if any) saying so, leading whitespace removed
    encoding: str  # the encoding it was read in
    problem: str | None = None  # a declared encoding that was unknown or wrong, or bytes that did not decode


def charset_of(content_type: str | None) -> str | None:
    """The `charset` parameter of a Content-Type header value, unquoted."""
    if not content_type:
        return None
    message = Message()
    message["content-type"] = content_type[:500]
    charset = message.get_param("charset")
    if not isinstance(charset, str):  # absent, or an RFC 2231 tuple no feed server sends
        return None
    return charset.strip().strip("\"'")[:40] or None


# Declared names read as their superset, as feedparser and browsers do: feeds that say GB2312 hold GBK characters.
_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030"}


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        return None
    return _SUPERSETS.get(codec, codec)


def _strict(document: bytes, encoding: str) -> str | None:
    try:
        return document.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def _declared_in_xml(document: bytes) -> str | None:
    declaration = _DECLARATION.match(document[:400])
    if declaration is None:
        return None
    found = _DECLARED_ENCODING.search(declaration.group(0))
    return found.group(1).decode("ascii") if found else None


def _with_utf8_declaration(text: str) -> bytes:
    text = text.lstrip("\ufeff \t\r\n")
    declaration = re.match(r"<\?xml\b[^>]{0,300}?\?>", text)
    if declaration:
        text = '<?xml version="1.0" encoding="utf-8"?>' + text[declaration.end() :]
    return text.encode("utf-8", "surrogatepass")


def decode_feed(document: bytes, content_type: str | None = None) -> DecodedFeed:
    """`document` as UTF-8; see the module docstring for the order in which encodings are tried."""
    for mark, encoding in _BOMS:
        if document.startswith(mark):
            text = document[len(mark) :].decode(encoding, errors="replace")
            problem = (
                f"bytes that are not {encoding} after its byte order mark were replaced" if "\ufffd" in text else None
            )
            return DecodedFeed(_with_utf8_declaration(text), encoding, problem)
    for prefix, encoding in _BOMLESS:
        if document.startswith(prefix):
            return DecodedFeed(_with_utf8_declaration(document.decode(encoding, errors="replace")), encoding)

    skipped: list[str] = []
    ascii_compatible = not document[:4].startswith((b"\x00", b"\xff\xfe", b"\xfe\xff"))
    for source, declared in (
        ("HTTP charset", charset_of(content_type)),
        ("XML declaration", _declared_in_xml(document)),
    ):
        if not declared:
            continue
        codec = _codec(declared)
        if codec is None:
            skipped.append(f"{source} {declared!r} is not a known encoding")
            continue
        if codec.startswith(_WIDE) and ascii_compatible:
            skipped.append(f"{source} {declared!r} does not match the bytes (8-bit text)")
            continue
        text = _strict(document, codec)
        if text is None:
            skipped.append(f"{source} {declared!r} does not match the bytes")
            continue
        return DecodedFeed(_with_utf8_declaration(text), codec, "; ".join(skipped) or None)

    text = _strict(document, "utf-8")
    encoding = "utf-8"
    if text is None:
        best = charset_normalizer.from_bytes(document[:2_000_000]).best()
        encoding = _codec(best.encoding) if best is not None else None
        text = _strict(document, encoding) if encoding else None
        if text is None:
            encoding = "utf-8"
            text = document.decode("utf-8", errors="replace")
            skipped.append("bytes that are not UTF-8 were replaced")
    if skipped:
        skipped[-1] += f"; read as {encoding}"
    return DecodedFeed(_with_utf8_declaration(text), encoding, "; ".join(skipped) or None)
