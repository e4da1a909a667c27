"""Kubernetes resource quantities ("250m", "1Gi", "2") as numbers, parsed by the official
client's own parser so the control plane reads them exactly as the cluster does."""

from decimal import Decimal

from kubernetes.utils import parse_quantity as _parse


def parse_quantity(value) -> Decimal:
    """ "250m" -> 0.25, "1Gi" -> 1073741824, 2 -> 2. Raises ValueError naming the bad value."""
    try:
        return Decimal(_parse(value))
    except (ValueError, TypeError, ArithmeticError):
        raise ValueError(f"not a resource quantity: {value!r}") from None
