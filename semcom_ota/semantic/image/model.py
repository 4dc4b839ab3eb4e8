"""The image JSCC network (DeepJSCC family): fully convolutional, SNR-adaptive, importance-ordered.

Layout of the latent
--------------------
The encoder maps an image ``[B, 3, H, W]`` (H, W multiples of :data:`STRIDE` = 8) to ``2·M`` real
feature maps of size ``[H/8, W/8]``; maps ``2c`` and ``2c+1`` are the real and imaginary part of
complex channel ``c`` (``M`` = :attr:`ImageJSCC.n_complex`, 32 by default). Symbols are emitted
channel-major (channel 0 over all positions, then channel 1, ...), so keeping the first ``m``
channels keeps a prefix of the symbol stream. Training drops a random tail of whole channel groups,
so earlier channels learn to carry coarse content: the emitted order follows importance.

Per complex channel an image of ``n = 3·H·W`` real values takes ``H·W/64`` channel uses, i.e. a
bandwidth ratio ``k/n = 1/192``; 4 channels (one tier) = 1/48, 32 channels = 1/6.

Channel adaptation
------------------
Attention-feature (AF) modules (Xu et al., "Wireless image transmission using deep source channel
coding with attention modules", 2021) rescale feature maps with a gate computed from the pooled
features, the SNR (dB, the encoder's assumed SNR or the decoder's effective SNR from the mean noise
variance of the received symbols) and the fraction of channels sent/received.

Side image (hybrid scheme)
--------------------------
Both halves optionally take a *side image* (the decoded digital base layer, ``[B, 3, H, W]`` in
[0, 1]) plus a flag saying whether it is present. With no side image the flag is 0 and the side
input is zero: the network is then the plain semantic codec. Trained with the side image present
at both ends, at neither, or at the encoder only (a base layer that failed at the receiver).

Architectures
-------------
``arch: resaf`` (default, :class:`ImageJSCC`): the network above, latent at ``H/8``. ``arch: plain``
(:class:`PlainJSCC`): the Bourtsoulatze et al. (2019) DeepJSCC shape — five 5×5 convolutions with
PReLU per half, strides 2, 2, 1, 1, 1, so the latent is at ``H/4`` — plus what that design lacks: AF
gates fed the SNR and the kept fraction, random truncation at tier boundaries during training,
unit-power normalisation per image and channel-major emission (the layout contract above with stride
4: one complex channel = ``H·W/16`` symbols = k/n 1/48; 8 channels = 1/6; one channel per tier). It
has no side-image input, so the hybrid scheme keeps the ``resaf`` model. :func:`build_image_model`
picks one from a model card's ``architecture`` mapping.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

STRIDE = 8
SNR_SCALE_DB = 20.0  # SNRs are fed to the AF modules as snr_db / SNR_SCALE_DB


class AFModule(nn.Module):
    """Attention-feature module: ``x * sigmoid(MLP([mean(x), context]))`` per channel.

    Input: ``x`` float32 ``[B, C, h, w]``; ``ctx`` float32 ``[B, n_ctx]``. Output: same shape as ``x``.
    """

    def __init__(self, channels: int, n_ctx: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(channels + n_ctx, channels // 2), nn.ReLU(), nn.Linear(channels // 2, channels))

    def forward(self, x: torch.Tensor, ctx: torch.Tensor) -> torch.Tensor:
        g = self.mlp(torch.cat([x.mean(dim=(2, 3)), ctx], dim=1))
        return x * torch.sigmoid(g)[:, :, None, None]


class ResBlock(nn.Module):
    """Two 3×3 convolutions with a skip; shape preserving ``[B, C, h, w]``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.c2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.act = nn.PReLU(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.c2(self.act(self.c1(x)))


def _symbols(y: torch.Tensor, m: int) -> torch.Tensor:
    """Real maps ``[B, 2M, h, w]`` -> complex latent of the first ``m`` channels, unit mean power per image."""
    y = y[:, : 2 * m]
    z = torch.complex(y[:, 0::2], y[:, 1::2])  # [B, m, h, w]
    p = z.abs().pow(2).mean(dim=(1, 2, 3), keepdim=True)
    return z / torch.sqrt(p + 1e-12)


def _receiver_input(z_hat: torch.Tensor, noise_var: torch.Tensor, mask: torch.Tensor, n_complex: int
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Received latent -> (real maps ``[B, 2M, h, w]``, context ``[B, 2]``).

    Maps: the MMSE estimate ``z_hat / (1 + nv)`` of each unit-power symbol, 0 where missing or not
    sent. Context: (effective SNR in dB / :data:`SNR_SCALE_DB`, fraction of the ``M`` channels received).
    """
    b, mp, hh, ww = z_hat.shape
    if mp > n_complex:
        raise ValueError(f"z_hat has {mp} complex channels, expected at most {n_complex}")
    maskf = mask.to(torch.float32)
    nv = torch.where(mask, noise_var, torch.ones_like(noise_var))
    zm = z_hat / (1.0 + nv) * maskf  # MMSE estimate of a unit-power symbol, 0 where missing
    y = torch.zeros(b, 2 * n_complex, hh, ww, dtype=torch.float32, device=z_hat.device)
    y[:, 0 : 2 * mp : 2] = zm.real
    y[:, 1 : 2 * mp : 2] = zm.imag
    n_rx = maskf.sum(dim=(1, 2, 3)).clamp(min=1.0)
    # effective SNR from the mean MMSE reliability r = mean(1/(1+nv)) = snr/(1+snr) (exact on AWGN;
    # a few deep-faded subcarriers do not swamp it the way a mean noise variance would)
    rel = ((1.0 / (1.0 + nv)) * maskf).sum(dim=(1, 2, 3)) / n_rx
    snr_eff = 10.0 * torch.log10((rel / (1.0 - rel).clamp(min=1e-6)).clamp(min=1e-6))
    frac = maskf.sum(dim=(1, 2, 3)) / float(n_complex * hh * ww)
    return y, torch.stack([snr_eff / SNR_SCALE_DB, frac], dim=1)


class ImageJSCC(nn.Module):
    """Encoder + decoder. Use :meth:`encode` / :meth:`decode`; the channel sits between them.

    Parameters
    ----------
    width: feature channels of the hidden layers.
    n_complex: complex latent channels ``M`` (the most a frame can carry: k/n = M/192).
    group: complex channels per importance tier.
    """

    N_CTX = 2  # (snr_db / 20, fraction of channels)
    arch = "resaf"
    stride = STRIDE
    has_side_input = True

    def __init__(self, width: int = 64, n_complex: int = 32, group: int = 4) -> None:
        super().__init__()
        if n_complex % group:
            raise ValueError(f"n_complex={n_complex} must be a multiple of group={group}")
        self.width, self.n_complex, self.group = width, n_complex, group
        w = width
        # encoder: 7 input channels = image (3) + side image (3) + side flag (1)
        self.e1 = nn.Conv2d(7, w // 2, 5, stride=2, padding=2)  # H/2
        self.e2 = nn.Conv2d(w // 2, w, 5, stride=2, padding=2)  # H/4
        self.e3 = ResBlock(w)
        self.e4 = nn.Conv2d(w, w, 5, stride=2, padding=2)  # H/8
        self.e5 = ResBlock(w)
        self.e_af1 = AFModule(w, self.N_CTX)
        self.e_af2 = AFModule(w, self.N_CTX)
        self.e_out = nn.Conv2d(w, 2 * n_complex, 3, padding=1)
        self.e_act = nn.ModuleList([nn.PReLU(w // 2), nn.PReLU(w), nn.PReLU(w)])
        # decoder: latent (2M) + side image downsampled ×8 (4 incl. flag, via pixel-unshuffle: 4·64)
        self.d_side = nn.Conv2d(4 * STRIDE * STRIDE, w, 1)
        self.d1 = nn.Conv2d(2 * n_complex, w, 3, padding=1)
        self.d2 = ResBlock(w)
        self.d_af1 = AFModule(w, self.N_CTX)
        self.d3 = ResBlock(w)
        self.d_af2 = AFModule(w, self.N_CTX)
        self.d_up1 = nn.Conv2d(w, w * 4, 3, padding=1)  # ×2 -> H/4
        self.d4 = ResBlock(w)
        self.d_up2 = nn.Conv2d(w, (w // 2) * 4, 3, padding=1)  # ×2 -> H/2
        self.d_up3 = nn.Conv2d(w // 2, 16 * 4, 3, padding=1)  # ×2 -> H
        self.d_fuse = nn.Sequential(nn.Conv2d(16 + 4, 32, 3, padding=1), nn.PReLU(32), nn.Conv2d(32, 3, 3, padding=1))
        self.d_act = nn.ModuleList([nn.PReLU(w), nn.PReLU(w), nn.PReLU(w // 2), nn.PReLU(16)])

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _side_input(x: torch.Tensor, side: torch.Tensor | None, flag: torch.Tensor | None) -> torch.Tensor:
        b, _, h, w = x.shape
        if side is None:
            return torch.zeros(b, 4, h, w, dtype=x.dtype, device=x.device)
        if flag is None:
            flag = torch.ones(b, dtype=x.dtype, device=x.device)
        f = flag.to(x.dtype)[:, None, None, None]
        return torch.cat([side * f, f.expand(b, 1, h, w)], dim=1)

    # ------------------------------------------------------------------ encoder
    def encode(self, x: torch.Tensor, snr_db: torch.Tensor, m: int, side: torch.Tensor | None = None,
               side_flag: torch.Tensor | None = None) -> torch.Tensor:
        """Image -> complex latent of the first ``m`` channels, unit average power per image.

        Input: ``x`` float32 ``[B, 3, H, W]`` in [0, 1] (H, W multiples of 8); ``snr_db`` float32 ``[B]``;
        ``m`` channels kept (1..M); optional ``side`` ``[B, 3, H, W]`` and ``side_flag`` ``[B]`` (0/1).
        Output: complex64 ``[B, m, H/8, W/8]`` with mean ``|z|² = 1`` per image.
        """
        ctx = torch.stack([snr_db / SNR_SCALE_DB, torch.full_like(snr_db, m / self.n_complex)], dim=1)
        h = torch.cat([x - 0.5, self._side_input(x, side, side_flag)], dim=1)
        h = self.e_act[0](self.e1(h))
        h = self.e_act[1](self.e2(h))
        h = self.e3(h)
        h = self.e_act[2](self.e4(h))
        h = self.e_af1(h, ctx)
        h = self.e5(h)
        h = self.e_af2(h, ctx)
        return _symbols(self.e_out(h), m)  # [B, m, h, w]

    # ------------------------------------------------------------------ decoder
    def decode(self, z_hat: torch.Tensor, noise_var: torch.Tensor, mask: torch.Tensor,
               side: torch.Tensor | None = None, side_flag: torch.Tensor | None = None) -> torch.Tensor:
        """Received latent -> image.

        Input: ``z_hat`` complex64 ``[B, M', h, w]`` (``M' <= M``; unbiased ``z + e``), ``noise_var`` float32
        same shape (per-symbol noise variance), ``mask`` bool same shape (False = not received; those
        symbols are ignored). Optional side image as in :meth:`encode`.
        Output: float32 ``[B, 3, 8h, 8w]`` in [0, 1].
        """
        b, _, hh, ww = z_hat.shape
        y, ctx = _receiver_input(z_hat, noise_var, mask, self.n_complex)
        full = torch.zeros(b, 3, hh * STRIDE, ww * STRIDE, dtype=torch.float32, device=z_hat.device)
        s = self._side_input(full, side, side_flag)  # [B, 4, H, W]
        h = self.d_act[0](self.d1(y) + self.d_side(F.pixel_unshuffle(s, STRIDE)))
        h = self.d2(h)
        h = self.d_af1(h, ctx)
        h = self.d3(h)
        h = self.d_af2(h, ctx)
        h = self.d_act[1](F.pixel_shuffle(self.d_up1(h), 2))
        h = self.d4(h)
        h = self.d_act[2](F.pixel_shuffle(self.d_up2(h), 2))
        h = self.d_act[3](F.pixel_shuffle(self.d_up3(h), 2))
        out = self.d_fuse(torch.cat([h, s], dim=1))
        # the side image (when present) is a starting point the decoder refines
        base = s[:, :3] + 0.5 * (1.0 - s[:, 3:4])
        return (base + out).clamp(0.0, 1.0)


PLAIN_STRIDE = 4


class PlainJSCC(nn.Module):
    """Plain DeepJSCC (Bourtsoulatze 2019 shape) with SNR/fraction AF gates; latent at ``H/4``.

    Encoder: 5×5 convolutions ``3 → width/2`` (stride 2), ``→ width`` (stride 2), ``→ width``,
    ``→ width``, ``→ 2M``, PReLU between, AF gates after the 3rd and 4th. Decoder: the mirror, with
    5×5 transposed convolutions for the two ×2 steps and a sigmoid output. Fully convolutional.

    Parameters
    ----------
    width: feature channels at ``H/4`` (``width // 2`` at ``H/2``).
    n_complex: complex latent channels ``M``; one channel is k/n = 1/48, so 8 = 1/6.
    group: complex channels per importance tier.

    Example: ``z = net.encode(x, snr, m=4)`` -> complex64 ``[B, 4, H/4, W/4]`` (k/n 1/12).
    """

    N_CTX = 2
    arch = "plain"
    stride = PLAIN_STRIDE
    has_side_input = False

    def __init__(self, width: int = 64, n_complex: int = 8, group: int = 1) -> None:
        super().__init__()
        if n_complex < 1 or group < 1 or n_complex % group:
            raise ValueError(f"n_complex={n_complex}, group={group}: expected n_complex a positive multiple of group")
        if width < 4 or width % 2:
            raise ValueError(f"width={width}: expected an even number >= 4")
        self.width, self.n_complex, self.group = width, n_complex, group
        w, h = width, width // 2
        self.enc = nn.ModuleList([nn.Conv2d(3, h, 5, stride=2, padding=2), nn.Conv2d(h, w, 5, stride=2, padding=2),
                                  nn.Conv2d(w, w, 5, padding=2), nn.Conv2d(w, w, 5, padding=2)])
        self.enc_act = nn.ModuleList([nn.PReLU(h), nn.PReLU(w), nn.PReLU(w), nn.PReLU(w)])
        self.enc_af = nn.ModuleList([AFModule(w, self.N_CTX), AFModule(w, self.N_CTX)])
        self.enc_out = nn.Conv2d(w, 2 * n_complex, 5, padding=2)
        self.dec = nn.ModuleList([nn.Conv2d(2 * n_complex, w, 5, padding=2), nn.Conv2d(w, w, 5, padding=2),
                                  nn.Conv2d(w, w, 5, padding=2),
                                  nn.ConvTranspose2d(w, h, 5, stride=2, padding=2, output_padding=1)])
        self.dec_act = nn.ModuleList([nn.PReLU(w), nn.PReLU(w), nn.PReLU(w), nn.PReLU(h)])
        self.dec_af = nn.ModuleList([AFModule(w, self.N_CTX), AFModule(w, self.N_CTX)])
        self.dec_out = nn.ConvTranspose2d(h, 3, 5, stride=2, padding=2, output_padding=1)

    @staticmethod
    def _no_side(side: torch.Tensor | None, side_flag: torch.Tensor | None) -> None:
        if side is not None and (side_flag is None or bool((side_flag != 0).any())):
            raise ValueError("PlainJSCC (arch 'plain') has no side-image input; the hybrid scheme needs arch 'resaf'")

    def encode(self, x: torch.Tensor, snr_db: torch.Tensor, m: int, side: torch.Tensor | None = None,
               side_flag: torch.Tensor | None = None) -> torch.Tensor:
        """Image -> complex latent of the first ``m`` channels, unit average power per image.

        Input: ``x`` float32 ``[B, 3, H, W]`` in [0, 1] (H, W multiples of 4); ``snr_db`` float32 ``[B]``;
        ``m`` channels kept (1..M). ``side`` must be None (or flagged absent).
        Output: complex64 ``[B, m, H/4, W/4]`` with mean ``|z|² = 1`` per image.
        """
        self._no_side(side, side_flag)
        if not 1 <= m <= self.n_complex:
            raise ValueError(f"m={m}: expected 1..{self.n_complex} complex channels")
        ctx = torch.stack([snr_db / SNR_SCALE_DB, torch.full_like(snr_db, m / self.n_complex)], dim=1)
        h = x - 0.5
        for i, (conv, act) in enumerate(zip(self.enc, self.enc_act)):
            h = act(conv(h))
            if i >= 2:
                h = self.enc_af[i - 2](h, ctx)
        return _symbols(self.enc_out(h), m)

    def decode(self, z_hat: torch.Tensor, noise_var: torch.Tensor, mask: torch.Tensor,
               side: torch.Tensor | None = None, side_flag: torch.Tensor | None = None) -> torch.Tensor:
        """Received latent -> image.

        Input: ``z_hat`` complex64 ``[B, M', h, w]`` (``M' <= M``), ``noise_var`` float32 same shape
        (per-symbol noise variance), ``mask`` bool same shape (False = not received).
        Output: float32 ``[B, 3, 4h, 4w]`` in [0, 1].
        """
        self._no_side(side, side_flag)
        y, ctx = _receiver_input(z_hat, noise_var, mask, self.n_complex)
        h = y
        for i, (conv, act) in enumerate(zip(self.dec, self.dec_act)):
            h = act(conv(h))
            if i in (0, 1):
                h = self.dec_af[i](h, ctx)
        return torch.sigmoid(self.dec_out(h))


ARCHS: dict[str, type[nn.Module]] = {"resaf": ImageJSCC, "plain": PlainJSCC}


def build_image_model(arch: str = "resaf", **kwargs: int) -> ImageJSCC | PlainJSCC:
    """The network named by a model card's ``architecture`` mapping (``arch`` + constructor keys)."""
    if arch not in ARCHS:
        raise ValueError(f"architecture arch={arch!r}: expected one of {sorted(ARCHS)}")
    try:
        return ARCHS[arch](**kwargs)
    except TypeError as e:
        raise ValueError(f"architecture {kwargs} for arch={arch!r}: {e}") from None
