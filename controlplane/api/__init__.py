"""The JSON API under /api/v1/: the pieces every endpoint shares (errors, common serializers).

Each app owns its routes in `<app>/api_urls.py`; controlplane/urls.py mounts them."""
