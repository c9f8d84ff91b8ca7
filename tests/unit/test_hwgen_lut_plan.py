import itertools

import pytest

from hwgen.description.lut_plan import MAX_MU, key_bits, lut_entries, lut_plan, trits


@pytest.mark.parametrize("mu", range(1, MAX_MU + 1))
def test_adder_count_is_minimum(mu):
    plan = lut_plan(mu)
    assert plan.entries == (3**mu - 1) // 2 == lut_entries(mu)
    assert plan.adders == plan.entries - mu
    assert plan.depth == mu - 1


def test_entry_counts_match_known_values():
    assert [lut_entries(mu) for mu in range(1, 8)] == [1, 4, 13, 40, 121, 364, 1093]


@pytest.mark.parametrize("mu", range(1, MAX_MU + 1))
def test_every_entry_matches_truth_table_symbolically(mu):
    """Walk the plan on coefficient vectors: entry v must be exactly sum_j trits(v)[j] * a_j."""
    plan = lut_plan(mu)
    coeff = {0: (0,) * mu}
    for j, v in enumerate(plan.singles):
        coeff[v] = tuple(1 if i == j else 0 for i in range(mu))
    for step in plan.steps:
        assert step.src in coeff, f"step for entry {step.dst} reads entry {step.src} before it is built"
        assert step.dst not in coeff, f"entry {step.dst} built twice"
        delta = -1 if step.subtract else 1
        vec = list(coeff[step.src])
        assert vec[step.act] == 0, "an add must bring in a new activation, never x + 0 or x - x"
        vec[step.act] += delta
        coeff[step.dst] = tuple(vec)
    assert sorted(coeff) == list(range(plan.entries + 1))
    for v, vec in coeff.items():
        assert vec == trits(v, mu)
    # the stored half is exactly the weight vectors whose most significant non-zero weight is +1
    stored = {w for w in itertools.product((-1, 0, 1), repeat=mu) if any(w) and [x for x in w if x][-1] == 1}
    assert stored == {coeff[v] for v in range(1, plan.entries + 1)}


def test_trits_rejects_overflow():
    assert trits(-4, 2) == (-1, -1)
    with pytest.raises(ValueError, match=r"^value 5 does not fit in 2 balanced-ternary digits$"):
        trits(5, 2)


@pytest.mark.parametrize("mu", [0, 9, -1])
def test_plan_rejects_bad_mu(mu):
    with pytest.raises(ValueError, match=rf"^`mu` must be in \[1, 8\], got mu={mu}$"):
        lut_plan(mu)


def test_key_bits():
    assert [key_bits(mu) for mu in range(1, 9)] == [2, 4, 5, 7, 8, 10, 12, 13]
