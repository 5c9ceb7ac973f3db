"""Fuzzing the scenario language: generated documents through the loader and the CLI.

Documents are built from the schema's own keys and from arbitrary ones, with values of every type
(huge and non-finite numbers, dates, text with control characters, nested lists and mappings),
written as YAML, as YAML with aliases, tags, duplicate keys and deep nesting, in several encodings,
or as arbitrary bytes. Whatever the document:

* :func:`load_scenario` returns a scenario or raises :class:`ScenarioError` naming the file;
* ``salessim plan`` and ``salessim assumptions`` exit 0 or 2, never 1, with no traceback, and
  write nothing;
* ``salessim simulate FILE -r 1 --out DIR`` (tiny sales forces) writes only inside ``DIR``, and
  nothing at all when it refuses;
* any ``--vary`` text gives validated sweep points or a :class:`ScenarioError`.

Examples are derandomized and no example database is kept, so every run (and CI) tries the same
documents.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pydantic
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salessim import Scenario, ScenarioError, load_scenario
from salessim.cli import main
from salessim.experiments import parse_vary, sweep_scenarios

SALESSIM = Path(sys.executable).parent / "salessim"
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --------------------------------------------------------------------------------------------
# The schema's own vocabulary
# --------------------------------------------------------------------------------------------


def _leaves(model: type[pydantic.BaseModel], prefix: str = "") -> list[str]:
    out = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, pydantic.BaseModel):
            out += _leaves(ann, f"{prefix}{name}.")
        else:
            out.append(f"{prefix}{name}")
    return out


LEAVES = [
    *_leaves(Scenario),
    "funnel.stages.0.conversion",
    "funnel.stages.0.mean_days",
    "funnel.stages.1.name",
    "funnel.products.A.amount_median",
    "funnel.products.B.share",
    "funnel.products.C.share",
    "funnel.segments.new_logo.amount_factor",
    "funnel.segments.expansion.share",
    "goals.items.0.weight",
    "goals.items.1.target",
    "goals.items.0.product",
    "extends",
]
WORDS = sorted({part for leaf in LEAVES for part in leaf.split(".")} | {"<<", "items", "0"})
#: Fields that decide how long a simulation runs: fixed small in the simulate fuzz.
SIZE_FIELDS = ("organisation", "simulation")

keys = st.one_of(st.sampled_from(WORDS), st.text(max_size=12), st.integers(-3, 3), st.none(), st.booleans())
texts = st.one_of(
    st.text(st.characters(codec=None, exclude_categories=()), max_size=24),
    st.sampled_from(
        [
            "baseline",
            "best_practice",
            "../baseline",
            "/dev/zero",
            "",
            " ",
            "annual",
            "monthly",
            "gap_targeted",
            "revenue",
            "product_revenue",
            "A",
            "trained",
            "stage",
            "\x1b[31mred",
            "a\x00b",
            "\u202eevil",
            "1e308",
            "inf",
            "nan",
            "2026-02-30",
            "9999-12-31",
            "true",
            "x" * 300,
        ]
    ),
)
numbers = st.one_of(
    st.integers(-10, 1000),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(0, 1),
    st.sampled_from([0.0, 1.0, 0.5, 1e308, -1e308, 5e-324, 1e9, 3650.0, 1e12]),
)
scalars = st.one_of(
    st.none(), st.booleans(), numbers, texts, st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31))
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=12,
)


def _set(doc: dict[Any, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    cur = doc
    for p in parts[:-1]:
        nxt = cur.get(p)
        if not isinstance(nxt, dict):
            nxt = cur[p] = {}
        cur = nxt
    cur[parts[-1]] = value


@st.composite
def mappings(draw: st.DrawFn, small: bool = False) -> dict[Any, Any]:
    """A scenario mapping: schema paths and arbitrary keys set to arbitrary values."""
    doc: dict[Any, Any] = {}
    if draw(st.booleans()):
        doc["extends"] = draw(st.sampled_from(["baseline", "best_practice", "coaching_high"]))
    for path in draw(st.lists(st.sampled_from(LEAVES), max_size=5)):
        if small and path.startswith(SIZE_FIELDS):
            continue
        _set(doc, path, draw(values))
    if not small:
        for k, v in draw(st.dictionaries(keys, values, max_size=2)).items():
            doc[k] = v
    if small:
        doc["extends"] = "baseline"
        doc["organisation"] = {"managers": 1, "span": 2}
        doc["simulation"] = {"warmup_days": 5, "horizon_days": 20}
    return doc


def _dump(data: Any, unicode: bool) -> str:
    return yaml.safe_dump(data, allow_unicode=unicode, sort_keys=False, default_flow_style=None)


@st.composite
def yaml_texts(draw: st.DrawFn) -> str:
    """YAML text: dumped mappings, optionally with aliases, tags, repeats, deep nesting or noise."""
    doc = draw(mappings())
    text = _dump(doc, draw(st.booleans()))
    kind = draw(
        st.sampled_from(
            ["plain", "plain", "alias", "bomb", "deep", "tag", "repeat", "noise", "text", "multi"]
        )
    )
    field = draw(st.sampled_from(LEAVES)).split(".")
    nest = "".join(f"{' ' * (2 * i)}{k}:\n" for i, k in enumerate(field[:-1]))
    indent = " " * (2 * (len(field) - 1))
    if kind == "alias":
        text = (
            f"x: &v {draw(st.sampled_from(['[1, 2]', '{a: 1}', '0.5', 'yes', '.inf']))}\n"
            + nest
            + f"{indent}{field[-1]}: *v\n"
        )
    elif kind == "bomb":
        width, levels = draw(st.integers(2, 10)), draw(st.integers(2, 12))
        lines = ["x:", "  a0: &a0 [" + ", ".join(["1"] * width) + "]"]
        lines += [f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]" for i in range(1, levels)]
        text = "\n".join(lines) + "\n" + nest + f"{indent}{field[-1]}: *a{levels - 1}\n"
    elif kind == "deep":
        depth = draw(st.integers(1, 3000))
        text = nest + f"{indent}{field[-1]}: " + "[" * depth + "1" + "]" * depth + "\n"
    elif kind == "tag":
        tag = draw(
            st.sampled_from(
                [
                    "!!python/object/apply:os.system ['true']",
                    "!!binary aGVsbG8=",
                    "!!set {a, b}",
                    "!!omap [{a: 1}]",
                    "!custom 3",
                    "!!str 3",
                    "!!float 1e400",
                    "!!int 0x7fffffffffffffffffffff",
                    "!!timestamp 2026-13-01",
                    "!!bool maybe",
                ]
            )
        )
        text = nest + f"{indent}{field[-1]}: {tag}\n"
    elif kind == "repeat":
        text = text + text
    elif kind == "noise":
        pos = draw(st.integers(0, len(text)))
        text = text[:pos] + draw(st.text(max_size=8)) + text[pos:]
    elif kind == "text":
        text = draw(st.text(max_size=200))
    elif kind == "multi":
        text = text + "---\n" + text
    return text


ENCODINGS = ["utf-8", "utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "latin-1", "cp1252"]


@st.composite
def documents(draw: st.DrawFn) -> bytes:
    """The bytes of a scenario file: YAML text in some encoding, or arbitrary bytes."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=600))
    text = draw(yaml_texts())
    encoding = draw(st.sampled_from(ENCODINGS))
    errors = "surrogatepass" if encoding.startswith("utf") else "replace"
    return text.encode(encoding, errors=errors)


