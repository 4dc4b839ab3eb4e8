#!/usr/bin/env python3
"""Train the task-oriented Fashion-MNIST codec (issue 8), stage by stage, resumably.

    .venv/bin/python scripts/train_task.py                     # all stages in order
    .venv/bin/python scripts/train_task.py --stage student     # one stage
    python3 scripts/train_task.py --recipe gpu --device cuda --data-dir DIR --out-dir OUT \
        --models /tmp/task/models --ckpt /tmp/task/ckpt          # the GPU recipe, all stages

Stages (each skips when its output exists, unless --force; checkpoints under checkpoints/task/):
  teacher       train the large teacher CNN                 -> checkpoints/task/teacher.safetensors
  store         run the teacher ONCE over the train split, store top-k logits (fp16 + uint8 idx,
                tail log-sum-exp) and int8 features          -> checkpoints/task/teacher_store.safetensors
                (--teacher-views 2, the default: soft labels averaged over the image and its mirror)
  student       distil the student codec from the store through the channel twin (AWGN + Rayleigh,
                0-20 dB, tier truncation, IB rate term)     -> models/task_fmnist.safetensors + card
  teacher-jscc  same JSC layers on the frozen teacher       -> models/teacher_jscc.safetensors + card
  fractions     students on 25 % and 50 % of the training data (for the data-efficiency figure)
  teacher-from-jscc  (not in "all") recover the teacher from models/teacher_jscc.safetensors (its frozen
                semantic encoder, float16 weights) -> checkpoints/task/teacher.safetensors
  finetune      (not in "all") continue distilling the shipped student from the store with its own
                channel mix / SNR skew / lr (--ft-* options); the checkpoint is chosen on the validation
                split (margin to teacher-jscc at AWGN and Rayleigh 0 dB, 64 symbols; never the test
                split)                                     -> models/task_fmnist.safetensors + card
  online        online-distillation baseline (teacher forward every step) on the 25 % data, for the
                wall-time comparison with the stored-output student of the same data and epochs

Recipes (--recipe; explicit options override them):
  cpu   arch v1 (TeacherNet 1.7 M params, 16/32/32 student), teacher 8 epochs with the OneCycle ->
        cosine switch after 4, students 8 epochs, batch 128, no student augmentation (the defaults).
  gpu   arch v2 (ResNet teacher 2.7 M params, 32/64/64/64 student), teacher 40 epochs batch 512
        lr 4e-3 plain OneCycle with bfloat16 autocast, students 60 epochs batch 512 lr 3e-3 with
        flip/shift augmentation (stored targets are those of the clean image); teacher-jscc
        without augmentation (its frozen features come from the store).

--out-dir DIR writes the log (train_task.log) and, after every stage, what the stages made so far
(task_models.tar: the cards and codec weights; task_ckpt.tar: summaries.json and the 25/50 % and
online students; teacher.safetensors; teacher_store.safetensors): <= 5 files, each < 16 MiB.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tarfile
import time
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from semcom_ota.semantic.task.codec import sha256_file  # noqa: E402
from semcom_ota.semantic.task.nets import TaskSystem, n_params  # noqa: E402
from semcom_ota.semantic.task.store import TeacherStore  # noqa: E402
from semcom_ota.train import task as T  # noqa: E402

log = logging.getLogger("train_task")
STAGES = ("teacher", "store", "student", "teacher-jscc", "fractions", "online")
RECIPES = {
    "cpu": {"arch": "v1", "teacher_epochs": 8, "teacher_batch": 128, "teacher_lr": 3e-3, "anneal_after": 4,
            "epochs": 8, "batch": 128, "lr": 2e-3, "augment": False, "amp": False},
    "gpu": {"arch": "v2", "teacher_epochs": 40, "teacher_batch": 512, "teacher_lr": 4e-3, "anneal_after": -1,
            "epochs": 60, "batch": 512, "lr": 3e-3, "augment": True, "amp": True},
}
MAX_OUT_BYTES = 16 * 1024 * 1024


def pack_outputs(out_dir: Path, models: Path, ck: Path) -> list[Path]:
    """Copy what the stages made so far into ``out_dir`` as <= 4 files (plus the log), each checked
    against 16 MiB: task_models.tar (cards + codec weights), task_ckpt.tar (summaries + fraction and
    online students), teacher.safetensors, teacher_store.safetensors."""
    out_dir.mkdir(parents=True, exist_ok=True)
    groups = {
        "task_models.tar": [models / f"{n}.{e}" for n in ("task_fmnist", "teacher_jscc") for e in ("yaml", "safetensors")],
        "task_ckpt.tar": [ck / "summaries.json"] + [ck / f"student_{k}.safetensors" for k in ("frac25", "frac50", "online25")],
    }
    written = []
    for name, files in groups.items():
        files = [f for f in files if f.is_file()]
        if not files:
            continue
        tmp = out_dir / (name + ".tmp")
        with tarfile.open(tmp, "w") as tar:
            for f in files:
                tar.add(f, arcname=f.name)
        tmp.replace(out_dir / name)
        written.append(out_dir / name)
    for f in (ck / "teacher.safetensors", ck / "teacher_store.safetensors"):
        if f.is_file():
            dest = out_dir / f.name
            if not dest.is_file() or dest.stat().st_mtime < f.stat().st_mtime:
                shutil.copyfile(f, out_dir / (f.name + ".tmp"))  # whole or not at all, if killed meanwhile
                (out_dir / (f.name + ".tmp")).replace(dest)
            written.append(dest)
    for f in written:
        if f.stat().st_size >= MAX_OUT_BYTES:
            log.warning("%s: %.1f MiB, over the 16 MiB a fetched file may have", f, f.stat().st_size / 2**20)
    return written


def write_card(path: Path, codec: str, kind: str, weights: Path, training: dict, notes: str, arch: str = "v1") -> None:
    card = {
        "codec": codec,
        "kind": kind,
        "arch": arch,
        "weights": weights.name,
        "sha256": sha256_file(weights),
        "n_symbols": 64,
        "tiers": [8, 16, 32, 64],
        "budgets": [16, 32, 64],
        "data": "Fashion-MNIST train split (55k, semcom_ota.data.load_fashion_mnist); test split held out",
        "training": training,
        "figures": {},
        "notes": notes,
    }
    old = yaml.safe_load(path.read_text()) if path.is_file() else None
    if old and old.get("figures"):
        card["figures"] = old["figures"]  # keep measured figures (filled by scripts/bench/task.py --write-card)
    path.write_text(yaml.safe_dump(card, sort_keys=False, width=110))
    log.info("wrote %s", path)


def add_finetune_record(training: dict, record: dict) -> None:
    """Put a fine-tune round's ``record`` into a card's ``training`` mapping without losing earlier
    rounds: the first goes to ``training["finetune"]``; later ones make it ``{"round1": ..., "round2": ...}``
    (a card that already has round keys gets the next one)."""
    prev = training.get("finetune")
    if not prev:
        training["finetune"] = record
        return
    rounds = dict(prev) if any(str(k).startswith("round") for k in prev) else {"round1": prev}
    n = 1 + sum(str(k).startswith("round") for k in rounds)
    rounds[f"round{n}"] = record
    training["finetune"] = rounds


def finetune(args, models: Path, ck: Path, store_p: Path, device: str, system_cfg, on_device, done) -> None:
    """The ``finetune`` stage: continue the shipped student's distillation from the store (see the
    module docstring); overwrite its weights and card only if it beats the start on validation."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    card_path, weights = models / "task_fmnist.yaml", models / "task_fmnist.safetensors"
    card = yaml.safe_load(card_path.read_text())
    old_sha = sha256_file(weights)
    with safe_open(str(store_p), "np") as f:
        store_meta = f.metadata() or {}
    system = TaskSystem("student", arch=card["arch"])
    system.load_state_dict(load_file(str(weights)))
    system = system.to(device)
    teacher = TaskSystem("teacher", arch=card["arch"])
    teacher.load_state_dict(load_file(str(models / "teacher_jscc.safetensors")))
    xv, yv = T.load_split("val")
    points = [("awgn", 0.0), ("rayleigh", 0.0)]
    ref_p = ck / "teacher_jscc_val.json"
    if ref_p.is_file():
        ref = {tuple(k.split("|")[:1]) + (float(k.split("|")[1]),): v for k, v in json.loads(ref_p.read_text()).items()}
    else:
        ref = T.twin_accuracies(teacher, xv, yv, points)
        ref_p.write_text(json.dumps({f"{c}|{snr:g}": v for (c, snr), v in ref.items()}))
    log.info("teacher-jscc on val (5000 images, 64 symbols): %s", ref)

    def select(sys_: TaskSystem) -> float:
        acc = T.twin_accuracies(sys_, xv, yv, points)
        log.info("val: %s", {f"{c} {snr:g} dB": round(v, 4) for (c, snr), v in acc.items()})
        return min(acc[p] - ref[p] for p in points)  # worst margin to teacher-jscc

    start_score = select(system)
    lo, hi = (float(v) for v in args.ft_snr_db.split(","))
    cfg = system_cfg(channels=tuple(args.ft_channels.split(",")), snr_db=(lo, hi), snr_skew=args.ft_snr_skew,
                     pct_start=args.ft_pct_start, eval_every=args.ft_eval_every,
                     max_wall_s=args.ft_max_wall_s)
    store = TeacherStore.load(store_p)
    summary = T.train_system(system, ck / "finetune.pt", cfg, T.stored_targets(on_device(store)), desc="finetune",
                             select=select)
    summary["start_score"] = start_score
    if summary.get("best_score", -1.0) <= start_score:
        log.warning("finetune: best validation score %.4f does not beat the start %.4f; models/ left as they were",
                    summary.get("best_score", float("nan")), start_score)
        done("finetune", summary)
        return
    summary["val_accuracy_10db_awgn"] = T.val_accuracy(system, 10.0)
    T.save_system(system, weights, {"epochs": str(card["training"].get("epochs", "")), "device": str(card["training"].get("device", "")),
                                    "finetune_steps": str(summary["best_step"]), "finetune_device": device})
    card["sha256"] = sha256_file(weights)
    add_finetune_record(card["training"], {
        "from": f"{weights.name} as it was (sha256 {old_sha[:12]}), trained as above",
        "targets": f"{store_p.name} (teacher {store_meta.get('teacher', '?')}, {store_meta.get('views', '1')} view(s), "
                   f"built on {store_meta.get('device', 'unrecorded device')})",
        "device": device, "torch_threads": args.threads,
        "steps_run": summary["steps_run"], "steps_kept": summary["best_step"], "batch": cfg.batch, "lr": cfg.lr,
        "pct_start": cfg.pct_start, "epochs": cfg.epochs, "augment": cfg.augment, "channels": list(cfg.channels),
        "snr_db_range": list(cfg.snr_db), "snr_skew": cfg.snr_skew, "wall_s": round(summary["wall_s"], 1),
        "cpu_s": round(summary["cpu_s"], 1),
        "selection": "validation split (5000 images): max of min(student - teacher-jscc) at AWGN 0 dB and Rayleigh 0 dB, 64 symbols",
        "val_score_start": round(start_score, 4), "val_score_kept": round(summary["best_score"], 4),
        "val_accuracy_10db_awgn": summary["val_accuracy_10db_awgn"],
    })
    card_path.write_text(yaml.safe_dump(card, sort_keys=False, width=110))
    done("finetune", summary)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stage", choices=STAGES + ("all", "teacher-from-jscc", "finetune"), default="all")
    ap.add_argument("--force", action="store_true", help="redo a stage whose output exists")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--recipe", choices=tuple(RECIPES), default="cpu", help="defaults of the options below")
    ap.add_argument("--device", default="cpu", help="cpu | cuda (default cpu)")
    ap.add_argument("--arch", choices=("v1", "v2"), default=None, help="network generation (nets.ARCHS)")
    ap.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                    help="bfloat16 autocast of the teacher (training, online targets)")
    ap.add_argument("--teacher-epochs", type=int, default=None)
    ap.add_argument("--teacher-batch", type=int, default=None)
    ap.add_argument("--teacher-lr", type=float, default=None)
    ap.add_argument("--anneal-after", type=int, default=None,
                    help="teacher: switch OneCycle to a 2-epoch cosine after this epoch (-1: plain OneCycle)")
    ap.add_argument("--epochs", type=int, default=None, help="student / teacher-jscc epochs")
    ap.add_argument("--batch", type=int, default=None, help="student / teacher-jscc batch")
    ap.add_argument("--lr", type=float, default=None, help="student / teacher-jscc peak learning rate")
    ap.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                    help="flip/shift augmentation of the students' images")
    ap.add_argument("--max-steps", type=int, default=None, help="cap steps per epoch (smoke runs only)")
    ap.add_argument("--limit-items", type=int, default=None,
                    help="keep the first N items of the train and val splits (smoke runs only)")
    ap.add_argument("--teacher-views", type=int, choices=(1, 2), default=T.TEACHER_VIEWS,
                    help="views the teacher's soft labels average over, for the store and the online baseline "
                         "(1: the image; 2: + its mirror image, default)")
    ap.add_argument("--beta", type=float, default=T.SystemConfig.beta, help="information-bottleneck weight")
    ap.add_argument("--data-dir", type=Path, default=None,
                    help="folder of the Fashion-MNIST IDX .gz files (default $SEMCOM_FASHION_MNIST_DIR or the Debian path)")
    ap.add_argument("--ft-channels", default="awgn,rayleigh,rayleigh",
                    help="finetune: twin kinds, items split evenly over the list (repeat a kind to weight it)")
    ap.add_argument("--ft-snr-db", default="0,20", help="finetune: SNR range lo,hi (dB)")
    ap.add_argument("--ft-snr-skew", type=float, default=2.0, help="finetune: SNR = lo + (hi-lo) u**skew")
    ap.add_argument("--ft-pct-start", type=float, default=0.1, help="finetune: OneCycle warm-up fraction")
    ap.add_argument("--ft-eval-every", type=int, default=200, help="finetune: steps between validation checks")
    ap.add_argument("--ft-max-wall-s", type=float, default=None, help="finetune: stop training after this wall time")
    ap.add_argument("--models", type=Path, default=ROOT / "models")
    ap.add_argument("--ckpt", type=Path, default=ROOT / "checkpoints" / "task")
    ap.add_argument("--out-dir", type=Path, default=None,
                    help="write the log and, after every stage, the packed outputs here (see above)")
    args = ap.parse_args(argv)
    for key, value in RECIPES[args.recipe].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if args.out_dir is not None:
        args.out_dir.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(args.out_dir / "train_task.log"))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", handlers=handlers)
    if args.data_dir is not None:
        from semcom_ota.data.fmnist import ROOT_ENV

        if not args.data_dir.is_dir():
            ap.error(f"--data-dir {args.data_dir}: not a folder (expected the Fashion-MNIST IDX .gz files)")
        os.environ[ROOT_ENV] = str(args.data_dir.resolve())
    torch.set_num_threads(args.threads)
    if args.limit_items is not None:
        T.LIMIT_ITEMS = args.limit_items
        log.warning("smoke run: train and val splits cut to %d items", args.limit_items)
    device = str(T.resolve_device(args.device))
    log.info("train_task: %s", json.dumps({k: str(v) for k, v in vars(args).items()}))
    anneal_after = None if args.anneal_after < 0 else args.anneal_after
    ck, models = args.ckpt, args.models
    ck.mkdir(parents=True, exist_ok=True)
    stages = STAGES if args.stage == "all" else (args.stage,)
    teacher_w, store_p = ck / "teacher.safetensors", ck / "teacher_store.safetensors"
    summaries = json.loads((ck / "summaries.json").read_text()) if (ck / "summaries.json").is_file() else {}

    def system_cfg(**kw) -> T.SystemConfig:
        base = dict(epochs=args.epochs, batch=args.batch, lr=args.lr, max_steps=args.max_steps, beta=args.beta,
                    augment=args.augment, device=device, amp=args.amp)
        return T.SystemConfig(**{**base, **kw})

    def on_device(store: TeacherStore):
        return store if device == "cpu" else store.to(device)

    def done(name: str, summary: dict) -> None:
        # re-read: stages may run in parallel processes that share the file
        path = ck / "summaries.json"
        current = json.loads(path.read_text()) if path.is_file() else {}
        current[name] = summary
        summaries.update(current)
        path.write_text(json.dumps(current, indent=1))
        log.info("%s: %s", name, json.dumps(summary))

    for stage in stages:
        t0 = time.perf_counter()
        if stage == "finetune":
            finetune(args, models, ck, store_p, device, system_cfg, on_device, done)
        elif stage == "teacher-from-jscc":
            if teacher_w.is_file() and not args.force:
                log.info("teacher: %s exists, skipping", teacher_w)
                continue
            done("teacher_from_jscc", T.teacher_from_jscc(models / "teacher_jscc.safetensors", teacher_w))
        elif stage == "teacher":
            if teacher_w.is_file() and not args.force:
                log.info("teacher: %s exists, skipping", teacher_w)
                continue
            tcfg = T.TeacherConfig(epochs=args.teacher_epochs, batch=args.teacher_batch, lr=args.teacher_lr,
                                   anneal_after=anneal_after, arch=args.arch, device=device, amp=args.amp,
                                   max_steps=args.max_steps)
            done("teacher", T.train_teacher(teacher_w, ck, tcfg))
        elif stage == "store":
            if store_p.is_file() and not args.force:
                log.info("store: %s exists, skipping", store_p)
                continue
            done("store", T.build_store(teacher_w, store_p, device=device, views=args.teacher_views))
        elif stage in ("student", "teacher-jscc"):
            name = "task_fmnist" if stage == "student" else "teacher_jscc"
            out = models / f"{name}.safetensors"
            if out.is_file() and not args.force:
                log.info("%s: %s exists, skipping", stage, out)
                continue
            cfg = system_cfg()
            store = TeacherStore.load(store_p)
            if stage == "student":
                system = TaskSystem("student", arch=args.arch).to(device)
                summary = T.train_system(system, ck / "student.pt", cfg, T.stored_targets(on_device(store)), desc="student")
            else:
                arch = T.teacher_arch(teacher_w)
                if arch != args.arch:
                    raise SystemExit(f"teacher-jscc: {teacher_w} is arch {arch}, --arch is {args.arch}")
                system = TaskSystem("teacher", arch=arch)
                system.semantic.load_state_dict(T.load_teacher(teacher_w).state_dict())
                system = system.to(device)
                # labels only, no distillation, no augmentation: the frozen teacher's features come
                # from the store (computed once, on the clean images)
                cfg = system_cfg(alpha_kd=0.0, hint=0.0, augment=False)
                summary = T.train_system(system, ck / "teacher_jscc.pt", cfg, None, train_semantic=False,
                                         desc="teacher-jscc", features=on_device(store).features)
            summary["params_encoder"] = n_params(system.encoder_modules())
            summary["params_total"] = n_params(system)
            summary["val_accuracy_10db_awgn"] = T.val_accuracy(system, 10.0)
            T.save_system(system, out, {"epochs": str(cfg.epochs), "device": device})
            codec = "task-fmnist" if stage == "student" else "teacher-jscc"
            notes = ("Student distilled from pre-stored compressed teacher outputs (top-4 logits fp16 + tail LSE, "
                     "int8 features) through the channel twin; IB rate term beta=%g." % cfg.beta
                     if stage == "student" else
                     "Frozen teacher CNN as the semantic encoder with the same JSC encoder/decoder layers, "
                     "trained through the twin (labels only, no distillation).")
            training = {k: summary[k] for k in ("epochs", "batch", "lr", "beta", "augment", "device", "wall_s",
                                                "train_items", "params_encoder", "params_total", "val_accuracy_10db_awgn")}
            training["channels"] = list(cfg.channels)
            training["snr_db_range"] = list(cfg.snr_db)
            training["teacher"] = summaries.get("teacher", {})
            write_card(models / f"{name}.yaml", codec, "student" if stage == "student" else "teacher",
                       out, training, notes, arch=args.arch)
            done(stage, summary)
        elif stage == "fractions":
            store = TeacherStore.load(store_p)
            for frac in (0.25, 0.5):
                key = f"student_frac{int(frac * 100)}"
                out = ck / f"{key}.safetensors"
                if out.is_file() and not args.force:
                    log.info("%s exists, skipping", out)
                    continue
                system = TaskSystem("student", arch=args.arch).to(device)
                cfg = system_cfg(fraction=frac)
                summary = T.train_system(system, ck / f"{key}.pt", cfg, T.stored_targets(on_device(store)), desc=key)
                summary["val_accuracy_10db_awgn"] = T.val_accuracy(system, 10.0)
                T.save_system(system, out, {"fraction": str(frac)})
                done(key, summary)
        elif stage == "online":
            # the online-distillation baseline: same data (25 %), epochs and losses as student_frac25,
            # but the teacher runs forward on every step instead of reading the store
            out = ck / "student_online25.safetensors"
            if out.is_file() and not args.force:
                log.info("%s exists, skipping", out)
                continue
            system = TaskSystem("student", arch=args.arch).to(device)
            cfg = system_cfg(fraction=0.25)
            teacher = T.load_teacher(teacher_w, device)
            summary = T.train_system(system, ck / "student_online25.pt", cfg,
                                     T.online_targets(teacher, amp=args.amp, views=args.teacher_views),
                                     desc="online25")
            summary["val_accuracy_10db_awgn"] = T.val_accuracy(system, 10.0)
            T.save_system(system, out, {"fraction": "0.25", "targets": "online"})
            done("student_online25", summary)
        log.info("stage %s done in %.0f s", stage, time.perf_counter() - t0)
        if args.out_dir is not None:
            log.info("packed: %s", ", ".join(f"{p.name} {p.stat().st_size / 2**20:.1f} MiB"
                                             for p in pack_outputs(args.out_dir, models, ck)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
