"""Training of the LAM text codec's JSC encoder/decoder through the channel twin.

Recipe (``scripts/train_text.py`` runs it; resumable, progress bar, 1 thread):

1. Sentences: WEB + fortunes train splits (``semcom_ota.data.load_sentences``), a seeded subset.
2. Frozen LAM (MiniLM-L6) token features pre-stored on disk (``.cache/lam``, float16).
3. Restricted vocabulary = every LAM subword id seen in the *full* WEB + fortunes train splits,
   plus the special tokens; anything else maps to ``[UNK]``.
4. Steps: SNR ~ U(snr_min, snr_max) dB, channel AWGN or Rayleigh (twin, per-symbol noise_var),
   random erasures (i.i.d. or a random tail of a random slot order) so the decoder learns to decode
   any masked subset; loss = cross-entropy over a sampled softmax (batch targets + random negatives),
   pad positions down-weighted.
5. After training: gradient importance on the val split (rate adapter), saved with the weights as
   safetensors next to the model card.
"""

from __future__ import annotations

import json
import math
import logging
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from semcom_ota.config import StrictModel
from semcom_ota.progress import progress
from semcom_ota.seeding import seed_everything
from semcom_ota.semantic.lam import cached_token_features, load_lam
from semcom_ota.semantic.text.model import TextJscc
from semcom_ota.semantic.text.rate import gradient_importance

log = logging.getLogger(__name__)

PAD_WEIGHT = 0.05


class TextTrainConfig(StrictModel):
    corpora: tuple[str, ...] = ("web", "fortunes")
    n_train_per_corpus: tuple[int, ...] = (6000, 3000)
    n_calib: int = 512
    batch_size: int = 32
    lr: float = 1e-3
    max_steps: int = 20000
    max_minutes: float = 22.0
    snr_min_db: float = -2.0
    snr_max_db: float = 22.0
    n_negatives: int = 1024
    seed: int = 0
    checkpoint_every: int = 250
    #: private-knowledge fine-tuning: start from these weights (safetensors) and keep their vocabulary
    init_weights: str | None = None


def twin_channel(rng_kind: torch.Generator | None = None):
    """``(z [B,L,K] complex, snr_db [B]) -> (z_hat, noise_var)`` drawing AWGN or Rayleigh per item."""
    from semcom_ota.channel.twin import ChannelTwin

    twins = {k: ChannelTwin(k) for k in ("awgn", "rayleigh")}

    def channel(z: torch.Tensor, snr_db: torch.Tensor, kind: str | None = None):
        B, L, K = z.shape
        flat = z.reshape(B, L * K)
        if kind is not None:
            zh, nv = twins[kind](flat, snr_db)
        else:
            ray = torch.rand(B, generator=rng_kind) < 0.5
            zh_a, nv_a = twins["awgn"](flat, snr_db)
            zh_r, nv_r = twins["rayleigh"](flat, snr_db)
            zh = torch.where(ray[:, None], zh_r, zh_a)
            nv = torch.where(ray[:, None], nv_r, nv_a)
        nv = torch.as_tensor(nv, dtype=torch.float32)
        if nv.dim() == 1:
            nv = nv[:, None].expand(B, L * K)
        return zh.reshape(B, L, K), nv.reshape(B, L, K)

    return channel


def build_vocab(lam, texts: list[str], max_tokens: int) -> np.ndarray:
    """Sorted LAM ids seen in ``texts`` plus [PAD], [UNK], [CLS], [SEP]: int64 ``[V]``."""
    tok = lam.tokenizer
    seen: set[int] = {lam.pad_id, lam.cls_id, lam.sep_id, int(tok.unk_token_id)}
    for s in range(0, len(texts), 2048):
        enc = tok(texts[s:s + 2048], max_length=max_tokens, truncation=True)["input_ids"]
        for ids in enc:
            seen.update(ids)
    return np.array(sorted(seen), np.int64)


def id_lookup(vocab_ids: np.ndarray, lam_vocab: int, unk_id: int) -> torch.Tensor:
    """LAM id -> restricted index table int64 ``[lam_vocab]`` (unknown ids -> index of [UNK])."""
    table = np.full(lam_vocab, int(np.searchsorted(vocab_ids, unk_id)), np.int64)
    table[vocab_ids] = np.arange(len(vocab_ids))
    return torch.from_numpy(table)


