import pytest

from hwgen.description.config import (
    ActType,
    ConfigError,
    CoreConfig,
    core_config,
    int_product_sum_width,
    int_sum_width,
)


def test_headline_core():
    cfg = core_config(core=64, act="int8", mu=4)
    assert (cfg.mu, cfg.luts, cfg.keys, cfg.tile_n, cfg.tile_m) == (4, 16, 64, 64, 64)
    assert cfg.name == "lut_int8_mu4_64x64"
    assert CoreConfig(**cfg.to_dict()) == cfg


def test_core_rounds_luts_up():
    cfg = core_config(core=64, mu=3)
    assert (cfg.luts, cfg.tile_n) == (22, 66)


@pytest.mark.parametrize("terms,width", [(1, 8), (2, 8), (3, 8), (64, 8), (8192, 8), (5, 2), (1, 16)])
def test_int_sum_width_is_tight(terms, width):
    bits = int_sum_width(terms, width)
    extreme = terms << (width - 1)  # e.g. all activations -2**(w-1) times weight -1
    assert extreme <= (1 << (bits - 1)) - 1, "the extreme sum must fit"
    assert -extreme >= -(1 << (bits - 1))
    assert extreme > (1 << (bits - 2)) - 1, "one bit fewer must not fit"


def test_widths():
    cfg = CoreConfig(act="int8", mu=4, luts=16, keys=64, max_n=8192)
    assert cfg.lut_width == 11  # +-4*128 = 512 needs 11 signed bits
    assert cfg.acc_width == 22  # 8192*128 = 2**20 needs 22 signed bits
    assert cfg.entry_width(1) == 9 and cfg.entry_width(40) == 11
    assert cfg.key_bits == 7


@pytest.mark.parametrize("luts,pipeline,cuts", [
    (1, 0, (False,)), (1, 1, (True,)),
    (16, 0, (False,) * 5), (16, 1, (False, False, True, False, False)),
    (16, 5, (True,) * 5), (5, 2, (True, False, True, False)),
])
def test_pipeline_cuts(luts, pipeline, cuts):
    cfg = CoreConfig(luts=luts, keys=4, mu=2, max_n=64, max_m=64, pipeline=pipeline)
    assert cfg.pipeline_cuts == cuts
    assert sum(cfg.pipeline_cuts) == pipeline


