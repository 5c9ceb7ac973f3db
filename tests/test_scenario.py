"""The scenario language (docs/scenarios.md): loading, inheritance, validation, the library, hashing."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pydantic
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from salessim import Scenario, ScenarioError, assumptions_register, load_scenario
from salessim.scenario import deep_merge

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "data" / "scenarios"
BASELINE_FILE = SCENARIO_DIR / "baseline.yaml"

# The library (docs/model.md#the-scenario-library), and the top-level section(s) each variant's
# driver lives in.
VARIANT_SECTIONS = {
    "goals_focused": {"goals"},
    "goals_many": {"goals"},
    "prescription": {"prescription", "metrics"},  # prescription on *with* stage metrics
    "metrics_stage": {"metrics"},
    "crm_full": {"crm"},
    "managers_trained": {"managers"},
    "coaching_none": {"coaching"},
    "coaching_high": {"coaching", "managers"},  # gap-targeted hours by *trained* managers
    "reviews_quarterly": {"reviews"},
    "reviews_monthly": {"reviews"},
}
DRIVER_SECTIONS = {"goals", "prescription", "metrics", "crm", "managers", "coaching", "reviews", "culture"}
LIBRARY = {"baseline", "best_practice", *VARIANT_SECTIONS}


def _diff_sections(a: dict, b: dict) -> set[str]:
    return {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)} - {"name", "description"}


def _message(excinfo: pytest.ExceptionInfo[ScenarioError]) -> str:
    return str(excinfo.value)


# --------------------------------------------------------------------------------------------
# Loading from a path, a library name, a mapping
# --------------------------------------------------------------------------------------------


def test_load_from_path_name_and_dict_agree():
    by_path = load_scenario(BASELINE_FILE)
    by_str_path = load_scenario(str(BASELINE_FILE))
    by_name = load_scenario("baseline")
    by_dict = load_scenario({"extends": "baseline", "name": "baseline"})
    assert isinstance(by_path, Scenario)
    assert by_path.name == by_name.name == "baseline"
    assert by_path.to_dict() == by_str_path.to_dict() == by_name.to_dict()
    assert by_dict.hash == by_path.hash
    # the file's own values arrive
    assert by_path.organisation.managers == 10 and by_path.organisation.span == 8
    assert by_path.n_reps == 80
    assert [g.metric for g in by_path.goals.items] == [
        "revenue",
        "new_logos",
        "product_revenue",
        "avg_deal_size",
    ]


def test_load_from_dict_fills_defaults_and_overrides():
    sc = load_scenario(
        {"name": "tiny", "organisation": {"managers": 3, "span": 5}, "reviews": {"cadence": "monthly"}}
    )
    assert sc.name == "tiny"
    assert (sc.organisation.managers, sc.organisation.span, sc.n_reps) == (3, 5, 15)
    assert sc.reviews.cadence == "monthly"
    defaults = Scenario()
    assert sc.organisation.quota == defaults.organisation.quota
    assert sc.reviews.threshold == defaults.reviews.threshold
    assert sc.coaching == defaults.coaching


def test_load_scenario_returns_a_scenario_unchanged():
    sc = load_scenario("baseline")
    assert load_scenario(sc) is sc


def test_goal_list_and_prescription_flag_shorthands():
    sc = load_scenario({"goals": [{"metric": "revenue", "weight": 1.0}], "prescription": True})
    assert [g.metric for g in sc.goals.items] == ["revenue"]
    assert sc.prescription.enabled is True


def test_name_defaults_to_file_stem(write_yaml):
    path = write_yaml("my_variant.yaml", "extends: baseline\nreviews: {cadence: quarterly}\n")
    sc = load_scenario(path)
    assert sc.name == "my_variant"
    assert sc.description == ""  # a parent's description is not inherited


# --------------------------------------------------------------------------------------------
# extends
# --------------------------------------------------------------------------------------------

PARENT_YAML = """\
name: parent
description: the parent's description
organisation: {managers: 3, span: 6, quota: 900000}
coaching:
  joint_call_hours_per_week: 7
  targeting: round_robin
  hours_per_call: 3
