"""The optional neural member: numpy inference equals PyTorch's, scores do not depend on the
batch, training is deterministic, models with it save/load/explain, the trainer attaches it by a
dev-chosen weight, and a clear error without PyTorch."""

import json
import os

import numpy as np
import pytest
from conftest import CORPUS, PYTHON, ROOT, read_jsonl

import feedback_nlp.neural as neural
from feedback_nlp import FeedbackModel, TrainingError, load_model, save_model
from feedback_nlp.explain import explain_text
from feedback_nlp.neural import WordBiLSTM, blend, choose_blend_weight
from feedback_nlp.training import prepare_texts

PROBES = ["Cán bộ hướng dẫn tận tình", "nop ho so online bi loi hoai", "đòi tiền trà nước mới làm", "đường lầy lội quá", ""]


@pytest.fixture(scope="module")
def sentiment_docs():
    records = read_jsonl(CORPUS / "train.jsonl")[:700]
    return prepare_texts([r["text"] for r in records]), [r["sentiment"] for r in records]


@pytest.fixture(scope="module")
def small_network(sentiment_docs):
    pytest.importorskip("torch")
    docs, labels = sentiment_docs
    return WordBiLSTM(size=16, epochs=3, random_state=1).fit(docs[:550], labels[:550], docs[550:], labels[550:])


def test_fit_without_torch_says_how_to_install(monkeypatch, sentiment_docs):
    monkeypatch.setattr(neural, "torch_available", lambda: False)
    with pytest.raises(TrainingError, match=r"PyTorch.*feedback-nlp\[neural\]"):
        WordBiLSTM().fit(*sentiment_docs)


def test_numpy_inference_equals_pytorch(small_network, sentiment_docs):
    import torch
    from torch import nn
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    docs = sentiment_docs[0] + ["", "một từ", "x " * 100]
    w, size = small_network.weights_, small_network.size
    rnn = nn.LSTM(size, size, batch_first=True, bidirectional=True)
    with torch.no_grad():
        for name, key in [("weight_ih_l0", "w_ih"), ("weight_hh_l0", "w_hh"), ("bias_ih_l0", "b"),
                          ("weight_ih_l0_reverse", "w_ih_reverse"), ("weight_hh_l0_reverse", "w_hh_reverse"),
                          ("bias_ih_l0_reverse", "b_reverse")]:
            getattr(rnn, name).copy_(torch.from_numpy(w[key]))
        rnn.bias_hh_l0.zero_()
        rnn.bias_hh_l0_reverse.zero_()
        ids, lengths = small_network._encode(docs)
        embedded = torch.from_numpy(w["embed"][ids[:, :lengths.max()]])
        packed = pack_padded_sequence(embedded, torch.from_numpy(lengths), batch_first=True, enforce_sorted=False)
        pooled = pad_packed_sequence(rnn(packed)[0], batch_first=True, padding_value=-1e4)[0].max(dim=1).values.numpy()
    logits = pooled @ w["out_w"].T + w["out_b"]
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    assert np.abs(small_network.predict_proba(docs) - expected).max() < 1e-5


def test_scores_do_not_depend_on_the_batch(small_network, sentiment_docs):
    docs = sentiment_docs[0][:300]
    whole = small_network.predict_proba(docs)
    in_sevens = np.vstack([small_network.predict_proba(docs[i:i + 7]) for i in range(0, len(docs), 7)])
    assert np.abs(whole - in_sevens).max() < 1e-5
    assert np.allclose(whole.sum(axis=1), 1.0)


def test_same_seed_same_network(small_network, sentiment_docs):
    docs, labels = sentiment_docs
    again = WordBiLSTM(size=16, epochs=3, random_state=1).fit(docs[:550], labels[:550], docs[550:], labels[550:])
    assert again.best_epoch_ == small_network.best_epoch_ and again.vocabulary_ == small_network.vocabulary_
    assert all(np.array_equal(again.weights_[k], small_network.weights_[k]) for k in small_network.weights_)


def test_adam_for_all_parameters_at_once_gives_the_same_weights_as_one_at_a_time(monkeypatch, small_network, sentiment_docs):
    import torch

    adam = torch.optim.Adam
    monkeypatch.setattr(torch.optim, "Adam", lambda params, **options: adam(params, **{**options, "foreach": False}))
    docs, labels = sentiment_docs
    looped = WordBiLSTM(size=16, epochs=3, random_state=1).fit(docs[:550], labels[:550], docs[550:], labels[550:])
    assert all(np.array_equal(looped.weights_[k], small_network.weights_[k]) for k in small_network.weights_)


def test_blend_weight_is_chosen_on_dev():
    truth = ["a", "b", "a", "b"]
    linear = np.array([[0.9, 0.1], [0.6, 0.4], [0.8, 0.2], [0.45, 0.55]])  # second text wrong
    network = np.array([[0.6, 0.4], [0.1, 0.9], [0.7, 0.3], [0.4, 0.6]])  # all right
    weight, score = choose_blend_weight(linear, network, truth, ["a", "b"])
    assert weight > 0 and score == 1.0
    assert choose_blend_weight(linear, linear, truth, ["a", "b"])[0] == 0.0  # ties keep the linear model alone
    assert np.allclose(blend(linear, network, 0.0), linear)


