"""The report's figures: reading a results file (`dig`), each step's ratio to the
ceiling it was measured beside, number formats, and the trend plot (an SVG written
here, with no plotting library)."""

from __future__ import annotations

from html import escape


def dig(data: dict, *keys, default=None):
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return default
        data = data[key]
    return data


def ceiling_for(run: dict, db: str, step: str) -> float | None:
    """The ceiling a step is compared with: measured beside it (runs since 29 November,
    14:55), else the run's one measurement at its start."""
    return dig(run, db, step, "ceiling_rps") or dig(run, "ceiling", "get", "rps")


def ratio_of(run: dict, db: str, step: str, rate_key: str) -> float | None:
    value, ceiling = dig(run, db, step, rate_key), ceiling_for(run, db, step)
    return value / ceiling if value and ceiling else None


def ratios(run: dict) -> dict[str, float | None]:
    def ratio(db: str, step: str, rate_key: str):
        value = ratio_of(run, db, step, rate_key)
        return round(value, 3) if value is not None else None

    return {
        "GET, SQLite": ratio("sqlite", "get", "rps"),
        "GET, PostgreSQL": ratio("postgresql", "get", "rps"),
        "sign, SQLite": ratio("sqlite", "sign", "signatures_per_s"),
        "sign, PostgreSQL": ratio("postgresql", "sign", "signatures_per_s"),
        "confirm, SQLite": ratio("sqlite", "confirm", "confirmations_per_s"),
    }


def fmt(value, digits: int = 1, suffix: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}{suffix}"
    return f"{value:,}{suffix}"


def verdict(ok: bool | None) -> str:
    return "–" if ok is None else ("met" if ok else "**missed**")


def beside(run: dict, db: str, step: str) -> str:
    """Which ceiling a ratio used, when it was measured beside the step."""
    ceiling = dig(run, db, step, "ceiling_rps")
    return f"; ceiling beside it {ceiling:,.0f} req/s" if ceiling else ""


def svg(runs: list[dict]) -> str:
    """Ratios to the ceiling across runs, one line per measure, with target lines."""
    width, height, left, right, top, bottom = 720, 360, 60, 190, 30, 50
    series = [ratios(run) for run in runs]
    names = list(series[0]) if series else []
    colors = ["#1f5fa8", "#6b9bd1", "#b0301f", "#e07b39", "#2e7d32"]
    top_value = max([1.0] + [v for s in series for v in s.values() if v])
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(i: int) -> float:
        return left + (plot_w * i / max(1, len(runs) - 1) if len(runs) > 1 else plot_w / 2)

    def y(value: float) -> float:
        return top + plot_h * (1 - value / top_value)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        "<title>Benchmark trend: throughput as a ratio of the ceiling, per run</title>",
        f'<rect width="{width}" height="{height}" fill="#fff"/>',
        f'<text x="{left}" y="18" font-size="14">Throughput ÷ ceiling (fixed-page Flask app), '
        f"per run</text>",
    ]
    for tick in [i / 10 for i in range(0, int(top_value * 10) + 1, 2)]:
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(tick):.1f}" '
            f'y2="{y(tick):.1f}" stroke="#ddd"/>'
        )
        parts.append(
            f'<text x="{left - 8}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick:.1f}</text>'
        )
    for value, label in ((0.7, "GET target 0.7"), (0.2, "sign target 0.2")):
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(value):.1f}" '
            f'y2="{y(value):.1f}" stroke="#888" stroke-dasharray="6 4"/>'
        )
        parts.append(
            f'<text x="{left + plot_w - 4}" y="{y(value) - 4:.1f}" '
            f'text-anchor="end" fill="#555">{label}</text>'
        )
    for i, run in enumerate(runs):
        label = escape(run["_file"].removesuffix(".json"))
        parts.append(
            f'<text x="{x(i):.1f}" y="{height - bottom + 18}" text-anchor="middle">{label}</text>'
        )
    for n, name in enumerate(names):
        color = colors[n % len(colors)]
        points = [(x(i), y(s[name])) for i, s in enumerate(series) if s.get(name)]
        if len(points) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>'
            )
        for px, py in points:
            parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="4" fill="{color}"/>')
        ly = top + 16 * n + 10
        parts.append(
            f'<rect x="{width - right + 16}" y="{ly - 9}" width="12" height="12" fill="{color}"/>'
        )
        parts.append(f'<text x="{width - right + 34}" y="{ly + 1}">{escape(name)}</text>')
    parts.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}" stroke="#333"/>')
    parts.append(
        f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" '
        f'y2="{top + plot_h}" stroke="#333"/>'
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
