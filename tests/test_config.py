"""`load_settings`: the `[tool.toolkit]` table of a project's pyproject.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.config import Settings, Source, load_settings
from toolkit.errors import ConfigError, ToolkitError


def write_project(folder: Path, toml: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pyproject.toml").write_text(toml, encoding="utf-8")
    return folder


def settings_for(tmp_path: Path, body: str = "", **kwargs) -> Settings:
    return load_settings(write_project(tmp_path, "[tool.toolkit]\n" + body), **kwargs)


def config_error(tmp_path: Path, toml: str) -> ConfigError:
    write_project(tmp_path, toml)
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    return info.value


# --- defaults and values ---------------------------------------------------------------------------


def test_empty_table_gives_defaults_relative_to_project(tmp_path):
    settings = settings_for(tmp_path)
    root = tmp_path.resolve()
    assert settings.project_dir == root
    assert settings.warehouse == root / "warehouse.duckdb"
    assert settings.models == root / "models"
    assert settings.macros == root / "macros"
    assert settings.target == root / "target"
    assert settings.schema == "main"
    assert settings.sources == {}
    assert settings.vars == {}
    assert settings.lock_timeout == 10.0


def test_every_key_is_read(tmp_path):
    settings = settings_for(
        tmp_path,
        'warehouse = "data/wh.duckdb"\n'
        'models = "sql/models"\n'
        'macros = "sql/macros"\n'
        'target = "build"\n'
        'schema = "analytics"\n'
        "lock_timeout = 2.5\n"
        "[tool.toolkit.vars]\n"
        'start = "2013-01-01"\n'
        "limit = 3\n"
        "[tool.toolkit.sources]\n"
        'raw = ["flights"]\n',
    )
    root = tmp_path.resolve()
    assert settings.warehouse == root / "data" / "wh.duckdb"
    assert settings.models == root / "sql" / "models"
    assert settings.macros == root / "sql" / "macros"
    assert settings.target == root / "build"
    assert settings.schema == "analytics"
    assert settings.lock_timeout == 2.5
    assert settings.vars == {"start": "2013-01-01", "limit": 3}
    assert settings.sources == {"raw": Source(name="raw", schema="raw", tables=("flights",))}


def test_integer_lock_timeout_becomes_float(tmp_path):
    settings = settings_for(tmp_path, "lock_timeout = 3\n")
    assert settings.lock_timeout == 3.0
    assert isinstance(settings.lock_timeout, float)


def test_relative_paths_resolve_against_project_folder_not_cwd(tmp_path, monkeypatch):
    project = write_project(tmp_path / "proj", '[tool.toolkit]\nmodels = "m"\nwarehouse = "../shared/wh.duckdb"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    settings = load_settings(Path("../proj"))
    assert settings.project_dir == project.resolve()
    assert settings.models == project.resolve() / "m"
    assert settings.warehouse.resolve() == (tmp_path / "shared" / "wh.duckdb").resolve()
    assert settings.models.is_absolute()


def test_absolute_path_setting_is_kept(tmp_path):
    target = (tmp_path / "abs_target").resolve()
    settings = settings_for(tmp_path / "p", f'target = "{target.as_posix()}"\n')
    assert settings.target == target


def test_warehouse_argument_overrides_file_setting(tmp_path, monkeypatch):
    write_project(tmp_path / "p", '[tool.toolkit]\nwarehouse = "in_file.duckdb"\n')
    monkeypatch.chdir(tmp_path)
    settings = load_settings(tmp_path / "p", warehouse=Path("other/wh.duckdb"))
    assert settings.warehouse == (tmp_path / "other" / "wh.duckdb").resolve()


def test_example_warehouse_sits_beside_warehouse(tmp_path):
    settings = settings_for(tmp_path, 'warehouse = "wh.duckdb"\n')
    assert settings.example_warehouse == tmp_path.resolve() / "wh.duckdb.example"


def test_other_tool_tables_are_ignored(tmp_path):
    write_project(tmp_path, '[tool.ruff]\nline-length = 100\n[tool.toolkit]\nschema = "s"\n')
    assert load_settings(tmp_path).schema == "s"


# --- sources ---------------------------------------------------------------------------------------


def test_source_as_list_uses_its_name_as_schema(tmp_path):
    settings = settings_for(tmp_path, '[tool.toolkit.sources]\nraw = ["a", "b"]\n')
    assert settings.sources["raw"] == Source(name="raw", schema="raw", tables=("a", "b"))


def test_source_as_table_with_schema_and_tables(tmp_path):
    settings = settings_for(tmp_path, '[tool.toolkit.sources]\nraw = { schema = "s", tables = ["x", "y"] }\n')
    assert settings.sources["raw"] == Source(name="raw", schema="s", tables=("x", "y"))


def test_source_table_without_schema_defaults_to_name(tmp_path):
    settings = settings_for(tmp_path, '[tool.toolkit.sources]\nraw = { tables = ["x"] }\n')
    assert settings.sources["raw"].schema == "raw"


def test_several_sources_in_both_forms(tmp_path):
    settings = settings_for(
        tmp_path, '[tool.toolkit.sources]\nraw = ["a"]\nlake = { schema = "bronze", tables = ["b"] }\n'
    )
    assert set(settings.sources) == {"raw", "lake"}
    assert settings.sources["lake"].schema == "bronze"
    assert settings.sources["raw"].tables == ("a",)


# --- errors ----------------------------------------------------------------------------------------


def test_missing_pyproject_is_config_error(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    assert "pyproject.toml" in str(info.value)
    assert str(tmp_path.resolve()) in str(info.value)


def test_config_error_is_toolkit_error(tmp_path):
    with pytest.raises(ToolkitError):
        load_settings(tmp_path)


def test_no_toolkit_table_is_config_error(tmp_path):
    error = config_error(tmp_path, '[project]\nname = "x"\n')
    assert "[tool.toolkit]" in str(error)
    assert "pyproject.toml" in str(error)
    assert error.location is not None and error.location.path == tmp_path.resolve() / "pyproject.toml"


def test_toolkit_key_that_is_not_a_table_is_config_error(tmp_path):
    error = config_error(tmp_path, '[tool]\ntoolkit = "yes"\n')
    assert "[tool.toolkit]" in str(error)


def test_invalid_toml_is_config_error_naming_file(tmp_path):
    error = config_error(tmp_path, "[tool.toolkit\nschema = \n")
    assert "not valid TOML" in str(error)
    assert "pyproject.toml" in str(error)


def test_unknown_key_suggests_the_closest(tmp_path):
    error = config_error(tmp_path, '[tool.toolkit]\nwarehose = "w.duckdb"\n')
    text = str(error)
    assert "warehose" in text
    assert 'did you mean "warehouse"' in text
    assert "pyproject.toml" in text


def test_unknown_key_far_from_any_has_no_suggestion_but_lists_known(tmp_path):
    error = config_error(tmp_path, "[tool.toolkit]\nzzzzzz = 1\n")
    assert "did you mean" not in error.message
    assert "lock_timeout" in (error.hint or "")


@pytest.mark.parametrize(
    ("line", "key", "expected"),
    [
        ("schema = 3", "schema", "a string"),
        ("lock_timeout = true", "lock_timeout", "a number"),
        ('lock_timeout = "5"', "lock_timeout", "a number"),
        ("models = []", "models", "a string"),
        ("warehouse = false", "warehouse", "a string"),
        ('vars = "x"', "vars", "a table"),
        ("sources = 1", "sources", "a table"),
    ],
)
def test_wrong_type_names_key_and_expected_type(tmp_path, line, key, expected):
    error = config_error(tmp_path, f"[tool.toolkit]\n{line}\n")
    text = str(error)
    assert f"[tool.toolkit].{key}" in text
    assert expected in text
    assert "pyproject.toml" in text


def test_source_that_is_a_string_is_refused(tmp_path):
    error = config_error(tmp_path, '[tool.toolkit]\n[tool.toolkit.sources]\nraw = "flights"\n')
    assert "[tool.toolkit.sources].raw" in str(error)
    assert "pyproject.toml" in str(error)


def test_source_with_unknown_key_suggests_closest(tmp_path):
    error = config_error(tmp_path, '[tool.toolkit.sources]\nraw = { schema = "s", tabels = ["x"] }\n')
    text = str(error)
    assert "tabels" in text
    assert 'did you mean "tables"' in text
    assert "[tool.toolkit.sources].raw" in text
    assert "pyproject.toml" in text


def test_source_with_non_string_table_is_refused(tmp_path):
    error = config_error(tmp_path, "[tool.toolkit.sources]\nraw = [1, 2]\n")
    assert "[tool.toolkit.sources].raw" in str(error)
    assert "strings" in str(error)


def test_source_with_non_string_schema_is_refused(tmp_path):
    error = config_error(tmp_path, '[tool.toolkit.sources]\nraw = { schema = 1, tables = ["x"] }\n')
    assert "[tool.toolkit.sources].raw" in str(error)


def test_source_tables_that_is_a_string_is_refused(tmp_path):
    # A string is iterable: unchecked, `tables = "ab"` silently becomes the tables ("a", "b").
    error = config_error(tmp_path, '[tool.toolkit.sources]\nraw = { schema = "s", tables = "ab" }\n')
    assert "[tool.toolkit.sources].raw" in str(error)


def test_source_tables_that_is_a_number_is_config_error(tmp_path):
    error = config_error(tmp_path, '[tool.toolkit.sources]\nraw = { schema = "s", tables = 3 }\n')
    assert "[tool.toolkit.sources].raw" in str(error)
