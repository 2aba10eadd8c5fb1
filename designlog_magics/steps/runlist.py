"""Prior runs ranked against the plan, as ``%log_search --like -o runs`` keeps them: a list of the
runs' records that prints as a table (in a notebook as HTML, every cell escaped)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any


class RunTable(list[Any]):
    """Prior runs, best match first (``%log_search --like -o runs``): a list of the runs'
    records that prints as a table in the notebook, every cell escaped."""

    COLUMNS = ("run", "job", "state", "it/s", "tokens/s", "model", "batch", "accum", "seq len")

    def __init__(self, ranked: Sequence[Any]) -> None:
        super().__init__(r.record for r in ranked)
        self.ranked = list(ranked)

    def rows(self) -> list[tuple[str, ...]]:
        rows: list[tuple[str, ...]] = []
        for ranked in self.ranked:
            record = ranked.record
            config = getattr(record, "config", None)
            rows.append(
                (
                    str(getattr(record, "run", "") or ""),
                    str(getattr(record, "job_id", "") or ""),
                    str(getattr(getattr(record, "outcome", None), "state", "") or ""),
                    _figure(getattr(record, "its", None), "{:.2f}"),
                    _figure(getattr(record, "tokens_per_s", None), "{:,.0f}"),
                    str(getattr(config, "model_name", "") or ""),
                    str(getattr(config, "batch_size", "") or ""),
                    str(getattr(config, "gradient_accumulation_steps", "") or ""),
                    str(getattr(config, "max_seq_len", "") or ""),
                )
            )
        return rows

    def text(self) -> str:
        rows = [self.COLUMNS, *self.rows()]
        widths = [max(len(row[i]) for row in rows) for i in range(len(self.COLUMNS))]
        return "\n".join(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in rows
        )

    def __repr__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.COLUMNS)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
            for row in self.rows()
        )
        return f'<table class="dlm-runs"><tr>{head}</tr>{body}</table>'

    def as_json(self) -> list[dict[str, object]]:
        """Best match first: path, job_id, state, its, tokens_per_s, config, and the match."""
        out = []
        for ranked in self.ranked:
            record = ranked.record
            config = getattr(record, "config", None)
            out.append(
                {
                    "path": getattr(record, "path", None),
                    "run": getattr(record, "run", None),
                    "job_id": getattr(record, "job_id", None),
                    "state": getattr(getattr(record, "outcome", None), "state", None),
                    "its": getattr(record, "its", None),
                    "tokens_per_s": getattr(record, "tokens_per_s", None),
                    "config": dict(getattr(config, "raw", {}) or {}) if config else None,
                    "usable": getattr(ranked, "usable", None),
                    "differs": list(getattr(ranked, "differs", []) or []),
                }
            )
        return out


def _figure(value: object, spec: str) -> str:
    return spec.format(value) if isinstance(value, int | float) else ""
