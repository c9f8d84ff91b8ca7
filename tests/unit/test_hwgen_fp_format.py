"""FPFormat: presets, derived quantities, canonical NaNs, parsing and validation messages."""

import dataclasses

import pytest

from hwgen.gateware.arith import BF16, FP8_E4M3, FP8_E5M2, FP16, FP32, FPFormat

# (preset, exp_bits, man_bits, width, bias, canonical NaN, +inf, max finite)
PRESETS = [
    (FP16, 5, 10, 16, 15, 0x7E00, 0x7C00, 0x7BFF),
    (BF16, 8, 7, 16, 127, 0x7FC0, 0x7F80, 0x7F7F),
    (FP32, 8, 23, 32, 127, 0x7FC00000, 0x7F800000, 0x7F7FFFFF),
    (FP8_E4M3, 4, 3, 8, 7, 0x7C, 0x78, 0x77),
    (FP8_E5M2, 5, 2, 8, 15, 0x7E, 0x7C, 0x7B),
]


@pytest.mark.parametrize(
    ("fmt", "exp_bits", "man_bits", "width", "bias", "nan", "inf", "max_finite"), PRESETS
)
def test_preset_fields(fmt, exp_bits, man_bits, width, bias, nan, inf, max_finite):
    assert (fmt.exp_bits, fmt.man_bits, fmt.width, fmt.bias) == (exp_bits, man_bits, width, bias)
    assert hex(fmt.canonical_nan) == hex(nan)
    assert hex(fmt.inf) == hex(inf)
    assert hex(fmt.max_finite) == hex(max_finite)
    assert fmt.min_subnormal == 1
    assert fmt.sign_mask == 1 << (width - 1)
    assert fmt.exp_mask | fmt.man_mask | fmt.sign_mask == (1 << width) - 1
    assert fmt.exp_mask & fmt.man_mask == 0
    assert fmt.is_nan(fmt.canonical_nan) and not fmt.is_nan(fmt.inf)


def test_canonical_nan_layout():
    for fmt in (FP16, BF16, FP32, FP8_E4M3, FP8_E5M2):
        sign, exp, man = fmt.fields(fmt.canonical_nan)
        assert (sign, exp, man) == (0, fmt.exp_max, 1 << (fmt.man_bits - 1))
        assert fmt.pack(sign, exp, man) == fmt.canonical_nan


def test_presets_are_class_attributes():
    assert FPFormat.FP16 is FP16 and FPFormat.BF16 is BF16 and FPFormat.FP32 is FP32
    assert FPFormat.FP8_E4M3 is FP8_E4M3 and FPFormat.FP8_E5M2 is FP8_E5M2


def test_e4m3_is_ieee_style_not_fn():
    # IEEE-style E4M3: exponent 1111 encodes inf/NaN, so the largest finite value is 1.875 * 2**7 = 240.
    sign, exp, man = FP8_E4M3.fields(FP8_E4M3.max_finite)
    assert (sign, exp, man) == (0, 14, 7)
    assert (1 + man / 8) * 2.0 ** (exp - FP8_E4M3.bias) == 240.0


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("fp16", FP16),
        ("bf16", BF16),
        ("fp32", FP32),
        ("fp8e4m3", FP8_E4M3),
        ("fp8e5m2", FP8_E5M2),
        ("FP16", FP16),
    ],
)
def test_parse(name, fmt):
    assert FPFormat.parse(name) == fmt
    assert FPFormat.parse(name).name == name.lower()


@pytest.mark.parametrize("value", ["fp9", "", "e4m3"])
def test_parse_rejects_unknown(value):
    with pytest.raises(
        ValueError,
        match=rf"^{value!r} is not a valid FP format name "
        r"\(try one of 'fp16', 'bf16', 'fp32', 'fp8e4m3', 'fp8e5m2'\)$",
    ):
        FPFormat.parse(value)


def test_parse_rejects_non_string():
    with pytest.raises(ValueError, match=r"^16 is not a valid FP format name \(try one of .*\)$"):
        FPFormat.parse(16)


def test_custom_format():
    fmt = FPFormat(exp_bits=3, man_bits=2)
    assert (fmt.width, fmt.bias, fmt.canonical_nan, fmt.name) == (6, 3, 0b011110, "e3m2")
    assert FPFormat(exp_bits=5, man_bits=10) == FP16


def test_frozen_and_kw_only():
    with pytest.raises(dataclasses.FrozenInstanceError):
        FP16.exp_bits = 6
    with pytest.raises(TypeError):
        FPFormat(5, 10)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"exp_bits": 9, "man_bits": 3}, r"^`exp_bits` must be in \[2, 8\] bits, got exp_bits=9$"),
        ({"exp_bits": 1, "man_bits": 3}, r"^`exp_bits` must be in \[2, 8\] bits, got exp_bits=1$"),
        ({"exp_bits": 5, "man_bits": 0}, r"^`man_bits` must be in \[1, 23\] bits, got man_bits=0$"),
        ({"exp_bits": 5, "man_bits": 24}, r"^`man_bits` must be in \[1, 23\] bits, got man_bits=24$"),
        (
            {"exp_bits": 0, "man_bits": 30},
            (r"^`exp_bits` must be in \[2, 8\] bits, got exp_bits=0; "
             r"`man_bits` must be in \[1, 23\] bits, got man_bits=30$"),
        ),
    ],
)
def test_validation_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FPFormat(**kwargs)


def test_validation_types():
    with pytest.raises(TypeError, match=r"^`exp_bits` must be an integer, not '5'$"):
        FPFormat(exp_bits="5", man_bits=10)
    with pytest.raises(TypeError, match=r"^`man_bits` must be an integer, not True$"):
        FPFormat(exp_bits=5, man_bits=True)
