from pathlib import Path

import pytest

from store_assistant.config import DEFAULT_LLM, load_settings
from store_assistant.errors import ConfigError


def test_defaults_are_the_embedded_offline_setup() -> None:
    settings = load_settings(env={})
    assert settings.llm == DEFAULT_LLM == "local/qwen2.5-coder-0.5b"  # the ladder's pick
    assert settings.qdrant_url is None
    assert settings.qdrant_location == Path("data") / "qdrant"
    assert settings.threads >= 1


def test_environment_overrides_and_converts_types() -> None:
    settings = load_settings(env={"STORE_ASSISTANT_LLM": "ollama/llama3.2",
                                  "STORE_ASSISTANT_THREADS": "1",
                                  "STORE_ASSISTANT_TEMPERATURE": "0.7",
                                  "STORE_ASSISTANT_QDRANT_URL": "http://qdrant:6333",
                                  "STORE_ASSISTANT_DATA_DIR": "/srv/store"})
    assert settings.llm == "ollama/llama3.2"
    assert settings.threads == 1 and settings.temperature == 0.7
    assert settings.qdrant_url == "http://qdrant:6333"
    assert settings.qdrant_location == Path("/srv/store/qdrant")


def test_toml_file_then_env_then_overrides(tmp_path: Path) -> None:
    config = tmp_path / "custom.toml"
    config.write_text('llm = "openai/gpt-4o-mini"\nmax_tokens = 100\nthreads = 3\n'
                      '[local_models]\ntuned = "/models/tuned.gguf"\n')
    env = {"STORE_ASSISTANT_CONFIG": str(config), "STORE_ASSISTANT_MAX_TOKENS": "200"}
    settings = load_settings({"threads": 4}, env=env)
    assert settings.llm == "openai/gpt-4o-mini"  # from the file
    assert settings.max_tokens == 200  # env beats the file
    assert settings.threads == 4  # explicit override beats both
    assert settings.local_models == {"tuned": "/models/tuned.gguf"}


def test_default_toml_in_working_directory_is_read(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "store_assistant.toml").write_text('history_turns = 2\n')
    assert load_settings(env={}).history_turns == 2


@pytest.mark.parametrize("env, fix", [
    ({"STORE_ASSISTANT_LMM": "x"}, "Did you mean STORE_ASSISTANT_LLM"),
    ({"STORE_ASSISTANT_THREADS": "two"}, "must be a whole number"),
    ({"STORE_ASSISTANT_THREADS": "0"}, "out of range; use 1..64"),
    ({"STORE_ASSISTANT_TEMPERATURE": "nan?"}, "must be a number"),
    ({"STORE_ASSISTANT_QDRANT_URL": "qdrant:6333"}, "must start with http://"),
    ({"STORE_ASSISTANT_LLM": "my model"}, "is not a model string"),
    ({"STORE_ASSISTANT_CONFIG": "/nonexistent/sa.toml"}, "no file is there"),
    ({"STORE_ASSISTANT_DATA_DIR": "~0"}, "home folder of '0', and there is no such user"),
    ({"STORE_ASSISTANT_MODELS_DIR": "~nobody-here/m"}, "Write the full path"),
])
def test_wrong_settings_name_the_fix(env: dict, fix: str) -> None:
    with pytest.raises(ConfigError, match=fix):
        load_settings(env=env)


def test_bad_toml_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("llm = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(env={"STORE_ASSISTANT_CONFIG": str(bad)})
    bad.write_text('modle = "x"\n')
    with pytest.raises(ConfigError, match="Did you mean model|Unknown setting 'modle'"):
        load_settings(env={"STORE_ASSISTANT_CONFIG": str(bad)})


def test_replace_validates() -> None:
    settings = load_settings(env={})
    assert settings.replace(max_tokens=10).max_tokens == 10
    with pytest.raises(ConfigError):
        settings.replace(qdrant_url="ftp://x")
