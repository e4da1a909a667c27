"""The audit chain: append-only entries for every transition, hash-chained, verified and
exported by management commands."""

import hashlib
import io
import itertools
import json
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from controlplane.audit.integrity import _recomputed as entry_hash_of
from controlplane.audit.integrity import canonical, chain_verify
from controlplane.audit.models import AuditEntry, AuditEvent, AuditImmutable
from controlplane.audit.services import action_finish, action_record, action_start

pytestmark = pytest.mark.django_db


def _scale(offline_cluster, replicas, *, actor=None, status="pending", parameters=None):
    return action_record(
        actor=actor,
        cluster=offline_cluster,
        namespace="ml",
        kind="deployment",
        name="web",
        verb="scale",
        parameters=parameters or {"replicas": replicas},
        status=status,
    )


def _several_actions(offline_cluster):
    """Five actions, eight entries: three created and carried through, two decided at once."""
    for replicas in (1, 2, 3):
        event = _scale(offline_cluster, replicas)
        action_start(event_id=event.id)
        action_finish(event_id=event.id, status="succeeded", result={"replicas": replicas})
    _scale(offline_cluster, 4, status="refused")
    _scale(offline_cluster, 5, status="failed")


def _verify() -> str:
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    return out.getvalue()


def _raw(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql.format(table=connection.ops.quote_name("audit_auditentry")), params)


def test_a_chain_of_several_actions_verifies(offline_cluster):
    _several_actions(offline_cluster)
    assert _verify() == "audit chain OK: 11 entries, 5 actions agree with it\n"
    transitions = [
        entry.transition for entry in AuditEntry.objects.filter(action_id=_first_action().id)
    ]
    assert transitions == ["created", "started", "finished"]


def _first_action():
    return AuditEvent.objects.order_by("created").first()


def test_each_entry_chains_to_the_one_before_it(offline_cluster):
    _several_actions(offline_cluster)
    entries = list(AuditEntry.objects.all())
    assert [entry.sequence for entry in entries] == list(range(1, 12))
    assert entries[0].prev_hash == ""
    for before, entry in itertools.pairwise(entries):
        assert entry.prev_hash == before.hash


def test_an_entry_changed_with_raw_sql_is_found_by_its_sequence_number(offline_cluster):
    _several_actions(offline_cluster)
    tampered = json.loads(AuditEntry.objects.get(sequence=3).content)
    tampered["status"] = "failed"
    _raw("UPDATE {table} SET content = %s WHERE sequence = %s", [canonical(tampered), 3])

    with pytest.raises(CommandError, match=r"BROKEN at sequence 3: hash mismatch") as caught:
        _verify()
    assert caught.value.returncode == 1


def test_an_entry_rehashed_after_a_change_breaks_the_link_to_the_next_one(offline_cluster):
    _several_actions(offline_cluster)
    # A forger who knows the recipe changes entry 4 and gives it a correct new hash...
    _raw("UPDATE {table} SET content = %s WHERE sequence = %s", ['{"status":"failed"}', 4])
    forged = entry_hash_of(AuditEntry.objects.get(sequence=4))
    _raw("UPDATE {table} SET hash = %s WHERE sequence = %s", [forged, 4])

    # ...but entry 5 still names the old hash.
    verdict = chain_verify()
    assert (verdict.broken_at, verdict.reason.split(":")[0]) == (5, "prev mismatch")


def test_a_deleted_entry_is_reported_as_a_gap(offline_cluster):
    _several_actions(offline_cluster)
    _raw("DELETE FROM {table} WHERE sequence = %s", [6])

    with pytest.raises(CommandError, match=r"BROKEN at sequence 6: gap"):
        _verify()


def test_entries_cut_from_the_end_are_reported_as_a_gap(offline_cluster):
    _several_actions(offline_cluster)
    _raw("DELETE FROM {table} WHERE sequence > %s", [9])

    with pytest.raises(CommandError, match=r"BROKEN at sequence 10: gap: entries 10 to 11"):
        _verify()


def test_an_action_row_changed_with_raw_sql_disagrees_with_its_entries(offline_cluster):
    _several_actions(offline_cluster)
    event = _first_action()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_auditevent SET status = %s WHERE id = %s",
            ["failed", event.id.hex if connection.vendor == "sqlite" else event.id],
        )

    with pytest.raises(CommandError, match=rf"action {event.id}: status is 'failed'"):
        _verify()
    call_command("audit_verify", "--chain-only", stdout=io.StringIO())


