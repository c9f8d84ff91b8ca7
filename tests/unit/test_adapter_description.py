"""The adapter unit's description: validation (one line per problem), derived structure, schedule,
traffic, workload fields and design-file table."""

from __future__ import annotations

import re

import numpy as np
import pytest

from hwgen.description.adapter import (
    AdapterConfig,
    AdapterJob,
    adapter_group_cycles,
    adapter_hides,
    adapter_problems,
    adapter_traffic_bits,
    load_adapter,
    tile_done_cycles,
)
from hwgen.description.config import ConfigError, core_config
from hwgen.description.schedule import job_cycles, steps
from hwgen.description.workload import Gemv, Workload, load_workload

FP16 = core_config(act="fp16", core=8, mu=2, max_n=64, max_m=64)
INT8 = core_config(act="int8", core=8, mu=2, max_n=64, max_m=64)


def _problems(core, **params) -> list[str]:
    with pytest.raises(ConfigError) as info:
        AdapterConfig(core=core, **params)
    return list(info.value.problems)


@pytest.mark.parametrize(("params", "pattern"), [
    ({"variant": "dora"}, r"^`adapter` must be one of lora, vera, ternary-a, got adapter='dora'$"),
    ({"max_rank": 0}, r"^`rank` must be in \[1, 256\], got rank=0$"),
    ({"max_rank": 257}, r"^`rank` must be in \[1, 256\], got rank=257$"),
    ({"chunk": 3}, r"^`chunk` must divide tile_n=8 or be a multiple of it, at most 64 .*got chunk=3$"),
    ({"chunk": 4, "lanes": 6}, (r"^`lanes` must be a multiple of chunk=4 \(trees of chunk lanes\), got "
                                "lanes=6$")),
    ({"lanes": 0.5}, r"^`lanes` must be in \[1, 4096\], got lanes=0.5$"),
    ({"variant": "ternary-a", "lanes": 9}, r"^`lanes` must be in \[1, 8\] \(up-projection outputs per cycle"),
    ({"variant": "ternary-a", "chunk": 8}, r"^`chunk` is for adapter=lora or vera"),
    ({"fmt": "int8"}, (r"^`adapter_fmt` must be one of fp16, bf16 for the floating-point core "
                       "lut_fp16_mu2_8x8, "
                      r"got adapter_fmt='int8'$")),
    ({"resident": 0}, r"^`resident` must be in \[1, 255\]"),
    ({"storage": "dram"}, r"^`adapter_storage` must be one of stream, onchip, got adapter_storage='dram'$"),
    ({"share": 5}, r"^`share` must be in \[1, 4\]"),
    ({"hold": 25}, r"^`hold` must be in \[1, 24\] \(output tiles held\), got hold=25$"),
    ({"seed": 3}, r"^`seed` is for adapter=vera \(its shared A and B\), got seed=3 with adapter=lora$"),
    ({"variant": "vera", "seed": -1}, r"^`seed` must be in \[0, 4294967295\], got seed=-1$"),
])
def test_bad_parameters_are_one_line_each_naming_the_option(params, pattern) -> None:
    problems = _problems(FP16, **params)
    assert len(problems) == 1, problems
    assert re.search(pattern, problems[0]), problems[0]


def test_unknown_options_are_named() -> None:
    assert re.match(r"^unknown adapter option\(s\) bogus \(allowed: chunk, fan_in, fmt, hold, lanes, ",
                    adapter_problems(FP16, {"bogus": 1})[0])


def test_every_bad_parameter_is_reported_at_once() -> None:
    problems = _problems(FP16, variant="lora", max_rank=0, chunk=5, resident=0, share=0)
    assert [p.split("`")[1] for p in problems] == ["rank", "chunk", "resident", "share"]


def test_ternary_a_needs_a_lut_core_with_act_format_luts() -> None:
    mac = core_config(arch="mac", act="fp16", core=8, max_n=64, max_m=64)
    assert _problems(mac, variant="ternary-a") == [
        "adapter=ternary-a fetches from the core's LUTs: it needs arch=lut, got arch=mac"]
    bfp = core_config(act="fp16", core=8, mu=2, fp_reduce="blockfp", max_n=64, max_m=64)
    assert "not fp_reduce=blockfp" in _problems(bfp, variant="ternary-a")[0]


def test_defaults_and_round_trip() -> None:
    ad = AdapterConfig(core=FP16)
    assert (ad.variant, ad.max_rank, ad.chunk, ad.lanes, ad.fmt, ad.hold) == ("lora", 16, 8, 8, "fp16", 8)
    assert AdapterConfig.from_dict(ad.to_dict()) == ad
    assert AdapterConfig(core=INT8).fmt == "int8"
    assert AdapterConfig(core=FP16, variant="ternary-a").lanes == FP16.keys
    assert ad.replace(lanes=16).lanes == 16 and ad.replace(lanes=16).trees == 2


