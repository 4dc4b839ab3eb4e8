#!/usr/bin/env python3
"""Benchmark of the task-oriented codec (issue 8): each figure beside its baseline, in one run.

    .venv/bin/python scripts/bench/task.py --n 2000 --json artifacts/bench_task.json [--write-card]
    .venv/bin/python scripts/bench/task.py --distillation-only --timing-steps 150   # section 3 alone

1. size and encoder latency: student (semantic + JSC encoder) vs the teacher's encoder + the same JSC;
2. accuracy on held-out test images over the twin (AWGN, Rayleigh; 0-20 dB; 8..64 symbols): student
   vs teacher-jscc vs digital separation (classified by the teacher) at the same channel uses;
3. fast distillation: pre-stored teacher outputs vs online teacher (forward every step) — the full
   recorded runs (same 25 % data, epochs and losses; checkpoints/task/summaries.json) and a live
   re-measure of the per-step cost on identical batches, with the validation accuracy both arms
   reach (the online teacher runs the views the store was built with, see ``--teacher-views``);
4. data efficiency: students trained on 25 / 50 / 100 % of the training data.
Machine: whatever runs it (the figures in BENCHMARKS.md: 2 shared CPU cores, no GPU), 1 torch thread.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import semcom_ota.semantic.task  # noqa: E402,F401
from semcom_ota.eval.task import (  # noqa: E402
    codec_accuracy_twin,
    digital_accuracy,
    teacher_classify,
    test_subset,
)
from semcom_ota.results import ResultRow, format_table, write_rows  # noqa: E402
from semcom_ota.semantic.base import load_codec  # noqa: E402
from semcom_ota.semantic.task.codec import TaskCodec  # noqa: E402
from semcom_ota.semantic.task.nets import TaskSystem, images_to_tensor, n_params  # noqa: E402

log = logging.getLogger("bench.task")
CK = ROOT / "checkpoints" / "task"


def encoder_latency_ms(system: TaskSystem, images: np.ndarray, batch: int, repeats: int) -> tuple[float, float]:
    """(best, median) ms per call of semantic + JSC encoder on ``batch`` images, 1 thread."""
    x = images_to_tensor(images[:batch])
    snr = torch.full((batch,), 5.0)
    times = []
    with torch.inference_mode():
        for _ in range(3):
            system.encode(x, snr)
        for _ in range(repeats):
            t0 = time.perf_counter()
            system.encode(x, snr)
            times.append((time.perf_counter() - t0) * 1e3)
    return min(times), statistics.median(times)


def codec_from_weights(path: Path, kind: str = "student") -> TaskCodec:
    """A TaskCodec around raw weights (the 25/50 % and online students live in checkpoints/)."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(path), "pt") as f:
        arch = (f.metadata() or {}).get("arch", "v1")  # written by train.task.save_system
    codec = TaskCodec.__new__(TaskCodec)
    codec.system = TaskSystem(kind, arch=arch)
    codec.system.load_state_dict(load_file(str(path)))
    codec.system.eval()
    codec._seq = 0
    return codec


