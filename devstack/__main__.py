import sys

USAGE = "usage: python -m devstack {run|test} [pytest arguments]"


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test"}:
        print(USAGE, file=sys.stderr)
        return 2
    if argv[0] == "run":
        from devstack.run import main as run

        return run()
    from devstack.test import main as test

    return test(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
