"""The report: ratios to the reference, targets and PASS/MISS, and the plain or Markdown table."""

from __future__ import annotations

from harness import Result, Workload

HEADER = ("workload", "impl", "rows", "median s", "rows/s", "vs ref", "py peak MB", "RSS Δ MB",
          "target", "result")
NUMERIC = {2, 3, 4, 5, 6, 7}  # right-aligned columns


def judge(w: Workload, results: list[Result]) -> list[Result]:
    """Set each result's ratio to the reference and each mngs row's verdict; return ``results``."""
    by_impl = {r.contender.impl: r for r in results}
    ref = by_impl.get(w.reference)
    for r in results:
        if ref and ref.rows_per_s and r.rows_per_s:
            r.ratio = r.rows_per_s / ref.rows_per_s
    t = w.target
    for r in results:
        if not r.contender.impl.startswith("mngs"):
            continue
        if r.status:
            r.verdict = "n/a"
            continue
        ok, notes = True, []
        if t.ratio is not None:
            if r.ratio is None:
                ok, notes = False, ["no reference"]
            elif r.ratio < t.ratio:
                ok = False
                notes.append(f"{r.ratio:.3f}")
        if t.versus:
            other = by_impl.get(t.versus)
            if other and other.rows_per_s and r.rows_per_s:
                factor = r.rows_per_s / other.rows_per_s
                ok = ok and factor >= t.factor
                notes.append(f"{factor:.1f}x {t.versus}")
            else:
                notes.append(f"{t.versus} n/a")
        if t.rss_mb is not None:
            ok = ok and r.rss_mb is not None and r.rss_mb <= t.rss_mb
        r.verdict = ("PASS" if ok else "MISS") + (f" ({', '.join(notes)})" if notes else "")
    return results


def fmt_rate(v: float | None) -> str:
    if v is None:
        return "-"
    if v >= 1e6:
        return f"{v / 1e6:.2f}M"
    if v >= 1e3:
        return f"{v / 1e3:.1f}k"
    return f"{v:.0f}"


def fmt(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def fmt_mb(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.2f}" if v < 10 else f"{v:.1f}"


def table_rows(results: list[Result]) -> list[tuple[str, ...]]:
    """One row of cells per result, as both renderers print them."""
    out = []
    for r in results:
        w, c = r.workload, r.contender
        first = c.impl.startswith("mngs")
        rows = f"{r.rows:,}" if r.rows else f"{c.rows or w.rows:,}"
        if r.status:
            out.append((w.key, c.impl, rows, "-", "-", "-", "-", "-",
                        w.target.text(w.reference) if first else "", r.status))
            continue
        ratio = fmt(r.ratio, ".2f") if c.impl != w.reference else "1.00 (ref)"
        out.append((
            w.key,
            c.impl,
            rows,
            fmt(r.seconds, ".3f"),
            fmt_rate(r.rows_per_s),
            ratio,
            fmt_mb(r.py_peak_mb),
            fmt_mb(r.rss_mb),
            w.target.text(w.reference) if first else "",
            r.verdict,
        ))
    return out


def render_text(rows: list[tuple[str, ...]]) -> str:
    """A plain table for the terminal, a blank line between workloads."""
    widths = [max(len(str(row[i])) for row in [HEADER, *rows]) for i in range(len(HEADER))]
    lines = []
    previous = None
    for row in [HEADER, *rows]:
        if previous is not None and row[0] != previous and previous != HEADER[0]:
            lines.append("")
        cells = [
            str(v).rjust(widths[i]) if i in NUMERIC and row is not HEADER else str(v).ljust(widths[i])
            for i, v in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
        if row is HEADER:
            lines.append("  ".join("-" * wd for wd in widths))
        previous = row[0]
    return "\n".join(lines)


def render_markdown(rows: list[tuple[str, ...]]) -> str:
    """A Markdown table, for benchmarks/README.md."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "|".join(
        "---:" if i in NUMERIC else "---" for i in range(len(HEADER))) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |")
    return "\n".join(lines)


def render(header: list[str], results: list[Result], profiles: list[str], markdown: bool) -> str:
    """The whole report: environment facts, the table, profiles, and the missed targets."""
    rows = table_rows(results)
    parts = [""]
    if markdown:
        parts += ["\n".join(f"- {line}" for line in header), "", render_markdown(rows)]
    else:
        parts += ["\n".join(header), "", render_text(rows)]
    parts += [f"\n{text}" for text in filter(None, profiles)]
    misses = [r for r in results if r.verdict.startswith("MISS")]
    if misses:
        parts.append("\nmissed targets: " + ", ".join(f"{r.workload.key} {r.contender.impl}" for r in misses))
    return "\n".join(parts)