def test_the_models_refuse_to_change_or_delete_entries(offline_cluster):
    _several_actions(offline_cluster)
    entry = AuditEntry.objects.get(sequence=2)
    entry.content = "{}"
    with pytest.raises(AuditImmutable):
        entry.save()
    with pytest.raises(AuditImmutable):
        entry.delete()
    with pytest.raises(AuditImmutable):
        AuditEntry.objects.filter(sequence=2).update(content="{}")
    with pytest.raises(AuditImmutable):
        AuditEntry.objects.all().delete()
    with pytest.raises(AuditImmutable), transaction.atomic():
        AuditEntry.objects.bulk_update([entry], ["content"])
    assert AuditEntry.objects.count() == 11
    assert "OK" in _verify()


def test_actions_are_never_deleted_through_the_orm(offline_cluster):
    event = _scale(offline_cluster, 1)
    with pytest.raises(AuditImmutable):
        event.delete()
    with pytest.raises(AuditImmutable):
        AuditEvent.objects.filter(id=event.id).delete()
    with pytest.raises(AuditImmutable):
        offline_cluster.audit_events.all().delete()
    assert AuditEvent.objects.filter(id=event.id).exists()


def test_deleting_a_cluster_keeps_its_actions_and_the_chain_intact(offline_cluster):
    _scale(offline_cluster, 1)
    offline_cluster.delete()
    assert AuditEvent.objects.get().cluster_name == "offline"
    assert "OK" in _verify()


def test_entries_carry_the_redacted_parameters(offline_cluster):
    _scale(
        offline_cluster,
        1,
        parameters={"replicas": 1, "token": "s3cret", "nested": {"password": "x"}},
    )
    (entry,) = AuditEntry.objects.all()
    assert "s3cret" not in entry.content
    content = json.loads(entry.content)
    assert content["parameters"] == {
        "replicas": 1,
        "token": "[REDACTED]",
        "nested": {"password": "[REDACTED]"},
    }


def _export(*args) -> tuple[list[dict], str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("audit_export", *args, stdout=out, stderr=err)
    return [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


def _hash_of(line: dict) -> str:
    """The recipe from integrity.py's docstring, without its code."""
    envelope = {key: line[key] for key in ("sequence", "action_id", "transition", "at")}
    envelope["content"] = json.dumps(
        line["content"], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    envelope["prev_hash"] = line["prev_hash"]
    text = json.dumps(envelope, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def test_export_writes_json_lines_that_match_the_database(offline_cluster):
    _several_actions(offline_cluster)
    lines, err = _export()
    assert "exported 11 audit entries; the last sequence is 11" in err
    stored = {entry.sequence: entry for entry in AuditEntry.objects.all()}
    assert [line["sequence"] for line in lines] == sorted(stored)
    for line in lines:
        entry = stored[line["sequence"]]
        assert line["hash"] == entry.hash
        assert line["prev_hash"] == entry.prev_hash
        assert line["action_id"] == str(entry.action_id)
        assert line["content"] == json.loads(entry.content)
        assert _hash_of(line) == line["hash"]


def test_export_resumes_after_a_sequence_number_into_the_same_file(offline_cluster, tmp_path):
    _scale(offline_cluster, 1, status="succeeded")
    _scale(offline_cluster, 2, status="succeeded")
    path = tmp_path / "audit.jsonl"
    call_command("audit_export", "--output", str(path), stderr=io.StringIO())
    _scale(offline_cluster, 3, status="succeeded")

    lines, _ = _export("--since", "2")
    assert [line["sequence"] for line in lines] == [3]
    call_command(
        "audit_export", "--since", "2", "--output", str(path), "--append", stderr=io.StringIO()
    )
    exported = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["sequence"] for line in exported] == [1, 2, 3]
    assert exported[2]["prev_hash"] == exported[1]["hash"]
    assert exported[2]["content"]["parameters"] == {"replicas": 3}


@pytest.mark.django_db(transaction=True)
def test_two_threads_appending_concurrently_still_give_a_valid_chain(offline_cluster):
    rounds, errors = 8, []
    start = threading.Barrier(2)

    def work(offset):
        try:
            start.wait()
            for replicas in range(rounds):
                event = _scale(offline_cluster, offset + replicas)
                action_start(event_id=event.id)
                action_finish(event_id=event.id, status="succeeded")
        except Exception as exc:  # reported below, on the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(offset,)) for offset in (0, 100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert (
        _verify() == f"audit chain OK: {6 * rounds} entries, {2 * rounds} actions agree with it\n"
    )