# --------------------------------------------------------------------------------------------
# Running the CLI in-process, in a directory of its own
# --------------------------------------------------------------------------------------------


def _listing(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _run(*args: str) -> tuple[int, str, str]:
    """``salessim ARGS`` in-process, with stdout and stderr encoded as for a pipe (UTF-8, strict on
    stdout), so text that cannot be printed fails here as it would for a user."""
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="backslashreplace")
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    texts = []
    for stream in (out, err):
        stream.flush()
        texts.append(stream.buffer.getvalue().decode("utf-8", errors="replace"))  # type: ignore[attr-defined]
    return code, texts[0], texts[1]


@contextlib.contextmanager
def _workspace() -> Any:
    """A fresh working directory (and a cache outside it) for one example."""
    with tempfile.TemporaryDirectory(prefix="salessim-fuzz-") as tmp:
        root = Path(tmp)
        work = root / "work"
        work.mkdir()
        old = os.environ.get("SALESSIM_CACHE_DIR")
        os.environ["SALESSIM_CACHE_DIR"] = str(root / "cache")
        try:
            with contextlib.chdir(work):
                yield root, work
        finally:
            if old is None:
                os.environ.pop("SALESSIM_CACHE_DIR", None)
            else:
                os.environ["SALESSIM_CACHE_DIR"] = old


def _check_refusal_or_success(code: int, err: str) -> None:
    assert code in (0, 2), f"exit {code}:\n{err}"
    assert "Traceback" not in err and "internal error" not in err, err
    if code == 2:
        assert err.startswith("salessim: error: "), err


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setenv("SALESSIM_NO_PROGRESS", "1")


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------


