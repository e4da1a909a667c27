"""The runtime map: which images run as processes, and how a bad map file is refused."""

from __future__ import annotations

import socket

import pytest

from sandbox.hello import version_of
from sandbox.kubelet.ipam import LoopbackIPAM
from sandbox.kubelet.runtimemap import RuntimeMap


@pytest.mark.parametrize(
    ("image", "program"),
    [
        ("us-docker.pkg.dev/acme/ml/inference:1.2", "inference"),
        ("inference", "inference"),  # docker.io/library/inference:latest
        ("gcr.io/p/trainer@sha256:" + "a" * 64, "trainer.program"),
        ("localhost:5000/team/trainer", "trainer.program"),
        ("us-docker.pkg.dev/google-samples/containers/gke/hello-app:1.0", "sandbox.hello"),
        ("registry.example/inference-proxy:1", None),
        ("nginx:1.27", None),
    ],
)
def test_the_default_rules_match_the_repository_whatever_the_registry_and_tag(image, program):
    rule = RuntimeMap().rule_for(image)
    assert (rule.command[2] if rule else None) == program


def test_file_rules_come_before_the_defaults_unless_they_are_turned_off():
    data = {"rules": [{"image": "*/inference", "command": ["python", "fake.py"]}]}
    assert RuntimeMap.from_dict(data).rule_for("x/inference").command == ("python", "fake.py")
    assert RuntimeMap.from_dict(data).rule_for("x/trainer") is not None
    assert RuntimeMap.from_dict({**data, "defaults": False}).rule_for("x/trainer") is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"rules": [{"command": ["x"]}]}, "rules[0].image: required"),
        ({"rules": [{"image": "*/a"}]}, "rules[0].command: required"),
        ({"rules": [{"image": "*/a", "command": "python"}]}, "rules[0].command: must be a list"),
        ({"rules": [{"image": "*/a", "command": ["x"], "env": {"A": 1}}]}, "rules[0].env"),
        ({"rules": [{"image": "*/a", "command": ["x"], "defaultPort": 70000}]}, "defaultPort"),
        ({"rules": [{"image": "*/a", "command": ["x"], "imagee": 1}]}, "rules[0].imagee: unknown"),
        ({"rule": []}, "unknown field 'rule'"),
    ],
)
def test_a_bad_map_is_refused_naming_the_field(data, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        RuntimeMap.from_dict(data, source="map.yaml")


def test_hello_reports_the_version_of_its_tag():
    assert version_of("2.0") == "2.0.0"
    assert version_of("latest") == "1.0.0"


def test_a_pod_ip_where_something_already_listens_is_skipped():
    ipam = LoopbackIPAM()
    busy = socket.create_server(("127.16.0.9", 0))
    port = busy.getsockname()[1]
    draws = iter([8, 8, 20])  # 127.16.0.9 (busy), again, then 127.16.0.21
    ipam._rng.randrange = lambda size: next(draws)
    try:
        assert ipam.allocate("uid-1", (port,)) == "127.16.0.21"
    finally:
        busy.close()
    assert ipam.allocate("uid-1", (port,)) == "127.16.0.21"  # the same pod keeps its address