def test_engines_are_mac_configs_of_the_adapter_format() -> None:
    ad = AdapterConfig(core=core_config(act="fp16", acc="fp32", core=8, mu=2, max_n=64, max_m=64), chunk=4,
                       lanes=12, max_rank=4)
    down, up = ad.down_engine, ad.up_engine
    assert (down.arch, down.act, down.acc, down.luts, down.keys, down.max_m) == ("mac", "fp16", "fp32", 4, 1,
                                                                                  12)
    assert (up.arch, up.luts, up.keys, up.max_n, up.max_m) == ("mac", 1, 8, 4, 64)
    assert AdapterConfig(core=FP16, variant="ternary-a").down_engine is None
    int_ad = AdapterConfig(core=INT8, max_rank=8)
    # exact sums of int8 x int8 products (each at most 2**14): 64 of them, and max_rank = 8
    assert int_ad.down_engine.act == "int8" and int_ad.u_width == (64 << 14).bit_length() + 1 == 22
    assert int_ad.v_width == (8 << 14).bit_length() + 1 == 19


def test_widths_and_buffers() -> None:
    ad = AdapterConfig(core=FP16, max_rank=8, share=2, hold=3)
    assert ad.u_entries == 16 and ad.hold_bits == 3 * 8 * 16
    assert ad.x_rows == (8, 8) and ad.x_bits == 64 * 16
    assert AdapterConfig(core=FP16, chunk=16, lanes=16).x_rows == (4, 16)
    assert AdapterConfig(core=FP16, variant="ternary-a").x_bits == 0
    assert dict(ad.job_fields) == {"adapter": 1, "rank": 4, "down": 5}
    int_vera = AdapterConfig(core=INT8, variant="vera", max_rank=8, resident=3)
    assert dict(int_vera.job_fields) == {"adapter": 2, "rank": 4, "down": 5, "shift_u": 6, "shift_s": 6,
                                         "shift_v": 6}


def test_tile_done_cycles_follow_the_step_order() -> None:
    for cfg in (FP16, core_config(act="fp16", core=8, mu=2, max_n=64, max_m=64, reuse=3, adder_stages=2)):
        for n, m in ((20, 20), (8, 64), (64, 9)):
            done = tile_done_cycles(cfg, n, m)
            assert done[-1] == job_cycles(cfg, n, m)
            order = steps(cfg, n, m)
            last_step = [int(np.flatnonzero((order[:, 0] == order[:, 0].max()) & (order[:, 1] == o))[0])
                         for o in range(len(done))]
            assert np.all(np.diff(done) > 0) and np.array_equal(np.argsort(done), np.argsort(last_step))


def test_down_cycles() -> None:
    ad = AdapterConfig(core=FP16, chunk=4, lanes=8)  # 2 groups of 4 lanes: 3 passes
    assert ad.down_cycles(20, 5) == 3 * (1 + 5 + 2 + 1)  # read, 5 steps, 2 levels, store
    vera = AdapterConfig(core=FP16, variant="vera", chunk=4, lanes=8)
    assert vera.down_cycles(20, 5) == 3 * (2 + 1 + 5 + 2 + 1)  # and 2 key cycles a pass
    assert ad.down_cycles(20, 0) == 0
    assert AdapterConfig(core=FP16, variant="ternary-a").down_cycles(20, 5) == 0
    assert vera.down_rows([4, 2, 3]) == 4 and ad.down_rows([4, 2, 3]) == 9


def test_group_cycles_hand_computed() -> None:
    ad = AdapterConfig(core=FP16, max_rank=4)  # 8 lanes, chunk 8: one group
    # core: T = 3, O = 3 tiles leave at 9, 12, 15. u stored at 3 + 1 + 4 passes x (1 + 3 steps +
    # 3 levels + 1) = 36; the job starts and scales u: 36 + 1 + 4 = 41. Each tile: 4 up cycles, the
    # add and the cycle it leaves: 47, 53, 59.
    assert adapter_group_cycles(ad, [AdapterJob(20, 20, 4)]) == (15, 59)
    assert adapter_group_cycles(ad, [AdapterJob(20, 20, 0)]) == (15, 15)
    # a one-tile hold buffer stalls the core, but the lanes set the pace here
    assert adapter_group_cycles(ad.replace(hold=1), [AdapterJob(20, 20, 4)])[1] == 59
    assert ad.add_latency(20, 4) == 1 + 1 + 1  # read from the hold buffer, add, leave
    assert ad.replace(lanes=4, chunk=4).add_latency(20, 4) == 1 + 2 * 1 + 4 + 1  # two groups a tile


def test_group_hides_with_enough_lanes_and_shares_the_down_pass() -> None:
    core = core_config(act="fp16", core=8, mu=2, max_n=512, max_m=512)
    slow = AdapterConfig(core=core, max_rank=16, lanes=16)
    fast = slow.replace(lanes=24)
    group = [AdapterJob(256, 256, 16), AdapterJob(256, 64, 16)]
    base, slow_cycles = adapter_group_cycles(slow, group)
    _, fast_cycles = adapter_group_cycles(fast, group)
    assert (base, slow_cycles, fast_cycles) == (1348, 1380, 1351)  # 24 lanes hide it (3 cycles)
    assert adapter_hides(fast, group) and not adapter_hides(slow, group)
    # alone, the short second job cannot hide its own down-projection
    assert adapter_group_cycles(fast, group[1:]) == (291, 416)
    with pytest.raises(ConfigError, match="needs share >= 2"):
        adapter_group_cycles(slow.replace(share=1), group)


