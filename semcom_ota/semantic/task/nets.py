"""Networks of the task-oriented codec (issue 8): a large teacher, a lightweight student encoder,
the SNR-adaptive JSC encoder and the task decoder (classification + reconstruction heads).

Shapes (B = batch):

- images: float32 ``[B, 1, 28, 28]`` in [0, 1] (see :func:`images_to_tensor`).
- semantic feature: float32 ``[B, F]`` (teacher ``F = 256``, student ``F = 128``).
- latent: complex64 ``[B, n]`` (``n = N_SYMBOLS = 64``), importance-ordered, unit power per tier.
- receiver input: ``z_hat`` complex64 ``[B, n]`` (zero where not received), ``noise_var`` float32
  ``[B, n]`` (``inf`` where not received), ``mask`` bool ``[B, n]`` — exactly what the PHY's
  :class:`~semcom_ota.frames.RxSemanticFrame` carries, so the decoder runs on real PHY output.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn

from semcom_ota.data.fmnist import FASHION_MNIST_CLASSES

#: complex symbols the JSC encoder makes for one image; budgets truncate at tier ends.
N_SYMBOLS = 64
#: importance-tier ends (exclusive); a frame may be cut at any of them and still decodes.
TIERS: tuple[int, ...] = (8, 16, 32, 64)
N_CLASSES = 10
#: Fashion-MNIST class names, index = label (the data loader's list)
CLASS_NAMES: tuple[str, ...] = FASHION_MNIST_CLASSES


def images_to_tensor(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 ``[B, 28, 28]`` (or ``[28, 28]``) -> float32 ``[B, 1, 28, 28]`` in [0, 1]."""
    x = images if isinstance(images, torch.Tensor) else torch.from_numpy(np.array(images, copy=True))
    if x.dim() == 2:
        x = x[None]
    if x.dim() != 3 or tuple(x.shape[1:]) != (28, 28):
        raise ValueError(f"images: shape {tuple(x.shape)}, expected [B, 28, 28] or [28, 28] uint8")
    return (x.float() / 255.0)[:, None]


def _conv(i: int, o: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(i, o, 3, stride, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True))


class TeacherNet(nn.Module):
    """The large teacher CNN (~1.7 M parameters).

    Input ``x`` float32 ``[B, 1, 28, 28]``; :meth:`features` -> float32 ``[B, 256]`` (its semantic
    encoder output); :meth:`forward` -> logits float32 ``[B, 10]``.
    """

    feat_dim = 256

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(
            _conv(1, 32), nn.MaxPool2d(2),
            _conv(32, 64), nn.MaxPool2d(2),
            _conv(64, 128), nn.Flatten(), nn.Dropout(0.3),
            nn.Linear(128 * 49, self.feat_dim), nn.ReLU(inplace=True),
        )
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(self.feat_dim, N_CLASSES))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class BasicBlock(nn.Module):
    """ResNet basic block: two 3x3 conv + BN, identity (or 1x1 strided projection) shortcut."""

    def __init__(self, i: int, o: int, stride: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(i, o, 3, stride, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True),
            nn.Conv2d(o, o, 3, 1, 1, bias=False), nn.BatchNorm2d(o),
        )
        self.short = (nn.Identity() if stride == 1 and i == o else
                      nn.Sequential(nn.Conv2d(i, o, 1, stride, bias=False), nn.BatchNorm2d(o)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.short(x))


class TeacherResNet(nn.Module):
    """The large ResNet teacher of arch ``v2`` (~2.7 M parameters, ~0.42 GFLOP per image).

    Stem 3x3 conv (32 ch, 28x28), then two basic blocks per stage at 28x28 (32 ch), 14x14 (128 ch)
    and 7x7 (256 ch), global average pooling and a 256-wide feature layer. Same interface as
    :class:`TeacherNet`: input float32 ``[B, 1, 28, 28]``; :meth:`features` -> float32 ``[B, 256]``;
    :meth:`forward` -> logits float32 ``[B, 10]``.
    """

    feat_dim = 256

    def __init__(self, widths: tuple[int, int, int] = (32, 128, 256)) -> None:
        super().__init__()
        w1, w2, w3 = widths
        self.backbone = nn.Sequential(
            _conv(1, w1),
            BasicBlock(w1, w1), BasicBlock(w1, w1),
            BasicBlock(w1, w2, 2), BasicBlock(w2, w2),
            BasicBlock(w2, w3, 2), BasicBlock(w3, w3),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2),
            nn.Linear(w3, self.feat_dim), nn.ReLU(inplace=True),
        )
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(self.feat_dim, N_CLASSES))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class StudentEncoder(nn.Module):
    """The lightweight student semantic encoder (strided convolutions).

    ``arch="v1"``: 16/32/32 channels (~0.2 M parameters); ``arch="v2"``: 32/64/64/64 channels
    (~0.5 M parameters, ~23 MFLOP per image). Input float32 ``[B, 1, 28, 28]`` -> feature float32
    ``[B, 128]``.
    """

    feat_dim = 128

    def __init__(self, arch: str = "v1") -> None:
        super().__init__()
        check_arch(arch)
        if arch == "v1":
            convs, last = [_conv(1, 16, 2), _conv(16, 32, 2), _conv(32, 32)], 32
        else:
            convs, last = [_conv(1, 32), _conv(32, 64, 2), _conv(64, 64), _conv(64, 64, 2)], 64
        self.net = nn.Sequential(*convs, nn.Flatten(), nn.Linear(last * 49, self.feat_dim), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


#: network generations: ``v1`` = :class:`TeacherNet` + 16/32/32 student (the CPU recipe),
#: ``v2`` = :class:`TeacherResNet` + 32/64/64/64 student (the GPU recipe)
ARCHS: tuple[str, ...] = ("v1", "v2")


def check_arch(arch: str) -> str:
    if arch not in ARCHS:
        raise ValueError(f"arch={arch!r}: expected one of {list(ARCHS)}")
    return arch


def make_teacher(arch: str = "v1") -> "TeacherNet | TeacherResNet":
    """A fresh teacher of network generation ``arch`` (see :data:`ARCHS`)."""
    return TeacherNet() if check_arch(arch) == "v1" else TeacherResNet()


class FiLM(nn.Module):
    """Channel-adaptive module: SNR-conditioned feature-wise affine modulation.

    ``h`` float32 ``[B, D]``, ``cond`` float32 ``[B, C]`` -> ``h * (1 + gamma(cond)) + beta(cond)``.
    Starts as the identity (last layer zero-initialised).
    """

    def __init__(self, dim: int, n_cond: int, hidden: int = 32) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(n_cond, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 2 * dim))
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, h: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.mlp(cond).chunk(2, dim=-1)
        return h * (1.0 + gamma) + beta


