"""Optional LLM headline writer over the OpenAI-compatible chat API. Off unless a base URL is configured."""

from __future__ import annotations

import os

import dagster as dg
import httpx

PROMPT = (
    "Rewrite this podcast excerpt as one clear, self-contained headline sentence of at most 30 words. "
    "Keep every number and claim; add nothing. Reply with the sentence only.\n\nExcerpt: {text}"
)


class HeadlineWriterResource(dg.ConfigurableResource):
    """Settings fall back to PODCAST_BRIEF_LLM_BASE_URL, PODCAST_BRIEF_LLM_MODEL and PODCAST_BRIEF_LLM_API_KEY.
    When off or failing, insights keep their extractive text."""

    base_url: str | None = None
    model: str | None = None
    api_key: str | None = None
    timeout_s: float = 20.0
    max_headlines: int = 40

    def _base_url(self) -> str | None:
        return self.base_url or os.environ.get("PODCAST_BRIEF_LLM_BASE_URL")

    def enabled(self) -> bool:
        return bool(self._base_url())

    def headline(self, text: str) -> str | None:
        """One sentence, or None when the service is off, fails or answers with nothing usable."""
        base_url = self._base_url()
        if not base_url:
            return None
        api_key = self.api_key or os.environ.get("PODCAST_BRIEF_LLM_API_KEY")
        try:
            response = httpx.post(
                base_url.rstrip("/") + "/chat/completions",
                json={
                    "model": self.model or os.environ.get("PODCAST_BRIEF_LLM_MODEL", "default"),
                    "messages": [{"role": "user", "content": PROMPT.format(text=text)}],
                    "temperature": 0,
                },
                headers={"Authorization": f"Bearer {api_key}"} if api_key else {},
                timeout=self.timeout_s,
            )
            response.raise_for_status()
            content = response.json()["choices"][0]["message"]["content"].strip().strip('"')
        except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError):
            return None
        return content if 3 <= len(content.split()) <= 60 else None
