"""The table validity check agrees with CoreConfig row by row (the same rules), and the description's
array forms (ConfigArrays, the tree's closed forms) equal the scalar properties."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from hwgen.description import ConfigArrays, ConfigError, CoreConfig, check_table
from hwgen.description.tree_plan import bit_length, level_last_terms, level_values, tree_depth, tree_nodes
from hwgen.description.validity import RULES, config_problems


def _pick(rng: np.random.Generator, common, rare, p_rare: float = 0.12):
    """A value: mostly one of ``common``, sometimes one of ``rare`` (invalid types and values)."""
    pool = rare if rng.random() < p_rare else common
    return pool[int(rng.integers(len(pool)))]


def _random_row(rng: np.random.Generator) -> dict:
    """Init fields of a config, drawn to break every rule now and then (``None``: not given)."""
    arch = _pick(rng, ["lut"] * 6 + ["signflip", "mac"], ["systolic", 3, None])
    act = _pick(rng, ["int8", "int4", "int16", "int2", "fp16", "bf16", "fp32", "fp8e4m3", "fp8e5m2"],
                ["int17", "int1", "uint8", 8, None])
    fp = isinstance(act, str) and not act.startswith("int")
    acc = _pick(rng, ["", "fp32", act] if fp else [""],
                ["fp16", "bf16", "fp8e5m2", "int8", "int17", "xx", 8, None])
    stages = _pick(rng, [0, 1, 2, 3] if fp else [0], [9, -1, 2, 2.0, 0.0, "x", None])
    mu = _pick(rng, [1, 2, 3, 4, 5, 6, 7, 8] if arch == "lut" else [1, None],
               [0, 9, 2, 3, None, 2.0, True])
    luts = _pick(rng, [1, 2, 3, 5, 8, 13, 16, 64, 128, 500], [0, 5000, -3, None, "4", 2.5])
    keys = _pick(rng, [1, 2, 4, 7, 32, 128, 600], [0, 5000, 3.5, None])
    tile = luts * (mu if isinstance(mu, int) and mu > 0 else 1) if isinstance(luts, int) else 8
    k = keys if isinstance(keys, int) and keys > 0 else 4
    max_n = _pick(rng, [max(tile, 1), tile + 1, 4096, 8192, None], [tile - 1, 0, 1 << 25, 10**30, 64.0])
    max_m = _pick(rng, [k, k + 3, 100 * k, 8192, None], [k - 1, 0, "8192"])
    hi = math.ceil((max_m if isinstance(max_m, int) and max_m > 0 else 8192) / k)
    reuse = _pick(rng, [1, 1, 2, hi, None], [hi + 1, 0, 1.5, 70_000_000])
    depth = tree_depth(luts) if isinstance(luts, int) and luts > 0 else 2
    pipeline = _pick(rng, [0, 1, depth + 1, None], [depth + 2, -1, 65, "1"])
    name = _pick(rng, ["", "", "core_7"], ["1bad", "a-b", 5, "x" * 129, None])
    fp_reduce = _pick(rng, ["ieee", "ieee", "blockfp", "fused", None] if fp else ["ieee", None],
                      ["blockfp", "fused", "tree", 2])
    blockfp = fp_reduce in ("blockfp", "fused")
    fp_width = _pick(rng, [0, 2, 12, 20, 32] if blockfp else [0, None], [1, 33, 12, 2.5, "8"])
    fp_round = _pick(rng, ["rne", "rtz"] if blockfp else ["rne", None], ["rtz", "even", None])
    fp_sticky = _pick(rng, [False, True, None] if fp_reduce == "fused" else [False, None], [True, 1, "no"])
    return {"arch": arch, "act": act, "acc": acc, "adder_stages": stages, "mu": mu, "luts": luts,
            "keys": keys, "max_n": max_n, "max_m": max_m, "reuse": reuse, "pipeline": pipeline,
            "fp_reduce": fp_reduce, "fp_width": fp_width, "fp_round": fp_round, "fp_sticky": fp_sticky,
            "name": name}


def _scalar(row: dict) -> tuple[list[str], list[str]]:
    """CoreConfig's problems and emit problems of a row (``None``: not given, but for luts and keys)."""
    kwargs = {k: v for k, v in row.items() if v is not None or k in ("luts", "keys")}
    try:
        cfg = CoreConfig(**kwargs)
    except ConfigError as exc:
        return list(exc.problems), []
    return [], cfg.emit_problems()


