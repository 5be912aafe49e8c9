"""``manage.py check --deploy`` with the production environment of deploy/warrantdesk.env.example."""

import base64
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ROOT = Path(__file__).resolve().parents[2]


ENV_EXAMPLE = ROOT / "deploy" / "warrantdesk.env.example"


def env_example() -> dict[str, str]:
    """The variables deploy/warrantdesk.env.example sets (not the commented ones)."""
    pairs = (line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines() if re.match(r"[A-Z_]+=", line))
    return {name: value.strip('"') for name, value in pairs}


def production_env(tmp_path) -> dict[str, str]:
    """deploy/warrantdesk.env.example as it stands, with this machine's paths and real secrets in files."""
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "PYTHONPATH"}}
    env.update(env_example())
    secret_dir = tmp_path / "secrets"
    secret_dir.mkdir()
    (secret_dir / "secret_key").write_text(secrets.token_urlsafe(50))
    (secret_dir / "smtp_password").write_text(secrets.token_urlsafe(16))
    (secret_dir / "kek").write_text(base64.b64encode(secrets.token_bytes(32)).decode())
    signing_key = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (secret_dir / "operator-signing-key.pem").write_bytes(signing_key)
    env.update(
        WARRANTDESK_VAR_DIR=str(tmp_path / "var"),
        STATIC_ROOT=str(tmp_path / "static"),
        WARRANTDESK_KEYRING_DIR=str(tmp_path / "keys" / "keyring"),
        SECRET_KEY_FILE=str(secret_dir / "secret_key"),
        SMTP_PASSWORD_FILE=str(secret_dir / "smtp_password"),
        WARRANTDESK_KEK_FILE=str(secret_dir / "kek"),
        WARRANTDESK_SIGNING_KEY_FILE=str(secret_dir / "operator-signing-key.pem"),
    )
    return env


def run_check(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def deployment_findings(result: subprocess.CompletedProcess) -> list[str]:
    """Every finding of the check (drf-spectacular's schema notes included: the schema names its enums
    and path parameters, so it has none)."""
    lines = (result.stdout + result.stderr).splitlines()
    return [line for line in lines if line.startswith("?:")]


def test_check_deploy_is_clean_with_the_production_environment(tmp_path):
    result = run_check(production_env(tmp_path))

    assert deployment_findings(result) == [], result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_check_deploy_names_what_a_development_environment_lacks(tmp_path):
    env = production_env(tmp_path)
    for name in ("WARRANTDESK_PRODUCTION", "SECURE_SSL_REDIRECT"):
        del env[name]

    result = run_check(env)

    findings = " ".join(deployment_findings(result))
    for check in ("security.W004", "security.W008"):
        assert check in findings


def test_the_environment_template_names_every_variable_the_settings_read():
    settings_source = (ROOT / "warrantdesk" / "settings.py").read_text()
    read = set(
        re.findall(
            r"(?:env_bool|env_int|env_list|env_secret|os\.environ\.get)\(\s*\"([A-Z][A-Z0-9_]+)\"", settings_source
        )
    )
    template = ENV_EXAMPLE.read_text()

    missing = sorted(name for name in read if not re.search(rf"^#? ?{name}(_FILE)?=", template, re.MULTILINE))

    assert read and missing == []
