import math

import torch

from thunlp_repro.prompt_transfer import indicators as ind


def test_on_equals_hand_definition():
    a = [torch.tensor([1.0, -1.0, 2.0]), torch.tensor([0.5, 0.5, -3.0])]
    b = [torch.tensor([1.0, 1.0, -2.0]), torch.tensor([0.5, -0.5, -3.0])]
    # binarised: a = [1,0,1 | 1,1,0], b = [1,1,0 | 1,0,0]; overlap 2, |a|=4, |b|=3
    assert math.isclose(ind.on_overlap(a, b, [0, 1]), 2 / math.sqrt(12))
    assert math.isclose(ind.on_overlap(a, b, [0]), 1 / math.sqrt(2 * 2))


def test_on_input_task_is_the_cosine_of_active_fractions():
    p = [torch.tensor([1.0, 0.5, 0.0]), torch.tensor([0.25, 0.0])]
    q = [torch.tensor([0.5, 0.5, 0.5]), torch.tensor([0.0, 1.0])]
    # dot 0.5 + 0.25 = 0.75; |p|^2 = 1 + 0.25 + 0.0625, |q|^2 = 0.75 + 1
    assert math.isclose(
        ind.on_fraction(p, q, [0, 1]), 0.75 / math.sqrt(1.3125 * 1.75), rel_tol=1e-6
    )
    assert math.isclose(ind.on_fraction(p, q, [0]), 0.75 / math.sqrt(1.25 * 0.75), rel_tol=1e-6)


def test_embedding_cosines():
    p = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    q = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    assert math.isclose(ind.e_avg(p, q), 1.0, rel_tol=1e-6)
    assert math.isclose(ind.e_tok(p, q), 0.0, abs_tol=1e-7)


def test_spearman_ties_and_matrix():
    assert ind.rank_average([3.0, 1.0, 3.0, 2.0]) == [3.5, 1.0, 3.5, 2.0]
    # ranks x: [1, 2.5, 2.5, 4], y: [1,2,3,4] -> rho = 4.5 / sqrt(4.5*5)
    assert math.isclose(ind.spearman([1, 2, 2, 3], [1, 2, 3, 4]), 4.5 / math.sqrt(22.5))
    m = [[0, 1, 2], [3, 0, 4], [5, 6, 0]]
    r = ind.correlate(m, m)
    assert math.isclose(r["pooled"], 1.0) and math.isclose(r["per_target"], 1.0)
    neg = [[-v for v in row] for row in m]
    assert math.isclose(ind.correlate(neg, m)["pooled"], -1.0)


def test_windows():
    assert ind.layer_windows(6) == {
        "all": [0, 1, 2, 3, 4, 5],
        "0-1": [0, 1],
        "2-3": [2, 3],
        "4-5": [4, 5],
    }


def test_scatter_plot_writes(tmp_path):
    out = tmp_path / "s.png"
    ind.scatter_plot([0.1, 0.2], [50.0, 60.0], 1.0, "E_tok", str(out))
    assert out.stat().st_size > 0