@pytest.mark.parametrize("kwargs,message", [
    (dict(mu=0), r"`mu` must be in \[1, 8\], got mu=0"),
    (dict(mu=9), r"`mu` must be in \[1, 8\], got mu=9"),
    (dict(luts=0), r"`luts` must be in \[1, 4096\] LUTs, got luts=0"),
    (dict(keys=0), r"`keys` must be in \[1, 4096\] fetchers per LUT, got keys=0"),
    (dict(act="int17"), r"`act` integer width must be in \[2, 16\] bits, got act='int17'"),
    (dict(act="int1"), r"`act` integer width must be in \[2, 16\] bits, got act='int1'"),
    (dict(act="uint8"),
     r"`act` must be one of int2..int16, fp16, bf16, fp32, fp8e4m3, fp8e5m2, got act='uint8'"),
    (dict(acc="fp32"), (r"`acc` applies to floating-point activations only \(integer accumulators are sized "
                        r"from max_n\), got acc='fp32' with act='int8'")),
    (dict(adder_stages=2), (r"`adder_stages` applies to floating-point activations only \(integer adders are "
                            r"combinational; use `pipeline`\), got adder_stages=2")),
    (dict(act="fp16", acc="fp8e5m2"), (r"`acc` must be a floating-point format at least as wide as "
                                       r"act='fp16' in exponent and mantissa \(e.g. 'fp32'\), got "
                                       r"acc='fp8e5m2'")),
    (dict(act="bf16", acc="int8"), (r"`acc` must be a floating-point format at least as wide as act='bf16' "
                                    r"in exponent and mantissa \(e.g. 'fp32'\), got acc='int8'")),
    (dict(act="fp16", adder_stages=9),
     r"`adder_stages` must be in \[0, 8\] registers per adder, got adder_stages=9"),
    (dict(max_n=7), r"`max_n` must be at least the tile height luts\*mu = 8 activations, got max_n=7"),
    (dict(max_m=3), r"`max_m` must be at least the tile width keys = 4 outputs, got max_m=3"),
    (dict(reuse=5), r"`reuse` must be in \[1, ceil\(max_m/keys\) = 4\] output tiles, got reuse=5"),
    (dict(pipeline=4), (r"`pipeline` must be in \[0, 1 \+ ceil\(log2\(luts\)\) = 3\] register stages "
                        r"for luts=4, got pipeline=4")),
    (dict(pipeline=-1), r"`pipeline` must be in \[0, 64\] register stages, got pipeline=-1"),
    (dict(mu=2.0), r"`mu` must be an integer, got mu=2.0"),
    (dict(arch="systolic"), r"`arch` must be one of lut, signflip, mac, got arch='systolic'"),
    (dict(arch="signflip"), (r"`mu` must be 1 for arch='signflip' \(each weight selects \+a, -a or 0: no LUT "
                             r"reuse\), got mu=2")),
    (dict(arch="mac", mu=3), (r"`mu` must be 1 for arch='mac' \(no LUTs, one multiplier per weight; `luts` "
                              r"is the activations per cycle\), got mu=3")),
    (dict(name="1bad"), (r"`name` must be a Verilog identifier \(\[A-Za-z_\]\[A-Za-z0-9_\]\*, "
                         r"at most 128 characters\), got name='1bad'")),
])
def test_bad_parameters_name_parameter_value_and_range(kwargs, message):
    base = dict(act="int8", mu=2, luts=4, keys=4, max_n=16, max_m=16)
    base.update(kwargs)
    with pytest.raises(ConfigError, match=rf"^{message}$"):
        CoreConfig(**base)


def test_all_problems_reported_at_once():
    with pytest.raises(ConfigError) as info:
        CoreConfig(act="int99", mu=0, luts=0, keys=1)
    assert len(info.value.problems) == 3


def test_core_config_needs_a_size():
    with pytest.raises(ConfigError, match=r"^give `core` \(tile edge\) or both `luts` and `keys`$"):
        core_config()
    with pytest.raises(ConfigError,
                       match=r"^`core` must be in \[1, 4096\] \(tile edge, activations\), got core=0$"):
        core_config(core=0)


def test_act_type_range():
    t = ActType.parse("int4")
    assert (t.min_value, t.max_value, str(t)) == (-8, 7, "int4")


def test_fp_config_latencies_and_widths():
    cfg = CoreConfig(act="fp16", acc="fp32", adder_stages=2, mu=3, luts=5, keys=4, max_n=60, max_m=60,
                     pipeline=1)
    assert cfg.is_fp and cfg.lut_width == cfg.entry_width(13) == 16 and cfg.acc_width == 32
    assert cfg.lut_build_latency == 2 * 2  # plan depth 2
    assert cfg.tree_latency == 3 * 2 + 1  # ceil(log2 5) levels + one cut register
    assert cfg.acc_latency == 2
    assert cfg.name == "lut_fp16_fp32_mu3_15x4"
    assert CoreConfig(**cfg.to_dict()) == cfg
    assert CoreConfig(act="bf16", acc="bf16", luts=1, keys=1, mu=1, max_n=1, max_m=1).acc_width == 16


@pytest.mark.parametrize("terms,width", [(1, 8), (1, 2), (2, 8), (8, 8), (64, 16), (3, 4)])
def test_int_product_sum_width_is_tight(terms, width):
    bits = int_product_sum_width(terms, width)
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    top, bottom = terms * lo * lo, terms * lo * hi  # the extreme sums of generic products
    assert -(1 << (bits - 1)) <= bottom and top <= (1 << (bits - 1)) - 1, "the extreme sums must fit"
    assert top > (1 << (bits - 2)) - 1, "one bit fewer must not fit"


