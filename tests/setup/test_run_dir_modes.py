"""The files `make run` keeps under .run/ (keys, the SQLite database, the sandbox's kubeconfig
and state) are readable by their owner only."""

import os
import stat
import subprocess
import sys
from pathlib import Path

from devstack.run import database_migrate, private_run_dir
from sandbox import kubeconfig as sandbox_kubeconfig
from sandbox.storage.persistence import write_atomic

ROOT = Path(__file__).resolve().parents[2]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def local_env(run_dir: Path) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {"DATABASE_URL", "DATABASE_TEST_NAME", "SECRET_KEY", "CREDENTIALS_KEY", "DEBUG"}
    }
    env.update(RUN_DIR=str(run_dir), DJANGO_SETTINGS_MODULE="controlplane.settings")
    return env


def test_it_makes_a_new_run_directory_owner_only(tmp_path):
    run_dir = tmp_path / "fresh" / ".run"
    private_run_dir(run_dir)
    assert mode(run_dir) == 0o700


def test_it_closes_a_run_directory_and_database_an_older_run_left_open(tmp_path):
    run_dir = tmp_path / ".run"
    run_dir.mkdir(mode=0o755)
    run_dir.chmod(0o755)
    for name in ("db.sqlite3", "db.sqlite3-wal", "db.sqlite3-shm"):
        (run_dir / name).write_bytes(b"")
        (run_dir / name).chmod(0o644)
    private_run_dir(run_dir)
    assert mode(run_dir) == 0o700
    for name in ("db.sqlite3", "db.sqlite3-wal", "db.sqlite3-shm"):
        assert mode(run_dir / name) == 0o600


def test_the_migrated_database_and_the_generated_keys_are_owner_only(tmp_path):
    run_dir = tmp_path / ".run"
    # As `make run` does it: settings generate the keys, migrate creates the database.
    database_migrate(run_dir, local_env(run_dir))
    assert mode(run_dir) == 0o700
    for name in ("db.sqlite3", "secret_key", "credentials_key"):
        assert mode(run_dir / name) == 0o600, name


def test_settings_create_the_run_directory_owner_only_for_the_keys(tmp_path):
    run_dir = tmp_path / "keys" / ".run"
    subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        check=True,
        cwd=ROOT,
        env=local_env(run_dir),
    )
    assert mode(run_dir) == 0o700
    assert mode(run_dir / "secret_key") == 0o600
    assert mode(run_dir / "credentials_key") == 0o600


def test_the_sandbox_writes_its_kubeconfig_and_state_owner_only(tmp_path):
    kubeconfig = tmp_path / "sandbox.kubeconfig"
    sandbox_kubeconfig.write(kubeconfig, "https://127.0.0.1:6443", "token-abc")
    state = tmp_path / "sandbox-state.json"
    write_atomic(state, b"{}")
    assert mode(kubeconfig) == 0o600
    assert mode(state) == 0o600
