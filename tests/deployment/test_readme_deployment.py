"""README "Deployment", held to the files it names (issue #14: the section was followed word by word on a
fresh clone, as root on Debian 12, and what did not work was fixed; these tests keep it from drifting).

Every `manage.py` line of its shell blocks names an existing command and options of its parser, every make target and
every file under deploy/ and scripts/ it names exists, the systemd units run exactly the commands the
"Without systemd" variant starts (same user, directory, environment file, writable directories, and a
SIGTERM to the main process alone), gunicorn.conf.py sets only settings gunicorn knows, and
`eval "$(scripts/s3.sh env)"` hands the S3 variables to the commands started after it."""

import configparser
import os
import re
import runpy
import shlex
import socket
import subprocess
from pathlib import Path

from django.conf import settings
from django.core.management import get_commands, load_command_class

ROOT = Path(settings.BASE_DIR)
CHECKOUT = "/srv/warrantdesk/"
ENV_FILE = "/etc/warrantdesk/warrantdesk.env"
UNITS = ("warrantdesk-web.service", "warrantdesk-worker@.service", "warrantdesk-periodic.service")


def section() -> str:
    text = (ROOT / "README.md").read_text()
    return text[text.index("\n## Deployment\n") :]


def shell_lines() -> list[str]:
    """The lines of the section's ```sh blocks, indentation and comments removed, continuations joined."""
    lines = []
    for block in re.findall(r"```sh\n(.*?)\n\s*```", section(), flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+#.*$", "", line.strip())
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


def commands(line: str) -> list[list[str]]:
    """The simple commands of a shell line (split at ;, &&, || and a trailing &)."""
    words = shlex.split(line, posix=True)
    found, current = [], []
    for word in words:
        if word in (";", "&&", "||", "&"):
            found.append(current)
            current = []
        elif word.endswith(";") and word != ";":
            current.append(word[:-1])
            found.append(current)
            current = []
        else:
            current.append(word)
    found.append(current)
    return [command for command in found if command]


def manage_calls() -> list[list[str]]:
    calls = []
    for line in shell_lines():
        for command in commands(line):
            if "manage.py" in command:
                calls.append(command[command.index("manage.py") + 1 :])
    return calls


def no_systemd_starts() -> list[list[str]]:
    """The four commands of step 7's "Without systemd" block, as setpriv runs them."""
    text = section()
    start = text.index("Without systemd (a container")
    block = re.search(r"```sh\n(.*?)\n\s*```", text[start:], flags=re.S)
    assert block, 'step 7 has no "Without systemd" block'
    return [shlex.split(line.strip().removesuffix("&")) for line in block[1].splitlines() if line.strip().endswith("&")]


def unit(name: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read(ROOT / "deploy" / name)
    return parser["Service"]


def test_every_manage_py_line_names_a_command_and_its_options():
    available = get_commands()
    calls = manage_calls()
    assert len(calls) >= 8, calls  # migrate, collectstatic, check, create_staff, task_worker, run_periodic...
    for argv in calls:
        name, arguments = argv[0], argv[1:]
        assert name in available, f"README Deployment runs `manage.py {name}`, which does not exist"
        parser = load_command_class(available[name], name).create_parser("manage.py", name)
        # The option strings, not a whole parse: the test settings' task backend is not the database one
        # that task_worker's --backend default is checked against.
        options = parser._option_string_actions
        for word in arguments:
            if word.startswith("--"):
                assert word.split("=")[0] in options, f"README Deployment: `manage.py {name}` has no option {word}"


def test_every_make_target_and_file_it_names_exists():
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, flags=re.M))
    for line in shell_lines():
        for command in commands(line):
            if command[0] == "make" or (command[0].startswith("PYTHON=") and command[1:2] == ["make"]):
                named = [word for word in command[command.index("make") + 1 :] if "=" not in word]
                assert set(named) <= targets, f"README Deployment: `{line}` names a target the Makefile lacks"
    for path in sorted({found.rstrip(".") for found in re.findall(r"\b((?:deploy|scripts)/[\w.@-]+)", section())}):
        assert (ROOT / path).exists(), f"README Deployment names {path}, which does not exist"
        if (path.startswith("scripts/") and path.endswith(".sh")) or path == "deploy/with-env":
            assert os.access(ROOT / path, os.X_OK), f"{path} is not executable"


def test_the_units_run_what_the_no_systemd_variant_starts():
    starts = no_systemd_starts()
    assert len(starts) == 4
    # setpriv, not runuser: runuser stays the parent and answers SIGTERM with SIGKILL two seconds later.
    prefix = [
        "setpriv",
        "--reuid=warrantdesk",
        "--regid=warrantdesk",
        "--init-groups",
        "--reset-env",
        "deploy/with-env",
    ]
    for words in starts:
        assert words[: len(prefix)] == prefix, words
    expected = sorted(
        [re.sub(r"^\$\(hostname\)-\d+$", "%H-%i", word) for word in words[len(prefix) :]] for words in starts
    )
    # The worker unit is started twice (@1, @2) in the README: compare the distinct commands.
    expected_distinct = [command for index, command in enumerate(expected) if command not in expected[:index]]
    ran = []
    for name in UNITS:
        service = unit(name)
        assert service["User"] == service["Group"] == "warrantdesk", name
        assert service["WorkingDirectory"] == CHECKOUT.rstrip("/"), name
        assert service["EnvironmentFile"] == ENV_FILE, name
        assert service["ReadWritePaths"].split() == ["/var/lib/warrantdesk", "/var/lib/warrantdesk-keys"], name
        # SIGTERM to the main process alone: an export's PDF processes must not get it (the task in hand
        # finishes), gunicorn's master stops its workers itself.
        assert service["KillMode"] == "mixed", name
        ran.append([word.removeprefix(CHECKOUT) for word in shlex.split(service["ExecStart"])])
    assert sorted(ran) == expected_distinct
    text = section()
    assert f"deploy/warrantdesk.env.example {ENV_FILE}" in text
    assert "install -d -o warrantdesk -g warrantdesk -m 0700 /var/lib/warrantdesk /var/lib/warrantdesk-keys" in text


def test_gunicorn_conf_sets_only_known_settings_and_no_control_socket():
    from gunicorn.config import Config

    names = {name for name in runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py")) if not name.startswith("_")}
    names.discard("os")
    known = set(Config().settings)
    assert names <= known, f"not gunicorn settings: {sorted(names - known)}"
    # Its default place is $HOME/.gunicorn: the service user's home is the shared, backed-up data directory.
    assert runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))["control_socket_disable"] is True


def test_s3_env_is_exported_to_what_the_shell_starts_next(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {**os.environ, "S3_DIR": str(tmp_path), "S3_PORT": str(port)}
    script = str(ROOT / "scripts" / "s3.sh")
    subprocess.run([script, "start"], env=environment, check=True, capture_output=True, timeout=60)
    try:
        seen = subprocess.run(
            ["bash", "-c", f'eval "$({shlex.quote(script)} env)"; printenv WARRANTDESK_STORAGE AWS_S3_ENDPOINT_URL'],
            env=environment,
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.split()
    finally:
        subprocess.run([script, "stop"], env=environment, capture_output=True, timeout=30)
    assert seen == ["s3", f"http://127.0.0.1:{port}"]
