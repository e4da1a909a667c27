"""resource.Quantity values ("250m", "1Gi", "2", 0.5), parsed by the official client's
kubernetes.utils.parse_quantity behind the API server's own syntax check, which that parser
does not make (it takes "1K" or "NaN", which kube-apiserver refuses)."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

from kubernetes.utils import parse_quantity as _parse

_QUANTITY = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+|E[+-]?\d+|[KMGTPE]i|[numkMGTPE])?$")


def parse_quantity(value: Any) -> Decimal:
    """The quantity in base units (cores, bytes); ValueError when it is not one."""
    if isinstance(value, bool):
        raise ValueError(f"not a quantity: {value!r}")
    if isinstance(value, int | float):
        # through str, so 0.1 is one tenth and not the binary float nearest to it
        return Decimal(str(value))
    text = str(value).strip()
    if not _QUANTITY.match(text):
        raise ValueError(
            f"quantities must match the regular expression "
            f"'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {text!r}"
        )
    return _parse(text)


def millicores(value: Any) -> int:
    return math.ceil(parse_quantity(value) * 1000)


def quantity_bytes(value: Any) -> int:
    return math.ceil(parse_quantity(value))