def per_step_timing(steps: int, rounds: int = 2, views: int | None = None) -> dict:
    """Live: the same ``steps`` training steps (same batches, seed and losses) with stored targets
    and with online teacher targets (``views`` as the store was built: its metadata, else 1),
    ``rounds`` times alternating the arms (load drift on a shared machine hits both); CPU and wall
    seconds summed over the rounds, and the validation accuracy (5000 images, 64 symbols, AWGN 0 and
    10 dB) of each arm's student after the last round: equal targets, equal steps -> equal accuracy."""
    from safetensors import safe_open

    from semcom_ota.semantic.task.store import TeacherStore
    from semcom_ota.train import task as T

    store_path = CK / "teacher_store.safetensors"
    store = TeacherStore.load(store_path)
    if views is None:
        with safe_open(str(store_path), "pt") as f:
            views = int((f.metadata() or {}).get("views", 1))
    teacher = T.load_teacher(CK / "teacher.safetensors")
    arch = T.teacher_arch(CK / "teacher.safetensors")
    out = {"arch": arch, "rounds": rounds, "views": views}
    xv, yv = T.load_split("val")
    for r in range(rounds):
        for name, targets in (("stored", T.stored_targets(store)), ("online", T.online_targets(teacher, views=views))):
            ck = Path("/tmp") / f"bench_task_{name}_{time.time_ns()}.pt"
            cfg = T.SystemConfig(epochs=1, max_steps=steps, fraction=0.25)
            torch.manual_seed(0)
            system = TaskSystem("student", arch=arch)
            s = T.train_system(system, ck, cfg, targets, desc=f"timing-{name}")
            ck.unlink(missing_ok=True)
            acc = out.setdefault(name, {"wall_s": 0.0, "cpu_s": 0.0, "steps": 0, "cpu_s_rounds": []})
            acc["wall_s"] += s["wall_s"]
            acc["cpu_s"] += s["cpu_s"]
            acc["steps"] += s["steps"]
            acc["cpu_s_rounds"].append(s["cpu_s"])
            if r == rounds - 1:  # one encoder pass for both points (same draws as T.val_accuracy)
                va = T.twin_accuracies(system, xv, yv, [("awgn", 0.0), ("awgn", 10.0)])
                acc["val_accuracy_awgn_0db"], acc["val_accuracy_awgn_10db"] = va[("awgn", 0.0)], va[("awgn", 10.0)]
    # the teacher's share of an online step, measured alone (as online_targets runs it: channels_last,
    # ``views`` views) and as a plain NCHW model; the store's share the same way
    xs, _ = T.load_split("train")
    x = images_to_tensor(xs[:128])
    n = out["teacher_forward_steps"] = min(steps, 50)  # the forwards alone: a measure, not training
    plain = T.load_teacher(CK / "teacher.safetensors")
    with torch.no_grad():
        for key, model in (("teacher_forward_cpu_s", teacher), ("teacher_forward_nchw_cpu_s", plain)):
            T.teacher_forward(model, x, views)
            c0 = time.process_time()
            for _ in range(n):
                T.teacher_forward(model, x, views)
            out[key] = time.process_time() - c0
        c0 = time.process_time()
        for i in range(n):
            rows = np.arange(i * 128, (i + 1) * 128) % store.n
            store.logits(rows), store.features(rows)
        out["store_read_cpu_s"] = time.process_time() - c0
    out["batch"], out["store_n"] = T.SystemConfig.batch, int(store.n)
    return out


def profile_step(steps: int) -> str:
    """torch.profiler table (self CPU time by op and input shape) of ``steps`` stored-target steps."""
    from torch.profiler import ProfilerActivity, profile

    from semcom_ota.semantic.task.store import TeacherStore
    from semcom_ota.train import task as T

    store = TeacherStore.load(CK / "teacher_store.safetensors")
    arch = T.teacher_arch(CK / "teacher.safetensors")
    ck = Path("/tmp") / f"bench_task_profile_{time.time_ns()}.pt"
    T.train_system(TaskSystem("student", arch=arch), ck, T.SystemConfig(epochs=1, max_steps=3, fraction=0.25),
                   T.stored_targets(store), desc="warm-up")
    ck.unlink(missing_ok=True)
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        T.train_system(TaskSystem("student", arch=arch), ck, T.SystemConfig(epochs=1, max_steps=steps, fraction=0.25),
                       T.stored_targets(store), desc="profile")
    ck.unlink(missing_ok=True)
    return prof.key_averages(group_by_input_shape=True).table(sort_by="self_cpu_time_total", row_limit=20,
                                                              max_name_column_width=34, max_shapes_column_width=70)


