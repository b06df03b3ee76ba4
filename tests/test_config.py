"""Settings come from the environment once; a wrong value names its variable."""

from __future__ import annotations

import pytest

from app.config import ConfigError, Settings


def test_defaults_and_overrides_from_the_environment():
    settings = Settings.from_env({"STUDIO_PORT": "5051", "STUDIO_LOG_FORMAT": "JSON"})
    assert (settings.port, settings.log_format, settings.log_level) == (5051, "json", "INFO")
    assert Settings.from_env({}).database_url is None


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("STUDIO_PORT", "50x0"),
        ("STUDIO_PORT", "-1"),
        ("STUDIO_PORT", "²"),
        ("STUDIO_MAX_BODY_BYTES", "32M"),
        ("STUDIO_POOL_SIZE", ""),
        ("STUDIO_METRICS_PUBLIC", "maybe"),
        ("STUDIO_LOG_LEVEL", "loud"),
        ("STUDIO_LOG_FORMAT", "xml"),
    ],
)
def test_a_wrong_value_is_an_error_naming_the_variable(variable, value):
    with pytest.raises(ConfigError, match=f"^{variable}="):
        Settings.from_env({variable: value})


def test_every_setting_names_its_variable_and_says_what_it_is():
    from dataclasses import fields

    for item in fields(Settings):
        assert item.metadata["env"].isupper() and item.metadata["help"]
