import pytest
from pydantic import Field

from semcom_ota.config import ConfigError, StrictModel, load_yaml, validate_config


class Radio(StrictModel):
    sample_rate_hz: float = Field(1e6, gt=0)
    gain_db: float = Field(0.0, ge=0, le=47)


class Profile(StrictModel):
    name: str
    radio: Radio = Radio()


def test_unknown_key_is_rejected_with_its_path(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text("name: hackrf\nradio:\n  sample_rate_hz: 8e6\n  gian_db: 3\n")
    with pytest.raises(ConfigError) as err:
        load_yaml(p, Profile)
    msg = str(err.value)
    assert str(p) in msg and "radio.gian_db" in msg and "unknown key" in msg


def test_out_of_range_value_names_key_value_and_expectation():
    with pytest.raises(ConfigError) as err:
        validate_config(Profile, {"name": "x", "radio": {"gain_db": 60}}, "profile.yaml")
    msg = str(err.value)
    assert "radio.gain_db = 60" in msg and "less than or equal to 47" in msg


def test_missing_key_and_non_mapping(tmp_path):
    with pytest.raises(ConfigError, match="name: required key is missing"):
        validate_config(Profile, {}, "p")
    p = tmp_path / "list.yaml"
    p.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_yaml(p, Profile)


def test_unsafe_yaml_is_not_executed(tmp_path):
    p = tmp_path / "evil.yaml"
    p.write_text("name: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_yaml(p, Profile)


def test_valid_config_round_trip(tmp_path):
    p = tmp_path / "ok.yaml"
    p.write_text("name: b210\nradio: {sample_rate_hz: 1.0e7, gain_db: 20}\n")
    prof = load_yaml(p, Profile)
    assert prof.radio.sample_rate_hz == 1e7 and prof.radio.gain_db == 20


def test_missing_file():
    with pytest.raises(ConfigError, match="not found"):
        load_yaml("/nonexistent/x.yaml", Profile)