goals:
  items:
    - {metric: revenue, weight: 0.6}
    - {metric: new_logos, weight: 0.4}
funnel:
  stages:
    - {name: qualify, conversion: 0.5, mean_days: 10}
    - {name: close, conversion: 0.6, mean_days: 15}
"""


def test_extends_deep_override_mappings_merge_lists_replace(write_yaml):
    write_yaml("parent.yaml", PARENT_YAML)
    child = write_yaml(
        "child.yaml",
        textwrap.dedent("""\
        extends: parent
        organisation: {span: 4}
        coaching: {targeting: none}
        goals:
          items:
            - {metric: revenue, weight: 1.0}
        funnel:
          stages:
            - {name: only, conversion: 0.3, mean_days: 40}
        """),
    )
    sc = load_scenario(child)
    # mappings merge: untouched keys of a partially overridden section come from the parent
    assert sc.organisation.span == 4
    assert sc.organisation.managers == 3
    assert sc.organisation.quota == 900_000
    assert sc.coaching.targeting == "none"
    assert sc.coaching.joint_call_hours_per_week == 7
    assert sc.coaching.hours_per_call == 3
    # lists replace, they are not merged element by element
    assert [g.metric for g in sc.goals.items] == ["revenue"]
    assert [s.name for s in sc.funnel.stages] == ["only"]
    # the child's name is its own; the parent's description does not leak
    assert sc.name == "child"
    assert sc.description == ""


def test_extends_chain_of_three(write_yaml):
    write_yaml("parent.yaml", PARENT_YAML)
    write_yaml("middle.yaml", "extends: parent\ncoaching: {hours_per_call: 1.5}\n")
    leaf = write_yaml("leaf.yaml", "extends: middle\norganisation: {managers: 2}\n")
    sc = load_scenario(leaf)
    assert (sc.organisation.managers, sc.organisation.span) == (2, 6)
    assert sc.coaching.hours_per_call == 1.5
    assert sc.coaching.joint_call_hours_per_week == 7


def test_extends_by_relative_path(tmp_path, write_yaml):
    (tmp_path / "parents").mkdir()
    (tmp_path / "variants").mkdir()
    write_yaml("parents/base_x.yaml", PARENT_YAML)
    rel = write_yaml("variants/a.yaml", "extends: ../parents/base_x.yaml\nreviews: {cadence: monthly}\n")
    sc = load_scenario(rel)
    assert sc.organisation.managers == 3
    assert sc.reviews.cadence == "monthly"
    # relative to the file, not to the working directory
    other = tmp_path / "elsewhere"
    other.mkdir()
    sc2 = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from salessim import load_scenario; "
            "print(load_scenario(sys.argv[1]).organisation.managers)",
            str(rel),
        ],
        cwd=other,
        capture_output=True,
        text=True,
        check=True,
    )
    assert sc2.stdout.strip() == "3"


def test_extends_by_library_name_from_another_folder(write_yaml):
    path = write_yaml("v.yaml", "extends: baseline\nreviews: {cadence: monthly}\n")
    sc = load_scenario(path)
    base = load_scenario("baseline")
    assert sc.reviews.cadence == "monthly"
    assert _diff_sections(sc.to_dict(), base.to_dict()) == {"reviews"}


def test_extends_file_beside_wins_over_library(write_yaml):
    # a local file named like a library scenario is the one a sibling means
    write_yaml("baseline.yaml", "organisation: {managers: 4}\n")
    path = write_yaml("v.yaml", "extends: baseline\n")
    assert load_scenario(path).organisation.managers == 4


def test_extends_cycle_is_an_error(write_yaml):
    write_yaml("a.yaml", "extends: b\n")
    b = write_yaml("b.yaml", "extends: a\n")
    with pytest.raises(ScenarioError) as e:
        load_scenario(b)
    msg = _message(e)
    assert "cycle" in msg
    assert "extends" in msg
    assert "a.yaml" in msg and "b.yaml" in msg


def test_extends_itself_is_a_cycle(write_yaml):
    path = write_yaml("selfish.yaml", "extends: selfish\n")
    with pytest.raises(ScenarioError, match="cycle"):
        load_scenario(path)


def test_extends_unknown_parent(write_yaml):
    path = write_yaml("orphan.yaml", "extends: no_such_parent\n")
    with pytest.raises(ScenarioError) as e:
        load_scenario(path)
    msg = _message(e)
    assert "orphan.yaml" in msg and "extends" in msg and "no_such_parent" in msg


@pytest.mark.parametrize("value", ["[baseline]", "42", "''"])
def test_extends_must_be_a_name_or_path(write_yaml, value):
    path = write_yaml("weird.yaml", f"extends: {value}\n")
    with pytest.raises(ScenarioError) as e:
        load_scenario(path)
    assert "weird.yaml" in _message(e) and "extends" in _message(e)


def test_dict_extends_unknown_parent():
    with pytest.raises(ScenarioError, match="no_such_parent"):
        load_scenario({"extends": "no_such_parent"})


@given(
    base=st.recursive(
        st.dictionaries(
            st.sampled_from("abcd"), st.integers() | st.lists(st.integers(), max_size=3), max_size=4
        ),
        lambda children: st.dictionaries(st.sampled_from("abcd"), children, max_size=4),
        max_leaves=10,
    ),
    over=st.recursive(
        st.dictionaries(
            st.sampled_from("abcd"), st.integers() | st.lists(st.integers(), max_size=3), max_size=4
        ),
        lambda children: st.dictionaries(st.sampled_from("abcd"), children, max_size=4),
        max_leaves=10,
    ),
)
@settings(max_examples=200, deadline=None)
def test_deep_merge_properties(base, over):
    merged = deep_merge(base, over)
    assert merged.keys() == base.keys() | over.keys()
    for k in merged:
        if k not in over:
            assert merged[k] == base[k]
        elif isinstance(over[k], dict) and isinstance(base.get(k), dict):
            assert merged[k] == deep_merge(base[k], over[k])
        else:
            assert merged[k] == over[k]  # scalars and lists replace
    # inputs are not modified
    assert deep_merge(base, {}) == base


# --------------------------------------------------------------------------------------------
# Unknown keys
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "path", "allowed"),
    [
        ("colour: blue\n", "colour", ["organisation", "coaching", "reviews", "funnel"]),
        ("coaching: {hours: 3}\n", "coaching.hours", ["joint_call_hours_per_week", "targeting"]),
        ("reviews: {cadence: monthly, cadense: annual}\n", "reviews.cadense", ["cadence"]),
        (
            "goals:\n  items:\n    - {metric: revenue, weight: 1.0, colour: red}\n",
            "goals.items.0.colour",
            ["metric", "weight", "target", "product"],
        ),
        (
            "funnel:\n  products:\n    A: {share: 1.0, amount_median: 1000, colour: red}\n",
            "funnel.products.A.colour",
            ["share", "amount_median", "amount_sigma"],
        ),
        (
            "funnel:\n  stages:\n    - {name: s, conversion: 0.5, mean_days: 9, durations: 3}\n",
            "funnel.stages.0.durations",
            ["conversion", "mean_days", "cv"],
        ),
    ],
    ids=["top", "nested", "typo", "list-item", "dict-value", "stage"],
)
def test_unknown_keys_rejected_with_path_and_allowed_keys(write_yaml, text, path, allowed):
    f = write_yaml("unknown_key.yaml", "extends: baseline\n" + text)
    with pytest.raises(ScenarioError) as e:
        load_scenario(f)
    msg = _message(e)
    assert "unknown_key.yaml" in msg
    assert f"`{path}`" in msg
    assert "unknown key" in msg
    for key in allowed:
        assert key in msg, f"allowed key {key!r} not listed in:\n{msg}"
    assert "(1 problem)" in msg, f"one bad key should be reported as one problem:\n{msg}"


# --------------------------------------------------------------------------------------------
# Out-of-range and malformed values: the file, the dotted path and the bad value
# --------------------------------------------------------------------------------------------

STAGES_WITH_BAD_CONVERSION = """\
funnel:
  stages:
    - {name: discovery, conversion: 0.52, mean_days: 20}
    - {name: proposal, conversion: 1.7, mean_days: 24}
