"""A tiny server-side SVG bar chart: no JavaScript, no third-party library.

The SVG uses presentation attributes only (no style=""), so it passes the strict CSP,
and carries a <title>/<desc> so screen readers get the numbers too.
"""

from __future__ import annotations

from markupsafe import Markup, escape


def nice_ticks(peak: int, count: int = 4) -> list[int]:
    """Round y-axis ticks from 0 to at least `peak` (1, 2, 5 × a power of ten apart)."""
    if peak <= 0:
        return [0, 1]
    raw = peak / count
    magnitude = 10 ** (len(str(int(raw))) - 1) if raw >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    top = -(-peak // step) * step
    return list(range(0, top + 1, step))


def short_label(label: str) -> str:
    """ "2026-11-29 05:00" → "29/11 05:00"; "2026-11-29" → "29/11" (the day on hour labels)."""
    day, _, hour = label.partition(" ")
    parts = day.split("-")
    short = f"{parts[2]}/{parts[1]}" if len(parts) == 3 else day
    return f"{short} {hour}" if hour else short


def bar_chart(
    points: list[tuple[str, int]],
    *,
    title: str,
    width: int = 720,
    height: int = 220,
    label_every: int = 6,
) -> Markup:
    """An accessible bar chart of (label, value) points, oldest first.

    Labels are 12 px or more at the chart's natural size, the y-axis has round ticks
    with grid lines, and hour labels carry their day.
    """
    margin_left, margin_bottom, margin_top = 44, 30, 12
    plot_w, plot_h = width - margin_left - 10, height - margin_bottom - margin_top
    ticks = nice_ticks(max((v for _, v in points), default=0))
    peak = ticks[-1]
    bar_w = plot_w / max(len(points), 1)
    base = margin_top + plot_h
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="chart-{id(points)}-t">',
        f'<title id="chart-{id(points)}-t">{escape(title)}</title>',
        f"<desc>{escape(', '.join(f'{label}: {value}' for label, value in points))}</desc>",
    ]
    for tick in ticks:
        y = base - plot_h * tick / peak
        parts.append(
            f'<line x1="{margin_left}" y1="{y:.1f}" x2="{width - 10}" y2="{y:.1f}" '
            f'stroke="{"#4a4a4a" if tick == 0 else "#d6d2cb"}" stroke-width="1"/>'
            f'<text x="{margin_left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="13" '
            f'fill="#1b1b1b">{tick}</text>'
        )
    for n, (label, value) in enumerate(points):
        h = plot_h * value / peak
        x = margin_left + n * bar_w
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{base - h:.1f}" '
            f'width="{max(bar_w - 2, 1):.1f}" height="{h:.1f}" fill="#8a1c1c">'
            f"<title>{escape(label)}: {value}</title></rect>"
        )
        if n % label_every == 0:
            parts.append(
                f'<text x="{x:.1f}" y="{height - 8}" font-size="12" fill="#1b1b1b">'
                f"{escape(short_label(label))}</text>"
            )
    parts.append("</svg>")
    # Every interpolated string above is escaped or a number.
    return Markup("".join(parts))  # noqa: S704  # nosec B704
