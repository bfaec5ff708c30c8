"""Beyond linear models: small neural classifiers trained from scratch on UIT-VSFC, alone and
blended with the trainer's linear model. A measurement for BENCHMARKS.md, not part of the package.

Usage: python scripts/compare_neural_uit_vsfc.py [--data ../shared/data/uit-vsfc] [--tasks sentiment,topic]
       [--models cnn,bilstm] [--epochs 10] [--size 128] [--json OUT]

Needs PyTorch (``pip install torch``; skips with a message without it) and UIT-VSFC in ../shared
(skips with a message when absent). For each task it:

1. trains the linear model with the project's trainer on train.jsonl, tuned on dev.jsonl
   (``train_model(refit=False)``: fitted on train only, so dev can still choose the blend);
2. trains each neural model on the same segmented words (word embeddings learnt from scratch,
   nothing pretrained), keeping the epoch with the best dev macro-F1;
3. blends the two by a weighted geometric mean of their probabilities, the weight chosen on dev
   from BLEND_WEIGHTS;
4. reports test accuracy, weighted and macro F1 of each, and the neural model's training time;
5. as the trainer would ship it: the linear model refitted on train + dev, the network retrained
   on train + dev for the chosen number of epochs, blended with the chosen weight ("refit" rows).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feedback_nlp.evaluation import sentiment_metrics  # noqa: E402
from feedback_nlp.neural import blend as blend_probabilities  # noqa: E402
from feedback_nlp.training import prepare_texts, train_model  # noqa: E402
from feedback_nlp.validation import Columns, load_labelled  # noqa: E402

TASKS = {
    "sentiment": ["negative", "neutral", "positive"],
    "topic": ["lecturer", "training_program", "facility", "others"],
}
BLEND_WEIGHTS = (0.0, 0.25, 0.5, 0.75)
MAX_WORDS = 60


def encode(docs: list[str], vocabulary: dict[str, int]) -> np.ndarray:
    """Word ids (0 = padding, 1 = unknown) of segmented texts, cut at MAX_WORDS."""
    ids = np.zeros((len(docs), MAX_WORDS), dtype=np.int64)
    for i, doc in enumerate(docs):
        row = [vocabulary.get(w, 1) for w in doc.lower().split()][:MAX_WORDS]
        ids[i, :len(row)] = row
    return ids


def build_network(kind: str, vocabulary_size: int, n_classes: int, size: int):  # noqa: ANN201 (torch is optional)
    import torch
    from torch import nn

    class WordCNN(nn.Module):
        """Kim (2014): convolutions of widths 1-3 over word embeddings, max-pooled."""

        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(vocabulary_size, size, padding_idx=0)
            self.convs = nn.ModuleList([nn.Conv1d(size, size, k, padding=k // 2) for k in (1, 2, 3)])
            self.drop = nn.Dropout(0.5)
            self.out = nn.Linear(3 * size, n_classes)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            mask = (x > 0).unsqueeze(1)
            e = self.drop(self.embed(x)).transpose(1, 2)
            pooled = [torch.relu(c(e))[:, :, :x.shape[1]].masked_fill(~mask, -1e4).max(2).values for c in self.convs]
            return self.out(self.drop(torch.cat(pooled, 1)))

    class BiLSTM(nn.Module):
        """A bidirectional LSTM over word embeddings, max-pooled over time."""

        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(vocabulary_size, size, padding_idx=0)
            self.rnn = nn.LSTM(size, size, batch_first=True, bidirectional=True)
            self.drop = nn.Dropout(0.5)
            self.out = nn.Linear(2 * size, n_classes)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            length = int((x > 0).sum(1).max())
            x = x[:, :max(length, 1)]
            hidden, _ = self.rnn(self.drop(self.embed(x)))
            hidden = hidden.masked_fill(~(x > 0).unsqueeze(2), -1e4).max(1).values
            return self.out(self.drop(hidden))

    return {"cnn": WordCNN, "bilstm": BiLSTM}[kind]()


def train_network(kind: str, train_docs: list[str], y_train: np.ndarray, dev_docs: list[str] | None, y_dev: np.ndarray | None,
                  test_docs: list[str], n_classes: int, epochs: int, seed: int, size: int) -> dict:
    """Train ``kind``; with dev texts keep the epoch with the best dev macro-F1, else run all
    ``epochs``. Returns dev and test probabilities, seconds and the epoch kept."""
    import torch
    import torch.nn.functional as F

    from feedback_nlp.evaluation import macro_f1_codes

    torch.manual_seed(seed)
    torch.set_num_threads(os.cpu_count() or 1)
    counts = Counter(w for doc in train_docs for w in doc.lower().split())
    vocabulary = {w: i + 2 for i, w in enumerate(w for w, c in counts.items() if c >= 2)}
    x_train, x_test = torch.tensor(encode(train_docs, vocabulary)), torch.tensor(encode(test_docs, vocabulary))
    x_dev = torch.tensor(encode(dev_docs, vocabulary)) if dev_docs is not None else None
    target = torch.tensor(y_train)
    network = build_network(kind, len(vocabulary) + 2, n_classes, size)
    optimiser = torch.optim.Adam(network.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(seed)

    def proba(x: torch.Tensor) -> np.ndarray:
        network.eval()
        with torch.no_grad():
            return torch.cat([F.softmax(network(x[i:i + 512]), 1) for i in range(0, len(x), 512)]).numpy()

    started = time.perf_counter()
    best: dict = {"score": -1.0}
    for epoch in range(1, epochs + 1):
        network.train()
        order = torch.randperm(len(x_train), generator=generator)
        for start in range(0, len(order), 64):
            batch = order[start:start + 64]
            optimiser.zero_grad()
            F.cross_entropy(network(x_train[batch]), target[batch]).backward()
            optimiser.step()
        if x_dev is not None:
            dev = proba(x_dev)
            score = macro_f1_codes(y_dev, dev.argmax(1), n_classes)
            if score > best["score"]:
                best = {"score": score, "dev": dev, "test": proba(x_test), "epoch": epoch}
    if x_dev is None:
        best = {"test": proba(x_test), "epoch": epochs}
    best["seconds"] = time.perf_counter() - started
    return best


def blend(linear: np.ndarray, neural: np.ndarray, weight: float) -> np.ndarray:
    """Predicted class indices of the blended probabilities (the trainer's blend)."""
    return blend_probabilities(linear, neural, weight).argmax(1)


def scores(labels: list[str], truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    metrics = sentiment_metrics([labels[i] for i in truth], [labels[i] for i in predicted], labels)
    return {k: metrics[k] for k in ("accuracy", "weighted_f1", "macro_f1")}


def run_task(task: str, data: Path, kinds: list[str], epochs: int, size: int) -> dict:
    labels = TASKS[task]
    columns = Columns(text="text", themes="themes", sentiment=task)
    train, dev, test = (load_labelled([data / f"{s}.jsonl"], columns=columns, sentiment_labels=labels, min_examples=0,
                                      drop_conflicts=True) for s in ("train", "dev", "test"))
    final, report = train_model(train, dev, sentiment_labels=labels, n_jobs=-1, use_cache=True)
    linear = report.tuned_model  # fitted on train only
    docs = {name: prepare_texts(part.texts, -1, use_cache=True) for name, part in (("train", train), ("dev", dev), ("test", test))}
    y = {name: np.array([labels.index(s) for s in part.sentiment]) for name, part in (("train", train), ("dev", dev), ("test", test))}
    linear_dev = linear.predict_proba_prepared(docs["dev"])[1]
    linear_test = linear.predict_proba_prepared(docs["test"])[1]
    final_test = final.predict_proba_prepared(docs["test"])[1]
    result = {"linear": scores(labels, y["test"], linear_test.argmax(1)), "linear_params": report.params,
              "linear (refit)": scores(labels, y["test"], final_test.argmax(1))}
    for kind in kinds:
        print(f"[{task}] training {kind}", file=sys.stderr)
        net = train_network(kind, docs["train"], y["train"], docs["dev"], y["dev"], docs["test"], len(labels), epochs, 0, size)
        weight = max(BLEND_WEIGHTS, key=lambda w: sentiment_metrics(
            [labels[i] for i in y["dev"]], [labels[i] for i in blend(linear_dev, net["dev"], w)], labels)["macro_f1"])
        result[kind] = {**scores(labels, y["test"], net["test"].argmax(1)), "train_seconds": round(net["seconds"], 1),
                        "best_epoch": net["epoch"]}
        result[f"linear+{kind}"] = {**scores(labels, y["test"], blend(linear_test, net["test"], weight)), "weight": weight}
        print(f"[{task}] retraining {kind} on train + dev for {net['epoch']} epochs", file=sys.stderr)
        refit = train_network(kind, docs["train"] + docs["dev"], np.concatenate([y["train"], y["dev"]]), None, None,
                              docs["test"], len(labels), net["epoch"], 0, size)
        result[f"{kind} (refit)"] = {**scores(labels, y["test"], refit["test"].argmax(1)),
                                     "train_seconds": round(refit["seconds"], 1), "best_epoch": net["epoch"]}
        result[f"linear+{kind} (refit)"] = {**scores(labels, y["test"], blend(final_test, refit["test"], weight)), "weight": weight}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "uit-vsfc")
    parser.add_argument("--tasks", default="sentiment,topic")
    parser.add_argument("--models", default="cnn,bilstm")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--size", type=int, default=128, help="embedding size and hidden units (or filters)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if importlib.util.find_spec("torch") is None:
        print("skipped: PyTorch is not installed (pip install torch); this comparison needs it")
        return
    if not all((args.data / f"{s}.jsonl").is_file() for s in ("train", "dev", "test")):
        print(f"skipped: UIT-VSFC not found in {args.data} (expects train.jsonl, dev.jsonl, test.jsonl)")
        return
    results = {task: run_task(task, args.data, args.models.split(","), args.epochs, args.size) for task in args.tasks.split(",")}
    print(f"\nUIT-VSFC test split, choices made on dev (\"refit\": refitted on train + dev), size {args.size}, {os.cpu_count()} CPUs:")
    print(f"{'task':<10} {'model':<24} {'accuracy':>9} {'weighted-F1':>12} {'macro-F1':>9}  notes")
    for task, result in results.items():
        for name, r in result.items():
            if name == "linear_params":
                continue
            notes = (f"{r['train_seconds']} s, best epoch {r['best_epoch']}" if "train_seconds" in r
                     else f"blend weight {r['weight']}" if "weight" in r
                     else "the trainer's model, train + dev" if "refit" in name else "the trainer's model, train only")
            print(f"{task:<10} {name:<24} {r['accuracy']:>9.4f} {r['weighted_f1']:>12.4f} {r['macro_f1']:>9.4f}  {notes}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
