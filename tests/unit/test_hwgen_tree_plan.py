import pytest

from hwgen.description.tree_plan import tree_depth, tree_plan


@pytest.mark.parametrize("n", range(1, 40))
def test_tree_is_balanced_and_minimal(n):
    levels = tree_plan(n)
    assert len(levels) == tree_depth(n) == (n - 1).bit_length()
    width, adders = n, 0
    covered = [{i} for i in range(n)]
    for level in levels:
        used = [i for node in level for i in node]
        assert used == list(range(width)), "every value of a level is used exactly once, in order"
        adders += sum(1 for node in level if len(node) == 2)
        covered = [set().union(*(covered[i] for i in node)) for node in level]
        width = len(level)
    assert width == 1 and adders == n - 1
    assert covered == [set(range(n))]


def test_tree_rejects_empty():
    with pytest.raises(ValueError, match=r"^a reduction tree needs at least 1 input, got n=0$"):
        tree_plan(0)