def tier_power_normalise(z: torch.Tensor, tiers: tuple[int, ...] = TIERS) -> torch.Tensor:
    """Scale each importance tier of complex ``z`` ``[B, n]`` to unit average power.

    Per-tier normalisation makes every truncation at a tier end unit-power too, so a frame cut to a
    budget has the same symbols the decoder was trained on.
    """
    parts, start = [], 0
    for end in tiers:
        seg = z[:, start:end]
        p = seg.real.pow(2).add(seg.imag.pow(2)).mean(dim=1, keepdim=True).clamp_min(1e-12)
        parts.append(seg / p.sqrt())
        start = end
    return torch.cat(parts, dim=1)


def encoder_condition(snr_db: torch.Tensor) -> torch.Tensor:
    """Encoder-side channel state: float32 ``[B]`` SNR (dB) -> ``[B, 2]``."""
    s = snr_db.float().clamp(-10.0, 30.0) / 20.0
    return torch.stack([s, torch.ones_like(s)], dim=1)


def decoder_condition(noise_var: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Receiver-side channel state from the per-symbol noise variance ``[B, n]`` and mask ``[B, n]``.

    Returns float32 ``[B, 3]``: effective SNR (dB/20) from the mean log noise variance over received
    symbols, mean reliability ``1/(1+noise_var)`` and the fraction of symbols received.
    """
    m = mask.float()
    cnt = m.sum(dim=1).clamp_min(1.0)
    nv = torch.where(mask, noise_var.float().clamp(1e-4, 1e4), torch.ones_like(noise_var, dtype=torch.float32))
    eff_snr_db = -10.0 * (torch.log10(nv) * m).sum(dim=1) / cnt
    rel = (m / (1.0 + nv)).sum(dim=1) / cnt
    return torch.stack([eff_snr_db.clamp(-10.0, 30.0) / 20.0, rel, m.mean(dim=1)], dim=1)


class JSCEncoder(nn.Module):
    """SNR-adaptive joint source-channel encoder with a variational (information-bottleneck) latent.

    Input: feature float32 ``[B, F]``, snr_db float32 ``[B]``.
    Output of :meth:`forward`: ``(z, mu, logvar)`` — ``z`` complex64 ``[B, n]`` power-normalised per
    tier (sampled ``mu + sigma * eps`` when ``sample``), ``mu``/``logvar`` float32 ``[B, 2n]`` for the
    rate term (KL to the N(0, I) prior).
    """

    def __init__(self, feat_dim: int, n_symbols: int = N_SYMBOLS, hidden: int = 256) -> None:
        super().__init__()
        self.n_symbols = n_symbols
        self.film = FiLM(feat_dim, 2)
        self.net = nn.Sequential(nn.Linear(feat_dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 4 * n_symbols))

    def forward(self, feat: torch.Tensor, snr_db: torch.Tensor, sample: bool = False):
        h = self.film(feat, encoder_condition(snr_db))
        mu, logvar = self.net(h).chunk(2, dim=-1)
        logvar = logvar.clamp(-12.0, 6.0)
        r = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if sample else mu
        z = torch.complex(r[:, 0::2], r[:, 1::2])
        return tier_power_normalise(z), mu, logvar


class TaskDecoder(nn.Module):
    """Receiver: masked, noise-aware JSC decoder + task heads.

    Input: ``z_hat`` complex64 ``[B, n]``, ``noise_var`` float32 ``[B, n]``, ``mask`` bool ``[B, n]``.
    The decoder sees the MMSE estimate ``z_hat/(1+noise_var)`` and the reliability
    ``1/(1+noise_var)`` of every symbol (zero where missing), modulated by a FiLM layer on the
    receiver's channel state (:func:`decoder_condition`).
    Output of :meth:`forward`: ``(logits [B, 10], hidden [B, H])``; :meth:`reconstruct` ->
    float32 ``[B, 1, 28, 28]`` in [0, 1]; :meth:`hint` -> ``[B, hint_dim]`` (teacher-feature hint).
    """

    def __init__(self, n_symbols: int = N_SYMBOLS, hidden: int = 256, hint_dim: int = TeacherNet.feat_dim) -> None:
        super().__init__()
        self.n_symbols = n_symbols
        self.inp = nn.Linear(3 * n_symbols, hidden)
        self.film = FiLM(hidden, 3)
        self.body = nn.Sequential(nn.ReLU(inplace=True), nn.Linear(hidden, hidden), nn.ReLU(inplace=True))
        self.cls = nn.Linear(hidden, N_CLASSES)
        self.hint_head = nn.Linear(hidden, hint_dim)
        self.rec = nn.Sequential(nn.Linear(hidden, 32 * 49), nn.ReLU(inplace=True), nn.Unflatten(1, (32, 7, 7)),
                                 nn.ConvTranspose2d(32, 16, 4, 2, 1), nn.ReLU(inplace=True),
                                 nn.ConvTranspose2d(16, 1, 4, 2, 1), nn.Sigmoid())

    def forward(self, z_hat: torch.Tensor, noise_var: torch.Tensor, mask: torch.Tensor):
        if z_hat.shape[1] != self.n_symbols:
            raise ValueError(f"z_hat: {z_hat.shape[1]} symbols, expected {self.n_symbols} (pad missing with mask=False)")
        nv = torch.where(mask, noise_var.float().clamp(0.0, 1e6), torch.full_like(noise_var, 1e6, dtype=torch.float32))
        rel = mask.float() / (1.0 + nv)
        zz = torch.where(mask, z_hat, torch.zeros_like(z_hat)) * rel
        x = torch.cat([zz.real, zz.imag, rel], dim=1)
        h = self.body(self.film(self.inp(x), decoder_condition(noise_var, mask)))
        return self.cls(h), h

    def reconstruct(self, h: torch.Tensor) -> torch.Tensor:
        return self.rec(h)

    def hint(self, h: torch.Tensor) -> torch.Tensor:
        return self.hint_head(h)


class TaskSystem(nn.Module):
    """Semantic encoder + JSC encoder (TX) and task decoder (RX): the whole codec as one module.

    ``kind="student"`` uses :class:`StudentEncoder`; ``kind="teacher"`` uses the teacher's backbone
    (frozen, the ``teacher-jscc`` scheme) with the same JSC layers. ``arch`` picks the network
    generation (:data:`ARCHS`) of both.
    """

    def __init__(self, kind: str = "student", n_symbols: int = N_SYMBOLS, arch: str = "v1") -> None:
        super().__init__()
        if kind not in ("student", "teacher"):
            raise ValueError(f"TaskSystem kind={kind!r}: expected 'student' or 'teacher'")
        self.kind = kind
        self.arch = check_arch(arch)
        self.semantic = StudentEncoder(arch) if kind == "student" else make_teacher(arch)
        feat_dim = self.semantic.feat_dim
        self.jsc = JSCEncoder(feat_dim, n_symbols)
        self.decoder = TaskDecoder(n_symbols)

    def semantic_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.semantic(x) if self.kind == "student" else self.semantic.features(x)

    def encode(self, x: torch.Tensor, snr_db: torch.Tensor, sample: bool = False):
        """images ``[B,1,28,28]`` -> ``(z complex [B,n], mu, logvar)``."""
        return self.jsc(self.semantic_features(x), snr_db, sample=sample)

    def encoder_modules(self) -> list[nn.Module]:
        return [self.semantic, self.jsc]


def n_params(modules: list[nn.Module] | nn.Module) -> int:
    mods = modules if isinstance(modules, list) else [modules]
    return int(sum(p.numel() for m in mods for p in m.parameters()))


def tier_mask(batch: int, keep: torch.Tensor | int, n_symbols: int = N_SYMBOLS) -> torch.Tensor:
    """bool ``[B, n]``: True for the first ``keep`` symbols (``keep`` int or int tensor ``[B]``)."""
    keep_t = torch.as_tensor(keep).reshape(-1, 1)
    return torch.arange(n_symbols).reshape(1, -1) < keep_t.expand(batch, 1)


def snr_db_to_noise_var(snr_db: float) -> float:
    """Unit-power symbols: ``N0 = 10^(-snr_db/10)``."""
    return float(math.pow(10.0, -snr_db / 10.0))
