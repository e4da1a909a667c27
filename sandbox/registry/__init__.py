"""Per-kind strategies, as the API server's registry has them: the fields the server sets,
defaulting and validation, and the create/update/delete semantics every write goes through."""
