"""The local GKE endpoint: container v1 REST and an OAuth2 token endpoint, backed by sandboxes."""
