"""Outcomes reported by the serving application: one JSON outcome, or a CSV of them.

Each request is one action (the outcomes are its parameters), recorded by the worker once per
request id: a retried POST, or a row sent twice, is counted as a duplicate, never twice.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError

from controlplane.audit.models import AuditEvent
from controlplane.audit.services import action_submit, audit_invalid

from .. import tasks
from ..models import State
from ..validation import MISSING, feedback_limit, validate_outcome
from . import PERMISSION, _begin, refuse, require_experiment

if TYPE_CHECKING:
    from controlplane.accounts.types import User
    from controlplane.clusters.models import Cluster

CSV_COLUMNS = ("request_id", "variant", "converted", "value")
_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f"}


def _submit(*, target, experiment, outcomes: list[dict], request_id) -> AuditEvent:
    if experiment.state == State.DRAFT:
        from controlplane.kube.errors import Conflict

        refuse(
            target=target,
            parameters={"outcomes": len(outcomes)},
            request_id=request_id,
            error=Conflict("the experiment has not started; it takes no outcomes yet"),
        )
    return action_submit(
        **target,
        permission=PERMISSION,
        parameters={"outcomes": outcomes},
        task=tasks.experiment_feedback_task,
        request_id=request_id,
    )


def experiment_feedback(
    *,
    actor: User,
    cluster: Cluster,
    namespace: str,
    name: str,
    body: object,
    request_id: str | None = None,
) -> AuditEvent:
    """One outcome {"request_id", "variant", "converted" | "value"}."""
    sent = body if isinstance(body, dict) else {}
    target = _begin(
        actor=actor,
        cluster=cluster,
        namespace=namespace,
        name=name,
        verb="feedback",
        parameters=sent,
        request_id=request_id,
    )
    experiment = require_experiment(target=target, parameters=sent, request_id=request_id)
    variants = [v.name for v in experiment.variants.all()]
    with audit_invalid(**target, parameters=sent, request_id=request_id):
        outcome = validate_outcome(body, variants=variants)
    return _submit(target=target, experiment=experiment, outcomes=[outcome], request_id=request_id)


def _cell_bool(text: str) -> bool | None:
    low = text.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError(text)


def parse_feedback_csv(text: object, *, variants: list[str]) -> list[dict]:
    """Rows of request_id,variant,converted,value (a header line first; converted or value
    empty), or ValidationError naming the row and column of each problem."""
    if text is MISSING or not isinstance(text, str) or not text.strip():
        raise ValidationError({"file": ["Upload a non-empty CSV file."]})
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in ("request_id", "variant") if c not in header]
    if missing or not ({"converted", "value"} & set(header)):
        raise ValidationError(
            {
                "file": [
                    f"The header must name request_id, variant and converted and/or value "
                    f"(got: {', '.join(header) or 'nothing'})."
                ]
            }
        )
    limit = feedback_limit()
    outcomes: list[dict] = []
    errors: dict[str, list[str]] = {}
    for line, row in enumerate(reader, start=2):
        if len(outcomes) >= limit:
            raise ValidationError({"file": [f"At most {limit} rows per upload."]})
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        raw: dict = {"request_id": row.get("request_id"), "variant": row.get("variant")}
        try:
            if row.get("converted"):
                raw["converted"] = _cell_bool(row["converted"])
            if row.get("value"):
                raw["value"] = float(row["value"])
        except ValueError as exc:
            errors[f"line {line}"] = [f"Not a boolean or number: {exc.args[0]!r}."]
            continue
        try:
            outcomes.append(validate_outcome(raw, variants=variants, where=f"line {line}"))
        except ValidationError as exc:
            errors.update(exc.message_dict)
        if len(errors) >= 20:
            break
    if errors:
        raise ValidationError(errors)
    if not outcomes:
        raise ValidationError({"file": ["The file has a header but no rows."]})
    return outcomes


def experiment_feedback_csv(
    *,
    actor: User,
    cluster: Cluster,
    namespace: str,
    name: str,
    text: object,
    request_id: str | None = None,
) -> AuditEvent:
    """Many outcomes from one CSV upload, as one action."""
    sent = {"file": f"{len(text)} characters" if isinstance(text, str) else "absent"}
    target = _begin(
        actor=actor,
        cluster=cluster,
        namespace=namespace,
        name=name,
        verb="feedback",
        parameters=sent,
        request_id=request_id,
    )
    experiment = require_experiment(target=target, parameters=sent, request_id=request_id)
    variants = [v.name for v in experiment.variants.all()]
    with audit_invalid(**target, parameters=sent, request_id=request_id):
        outcomes = parse_feedback_csv(text, variants=variants)
    return _submit(target=target, experiment=experiment, outcomes=outcomes, request_id=request_id)
