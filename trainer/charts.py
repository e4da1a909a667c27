"""Small inline SVG line charts of per-epoch figures (no JavaScript, no library).

Colours are SVG presentation attributes, not style attributes, so the page's
Content-Security-Policy (no inline styles) leaves them alone.
"""

from django.utils.html import format_html, format_html_join

WIDTH, HEIGHT, PAD = 360, 140, 28
COLOURS = ("#2563eb", "#dc2626", "#059669", "#d97706")


def line_chart(history: list[dict], keys: tuple[str, ...], *, title: str) -> str:
    """An SVG with one polyline per key over the epochs; values that are null are skipped."""
    points = {k: [(h["epoch"], h.get(k)) for h in history if h.get(k) is not None] for k in keys}
    values = [v for series in points.values() for _, v in series]
    if not values:
        return format_html('<p class="muted small">No {} yet.</p>', title)
    epochs = [h["epoch"] for h in history]
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    first, last = min(epochs), max(epochs)
    width = (last - first) or 1

    def xy(epoch, value):
        x = PAD + (epoch - first) / width * (WIDTH - 2 * PAD)
        y = HEIGHT - PAD - (value - lo) / span * (HEIGHT - 2 * PAD)
        return f"{x:.1f},{y:.1f}"

    series = [
        (COLOURS[i % len(COLOURS)], key, " ".join(xy(e, v) for e, v in data))
        for i, (key, data) in enumerate(points.items())
    ]
    lines = format_html_join(
        "",
        '<polyline fill="none" stroke="{}" stroke-width="2" points="{}"><title>{}</title>'
        "</polyline>",
        ((colour, pts, key) for colour, key, pts in series),
    )
    dots = format_html_join(
        "",
        '<circle r="2.5" fill="{}" cx="{}" cy="{}"></circle>',
        ((colour, *pt.split(",")) for colour, _key, pts in series for pt in pts.split(" ") if pt),
    )
    legend = format_html_join(
        "",
        '<text x="{}" y="12" fill="{}" font-size="11">{}</text>',
        ((PAD + i * 110, colour, key) for i, (colour, key, _pts) in enumerate(series)),
    )
    return format_html(
        '<figure class="chart" data-chart="{}"><figcaption>{}</figcaption>'
        '<svg viewBox="0 0 {} {}" role="img" aria-label="{}" width="{}" height="{}">{}'
        '<text x="2" y="{}" font-size="10" fill="#6b7280">{}</text>'
        '<text x="2" y="{}" font-size="10" fill="#6b7280">{}</text>'
        '<text x="{}" y="{}" font-size="10" fill="#6b7280">epoch {}</text>'
        '<text x="{}" y="{}" font-size="10" fill="#6b7280">epoch {}</text>{}{}</svg></figure>',
        title,
        title,
        WIDTH,
        HEIGHT,
        title,
        WIDTH,
        HEIGHT,
        legend,
        PAD,
        f"{hi:.3g}",
        HEIGHT - PAD,
        f"{lo:.3g}",
        PAD,
        HEIGHT - 6,
        first,
        WIDTH - PAD - 40,
        HEIGHT - 6,
        last,
        lines,
        dots,
    )
