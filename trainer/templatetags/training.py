from django import template
from django.urls import NoReverseMatch, reverse

# What an unknown figure shows as (the pages' own dash).
UNKNOWN = "\u2013"

register = template.Library()


@register.filter
def duration(seconds) -> str:
    """3725 -> "1h 2m 5s"; None -> UNKNOWN."""
    if seconds is None:
        return UNKNOWN
    seconds = round(float(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m {secs}s"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


@register.filter
def status_tone(status: str) -> str:
    return {"succeeded": "ok", "running": "warn", "pending": "warn", "submitted": "warn"}.get(
        status, "bad"
    )


@register.filter
def figure(value) -> str:
    """A metric to four significant figures; None -> UNKNOWN."""
    if value is None:
        return UNKNOWN
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


@register.simple_tag
def url_if_exists(route: str, **kwargs) -> str:
    """The URL of a route another app may provide (the live log viewer), or "" without it."""
    try:
        return reverse(route, kwargs=kwargs)
    except NoReverseMatch:
        return ""
