"""``manage.py init_local_keys`` creates the key files the environment names, or local ones."""

import base64
import os
import stat
import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from django.conf import settings

MANAGE = Path(settings.BASE_DIR) / "manage.py"


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run manage.py in a fresh process: settings read the key files when they are imported."""
    clean = {key: value for key, value in os.environ.items() if not key.startswith(("WARRANTDESK_", "DATABASE_URL"))}
    return subprocess.run(
        [sys.executable, str(MANAGE), *args], env={**clean, **env}, capture_output=True, text=True, timeout=120
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_key_files_named_in_the_environment_are_created_0600_and_kept(tmp_path):
    kek_file, signing_file = tmp_path / "secrets" / "kek", tmp_path / "secrets" / "operator.pem"
    env = {
        "WARRANTDESK_VAR_DIR": str(tmp_path / "var"),
        "WARRANTDESK_KEK_FILE": str(kek_file),
        "WARRANTDESK_SIGNING_KEY_FILE": str(signing_file),
    }

    first = manage("init_local_keys", env=env)
    kek, signing = kek_file.read_bytes(), signing_file.read_bytes()
    second = manage("init_local_keys", env=env)

    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        f"WARRANTDESK_KEK_FILE={kek_file}",
        f"WARRANTDESK_SIGNING_KEY_FILE={signing_file}",
    ]
    assert (mode(kek_file), mode(signing_file), mode(kek_file.parent)) == (0o600, 0o600, 0o700)
    assert len(base64.b64decode(kek.strip(), validate=True)) == 32
    assert serialization.load_pem_private_key(signing, password=None) is not None
    assert second.returncode == 0, second.stderr
    assert (kek_file.read_bytes(), signing_file.read_bytes()) == (kek, signing)
    assert not (tmp_path / "var" / "kek").exists()


def test_without_file_names_the_keys_go_to_the_data_directory_and_a_direct_key_is_left_alone(tmp_path):
    env = {"WARRANTDESK_VAR_DIR": str(tmp_path), "WARRANTDESK_KEK": base64.b64encode(bytes(32)).decode()}

    result = manage("init_local_keys", env=env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"WARRANTDESK_SIGNING_KEY_FILE={tmp_path / 'operator-signing-key.pem'}"]
    assert not (tmp_path / "kek").exists()
    assert mode(tmp_path / "operator-signing-key.pem") == 0o600


def test_other_commands_refuse_to_start_while_a_named_key_file_is_missing(tmp_path):
    missing = tmp_path / "nowhere" / "kek"

    result = manage("check", env={"WARRANTDESK_VAR_DIR": str(tmp_path), "WARRANTDESK_KEK_FILE": str(missing)})

    assert result.returncode != 0
    assert f"(warrantdesk.E001) WARRANTDESK_KEK_FILE names {missing}, which does not exist." in result.stderr
    assert "init_local_keys" in result.stderr
