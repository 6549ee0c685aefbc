"""Links taken from feeds, made safe to put in a brief (HTML href, Markdown link, plain text)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from podcast_assets.core.untrusted_text import URL_MAX_CHARS

_FORBIDDEN_CHARS = set(" \"'<>`\\{}|^") | {chr(c) for c in range(0x20)} | {chr(0x7F)}


def safe_link(url: str | None) -> str | None:
    """The URL when it is an absolute http(s) link with a host, else None.

    Refuses `javascript:`, `data:`, `vbscript:`, `file:` and every other scheme, scheme-relative (`//host`) and
    relative links, URLs longer than 2048 characters, and URLs with whitespace, control characters, quotes,
    angle brackets or backslashes inside (which could end an attribute or a Markdown link early, or which
    browsers read as another URL). Surrounding whitespace is trimmed and the scheme lower-cased. Escaping for
    the output format (HTML attribute, Markdown) is still the renderer's job.
    """
    if not url:
        return None
    candidate = str(url).strip()
    if not candidate or len(candidate) > URL_MAX_CHARS or any(ch in _FORBIDDEN_CHARS for ch in candidate):
        return None
    try:
        parts = urlsplit(candidate)
        parts.port  # noqa: B018 (raises ValueError for a malformed port)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, parts.fragment))