def targets_and_weights(ids: np.ndarray, attn: np.ndarray, table: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    y = table[torch.as_tensor(ids, dtype=torch.long)]
    w = torch.where(torch.as_tensor(attn), 1.0, PAD_WEIGHT)
    return y, w


def random_mask(B: int, L: int, K: int, gen: torch.Generator) -> torch.Tensor:
    """Erasure patterns for training: 40% none, 30% i.i.d., 30% a random tail of a random slot order."""
    mask = torch.ones(B, L * K, dtype=torch.bool)
    mode = torch.rand(B, generator=gen)
    keep = 0.15 + 0.85 * torch.rand(B, 1, generator=gen)
    iid = torch.rand(B, L * K, generator=gen) < keep
    # a tail: rank slots by a noisy "position-major" score so later tokens/symbols drop first more often
    score = torch.rand(B, L * K, generator=gen) + torch.linspace(0, 1, L * K) * torch.rand(B, 1, generator=gen) * 4
    rank = score.argsort(dim=1).argsort(dim=1).float() / (L * K)
    tail = rank < keep
    mask = torch.where((mode >= 0.4)[:, None] & (mode < 0.7)[:, None], iid, mask)
    mask = torch.where((mode >= 0.7)[:, None], tail, mask)
    return mask.reshape(B, L, K)


def _load_sentences(corpus: str, split: str) -> list[str]:
    try:
        from semcom_ota.data import load_sentences
    except ImportError:  # before the package re-exports it
        from semcom_ota.data.corpora import load_sentences
    return list(load_sentences(corpus, split))


def sentences_for(corpora, split: str, counts=None, seed: int = 0) -> list[str]:
    load_sentences = _load_sentences

    out: list[str] = []
    rng = np.random.default_rng(seed)
    for i, c in enumerate(corpora):
        s = list(load_sentences(c, split))
        if counts is not None and counts[i] < len(s):
            idx = np.sort(rng.choice(len(s), counts[i], replace=False))
            s = [s[j] for j in idx]
        out.extend(s)
    return out


def save_weights(model: TextJscc, path: Path, meta: dict) -> None:
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items() if k != "vocab_emb"}
    state["vocab_ids"] = state["vocab_ids"].to(torch.int32)
    save_file(state, str(path), metadata={k: json.dumps(v) for k, v in meta.items()})


def load_weights(model: TextJscc, path: Path) -> None:
    state = load_file(str(path))
    state["vocab_ids"] = state["vocab_ids"].long()
    state["vocab_emb"] = model.vocab_emb
    model.load_state_dict(state)


def train_text_codec(card_path: Path, cfg: TextTrainConfig, ckpt_dir: Path, resume: bool = True) -> Path:
    """Train the codec of ``card_path`` and write its weights (safetensors) next to the card."""
    from semcom_ota.semantic.text.codec import TextCodecCard, read_card

    torch.set_num_threads(1)
    seed_everything(cfg.seed)
    card: TextCodecCard = read_card(card_path)
    arch = card.arch
    lam = load_lam(card.lam)
    L = arch.max_tokens

    log.info("loading corpora %s", cfg.corpora)
    if cfg.init_weights:
        from safetensors import safe_open

        with safe_open(cfg.init_weights, "pt") as fh:  # the head keeps the base model's vocabulary
            vocab_ids = fh.get_tensor("vocab_ids").long().numpy()
    else:
        vocab_ids = build_vocab(lam, sentences_for(cfg.corpora, "train"), L)
    log.info("restricted vocabulary: %d of %d LAM ids", len(vocab_ids), lam.vocab_size)
    train = sentences_for(cfg.corpora, "train", cfg.n_train_per_corpus, cfg.seed)
    calib = sentences_for(cfg.corpora, "val", [cfg.n_calib // len(cfg.corpora)] * len(cfg.corpora), cfg.seed)
    ids, attn, feats = cached_token_features(lam, train, L, "train")
    cids, cattn, cfeats = cached_token_features(lam, calib, L, "calib")

    emb = lam.word_embeddings()[torch.from_numpy(vocab_ids)]
    model = TextJscc(arch, torch.from_numpy(vocab_ids), emb)
    table = id_lookup(vocab_ids, lam.vocab_size, int(lam.tokenizer.unk_token_id))
    if cfg.init_weights:
        load_weights(model, Path(cfg.init_weights))
        log.info("fine-tuning from %s on %s", cfg.init_weights, list(cfg.corpora))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.lr, weight_decay=1e-4)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    ckpt = ckpt_dir / "text_semantic_ckpt.pt"
    step, elapsed = 0, 0.0
    if resume and ckpt.is_file():
        st = torch.load(ckpt, weights_only=True)  # our own file; weights_only never unpickles code
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        step, elapsed = int(st["step"]), float(st["elapsed"])
        log.info("resumed at step %d (%.1f min)", step, elapsed / 60)

    gen = torch.Generator().manual_seed(cfg.seed + step)
    channel = twin_channel(gen)
    N, V = len(train), len(vocab_ids)
    K = arch.symbols_per_token
    t0 = time.time() - elapsed
    bar = progress(total=cfg.max_steps, initial=step, desc="train text codec", unit="step")
    ema = None
    model.train()
    while step < cfg.max_steps and (time.time() - t0) < cfg.max_minutes * 60:
        idx = np.sort(torch.randint(0, N, (cfg.batch_size,), generator=gen).numpy())
        f = torch.from_numpy(np.asarray(feats[idx], np.float32))
        y, w = targets_and_weights(ids[idx], attn[idx], table)
        snr = cfg.snr_min_db + (cfg.snr_max_db - cfg.snr_min_db) * torch.rand(cfg.batch_size, generator=gen)
        z = model.encoder(f, snr)
        z_hat, nv = channel(z, snr)
        mask = random_mask(cfg.batch_size, L, K, gen)
        h = model.decoder(z_hat, nv, mask, snr)
        cand = torch.unique(torch.cat([y.reshape(-1), torch.randint(0, V, (cfg.n_negatives,), generator=gen)]))
        yy = torch.searchsorted(cand, y)
        nll = torch.nn.functional.cross_entropy(model.logits(h, cand).reshape(-1, len(cand)), yy.reshape(-1),
                                                reduction="none").reshape(y.shape)
        loss = (nll * w).sum() / w.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        frac = min(1.0, max(step / cfg.max_steps, (time.time() - t0) / (cfg.max_minutes * 60)))
        for g in opt.param_groups:  # warm-up, then cosine decay over the step or time budget
            g["lr"] = cfg.lr * min(1.0, (step + 1) / 200) * 0.5 * (1 + math.cos(math.pi * frac))
        opt.step()
        step += 1
        ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
        bar.update(1)
        bar.set_postfix(loss=f"{ema:.3f}")
        if step % cfg.checkpoint_every == 0:
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "elapsed": time.time() - t0}, ckpt)
            log.info("step %d loss %.3f (%.1f min)", step, ema, (time.time() - t0) / 60)
    bar.close()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "elapsed": time.time() - t0}, ckpt)

    log.info("gradient importance on %d val sentences", len(calib))
    cy, cw = targets_and_weights(cids, cattn, table)
    imp = gradient_importance(model, torch.from_numpy(np.asarray(cfeats, np.float32)), cy, cw,
                              lambda z, s: channel(z, s))
    model.importance.data.copy_(imp)
    out = card_path.parent / card.weights
    save_weights(model, out, {"steps": step, "minutes": round((time.time() - t0) / 60, 1),
                              "train_sentences": len(train), "corpora": list(cfg.corpora), "final_loss": ema})
    log.info("wrote %s (%d steps)", out, step)
    return out


