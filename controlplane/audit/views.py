"""The audit page: every action, filterable by who, what, where, result and time."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.decorators.http import require_GET
from rest_framework.exceptions import ValidationError

from .filters import audit_filters_parse
from .models import SYSTEM_ACTOR, ActionStatus
from .selectors import audit_filter_choices, audit_list

PAGE_SIZE = 50


@login_required
@require_GET
def audit_index(request):
    errors = {}
    try:
        filters = audit_filters_parse(params=request.GET)
    except ValidationError as exc:
        errors = exc.detail
        filters = {}
    events = audit_list(user=request.user, **filters)
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "audit/index.html",
        {
            "page": page,
            "filters": request.GET,
            "errors": errors,
            "choices": audit_filter_choices(user=request.user),
            "statuses": ActionStatus.values,
            "system_actor": SYSTEM_ACTOR,
            "query": query.urlencode(),
        },
    )
