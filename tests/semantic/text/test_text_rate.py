"""Rate adapter helpers: importance order, exact budgets, tiers; gradient importance on a tiny model."""

import numpy as np
import pytest
import torch

from semcom_ota.semantic.text.model import TextJscc, TextJsccConfig
from semcom_ota.semantic.text.rate import budget_slots, gradient_importance, symbol_order, tier_ends


def test_order_budget_and_tiers():
    imp = np.array([[0.1, 0.9], [0.5, 0.3]])
    order = symbol_order(imp)
    assert list(order) == [1, 2, 3, 0]
    assert list(budget_slots(order, 3)) == [1, 2, 3]
    assert list(budget_slots(order, 6)) == [1, 2, 3, 0, 1, 2]  # above the frame: most important repeated
    assert tier_ends(240, 8) == [30, 60, 90, 120, 150, 180, 210, 240]
    assert tier_ends(5, 8) == [1, 2, 3, 4, 5]
    with pytest.raises(ValueError, match="budget=0"):
        budget_slots(order, 0)
    with pytest.raises(ValueError, match=r"\[L, K\]"):
        symbol_order(np.zeros(4))


def test_gradient_importance_is_zero_where_the_loss_cannot_depend():
    torch.manual_seed(0)
    cfg = TextJsccConfig(lam_dim=8, max_tokens=4, symbols_per_token=2, d_model=16, n_layers=1, n_heads=2)
    model = TextJscc(cfg, torch.arange(5), torch.randn(5, 8))
    feats = torch.randn(6, 4, 8)
    targets = torch.randint(0, 5, (6, 4))
    weights = torch.ones(6, 4)
    ident = lambda z, s: (z, torch.full(z.shape, 0.1))  # noqa: E731
    imp = gradient_importance(model, feats, targets, weights, ident, snrs_db=(10.0,), batch_size=3)
    assert imp.shape == (4, 2) and bool((imp > 0).all())
    # a decoder that ignores slot 3 entirely gives it zero importance
    with torch.no_grad():
        model.decoder.inp.weight[:, [3 * 0 + 1, 2 + 1, 4 + 1, 6 + 1]] = 0  # symbol 1 of each slot: re, im, lnv, flag
    imp2 = gradient_importance(model, feats, targets, weights, ident, snrs_db=(10.0,), batch_size=3)
    assert torch.allclose(imp2[:, 1], torch.zeros(4)) and bool((imp2[:, 0] > 0).all())
