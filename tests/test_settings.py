"""The settings object is where every component reads its configuration: the shop's order service
and session key included, under the environment names they always had."""

from pathlib import Path

from gitgoods.settings import Settings
from storefront.web.config import web_config


def test_the_shop_reads_its_order_service_and_session_key_from_the_settings(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("GITGOODS_ORDERS_URL", "http://orders.internal:5002")
    monkeypatch.setenv("GITGOODS_WEB_SECRET_KEY", "from-the-environment")
    monkeypatch.setenv("GITGOODS_WEB_PORT", "9090")
    settings = Settings(env="aws", home=tmp_path)
    assert (settings.orders_url, settings.web_secret_key, settings.web_port) == (
        "http://orders.internal:5002", "from-the-environment", 9090,
    )
    # web_config follows the settings object it is given, not the process environment
    given = settings.model_copy(update={"orders_url": "http://elsewhere:1", "web_secret_key": "given"})
    config = web_config(given)
    assert (config["ORDERS_URL"], config["SECRET_KEY"]) == ("http://elsewhere:1", "given")


def test_a_secret_falls_back_to_its_generated_file_only_on_a_local_stack(tmp_path: Path):
    (tmp_path / "secrets").mkdir()
    for name, content in (("web-session-key", "web-file"), ("portal-session-key", "portal-file"),
                          ("internal-token", "token-file"), ("sim-clock-key", "clock-file")):
        (tmp_path / "secrets" / name).write_text(content + "\n")
    local = Settings(env="local", home=tmp_path)
    assert (local.resolved_web_secret_key(), local.resolved_portal_secret_key(),
            local.resolved_internal_token(), local.resolved_sim_clock_key()) == (
        "web-file", "portal-file", "token-file", "clock-file",
    )
    assert web_config(local)["SECRET_KEY"] == "web-file"
    explicit = Settings(env="local", home=tmp_path, web_secret_key="set", sim_clock_key="set")
    assert (explicit.resolved_web_secret_key(), explicit.resolved_sim_clock_key()) == ("set", "set")
    remote = Settings(env="aws", home=tmp_path, sim_clock_key="set")
    assert (remote.resolved_web_secret_key(), remote.resolved_portal_secret_key(),
            remote.resolved_internal_token(), remote.resolved_sim_clock_key()) == (None, None, None, None)


def test_the_folders_of_the_home(tmp_path: Path):
    settings = Settings(home=tmp_path)
    assert settings.state_dir == tmp_path / "state"
    assert settings.log_dir == tmp_path / "logs"
    assert settings.run_dir == tmp_path / "run"
    assert settings.secrets_dir == tmp_path / "secrets"
    assert settings.dagster_home == tmp_path / "dagster"
    assert settings.quicksight_state_dir == tmp_path / "state" / "quicksight"
    assert settings.model_copy(update={"home": tmp_path / "other"}).state_dir == tmp_path / "other" / "state"
