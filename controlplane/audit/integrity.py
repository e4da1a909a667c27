"""The audit chain: every transition of every action as an append-only, hash-chained entry.

An AuditEvent is an action's current state and moves forward (pending -> running -> done),
so it cannot be the immutable record. Each transition is appended instead, in the same
transaction as the transition itself, as an AuditEntry whose hash covers its content and the
hash of the entry before it. Changing, removing or inserting an entry afterwards (which only
a database superuser can; the models refuse it) breaks the chain at that entry, and
`manage.py audit_verify` names it. Rewriting the whole tail consistently is caught only
against a copy kept elsewhere, which is what `manage.py audit_export` writes.

The hash of an entry, for anyone verifying an export without this code:
    sha256(canonical({"sequence", "action_id", "transition", "at", "content", "prev_hash"}))
where canonical() is JSON with sorted keys, separators (",", ":") and UTF-8 text, `content`
is the canonical JSON text of the exported content object, `at` is ISO 8601 in UTC with
microseconds, and the first entry's prev_hash is "".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .models import AuditChainHead, AuditEntry, AuditEvent

GENESIS = ""  # the prev_hash of the first entry
HEAD = 1  # the primary key of the one AuditChainHead row


class Transition:
    CREATED = "created"  # recorded (pending, or decided at once: refused, failed, succeeded)
    STARTED = "started"  # a worker took it (again, after a lost worker)
    FINISHED = "finished"  # succeeded, failed or superseded
    IMPORTED = "imported"  # a row that existed before the chain did (migration 0003)


def canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def entry_hash(
    *, sequence: int, action_id, transition: str, at: datetime, content: str, prev_hash: str
) -> str:
    envelope = {
        "sequence": sequence,
        "action_id": str(action_id),
        "transition": transition,
        "at": _iso(at),
        "content": content,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical(envelope).encode()).hexdigest()


def _full_state(event: AuditEvent) -> dict:
    # `parameters` were redacted before the event was saved; the entry copies the saved row.
    return {
        "status": event.status,
        "actor": event.actor_name,
        "actor_id": event.actor_id,
        "cluster": event.cluster_name,
        "namespace": event.namespace,
        "kind": event.kind,
        "name": event.name,
        "verb": event.verb,
        "parameters": event.parameters,
        "request_id": event.request_id,
        "state_key": event.state_key,
        "task": event.task,
        "error": event.error,
        "result": event.result,
        "attempts": event.attempts,
        "created": _iso(event.created),
        "started": _iso(event.started),
        "finished": _iso(event.finished),
    }


def transition_content(*, event: AuditEvent, transition: str) -> dict:
    """What an entry records: everything on creation, then only what the transition set."""
    if transition == Transition.STARTED:
        return {"status": event.status, "attempts": event.attempts, "started": _iso(event.started)}
    if transition == Transition.FINISHED:
        return {
            "status": event.status,
            "error": event.error,
            "result": event.result,
            "finished": _iso(event.finished),
        }
    return _full_state(event)


def _seed_head() -> None:
    """Create the head row where it is missing (a fresh or flushed database), from the last
    entry, so a lost head never restarts the numbering. Concurrent seeders: one insert wins,
    the others do nothing (ON CONFLICT DO NOTHING waits for the winner's commit)."""
    last = AuditEntry.objects.order_by("-sequence").first()
    head = AuditChainHead(
        pk=HEAD,
        sequence=last.sequence if last else 0,
        hash=last.hash if last else GENESIS,
    )
    AuditChainHead.objects.bulk_create([head], ignore_conflicts=True)


def _claim_next() -> tuple[int, str]:
    """The next sequence number and the hash to chain onto, held until the commit.

    The UPDATE comes before any read: it takes the write lock (PostgreSQL: the head row;
    SQLite: the database) so no other writer can read the same head and fork the chain.
    """
    heads = AuditChainHead.objects.filter(pk=HEAD)
    if not heads.update(sequence=F("sequence") + 1):
        _seed_head()
        heads.update(sequence=F("sequence") + 1)
    head = heads.get()
    return head.sequence, head.hash


def entry_append(*, event: AuditEvent, transition: str) -> AuditEntry:
    """Append the event's transition to the chain. Call it inside the transaction that made
    the transition, so the two commit (or roll back) together."""
    content = canonical(transition_content(event=event, transition=transition))
    with transaction.atomic():
        sequence, prev_hash = _claim_next()
        at = timezone.now()
        digest = entry_hash(
            sequence=sequence,
            action_id=event.id,
            transition=transition,
            at=at,
            content=content,
            prev_hash=prev_hash,
        )
        entry = AuditEntry.objects.create(
            sequence=sequence,
            action_id=event.id,
            transition=transition,
            at=at,
            content=content,
            prev_hash=prev_hash,
            hash=digest,
        )
        AuditChainHead.objects.filter(pk=HEAD).update(hash=digest)
    return entry


# Verifying -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    entries: int  # entries checked
    broken_at: int | None = None  # the first sequence number that is wrong
    reason: str = ""
    actions: int = 0  # actions whose current row was compared with their entries

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def _recomputed(entry: AuditEntry) -> str:
    return entry_hash(
        sequence=entry.sequence,
        action_id=entry.action_id,
        transition=entry.transition,
        at=entry.at,
        content=entry.content,
        prev_hash=entry.prev_hash,
    )


def chain_verify(*, batch: int = 2000) -> Verdict:
    """Walk the chain from the first entry: every number present, every link and hash right,
    and the head (read first, so concurrent appends are not mistaken for damage) reached."""
    head = AuditChainHead.objects.filter(pk=HEAD).first()
    expected, prev_hash, count = 1, GENESIS, 0
    for entry in AuditEntry.objects.order_by("sequence").iterator(chunk_size=batch):
        if entry.sequence != expected:
            return Verdict(
                count, expected, f"gap: entry {expected} is missing (the next is {entry.sequence})"
            )
        if entry.prev_hash != prev_hash:
            return Verdict(
                count,
                entry.sequence,
                "prev mismatch: its prev_hash is not the hash of the entry before it",
            )
        if _recomputed(entry) != entry.hash:
            return Verdict(
                count,
                entry.sequence,
                "hash mismatch: its content, time or action differs from what was hashed",
            )
        if head is not None and entry.sequence == head.sequence and entry.hash != head.hash:
            return Verdict(
                count, entry.sequence, "head mismatch: the chain head names another hash"
            )
        prev_hash, expected, count = entry.hash, expected + 1, count + 1
    if head is not None and head.sequence > count:
        return Verdict(
            count,
            count + 1,
            f"gap: entries {count + 1} to {head.sequence} are missing from the end of the chain",
        )
    return Verdict(count)


# The fields of an AuditEvent that its entries determine (the rest, e.g. enqueues, are
# bookkeeping of the queue, not part of the record).
_COMPARED = {
    "status": "status",
    "actor": "actor_name",
    "cluster": "cluster_name",
    "namespace": "namespace",
    "kind": "kind",
    "name": "name",
    "verb": "verb",
    "parameters": "parameters",
    "request_id": "request_id",
    "error": "error",
    "result": "result",
    "attempts": "attempts",
}


def _chunks(batch: int) -> Iterator[list[AuditEvent]]:
    chunk: list[AuditEvent] = []
    for event in AuditEvent.objects.order_by("created", "id").iterator(chunk_size=batch):
        chunk.append(event)
        if len(chunk) == batch:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def actions_verify(*, batch: int = 500) -> tuple[int, str | None]:
    """Compare every action's current row with the state its entries add up to; returns the
    number compared and the first disagreement (None when all agree). Run it after
    chain_verify: the entries themselves are trusted here."""
    count = 0
    for chunk in _chunks(batch):
        ids = [event.id for event in chunk]
        states: dict = {}
        for entry in AuditEntry.objects.filter(action_id__in=ids).order_by("sequence"):
            states.setdefault(entry.action_id, {}).update(json.loads(entry.content))
        for event in chunk:
            state = states.get(event.id)
            if state is None:
                return count, f"action {event.id} has no entries in the chain"
            for key, field in _COMPARED.items():
                if key in state and canonical(state[key]) != canonical(getattr(event, field)):
                    return count, (
                        f"action {event.id}: {field} is {getattr(event, field)!r} but the "
                        f"chain says {state[key]!r}"
                    )
            count += 1
    return count, None


def entries_export(*, since: int = 0, batch: int = 2000) -> Iterator[dict]:
    """The entries after `since`, in order, as the objects one JSON line each carries."""
    entries = AuditEntry.objects.filter(sequence__gt=since).order_by("sequence")
    for entry in entries.iterator(chunk_size=batch):
        yield {
            "sequence": entry.sequence,
            "action_id": str(entry.action_id),
            "transition": entry.transition,
            "at": _iso(entry.at),
            "content": json.loads(entry.content),
            "prev_hash": entry.prev_hash,
            "hash": entry.hash,
        }
