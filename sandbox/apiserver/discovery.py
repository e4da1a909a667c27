"""Discovery documents: /api, /apis, group and group-version resource lists, and the
aggregated discovery (apidiscovery.k8s.io/v2) form kubectl asks for first."""

from __future__ import annotations

from sandbox.machinery.resources import RESOURCES, ResourceType, groups

AGGREGATED_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

_SERVER_VERSION = {
    "major": "1",
    "minor": "37",
    "emulationMajor": "1",
    "emulationMinor": "37",
    "minCompatibilityMajor": "1",
    "minCompatibilityMinor": "36",
    "gitVersion": "v1.37.1-sandbox",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.25",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def version() -> dict:
    return dict(_SERVER_VERSION)


def wants_aggregated(accept: str) -> bool:
    # kubectl lists the v2 form first and plain JSON as a fallback; honour the first choice
    first = accept.split(",")[0].replace(" ", "")
    return "g=apidiscovery.k8s.io" in first and "v=v2" in first


def api_versions(server_address: str) -> dict:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _group_entry(name: str, versions: list[str]) -> dict:
    gvs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": gvs, "preferredVersion": gvs[0]}


def api_group_list() -> dict:
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group_entry(g, vs) for g, vs in groups().items() if g],
    }


def api_group(name: str) -> dict | None:
    versions = groups().get(name)
    if not versions or not name:
        return None
    return dict(_group_entry(name, versions), kind="APIGroup", apiVersion="v1")


def _resources_in(group: str, version: str) -> list[ResourceType]:
    return [rt for rt in RESOURCES if rt.group == group and version in rt.versions]


def _sub_kind(rt: ResourceType, sub) -> tuple[str, str, str]:
    if sub.kind in ("", rt.kind):
        return rt.group, "", rt.kind
    return sub.group, sub.version, sub.kind


def resource_list(group: str, version: str) -> dict | None:
    rts = _resources_in(group, version)
    if not rts:
        return None
    items = []
    for rt in rts:
        entry = {
            "name": rt.plural,
            "singularName": rt.singular,
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": list(rt.verbs),
        }
        if rt.short_names:
            entry["shortNames"] = list(rt.short_names)
        if rt.categories:
            entry["categories"] = list(rt.categories)
        if rt.stored:
            entry["storageVersionHash"] = _hash(rt)
        items.append(entry)
        for sub in rt.subresources:
            g, v, kind = _sub_kind(rt, sub)
            sub_entry = {
                "name": f"{rt.plural}/{sub.name}",
                "singularName": "",
                "namespaced": rt.namespaced,
                "kind": kind,
                "verbs": list(sub.verbs),
            }
            if g != group or v:
                sub_entry["group"] = g
                sub_entry["version"] = v or version
            items.append(sub_entry)
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": version if not group else f"{group}/{version}",
        "resources": items,
    }


def _hash(rt: ResourceType) -> str:
    import base64
    import hashlib

    digest = hashlib.sha256(f"{rt.group}/{rt.storage_version}/{rt.kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def _aggregated_resource(rt: ResourceType, version: str) -> dict:
    entry = {
        "resource": rt.plural,
        "responseKind": {"group": rt.group, "version": version, "kind": rt.kind},
        "scope": "Namespaced" if rt.namespaced else "Cluster",
        "singularResource": rt.singular or rt.plural,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        entry["shortNames"] = list(rt.short_names)
    if rt.categories:
        entry["categories"] = list(rt.categories)
    subs = []
    for sub in rt.subresources:
        g, v, kind = _sub_kind(rt, sub)
        subs.append(
            {
                "subresource": sub.name,
                "responseKind": {"group": g, "version": v or version, "kind": kind},
                "verbs": list(sub.verbs),
            }
        )
    if subs:
        entry["subresources"] = subs
    return entry


def aggregated(core: bool) -> dict:
    items = []
    for group, versions in groups().items():
        if (group == "") != core:
            continue
        items.append(
            {
                "metadata": {"name": group, "creationTimestamp": None},
                "versions": [
                    {
                        "version": v,
                        "resources": [
                            _aggregated_resource(rt, v) for rt in _resources_in(group, v)
                        ],
                        "freshness": "Current",
                    }
                    for v in versions
                ],
            }
        )
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    }
