#!/usr/bin/env python3
"""Our own PyTorch implementation of the SPEC §6 LOSO recipe.

For fixtures and benchmarks only: ensemble-kit never needs Python. Two uses:

  torch_loso.py --corpus SHARD.jsonl [...] --out-dir DIR [--seeds 0,1,2,3,4] [--epochs 200] [--jobs N]
      Full LOSO per seed, written as DIR/loso_seed{N}.json (the fields the gate reads).

  torch_loso.py --fixture OUT.json
      The parity fixture replayed by tests/train_parity.rs: fixed initial weights, a fixed
      batch order and dropout masks, the loss after each of the first 50 Adam steps, and the
      final predictions.

Needs torch and nothing else (pip install torch).
"""
import argparse
import json
import math
import multiprocessing
import os
import sys
import time

import torch

FEATURES = ["adm2", "vif_scale0", "vif_scale1", "vif_scale2", "vif_scale3", "motion2"]
VOCAB_V2 = ["libx264", "libx265", "libsvtav1", "libvvenc", "libvpx-vp9", "h264_nvenc", "hevc_nvenc",
            "av1_nvenc", "h264_qsv", "hevc_qsv", "av1_qsv", "unknown"]
LR, WEIGHT_DECAY, BATCH, DROPOUT = 5e-4, 1e-5, 32, 0.1


def load_corpus(paths):
    """Rows deduplicated on (src_sha256, encoder, cq, frame_index), sorted by that key."""
    rows = {}
    for path in paths:
        with open(path) as f:
            for line in f:
                if line.strip():
                    r = json.loads(line)
                    rows.setdefault((r["src_sha256"], r["encoder"], r["cq"], r["frame_index"]), r)
    return [rows[k] for k in sorted(rows)]


def codec_block(encoder):
    """One-hot and preset_norm; crf_norm (column 13) is set per fold by with_crf_norm."""
    block = [0.0] * 14
    block[VOCAB_V2.index(encoder) if encoder in VOCAB_V2 else 11] = 1.0
    block[12] = 0.5
    return block


def with_crf_norm(codec, cq, fitted):
    """crf_norm = min-max of cq over the CQ range of the fitted rows (0.5 for a range < 1e-6)."""
    lo, hi = float(cq[fitted].min()), float(cq[fitted].max())
    codec = codec.clone()
    codec[:, 13] = 0.5 if hi - lo < 1e-6 else (cq - lo) / (hi - lo)
    return codec


def model():
    return torch.nn.Sequential(
        torch.nn.Linear(20, 64), torch.nn.GELU(), torch.nn.Dropout(DROPOUT),
        torch.nn.Linear(64, 64), torch.nn.GELU(), torch.nn.Dropout(DROPOUT),
        torch.nn.Linear(64, 1))


def standardise(train_feats, feats):
    mean = train_feats.mean(dim=0)
    std = train_feats.std(dim=0, unbiased=False)
    std = torch.where(std < 1e-8, torch.ones_like(std), std)
    return (feats - mean) / std


def plcc(a, b):
    a, b = a.double(), b.double()
    if len(a) < 2:
        return None
    da, db = a - a.mean(), b - b.mean()
    den = math.sqrt(float((da * da).sum()) * float((db * db).sum()))
    return None if den == 0.0 else float((da * db).sum()) / den


def ranks(v):
    order = sorted(range(len(v)), key=lambda i: v[i])
    r = [0.0] * len(v)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and v[order[j + 1]] == v[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return torch.tensor(r, dtype=torch.float64)


def run_fold(args):
    feats, codec, cq, target, src, fold, seed, epochs = args
    torch.set_num_threads(1)
    torch.manual_seed(seed * 1_000_003 + fold)
    train = src != fold
    x = torch.cat([standardise(feats[train], feats), with_crf_norm(codec, cq, train)], dim=1).float()
    xt, yt, xv, yv = x[train], target[train], x[~train], target[~train]
    net = model()
    opt = torch.optim.Adam(net.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    net.train()
    for _ in range(epochs):
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), BATCH):
            idx = perm[i:i + BATCH]
            opt.zero_grad()
            loss = ((net(xt[idx]).squeeze(-1) - yt[idx]) ** 2).mean()
            loss.backward()
            opt.step()
    net.eval()
    with torch.no_grad():
        pred = net(xv).squeeze(-1)
    rmse = float(((pred.double() - yv.double()) ** 2).mean().sqrt())
    return {"n_train": int(train.sum()), "n_val": int((~train).sum()), "plcc": plcc(pred, yv),
            "srocc": plcc(ranks(pred.tolist()), ranks(yv.tolist())), "rmse": rmse}


