import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hwgen.description.config import CoreConfig
from hwgen.description.key_encoding import (
    check_ternary,
    decode_keys,
    encode_weights,
    key_stream,
    weight_operands,
    weight_stream,
)
from hwgen.description.lut_plan import key_bits, trits
from sim import key_encoding as torch_keys


@st.composite
def ternary(draw):
    n = draw(st.integers(1, 23))
    m = draw(st.integers(1, 9))
    return draw(arrays(np.int8, (n, m), elements=st.integers(-1, 1)))


@settings(max_examples=150, deadline=None)
@given(w=ternary(), mu=st.integers(1, 8))
def test_round_trip(w, mu):
    keys = encode_weights(w, mu)
    assert keys.shape == (-(-w.shape[0] // mu), w.shape[1])
    assert int(keys.max()) < (1 << key_bits(mu))
    assert np.array_equal(decode_keys(keys, mu, w.shape[0]), w)
    torch_w = torch.from_numpy(w)
    torch_decoded = torch_keys.decode_keys(torch_keys.encode_weights(torch_w, mu), mu, w.shape[0])
    assert torch.equal(torch_decoded, torch_w)


@pytest.mark.parametrize("mu", [1, 2, 3, 5])
def test_key_layout_is_sign_and_index(mu):
    bits = key_bits(mu)
    for v in range(-(3**mu - 1) // 2, (3**mu - 1) // 2 + 1):
        w = np.array(trits(v, mu), dtype=np.int8).reshape(mu, 1)
        key = int(encode_weights(w, mu)[0, 0])
        assert key >> (bits - 1) == (1 if v < 0 else 0)
        assert key & ((1 << (bits - 1)) - 1) == abs(v)


def test_zero_group_is_key_zero():
    assert encode_weights(np.zeros((5, 3), dtype=int), 5).tolist() == [[0, 0, 0]]


def test_mu5_is_8_bits():
    assert key_bits(5) == 8


@pytest.mark.parametrize("bad,message", [
    (np.array([[0, 2]]), r"^weights must be ternary \(-1, 0, \+1\); found 2 at index \(0, 1\)$"),
    (np.array([[0.5]]), r"^weights must be ternary \(-1, 0, \+1\); found 0\.5 at index \(0, 0\)$"),
    (np.array([1, 0]), r"^weights must be a 2-D N x M matrix, got shape \(2,\)$"),
])
def test_rejects_non_ternary(bad, message):
    with pytest.raises(ValueError, match=message):
        encode_weights(bad, 2)


def test_check_ternary_accepts_float_ternary():
    assert check_ternary(np.array([[1.0, -1.0, 0.0]])).dtype == np.int64


def test_decode_rejects_invalid_keys():
    with pytest.raises(ValueError, match=r"^key 5 at index \(0, 0\) is not a valid key for mu=1$"):
        decode_keys(np.array([[5]]), 1)


def test_key_stream_order_and_padding():
    cfg = CoreConfig(mu=2, luts=2, keys=3, max_n=16, max_m=16, reuse=2)
    rng = np.random.default_rng(0)
    w = rng.integers(-1, 2, (7, 8))  # 4 groups -> T = 2; 8 cols -> O = 3
    stream = key_stream(cfg, w)
    keys = encode_weights(w, 2)
    assert stream.shape == (2 * 3, 2, 3)
    order = [(0, 0), (0, 1), (1, 0), (1, 1), (0, 2), (1, 2)]
    for s, (t, o) in enumerate(order):
        for lut in range(2):
            for k in range(3):
                g, col = t * 2 + lut, o * 3 + k
                expected = keys[g, col] if g < keys.shape[0] and col < 8 else 0
                assert stream[s, lut, k] == expected


@pytest.mark.parametrize("act,values", [
    ("int8", [1, -1, 0]),
    ("int2", [1, -1, 0]),
    ("fp16", [0x3C00, 0xBC00, 0x0000]),
    ("bf16", [0x3F80, 0xBF80, 0x0000]),
    ("fp32", [0x3F800000, 0xBF800000, 0]),
    ("fp8e4m3", [0x38, 0xB8, 0x00]),
])
def test_mac_weight_operands_are_plus_one_minus_one_plus_zero(act, values):
    cfg = CoreConfig(arch="mac", act=act, luts=2, keys=2, max_n=4, max_m=4)
    ops = weight_operands(cfg, np.array([[1, -1, 0]]))
    assert ops.dtype == np.int64 and ops.tolist() == [values]
    assert torch.equal(torch_keys.weight_operands(cfg, torch.tensor([[1, -1, 0]])), torch.tensor([values]))


def test_mac_weight_stream_tiles_like_the_key_stream():
    """Same step order and padding as the keys of the signflip core of the same tile (mu = 1:
    key 1 = +1, key 3 = sign | 1 = -1, key 0 = 0)."""
    mac = CoreConfig(arch="mac", act="fp16", luts=3, keys=2, max_n=16, max_m=16, reuse=2)
    signflip = CoreConfig(arch="signflip", act="fp16", luts=3, keys=2, max_n=16, max_m=16, reuse=2)
    w = np.random.default_rng(1).integers(-1, 2, (8, 5))  # T = 3 (rows 8 of 9), O = 3 (cols 5 of 6)
    stream = weight_stream(mac, w)
    keys = key_stream(signflip, w)
    assert stream.shape == keys.shape == (3 * 3, 3, 2) and stream.dtype == np.int64
    as_operands = np.select([keys == 1, keys == 3], [0x3C00, 0xBC00], 0)
    assert np.array_equal(stream, as_operands)
    assert np.array_equal(key_stream(mac, w), stream)  # the `keys` stream of a mac core carries operands
    assert torch.equal(torch_keys.weight_stream(mac, torch.from_numpy(w)), torch.from_numpy(stream))


def test_weight_stream_is_for_mac_cores_only():
    cfg = CoreConfig(arch="signflip", luts=2, keys=2, max_n=4, max_m=4)
    with pytest.raises(ValueError, match=r"^weight_stream is for arch='mac' cores, got arch='signflip' "
                                         r"\(use key_stream\)$"):
        weight_stream(cfg, np.ones((2, 2), dtype=int))
