"""Pages of the deployments list: a namespace can hold thousands of deployments, and a page of
them (filtered and sorted over all of them first) is what a person reads and what a live
refresh re-sends."""

from __future__ import annotations

from urllib.parse import urlencode

PER_PAGE = 50


def page_number(raw: str | None) -> int:
    """`?page=` as a page number; anything that is not a positive whole number is page 1 (a
    page beyond the last shows the last, as Django's Paginator.get_page does)."""
    if raw and raw.isascii() and raw.isdecimal() and len(raw) <= 9:
        return max(1, int(raw))
    return 1


def rows_page(rows: list, *, page: int, per_page: int = PER_PAGE, query: dict) -> dict:
    """The rows of page `page` and the links around it; `query` is the list's other query
    parameters (filters, sorting), kept by every link."""
    total = len(rows)
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    start = (page - 1) * per_page
    kept = {k: v for k, v in query.items() if v and k != "page"}

    def link(number: int) -> str:
        return urlencode({**kept, "page": number} if number > 1 else kept)

    return {
        "rows": rows[start : start + per_page],
        "paging": {
            "page": page,
            "pages": pages,
            "total": total,
            "first": start + 1 if total else 0,
            "last": min(start + per_page, total),
            "previous": link(page - 1) if page > 1 else None,
            "next": link(page + 1) if page < pages else None,
            "first_link": link(1) if page > 1 else None,
            "last_link": link(pages) if page < pages else None,
        },
    }