def loso(corpus_paths, out_dir, seeds, epochs, jobs):
    rows = load_corpus(corpus_paths)
    sources = sorted({r["src"] for r in rows})
    feats = torch.tensor([[r[k] for k in FEATURES] for r in rows], dtype=torch.float64)
    codec = torch.tensor([codec_block(r["encoder"]) for r in rows], dtype=torch.float64)
    cq = torch.tensor([r["cq"] for r in rows], dtype=torch.float64)
    target = torch.tensor([r["vmaf"] for r in rows], dtype=torch.float32)
    src = torch.tensor([sources.index(r["src"]) for r in rows])
    tasks = [(feats, codec, cq, target, src, f, s, epochs) for s in seeds for f in range(len(sources))]
    started = time.time()
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        results = pool.map(run_fold, tasks, chunksize=1)
    os.makedirs(out_dir, exist_ok=True)
    summary = {}
    for s in seeds:
        folds = [dict(held_out=sources[f], **results[seeds.index(s) * len(sources) + f]) for f in range(len(sources))]
        p = [f["plcc"] for f in folds if f["plcc"] is not None]
        mean = sum(p) / len(p)
        doc = {"seed": s, "corpus": ",".join(corpus_paths), "n_folds": len(folds), "folds": folds,
               "mean_plcc": mean,
               "std_plcc": math.sqrt(sum((v - mean) ** 2 for v in p) / (len(p) - 1)) if len(p) > 1 else None,
               "min_plcc": min(p), "max_plcc": max(p),
               "mean_srocc": sum(f["srocc"] for f in folds) / len(folds),
               "mean_rmse": sum(f["rmse"] for f in folds) / len(folds),
               "epochs": epochs, "batch_size": BATCH, "lr": LR, "weight_decay": WEIGHT_DECAY,
               "num_codecs": 14, "encoder_vocab_version": 2, "wall_time_s": time.time() - started}
        with open(os.path.join(out_dir, f"loso_seed{s}.json"), "w") as f:
            json.dump(doc, f, indent=2)
        summary[s] = mean
    return summary


def fixture(out_path, steps=50, rows=96):
    """A deterministic replay case: inputs, initial weights, batch order, masks, losses, predictions."""
    torch.manual_seed(1234)
    x = torch.randn(rows, 20)
    y = (60 + 25 * torch.tanh(x[:, :6].sum(dim=1) / 3) + 3 * torch.randn(rows)).float()
    net = model()
    init = {name: p.detach().clone() for name, p in net.named_parameters()}
    opt = torch.optim.Adam(net.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    lin1, lin2, lin3 = net[0], net[3], net[6]
    gelu = torch.nn.GELU()
    batches, masks1, masks2, losses = [], [], [], []
    for _ in range(steps):
        idx = torch.randperm(rows)[:BATCH]
        m1 = (torch.rand(BATCH, 64) >= DROPOUT).float()
        m2 = (torch.rand(BATCH, 64) >= DROPOUT).float()
        opt.zero_grad()
        h1 = gelu(lin1(x[idx])) * m1 / (1 - DROPOUT)
        h2 = gelu(lin2(h1)) * m2 / (1 - DROPOUT)
        loss = ((lin3(h2).squeeze(-1) - y[idx]) ** 2).mean()
        loss.backward()
        opt.step()
        batches.append(idx.tolist())
        masks1.append("".join("1" if v else "0" for v in m1.flatten().tolist()))
        masks2.append("".join("1" if v else "0" for v in m2.flatten().tolist()))
        losses.append(loss.item())
    net.eval()
    with torch.no_grad():
        pred = net(x).squeeze(-1)
    doc = {
        "about": "generated by scripts/reference/torch_loso.py --fixture; replayed by tests/train_parity.rs",
        "torch_version": torch.__version__,
        "lr": LR, "weight_decay": WEIGHT_DECAY, "dropout": DROPOUT,
        "x": x.tolist(), "y": y.tolist(),
        "init": {k: v.tolist() for k, v in init.items()},
        "batches": batches, "masks1": masks1, "masks2": masks2,
        "losses": losses, "predictions": pred.tolist(),
    }
    with open(out_path, "w") as f:
        json.dump(doc, f)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", nargs="+")
    ap.add_argument("--out-dir")
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=os.cpu_count())
    ap.add_argument("--fixture", metavar="OUT.json")
    a = ap.parse_args()
    if a.fixture:
        fixture(a.fixture)
        return 0
    if not a.corpus or not a.out_dir:
        ap.error("--corpus and --out-dir are required (or --fixture)")
    seeds = [int(s) for s in a.seeds.split(",")]
    summary = loso(a.corpus, a.out_dir, seeds, a.epochs, a.jobs)
    mean = sum(summary.values()) / len(summary)
    print(json.dumps({"per_seed_mean_plcc": summary, "mean_plcc": mean}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
