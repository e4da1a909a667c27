"""Kubernetes resource quantities ("250m", "1Gi", "2") as numbers, for sums and ratios."""

from decimal import Decimal, InvalidOperation

_SUFFIXES = {
    "Ki": Decimal(1024),
    "Mi": Decimal(1024**2),
    "Gi": Decimal(1024**3),
    "Ti": Decimal(1024**4),
    "Pi": Decimal(1024**5),
    "Ei": Decimal(1024**6),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "P": Decimal(10**15),
    "E": Decimal(10**18),
}


def parse_quantity(value) -> Decimal:
    """ "250m" -> 0.25, "1Gi" -> 1073741824, 2 -> 2. Raises ValueError naming the bad value."""
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value))
    text = str(value).strip()
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if text.endswith(suffix) and not text.endswith("e" + suffix):
            number, multiplier = text[: -len(suffix)], _SUFFIXES[suffix]
            break
    else:
        number, multiplier = text, Decimal(1)
    try:
        return Decimal(number) * multiplier
    except InvalidOperation:
        raise ValueError(f"not a resource quantity: {value!r}") from None


def format_cpu(cores: Decimal) -> str:
    if cores < 1:
        return f"{int(cores * 1000)}m"
    return f"{cores.normalize():f}" if cores == int(cores) else f"{cores:.2f}"


def format_bytes(amount: Decimal) -> str:
    for unit, size in (("Ti", 1024**4), ("Gi", 1024**3), ("Mi", 1024**2), ("Ki", 1024)):
        if amount >= size:
            return f"{amount / size:.1f} {unit}"
    return f"{int(amount)} B"
