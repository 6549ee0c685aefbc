"""Optional insight writer over the OpenAI-compatible chat API (a vLLM or llama.cpp server with an instruct model,
or a hosted API). Off unless a base URL is configured; on CPU-only deployments readers see the cleaned passage.

Each of the day's best passages is rewritten as one self-contained insight. A rewrite is kept only when it passes
`core.faithfulness.check_rewrite` (every number and name it states is in the passage); otherwise, and whenever
the service fails, the passage's own cleaned text is shown. The `insights` table keeps both (`text`, `headline`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import dagster as dg
import httpx

from podcast_assets.core.faithfulness import check_rewrite

PROMPT = (
    "Below is a passage transcribed from a podcast. Rewrite it as one self-contained insight: one or two plain "
    "sentences, at most 40 words, that a reader understands without having heard the episode. State the finding "
    "itself, not that someone said it. Keep every number and name exactly as the passage gives them; add no fact, "
    "number, name, place or date that the passage does not state; leave out greetings, introductions and "
    "asides. Reply with the insight only.\n\nPassage: {text}"
)
MIN_WORDS, MAX_WORDS = 3, 60


@dataclass(frozen=True)
class Rewrite:
    text: str | None  # the rewrite to show, or None: show the passage
    outcome: str  # written, unfaithful, unusable (empty, too long or too short), failed (HTTP or bad JSON), off
    unsupported: tuple[str, ...] = ()  # for `unfaithful`: what the passage does not state
    refused: str | None = None  # for `unfaithful` and `unusable`: the answer not shown


class HeadlineWriterResource(dg.ConfigurableResource):
    """Settings fall back to PODCAST_BRIEF_LLM_BASE_URL, PODCAST_BRIEF_LLM_MODEL and PODCAST_BRIEF_LLM_API_KEY.
    `max_headlines`: how many of the day's passages (best scores first) are rewritten."""

    base_url: str | None = None
    model: str | None = None
    api_key: str | None = None
    timeout_s: float = 20.0
    max_headlines: int = 40

    def _base_url(self) -> str | None:
        return self.base_url or os.environ.get("PODCAST_BRIEF_LLM_BASE_URL")

    def enabled(self) -> bool:
        return bool(self._base_url())

    def rewrite(self, passage: str) -> Rewrite:
        base_url = self._base_url()
        if not base_url:
            return Rewrite(None, "off")
        api_key = self.api_key or os.environ.get("PODCAST_BRIEF_LLM_API_KEY")
        try:
            response = httpx.post(
                base_url.rstrip("/") + "/chat/completions",
                json={
                    "model": self.model or os.environ.get("PODCAST_BRIEF_LLM_MODEL", "default"),
                    "messages": [{"role": "user", "content": PROMPT.format(text=passage)}],
                    "temperature": 0,
                },
                headers={"Authorization": f"Bearer {api_key}"} if api_key else {},
                timeout=self.timeout_s,
            )
            response.raise_for_status()
            content = response.json()["choices"][0]["message"]["content"].strip().strip('"').strip()
        except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError, AttributeError):
            return Rewrite(None, "failed")
        if not MIN_WORDS <= len(content.split()) <= MAX_WORDS:
            return Rewrite(None, "unusable", refused=content)
        verdict = check_rewrite(content, passage)
        if not verdict.faithful:
            return Rewrite(None, "unfaithful", verdict.unsupported, content)
        return Rewrite(content, "written")

    def headline(self, passage: str) -> str | None:
        """The faithful rewrite, or None when the service is off, fails, or its answer is unusable or unfaithful."""
        return self.rewrite(passage).text