def validate_text_codec(card_path: Path, corpora=("web", "fortunes", "kjv"), n_items: int = 150,
                        snrs=(0.0, 3.0, 10.0, 20.0), channels=("awgn", "rayleigh"), budget: int | None = None,
                        seed: int = 0) -> list[dict]:
    """Semantic codec alone on the VAL split through the channel twin (never test).

    Per (corpus, channel, SNR): mean MiniLM similarity, sentence BLEU-4, word accuracy of the text and
    subword accuracy of the decoder's argmax on non-pad positions; ``n_items`` seeded val sentences per
    corpus, ``budget`` channel uses per sentence (default: the full frame). Returns one dict per cell.
    """
    from semcom_ota.eval.text import SymbolChannel, sample_sentences
    from semcom_ota.eval.text_metrics import sentence_bleu, similarity, token_accuracy
    from semcom_ota.semantic.text.codec import TextSemanticCodec

    torch.set_num_threads(1)
    codec = TextSemanticCodec(card_path)
    n = int(budget) if budget else codec.n_symbols
    table = id_lookup(codec._vocab_ids, codec.lam.vocab_size, int(codec.lam.tokenizer.unk_token_id))
    rows = []
    for corpus in corpora:
        refs = sample_sentences(corpus, "val", n_items, seed)
        ids, attn = codec.lam.tokenize(refs, codec.card.arch.max_tokens)
        y = table[torch.as_tensor(ids, dtype=torch.long)]
        valid = torch.as_tensor(attn).bool()
        chans = {ch: SymbolChannel("twin", ch, seed) for ch in channels}  # one noise stream per channel
        cells = {}
        for snr in snrs:
            x = codec.encode_batch(refs, n, snr)  # SNR-conditioned: once per SNR, shared by the channels
            for ch, chan in chans.items():
                rx, nv, m, se = chan(x, snr)
                logp = codec.decode_logprobs(rx, nv, m, se)
                hyp = codec.texts_from_logprobs(logp)
                sub = float((logp.argmax(-1) == y)[valid].float().mean())
                cells[ch, snr] = {"corpus": corpus, "channel": ch, "snr_db": float(snr), "n": len(refs),
                                  "similarity": float(similarity(hyp, refs, codec.lam).mean()),
                                  "bleu": float(np.mean([sentence_bleu(h, r) for h, r in zip(hyp, refs)])),
                                  "word_acc": float(token_accuracy(hyp, refs).mean()), "subword_acc": sub}
        rows += [cells[ch, snr] for ch in channels for snr in snrs]  # rows by channel, then SNR
    return rows