def full_run_cpu_estimate(live: dict, items: int, epochs: int, store_build_cpu_s: float | None = None) -> dict:
    """CPU seconds of a whole distillation run on ``items`` images for ``epochs`` epochs, from the
    live per-step measure (batch ``live['batch']``): online = steps x online step; stored = steps x
    stored step + building the store, charged two ways: the whole store (a teacher pass over all its
    ``store_n`` images, shared in truth by every student trained from it; ``store_build_cpu_s`` when
    measured, else one live teacher forward per batch) and the run's own share (its ``items``). An
    estimate: no full CPU run of the v2 recipe is recorded."""
    steps = math.ceil(items / live["batch"]) * epochs
    fwd = live["teacher_forward_cpu_s"] / live.get("teacher_forward_steps", live["stored"]["steps"])
    build = store_build_cpu_s if store_build_cpu_s is not None else fwd * math.ceil(live["store_n"] / live["batch"])
    train = steps * live["stored"]["cpu_s"] / live["stored"]["steps"]
    share = build * items / live["store_n"]
    online = steps * live["online"]["cpu_s"] / live["online"]["steps"]
    return {"steps": steps, "stored_cpu_s": train + build, "store_build_cpu_s": build,
            "store_build": "measured" if store_build_cpu_s is not None else "estimated from the live forwards",
            "online_cpu_s": online, "ratio": online / (train + build),
            "stored_share_cpu_s": train + share, "ratio_store_share": online / (train + share)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="held-out test images for the accuracy figures")
    ap.add_argument("--n-digital", type=int, default=60, help="test images for the digital rows (per-image LDPC; 0: no digital rows)")
    ap.add_argument("--symbols", default="8,16,32,64", help="symbols per image of the accuracy rows (must include 64)")
    ap.add_argument("--accuracy-only", action="store_true",
                    help="stop after the size/latency and accuracy figures (sections 1-2), e.g. for --n 10000")
    ap.add_argument("--distillation-only", action="store_true",
                    help="only section 3 (stored vs online distillation), e.g. to re-measure it with new teacher views")
    ap.add_argument("--timing-steps", type=int, default=40, help="steps per round of the live stored-vs-online re-measure (at most one epoch of the 25 %% data: 108)")
    ap.add_argument("--timing-rounds", type=int, default=2, help="rounds of the live re-measure (arms alternate)")
    ap.add_argument("--estimate-epochs", type=int, default=60,
                    help="epochs of the whole-run CPU estimate when checkpoints/task/summaries.json is absent (0: none)")
    ap.add_argument("--teacher-views", type=int, choices=(1, 2), default=None,
                    help="teacher views of the online arm (default: as the store was built)")
    ap.add_argument("--profile-steps", type=int, default=0, help="print a torch.profiler table of this many student steps")
    ap.add_argument("--snr-db", default="0,5,10,20")
    ap.add_argument("--json", type=Path, default=ROOT / "artifacts" / "bench_task.json")
    ap.add_argument("--write-card", action="store_true", help="copy the figures into the model cards")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(1)
    snrs = [float(s) for s in args.snr_db.split(",")]
    symbols = [int(k) for k in args.symbols.split(",")]
    if 64 not in symbols:
        ap.error(f"--symbols {args.symbols}: must include 64 (the targets' frame size)")
    if args.distillation_only and (args.write_card or args.accuracy_only):
        ap.error("--distillation-only skips the figures that --write-card / --accuracy-only need")
    student = load_codec(ROOT / "models" / "task_fmnist.yaml")
    teacher = load_codec(ROOT / "models" / "teacher_jscc.yaml")
    images, labels = test_subset(args.n, seed=0)
    fig: dict = {"machine": "1 torch thread; see BENCHMARKS.md for the host", "n_test_images": args.n}

    rows: list[ResultRow] = []
    if not args.distillation_only:
        # 1. size and latency ---------------------------------------------------------------------------
        sp, tp = n_params(student.system.encoder_modules()), n_params(teacher.system.encoder_modules())
        sl1, sl1m = encoder_latency_ms(student.system, images, 1, 200)
        tl1, tl1m = encoder_latency_ms(teacher.system, images, 1, 200)
        sl64, _ = encoder_latency_ms(student.system, images, 64, 30)
        tl64, _ = encoder_latency_ms(teacher.system, images, 64, 30)
        fig["size_latency"] = {"student_encoder_params": sp, "teacher_encoder_params": tp, "param_ratio": tp / sp,
                               "student_ms_batch1_best": sl1, "teacher_ms_batch1_best": tl1, "latency_ratio_batch1": tl1 / sl1,
                               "student_ms_batch1_median": sl1m, "teacher_ms_batch1_median": tl1m,
                               "student_ms_batch64_best": sl64, "teacher_ms_batch64_best": tl64,
                               "latency_ratio_batch64": tl64 / sl64}
        print("\n== 1. encoder size and latency (semantic + JSC encoder, 1 thread, best of repeats)")
        print(f"  params      student {sp:>9,d}   teacher {tp:>9,d}   ratio {tp / sp:.1f}x   (target >= 3x)")
        print(f"  batch 1     student {sl1:7.2f} ms  teacher {tl1:7.2f} ms  ratio {tl1 / sl1:.1f}x   (target >= 2x)")
        print(f"  batch 64    student {sl64:7.2f} ms  teacher {tl64:7.2f} ms  ratio {tl64 / sl64:.1f}x")

        # 2. accuracy -----------------------------------------------------------------------------------
        clean = float((teacher_classify(teacher.system.semantic, images) == labels).mean())
        fig["teacher_clean_accuracy"] = clean
        for ch in ("awgn", "rayleigh"):
            for snr in snrs:
                for k in symbols:
                    for scheme, codec in (("semantic", student), ("teacher-jscc", teacher)):
                        acc = codec_accuracy_twin(codec, images, labels, k, snr, ch)
                        rows.append(ResultRow("classify", scheme, ch, snr, k, "accuracy", acc, len(images)))
                if snr <= 10 and args.n_digital > 0:
                    for k in (64, 512, 1024):
                        acc, name = digital_accuracy(teacher.system.semantic, images[:args.n_digital],
                                                     labels[:args.n_digital], k, snr, ch)
                        rows.append(ResultRow("classify", "digital", ch, snr, k, "accuracy", acc, args.n_digital))
                        log.info("digital %s %g dB %d uses: %s", ch, snr, k, name)
        print(f"\n== 2. accuracy on held-out test images over the twin (teacher without channel: {clean:.4f})")
        print(format_table(rows))
        get = {(r.scheme, r.channel, r.snr_db, r.channel_uses): r.value for r in rows}
        fig["accuracy"] = {f"{s}|{c}|{snr:g}dB|{k}": v for (s, c, snr, k), v in get.items()}
        for ch in ("awgn", "rayleigh"):
            s0, t0 = get[("semantic", ch, snrs[0], 64)], get[("teacher-jscc", ch, snrs[0], 64)]
            print(f"  {ch} {snrs[0]:g} dB, 64 symbols: student {s0:.4f} vs teacher-jscc {t0:.4f} "
                  f"(loss {100 * (t0 - s0):.2f} points; target <= 1) ; student target >= 0.90")
            for snr in (s for s in snrs if s <= 10 and args.n_digital > 0):
                d = get[("digital", ch, snr, 64)]
                print(f"  {ch} {snr:g} dB, 64 uses: student {get[('semantic', ch, snr, 64)]:.4f} vs digital {d:.4f}")

        if args.accuracy_only:
            write_rows(args.json, rows, extra={"figures": fig, "command": "scripts/bench/task.py " + " ".join(argv or sys.argv[1:])})
            print(f"\nwrote {args.json} (--accuracy-only: sections 3-4 skipped)")
            return 0

    # 3. distillation -------------------------------------------------------------------------------
    summ = json.loads((CK / "summaries.json").read_text()) if (CK / "summaries.json").is_file() else {}
    print("\n== 3. fast distillation: pre-stored teacher outputs vs online teacher (same data, epochs, losses)")
    dist = {}
    if "student_frac25" in summ and "student_online25" in summ and (CK / "student_online25.safetensors").is_file():
        for key in ("student_frac25", "student_online25"):
            c = codec_from_weights(CK / f"{key}.safetensors")
            dist[key] = {"wall_s": summ[key]["wall_s"], "cpu_s": summ[key].get("cpu_s"),
                         "acc_awgn_0db": codec_accuracy_twin(c, images, labels, 64, 0.0, "awgn"),
                         "acc_awgn_10db": codec_accuracy_twin(c, images, labels, 64, 10.0, "awgn")}
        st = summ.get("store", {})
        dist["store_build_wall_s"] = st.get("wall_s")
        a, b = dist["student_frac25"], dist["student_online25"]
        device = summ["student_frac25"].get("device", "cpu")
        dist["device"] = device
        # on a CPU the process time is the cost; on a GPU the host spins while it waits: wall time
        key, unit = ("cpu_s", "CPU") if device == "cpu" else ("wall_s", f"wall on {device}")
        print(f"  full runs on {device} (25 % data, {summ['student_frac25']['epochs']} epochs): stored {a['cpu_s']:.0f} s CPU "
              f"({a['wall_s']:.0f} s wall) + store built once {st.get('wall_s', float('nan')):.0f} s wall; "
              f"online {b['cpu_s']:.0f} s CPU ({b['wall_s']:.0f} s wall); ratio {b[key] / a[key]:.2f}x {unit} (target >= 5x)")
        print(f"  test accuracy AWGN 0/10 dB: stored {a['acc_awgn_0db']:.4f}/{a['acc_awgn_10db']:.4f}, "
              f"online {b['acc_awgn_0db']:.4f}/{b['acc_awgn_10db']:.4f}")
        if st:
            print(f"  store: {st['bytes'] / 1e6:.1f} MB for {st['n']} items (float32 would be {st['float32_bytes'] / 1e6:.1f} MB)")
    else:
        print("  (full runs missing: scripts/train_task.py --stage fractions, then --stage online)")
    if args.timing_steps > 0 and (CK / "teacher_store.safetensors").is_file():
        live = per_step_timing(args.timing_steps, args.timing_rounds, args.teacher_views)
        dist["live"] = live
        per_round = live["stored"]["steps"] // args.timing_rounds
        print(f"  live, {args.timing_rounds} x {per_round} identical steps (arms alternating): stored "
              f"{live['stored']['cpu_s']:.1f} s CPU, online {live['online']['cpu_s']:.1f} s CPU (ratio "
              f"{live['online']['cpu_s'] / live['stored']['cpu_s']:.2f}x; per round {live['stored']['cpu_s_rounds']} vs "
              f"{live['online']['cpu_s_rounds']}); teacher forwards alone {live['teacher_forward_cpu_s']:.1f} s "
              f"(NHWC, as online) / {live['teacher_forward_nchw_cpu_s']:.1f} s (NCHW) vs store reads "
              f"{live['store_read_cpu_s']:.4f} s; teacher views {live['views']}")
        print(f"  validation accuracy after the last round, AWGN 0 / 10 dB, 64 symbols: stored "
              f"{live['stored']['val_accuracy_awgn_0db']:.4f} / {live['stored']['val_accuracy_awgn_10db']:.4f}, online "
              f"{live['online']['val_accuracy_awgn_0db']:.4f} / {live['online']['val_accuracy_awgn_10db']:.4f}")
        if "student_frac25" in summ:
            items, epochs = summ["student_frac25"]["train_items"], summ["student_frac25"]["epochs"]
        else:  # no full-run summaries on this machine: the 25 % run of the GPU recipe (60 epochs)
            items, epochs = round(0.25 * live["store_n"]), args.estimate_epochs
        if epochs:
            st = summ.get("store", {})
            measured = st.get("cpu_s") if st.get("device", "cpu") == "cpu" and st.get("views", 1) == live["views"] else None
            est = full_run_cpu_estimate(live, items, epochs, measured)
            dist["cpu_full_run_estimate"] = est
            print(f"  CPU estimate of the whole 25 % run ({est['steps']} steps of {live['batch']}): online "
                  f"{est['online_cpu_s']:.0f} s vs stored {est['stored_cpu_s']:.0f} s with the whole store's build "
                  f"({est['store_build_cpu_s']:.0f} s, {est['store_build']}): {est['ratio']:.2f}x; vs stored "
                  f"{est['stored_share_cpu_s']:.0f} s with the run's share of it: {est['ratio_store_share']:.2f}x "
                  f"(target >= 5x)")
    if args.profile_steps > 0 and (CK / "teacher_store.safetensors").is_file():
        print(f"  profile of {args.profile_steps} stored-target student steps (self CPU time):")
        print(profile_step(args.profile_steps))
    fig["distillation"] = dist

    if not args.distillation_only:
        # 4. data efficiency ----------------------------------------------------------------------------
        print("\n== 4. data efficiency (students distilled from the store; test accuracy, 64 symbols)")
        eff = {}
        for frac, path in ((25, CK / "student_frac25.safetensors"), (50, CK / "student_frac50.safetensors"), (100, None)):
            if path is not None and not path.is_file():
                print(f"  {frac:3d} %: missing {path} (scripts/train_task.py --stage fractions)")
                continue
            c = student if path is None else codec_from_weights(path)
            eff[frac] = {f"{ch}_{snr:g}db": codec_accuracy_twin(c, images, labels, 64, snr, ch)
                         for ch in ("awgn", "rayleigh") for snr in (0.0, 10.0)}
            print(f"  {frac:3d} % of the training data: " + "  ".join(f"{k} {v:.4f}" for k, v in eff[frac].items()))
        fig["data_efficiency"] = eff

    write_rows(args.json, rows, extra={"figures": fig, "command": "scripts/bench/task.py " + " ".join(argv or sys.argv[1:])})
    print(f"\nwrote {args.json}")
    if args.write_card:
        import yaml

        for card_path, keys in ((ROOT / "models" / "task_fmnist.yaml", "semantic"), (ROOT / "models" / "teacher_jscc.yaml", "teacher-jscc")):
            card = yaml.safe_load(card_path.read_text())
            card["figures"] = {
                "source": f"scripts/bench/task.py --n {args.n} (held-out test split)",
                "accuracy_64_symbols": {f"{r.channel}_{r.snr_db:g}db": round(r.value, 4) for r in rows
                                        if r.scheme == keys and r.channel_uses == 64},
                "accuracy_awgn_10db_by_symbols": {str(r.channel_uses): round(r.value, 4) for r in rows
                                                  if r.scheme == keys and r.channel == "awgn" and r.snr_db == 10.0},
                **({"size_latency": {k: round(v, 3) for k, v in fig["size_latency"].items()}} if keys == "semantic" else
                   {"teacher_clean_accuracy": round(clean, 4)}),
            }
            card_path.write_text(yaml.safe_dump(card, sort_keys=False, width=110))
            print(f"wrote figures into {card_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
