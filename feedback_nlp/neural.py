"""An optional small neural member for single-choice heads: a word BiLSTM learnt from scratch.

Trained with PyTorch (``pip install "feedback-nlp[neural]"``), run with numpy: a saved model tags
without torch. The backward direction reads each text reversed within its own length, so a
text's scores never depend on the other texts in its batch (what packed sequences would give). The trainer blends its probabilities with
the linear model's by a weighted geometric mean (BENCHMARKS.md, section 3).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from .ensemble import combine
from .errors import TrainingError
from .evaluation import macro_f1_codes

PAD, UNKNOWN = 0, 1


def torch_available() -> bool:
    """Whether PyTorch can be imported (needed to train, not to tag)."""
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def require_torch() -> None:
    """Raise TrainingError, saying how to install PyTorch, when it is missing."""
    if not torch_available():
        raise TrainingError('The neural member needs PyTorch to train: pip install "feedback-nlp[neural]" '
                            "(or pip install torch), or train without --neural.")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


class WordBiLSTM(ClassifierMixin, BaseEstimator):
    """Embeddings -> bidirectional LSTM -> max over time -> softmax, over segmented words.

    ``fit`` keeps the epoch with the best dev macro-F1 when dev texts are given (``best_epoch_``),
    else trains ``epochs`` epochs. Learned state: ``vocabulary_``, ``classes_``, ``weights_``, and
    ``epoch_weights_`` (the weights after each epoch) when fitted with ``keep_epoch_weights``.
    """

    def __init__(self, size: int = 64, epochs: int = 10, max_words: int = 60, min_count: int = 2,
                 batch_size: int = 64, learning_rate: float = 1e-3, dropout: float = 0.5, random_state: int = 0) -> None:
        self.size = size
        self.epochs = epochs
        self.max_words = max_words
        self.min_count = min_count
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.dropout = dropout
        self.random_state = random_state

    # ----------------------------------------------------------------- encoding
    def _encode(self, docs: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        lookup = self.__dict__.get("_lookup")
        if lookup is None:
            lookup = self.__dict__["_lookup"] = {w: i + 2 for i, w in enumerate(self.vocabulary_)}
        ids = np.zeros((len(docs), self.max_words), dtype=np.int64)
        lengths = np.ones(len(docs), dtype=np.int64)
        for row, doc in enumerate(docs):
            words = [lookup.get(w, UNKNOWN) for w in doc.lower().split()][: self.max_words] or [UNKNOWN]
            ids[row, : len(words)] = words
            lengths[row] = len(words)
        return ids, lengths

    # ----------------------------------------------------------------- training
    def fit(self, docs: Sequence[str], y: Sequence[str], dev_docs: Sequence[str] | None = None,
            dev_y: Sequence[str] | None = None, keep_epoch_weights: bool = False) -> WordBiLSTM:
        require_torch()
        import torch
        from torch import nn

        self.classes_ = np.array(sorted(set(map(str, y))))
        counts = Counter(w for doc in docs for w in doc.lower().split())
        self.vocabulary_ = [w for w, c in sorted(counts.items()) if c >= self.min_count]
        self.__dict__.pop("_lookup", None)
        self.__dict__.pop("epoch_weights_", None)
        codes = {label: k for k, label in enumerate(self.classes_)}
        ids, lengths = self._encode(docs)
        x, x_reversed = torch.from_numpy(ids), torch.from_numpy(_reverse_within_length(ids, lengths))
        lengths_t = torch.from_numpy(lengths)
        target = torch.tensor([codes[str(label)] for label in y])
        torch.manual_seed(self.random_state)
        size, n_classes = self.size, len(self.classes_)
        dropout = self.dropout

        class Network(nn.Module):
            # Two one-way LSTMs; the backward one reads each text reversed within its own length,
            # so every text's valid steps come first and padding never reaches them (what packed
            # sequences give, at about half the cost).
            def __init__(self, vocabulary_size: int) -> None:
                super().__init__()
                self.embed = nn.Embedding(vocabulary_size, size, padding_idx=PAD)
                self.forward_rnn = nn.LSTM(size, size, batch_first=True)
                self.backward_rnn = nn.LSTM(size, size, batch_first=True)
                self.drop = nn.Dropout(dropout)
                self.out = nn.Linear(2 * size, n_classes)

            def forward(self, ids: torch.Tensor, reversed_ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
                width = int(lengths.max())
                valid = (torch.arange(width)[None, :] < lengths[:, None]).unsqueeze(2)
                pooled = [rnn(self.drop(self.embed(tokens[:, :width])))[0].masked_fill(~valid, -1e4).max(dim=1).values
                          for rnn, tokens in ((self.forward_rnn, ids), (self.backward_rnn, reversed_ids))]
                return self.out(self.drop(torch.cat(pooled, dim=1)))

        network = Network(len(self.vocabulary_) + 2)
        # foreach: one call per step for all parameters instead of a loop over them; 10% less time
        # per epoch on CPU, and the same weights bit for bit (tests/test_neural.py).
        optimiser = torch.optim.Adam(network.parameters(), lr=self.learning_rate, foreach=True)
        generator = torch.Generator().manual_seed(self.random_state)
        dev_codes = None if dev_y is None else np.array([codes.get(str(label), -1) for label in dev_y])
        dev_encoded = self._encode(dev_docs) if dev_docs is not None else None
        best = (-1.0, None, self.epochs)
        epoch_weights = []
        for epoch in range(1, self.epochs + 1):
            network.train()
            for batch in self._batches(lengths_t, generator):
                optimiser.zero_grad()
                logits = network(x[batch], x_reversed[batch], lengths_t[batch])
                nn.functional.cross_entropy(logits, target[batch]).backward()
                optimiser.step()
            if keep_epoch_weights:
                epoch_weights.append(self._weights_of(network))
            if dev_encoded is not None and dev_codes is not None:
                self.weights_ = epoch_weights[-1] if keep_epoch_weights else self._weights_of(network)
                predicted = np.argmax(self._proba_encoded(*dev_encoded), axis=1)
                known = dev_codes >= 0
                score = macro_f1_codes(dev_codes[known], predicted[known], n_classes)
                if score > best[0]:
                    best = (score, self.weights_, epoch)
        if best[1] is not None:
            self.weights_ = best[1]
        else:
            self.weights_ = self._weights_of(network)
        self.best_epoch_ = best[2]
        if keep_epoch_weights:
            self.epoch_weights_ = epoch_weights
        return self

    def at_epoch(self, epoch: int) -> WordBiLSTM:
        """This network as it was after ``epoch`` epochs, without its other epochs' weights: the
        same weights as a fit with ``epochs=epoch`` (an epoch's work does not depend on how many follow)."""
        if not 1 <= epoch <= len(self.__dict__.get("epoch_weights_", [])):
            raise ValueError(f"No weights kept for epoch {epoch}: fit with keep_epoch_weights=True and at least that many epochs.")
        network = WordBiLSTM(**{**self.get_params(), "epochs": epoch})
        network.classes_, network.vocabulary_ = self.classes_, self.vocabulary_
        network.weights_, network.best_epoch_ = self.epoch_weights_[epoch - 1], epoch
        return network

    def _batches(self, lengths: Any, generator: Any) -> list[Any]:
        """Shuffled batches of texts of similar length (sorted within pools of 50 batches), so
        little time goes on padding; the batch order is shuffled too."""
        import torch

        order = torch.randperm(len(lengths), generator=generator)
        pool = 50 * self.batch_size
        batches = []
        for start in range(0, len(order), pool):
            chunk = order[start:start + pool]
            chunk = chunk[torch.argsort(lengths[chunk], stable=True)]
            batches += [chunk[i:i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
        return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]

    @staticmethod
    def _weights_of(network: Any) -> dict[str, np.ndarray]:
        get = lambda t: t.detach().numpy().astype(np.float32).copy()  # noqa: E731
        weights = {"embed": get(network.embed.weight), "out_w": get(network.out.weight), "out_b": get(network.out.bias)}
        for suffix, rnn in (("", network.forward_rnn), ("_reverse", network.backward_rnn)):
            weights.update({f"w_ih{suffix}": get(rnn.weight_ih_l0), f"w_hh{suffix}": get(rnn.weight_hh_l0),
                            f"b{suffix}": get(rnn.bias_ih_l0 + rnn.bias_hh_l0)})
        return weights

    # ----------------------------------------------------------------- inference (numpy)
    def _direction(self, inputs: np.ndarray, lengths: np.ndarray, w_ih: np.ndarray, w_hh: np.ndarray,
                   b: np.ndarray) -> np.ndarray:
        """Max over each text's steps of one LSTM direction run over ``inputs`` (valid steps first)."""
        n, width, _ = inputs.shape
        hidden_size = w_hh.shape[1]
        projected = inputs @ w_ih.T + b
        h = np.zeros((n, hidden_size), dtype=np.float32)
        c = np.zeros((n, hidden_size), dtype=np.float32)
        pooled = np.full((n, hidden_size), -np.inf, dtype=np.float32)
        for t in range(width):
            gates = projected[:, t] + h @ w_hh.T
            i, f = _sigmoid(gates[:, :hidden_size]), _sigmoid(gates[:, hidden_size:2 * hidden_size])
            g, o = np.tanh(gates[:, 2 * hidden_size:3 * hidden_size]), _sigmoid(gates[:, 3 * hidden_size:])
            c = f * c + i * g
            h = o * np.tanh(c)
            valid = t < lengths
            pooled[valid] = np.maximum(pooled[valid], h[valid])
        return pooled

    def predict_proba(self, docs: Sequence[str]) -> np.ndarray:
        """Class probabilities (columns in ``classes_`` order)."""
        return self._proba_encoded(*self._encode(docs))

    def predict_proba_in(self, docs: Sequence[str], labels: Sequence[str]) -> np.ndarray:
        """Class probabilities with columns in ``labels`` order (0 for labels it never saw)."""
        proba = self.predict_proba(docs)
        aligned = np.zeros((len(docs), len(labels)))
        for k, label in enumerate(self.classes_):
            aligned[:, list(labels).index(str(label))] = proba[:, k]
        return aligned

    def _proba_encoded(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Probabilities of encoded texts, 512 at a time, shortest first."""
        w = self.weights_
        out = np.zeros((len(ids), len(self.classes_)))
        order = np.argsort(lengths, kind="stable")
        for start in range(0, len(order), 512):
            rows = order[start:start + 512]
            width = int(lengths[rows].max())
            batch_ids, batch_lengths = ids[rows, :width], lengths[rows]
            forward = w["embed"][batch_ids]
            backward = w["embed"][_reverse_within_length(batch_ids, batch_lengths)]
            pooled = np.hstack([self._direction(forward, batch_lengths, w["w_ih"], w["w_hh"], w["b"]),
                                self._direction(backward, batch_lengths, w["w_ih_reverse"], w["w_hh_reverse"], w["b_reverse"])])
            logits = pooled @ w["out_w"].T + w["out_b"]
            logits -= logits.max(axis=1, keepdims=True)
            proba = np.exp(logits)
            out[rows] = proba / proba.sum(axis=1, keepdims=True)
        return out

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_lookup", None)
        return state


def fit_network(docs: Sequence[str], y: Sequence[str], dev_docs: Sequence[str] | None = None,
                dev_y: Sequence[str] | None = None, *, keep_epoch_weights: bool = False, random_state: int = 0,
                threads: int = 1) -> WordBiLSTM:
    """Fit the trainer's WordBiLSTM on ``threads`` threads: what each of its background processes runs.

    The trainer fits two at once beside its linear search: the one it tunes with (train, epoch
    chosen on dev) and the one it ships (train + dev, every epoch's weights kept, cut at the
    chosen epoch with ``at_epoch``). A network this small trains as fast on one thread as on two.
    """
    require_torch()
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    with threadpool_limits(threads):
        return WordBiLSTM(random_state=random_state).fit(docs, y, dev_docs, dev_y, keep_epoch_weights=keep_epoch_weights)


def _reverse_within_length(ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Each row's first ``length`` ids in reverse order, the padding left where it was."""
    steps = np.arange(ids.shape[1])
    order = np.where(steps < lengths[:, None], lengths[:, None] - 1 - steps, steps)
    return np.take_along_axis(ids, order, axis=1)


def blend(linear: np.ndarray, neural: np.ndarray, weight: float) -> np.ndarray:
    """The linear and neural probabilities' geometric mean, ``weight`` on the neural side."""
    return combine([linear, neural], weights=(1 - weight, weight))


BLEND_WEIGHTS = (0.0, 0.25, 0.5, 0.75)


def choose_blend_weight(linear_dev: np.ndarray, neural_dev: np.ndarray, truth: Sequence[str],
                        labels: Sequence[str]) -> tuple[float, float]:
    """The BLEND_WEIGHTS value with the best dev macro-F1 (smallest on ties), and that score."""
    labels = list(labels)
    codes = np.array([labels.index(t) for t in truth], dtype=np.int64)
    best = (0.0, -1.0)
    for weight in BLEND_WEIGHTS:
        score = macro_f1_codes(codes, np.argmax(blend(linear_dev, neural_dev, weight), axis=1), len(labels))
        if score > best[1] + 1e-9:
            best = (weight, score)
    return best