"""

BAD_VALUES = [
    # id, yaml body (after `extends: baseline`), dotted path, bad value as shown
    ("conversion", STAGES_WITH_BAD_CONVERSION, "funnel.stages.1.conversion", "1.7"),
    ("negative-span", "organisation: {span: -3}\n", "organisation.span", "-3"),
    (
        "goal-weights",
        "goals:\n  items:\n    - {metric: revenue, weight: 0.5}\n    - {metric: new_logos, weight: 0.2}\n",
        "goals.items",
        "0.7",
    ),
    (
        "segment-shares",
        "funnel:\n  segments:\n    new_logo: {share: 0.5}\n    expansion: {share: 0.6}\n",
        "funnel.segments",
        "1.1",
    ),
    (
        "unknown-product",
        "goals:\n  items:\n    - {metric: revenue, weight: 0.5}\n"
        "    - {metric: product_revenue, product: Z, weight: 0.5}\n",
        "goals.items.1.product",
        "'Z'",
    ),
    ("cadence-literal", "reviews: {cadence: weekly}\n", "reviews.cadence", "weekly"),
    ("crm-adoption", "crm: {adoption: 1.5}\n", "crm.adoption", "1.5"),
    ("crm-adoption-moved", "crm_adoption: 0.9\n", "crm_adoption", "0.9"),
    ("span-not-a-number", "organisation: {span: eight}\n", "organisation.span", "eight"),
    ("metrics-literal", "metrics: vibes\n", "metrics", "vibes"),
    ("start-date", "start_date: tomorrow\n", "start_date", "tomorrow"),
]


@pytest.mark.parametrize(
    ("body", "path", "value"), [c[1:] for c in BAD_VALUES], ids=[c[0] for c in BAD_VALUES]
)
def test_bad_values_name_file_path_and_value(write_yaml, body, path, value):
    f = write_yaml("bad_input.yaml", "extends: baseline\n" + body)
    with pytest.raises(ScenarioError) as e:
        load_scenario(f)
    msg = _message(e)
    assert "bad_input.yaml" in msg
    assert f"`{path}`" in msg
    assert value in msg
    # one mistake → one problem, not a cascade of confusing follow-on errors
    assert "(1 problem)" in msg, msg
    assert "(top level)" not in msg


def test_literal_error_lists_allowed_values_once(write_yaml):
    f = write_yaml("cadence.yaml", "extends: baseline\nreviews: {cadence: weekly}\n")
    with pytest.raises(ScenarioError) as e:
        load_scenario(f)
    msg = _message(e)
    for allowed in ("annual", "semiannual", "quarterly", "monthly"):
        assert allowed in msg
    assert msg.count("semiannual") == 1, msg


def test_bad_value_in_dict_names_dict_source():
    with pytest.raises(ScenarioError) as e:
        load_scenario({"organisation": {"span": -1}})
    msg = _message(e)
    assert "<dict>" in msg and "`organisation.span`" in msg and "-1" in msg


def test_several_problems_are_all_reported(write_yaml):
    f = write_yaml("two.yaml", "organisation: {span: 0, managers: 0}\n")
    with pytest.raises(ScenarioError) as e:
        load_scenario(f)
    msg = _message(e)
    assert "(2 problems)" in msg
    assert "`organisation.span`" in msg and "`organisation.managers`" in msg


@pytest.mark.parametrize(
    ("body", "path", "expected"),
    [
        ("goals: {items: []}\n", "goals.items", "at least 1 item, got 0"),
        (
            "funnel:\n  stages:\n"
            + "".join(f"    - {{name: s{i}, conversion: 0.5, mean_days: 5}}\n" for i in range(9)),
            "funnel.stages",
            "at most 8 items, got 9",
        ),
        (
            "funnel:\n  stages:\n    - {name: a, conversion: 0.5, mean_days: 5}\n"
            "    - {name: a, conversion: 0.9, mean_days: 5}\n",
            "funnel.stages",
            "unique",
        ),
        (
            "funnel:\n  stages:\n    - {name: won, conversion: 0.5, mean_days: 5}\n",
            "funnel.stages",
            "reserved",
        ),
        ("funnel:\n  products:\n    C: {amount_median: 30000}\n", "funnel.products.C.share", "required"),
        ("funnel:\n  stages:\n    - {name: a, mean_days: 5}\n", "funnel.stages.0.conversion", "required"),
    ],
    ids=[
        "no-goals",
        "too-many-stages",
        "duplicate-stage",
        "stage-named-won",
        "missing-share",
        "missing-conversion",
    ],
)
def test_structural_problems_are_explained(write_yaml, body, path, expected):
    # (a child that overrides one field of a parent's product keeps the rest: see
    # test_extends_overrides_only_what_is_written_in_mappings)
    f = write_yaml("shape.yaml", "extends: baseline\n" + body)
    with pytest.raises(ScenarioError) as e:
        load_scenario(f)
    msg = _message(e)
    assert "shape.yaml" in msg and f"`{path}`" in msg and expected in msg
    assert "(1 problem)" in msg, msg
    assert "after validation" not in msg  # pydantic's jargon is not for users
    assert all(len(line) < 200 for line in msg.splitlines()), "values are shortened"


def test_product_goal_requires_product(write_yaml):
    f = write_yaml("pg.yaml", "goals:\n  items:\n    - {metric: product_revenue, weight: 1.0}\n")
    with pytest.raises(ScenarioError) as e:
        load_scenario(f)
    assert "goals.items.0" in _message(e) and "product" in _message(e)


# --------------------------------------------------------------------------------------------
# Files that are not scenarios
# --------------------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    missing = tmp_path / "does_not_exist.yaml"
    with pytest.raises(ScenarioError) as e:
        load_scenario(missing)
    assert "does_not_exist.yaml" in _message(e) and "not found" in _message(e)


def test_unknown_library_name_lists_the_library():
    with pytest.raises(ScenarioError) as e:
        load_scenario("basline")
    msg = _message(e)
    assert "basline" in msg and "not found" in msg
    assert "baseline" in msg.replace("basline", "")  # points the user at what exists


def test_not_yaml(write_yaml):
    f = write_yaml("broken.yaml", "key: [unclosed\n")
    with pytest.raises(ScenarioError) as e:
        load_scenario(f)
    msg = _message(e)
    assert "broken.yaml" in msg and "YAML" in msg and "line" in msg


def test_yaml_list_instead_of_mapping(write_yaml):
    f = write_yaml("a_list.yaml", "- organisation\n- span\n")
    with pytest.raises(ScenarioError) as e:
        load_scenario(f)
    msg = _message(e)
    assert "a_list.yaml" in msg and "mapping" in msg and "list" in msg


def test_yaml_scalar_instead_of_mapping(write_yaml):
    f = write_yaml("scalar.yaml", "just a sentence\n")
    with pytest.raises(ScenarioError, match=r"scalar\.yaml.*mapping"):
        load_scenario(f)


def test_binary_file(tmp_path):
    f = tmp_path / "image.yaml"
    f.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ScenarioError) as e:
        load_scenario(f)
    assert "image.yaml" in _message(e)


def test_directory_instead_of_file(tmp_path):
    d = tmp_path / "folder.yaml"
    d.mkdir()
    with pytest.raises(ScenarioError, match=r"folder\.yaml.*directory"):
        load_scenario(d)


# --------------------------------------------------------------------------------------------
# The scenario library
# --------------------------------------------------------------------------------------------


def test_library_has_the_designed_scenarios():
    names = {p.stem for p in SCENARIO_DIR.glob("*.yaml")}
    assert names >= LIBRARY, f"missing from data/scenarios: {sorted(LIBRARY - names)}"


@pytest.mark.parametrize("path", sorted(SCENARIO_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_library_scenario_loads(path):
    sc = load_scenario(path)
    assert sc.name == path.stem
    assert load_scenario(path.stem).to_dict() == sc.to_dict()
    # round trip through the resolved YAML
    assert load_scenario(yaml.safe_load(sc.to_yaml())).to_dict() == sc.to_dict()


@pytest.mark.parametrize("name", sorted(VARIANT_SECTIONS))
def test_variant_changes_only_its_driver(name):
    text = (SCENARIO_DIR / f"{name}.yaml").read_text()
    assert yaml.safe_load(text).get("extends") == "baseline"
    diff = _diff_sections(load_scenario(name).to_dict(), load_scenario("baseline").to_dict())
    assert diff == VARIANT_SECTIONS[name]


def test_best_practice_changes_only_driver_sections_and_all_of_the_first_seven():
    diff = _diff_sections(load_scenario("best_practice").to_dict(), load_scenario("baseline").to_dict())
    assert diff <= DRIVER_SECTIONS
    assert diff >= DRIVER_SECTIONS - {"culture"}


def test_variant_values_are_what_their_names_say():
    assert len(load_scenario("goals_focused").goals.items) == 2
    assert len(load_scenario("goals_many").goals.items) == 6
    p = load_scenario("prescription")
    assert p.prescription.enabled and p.metrics == "stage"
    assert load_scenario("metrics_stage").metrics == "stage"
    assert load_scenario("crm_full").crm.adoption == 1.0
    assert load_scenario("managers_trained").managers.training == "trained"
    assert load_scenario("coaching_none").coaching.joint_call_hours_per_week == 0
    ch = load_scenario("coaching_high")
    # ≥ 3 joint-call hours per rep per month (≈ 4.35 weeks a month)
    per_rep_month = ch.coaching.joint_call_hours_per_week * 365 / 7 / 12 / ch.organisation.span
    assert per_rep_month >= 3
    assert ch.managers.training == "trained" and ch.coaching.targeting == "gap_targeted"
    assert load_scenario("reviews_quarterly").reviews.cadence == "quarterly"
    assert load_scenario("reviews_monthly").reviews.cadence == "monthly"


# --------------------------------------------------------------------------------------------
# Frozen configs, replace, hash
# --------------------------------------------------------------------------------------------


def test_configs_are_frozen():
    sc = load_scenario("baseline")
    with pytest.raises(pydantic.ValidationError):
        sc.name = "other"  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        sc.organisation.span = 3  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        sc.funnel.stages[0].conversion = 0.9  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        sc.goals.items[0].weight = 0.9  # type: ignore[misc]
    with pytest.raises(AttributeError):
        sc.goals.items.append(sc.goals.items[0])  # type: ignore[attr-defined]
    assert sc.organisation.span == 8 and sc.name == "baseline"


def test_dict_valued_configs_are_frozen():
    import copy
    import pickle

    sc = load_scenario("baseline")
    with pytest.raises(TypeError):
        sc.funnel.products["C"] = sc.funnel.products["A"]  # type: ignore[index]
    with pytest.raises(TypeError):
        del sc.funnel.segments["new_logo"]  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        sc.funnel.products.update({})  # type: ignore[attr-defined]
    # still saved, copied and shipped to worker processes like any config
    assert pickle.loads(pickle.dumps(sc)) == sc
    assert copy.deepcopy(sc) == sc
    assert load_scenario(sc.to_dict()) == sc


def test_replace_with_dotted_paths():
    base = load_scenario("baseline")
    sc = base.replace(
        **{"reviews.cadence": "monthly", "organisation.span": 5, "funnel.stages.0.conversion": 0.6}
    )
    assert sc.reviews.cadence == "monthly"
    assert sc.organisation.span == 5
    assert sc.funnel.stages[0].conversion == 0.6
    # everything else is untouched, and the original is unchanged
    assert _diff_sections(sc.to_dict(), base.to_dict()) == {"reviews", "organisation", "funnel"}
    assert base.reviews.cadence == "annual" and base.organisation.span == 8
    assert base.funnel.stages[0].conversion == 0.52


@pytest.mark.parametrize(
    ("changes", "path", "value"),
    [
        ({"organisation.span": -1}, "organisation.span", "-1"),
        ({"reviews.cadence": "weekly"}, "reviews.cadence", "weekly"),
        ({"funnel.stages.0.conversion": 1.7}, "funnel.stages.0.conversion", "1.7"),
        ({"coaching.hours": 3}, "coaching.hours", "unknown key"),
    ],
)
def test_replace_validates(changes, path, value):
    with pytest.raises(ScenarioError) as e:
        load_scenario("baseline").replace(**changes)
    msg = _message(e)
    assert f"`{path}`" in msg and value in msg and "baseline" in msg


@pytest.mark.parametrize("path", ["funnel.stages.9.conversion", "funnel.stages.x", "reviews.cadence.every"])
def test_replace_with_a_path_that_does_not_exist(path):
    with pytest.raises(ScenarioError) as e:
        load_scenario("baseline").replace(**{path: 1})
    assert f"`{path}`" in _message(e) and "baseline" in _message(e)


def test_hash_is_stable_and_ignores_name_and_description():
    sc = load_scenario("baseline")
    assert len(sc.hash) == 16 and int(sc.hash, 16) >= 0
    assert sc.hash == load_scenario(BASELINE_FILE).hash
    assert sc.replace(name="renamed", description="something else").hash == sc.hash
    assert sc.replace(**{"reviews.cadence": "monthly"}).hash != sc.hash
    assert sc.replace(**{"organisation.quota": sc.organisation.quota + 1}).hash != sc.hash
    assert load_scenario("reviews_monthly").hash == sc.replace(**{"reviews.cadence": "monthly"}).hash
    # the same in a fresh interpreter (no dependence on dict order, hash seeds or process state)
    out = subprocess.run(
        [sys.executable, "-c", "from salessim import load_scenario; print(load_scenario('baseline').hash)"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
    )
    assert out.stdout.strip() == sc.hash


def test_library_hashes_are_distinct():
    hashes = {p.stem: load_scenario(p).hash for p in SCENARIO_DIR.glob("*.yaml")}
    assert len(set(hashes.values())) == len(hashes)


# --------------------------------------------------------------------------------------------
# Assumptions register
# --------------------------------------------------------------------------------------------


def _leaf_paths(model: type[pydantic.BaseModel], prefix: str = "") -> set[str]:
    out = set()
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, pydantic.BaseModel):
            out |= _leaf_paths(ann, f"{prefix}{name}.")
        else:
            out.add(f"{prefix}{name}")
    return out


def test_assumptions_register_covers_every_leaf_parameter():
    rows = assumptions_register()
    params = [r["parameter"] for r in rows]
    assert len(params) == len(set(params))
    expected = _leaf_paths(Scenario) - {"name", "description"}
    assert set(params) == expected
    for r in rows:
        assert r["kind"] in {"sourced", "assumption"}, r
        assert isinstance(r["source"], str) and r["source"].strip(), r
        # a "sourced" parameter whose source says it is an assumption is mislabelled
        if r["kind"] == "sourced":
            assert not r["source"].lower().startswith("assumption"), r


def test_assumptions_register_shows_the_scenarios_values():
    sc = load_scenario("reviews_monthly").replace(**{"organisation.span": 6})
    rows = {r["parameter"]: r for r in assumptions_register(sc)}
    assert rows["reviews.cadence"]["value"] == "monthly"
    assert rows["organisation.span"]["value"] == 6
    base = {r["parameter"]: r for r in assumptions_register()}
    assert base["reviews.cadence"]["value"] == "annual"
    assert base["organisation.span"]["value"] == Scenario().organisation.span


def test_extends_overrides_only_what_is_written_in_mappings(write_yaml):
    f = write_yaml(
        "bigger_a.yaml", "extends: baseline\nfunnel:\n  products:\n    A: {amount_median: 30000}\n"
    )
    sc = load_scenario(f)
    base = load_scenario("baseline")
    assert sc.funnel.products["A"].amount_median == 30000
    assert sc.funnel.products["A"].share == base.funnel.products["A"].share
    assert sc.funnel.products["B"] == base.funnel.products["B"]