@pytest.fixture(scope="module")
def drawn():
    rng = np.random.default_rng(2024)
    rows = [_random_row(rng) for _ in range(4000)]
    return rows, check_table(pd.DataFrame(rows, dtype=object))


def test_table_check_agrees_with_core_config(drawn):
    rows, table = drawn
    for i, row in enumerate(rows):
        problems, emit = _scalar(row)
        assert table.valid[i] == (not problems), (row, problems)
        assert table.problems[i] == "\n".join(problems), row
        assert table.emittable[i] == (not problems and not emit), row
        assert table.emit_problems[i] == "\n".join(emit), row


@pytest.mark.parametrize("fragment", [
    "`arch` must be one of", "`act` integer width must be", "`act` must be one of",
    "`acc` applies to floating-point", "`adder_stages` applies to floating-point", "`acc` must be one of",
    "`acc` integer width", "`acc` must be a floating-point format at least as wide",
    "`adder_stages` must be an integer", "`adder_stages` must be in", "`mu` must be given",
    "`mu` must be an integer", "`mu` must be in", "`luts` must be an integer", "`luts` must be in",
    "`keys` must be an integer", "`keys` must be in", "`max_n` must be an integer", "`max_n` must be in",
    "`max_m` must be an integer", "`max_m` must be in", "`reuse` must be an integer",
    "`reuse` must be in [1, 16777216]",
    "`pipeline` must be an integer", "`pipeline` must be in [0, 64]", "`mu` must be 1 for arch='signflip'",
    "`mu` must be 1 for arch='mac'", "`max_n` must be at least the tile", "`max_m` must be at least the tile",
    "`reuse` must be in [1, ceil(max_m/keys)", "`pipeline` must be in [0, 1 + ceil(log2(luts))",
    "`name` must be a Verilog identifier", "`fp_reduce` must be one of",
    "`fp_reduce` applies to floating-point",
    "`fp_reduce` must be 'ieee' for arch='mac'", "`fp_width` must be an integer", "`fp_width` applies to",
    "`fp_width` must be in [2, 32]", "`fp_round` must be one of", "`fp_round` must be 'rne' with",
    "bits for fp_reduce='fused'", "`luts` must be in [1, 64] for fp_reduce='fused'",
    "`pipeline` must be 0 for fp_reduce='fused'", "`fp_sticky` must be true or false",
    "`fp_sticky` applies to fp_reduce='fused' only",
])
def test_the_draw_hits_every_rule(drawn, fragment):
    _, table = drawn
    assert table.problems.str.contains(fragment, regex=False).any()


def test_the_draw_has_valid_emittable_and_too_wide_designs(drawn):
    _, table = drawn
    assert table.valid.sum() > 300 and (~table.valid).sum() > 1000
    assert table.emittable.sum() > 200 and (table.valid & ~table.emittable).sum() > 20


def test_every_rule_is_one_definition_for_both_paths():
    assert all(rule.message is not None or rule.marks for rule in RULES)
    assert config_problems({"arch": "lut", "act": "int8", "acc": "", "adder_stages": 0, "mu": 0, "luts": 4,
                            "keys": 4, "max_n": 16, "max_m": 16, "reuse": 1, "pipeline": 0,
                            "fp_reduce": "ieee", "fp_width": 0, "fp_round": "rne", "fp_sticky": False,
                            "name": ""}) == [
        "`mu` must be in [1, 8], got mu=0"]


