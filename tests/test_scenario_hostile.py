"""Hostile scenario documents: alias bombs, deep nesting, duplicate keys, odd encodings, numbers
that are not finite or not numbers, dates out of range, empty files, broken parents, and sweeps of
fields that cannot be varied. Each is refused with exit 2, naming the file, the field and the
value, with no traceback and nothing written.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, get_args, get_origin

import pydantic
import pytest

from salessim import Scenario, ScenarioError, load_scenario
from salessim.cli import main
from salessim.experiments import parse_vary, sweep_scenarios
from salessim.scenario import (
    MAX_YAML_BYTES,
    MAX_YAML_DEPTH,
    MAX_YAML_NODES,
    load_yaml_text,
    safe_repr,
)

SALESSIM = Path(sys.executable).parent / "salessim"


def _bomb(levels: int = 9, width: int = 9, field: str = "organisation:\n  managers: *a{last}\n") -> str:
    """A "billion laughs" document: ``width ** levels`` scalars from a few hundred bytes."""
    lines = ["x:", "  a0: &a0 [" + ", ".join(['"lol"'] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n" + field.format(last=levels - 1)


def _listing(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture
def cli_in(tmp_path, capsys, monkeypatch):
    """Run ``salessim …`` in-process in an empty working directory; returns (code, stdout, stderr).

    Asserts what every refusal must hold: no traceback and nothing written in the working directory.
    """
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("SALESSIM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SALESSIM_NO_PROGRESS", "1")

    def run(*args: str | Path, expect: int = 2) -> str:
        before = _listing(work)
        capsys.readouterr()
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        assert code == expect, f"exit {code}, expected {expect}\nstdout:\n{out}\nstderr:\n{err}"
        assert "Traceback" not in err and "internal error" not in err, err
        if expect == 2:
            assert _listing(work) == before, "a refused input wrote files"
            assert not (tmp_path / "cache").exists()
        return err

    run.work = work  # type: ignore[attr-defined]
    return run


def _write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------
# Aliases, nesting and duplicate keys are refused before validation
# --------------------------------------------------------------------------------------------


def test_alias_bomb_in_a_typed_field_is_refused_quickly_by_the_cli(tmp_path):
    """9 ** 9 ≈ 387 million values from 500 bytes: it used to hang with memory growing past 1.7 GB."""
    f = _write(tmp_path, "bomb.yaml", _bomb())
    out = tmp_path / "out"
    t0 = time.perf_counter()
    p = subprocess.run(
        [str(SALESSIM), "simulate", str(f), "-r", "1", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "SALESSIM_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert time.perf_counter() - t0 < 30
    assert p.returncode == 2, p.stderr
    assert "bomb.yaml" in p.stderr and "alias" in p.stderr and f"{MAX_YAML_NODES:,}" in p.stderr
    assert "Traceback" not in p.stderr
    assert not out.exists() and not (tmp_path / "cache").exists()


def test_alias_expansion_is_counted_before_anything_is_built():
    t0 = time.perf_counter()
    with pytest.raises(ScenarioError) as e:
        load_yaml_text(_bomb(levels=40, width=2), "bomb.yaml")
    assert time.perf_counter() - t0 < 2
    msg = str(e.value)
    assert msg.startswith("bomb.yaml: line ") and "aliases" in msg and f"{MAX_YAML_NODES:,}" in msg


def test_aliases_that_stay_small_are_fine():
    data = load_yaml_text("base: &b {share: 0.5}\nnew_logo: *b\nexpansion: *b\n", "ok.yaml")
    assert data["new_logo"] == data["expansion"] == {"share": 0.5}
    # just under the limit loads, just over is refused
    n = MAX_YAML_NODES // 2 - 10
    items = ", ".join("1" for _ in range(n))
    assert len(load_yaml_text(f"a: &a [{items}]\nb: *a\n", "big.yaml")["b"]) == n
    items = ", ".join("1" for _ in range(n + 20))
    with pytest.raises(ScenarioError, match="aliases"):
        load_yaml_text(f"a: &a [{items}]\nb: *a\n", "big.yaml")


def test_too_many_values_are_refused_while_parsing():
    t0 = time.perf_counter()
    with pytest.raises(ScenarioError) as e:
        load_yaml_text("x: [" + ", ".join("1" for _ in range(300_000)) + "]\n", "long.yaml")
    assert time.perf_counter() - t0 < 10
    assert f"holds more than {MAX_YAML_NODES:,} values" in str(e.value) and "aliases" not in str(e.value)


def test_recursive_alias_is_refused():
    with pytest.raises(ScenarioError) as e:
        load_yaml_text("a: &loop [1, *loop]\n", "loop.yaml")
    assert "loop.yaml" in str(e.value) and "itself" in str(e.value)


@pytest.mark.parametrize(
    "text",
    [
        "name: " + "[" * 3000 + "]" * 3000 + "\n",
        "a: " + "{b: " * 3000 + "1" + "}" * 3000 + "\n",
        "".join(" " * i + f"k{i}:\n" for i in range(1200)) + " " * 1200 + "x\n",
    ],
    ids=["flow-sequences", "flow-mappings", "block-mappings"],
)
def test_nesting_3000_deep_is_refused(tmp_path, cli_in, text):
    """It used to crash with RecursionError (exit 1). (Block mappings: 1,200 levels, to stay
    under the file size limit.)"""
    f = _write(tmp_path, "deep.yaml", text)
    err = cli_in("simulate", f, "-r", "1", "--out", "out")
    assert "deep.yaml" in err and f"nested deeper than {MAX_YAML_DEPTH}" in err and ", column " in err


def test_aliases_that_nest_too_deep_are_refused():
    # each alias wraps the last: shallow as written, 100 levels once expanded
    lines = ["a0: &a0 [1]"] + [f"a{i}: &a{i} [*a{i - 1}]" for i in range(1, 100)]
    with pytest.raises(ScenarioError, match=f"nested deeper than {MAX_YAML_DEPTH}"):
        load_yaml_text("\n".join(lines) + "\n", "chain.yaml")


def test_duplicate_keys_are_refused_naming_key_and_lines(tmp_path, cli_in):
    f = _write(
        tmp_path, "dup.yaml", "extends: baseline\norganisation:\n  managers: 3\n  span: 4\n  managers: 30\n"
    )
    err = cli_in("plan", f)
    assert "dup.yaml" in err and "line 5" in err and "duplicate key 'managers'" in err
    assert "line 3" in err


def test_top_level_duplicate_key_is_refused():
    with pytest.raises(ScenarioError, match="duplicate key 'name'"):
        load_yaml_text("name: x\nname: y\n", "dup.yaml")


def test_merge_keys_may_be_overridden():
    data = load_yaml_text(
        "base: &b {share: 0.5, logit_offset: 0.1}\nnew: {<<: *b, share: 0.4}\n", "merge.yaml"
    )
    assert data["new"] == {"share": 0.4, "logit_offset": 0.1}


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("start_date: 2026-02-30\n", 1, "2026-02-30"),
        ("organisation:\n  managers: " + "9" * 5000 + "\n", 2, "99999"),
    ],
    ids=["impossible-date", "5000-digit-integer"],
)
def test_unreadable_scalars_name_their_line(tmp_path, cli_in, text, line, what):
    """A date that does not exist and an integer too long to convert used to crash (exit 1)."""
    f = _write(tmp_path, "odd.yaml", text)
    err = cli_in("plan", f)
    assert "odd.yaml" in err and f"line {line}" in err and what in err
    assert len(err) < 1000


def test_file_size_is_limited(tmp_path, cli_in):
    f = _write(tmp_path, "huge.yaml", "description: '" + "x" * (MAX_YAML_BYTES + 10) + "'\n")
    err = cli_in("plan", f)
    assert "huge.yaml" in err and "larger than" in err


def test_load_yaml_text_limits_its_length():
    with pytest.raises(ScenarioError, match="larger than"):
        load_yaml_text("x" * (MAX_YAML_BYTES + 1), "params")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_named_pipe_is_refused_without_waiting(tmp_path, cli_in):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    err = cli_in("plan", fifo)
    assert "pipe.yaml" in err and "not a regular file" in err


# --------------------------------------------------------------------------------------------
# Encodings
# --------------------------------------------------------------------------------------------

SMALL = "extends: baseline\nname: café\norganisation: {managers: 2, span: 3}\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-32"])
def test_unicode_with_a_byte_order_mark_is_read(tmp_path, encoding):
    f = _write(tmp_path, "enc.yaml", SMALL.encode(encoding))
    sc = load_scenario(f)
    assert sc.name == "café" and sc.n_reps == 6


def test_latin1_is_refused_naming_byte_and_line(tmp_path, cli_in):
    f = _write(tmp_path, "latin.yaml", SMALL.encode("latin-1"))
    err = cli_in("plan", f)
    assert "latin.yaml" in err and "not UTF-8" in err and "0xe9" in err and "line 2" in err


@pytest.mark.parametrize(
    "raw",
    [bytes(range(256)) * 4, b"\x00\x01\x02name: x\n", SMALL.encode("utf-16-le")],
    ids=["all-bytes", "nul", "utf-16-without-bom"],
)
def test_binary_is_refused(tmp_path, cli_in, raw):
    f = _write(tmp_path, "blob.yaml", raw)
    err = cli_in("plan", f)
    assert "blob.yaml" in err and ("binary" in err or "not UTF-8" in err)


# --------------------------------------------------------------------------------------------
# Error messages never build the repr of a huge value
# --------------------------------------------------------------------------------------------


def test_safe_repr_is_bounded():
    row = list(range(1000))
    values: list[Any] = [
        list(range(10_000_000)),
        "x" * 10_000_000,
        dict.fromkeys(range(100_000), row),
        [[[[[[row]]]]]] * 100_000,
    ]
    t0 = time.perf_counter()
    for value in values:
        assert len(safe_repr(value)) <= 100
    assert time.perf_counter() - t0 < 0.1
    assert "digits" in safe_repr(2**100_000)  # repr() of this raises ValueError
    assert safe_repr(1.5) == "1.5" and safe_repr("weekly") == "'weekly'"


def test_huge_value_in_a_typed_field_gives_a_short_message():
    value = [1] * 1_000_000
    t0 = time.perf_counter()
    with pytest.raises(ScenarioError) as e:
        load_scenario({"organisation": {"managers": value}})
    assert time.perf_counter() - t0 < 2
    msg = str(e.value)
    assert "organisation.managers" in msg and len(msg) < 500


def test_huge_binary_integer_gives_a_message(tmp_path, cli_in):
    """``0b`` integers are not limited to 4,300 digits; repr() of one is, and used to crash."""
    f = _write(tmp_path, "bits.yaml", "organisation:\n  managers: 0b" + "1" * 20_000 + "\n")
    err = cli_in("plan", f)
    assert "bits.yaml" in err and "organisation.managers" in err and "digits" in err


def test_many_problems_are_capped():
    stages = [{"name": f"s{i}", "conversion": 2.0, "mean_days": -1} for i in range(8)]
    goals = [{"metric": "revenue", "weight": 5.0, "colour": i} for i in range(10)]
    with pytest.raises(ScenarioError) as e:
        load_scenario({"funnel": {"stages": stages}, "goals": goals})
    msg = str(e.value)
    assert "more problems" in msg and msg.count("\n  field") == 20


# --------------------------------------------------------------------------------------------
# Numbers: finite, bounded where a bound makes sense, and never a boolean
# --------------------------------------------------------------------------------------------


def _leaves(model: type[pydantic.BaseModel], prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, pydantic.BaseModel):
            out += _leaves(ann, f"{prefix}{name}.")
        else:
            out.append((f"{prefix}{name}", ann))
    return out


def _kinds(ann: Any) -> set[Any]:
    if get_origin(ann) is None:
        return {ann}
    return set().union(*(_kinds(a) for a in get_args(ann)))


_BASE = Scenario().to_dict()
NUMERIC = [p for p, ann in _leaves(Scenario) if _kinds(ann) & {int, float}]
FLOATS = [p for p, ann in _leaves(Scenario) if float in _kinds(ann)]
BOOLS = [p for p, ann in _leaves(Scenario) if _kinds(ann) == {bool}]
# numeric fields inside lists and mappings, at their first item
NESTED_NUMERIC = [
    "funnel.stages.0.conversion",
    "funnel.stages.0.mean_days",
    "funnel.stages.0.cv",
    "funnel.products.A.share",
    "funnel.products.A.amount_median",
    "funnel.products.A.amount_sigma",
    "funnel.products.A.logit_offset",
    "funnel.segments.new_logo.amount_factor",
    "funnel.segments.new_logo.share",
    "goals.items.0.weight",
    "goals.items.0.target",
]


def test_the_schema_walk_found_the_fields():
    assert "simulation.warmup_days" in NUMERIC and "crm.adoption" in FLOATS
    assert "goals.interwoven" in BOOLS and len(NUMERIC) > 50


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan], ids=["inf", "-inf", "nan"])
def test_every_number_refuses_non_finite_values(value):
    for path in NUMERIC + NESTED_NUMERIC:
        with pytest.raises(ScenarioError) as e:
            Scenario().replace(**{path: value})
        assert f"`{path}`" in str(e.value), path


def test_every_number_refuses_a_boolean():
    for path in NUMERIC + NESTED_NUMERIC:
        with pytest.raises(ScenarioError) as e:
            Scenario().replace(**{path: True})
        assert f"`{path}` = True" in str(e.value) and "boolean" in str(e.value), path


def test_every_flag_refuses_anything_but_a_boolean():
    for path in BOOLS:
        for value in (1, "yes", 0.0):
            with pytest.raises(ScenarioError) as e:
                Scenario().replace(**{path: value})
            assert f"`{path}`" in str(e.value) and "true or false" in str(e.value), (path, value)
        assert Scenario().replace(**{path: True}) is not None


def test_warmup_days_true_is_refused_by_the_cli(tmp_path, cli_in):
    """``warmup_days: true`` used to run as a warm-up of 1 day."""
    f = _write(tmp_path, "warm.yaml", "extends: baseline\nsimulation:\n  warmup_days: true\n")
    err = cli_in("simulate", f, "-r", "1", "--out", "out")
    assert "warm.yaml" in err and "`simulation.warmup_days` = True" in err


NON_FINITE = [
    (
        "amount-median-inf",
        "funnel:\n  products:\n    A: {amount_median: .inf}\n",
        "funnel.products.A.amount_median",
        "inf",
    ),
    (
        "amount-median-1e308",
        "funnel:\n  products:\n    A: {amount_median: 1e308}\n",
        "funnel.products.A.amount_median",
        "'1e308'",
    ),
    (
        "amount-factor-inf",
        "funnel:\n  segments:\n    new_logo: {amount_factor: .inf}\n",
        "funnel.segments.new_logo.amount_factor",
        "inf",
    ),
    (
        "amount-factor-1e308",
        "funnel:\n  segments:\n    new_logo: {amount_factor: 1.0e+308}\n",
        "funnel.segments.new_logo.amount_factor",
        "1e+308",
    ),
    (
        "stage-days-inf",
        "funnel:\n  stages:\n    - {name: a, conversion: 0.5, mean_days: .inf}\n",
        "funnel.stages.0.mean_days",
        "inf",
    ),
    (
        "stage-days-1e308",
        "funnel:\n  stages:\n    - {name: a, conversion: 0.5, mean_days: 1e308}\n",
        "funnel.stages.0.mean_days",
        "'1e308'",
    ),
    ("quota-inf", "organisation: {quota: .inf}\n", "organisation.quota", "inf"),
    ("quota-1e308", "organisation: {quota: 1e308}\n", "organisation.quota", "'1e308'"),
    (
        "target-1e308",
        "goals:\n  - {metric: revenue, weight: 1.0, target: 1e308}\n",
        "goals.items.0.target",
        "'1e308'",
    ),
    ("nan", "reps: {skill_sd: .nan}\n", "reps.skill_sd", "nan"),
]


@pytest.mark.parametrize(
    ("body", "path", "value"), [c[1:] for c in NON_FINITE], ids=[c[0] for c in NON_FINITE]
)
def test_non_finite_and_absurd_numbers_are_refused(tmp_path, cli_in, body, path, value):
    """These used to run and write revenue $0 and NaN win rates (or crash with OverflowError).
    (YAML reads ``1e308`` without a dot as text, which the schema then reads as a number.)"""
    f = _write(tmp_path, "numbers.yaml", "extends: baseline\n" + body)
    err = cli_in("simulate", f, "-r", "1", "--out", "out")
    assert "numbers.yaml" in err and f"`{path}` = {value}" in err


def test_largest_allowed_numbers_still_plan(tmp_path, cli_in):
    f = _write(
        tmp_path,
        "large.yaml",
        "extends: baseline\norganisation: {quota: 1.0e+9}\n"
        "funnel:\n  segments:\n    new_logo: {amount_factor: 100}\n"
        "  products:\n    A: {amount_median: 1.0e+9, amount_sigma: 3}\n"
        "  stages:\n    - {name: a, conversion: 0.5, mean_days: 3650, cv: 3}\n",
    )
    cli_in("plan", f, expect=0)


# --------------------------------------------------------------------------------------------
# Dates, empty documents, broken parents
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [("9999-12-31", "9999-12-31"), ("1900-01-01", "1900-01-01"), ("0", "0"), ("1700000000", "1700000000")],
)
def test_start_date_out_of_range_is_refused(tmp_path, cli_in, value, shown):
    f = _write(tmp_path, "date.yaml", f"extends: baseline\nstart_date: {value}\n")
    err = cli_in("plan", f)
    assert "date.yaml" in err and f"`start_date` = {shown}" in err


@pytest.mark.parametrize("value", ["1990-01-01", "2100-01-01"])
def test_start_date_in_range_is_accepted(value):
    sc = Scenario().replace(start_date=value)
    assert sc.start_date == dt.date.fromisoformat(value)


@pytest.mark.parametrize(
    "text",
    ["", "\n\n", "# only a comment\n", "---\n", "\ufeff"],
    ids=["empty", "blank", "comment", "document-marker", "bom"],
)
def test_empty_scenario_is_refused_not_run_as_the_baseline(tmp_path, cli_in, text):
    f = _write(tmp_path, "empty.yaml", text)
    err = cli_in("simulate", f, "-r", "1", "--out", "out")
    assert "empty.yaml" in err and "empty" in err and "extends: baseline" in err


def test_explicit_empty_mapping_still_means_all_defaults(tmp_path):
    sc = load_scenario(_write(tmp_path, "defaults.yaml", "{}\n"))
    assert sc.name == "defaults" and sc.hash == Scenario().hash


def test_child_of_an_invalid_parent_names_both(tmp_path, cli_in):
    _write(tmp_path, "parent.yaml", "extends: baseline\norganisation: {managers: 0}\n")
    child = _write(tmp_path, "child.yaml", "extends: parent\nname: kid\n")
    err = cli_in("plan", child)
    assert "child.yaml" in err and "field `extends` = 'parent'" in err
    assert "parent.yaml" in err and "`organisation.managers` = 0" in err
    assert err.index("child.yaml") < err.index("parent.yaml")


def test_child_of_an_empty_parent_names_both(tmp_path):
    _write(tmp_path, "parent.yaml", "")
    child = _write(tmp_path, "child.yaml", "extends: parent\n")
    with pytest.raises(ScenarioError) as e:
        load_scenario(child)
    msg = str(e.value)
    assert "child.yaml" in msg and "parent.yaml" in msg and "empty" in msg


def test_extends_with_an_unusable_path_is_an_error(tmp_path, cli_in):
    child = _write(tmp_path, "child.yaml", "extends: " + "x" * 5000 + "\n")
    err = cli_in("plan", child)
    assert "child.yaml" in err and "no such scenario" in err and len(err) < 2000


@pytest.mark.parametrize(
    "name", ["x" * 5000, "x" * 5000 + ".yaml", "d/" * 3000 + "x"], ids=["library-name", "file-name", "path"]
)
def test_a_scenario_name_too_long_for_the_file_system(cli_in, name):
    """It used to end in OSError "File name too long" (exit 1)."""
    err = cli_in("plan", name)
    assert "cannot be a scenario file name" in err and len(err) < 500


def test_extends_with_a_huge_value_gives_a_short_message():
    with pytest.raises(ScenarioError) as e:
        load_scenario({"extends": list(range(1_000_000))})
    assert "extends" in str(e.value) and len(str(e.value)) < 300


# --------------------------------------------------------------------------------------------
# Sweeps of fields that cannot be varied
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["name", "extends", "description"])
def test_vary_of_a_field_that_cannot_be_varied(name):
    with pytest.raises(ScenarioError) as e:
        parse_vary(f"{name}=a,b")
    msg = str(e.value)
    assert f"--vary '{name}=a,b'" in msg and f"`{name}` cannot be varied" in msg
    with pytest.raises(ScenarioError, match=f"`{name}` cannot be varied"):
        sweep_scenarios("baseline", {name: ["a", "b"]})


def test_vary_name_is_explained_by_the_cli(cli_in):
    """It used to say "no field ['name']" although the scenario has a name."""
    err = cli_in("sweep", "baseline", "--vary", "name=a,b", "-r", "1", "--out", "out")
    assert "`name` cannot be varied" in err and "no field" not in err


def test_vary_of_a_section_or_unknown_field_is_explained():
    with pytest.raises(ScenarioError, match="`coaching` is a section"):
        sweep_scenarios("baseline", {"coaching": [1, 2]})
    with pytest.raises(ScenarioError, match=r"`coaching\.hours`: unknown key"):
        sweep_scenarios("baseline", {"coaching.hours": [1, 2]})


def test_vary_of_non_finite_values_is_refused():
    with pytest.raises(ScenarioError, match=r"coaching\.joint_call_hours_per_week"):
        sweep_scenarios("baseline", dict([parse_vary("coaching.joint_call_hours_per_week=1,inf")]))


# --------------------------------------------------------------------------------------------
# Names are printable text
# --------------------------------------------------------------------------------------------


def test_unprintable_name_is_refused_not_crashing_the_output(tmp_path):
    """A lone surrogate (``"\\ud800"`` in YAML) used to crash printing the plan (exit 1)."""
    f = _write(tmp_path, "sur.yaml", 'extends: baseline\nname: "a\\ud800b"\n')
    p = subprocess.run(
        [str(SALESSIM), "plan", str(f)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "SALESSIM_CACHE_DIR": str(tmp_path / "c")},
    )
    assert p.returncode == 2, p.stderr
    assert "sur.yaml" in p.stderr and "`name` = 'a\\ud800b'" in p.stderr and "control character" in p.stderr


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ('name: "red\\e[31m"\n', "name"),
        ('name: "a\\0b"\n', "name"),
        ('description: "one\\ntwo\\e]0;title\\a"\n', "description"),
        (
            'funnel:\n  stages:\n    - {name: "evil\\u202Etxt", conversion: 0.5, mean_days: 9}\n',
            "funnel.stages.0.name",
        ),
        (
            'funnel:\n  products:\n    "B\\e[2J": {share: 1.0, amount_median: 9000}\ngoals:\n'
            "  - {metric: revenue, weight: 1.0}\n",
            "funnel.products",
        ),
        ("name: " + "n" * 201 + "\n", "name"),
    ],
    ids=["escape", "nul", "description-osc", "bidi-stage", "product-key", "long-name"],
)
def test_control_characters_in_names_are_refused(tmp_path, cli_in, body, path):
    """Terminal escape sequences in a name used to reach the terminal as they are."""
    f = _write(tmp_path, "names.yaml", "extends: baseline\n" + body)
    err = cli_in("plan", f)
    assert "names.yaml" in err and f"`{path}`" in err
    assert "\x1b" not in err and "\x00" not in err


def test_descriptions_may_have_several_lines_and_names_any_script():
    sc = Scenario().replace(name="Vertrieb – café ✓ 販売", description="first line\n\tsecond line")
    assert sc.name == "Vertrieb – café ✓ 販売" and "\t" in sc.description
