"""Kubernetes resource quantities shown as numbers people read ("250m", "1.5 Gi").

Parsing is the kube layer's (the official client's parser); this module only formats.
"""

from decimal import Decimal

from controlplane.kube.quantities import parse_quantity

__all__ = ["format_bytes", "format_cpu", "parse_quantity"]


def format_cpu(cores: Decimal) -> str:
    if cores < 1:
        return f"{int(cores * 1000)}m"
    return f"{cores.normalize():f}" if cores == int(cores) else f"{cores:.2f}"


def format_bytes(amount: Decimal) -> str:
    for unit, size in (("Ti", 1024**4), ("Gi", 1024**3), ("Mi", 1024**2), ("Ki", 1024)):
        if amount >= size:
            return f"{amount / size:.1f} {unit}"
    return f"{int(amount)} B"
