import numpy as np
import pytest

from hwgen.description.config import CoreConfig
from hwgen.description.schedule import job_cycles, steps, tiles


@pytest.mark.parametrize("reuse", [1, 2, 3, 5])
@pytest.mark.parametrize("n,m", [(1, 1), (12, 40), (13, 41), (60, 50)])
def test_steps_cover_every_tile_once_in_block_order(reuse, n, m):
    cfg = CoreConfig(mu=2, luts=3, keys=4, max_n=60, max_m=60, reuse=reuse)
    t_count, o_count = tiles(cfg, n, m)
    order = steps(cfg, n, m)
    assert sorted(map(tuple, order)) == [(t, o) for t in range(t_count) for o in range(o_count)]
    # within an output tile, input tiles come in increasing order (accumulation order)
    for o in range(o_count):
        ts = order[order[:, 1] == o, 0]
        assert np.array_equal(ts, np.arange(t_count))
    # the LUT of tile t is rebuilt once per block of `reuse` output tiles
    rebuilds = sum(1 for i, (t, o) in enumerate(order) if i == 0 or order[i - 1][0] != t)
    assert rebuilds == t_count * -(-o_count // reuse)


def test_job_cycles():
    cfg = CoreConfig(mu=2, luts=3, keys=4, max_n=60, max_m=60, pipeline=2)
    assert job_cycles(cfg, 13, 9) == 3 + 3 * 3 + 2 + 3
