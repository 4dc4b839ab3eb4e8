#!/usr/bin/env python
"""How much can an analog refinement of a digital base gain when the channel beats the TX's SNR?

    .venv/bin/python scripts/bench/image_refinement_bound.py                 # validation crops, k/n 1/12
    .venv/bin/python scripts/bench/image_refinement_bound.py --assumed-db 10,15 --offset-db 5 --codec webp

An optimistic bound for the issue-9 target "hybrid >= 1 dB above separation where the true SNR exceeds
the assumed one by 5 dB". The TX plans for ``s`` dB: a fraction ``1 - f`` of the ``k`` channel uses
carries the image (AVIF or WebP) at the MCS the separation rate rule picks for ``s`` (1 % target frame
error rate; the base is assumed to decode), the rest ``f·k`` complex uses (``2 f k`` real values) carry
the base's residual **linearly** (SoftCast style): 8×8 block DCT of an orthonormal colour transform,
coefficients grouped in chunks (one frequency of one colour plane over 4×4 blocks), the highest-energy
chunks sent with the MSE-optimal power scaling ``g ∝ λ^(-1/4)`` and LMMSE decoding at the true SNR.
The chunk variances are the residual's own (an oracle: no metadata is charged, and the receiver knows
them), so a real linear refinement does no better. A linear analog layer improves without limit as
the SNR grows, unlike separation; what limits it at k/n = 1/12 is bandwidth: it reaches only a few % of
the residual's coefficients. Prints mean PSNR over the crops for the all-digital frame (``f = 0``) and
each ``f`` at the assumed SNR and at ``s + offset``.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from scipy.fft import dctn, idctn

from semcom_ota.baselines.codecs import image_quality
from semcom_ota.baselines.image_codecs import RateSearch, decompress_image
from semcom_ota.baselines.mcs import select_mcs

#: orthonormal colour transform (rows: luma-like sum, two colour differences)
COLOUR = np.array([[1, 1, 1], [1, 0, -1], [1, -2, 1]], float)
COLOUR /= np.linalg.norm(COLOUR, axis=1, keepdims=True)
REGION = 4  # chunk = one DCT frequency of one colour plane over REGION x REGION blocks


def to_chunks(residual: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    """float ``[H, W, 3]`` (H, W multiples of 32) -> chunks ``[n_chunks, REGION²]`` and the coefficient shape."""
    x = np.einsum("ij,hwj->ihw", COLOUR, residual)
    h, w = x.shape[1:]
    c = dctn(x.reshape(3, h // 8, 8, w // 8, 8).transpose(0, 1, 3, 2, 4), axes=(3, 4), norm="ortho")
    by, bx = c.shape[1:3]
    y = c.reshape(3, by // REGION, REGION, bx // REGION, REGION, 8, 8).transpose(0, 5, 6, 1, 3, 2, 4)
    return y.reshape(-1, REGION * REGION), c.shape


def from_chunks(y: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    _, by, bx, _, _ = shape
    c = y.reshape(3, 8, 8, by // REGION, bx // REGION, REGION, REGION).transpose(0, 3, 5, 4, 6, 1, 2).reshape(shape)
    x = idctn(c, axes=(3, 4), norm="ortho").transpose(0, 1, 3, 2, 4).reshape(3, by * 8, bx * 8)
    return np.einsum("ij,ihw->hwj", COLOUR, x)


def linear_refinement(residual: np.ndarray, n_complex: int, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """The LMMSE estimate of ``residual`` after sending its top chunks in ``n_complex`` unit-power uses at ``snr_db``."""
    y, shape = to_chunks(residual)
    size = y.shape[1]
    lam = (y ** 2).mean(axis=1)
    k = min(len(lam), 2 * n_complex // size)
    est = np.zeros_like(y)
    if k == 0:
        return from_chunks(est, shape)
    sel = np.argsort(-lam)[:k]
    l = np.maximum(lam[sel], 1e-12)
    g2 = 0.5 * k / np.sqrt(l).sum() / np.sqrt(l)  # mean power 1/2 per real dimension
    s2 = 0.5 * 10.0 ** (-snr_db / 10.0)
    rx = np.sqrt(g2)[:, None] * y[sel] + rng.normal(0.0, np.sqrt(s2), y[sel].shape)
    est[sel] = (np.sqrt(g2) * l / (g2 * l + s2))[:, None] * rx
    return from_chunks(est, shape)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--assumed-db", default="5,10,15", help="SNRs (dB) the TX plans for")
    ap.add_argument("--offset-db", type=float, default=5.0, help="the channel is this much better than assumed")
    ap.add_argument("--fractions", default="0.0625,0.125,0.25,0.375", help="shares of the budget for the analog layer")
    ap.add_argument("--codec", choices=("avif", "webp"), default="avif")
    ap.add_argument("--cbr", type=float, default=1 / 12)
    ap.add_argument("--size", type=int, default=128)
    args = ap.parse_args(argv)
    from semcom_ota.data.photos import load_photos
    from semcom_ota.semantic.image.codec import val_crops

    images = [im for _, im in val_crops([p.image for p in load_photos("val")], size=args.size)]
    k = int(round(args.cbr * args.size * args.size * 3))
    fracs = [0.0] + [float(f) for f in args.fractions.split(",")]
    t0 = time.time()
    print(f"{args.codec} base + oracle linear refinement | {len(images)} validation crops {args.size}x{args.size} | "
          f"k = {k} complex uses | mean PSNR dB at the assumed SNR s / at s + {args.offset_db:g} dB")
    print(f"{'s dB':>5} " + " ".join(f"{'f=' + format(f, 'g'):>15}" for f in fracs))
    for s in (float(v) for v in args.assumed_db.split(",")):
        cells = []
        for f in fracs:
            n_b = k - int(round(f * k))
            choice = select_mcs(None, n_b, s, "awgn", target_fer=0.1 if f == 0 else 0.01)
            rng = np.random.default_rng(0)
            q = np.zeros((len(images), 2))
            for i, im in enumerate(images):
                ref = im.astype(np.float64)
                comp = RateSearch(im, args.codec)(choice.plan.payload_bits // 8)
                base = decompress_image(comp.data, args.codec, grey=False).astype(np.float64) if comp.fits else np.full_like(ref, 128)
                for j, t in enumerate((s, s + args.offset_db)):
                    est = base + (linear_refinement(ref - base, k - n_b, t, rng) if f else 0.0)
                    q[i, j] = image_quality(ref, np.clip(est, 0, 255), "psnr")
            m = q.mean(axis=0)
            cells.append(f"{m[0]:6.2f} / {m[1]:6.2f}")
        print(f"{s:>5g} " + " ".join(f"{c:>15}" for c in cells), flush=True)
    print(f"{time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
