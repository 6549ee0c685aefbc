"""A feed's XML tree, read without ever expanding an entity, from documents that are often not well-formed.

Strict first (defusedxml). A document that declares entities (billion laughs, external entities) loses its
DOCTYPE, and so the declarations, and says so. A document that is not well-formed XML (an undefined entity, an
undeclared prefix, a truncated file) is read again by libxml2's recovering parser, with entity substitution,
DTD loading and network access off, so its tags survive wherever its items do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import defusedxml
import defusedxml.ElementTree as safe_xml
from lxml import etree

_SUBSET_END = re.compile(rb"\]\s*>")
_FEED_START = re.compile(rb"<(?:rss|feed|rdf:RDF|RDF)[\s>]")
_FEED_ROOTS = {"rss", "{http://www.w3.org/2005/Atom}feed", "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}RDF"}
_RECOVERING_PARSER_OPTIONS = {
    "recover": True,
    "resolve_entities": False,
    "load_dtd": False,
    "no_network": True,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
}


@dataclass(frozen=True)
class FeedXml:
    root: Any | None  # an ElementTree or lxml element (the same find/iter/get API), None when nothing was readable
    for_feedparser: bytes  # the document to hand to feedparser: without its DOCTYPE when that declared entities
    problem: str | None  # unsafe or not well-formed XML, in words


def without_doctype(document: bytes) -> bytes:
    """The document minus its DOCTYPE declaration (internal subset included), found in linear time."""
    start = document.find(b"<!DOCTYPE")
    if start < 0:
        return document
    bracket, close = document.find(b"[", start), document.find(b">", start)
    if bracket != -1 and (close == -1 or bracket < close):
        subset_end = _SUBSET_END.search(document, bracket)
        end = subset_end.end() if subset_end else len(document)
    else:
        end = close + 1 if close != -1 else len(document)
    return document[:start] + document[end:]


def _recover(document: bytes):
    try:
        return etree.fromstring(document, etree.XMLParser(**_RECOVERING_PARSER_OPTIONS))
    except (etree.XMLSyntaxError, ValueError):
        return None


def _recovered(document: bytes):
    """The tree libxml2 recovers from a broken document (its DOCTYPE removed first), or None. Text before the
    feed's root element (a stray line, a page around a pasted feed) is skipped, as feedparser's loose parser does."""
    document = without_doctype(document)
    root = _recover(document)
    if root is None or root.tag not in _FEED_ROOTS:
        start = _FEED_START.search(document)
        if start is not None and start.start() > 0:
            inner = _recover(document[start.start() :])
            root = inner if inner is not None else root
    return root


def read_feed_xml(utf8_document: bytes) -> FeedXml:
    """The tree of a UTF-8 document (see `feed_encoding.decode_feed`) and what was wrong with it, if anything."""
    try:
        return FeedXml(safe_xml.fromstring(utf8_document), utf8_document, None)
    except defusedxml.DefusedXmlException as error:
        stripped = without_doctype(utf8_document)
        problem = (
            f"unsafe XML: the feed declares XML entities ({type(error).__name__}); they were not expanded "
            "(possible entity-expansion bomb or external entity), items read without them"
        )
        try:
            root = safe_xml.fromstring(stripped)
        except (safe_xml.ParseError, defusedxml.DefusedXmlException):
            root = _recovered(stripped)
        return FeedXml(root, stripped, problem)
    except safe_xml.ParseError as error:
        problem = f"not well-formed XML ({error}); items salvaged where possible"
        return FeedXml(_recovered(utf8_document), utf8_document, problem)
