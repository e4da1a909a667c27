"""One grant lookup per (user, cluster) and request, however many checks a request makes.

A click goes through the view, the service and the action pipeline, each asking whether the
user holds a permission; without this each asked the database again. The memo lives only for
one HTTP request (never for a websocket or a worker, where a revoked grant must count at the
next check) and is dropped whenever a grant changes during the request.
"""

from contextvars import ContextVar

_memo: ContextVar[dict | None] = ContextVar("grant_memo", default=None)
MISS = object()


def memo_get(key):
    memo = _memo.get()
    return MISS if memo is None else memo.get(key, MISS)


def memo_put(key, value) -> None:
    memo = _memo.get()
    if memo is not None:
        memo[key] = value


def memo_clear(**_) -> None:
    memo = _memo.get()
    if memo is not None:
        memo.clear()


class GrantMemoMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _memo.set({})
        try:
            return self.get_response(request)
        finally:
            _memo.reset(token)
