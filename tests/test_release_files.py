"""What an adopter reads first: the licences, the citation, the version and its changelog (issue 23).

The version is written once, in ``pyproject.toml``; ``te_course.__version__``, ``CITATION.cff``
and the top entry of ``CHANGELOG.md`` must say the same, so that a class can name the release
it used.  ``CITATION.cff`` is validated against the Citation File Format's own schema
(``tests/data/``, with its source).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import re
import shutil
import tomllib
from pathlib import Path

import jsonschema
import pytest
import yaml

import te_course

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
CFF_SCHEMA = ROOT / "tests" / "data" / "citation-file-format-1.2.0.schema.json"
# "## 0.6.0 (unreleased): a title" or "## 0.5.0 (2026-12-01)" or "## 1.0.0 (2027-02-01): a title"
ENTRY = re.compile(r"^## (\d+\.\d+\.\d+) \((unreleased|\d{4}-\d{2}-\d{2})\)(?:: .+)?$")


def _citation() -> dict:
    data = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    # YAML reads an unquoted date as a date; the schema (like GitHub) wants the ISO string
    return json.loads(json.dumps(data, default=lambda v: v.isoformat() if isinstance(v, dt.date) else str(v)))


def _changelog_entries() -> list[tuple[str, str]]:
    """(version, date or 'unreleased') of every entry of CHANGELOG.md, top first; raise on a malformed heading."""
    entries = []
    for line in (ROOT / "CHANGELOG.md").read_text().splitlines():
        if line.startswith("## "):
            match = ENTRY.match(line)
            assert match, f"CHANGELOG.md: {line!r} is not '## X.Y.Z (YYYY-MM-DD or unreleased): title'"
            entries.append(match.groups())
    return entries


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def test_the_package_version_is_pyprojects():
    assert te_course.__version__ == PYPROJECT["version"]
    written = [p.relative_to(ROOT) for p in (ROOT / "te_course").rglob("*.py")
               if re.search(r"""__version__\s*=\s*["']""", p.read_text())]
    assert written == [], f"the version is written in {written}; pyproject.toml is its only place"


def _paths_copy(folder: Path):
    """te_course/_paths.py loaded from a copy in ``folder/te_course``, as if that were the checkout."""
    (folder / "te_course").mkdir(parents=True)
    shutil.copy(ROOT / "te_course" / "_paths.py", folder / "te_course" / "_paths.py")
    spec = importlib.util.spec_from_file_location("paths_copy", folder / "te_course" / "_paths.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_version_bumped_in_pyproject_shows_without_reinstalling(tmp_path):
    text = (ROOT / "pyproject.toml").read_text()
    bumped = text.replace(f'version = "{PYPROJECT["version"]}"', 'version = "9.8.7"', 1)
    assert bumped != text
    (tmp_path / "checkout" / "pyproject.toml").parent.mkdir()
    (tmp_path / "checkout" / "pyproject.toml").write_text(bumped)
    assert _paths_copy(tmp_path / "checkout").package_version() == "9.8.7"
    # another project's pyproject.toml around the package is not ours: the installed metadata answers
    (tmp_path / "other" / "pyproject.toml").parent.mkdir()
    (tmp_path / "other" / "pyproject.toml").write_text('[project]\nname = "other"\nversion = "1.0"\n')
    from importlib import metadata

    try:
        installed = metadata.version("te_course")
    except metadata.PackageNotFoundError:
        installed = "0+unknown"
    assert _paths_copy(tmp_path / "other").package_version() == installed


def test_citation_is_valid_cff_and_names_this_version():
    data = _citation()
    jsonschema.validate(data, json.loads(CFF_SCHEMA.read_text()), cls=jsonschema.Draft7Validator)
    assert data["cff-version"] == "1.2.0"
    assert data["version"] == te_course.__version__, "CITATION.cff's version must be pyproject.toml's"
    assert data["preferred-citation"]["version"] == te_course.__version__
    assert set(data["license"]) == {"BSD-3-Clause", "CC-BY-4.0"}
    assert data["title"] == data["preferred-citation"]["title"]


def test_a_cff_error_is_caught_by_the_schema():
    """The check above can fail: a citation without authors, or with a misspelt key, is refused."""
    schema = json.loads(CFF_SCHEMA.read_text())
    for broken in ({k: v for k, v in _citation().items() if k != "authors"}, {**_citation(), "verison": "1"}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, schema, cls=jsonschema.Draft7Validator)


def test_the_changelog_has_one_entry_per_release_newest_first_the_top_one_this_version():
    entries = _changelog_entries()
    assert entries, "CHANGELOG.md has no entry"
    versions = [v for v, _ in entries]
    assert versions[0] == te_course.__version__, "CHANGELOG.md's top entry must be the version in pyproject.toml"
    assert versions == sorted(versions, key=_key, reverse=True) and len(set(versions)) == len(versions)
    assert all(when != "unreleased" for _, when in entries[1:]), "only the top entry may be unreleased"
    dates = [dt.date.fromisoformat(when) for _, when in entries if when != "unreleased"]
    assert dates == sorted(dates, reverse=True)


def test_a_released_version_has_the_same_date_in_the_changelog_and_the_citation():
    (_, when), data = _changelog_entries()[0], _citation()
    if when == "unreleased":
        assert "date-released" not in data, "CITATION.cff gives a date for a version CHANGELOG.md has not released"
    else:
        assert data.get("date-released") == when, "CITATION.cff's date-released must be the CHANGELOG entry's date"


def test_the_licences_are_the_texts_they_claim_to_be():
    code = (ROOT / "LICENSE").read_text()
    assert PYPROJECT["license"] == {"text": "BSD-3-Clause"}
    for clause in ("Redistribution and use in source and binary forms", "3. Neither the name of the copyright holder",
                   'THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS"'):
        assert clause in code
    content = (ROOT / "LICENSE-CONTENT.md").read_text()
    for clause in ("Attribution 4.0 International", "Section 1 – Definitions.", "Section 3 – License Conditions.",
                   "Section 8 – Interpretation."):
        assert clause in content
    # the shipped data is cited with its source where the licences say it is not ours
    for source in ("Baran and F. F. Wu", "F. Li and R. Bo"):
        assert source in content and source in (ROOT / "te_course" / "data" / "README.md").read_text()


def test_the_readme_links_the_files_an_adopter_looks_for():
    readme = (ROOT / "README.md").read_text()
    for name in ("LICENSE", "LICENSE-CONTENT.md", "CITATION.cff", "CHANGELOG.md", "CONTRIBUTING.md"):
        assert f"]({name})" in readme, f"README.md does not link {name}"
        assert (ROOT / name).is_file(), name
    assert "CC BY 4.0" in readme and "BSD-3-Clause" in readme


def test_the_book_footer_states_both_licences():
    conf = (ROOT / "book" / "conf.py").read_text()
    footer = conf[conf.index('"extra_footer"'):]
    footer = footer[:footer.index("),")]
    assert "CC BY 4.0" in footer and "BSD-3-Clause" in footer and "__version__" in footer
