"""The one outgoing call to a Prometheus-compatible query API (a self-hosted Prometheus, or
Google Cloud Managed Service for Prometheus through its frontend): instant PromQL queries.

Which cluster has one is the setting EXPERIMENTS_PROMQL_URLS ("cluster=URL;other=URL").
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

from django.conf import settings


class PromQLError(Exception):
    """The query API refused the query, answered nonsense, or could not be reached."""


def promql_url(cluster_name: str) -> str | None:
    return settings.EXPERIMENTS_PROMQL_URLS.get(cluster_name)


def query(base_url: str, expr: str, *, at: float) -> list[tuple[dict, float]]:
    """An instant vector at `at`: [(labels, value)]."""
    params = urllib.parse.urlencode({"query": expr, "time": f"{at:.3f}"})
    url = f"{base_url.rstrip('/')}/api/v1/query?{params}"
    try:
        with urllib.request.urlopen(url, timeout=settings.KUBE_READ_TIMEOUT) as response:  # noqa: S310 (an operator-configured http(s) URL)
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:500]
        raise PromQLError(f"{exc.code} from the query API: {detail}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise PromQLError(f"the query API at {base_url} is unreachable: {exc}") from exc
    if body.get("status") != "success":
        raise PromQLError(f"query failed: {body.get('error', body)}")
    data = body.get("data") or {}
    if data.get("resultType") != "vector":
        raise PromQLError(f"expected a vector, got {data.get('resultType')}")
    return [(r.get("metric") or {}, float(r["value"][1])) for r in data.get("result") or []]
