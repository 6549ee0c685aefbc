"""Interest phrases embedded once, kept in the warehouse: 100,000 subscribers bring ~100,000 distinct interest texts
(each listed interest and the whole text), MiniLM embeds ~100 a second on these CPUs, and almost every text is the
same as the day before. Keyed by model and precision, so another embedder never reads these vectors."""

from __future__ import annotations

import numpy as np
import polars as pl

from podcast_assets.resources.embedder import EmbedderResource
from podcast_assets.resources.warehouse import WarehouseResource

CACHE_TABLE = "interest_embeddings"
_DDL = f"""CREATE TABLE IF NOT EXISTS {CACHE_TABLE} (
    model VARCHAR NOT NULL, text VARCHAR NOT NULL, embedding BLOB NOT NULL, PRIMARY KEY (model, text))"""


def cached_phrase_vectors(warehouse: WarehouseResource, embedder: EmbedderResource, texts: list[str]) -> np.ndarray:
    """(len(texts), dim) unit vectors, in order: from the cache, the rest embedded in one batch and added to it."""
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    key = f"{embedder.model_name()}:{embedder.precision}"
    warehouse.create_table(_DDL)
    wanted = pl.DataFrame({"text": texts})
    with warehouse.connect() as connection:
        connection.register("wanted_texts", wanted.to_arrow())
        known = connection.execute(
            f"SELECT c.text, c.embedding FROM wanted_texts w JOIN {CACHE_TABLE} c ON c.text = w.text AND c.model = ?",
            [key],
        ).pl()
        connection.unregister("wanted_texts")
    found = dict(zip(known["text"].to_list(), known["embedding"].to_list(), strict=True))
    missing = [text for text in dict.fromkeys(texts) if text not in found]
    if missing:
        fresh = embedder.encode(missing).astype(np.float32)
        rows = pl.DataFrame({"model": [key] * len(missing), "text": missing, "embedding": [v.tobytes() for v in fresh]})
        with warehouse.connect() as connection:
            connection.register("fresh_vectors", rows.to_arrow())
            connection.execute(f"INSERT OR IGNORE INTO {CACHE_TABLE} SELECT * FROM fresh_vectors")
            connection.unregister("fresh_vectors")
        found.update(zip(missing, rows["embedding"].to_list(), strict=True))
    return np.frombuffer(b"".join(found[text] for text in texts), dtype=np.float32).reshape(len(texts), -1).copy()