def test_missing_columns_and_cells_take_the_defaults():
    table = pd.DataFrame({"arch": ["mac", "lut", None], "mu": [np.nan, 3.0, 2.0], "luts": [4, 4, 4],
                          "keys": [4, 4, 4], "max_n": [np.nan, 64.0, 64.0]})
    out = check_table(table)
    assert out.valid.tolist() == [True, True, True], out.problems.tolist()
    bad = check_table(pd.DataFrame({"arch": ["lut", "lut"], "mu": [np.nan, 2.5], "luts": [4, 4],
                                    "keys": [4, 4]}))
    given = ("`mu` must be given for arch='lut': activations per LUT, in [1, 8] (costmodel.choose_mu picks "
             "the cost model's best, as `hwgen emit` does)")
    assert bad.problems.tolist() == [given, "`mu` must be an integer, got mu=2.5"]
    with pytest.raises(KeyError, match="keys"):
        check_table(pd.DataFrame({"mu": [1], "luts": [1]}))
    assert check_table(pd.DataFrame({"mu": [], "luts": [], "keys": []})).empty


def test_index_is_kept():
    out = check_table(pd.DataFrame({"mu": [2, 0], "luts": [4, 4], "keys": [8, 8]}, index=[10, 20]))
    assert out.index.tolist() == [10, 20] and out.valid.tolist() == [True, False]


# --- The array forms of the derived properties -------------------------------------------------

def _valid_configs(count: int, seed: int) -> list[CoreConfig]:
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        row = _random_row(rng)
        try:
            out.append(CoreConfig(**{k: v for k, v in row.items() if v is not None or k in ("luts", "keys")}))
        except ConfigError:
            pass
    return out


def test_config_arrays_equal_the_config_properties():
    configs = _valid_configs(400, seed=5)
    v = ConfigArrays.of(*configs)
    names = ("is_fp", "is_mac", "act_width", "tile_n", "tile_m", "key_bits", "max_tiles_n", "max_tiles_m",
             "lut_width", "product_width", "acc_width", "lut_build_latency", "mul_latency", "tree_latency",
             "acc_latency", "pipeline_latency", "step_bits", "is_blockfp", "int_lanes", "lane_width",
             "row_exp_bits", "buffer_row_bits", "fp_width", "is_fused", "tile_sum_width")
    cuts, emittable = v.pipeline_cuts, v.emittable
    for i, cfg in enumerate(configs):
        for name in names:
            assert getattr(v, name)[i] == getattr(cfg, name), (cfg, name)
        assert v.plan_depth[i] == cfg.plan.depth and v.tree_depth[i] == len(cfg.tree)
        assert v.control_register_bits[i] == cfg.control_registers.bits, cfg
        assert {k: w[i] for k, w in v.stream_bits.items()} == cfg.stream_bits
        assert emittable[i] == (not cfg.emit_problems())
        width = len(cfg.pipeline_cuts)
        assert tuple(cuts[i, :width]) == cfg.pipeline_cuts and not cuts[i, width:].any()
        for terms in (1, 2, 3, 7, cfg.luts):
            assert v.tree_width(terms)[i] == cfg.tree_width(terms), (cfg, terms)
        for k in range(1, cfg.mu + 1):
            assert v.sum_width(k)[i] == cfg._sum_width(k)
        assert v.config(i).to_dict() == {**cfg.to_dict(), "name": v.config(i).name}
        assert v.name(i) == cfg.default_name()
        if cfg.is_fused:
            assert v.fused_guard[i] == cfg.fused_guard
        if cfg.is_fp:
            fmt = cfg.act_type.fmt
            assert (v.act_exp_bits[i], v.act_man_bits[i]) == (fmt.exp_bits, fmt.man_bits)


def test_tree_closed_forms_equal_the_tree_plan():
    n = np.arange(1, 600)
    assert (tree_depth(n) == [len(tree_nodes(int(x))) for x in n]).all()
    for x in range(1, 600):
        for d, level in enumerate(tree_nodes(x), start=1):
            assert level_values(x, d) == len(level) and level_last_terms(x, d) == level[-1].terms
            assert all(node.terms == 1 << d for node in level[:-1])
    big = np.array([0, 1, 2, 3, (1 << 40) - 1, 1 << 40, (1 << 52) + 1])
    assert bit_length(big).tolist() == [int(x).bit_length() for x in big]
