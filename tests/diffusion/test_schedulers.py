"""The noise processes: shared behaviour and JSON round trips."""

from __future__ import annotations

import torch

from dbtwin.diffusion import GaussianScheduler, MaskedScheduler


def test_gaussian_schedule_and_exact_reverse_with_true_noise():
    sched = GaussianScheduler(eta=0.0)
    t = torch.tensor([0.0, 0.5, 1.0])
    ab = sched.alpha_bar(t)
    assert ab[0] > 0.999 and ab[2] < 0.001 and ab[0] > ab[1] > ab[2]
    x0 = torch.randn(64, 3)
    noise = torch.randn(64, 3)
    xt = sched.add_noise(x0, torch.full((64,), 0.7), noise)
    back = sched.step(xt, noise, 0.7, 0.0)  # with the true noise, one step recovers x0
    assert torch.allclose(back, x0.clamp(-sched.clip, sched.clip), atol=1e-4)
    assert GaussianScheduler.from_dict(sched.to_dict()) == sched


def test_masked_noise_rate_and_unmasking():
    sched = MaskedScheduler()
    codes = torch.zeros(20_000, 2, dtype=torch.long)
    mask_codes = torch.tensor([3, 5])
    noisy, masked = sched.add_noise(codes, torch.full((20_000,), 0.3), mask_codes, torch.Generator().manual_seed(0))
    assert abs(masked.float().mean().item() - 0.3) < 0.02
    assert (noisy[masked[:, 0], 0] == 3).all() and (noisy[masked[:, 1], 1] == 5).all()
    probs = [torch.tensor([[0.0, 1.0, 0.0]]).expand(20_000, 3), torch.tensor([[0, 0, 0, 0, 1.0]]).expand(20_000, 5)]
    logits = [p.log() for p in probs]
    done = sched.step(noisy, logits, mask_codes, 0.3, 0.0, torch.Generator().manual_seed(1))
    assert (done[masked[:, 0], 0] == 1).all() and (done[masked[:, 1], 1] == 4).all()
    assert (done[~masked] == 0).all()
    assert MaskedScheduler.from_dict(sched.to_dict()) == sched


def test_drawn_categories_follow_the_softmax():
    from dbtwin.diffusion.masked import draw_categories

    want = torch.tensor([0.1, 0.0, 0.6, 0.3])
    logits = want.log().expand(50_000, 4)
    draws = draw_categories(logits, torch.Generator().manual_seed(0))
    share = torch.bincount(draws, minlength=4).float() / len(draws)
    assert torch.allclose(share, want, atol=0.01) and share[1] == 0
    assert draw_categories(torch.zeros(0, 4)).shape == (0,)
