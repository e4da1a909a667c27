"""The JSON API under /api/v1/: URL aggregation and the pieces every endpoint shares."""
