"""A plain-text summary of one day in the warehouse, printed after a run."""

from __future__ import annotations

import datetime as dt

from podcast_assets.operations.costs import day_costs
from podcast_assets.resources.warehouse import WarehouseResource

_COUNTS = {
    "episodes ok": "SELECT count(*) FROM episodes WHERE partition_date = ? AND status = 'ok'",
    "episodes failed": "SELECT count(*) FROM episodes WHERE partition_date = ? AND status = 'failed'",
    "transcripts": "SELECT count(*) FROM transcript_status WHERE partition_date = ? AND status = 'ok'",
    "transcript failures": "SELECT count(*) FROM transcript_status WHERE partition_date = ? AND status <> 'ok'",
    "insights": "SELECT count(*) FROM insights WHERE partition_date = ?",
    "clusters": "SELECT count(*) FROM cluster_summaries WHERE partition_date = ?",
    "briefs": "SELECT count(*) FROM brief_documents WHERE partition_date = ? AND n_insights > 0",
    "deliveries done": (
        "SELECT count(*) FROM brief_deliveries WHERE partition_date = ? AND status IN ('sent', 'written')"
    ),
    "deliveries failed": "SELECT count(*) FROM brief_deliveries WHERE partition_date = ? AND status = 'failed'",
    # Not resent automatically (at-most-once): `podcast-brief deliveries resend --date D` sends them on purpose.
    "deliveries held": (
        "SELECT count(*) FROM brief_deliveries WHERE partition_date = ? "
        "AND status IN ('unknown_after_crash', 'unknown_no_reply', 'rejected')"
    ),
}


def day_summary(warehouse: WarehouseResource, day: dt.date, run_id: str | None = None, success: bool = True) -> str:
    lines = [f"{day.isoformat()}: run {'succeeded' if success else 'FAILED'}" + (f" ({run_id})" if run_id else "")]
    with warehouse.connect() as connection:
        for label, sql in _COUNTS.items():
            lines.append(f"  {label:<20} {connection.execute(sql, [day]).fetchone()[0]}")
        failures = connection.execute(
            "SELECT title, error FROM episodes WHERE partition_date = ? AND status = 'failed' ORDER BY title", [day]
        ).fetchall()
    lines += [f"  failed episode {title!r}: {error}" for title, error in failures]
    costs, audio_hours = day_costs(warehouse, day)
    cpu_s, gpu_s = float(costs["cpu_s"].sum() or 0.0), float(costs["gpu_s"].sum() or 0.0)
    per_hour = f", {cpu_s / audio_hours:.0f} CPU s per audio hour" if audio_hours else ""
    lines.append(f"  compute              {cpu_s:.1f} CPU s, {gpu_s:.1f} GPU s{per_hour}")
    lines.append(f"  warehouse: {warehouse.db_path()}")
    return "\n".join(lines)
