"""Paging of API lists: `limit` and `offset` are checked, never silently replaced."""

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination

MAX_LIMIT = 1000
# Far beyond any real list, well inside a database's 64-bit integers.
MAX_OFFSET = 1_000_000_000


def _whole_number(params, key: str, *, low: int, high: int, default: int) -> int:
    raw = params.get(key)
    if raw is None or raw == "":
        return default
    # isdecimal() first: int() would accept "1_000", " 7" and Unicode digits, and a
    # 10,000-digit string would cost the parse before the range check.
    if raw.isascii() and raw.isdecimal() and len(raw) <= len(str(high)):
        value = int(raw)
        if low <= value <= high:
            return value
    raise ValidationError({key: [f"Must be a whole number from {low} to {high}; got {raw!r}."]})


class CheckedLimitOffsetPagination(LimitOffsetPagination):
    """LimitOffsetPagination that answers 400 naming `limit` or `offset` when either is not a
    whole number in range (DRF would fall back to the default, or pass 10**30 to the database
    and fail there)."""

    max_limit = MAX_LIMIT

    def get_limit(self, request):
        return _whole_number(
            request.query_params,
            self.limit_query_param,
            low=1,
            high=self.max_limit,
            default=self.default_limit,
        )

    def get_offset(self, request):
        return _whole_number(
            request.query_params, self.offset_query_param, low=0, high=MAX_OFFSET, default=0
        )

    def get_schema_operation_parameters(self, view):
        ranges = {
            self.limit_query_param: (1, self.max_limit),
            self.offset_query_param: (0, MAX_OFFSET),
        }
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            low, high = ranges[parameter["name"]]
            parameter["schema"].update(minimum=low, maximum=high)
        return parameters
