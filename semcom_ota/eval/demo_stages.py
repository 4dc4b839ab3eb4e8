"""The demo's three stages, built from the bundled sample content (test-split items only).

- ``photos``: ``image-semantic`` and ``image-hybrid`` vs AVIF + LDPC at k/n = 1/12; PSNR, MS-SSIM.
- ``fashion-mnist``: ``task-fmnist`` (student) and ``teacher-jscc`` vs the image sent digitally
  (WebP + LDPC) then classified by the teacher, at 64 channel uses; accuracy. (64 uses cannot carry
  one LDPC codeword at any MCS: the digital receiver answers from its prior, the mean image.)
- ``sentences``: ``text-semantic`` vs brotli + LDPC at the semantic codec's full frame; MiniLM
  similarity and BLEU.

Each stage scores a frame the PHY lost as the receiver would see it: the mid-grey image, the class
of the mean training image, an empty sentence.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from semcom_ota.eval.demo import DemoStage
from semcom_ota.eval.report import png_data_uri

PHOTO_CBR = 1 / 12
FMNIST_SYMBOLS = 64


def _register_codecs() -> None:
    import semcom_ota.baselines  # noqa: F401  (registers image-digital, text-digital)


def photos_stage(max_items: int | None) -> DemoStage:
    from semcom_ota.data import load_samples
    from semcom_ota.eval.image_metrics import ms_ssim, psnr_db
    from semcom_ota.semantic.base import codecs
    from semcom_ota.semantic.image.codec import ImageSemanticCodec
    from semcom_ota.semantic.image.hybrid import ImageHybridCodec

    _register_codecs()
    photos = load_samples().photos[:max_items]
    images = [p[1] for p in photos]

    def recon(i: int, dec: Any) -> np.ndarray:
        return dec.content if dec is not None else np.full_like(images[i], 128)

    def score(i: int, dec: Any) -> dict[str, float]:
        r = recon(i, dec)
        return {"psnr_db": float(psnr_db(images[i], r)), "ms_ssim": float(ms_ssim(images[i], r))}

    def example(i: int, outs: dict[str, Any], snr: float) -> dict[str, Any]:
        panels = [{"label": "original", "src": png_data_uri(images[i])}]
        for scheme, o in outs.items():
            if o is None:
                continue
            r = recon(i, o.decoded[i])
            lost = " (frame lost)" if o.decoded[i] is None else ""
            panels.append({"label": f"{scheme} · {psnr_db(images[i], r):.1f} dB PSNR{lost}", "src": png_data_uri(r)})
        return {"kind": "image", "title": f"{photos[i][0]} @ {snr:g} dB ({images[i].shape[1]}x{images[i].shape[0]}, "
                f"{int(round(PHOTO_CBR * images[i].size))} channel uses)", "panels": panels}

    return DemoStage(
        name="photos", task="image", items=images,
        schemes={
            "semantic": lambda: ImageSemanticCodec(),
            "hybrid": lambda: ImageHybridCodec(channel="awgn"),
            "avif+ldpc": lambda: codecs.create("image-digital", source_codec="avif", channel="awgn"),
        },
        budget=lambda img: int(round(PHOTO_CBR * img.size)), score=score, example=example,
    )


def sentences_stage(max_items: int | None) -> DemoStage:
    from semcom_ota.data import load_samples
    from semcom_ota.eval.text_metrics import sentence_bleu, similarity
    from semcom_ota.semantic.base import codecs, load_codec
    from semcom_ota.semantic.text.codec import TextSemanticCodec  # noqa: F401  (registers text-semantic)

    _register_codecs()
    sentences = load_samples().sentences[:max_items]
    semantic = load_codec(_models_dir() / "text_semantic.yaml")
    budget = int(semantic.n_symbols)

    def text(dec: Any) -> str:
        return dec.content if dec is not None else ""

    def score(i: int, dec: Any) -> dict[str, float]:
        hyp = text(dec)
        return {"similarity": float(similarity([hyp], [sentences[i]])[0]), "bleu": float(sentence_bleu(hyp, sentences[i]))}

    def example(i: int, outs: dict[str, Any], snr: float) -> dict[str, Any]:
        return {"kind": "text", "snr_db": snr, "original": sentences[i],
                "outputs": {s: (o.decoded[i].content if o.decoded[i] is not None else None) for s, o in outs.items() if o is not None}}

    return DemoStage(
        name="sentences", task="text", items=sentences,
        schemes={"semantic": lambda: semantic,
                 "brotli+ldpc": lambda: codecs.create("text-digital", source_codec="brotli", channel="awgn")},
        budget=lambda s: budget, score=score, example=example,
    )


def fmnist_stage(max_items: int | None) -> DemoStage:
    from semcom_ota.data import FASHION_MNIST_CLASSES, load_samples
    from semcom_ota.semantic.base import codecs, load_codec
    from semcom_ota.semantic.task.codec import TaskCodec  # noqa: F401  (registers task-fmnist, teacher-jscc)

    _register_codecs()
    images, labels = load_samples().fmnist
    images, labels = images[:max_items], labels[:max_items]
    from semcom_ota.eval.task import mean_train_image, teacher_classify
    from semcom_ota.semantic.base import Decoded

    student = load_codec(_models_dir() / "task_fmnist.yaml")
    teacher = load_codec(_models_dir() / "teacher_jscc.yaml")
    teacher_net = teacher.system.semantic  # the clean teacher classifier

    def classify(image: np.ndarray) -> Decoded:
        k = int(teacher_classify(teacher_net, np.asarray(image, np.uint8)[None])[0])
        return Decoded(content=np.asarray(image, np.uint8), tasks={"class": k, "class_name": FASHION_MNIST_CLASSES[k]})

    prior = classify(mean_train_image())  # what a receiver that got nothing answers

    class DigitalThenTeacher:
        """The separation baseline: the image sent by WebP + LDPC + QAM, then classified by the teacher.
        At 64 channel uses no MCS fits one LDPC codeword, so nothing is sent (counted as not sent)."""

        def __init__(self) -> None:
            self.digital = codecs.create("image-digital", source_codec="webp", channel="awgn")

        def encode(self, image, budget, snr_db=10.0):
            return self.digital.encode(image, budget, snr_db=snr_db)

        def decode(self, rx):
            return classify(self.digital.decode(rx).content)

    def score(i: int, dec: Any) -> dict[str, float]:
        return {"accuracy": float(int(dec.tasks.get("class", -1)) == int(labels[i]))}

    def example(i: int, outs: dict[str, Any], snr: float) -> dict[str, Any] | None:
        if i >= 4:
            return None
        panels = [{"label": f"original · {FASHION_MNIST_CLASSES[int(labels[i])]}", "src": png_data_uri(images[i], 4)}]
        for scheme, o in outs.items():
            if o is None:
                continue
            d = o.decoded[i]
            if d is None:
                why = "not sent (does not fit)" if o.not_sent else "frame lost"
                panels.append({"label": f"{scheme}: {why} → prior {prior.tasks['class_name']}", "src": png_data_uri(prior.content, 4)})
                continue
            name = FASHION_MNIST_CLASSES[int(d.tasks["class"])] if int(d.tasks.get("class", -1)) >= 0 else "?"
            mark = "✓" if int(d.tasks.get("class", -1)) == int(labels[i]) else "✗"
            panels.append({"label": f"{scheme}: {name} {mark}", "src": png_data_uri(np.asarray(d.content, np.uint8), 4)})
        return {"kind": "image", "title": f"Fashion-MNIST test item {i} @ {snr:g} dB ({FMNIST_SYMBOLS} channel uses)", "panels": panels}

    return DemoStage(
        name="fashion-mnist", task="classify", items=list(images),
        schemes={"semantic": lambda: student, "teacher-jscc": lambda: teacher, "webp+ldpc": DigitalThenTeacher},
        budget=lambda img: FMNIST_SYMBOLS, score=score, example=example, fallback=lambda i: prior,
    )


def _models_dir():
    from semcom_ota.eval.demo import models_dir

    return models_dir()


BUILDERS = {"photos": photos_stage, "fashion-mnist": fmnist_stage, "sentences": sentences_stage}


def build_stages(names: tuple[str, ...], max_items: int | None) -> list[DemoStage]:
    """Build the named stages; one that cannot be built (a missing model) is logged and skipped
    by the caller's stage log, never silently."""
    from semcom_ota.eval.demo import run_stage_safely

    out = []
    log: list[dict[str, Any]] = []
    for n in names:
        s = run_stage_safely(f"build {n}", lambda n=n: BUILDERS[n](max_items), log)
        if s is not None:
            out.append(s)
    build_stages.last_log = log  # type: ignore[attr-defined]
    return out
