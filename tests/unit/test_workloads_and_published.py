"""Workload presets (``designs/workloads``), :mod:`hwgen.description.workload`, and the published-accelerator
presets (``designs/published``).

Hand-computed reference numbers: a Llama-style decoder layer with hidden size h, FFN size f and
K/V width kv has 2*h*h (q, o) + 2*h*kv (k, v) + 3*h*f (gate, up, down) ternary weights; a
token runs every layer once, so a decode step reads layers * that many weights (one MAC each).
"""

import re
import tomllib
from pathlib import Path

import numpy as np
import pytest

from hwgen.description.config import MAX_DIM, ConfigError, CoreConfig, core_config, load_design
from hwgen.description.workload import MAX_COUNT, Gemv, Workload, load_workload

DESIGNS = Path(__file__).parents[2] / "designs"
WORKLOADS = sorted((DESIGNS / "workloads").glob("*.toml"))
PUBLISHED = sorted((DESIGNS / "published").glob("*.toml"))


def layer_weights(h, f, kv):
    return 2 * h * h + 2 * h * kv + 3 * h * f


# --- Workload presets ---

def test_there_are_workloads():
    assert {p.stem for p in WORKLOADS} >= {"bitnet_b158_2b4t", "bitnet_b158_large", "bitnet_b158_3b",
                                            "llama3_8b_158_100b"}


@pytest.mark.parametrize("path", WORKLOADS, ids=lambda p: p.stem)
def test_workload_preset_loads(path):
    w = load_workload(path)
    assert w.name == path.stem
    assert w.source.startswith("https://")
    assert [g.name for g in w.gemvs] == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                         "down_proj"]
    assert len({g.count for g in w.gemvs}) == 1, "one decoder layer times the number of layers"


def test_bitnet_2b4t_shapes():
    w = load_workload(DESIGNS / "workloads" / "bitnet_b158_2b4t.toml")
    # hidden 2560, FFN 6912, 30 layers, 5 KV heads x head dim 128 = 640
    assert [(g.name, g.n, g.m, g.count) for g in w.gemvs] == [
        ("q_proj", 2560, 2560, 30), ("k_proj", 2560, 640, 30), ("v_proj", 2560, 640, 30),
        ("o_proj", 2560, 2560, 30), ("gate_proj", 2560, 6912, 30), ("up_proj", 2560, 6912, 30),
        ("down_proj", 6912, 2560, 30),
    ]
    assert sum(g.weights for g in w.gemvs) == layer_weights(2560, 6912, 640) == 69_468_160
    assert w.total_macs == 30 * 69_468_160 == 2_084_044_800
    assert (w.max_n, w.max_m, len(w)) == (6912, 6912, 7)


@pytest.mark.parametrize("stem,h,f,kv,layers,total", [
    ("bitnet_b158_2b4t", 2560, 6912, 640, 30, 2_084_044_800),
    ("bitnet_b158_large", 1536, 4096, 1536, 24, 679_477_248),
    ("bitnet_b158_3b", 3200, 8640, 3200, 26, 3_221_504_000),
    ("llama3_8b_158_100b", 4096, 14336, 1024, 32, 6_979_321_856),
])
def test_workload_macs_match_model_config(stem, h, f, kv, layers, total):
    w = load_workload(DESIGNS / "workloads" / f"{stem}.toml")
    assert w.total_macs == layers * layer_weights(h, f, kv) == total
    assert (w.max_n, w.max_m) == (f, f)
    assert all(g.count == layers for g in w.gemvs)


