"""Settings: one message naming every problem; secrets never shown."""

from __future__ import annotations

import logging

import pytest

from lc_analytics import ConfigError, Secret, Settings
from lc_analytics.settings import MASK, install_log_masking, log_masking_scope

ACCOUNT = "0123456789abcdef0123456789abcdef"
TOKEN = "cf-token-SUPERSECRET-123"
R2_SECRET = "r2-secret-TOPSECRET-456"


def test_defaults_and_derived_endpoint():
    s = Settings.from_env({"CLOUDFLARE_ACCOUNT_ID": ACCOUNT, "CLOUDFLARE_API_TOKEN": TOKEN},
                          env_file=None, require=["stream"])
    assert s.api_base_url == "https://api.cloudflare.com/client/v4"
    assert s.r2_endpoint_url == f"https://{ACCOUNT}.r2.cloudflarestorage.com"
    assert str(s.db_path) == "data/lc_analytics.duckdb"
    assert s.r2_bucket_name is None
    assert s.api_token.reveal() == TOKEN


def test_stream_token_name_wins_over_generic_name():
    s = Settings.from_env({"CLOUDFLARE_ACCOUNT_ID": ACCOUNT, "CLOUDFLARE_API_TOKEN": "generic",
                           "CLOUDFLARE_STREAM_API_TOKEN": TOKEN}, env_file=None)
    assert s.api_token.reveal() == TOKEN


def test_every_problem_is_named_in_one_message():
    env = {
        "CLOUDFLARE_ACCOUNT_ID": "not-an-id",
        "CLOUDFLARE_API_BASE_URL": "ftp://example.com",
        "R2_ENDPOINT_URL": "nope",
        "R2_BUCKET_NAME": "Bad_Bucket",
        "R2_SECRET_ACCESS_KEY": R2_SECRET,
    }
    with pytest.raises(ConfigError) as err:
        Settings.from_env(env, env_file=None, require=["stream", "r2"])
    text = str(err.value)
    for name in ("CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_API_BASE_URL", "R2_ENDPOINT_URL",
                 "R2_BUCKET_NAME", "CLOUDFLARE_STREAM_API_TOKEN", "R2_ACCESS_KEY_ID"):
        assert name in text, name
    assert len(err.value.problems) == 6
    assert R2_SECRET not in text


def test_a_token_with_whitespace_is_reported_without_being_printed():
    with pytest.raises(ConfigError) as err:
        Settings.from_env({"CLOUDFLARE_API_TOKEN": TOKEN + " x"}, env_file=None)
    assert "CLOUDFLARE_API_TOKEN contains whitespace" in str(err.value)
    assert TOKEN not in str(err.value) and TOKEN not in repr(err.value)


def test_secrets_are_masked_in_repr_str_and_format():
    s = Settings.from_env({"CLOUDFLARE_API_TOKEN": TOKEN, "R2_SECRET_ACCESS_KEY": R2_SECRET,
                           "R2_ACCESS_KEY_ID": "AKID"}, env_file=None)
    for text in (repr(s), str(s), f"{s}", f"{s.api_token}", str(s.r2_secret_access_key)):
        assert TOKEN not in text and R2_SECRET not in text
    assert MASK in repr(s)
    assert s.secrets() == [TOKEN, R2_SECRET, "AKID"]  # the key id is masked too
    with pytest.raises(TypeError):
        import pickle
        pickle.dumps(Secret(TOKEN))


def test_env_file_is_read_and_environment_wins(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(f"CLOUDFLARE_ACCOUNT_ID={ACCOUNT}\nCLOUDFLARE_API_TOKEN=from-file\n"
                        "LC_ANALYTICS_DB=/tmp/x.duckdb\n")
    s = Settings.from_env({"CLOUDFLARE_API_TOKEN": TOKEN}, env_file=env_file)
    assert s.account_id == ACCOUNT
    assert s.api_token.reveal() == TOKEN
    assert str(s.db_path) == "/tmp/x.duckdb"


def test_log_lines_are_masked(caplog):
    logger = logging.getLogger("lc_analytics.test_masking")
    install_log_masking([TOKEN], logger)
    with caplog.at_level(logging.INFO, logger="lc_analytics.test_masking"):
        logger.info("calling with Authorization: Bearer %s", TOKEN)
    assert TOKEN not in caplog.text
    assert f"Bearer {MASK}" in caplog.text


def test_unknown_require_group_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown settings group"):
        Settings.from_env({}, env_file=None, require=["stram"])


def test_log_masking_is_replaced_not_piled_up(caplog):
    logger = logging.getLogger("lc_analytics.test_masking_replaced")
    stale = logging.NullHandler()  # a handler that got the earlier command's filter
    logger.addHandler(stale)
    with log_masking_scope():
        install_log_masking(["x"], logger)      # an earlier command's (odd) secret
    logger.removeHandler(stale)
    install_log_masking(["s3cr3t-Tok"], logger)  # this command's settings
    assert sum(type(f).__name__ == "_MaskingFilter" for f in logger.filters) == 1
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "/__sandbox s3cr3t-Tok", None, None)
    assert stale.filter(record) and record.getMessage() == f"/__sandbox {MASK}"
    with caplog.at_level(logging.INFO, logger=logger.name):
        logger.info("GET /__sandbox/advance with s3cr3t-Tok")
    assert caplog.messages == [f"GET /__sandbox/advance with {MASK}"]
