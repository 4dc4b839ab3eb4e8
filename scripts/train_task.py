#!/usr/bin/env python3
"""Train the task-oriented Fashion-MNIST codec (issue 8), stage by stage, resumably.

    .venv/bin/python scripts/train_task.py                     # all stages in order
    .venv/bin/python scripts/train_task.py --stage student     # one stage

Stages (each skips when its output exists, unless --force; checkpoints under checkpoints/task/):
  teacher       train the large teacher CNN                 -> checkpoints/task/teacher.safetensors
  store         run the teacher ONCE over the train split, store top-k logits (fp16 + uint8 idx,
                tail log-sum-exp) and int8 features          -> checkpoints/task/teacher_store.safetensors
  student       distil the student codec from the store through the channel twin (AWGN + Rayleigh,
                0-20 dB, tier truncation, IB rate term)     -> models/task_fmnist.safetensors + card
  teacher-jscc  same JSC layers on the frozen teacher       -> models/teacher_jscc.safetensors + card
  fractions     students on 25 % and 50 % of the training data (for the data-efficiency figure)
  online        online-distillation baseline (teacher forward every step) on the 25 % data, for the
                wall-time comparison with the stored-output student of the same data and epochs
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
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


def write_card(path: Path, codec: str, kind: str, weights: Path, training: dict, notes: str) -> None:
    card = {
        "codec": codec,
        "kind": kind,
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stage", choices=STAGES + ("all",), default="all")
    ap.add_argument("--force", action="store_true", help="redo a stage whose output exists")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--teacher-epochs", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=8, help="student / teacher-jscc epochs")
    ap.add_argument("--max-steps", type=int, default=None, help="cap steps per epoch (smoke runs only)")
    ap.add_argument("--beta", type=float, default=T.SystemConfig.beta, help="information-bottleneck weight")
    ap.add_argument("--models", type=Path, default=ROOT / "models")
    ap.add_argument("--ckpt", type=Path, default=ROOT / "checkpoints" / "task")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    ck, models = args.ckpt, args.models
    ck.mkdir(parents=True, exist_ok=True)
    stages = STAGES if args.stage == "all" else (args.stage,)
    teacher_w, store_p = ck / "teacher.safetensors", ck / "teacher_store.safetensors"
    summaries = json.loads((ck / "summaries.json").read_text()) if (ck / "summaries.json").is_file() else {}

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
        if stage == "teacher":
            if teacher_w.is_file() and not args.force:
                log.info("teacher: %s exists, skipping", teacher_w)
                continue
            done("teacher", T.train_teacher(teacher_w, ck, T.TeacherConfig(epochs=args.teacher_epochs)))
        elif stage == "store":
            if store_p.is_file() and not args.force:
                log.info("store: %s exists, skipping", store_p)
                continue
            done("store", T.build_store(teacher_w, store_p))
        elif stage in ("student", "teacher-jscc"):
            name = "task_fmnist" if stage == "student" else "teacher_jscc"
            out = models / f"{name}.safetensors"
            if out.is_file() and not args.force:
                log.info("%s: %s exists, skipping", stage, out)
                continue
            cfg = T.SystemConfig(epochs=args.epochs, max_steps=args.max_steps, beta=args.beta)
            if stage == "student":
                system = TaskSystem("student")
                store = TeacherStore.load(store_p)
                summary = T.train_system(system, ck / "student.pt", cfg, T.stored_targets(store), desc="student")
            else:
                system = TaskSystem("teacher")
                system.semantic.load_state_dict(T.load_teacher(teacher_w).state_dict())
                cfg = T.SystemConfig(epochs=args.epochs, max_steps=args.max_steps, beta=args.beta, alpha_kd=0.0, hint=0.0)
                store = TeacherStore.load(store_p)  # the frozen teacher's features, computed once
                summary = T.train_system(system, ck / "teacher_jscc.pt", cfg, None, train_semantic=False,
                                         desc="teacher-jscc", features=store.features)
            summary["params_encoder"] = n_params(system.encoder_modules())
            summary["params_total"] = n_params(system)
            summary["val_accuracy_10db_awgn"] = T.val_accuracy(system, 10.0)
            T.save_system(system, out, {"epochs": str(cfg.epochs)})
            codec = "task-fmnist" if stage == "student" else "teacher-jscc"
            notes = ("Student distilled from pre-stored compressed teacher outputs (top-4 logits fp16 + tail LSE, "
                     "int8 features) through the channel twin; IB rate term beta=%g." % cfg.beta
                     if stage == "student" else
                     "Frozen teacher CNN as the semantic encoder with the same JSC encoder/decoder layers, "
                     "trained through the twin (labels only, no distillation).")
            training = {k: summary[k] for k in ("epochs", "batch", "lr", "beta", "wall_s", "train_items",
                                                "params_encoder", "params_total", "val_accuracy_10db_awgn")}
            training["channels"] = list(cfg.channels)
            training["snr_db_range"] = list(cfg.snr_db)
            training["teacher"] = summaries.get("teacher", {})
            write_card(models / f"{name}.yaml", codec, "student" if stage == "student" else "teacher",
                       out, training, notes)
            done(stage, summary)
        elif stage == "fractions":
            store = TeacherStore.load(store_p)
            for frac in (0.25, 0.5):
                key = f"student_frac{int(frac * 100)}"
                out = ck / f"{key}.safetensors"
                if out.is_file() and not args.force:
                    log.info("%s exists, skipping", out)
                    continue
                system = TaskSystem("student")
                cfg = T.SystemConfig(epochs=args.epochs, max_steps=args.max_steps, beta=args.beta, fraction=frac)
                summary = T.train_system(system, ck / f"{key}.pt", cfg, T.stored_targets(store), desc=key)
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
            system = TaskSystem("student")
            cfg = T.SystemConfig(epochs=args.epochs, max_steps=args.max_steps, beta=args.beta, fraction=0.25)
            summary = T.train_system(system, ck / "student_online25.pt", cfg, T.online_targets(T.load_teacher(teacher_w)),
                                     desc="online25")
            summary["val_accuracy_10db_awgn"] = T.val_accuracy(system, 10.0)
            T.save_system(system, out, {"fraction": "0.25", "targets": "online"})
            done("student_online25", summary)
        log.info("stage %s done in %.0f s", stage, time.perf_counter() - t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
