"""Small helpers for what assets show in the Dagster UI."""

from __future__ import annotations

import polars as pl


def markdown_table(frame: pl.DataFrame, max_rows: int = 50) -> str:
    if frame.is_empty():
        return "_no rows_"
    shown = frame.head(max_rows)

    def cell(value: object) -> str:
        text = "" if value is None else (f"{value:.2f}" if isinstance(value, float) else str(value))
        return text.replace("|", "\\|").replace("\n", " ")[:120]

    lines = ["| " + " | ".join(shown.columns) + " |", "|" + "---|" * len(shown.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in shown.iter_rows()]
    if frame.height > max_rows:
        lines.append(f"\n_{frame.height - max_rows} more rows_")
    return "\n".join(lines)