@settings(FUZZ, max_examples=200)
@given(raw=documents(), command=st.sampled_from(["plan", "assumptions"]))
def test_plan_and_assumptions_exit_0_or_2_and_write_nothing(raw, command):
    with _workspace() as (root, work):
        path = work / "fuzz.yaml"
        path.write_bytes(raw)
        before = _listing(work)
        code, _, err = _run(command, "fuzz.yaml")
        _check_refusal_or_success(code, err)
        assert _listing(work) == before
        assert not (root / "cache").exists()


def test_simulate_writes_only_inside_out():
    codes: list[int] = []

    @settings(FUZZ, max_examples=30)
    @given(doc=mappings(small=True), unicode=st.booleans())
    def check(doc: dict[Any, Any], unicode: bool) -> None:
        with _workspace() as (_, work):
            (work / "fuzz.yaml").write_text(_dump(doc, unicode), encoding="utf-8")
            before = _listing(work)
            code, _, err = _run("simulate", "fuzz.yaml", "-r", "1", "--out", "out")
            _check_refusal_or_success(code, err)
            new = _listing(work) - before
            if code == 2:
                assert not new, new
            else:
                assert new and all(p == "out" or p.startswith("out/") for p in new), new
                assert (work / "out" / "manifest.json").is_file()
            codes.append(code)

    check()
    assert 0 in codes and 2 in codes, codes


@settings(FUZZ, max_examples=4)
@given(raw=documents())
def test_console_script_exits_0_or_2(raw):
    """A few documents through the real console script: a real pipe, a real exit code."""
    with tempfile.TemporaryDirectory(prefix="salessim-fuzz-") as tmp:
        work = Path(tmp)
        (work / "fuzz.yaml").write_bytes(raw)
        before = _listing(work)
        p = subprocess.run(
            [str(SALESSIM), "plan", "fuzz.yaml"],
            cwd=work,
            capture_output=True,
            timeout=120,
            env={**os.environ, "SALESSIM_CACHE_DIR": str(work / "c")},
        )
        err = p.stderr.decode("utf-8", errors="replace")
        _check_refusal_or_success(p.returncode, err)
        assert _listing(work) == before


def test_any_document_loads_or_is_refused_naming_the_file():
    """Every document loads or is refused with a message naming the file; and the fuzz is only
    as good as what it generates, so some documents must load, and refusals must come from the
    YAML guards and the decoding as well as from the schema."""
    seen: set[str] = set()

    @settings(FUZZ, max_examples=600)
    @given(raw=documents())
    def check(raw: bytes) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "fuzz.yaml"
            path.write_bytes(raw)
            try:
                load_scenario(path)
                seen.add("loaded")
            except ScenarioError as e:
                msg = str(e)
                assert "fuzz.yaml" in msg and len(msg) < 20_000, msg
                seen.update(
                    kind
                    for kind in (
                        "invalid scenario",
                        "aliases",
                        "nested deeper",
                        "duplicate key",
                        "not UTF-8",
                        "NUL bytes",
                        "not valid YAML",
                        "empty",
                    )
                    if kind in msg
                )

    check()
    assert {
        "loaded",
        "invalid scenario",
        "aliases",
        "nested deeper",
        "duplicate key",
        "not valid YAML",
    } <= seen, seen
    assert seen & {"not UTF-8", "NUL bytes"}, seen


vary_specs = st.one_of(
    st.text(max_size=40),
    st.builds(
        lambda key, vals: key + "=" + ",".join(vals),
        st.sampled_from(
            [*LEAVES, "name", "description", "coaching", "funnel.stages", "funnel.products.A", "", " "]
        ),
        st.lists(
            st.one_of(
                st.text(max_size=8),
                st.sampled_from(
                    ["1", "0", "-1", "inf", "nan", "1e400", "true", "annual", "2026-01-01", "0x10", "1_000"]
                ),
            ),
            max_size=4,
        ),
    ),
)


@settings(FUZZ, max_examples=200)
@given(spec=vary_specs)
def test_any_vary_spec_builds_a_sweep_or_is_refused(spec):
    """``--vary`` text either gives validated sweep points or a ScenarioError naming the field."""
    try:
        key, vals = parse_vary(spec)
    except ScenarioError as e:
        assert str(e).startswith("--vary "), str(e)
        return
    try:
        points = sweep_scenarios("baseline", {key: vals})
    except ScenarioError as e:
        assert str(e).startswith("sweep of baseline: ") and len(str(e)) < 5000, str(e)
        return
    assert len(points) == len(vals) and all(isinstance(p, Scenario) for p in points)
