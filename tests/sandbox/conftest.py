"""Fixtures the controller tests share: one client for the session, a namespace per test."""

import pytest

from tests.sandbox.ctl_support import create_namespace, delete_namespace


@pytest.fixture
def api(sandbox_api):
    return sandbox_api


@pytest.fixture
def ns(api, request):
    # Each module names its namespaces (NAMESPACE_PREFIX) so a leftover one says where it came from.
    name = create_namespace(api, getattr(request.module, "NAMESPACE_PREFIX", "ctl"))
    yield name
    delete_namespace(api, name)
