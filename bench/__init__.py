"""Benchmarks. Each module prints summary lines of the form

    bench: <name>: <metric> <value> <unit> | baseline <baseline-name> <value> <unit> | ratio <r>

(the last two fields only when there is a baseline). `python -m bench` runs every module here;
`python -m bench.<name>` runs one.
"""


def line(
    name: str,
    metric: str,
    value: float,
    unit: str,
    baseline: tuple[str, float] | None = None,
    *,
    higher_is_better: bool = False,
) -> str:
    """One summary line; ratio > 1 means this project does better than the baseline."""
    text = f"bench: {name}: {metric} {_fmt(value)} {unit}"
    if baseline is not None:
        base_name, base_value = baseline
        if higher_is_better:
            ratio = value / base_value if base_value else float("inf")
        else:
            ratio = base_value / value if value else float("inf")
        text += f" | baseline {base_name} {_fmt(base_value)} {unit} | ratio {ratio:.2f}"
    return text


def _fmt(value: float) -> str:
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
