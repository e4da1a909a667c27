import time
from datetime import datetime

from django import template
from django.utils.html import format_html

from controlplane.dashboard.navigation import nav_state as _nav_state
from controlplane.live.snapshot import CACHE, LIVE

register = template.Library()


@register.simple_tag(takes_context=True)
def nav_state(context):
    request = context.get("request")
    if request is None:
        return {"authenticated": False}
    return _nav_state(request)


def _ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


@register.simple_tag(takes_context=True)
def source_note(context, snapshot):
    """Where a number came from and how old it is, e.g. "watcher cache, confirmed 3 s ago".

    An error the page already shows once on top (`page_errors`) is not repeated here."""
    now = time.time()
    if snapshot.source == CACHE:
        return format_html(
            '<span class="source source-cache" data-as-of="{}" title="{}">watcher cache, '
            'confirmed <span class="ago">{}</span></span>',
            snapshot.as_of or "",
            "last change " + _ago(now - snapshot.last_change) if snapshot.last_change else "",
            _ago(now - snapshot.as_of) if snapshot.as_of else "never",
        )
    if snapshot.source == LIVE:
        return format_html(
            '<span class="source source-live" data-as-of="{}">live list ({}), '
            'taken <span class="ago">{}</span></span>',
            snapshot.as_of,
            snapshot.note,
            _ago(now - snapshot.as_of),
        )
    if snapshot.error in (context.get("page_errors") or ()):
        return format_html(
            '<span class="source source-error" title="{}">unavailable ({}), see above</span>',
            snapshot.error,
            snapshot.note,
        )
    return format_html(
        '<span class="source source-error">unavailable: {} ({})</span>',
        snapshot.error,
        snapshot.note,
    )


@register.filter
def ago(value) -> str:
    """Epoch seconds (as Redis holds them) or a datetime, as "12 s ago"."""
    if not value:
        return "never"
    if isinstance(value, datetime):
        return _ago(time.time() - value.timestamp())
    return _ago(time.time() - float(value))
