"""Test fixtures: a DynamoDB Local and a moto server per test session, on free loopback ports,
with a fresh data folder and table prefix, so tests never touch a running `make up` stack."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitgoods import aws
from gitgoods.contract.tables import ensure_tables
from gitgoods.local.stack import DYNAMODB_LOCAL_DIR
from gitgoods.settings import Settings
from tests.helpers import missing_prerequisite

for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "GITGOODS_ENV", "GITGOODS_HOME"):
    os.environ.pop(var, None)
# The pipeline's first day is a setting (make up sets it from the simulation): the tests' partitions
# begin 90 days before the day the suite starts, the window their data is made in.
os.environ["GITGOODS_PIPELINE_START"] = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=90)).isoformat()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_dynamodb_local(data_dir: Path, port: int, log: Path) -> subprocess.Popen:
    if shutil.which("java") is None:
        missing_prerequisite("Java 17+ is not installed: DynamoDB Local cannot run")
    if not (DYNAMODB_LOCAL_DIR / "DynamoDBLocal.jar").exists():
        missing_prerequisite("DynamoDB Local is not fetched (run `make tools`)")
    data_dir.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [
            "java",
            "-Xmx384m",
            f"-Djava.library.path={DYNAMODB_LOCAL_DIR / 'DynamoDBLocal_lib'}",
            "-jar",
            str(DYNAMODB_LOCAL_DIR / "DynamoDBLocal.jar"),
            "-sharedDb",
            "-dbPath",
            str(data_dir),
            "-port",
            str(port),
            "-disableTelemetry",
        ],
        stdout=open(log, "ab"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=data_dir,
    )


def wait_for_dynamodb(settings: Settings, timeout: float = 60) -> None:
    ddb = aws.client("dynamodb", settings, connect_timeout=1, read_timeout=2, retries={"total_max_attempts": 1})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            ddb.list_tables(Limit=1)
            return
        except Exception:
            time.sleep(0.2)
    raise RuntimeError("DynamoDB Local did not start")


@pytest.fixture(scope="session")
def stack_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gitgoods-home")


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """An in-process moto server (KMS and the other non-DynamoDB APIs), with the local QuickSight's
    asset APIs installed on a temporary state folder (`installed_state_dir()` names it)."""
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    from gitgoods.local.moto_server import restore_or_create_keys
    from gitgoods.local.quicksight import install

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    restore_or_create_keys(Path(os.environ.get("TMPDIR", "/tmp")) / f"kms-{uuid.uuid4().hex}.json", "us-east-1")
    install(tmp_path_factory.mktemp("quicksight-state"))
    server.start()
    yield port
    server.stop()


@pytest.fixture(scope="session")
def settings(stack_home: Path, moto_server: int) -> Iterator[Settings]:
    port = free_port()
    proc = start_dynamodb_local(stack_home / "dynamodb", port, stack_home / "dynamodb.log")
    s = Settings(
        env="local",
        home=stack_home,
        dynamodb_port=port,
        moto_port=moto_server,
        table_prefix=f"t{uuid.uuid4().hex[:8]}-",
        internal_token="test-internal-token",
        sim_clock_key="test-sim-clock-key",
        rate_limit_orders="100000 per second",
        rate_limit_reads="100000 per second",
        catalog_url="http://127.0.0.1:9",  # no catalog: stock notices are dropped
    )
    try:
        wait_for_dynamodb(s)
        ensure_tables(s)
        yield s
    finally:
        proc.terminate()
        proc.wait(10)


class LiveServer:
    """A Flask app served by a threaded werkzeug server on a free loopback port."""

    def __init__(self, app):  # type: ignore[no-untyped-def]
        from werkzeug.serving import make_server

        self.port = free_port()
        self.server = make_server("127.0.0.1", self.port, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()


@pytest.fixture(scope="session")
def catalog_data(settings: Settings):  # type: ignore[no-untyped-def]
    from storefront.common.pii import PiiProtector
    from storefront.simulate import seed

    pii = PiiProtector(
        aws.client("kms", settings),
        settings.pii_key_alias,
        settings.lookup_hmac_key_alias,
        settings.pseudonym_hmac_key_alias,
    )
    catalog = seed.generate(seed=7, n_sellers=55, n_products=400)
    seed.write(aws.client("dynamodb", settings), catalog, settings.table("catalog"), settings.table("sellers"), pii)
    return catalog


@pytest.fixture()
def orders_app(settings: Settings, catalog_data):  # type: ignore[no-untyped-def]
    from storefront.orders.app import create_app

    return create_app({"TESTING": True}, settings=settings)


@pytest.fixture()
def catalog_app(settings: Settings, catalog_data):  # type: ignore[no-untyped-def]
    from storefront.catalog.app import create_app

    return create_app({"TESTING": True}, settings=settings)


@pytest.fixture()
def orders_server(orders_app) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    server = LiveServer(orders_app)
    yield server
    server.stop()
