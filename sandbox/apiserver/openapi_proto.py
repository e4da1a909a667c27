"""The OpenAPI v2 document in the protobuf form kubectl asks for (gnostic's openapi_v2.Document).

kubectl validates a file client-side against /openapi/v2 whenever the OpenAPI v3 route cannot
answer for the file's kind; a `kind: List` file always takes that route. Its discovery
client requests `application/com.github.proto-openapi.spec.v2@v1.0+protobuf` and parses the
answer as protobuf with no JSON fallback, so a JSON body fails with "proto: cannot parse
invalid wire-format data". The client reads only the definitions (kube-openapi's
NewOpenAPIData), so this encodes swagger, info and definitions; paths stay in the JSON form.
Field numbers are those of gnostic's OpenAPIv2.proto.
"""

from __future__ import annotations

import json
from functools import cache

from sandbox.apiserver import openapi

ACCEPT = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
# what kube-apiserver answers with: "@" is not valid in a media type Go's mime parser accepts
CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"

# gnostic openapi_v2 field numbers used here
_DOC_SWAGGER, _DOC_INFO, _DOC_DEFINITIONS = 1, 2, 9
_INFO_TITLE, _INFO_VERSION = 1, 2
_NAMED_NAME, _NAMED_VALUE = 1, 2  # NamedSchema, NamedAny
_REPEATED_ADDITIONAL = 1  # Definitions/Properties.additional_properties, TypeItem.value, ...
_ANY_YAML = 2
_ADDITIONAL_SCHEMA, _ADDITIONAL_BOOLEAN = 1, 2
_SCHEMA = {
    "$ref": 1,
    "format": 2,
    "title": 3,
    "description": 4,
    "required": 19,
    "additionalProperties": 21,
    "type": 22,
    "items": 23,
    "allOf": 24,
    "properties": 25,
    "vendor_extension": 31,
}


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2): strings and embedded messages."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _string(number: int, text: str) -> bytes:
    return _field(number, text.encode())


def _bool(number: int, value: bool) -> bytes:
    return _varint(number << 3) + _varint(1 if value else 0)


def _named_any(name: str, value: object) -> bytes:
    # kube-openapi reads vendor extensions from Any.yaml; JSON is valid YAML
    any_msg = _string(_ANY_YAML, json.dumps(value, separators=(",", ":")))
    return _string(_NAMED_NAME, name) + _field(_NAMED_VALUE, any_msg)


def _schema(s: dict) -> bytes:
    if "anyOf" in s:
        # int-or-string: the python client's "object" type. An untyped schema is what
        # kube-openapi treats as arbitrary, which accepts every form the field may take.
        return b"".join(
            _field(_SCHEMA["vendor_extension"], _named_any(k, v))
            for k, v in s.items()
            if k.startswith("x-")
        )
    out = bytearray()
    for key, value in s.items():
        if key == "type":
            out += _field(_SCHEMA["type"], _string(_REPEATED_ADDITIONAL, value))
        elif key in ("$ref", "format", "title", "description"):
            out += _string(_SCHEMA[key], value)
        elif key == "required":
            for name in value:
                out += _string(_SCHEMA["required"], name)
        elif key == "properties":
            props = b"".join(
                _field(_REPEATED_ADDITIONAL, _named_schema(name, prop))
                for name, prop in value.items()
            )
            out += _field(_SCHEMA["properties"], props)
        elif key == "items":
            out += _field(_SCHEMA["items"], _field(_REPEATED_ADDITIONAL, _schema(value)))
        elif key == "additionalProperties":
            inner = (
                _bool(_ADDITIONAL_BOOLEAN, value)
                if isinstance(value, bool)
                else _field(_ADDITIONAL_SCHEMA, _schema(value))
            )
            out += _field(_SCHEMA["additionalProperties"], inner)
        elif key == "allOf":
            for sub in value:
                out += _field(_SCHEMA["allOf"], _schema(sub))
        elif key.startswith("x-"):
            out += _field(_SCHEMA["vendor_extension"], _named_any(key, value))
        else:
            raise ValueError(f"OpenAPI v2 schema keyword {key!r} has no protobuf encoding here")
    return bytes(out)


def _named_schema(name: str, s: dict) -> bytes:
    return _string(_NAMED_NAME, name) + _field(_NAMED_VALUE, _schema(s))


def encode(doc: dict) -> bytes:
    """Encode a Swagger 2.0 document's swagger, info and definitions as openapi_v2.Document."""
    info = _string(_INFO_TITLE, doc["info"]["title"]) + _string(
        _INFO_VERSION, doc["info"]["version"]
    )
    definitions = b"".join(
        _field(_REPEATED_ADDITIONAL, _named_schema(name, s))
        for name, s in doc["definitions"].items()
    )
    return (
        _string(_DOC_SWAGGER, doc["swagger"])
        + _field(_DOC_INFO, info)
        + _field(_DOC_DEFINITIONS, definitions)
    )


@cache
def v2_document() -> bytes:
    return encode(json.loads(openapi.v2_document()))


def wants_protobuf(accept: str) -> bool:
    return ACCEPT in accept
