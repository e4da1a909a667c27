"""The four roles, ordered, and which role each permission needs."""

from enum import IntEnum


class Role(IntEnum):
    VIEWER = 1  # product owners: read everything but secrets, review experiments
    OPERATOR = 2  # on-call: scale, autoscale, restart, roll back, view logs
    ENGINEER = 3  # ML engineers: everything on workloads
    ADMIN = 4  # clusters, users, role grants

    @property
    def slug(self) -> str:
        return self.name.lower()

    @property
    def label(self) -> str:
        return self.name.title()

    @classmethod
    def from_slug(cls, slug: str) -> "Role":
        try:
            return cls[slug.upper()]
        except KeyError:
            raise ValueError(f"unknown role {slug!r}") from None

    @classmethod
    def choices(cls) -> list[tuple[str, str]]:
        return [(role.slug, role.label) for role in cls]


# permission -> the least role that holds it (every higher role holds it too).
PERMISSIONS: dict[str, Role] = {
    "view": Role.VIEWER,
    "view_logs": Role.OPERATOR,
    "scale": Role.OPERATOR,
    "autoscale": Role.OPERATOR,
    "restart": Role.OPERATOR,
    "rollback": Role.OPERATOR,
    "view_secrets": Role.ENGINEER,
    "deploy": Role.ENGINEER,
    "apply": Role.ENGINEER,  # "Apply YAML": any allowed kind, so never below deploy
    "rollout": Role.ENGINEER,
    "train": Role.ENGINEER,
    "experiment": Role.ENGINEER,
    "manage_cluster": Role.ADMIN,
    "manage_roles": Role.ADMIN,
}


def role_allows(role: Role | None, permission: str) -> bool:
    try:
        needed = PERMISSIONS[permission]
    except KeyError:
        raise ValueError(f"unknown permission {permission!r}") from None
    return role is not None and role >= needed
