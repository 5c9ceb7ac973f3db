"""The product documents itself: docs/ is current, complete, and the only documentation cited.

The scenario and CLI references are generated from the code; a committed page that differs from
what ``salessim docs`` would write fails here, so CI catches a stale page.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from salessim import docs
from salessim.cli import build_parser, main
from salessim.scenario import Scenario, assumptions_register

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
# built from parts so that this file does not cite what it forbids
FORBIDDEN = ("DES" + "IGN", "STY" + "LE.md", "STY" + "LE §")
EIGHT_DRIVERS = (
    "1. Goal design",
    "2. Tactical prescription",
    "3. Pipeline and stage metrics",
    "4. CRM data",
    "5. Manager training and selection",
    "6. Coaching and joint calls",
    "7. Review cadence",
    "8. Culture",
)
#: The scenario section(s) of each driver: every field in them must be named in its guide section.
DRIVER_FIELDS = {
    "1": ("goals",),
    "2": ("prescription",),
    "3": ("metrics",),
    "4": ("crm",),
    "5": ("managers",),
    "6": ("coaching",),
    "7": ("reviews",),
    "8": ("culture",),
}


def _sources() -> list[Path]:
    """The README, the package, the notebooks, the tests, the scenario library and the docs."""
    files = [
        REPO / "README.md",
        *sorted((REPO / "salessim").rglob("*.py")),
        *sorted((REPO / "notebooks").glob("*.ipynb")),
        *sorted((REPO / "tests").glob("*.py")),
        *sorted((REPO / "data" / "scenarios").glob("*.yaml")),
        *sorted(DOCS.glob("*.md")),
    ]
    return [f for f in files if f.is_file()]


def _slug(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = page.read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    return {_slug(m) for m in re.findall(r"^#{1,6} (.+)$", text, flags=re.MULTILINE)}


def _section(text: str, heading: str) -> str:
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else None]


# ------------------------------------------------------------------------------------------
# generated pages
# ------------------------------------------------------------------------------------------
def test_committed_generated_pages_are_current() -> None:
    stale = docs.check("all", DOCS)
    assert not stale, f"out of date: {[p.name for p in stale]}; run `salessim docs` and commit the pages"


def test_check_fails_on_a_stale_or_missing_page_and_passes_once_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["docs", "--check", "--out", str(tmp_path)]) == 1  # missing
    err = capsys.readouterr().err
    assert "scenarios.md is out of date" in err and "cli.md is out of date" in err
    assert not any(tmp_path.iterdir()), "--check must write nothing"

    assert main(["docs", "--out", str(tmp_path)]) == 0
    assert main(["docs", "--check", "--out", str(tmp_path)]) == 0
    assert "up to date" in capsys.readouterr().out

    page = tmp_path / "scenarios.md"
    page.write_text(page.read_text().replace("`0.7`", "`0.8`", 1))
    assert main(["docs", "scenario-reference", "--check", "--out", str(tmp_path)]) == 1
    assert "scenarios.md is out of date" in capsys.readouterr().err
    assert main(["docs", "cli-reference", "--check", "--out", str(tmp_path)]) == 0


def test_python_module_entry_point_writes_the_same_pages(tmp_path: Path) -> None:
    assert docs.main(["--out", str(tmp_path)]) == 0
    for page in docs.PAGES.values():
        assert (tmp_path / page.filename).read_text() == (DOCS / page.filename).read_text()


def test_scenario_reference_names_every_field_with_its_default_range_and_source() -> None:
    text = (DOCS / "scenarios.md").read_text(encoding="utf-8")
    for row in assumptions_register():
        line = next((ln for ln in text.splitlines() if ln.startswith(f"| `{row['parameter']}` |")), None)
        assert line is not None, f"{row['parameter']} missing from docs/scenarios.md"
        assert row["kind"] in line
        assert row["source"].replace("|", "\\|") in line
    # fields of list items and mapping values, with their descriptions
    for path in (
        "funnel.stages[i].conversion",
        "funnel.segments.<segment>.share",
        "funnel.products.<product>.amount_median",
        "goals.items[i].weight",
    ):
        assert f"| `{path}` |" in text, path
    # a range and a default, as the schema has them
    rows = {ln.split(" | ")[0]: ln for ln in text.splitlines() if ln.startswith("| `")}
    assert "| `0.7` | (0, 1] |" in rows["| `crm.adoption`"]
    assert "| `365` | [0, 1,095] |" in rows["| `simulation.warmup_days`"]
    assert "(0, 1)" in rows["| `funnel.stages[i].conversion`"]
    assert "1–8 items" in rows["| `funnel.stages`"]
    assert "one of: `annual`, `semiannual`, `quarterly`, `monthly`" in rows["| `reviews.cadence`"]


def test_default_blocks_are_valid_scenarios_with_the_default_values() -> None:
    import yaml

    text = (DOCS / "scenarios.md").read_text(encoding="utf-8")
    blocks = re.findall(r"as a scenario would write it:\n\n```yaml\n(.*?)```", text, flags=re.DOTALL)
    assert len(blocks) == 4  # stages, segments, products, goal items
    for block in blocks:
        data = yaml.safe_load(block)
        assert Scenario.model_validate(data) == Scenario(), block


def test_every_schema_field_has_a_source_or_a_description() -> None:
    text = (DOCS / "scenarios.md").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            assert cells[-1], f"no source, assumption or description: {cells[0]}"
    assert Scenario.model_fields["name"].description


def test_cli_reference_names_every_command_option_and_environment_variable() -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    parser = build_parser()

    def walk(p: argparse.ArgumentParser, prefix: str) -> None:
        for name, _help, sub in docs._subcommands(p):
            assert f"## {prefix}{name}\n" in text or f"### {prefix}{name}\n" in text, name
            for action in sub._actions:
                if isinstance(action, argparse._HelpAction):
                    continue  # every command has --help, named once at the top
                for option in action.option_strings:
                    assert f"`{option}" in text, f"{prefix}{name} {option}"
            walk(sub, f"{prefix}{name} ")

    walk(parser, "salessim ")
    for code in ("| 0 |", "| 1 |", "| 2 |"):
        assert code in text
    # every environment variable the package reads is documented
    read = set()
    for f in (REPO / "salessim").rglob("*.py"):
        read |= set(re.findall(r"environ\.get\(\s*[\"']([A-Z_]+)[\"']", f.read_text()))
    read.discard("XDG_CACHE_HOME")  # the standard fallback, named under SALESSIM_CACHE_DIR
    assert read, "no environment variables found: the search is broken"
    for var in read | {
        "SALESSIM_CACHE_DIR",
        "SALESSIM_CACHE_MAX_BYTES",
        "SALESSIM_DASK_TIMEOUT",
        "DASK_SCHEDULER_ADDRESS",
        "SALESSIM_QUICK",
        "SALESSIM_NO_PROGRESS",
        "SALESSIM_DEBUG",
    }:
        assert f"| `{var}` |" in text, var


# ------------------------------------------------------------------------------------------
# the written pages
# ------------------------------------------------------------------------------------------
def test_model_guide_names_all_eight_drivers_and_their_parameters() -> None:
    text = (DOCS / "model.md").read_text(encoding="utf-8")
    fields = [row["parameter"] for row in assumptions_register()]
    for heading in EIGHT_DRIVERS:
        section = _section(text, heading)
        for part in ("**What it means.**", "**Mechanism**", "**Not modelled.**"):
            assert part in section, f"{heading}: no {part}"
        for prefix in DRIVER_FIELDS[heading[0]]:
            mine = [f for f in fields if f == prefix or f.startswith(prefix + ".")]
            assert mine, prefix
            for f in mine:
                assert f"`{f}`" in section, f"{heading} does not name {f}"
    for name in ("reps", "periods", "deals"):
        assert f"**`{name}`**" in text


def test_model_guide_lists_every_output_column_and_validation_row() -> None:
    from salessim.results import DEAL_COLUMNS, PERIOD_COLUMNS, REP_COLUMNS
    from salessim.validation import validation_table

    text = (DOCS / "model.md").read_text(encoding="utf-8")
    outputs = _section(text, "Outputs")
    for col in {*REP_COLUMNS, *PERIOD_COLUMNS, *DEAL_COLUMNS}:
        assert f"`{col}`" in outputs or col in ("scenario", "replication", "seed"), col
    assert "`scenario`, `replication` and `seed`" in outputs
    validation = _section(text, "Validation").replace("`", "")
    import inspect

    quantities = re.findall(r'add\(\s*f?"([^"]+)"', inspect.getsource(validation_table))
    assert len(quantities) >= 14
    for q in quantities:
        if "{band}" in q:
            for band in ("top 20%", "bottom 20%"):
                assert q.replace("{band}", band) in validation, q
        else:
            assert q in validation, q


def test_glossary_defines_the_terms_reports_use() -> None:
    text = (DOCS / "glossary.md").read_text(encoding="utf-8")
    terms = re.findall(r"^\*\*(.+?)\*\* —", text, flags=re.MULTILINE)
    assert terms == sorted(terms, key=str.lower), "glossary not in alphabetical order"
    for term in (
        "Quota",
        "Attainment",
        "Composite attainment",
        "Full-period rep",
        "Pipeline coverage",
        "Win rate",
        "Cycle time",
        "Detection lag",
        "Forecast error",
        "Joint call",
        "Ramp",
        "Backfill",
        "Common random numbers (CRN)",
        "Paired difference",
        "P(better)",
        "Replication",
        "Warm-up",
    ):
        assert term in terms, term


def test_docs_index_lists_every_page_and_readme_links_to_docs() -> None:
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    for page in DOCS.glob("*.md"):
        if page.name != "README.md":
            assert f"]({page.name})" in index, page.name
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for page in ("docs/README.md", "docs/model.md", "docs/scenarios.md", "docs/cli.md", "docs/glossary.md"):
        assert f"]({page}" in readme, page


# ------------------------------------------------------------------------------------------
# citations
# ------------------------------------------------------------------------------------------
def test_nothing_cites_documents_outside_the_repository() -> None:
    found = []
    for f in _sources():
        for i, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            found += [f"{f.relative_to(REPO)}:{i}: {line.strip()[:80]}" for word in FORBIDDEN if word in line]
    assert not found, "\n".join(found)


def test_every_docs_link_and_anchor_resolves() -> None:
    cited = re.compile(r"(?:\]\(|\b)((?:docs/)?[\w]+\.md)(?:#([\w\-]+))?")
    bad = []
    for f in _sources():
        text = f.read_text(encoding="utf-8")
        for m in cited.finditer(text):
            name, anchor = m.group(1), m.group(2)
            base = f.parent if f.parent == DOCS and not name.startswith("docs/") else REPO
            target = base / name
            if not name.startswith("docs/") and f.parent != DOCS:
                continue  # README.md, CHANGELOG.md … at the top: not a docs citation
            if not target.is_file():
                bad.append(f"{f.relative_to(REPO)}: {name} does not exist")
            elif anchor and anchor not in _anchors(target):
                bad.append(f"{f.relative_to(REPO)}: {name}#{anchor} names no heading")
    assert not bad, "\n".join(bad)
