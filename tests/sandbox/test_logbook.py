"""The LogBook forgets a deleted pod through its (namespace, pod) index."""

from __future__ import annotations

from sandbox.kubelet.logbook import LogBook


def test_forgetting_a_pod_drops_all_its_containers_and_nothing_else():
    book = LogBook()
    for pod in ("web-1", "web-2"):
        for container in ("app", "sidecar"):
            book.append("ml", pod, container, f"{pod}/{container} started")
    book.restart("ml", "web-1", "app")
    book.append("other", "web-1", "app", "same pod name, other namespace")

    book.forget("ml", "web-1")

    assert book.lines("ml", "web-1", "app") == []
    assert book.lines("ml", "web-1", "app", previous=True) is None
    assert book.lines("ml", "web-1", "sidecar") == []
    assert [line for _, line in book.lines("ml", "web-2", "sidecar")] == ["web-2/sidecar started"]
    assert [line for _, line in book.lines("other", "web-1", "app")] == [
        "same pod name, other namespace"
    ]


def test_forgetting_every_pod_leaves_no_index_entries_behind():
    book = LogBook()
    pods = [f"p{i}" for i in range(100)]
    for pod in pods:
        book.append("ns", pod, "c", "line")
    for pod in pods:
        book.forget("ns", pod)
    # at 30,000 pods a leaked key per deleted pod would grow without bound
    assert book._containers == {}
    assert book._logs == {}
    book.forget("ns", "never-seen")  # forgetting an unknown pod is harmless
