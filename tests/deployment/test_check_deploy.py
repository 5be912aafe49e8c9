"""``manage.py check --deploy`` with the production environment of deploy/warrantdesk.env.example."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def production_env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "WARRANTDESK_", "SECURE_"))}
    env.update(
        WARRANTDESK_PRODUCTION="1",
        DEBUG="0",
        WARRANTDESK_VAR_DIR=str(tmp_path / "var"),
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="warrantdesk.example.org",
        CSRF_TRUSTED_ORIGINS="https://warrantdesk.example.org",
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
    """The findings of the check, without drf-spectacular's schema-naming notes (W001: the API schema's
    quality, not the deployment's; issue 14's fuzzing point owns them)."""
    lines = (result.stdout + result.stderr).splitlines()
    return [line for line in lines if line.startswith("?:") and "drf_spectacular.W001" not in line]


def test_check_deploy_is_clean_with_the_production_environment(tmp_path):
    result = run_check(production_env(tmp_path))

    assert deployment_findings(result) == [], result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_check_deploy_names_what_a_development_environment_lacks(tmp_path):
    env = production_env(tmp_path)
    del env["WARRANTDESK_PRODUCTION"]

    result = run_check(env)

    findings = " ".join(deployment_findings(result))
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in findings
