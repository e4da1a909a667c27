"""Storage: stored objects, resource versions, watch fan-out, persistence and garbage
collection. Objects reach it already defaulted and validated by the registry."""