def test_arrays_for_vectorised_cost():
    w = load_workload(DESIGNS / "workloads" / "bitnet_b158_2b4t.toml")
    for arr in (w.ns, w.ms, w.counts):
        assert arr.dtype == np.int64 and arr.shape == (7,)
        with pytest.raises(ValueError):
            arr[0] = 1
    assert w.ns.tolist() == [g.n for g in w.gemvs] and w.ms.tolist() == [g.m for g in w.gemvs]
    assert int((w.ns * w.ms * w.counts).sum()) == w.total_macs
    # e.g. input tiles per token of a 64-wide core, vectorised
    assert int((np.ceil(w.ns / 64) * w.counts).sum()) == sum(-(-g.n // 64) * g.count for g in w.gemvs)


def test_from_gemv():
    w = Workload.from_gemv(2560, 6912)
    assert (w.name, w.source, len(w), w.total_macs, w.max_n, w.max_m) == (
        "gemv_2560x6912", "", 1, 2560 * 6912, 2560, 6912)
    assert w.gemvs == (Gemv("gemv_2560x6912", 2560, 6912, 1),)
    assert Workload.from_gemv(8, 4, count=3, name="x").total_macs == 96


def test_workload_accepts_a_list_and_stores_a_tuple():
    w = Workload(name="w", gemvs=[Gemv("a", 4, 4)])
    assert isinstance(w.gemvs, tuple)
    assert w == Workload(name="w", gemvs=(Gemv("a", 4, 4, 1),))


# --- Validation messages (anchored) ---

@pytest.mark.parametrize("kwargs,problems", [
    ({"name": "q", "n": 0, "m": 4, "count": 1},
     [rf"`n` must be an integer in \[1, {MAX_DIM}\] activations, got n=0"]),
    ({"name": "q", "n": 4, "m": 4.0, "count": 1},
     [rf"`m` must be an integer in \[1, {MAX_DIM}\] outputs, got m=4\.0"]),
    ({"name": "q", "n": 4, "m": 4, "count": True},
     [rf"`count` must be an integer in \[1, {MAX_COUNT}\] runs per token, got count=True"]),
    ({"name": "", "n": MAX_DIM + 1, "m": 4, "count": 0},
     [r"`name` of a GEMV must be a non-empty string, got name=''",
      rf"`n` must be an integer in \[1, {MAX_DIM}\] activations, got n={MAX_DIM + 1}",
      rf"`count` must be an integer in \[1, {MAX_COUNT}\] runs per token, got count=0"]),
], ids=["n_zero", "m_float", "count_bool", "several"])
def test_gemv_problems(kwargs, problems):
    with pytest.raises(ConfigError) as info:
        Gemv(**kwargs)
    assert_problems(info.value, problems)


def test_workload_problems():
    with pytest.raises(ConfigError) as info:
        Workload(name="", gemvs=())
    assert_problems(info.value, [r"`name` of a workload must be a non-empty string, got name=''",
                                 r"`gemvs` must hold at least one GEMV, got gemvs=\(\)"])
    with pytest.raises(ConfigError) as info:
        Workload(name="w", gemvs=(Gemv("a", 4, 4), Gemv("a", 8, 8)))
    assert_problems(info.value, [r"GEMV names must be unique within a workload, got 'a' more than once"])


def assert_problems(exc, patterns):
    assert len(exc.problems) == len(patterns), exc.problems
    for line, pattern in zip(exc.problems, patterns, strict=True):
        assert re.fullmatch(pattern, line), (line, pattern)


HEAD = 'name = "w"\nsource = "https://example.org/model"\n'


def gemv_toml(name="q", n="64", m="32", count="2", extra=""):
    return f'[[gemv]]\nname = "{name}"\nn = {n}\nm = {m}\ncount = {count}\n{extra}'


@pytest.mark.parametrize("text,problems", [
    (HEAD + gemv_toml(n="0"),
     [rf"gemv\[0\] 'q': `n` must be an integer in \[1, {MAX_DIM}\] activations, got n=0"]),
    (HEAD + gemv_toml(m='"32"'),
     [rf"gemv\[0\] 'q': `m` must be an integer in \[1, {MAX_DIM}\] outputs, got m='32'"]),
    (HEAD + gemv_toml(count="-1"),
     [rf"gemv\[0\] 'q': `count` must be an integer in \[1, {MAX_COUNT}\] runs per token, got count=-1"]),
    (HEAD + gemv_toml() + gemv_toml(name="k", n="0", m="-3"),  # every bad value, not just the first
     [rf"gemv\[1\] 'k': `n` must be an integer in \[1, {MAX_DIM}\] activations, got n=0",
      rf"gemv\[1\] 'k': `m` must be an integer in \[1, {MAX_DIM}\] outputs, got m=-3"]),
    (HEAD + '[[gemv]]\nname = "q"\nn = 64\nk = 32\ncount = 1\n',
     [r"gemv\[0\] 'q': unknown key\(s\) k \(allowed: name, n, m, count, projection\)",
      r"gemv\[0\] 'q': missing key\(s\) m \(required: name, n, m, count\)"]),
    (HEAD + "layers = 30\n" + gemv_toml(),
     [r"unknown top-level key\(s\) layers \(allowed: name, source, gemv, adapter\)"]),
    (HEAD,
     [r"needs at least one \[\[gemv\]\] table"]),
    ('name = "w"\nsource = ""\n' + gemv_toml(),
     [r"`source` must be a non-empty string \(a model card or paper URL\), got source=''"]),
    ('source = "https://example.org"\n' + gemv_toml(),
     [r"`name` must be a non-empty string, got name=None"]),
    (HEAD + gemv_toml() + gemv_toml(n="128"),
     [r"GEMV names must be unique within a workload, got 'q' more than once"]),
    (HEAD + "gemv = 3\n",
     [r"`gemv` must be an array of tables \(\[\[gemv\]\]\), got gemv=3"]),
    (HEAD + "[[gemv]\n",
     [r" is not valid TOML: .*"]),
], ids=["n_zero", "m_string", "count_negative", "all_values_reported", "unknown_and_missing_key",
        "unknown_top_level_key", "no_gemv", "empty_source", "missing_name", "duplicate_names",
        "gemv_not_tables", "bad_toml"])
def test_bad_workload_files(tmp_path, text, problems):
    path = tmp_path / "w.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_workload(path)
    prefix = re.escape(f"workload file {str(path)!r}")
    assert_problems(info.value, [prefix + (p if p.startswith(" ") else ": " + p) for p in problems])


def test_missing_workload_file(tmp_path):
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load_workload(path)
    assert_problems(info.value, [re.escape(f"workload file {str(path)!r}: No such file or directory")])


# --- Published accelerator presets ---

def test_there_are_published_presets():
    assert len(PUBLISHED) >= 4


@pytest.mark.parametrize("path", PUBLISHED, ids=lambda p: p.stem)
def test_published_preset_is_valid(path):
    kwargs = load_design(path)
    cfg = CoreConfig(**kwargs)
    assert cfg == core_config(**kwargs)
    assert cfg.tile_n >= 1 and cfg.acc_width >= cfg.act_width


@pytest.mark.parametrize("path", PUBLISHED, ids=lambda p: p.stem)
def test_published_preset_documents_its_source(path):
    with path.open("rb") as f:
        doc = tomllib.load(f)
    source = doc["source"]
    assert set(source) <= {"title", "venue", "year", "url", "code", "notes", "verified", "assumed"}
    for key in ("title", "venue", "url", "notes"):
        assert isinstance(source[key], str) and source[key].strip(), key
    assert source["url"].startswith("https://")
    assert isinstance(source["year"], int) and 2020 <= source["year"] <= 2030
    # every [core] parameter is either checked against the source or marked as an assumption
    verified, assumed = set(source["verified"]), set(source["assumed"])
    assert not verified & assumed
    assert verified | assumed == set(doc["core"])
    unexplained = [k for k in doc["core"] if k != "arch" and not re.search(rf"\b{k}\b", source["notes"])]
    assert not unexplained, f"notes do not explain {unexplained}"