def test_baselines_default_to_mu_1_and_name_their_arch():
    for arch in ("signflip", "mac"):
        cfg = core_config(core=64, arch=arch)
        assert (cfg.mu, cfg.luts, cfg.keys, cfg.tile_n) == (1, 64, 64, 64)
        assert cfg.name == f"{arch}_int8_64x64"
        assert CoreConfig(**cfg.to_dict()) == cfg and cfg.to_dict()["mu"] == 1
        assert CoreConfig(arch=arch, mu=1, luts=64, keys=64) == cfg  # one spelling per design
    fp_mac = CoreConfig(arch="mac", act="fp16", acc="fp32", luts=4, keys=2, max_n=8, max_m=8)
    assert fp_mac.name == "mac_fp16_fp32_4x2"
    assert core_config(core=64, act="int8", mu=4).name == "lut_int8_mu4_64x64"


def test_lut_core_has_no_default_mu():
    """The product's default group size is the cost model's choice, which the description cannot
    make: a LUT core without ``mu`` is refused with one line naming it."""
    for build in (lambda: CoreConfig(luts=16, keys=64), lambda: core_config(core=64, act="int8")):
        with pytest.raises(ConfigError, match=r"^`mu` must be given for arch='lut': activations per LUT, "
                                              r"in \[1, 8\] \(costmodel.choose_mu .*\)$"):
            build()


def test_mac_widths_products_generic_accumulators_ternary():
    cfg = CoreConfig(arch="mac", act="int8", luts=8, keys=4, max_n=64, max_m=64)
    assert cfg.key_bits == 8  # a full-width weight operand per (lane, output)
    assert cfg.product_width == cfg.tree_width(1) == 16  # full signed 8 x 8 product
    assert [cfg.tree_width(t) for t in (2, 4, 8)] == [17, 18, 19]  # 8 * 2**14 needs 19 signed bits
    assert cfg.acc_width == int_sum_width(64, 8) == 15  # ternary GEMVs: |y| <= 64 * 128
    assert cfg.mul_latency == 0 and cfg.pipeline_latency == 3
    summary = cfg.summary()
    assert (summary["arch"], summary["multipliers"], summary["product_width"], summary["lut_entries"]) == (
        "mac", 32, 16, 0)


def test_fp_mac_pipelines_multipliers_like_adders():
    cfg = CoreConfig(arch="mac", act="fp16", adder_stages=2, luts=5, keys=2, max_n=20, max_m=8, pipeline=1)
    assert cfg.key_bits == cfg.product_width == cfg.tree_width(5) == 16
    assert (cfg.lut_build_latency, cfg.mul_latency, cfg.tree_latency, cfg.acc_latency) == (0, 2, 3 * 2 + 1, 2)
    assert cfg.pipeline_latency == 3 + 2 + 7 + 2
    lut = CoreConfig(act="fp16", adder_stages=2, mu=1, luts=5, keys=2, max_n=20, max_m=8, pipeline=1)
    assert lut.mul_latency == 0 and lut.pipeline_latency == cfg.pipeline_latency - 2


def test_signflip_is_lut_at_mu_1():
    cfg = CoreConfig(arch="signflip", act="bf16", luts=6, keys=3, max_n=12, max_m=6)
    lut = CoreConfig(act="bf16", mu=1, luts=6, keys=3, max_n=12, max_m=6)
    derived = ("tile_n", "key_bits", "lut_width", "acc_width", "tree", "plan", "pipeline_cuts",
               "lut_build_latency", "mul_latency", "tree_latency", "acc_latency")
    assert [getattr(cfg, a) for a in derived] == [getattr(lut, a) for a in derived]
    assert cfg.key_bits == 2 and cfg.plan.entries == 1 and cfg.plan.adders == 0
    assert cfg.name == "signflip_bf16_6x3" and lut.name == "lut_bf16_mu1_6x3"
