"""Request body parsers of the JSON API."""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class GuardedJSONParser(JSONParser):
    """DRF's JSON parser, except that a body nested deeper than Python's recursion limit
    (e.g. 100,000 opening brackets) is a 400 saying so, not a RecursionError and a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError(
                "JSON parse error - the body is nested too deeply; API bodies are flat "
                "objects with at most a few levels of nesting."
            ) from exc
