"""The trainable half of the LAM text codec: SNR-conditioned JSC encoder and decoder (torch).

    frozen LAM token features f  float32 [B, L, D]          (D = 384 for MiniLM-L6)
      -> JSC encoder (per token, FiLM-conditioned on SNR)    -> z complex64 [B, L, K]   (K symbols / token)
      -> channel (twin or PHY): z_hat = z + e, noise_var     [B, L, K] each, mask bool [B, L, K]
      -> JSC decoder (small transformer over token slots, conditioned on noise_var and mask)
      -> logits over a restricted vocabulary                 float32 [B, L, V]

The vocabulary head is tied to the LAM's own (frozen) input word embeddings, restricted to the
subword ids seen in the training corpus (plus the special tokens): ``logits = scale * W(h) @ E_r^T + b``.
Only the projection, ``scale`` and the bias ``b`` [V] are trained, which keeps the weights small.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from semcom_ota.config import StrictModel


class TextJsccConfig(StrictModel):
    """Architecture of the JSC encoder/decoder (a model card's ``arch`` block)."""

    lam_dim: int = 384
    max_tokens: int = 40
    symbols_per_token: int = 6
    d_model: int = 192
    n_layers: int = 3
    n_heads: int = 4
    dropout: float = 0.0


class SnrEmbedding(nn.Module):
    """SNR (dB) -> ``[B, d]`` embedding (Fourier features of the normalised SNR, then an MLP)."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.freqs = nn.Parameter(torch.arange(1, 9, dtype=torch.float32) * math.pi / 2, requires_grad=False)
        self.mlp = nn.Sequential(nn.Linear(17, d), nn.GELU(), nn.Linear(d, d))

    def forward(self, snr_db: torch.Tensor) -> torch.Tensor:
        x = (snr_db.float().reshape(-1, 1) - 10.0) / 10.0
        a = x * self.freqs
        return self.mlp(torch.cat([x, torch.sin(a), torch.cos(a)], dim=-1))


class JsccEncoder(nn.Module):
    """Token features ``[B, L, D]`` + SNR ``[B]`` -> complex symbols ``[B, L, K]`` with unit power per token."""

    def __init__(self, cfg: TextJsccConfig) -> None:
        super().__init__()
        d, k = cfg.d_model, cfg.symbols_per_token
        self.k = k
        self.inp = nn.Sequential(nn.LayerNorm(cfg.lam_dim), nn.Linear(cfg.lam_dim, d))
        self.snr = SnrEmbedding(2 * d)  # FiLM gamma, beta
        self.out = nn.Sequential(nn.GELU(), nn.Linear(d, d), nn.GELU(), nn.Linear(d, 2 * k))

    def forward(self, feats: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        h = self.inp(feats.float())
        g, b = self.snr(snr_db).unsqueeze(1).chunk(2, dim=-1)
        h = h * (1 + g) + b
        x = self.out(h)  # [B, L, 2K]
        z = torch.complex(x[..., : self.k], x[..., self.k :])
        p = (z.abs() ** 2).mean(dim=-1, keepdim=True).clamp_min(1e-9)
        return z / torch.sqrt(p)  # unit average power per token, so any subset has ~unit power


class JsccDecoder(nn.Module):
    """Received symbols ``[B, L, K]`` (+ noise_var, mask, SNR) -> hidden ``[B, L, D_lam]``.

    Per symbol the decoder sees the MMSE estimate ``z_hat / (1 + noise_var)`` (real, imag), the
    log noise variance and the received flag; masked symbols are zeros with flag 0.
    """

    def __init__(self, cfg: TextJsccConfig) -> None:
        super().__init__()
        d, k = cfg.d_model, cfg.symbols_per_token
        self.inp = nn.Linear(4 * k, d)
        self.pos = nn.Parameter(torch.randn(cfg.max_tokens, d) * 0.02)
        self.snr = SnrEmbedding(d)
        layer = nn.TransformerEncoderLayer(d, cfg.n_heads, 2 * d, cfg.dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.body = nn.TransformerEncoder(layer, cfg.n_layers, enable_nested_tensor=False)
        self.out = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, cfg.lam_dim))

    def forward(self, z_hat: torch.Tensor, noise_var: torch.Tensor, mask: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        """``mask`` may be bool or a float gate in [0, 1] (the rate adapter differentiates through it)."""
        m = mask.float()
        nv = torch.where(m > 0, noise_var.float(), torch.ones_like(noise_var, dtype=torch.float32))
        zm = z_hat * m / (1.0 + nv)
        lnv = torch.log10(nv.clamp(1e-4, 1e4)) * m
        x = torch.cat([zm.real, zm.imag, lnv, m], dim=-1)  # [B, L, 4K]
        L = x.shape[1]
        h = self.inp(x) + self.pos[:L] + self.snr(snr_db).unsqueeze(1)
        return self.out(self.body(h))


class TextJscc(nn.Module):
    """Encoder + decoder + vocabulary head tied to frozen LAM word embeddings.

    Parameters
    ----------
    cfg: :class:`TextJsccConfig`.
    vocab_ids: int64 ``[V]`` LAM token ids of the restricted vocabulary (buffer, saved with the weights).
    vocab_emb: float32 ``[V, D_lam]`` the LAM's word embeddings of those ids (buffer, not trained).
    """

    def __init__(self, cfg: TextJsccConfig, vocab_ids: torch.Tensor, vocab_emb: torch.Tensor) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = JsccEncoder(cfg)
        self.decoder = JsccDecoder(cfg)
        self.register_buffer("vocab_ids", vocab_ids.long().clone())
        e = torch.nn.functional.normalize(vocab_emb.float(), dim=-1)
        self.register_buffer("vocab_emb", e.clone())
        self.head_scale = nn.Parameter(torch.tensor(10.0))
        self.head_bias = nn.Parameter(torch.zeros(vocab_ids.numel()))
        self.importance = nn.Parameter(torch.zeros(cfg.max_tokens, cfg.symbols_per_token), requires_grad=False)

    @property
    def n_symbols(self) -> int:
        """Complex symbols of a full frame (before rate fitting): ``max_tokens * symbols_per_token``."""
        return self.cfg.max_tokens * self.cfg.symbols_per_token

    def logits(self, h: torch.Tensor, cand: torch.Tensor | None = None) -> torch.Tensor:
        """Hidden ``[B, L, D]`` -> logits ``[B, L, V]`` (or over candidate rows ``cand`` [C] of the vocabulary)."""
        h = torch.nn.functional.normalize(h, dim=-1) * self.head_scale
        if cand is None:
            return h @ self.vocab_emb.T + self.head_bias
        return h @ self.vocab_emb[cand].T + self.head_bias[cand]
