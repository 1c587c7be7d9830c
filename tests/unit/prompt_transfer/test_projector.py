import torch

from thunlp_repro.prompt_transfer.projector import Projector, distance_loss, train_distance


def test_shapes_and_every_param_gets_gradient():
    torch.manual_seed(0)
    proj = Projector(n=3, d_src=4, d_tgt=6, hidden=8)
    out = proj(torch.randn(2, 3, 4))
    assert out.shape == (2, 3, 6)
    distance_loss(proj, torch.randn(2, 3, 4), torch.randn(2, 3, 6)).backward()
    for name, p in proj.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_distance_training_reduces_objective():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    proj = Projector(n=2, d_src=4, d_tgt=5, hidden=16)
    src, tgt = torch.randn(3, 2, 4), torch.randn(3, 2, 5)
    losses = train_distance(proj, src, tgt, steps=100, lr=1e-2)
    assert losses[-1] < 0.5 * losses[0]
