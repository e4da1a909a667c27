"""API writes to a URL without its trailing slash: a JSON 404 that names the right URL.

Django's CommonMiddleware would answer them with a redirect to the slashed URL (DEBUG off),
which clients follow as a GET and so silently drop the write, or with a RuntimeError and a
500 (DEBUG on). Reads keep the redirect: following it loses nothing.
"""

from django.http import JsonResponse
from django.urls import is_valid_path

_REDIRECT_SAFE = {"GET", "HEAD", "OPTIONS"}


class ApiTrailingSlashMiddleware:
    """Must come before django.middleware.common.CommonMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if (
            request.method not in _REDIRECT_SAFE
            and path.startswith("/api/")
            and not path.endswith("/")
        ):
            urlconf = getattr(request, "urlconf", None)
            if not is_valid_path(path, urlconf) and is_valid_path(f"{path}/", urlconf):
                slashed = f"{request.path}/"
                return JsonResponse(
                    {
                        "detail": (
                            f"No API endpoint at {request.path}: API URLs end with a slash. "
                            f"Send the {request.method} to {slashed}"
                        )
                    },
                    status=404,
                )
        return self.get_response(request)
