"""The API server: HTTP handlers, authentication, discovery, OpenAPI, Tables, protobuf,
body decoding, patches, version conversion and watch streams, over the registry and storage."""
