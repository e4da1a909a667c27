"""Settings from the environment: defaults, and errors that name the variable."""

from __future__ import annotations

import pytest

from inference.config import ConfigError, Settings, default_buckets


def test_it_reads_defaults_with_only_a_model_uri():
    settings = Settings.from_env({"MODEL_URI": "gs://bucket/pets/3"})
    assert settings.model_uri == "gs://bucket/pets/3"
    assert (settings.model_name, settings.model_version, settings.port) == ("model", "1", 8080)
    assert settings.max_batch_size == 32
    assert settings.batch_buckets == (1, 2, 4, 8, 16, 32)
    assert settings.intra_op_threads >= 1


def test_it_reads_every_knob():
    settings = Settings.from_env(
        {
            "MODEL_URI": "/models/pets",
            "MODEL_NAME": "pets",
            "MODEL_VERSION": "2026.11-b",
            "PORT": "9000",
            "MAX_BATCH_SIZE": "16",
            "BATCH_TIMEOUT_MS": "2.5",
            "BATCH_BUCKETS": "1,4,16",
            "MAX_BODY_BYTES": "2048",
            "DRAIN_GRACE_SECONDS": "0",
            "SHUTDOWN_TIMEOUT_SECONDS": "9",
            "CLASS_NAMES": "cat, not cat",
            "WARMUP": "false",
        }
    )
    assert settings.model_version == "2026.11-b"
    assert (settings.port, settings.max_batch_size, settings.batch_timeout_ms) == (9000, 16, 2.5)
    assert settings.batch_buckets == (1, 4, 16)
    assert settings.class_names == ("cat", "not cat")
    assert settings.warmup is False


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "MODEL_URI is required"),
        ({"PORT": "http"}, "PORT must be an integer, got 'http'"),
        ({"PORT": "70000"}, "PORT must be at most 65535"),
        ({"MAX_BATCH_SIZE": "0"}, "MAX_BATCH_SIZE must be at least 1"),
        ({"BATCH_TIMEOUT_MS": "-1"}, "BATCH_TIMEOUT_MS must be at least 0"),
        ({"BATCH_TIMEOUT_MS": "nan"}, "BATCH_TIMEOUT_MS must be finite"),
        ({"BATCH_BUCKETS": "1,2,4"}, "BATCH_BUCKETS must end at MAX_BATCH_SIZE (32)"),
        ({"BATCH_BUCKETS": "a,b"}, "BATCH_BUCKETS must be comma-separated integers"),
        ({"MODEL_NAME": "pets/v2"}, "MODEL_NAME must be 1-63 letters"),
        ({"MODEL_VERSION": "v 2"}, "MODEL_VERSION must be 1-63 letters"),
        ({"WARMUP": "maybe"}, "WARMUP must be true or false"),
        ({"CLASS_NAMES": "a,,b"}, "CLASS_NAMES must be distinct"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR"),
    ],
)
def test_it_rejects_a_bad_setting_naming_the_variable(env, message):
    base = {} if env == {} else {"MODEL_URI": "/m"}
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({**base, **env})
    assert message in str(caught.value)


def test_default_buckets_are_powers_of_two_ending_at_the_maximum():
    assert default_buckets(32) == (1, 2, 4, 8, 16, 32)
    assert default_buckets(24) == (1, 2, 4, 8, 16, 24)
    assert default_buckets(1) == (1,)


def test_settings_refuse_buckets_that_do_not_end_at_the_maximum_batch():
    with pytest.raises(ConfigError, match="must end at MAX_BATCH_SIZE"):
        Settings(model_uri="/m", max_batch_size=8, batch_buckets=(1, 2, 4))