def test_model_with_a_neural_member_saves_loads_and_explains(tmp_path, small_network, small_records):
    texts = [r["text"] for r in small_records[:300]]
    model = FeedbackModel(char_max_features=20_000).fit(texts, small_records[:300])
    plain = [r.to_dict() for r in model.tag_many(PROBES)]
    model.sentiment_neural_, model.neural_weight_ = small_network, 0.5
    blended = [r.to_dict() for r in model.tag_many(PROBES)]
    assert [r["sentiment_scores"] for r in blended] != [r["sentiment_scores"] for r in plain]
    directory = save_model(model, tmp_path / "nn", {"name": "neural"})
    assert json.loads((directory / "meta.json").read_text())["neural_weight"] == 0.5
    loaded = load_model(directory)
    assert loaded.neural_weight_ == 0.5 and loaded.sentiment_neural_.vocabulary_ == small_network.vocabulary_
    assert [r.to_dict() for r in loaded.tag_many(PROBES)] == blended
    explanation = explain_text(loaded, PROBES[0])
    scores = {label: round(score, 4) for label, score in blended[0]["sentiment_scores"].items()}
    assert round(explanation.sentiment.score, 4) == scores[explanation.sentiment.label]


def test_trainer_attaches_the_network_by_a_dev_chosen_weight(tmp_path):
    pytest.importorskip("torch")
    import pandas as pd

    from feedback_nlp.retrain import train_from_files

    records = read_jsonl(CORPUS / "train.jsonl")[:900]
    path = tmp_path / "office.csv"
    pd.DataFrame({"text": [r["text"] for r in records], "sentiment": [r["sentiment"] for r in records]}).to_csv(path, index=False)
    grid = {"features": [{"word_ngram_range": (1, 2), "char_ngram_range": (3, 5)}], "C": [3.0], "class_weight": ["balanced"]}
    result = train_from_files([path], tmp_path / "model", base="none", seed=2, grid=grid, neural=True, use_cache=False)
    report = result.meta["tuning"]["neural"]
    assert set(report) == {"size", "epochs", "weight", "dev_macro_f1"} and 1 <= report["epochs"] <= 10
    model = load_model(result.output)
    card = (result.output / "MODEL_CARD.md").read_text(encoding="utf-8")
    if report["weight"] > 0:
        assert model.neural_weight_ == report["weight"] and model.sentiment_neural_.epochs == report["epochs"]
        assert "word BiLSTM" in card and f"weight {report['weight']}" in card
    else:
        assert model.sentiment_neural_ is None and "left out" in card
    assert model.tag("Cán bộ hướng dẫn tận tình").sentiment in ("negative", "neutral", "positive")


def test_trainer_without_torch_fails_before_the_linear_search(monkeypatch, small_records):
    from feedback_nlp.data import LabelledData
    from feedback_nlp.training import train_model

    monkeypatch.setattr(neural, "torch_available", lambda: False)
    data = LabelledData([r["text"] for r in small_records[:200]], None, [r["sentiment"] for r in small_records[:200]], {},
                        [frozenset()] * 200)
    messages: list[str] = []
    with pytest.raises(TrainingError, match=r"PyTorch"):
        train_model(data, neural=True, progress=messages.append)
    assert not any(m.startswith("tuning") for m in messages)


def test_the_shipped_network_is_cut_at_the_tuned_epoch_and_equals_a_fit_for_that_many_epochs(sentiment_docs):
    """The trainer trains the network it ships (train + dev) beside the tuned one, keeping every
    epoch's weights; cut at epoch e it must equal a network fitted for e epochs, bit for bit."""
    pytest.importorskip("torch")
    docs, labels = sentiment_docs
    every = neural.fit_network(docs, labels, keep_epoch_weights=True, random_state=4)
    assert len(every.epoch_weights_) == every.epochs == 10
    for epoch in (1, 3):
        cut = every.at_epoch(epoch)
        direct = WordBiLSTM(epochs=epoch, random_state=4).fit(docs, labels)
        assert cut.epochs == cut.best_epoch_ == epoch and cut.vocabulary_ == direct.vocabulary_
        assert all(np.array_equal(cut.weights_[k], direct.weights_[k]) for k in direct.weights_)
        assert not hasattr(cut, "epoch_weights_")  # a saved model carries one set of weights
        assert np.array_equal(cut.predict_proba(PROBES), direct.predict_proba(PROBES))
    with pytest.raises(ValueError, match="epoch 11"):
        every.at_epoch(11)
    with pytest.raises(ValueError, match="keep_epoch_weights"):
        direct.at_epoch(1)
    tuned = neural.fit_network(docs[:550], labels[:550], docs[550:], labels[550:], random_state=4)
    assert 1 <= tuned.best_epoch_ <= 10 and not hasattr(tuned, "epoch_weights_")


def _fail_at_once() -> None:
    raise RuntimeError("the tuned network failed")


def test_a_failed_network_stops_the_other_at_once():
    """If the tuned network fails, the trainer does not wait for the other background process."""
    import time

    from joblib.externals.loky import ProcessPoolExecutor

    from feedback_nlp.training import _NeuralJob

    executor = ProcessPoolExecutor(max_workers=2)
    slow = executor.submit(time.sleep, 120)
    job = _NeuralJob(executor, executor.submit(_fail_at_once), slow)
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="tuned network failed"):
        job.result()
    assert time.monotonic() - started < 60  # it did not wait out the 120 s process
    executor.shutdown(wait=True)  # returns at once: the workers were killed


def test_cli_train_has_a_neural_option():
    import subprocess

    done = subprocess.run([PYTHON, "-m", "feedback_nlp", "train", "--help"], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "COLUMNS": "200"}, timeout=60)
    assert done.returncode == 0 and "--neural" in done.stdout and "PyTorch" in done.stdout