def test_ternary_a_computes_u_in_more_core_tiles() -> None:
    ad = AdapterConfig(core=FP16, variant="ternary-a", max_rank=4)
    base, cycles = adapter_group_cycles(ad, [AdapterJob(20, 20, 4)])
    assert base == job_cycles(FP16, 20, 20) and ad.ternary_tiles(4) == 1
    assert cycles >= job_cycles(FP16, 20, 28)  # the core computes one more tile first


def test_traffic_and_storage_bits() -> None:
    lora = AdapterConfig(core=FP16, max_rank=8)
    assert adapter_traffic_bits(lora, 64, 32, 8) == 8 * (64 + 32) * 16 + 16
    assert adapter_traffic_bits(lora, 64, 32, 0) == 0
    vera = AdapterConfig(core=FP16, variant="vera", max_rank=8)
    assert adapter_traffic_bits(vera, 64, 32, 8) == (8 + 32) * 16
    tern = AdapterConfig(core=FP16, variant="ternary-a", max_rank=8)
    assert adapter_traffic_bits(tern, 64, 32, 8) == 8 * 32 * FP16.key_bits + 8 * 32 * 16 + 16
    onchip = lora.replace(storage="onchip", resident=2)
    assert adapter_traffic_bits(onchip, 64, 32, 8) == 0
    # two entries, each the words of the largest job: down 3 x 8 steps, up 8 tiles x 1 group x 8 rows
    assert onchip.store_words == -(-24 // 1) * 8 + 8 * 1 * 8 and lora.store_bits == 0
    assert onchip.store_bits == 2 * onchip.store_words * 8 * 16
    int_vera = AdapterConfig(core=INT8, variant="vera", max_rank=8)
    assert adapter_traffic_bits(int_vera, 64, 32, 8) == 8 * 16 + 32 * 8


def test_workload_names_projections_and_groups_shared_inputs() -> None:
    wl = load_workload("designs/workloads/bitnet_b158_2b4t.toml")
    assert [g.projection for g in wl.gemvs] == ["q", "k", "v", "o", "gate", "up", "down"]
    groups = wl.adapter_groups(16, ("q", "k", "v", "o", "gate", "up", "down"))
    assert [len(jobs) for _, jobs in groups] == [3, 1, 2, 1]
    only_q = wl.adapter_groups(8, ("q",))
    assert only_q[0][1] == [(2560, 2560, 8), (2560, 640, 0), (2560, 640, 0)]
    assert all(rank == 0 for _, jobs in only_q[1:] for *_, rank in jobs)


def test_workload_adapter_table_is_validated(tmp_path) -> None:
    w = Workload("w", (Gemv("q", 8, 8, projection="q"),), adapter_rank=4, adapter_targets=("q",))
    assert w.adapter_groups() == [(1, [(8, 8, 4)])]
    with pytest.raises(ConfigError, match=r"^`projection` must be one of q, k, v"):
        Gemv("x", 8, 8, projection="qq")
    with pytest.raises(ConfigError, match=r"adapter `targets` 'k' name no GEMV of the workload"):
        Workload("w", (Gemv("q", 8, 8, projection="q"),), adapter_rank=4, adapter_targets=("k",))
    with pytest.raises(ConfigError, match=r"adapter `rank` and `targets` go together"):
        Workload("w", (Gemv("q", 8, 8, projection="q"),), adapter_rank=4)
    path = tmp_path / "w.toml"
    path.write_text('name = "w"\nsource = "x"\n[[gemv]]\nname = "q"\nprojection = "q"\nn = 8\nm = '
                    '8\ncount = 1\n'
                    '[adapter]\nrank = 4\ntargets = ["q"]\nalpha = 2\n')
    with pytest.raises(ConfigError, match=r"\[adapter\]: unknown key\(s\) alpha \(allowed: rank, targets\)"):
        load_workload(path)
    path.write_text(path.read_text().replace("alpha = 2\n", ""))
    assert load_workload(path).adapter_rank == 4


def test_design_file_adapter_table(tmp_path) -> None:
    path = tmp_path / "d.toml"
    path.write_text('[core]\nact = "fp16"\nmu = 2\nluts = 4\nkeys = 8\n[adapter]\nvariant = '
                    '"vera"\nmax_rank = 8\n')
    assert load_adapter(path) == {"variant": "vera", "max_rank": 8}
    path.write_text('[core]\nact = "fp16"\nmu = 2\nluts = 4\nkeys = 8\n[adapter]\nrank = 8\n')
    with pytest.raises(ConfigError, match=r"unknown key\(s\) rank in \[adapter\] \(allowed: "):
        load_adapter(path)
    path.write_text('[core]\nact = "fp16"\nmu = 2\nluts = 4\nkeys = 8\n')
    assert load_adapter(path) is None
