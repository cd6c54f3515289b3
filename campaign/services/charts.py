"""A tiny server-side SVG bar chart: no JavaScript, no third-party library.

The SVG uses presentation attributes only (no style=""), so it passes the strict CSP,
and carries a <title>/<desc> so screen readers get the numbers too.
"""

from __future__ import annotations

from markupsafe import Markup, escape


def bar_chart(
    points: list[tuple[str, int]],
    *,
    title: str,
    width: int = 720,
    height: int = 200,
    label_every: int = 6,
) -> Markup:
    """An accessible bar chart of (label, value) points, oldest first."""
    margin_left, margin_bottom, margin_top = 40, 28, 10
    plot_w, plot_h = width - margin_left - 10, height - margin_bottom - margin_top
    peak = max((v for _, v in points), default=0) or 1
    bar_w = plot_w / max(len(points), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="chart-{id(points)}-t">',
        f'<title id="chart-{id(points)}-t">{escape(title)}</title>',
        f"<desc>{escape(', '.join(f'{label}: {value}' for label, value in points))}</desc>",
        f'<line x1="{margin_left}" y1="{margin_top + plot_h}" x2="{width - 10}" '
        f'y2="{margin_top + plot_h}" stroke="#4a4a4a" stroke-width="1"/>',
        f'<text x="{margin_left - 6}" y="{margin_top + 10}" text-anchor="end" font-size="11" '
        f'fill="#1b1b1b">{peak}</text>',
        f'<text x="{margin_left - 6}" y="{margin_top + plot_h}" text-anchor="end" font-size="11" '
        f'fill="#1b1b1b">0</text>',
    ]
    for n, (label, value) in enumerate(points):
        h = plot_h * value / peak
        x = margin_left + n * bar_w
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{margin_top + plot_h - h:.1f}" '
            f'width="{max(bar_w - 2, 1):.1f}" height="{h:.1f}" fill="#8a1c1c">'
            f"<title>{escape(label)}: {value}</title></rect>"
        )
        if n % label_every == 0:
            parts.append(
                f'<text x="{x:.1f}" y="{height - 8}" font-size="10" fill="#1b1b1b">'
                f"{escape(label[-5:] if ':' in label else label[5:])}</text>"
            )
    parts.append("</svg>")
    # Every interpolated string above is escaped or a number.
    return Markup("".join(parts))  # noqa: S704  # nosec B704
