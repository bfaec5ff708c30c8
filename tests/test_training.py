"""Retraining: validate, train (new themes, themes only, determinism, atomic writes, --replace),
evaluate/compare, and an end-to-end train -> tag -> evaluate run through the CLI."""

import json
import os
import random
import re
import subprocess

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import f1_score
from conftest import CORPUS, PYTHON, ROOT, read_jsonl
from typer.testing import CliRunner

from feedback_nlp import DataError, load_model
from feedback_nlp.data import LabelledData
from feedback_nlp.cli import app
from feedback_nlp.retrain import ReplaceRefusedError, train_from_files
from feedback_nlp.evaluation import macro_f1_codes
from feedback_nlp.training import stratified_group_folds, train_model, tune_sentiment_bias
from feedback_nlp.validation import Columns, load_labelled

runner = CliRunner()
SMALL_GRID = {"features": [{"word_ngram_range": (1, 2), "char_ngram_range": (3, 5)}], "C": [3.0, 10.0], "class_weight": ["balanced"]}
LAND = re.compile(r"đất|sổ đỏ|sổ hồng|địa chính|dat dai|so do|dia chinh|thổ cư", re.IGNORECASE)


def user_frame(n: int = 360, seed: int = 1, with_land: bool = False) -> pd.DataFrame:
    """An office's labelled file: corpus records under the office's own column names."""
    records = read_jsonl(CORPUS / "train.jsonl")
    rows = random.Random(seed).sample(records, n)
    themes = [r["themes"] + (["land"] if with_land and LAND.search(r["text"]) else []) for r in rows]
    return pd.DataFrame({"noi_dung": [r["text"] for r in rows], "chu_de": [";".join(t) for t in themes],
                         "cam_xuc": [r["sentiment"] for r in rows]})


COLUMNS = Columns("noi_dung", "chu_de", "cam_xuc")
CLI_COLUMNS = ["--text-column", "noi_dung", "--themes-column", "chu_de", "--sentiment-column", "cam_xuc"]


def test_validate_reports_each_problem_with_row_numbers(tmp_path):
    frame = pd.DataFrame({
        "noi_dung": ["Cán bộ tận tình", "", "Web lỗi", "cán bộ tận tình", "Chờ lâu", "Tốt"],
        "chu_de": ["courtesy", "", "digitalization", "delays", "delays|courtesy", ""],
        "cam_xuc": ["positive", "neutral", "negative", "positive", "tệ", "positive"],
    })
    path = tmp_path / "office.csv"
    frame.to_csv(path, index=False)
    result = runner.invoke(app, ["validate", str(path), *CLI_COLUMNS, "--labels", "harassment,delays,courtesy,digitalisation"])
    assert result.exit_code == 1
    err = result.stderr
    assert f"{path}, row 3, column 'noi_dung': empty text" in err
    assert "row 4, column 'chu_de': unknown theme 'digitalization'" in err
    assert "row 5, column 'noi_dung': same text as" in err and "row 2" in err and "different labels" in err
    assert "row 6, column 'cam_xuc': unknown sentiment 'tệ'" in err
    assert "label 'courtesy' has only 2 examples; at least 10 are needed" in err
    assert "theme courtesy" in result.stdout and "sentiment positive" in result.stdout
    missing = runner.invoke(app, ["validate", str(path)])
    assert missing.exit_code == 1 and "missing text column 'text'; columns are: noi_dung, chu_de, cam_xuc" in missing.stderr


def test_validate_accepts_a_clean_excel_file(tmp_path):
    path = tmp_path / "office.xlsx"
    user_frame(120).to_excel(path, index=False)
    result = runner.invoke(app, ["validate", str(path), *CLI_COLUMNS])
    assert result.exit_code == 0, result.output
    assert "0 error(s)" in result.stdout


def test_train_new_theme_names_with_the_shipped_corpus(tmp_path):
    path = tmp_path / "office.csv"
    user_frame(360, with_land=True).to_csv(path, index=False)
    result = train_from_files([path], tmp_path / "model", columns=COLUMNS, grid=SMALL_GRID, n_jobs=1, use_cache=False)
    model = load_model(result.output)
    assert model.labels.themes == ("harassment", "delays", "courtesy", "digitalisation", "land")
    assert "land" in model.tag("Cán bộ địa chính hẹn mãi chưa cấp sổ đỏ cho mảnh đất nhà tôi").themes
    meta = json.loads((result.output / "meta.json").read_text(encoding="utf-8"))
    assert str(path) in meta["training_data"]["files"] and meta["training_data"]["base"] == "default"
    assert "land" in meta["metrics"]["dev"]["themes"]["per_theme"] and meta["created"] and meta["version"]
    card = (result.output / "MODEL_CARD.md").read_text(encoding="utf-8")
    for heading in ("## Intended use", "## Training data", "## Metrics on the dev split", "## Limitations", "| land |"):
        assert heading in card


def test_train_themes_only_and_determinism(tmp_path):
    frame = user_frame(300).drop(columns=["cam_xuc"])
    path = tmp_path / "themes_only.jsonl"
    frame.assign(chu_de=[t.split(";") if t else [] for t in frame["chu_de"]]).to_json(path, orient="records", lines=True, force_ascii=False)
    probes = ["Cán bộ xã đòi phong bì", "web dịch vụ công lỗi", "chờ ba tháng chưa có kết quả", "cán bộ rất niềm nở"]
    outputs = []
    for name in ("a", "b"):
        result = train_from_files([path], tmp_path / name, base="none", columns=COLUMNS, grid=SMALL_GRID, seed=5, n_jobs=1, use_cache=False)
        model = load_model(result.output)
        assert model.labels.sentiments == () and model.sentiment_estimator_ is None
        outputs.append([r.to_dict() for r in model.tag_many(probes)])
    assert outputs[0] == outputs[1]
    assert outputs[0][0]["themes"] == ["harassment"] or "harassment" in outputs[0][0]["themes"]


def test_training_writes_atomically(tmp_path, monkeypatch):
    import skops.io

    path = tmp_path / "office.csv"
    user_frame(200).to_csv(path, index=False)

    def broken_dump(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(skops.io, "dump", broken_dump)
    with pytest.raises(OSError, match="disk full"):
        train_from_files([path], tmp_path / "model", base="none", columns=COLUMNS, grid=SMALL_GRID, n_jobs=1, use_cache=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["office.csv"]


def test_replace_refuses_a_worse_model_and_keeps_a_backup_when_forced(tmp_path):
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    frame = user_frame(360, seed=2)
    frame.to_csv(good, index=False)
    shuffled = frame.copy()
    rng = random.Random(0)
    shuffled["chu_de"] = rng.sample(list(frame["chu_de"]), len(frame))
    shuffled["cam_xuc"] = rng.sample(list(frame["cam_xuc"]), len(frame))
    shuffled.to_csv(bad, index=False)
    options = {"base": "none", "columns": COLUMNS, "grid": SMALL_GRID, "n_jobs": 1, "use_cache": False}
    target = train_from_files([good], tmp_path / "office_model", **options).output
    before = (target / "model.skops").read_bytes()
    # Scored on held-out rows of the same good file, the shuffled-label model must lose.
    with pytest.raises(ReplaceRefusedError, match="worse"):
        train_from_files([bad], replace=target, dev_file=good, **options)
    assert (target / "model.skops").read_bytes() == before
    cli = runner.invoke(app, ["train", str(bad), "--replace", str(target), "--dev", str(good), "--base", "none", *CLI_COLUMNS, "--no-cache", "-j", "1"])
    assert cli.exit_code == 3 and "Not replacing" in cli.stderr and "--force" in cli.stderr
    forced = train_from_files([bad], replace=target, dev_file=good, force=True, **options)
    assert forced.backup is not None and (forced.backup / "model.skops").read_bytes() == before
    assert (target / "model.skops").read_bytes() != before


def test_refuses_to_overwrite_without_replace(tmp_path):
    path = tmp_path / "office.csv"
    user_frame(100).to_csv(path, index=False)
    (tmp_path / "exists").mkdir()
    with pytest.raises(Exception, match="--replace"):
        train_from_files([path], tmp_path / "exists", base="none", columns=COLUMNS, grid=SMALL_GRID, n_jobs=1)
    with pytest.raises(DataError, match="missing text column"):
        train_from_files([path], tmp_path / "m", base="none", grid=SMALL_GRID, n_jobs=1)


def test_end_to_end_train_tag_evaluate_cli(tmp_path):
    train_path, test_path = tmp_path / "train.csv", tmp_path / "test.csv"
    user_frame(360, seed=3).to_csv(train_path, index=False)
    test = pd.DataFrame([{"noi_dung": r["text"], "chu_de": ";".join(r["themes"]), "cam_xuc": r["sentiment"]}
                         for r in read_jsonl(CORPUS / "test.jsonl")[:150]])
    test.to_csv(test_path, index=False)
    model_dir = tmp_path / "office_model"
    env = {"PYTHONIOENCODING": "utf-8", "PATH": "/usr/bin:/bin", "FEEDBACK_NLP_CACHE": str(tmp_path / "cache")}
    done = subprocess.run([PYTHON, "-m", "feedback_nlp", "train", str(train_path), "-o", str(model_dir), "--base", "none",
                           *CLI_COLUMNS, "--seed", "1"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "wrote" in done.stdout and "segmenting" in done.stderr
    assert (tmp_path / "cache" / "segmentations.sqlite").exists()
    tagged = runner.invoke(app, ["tag", "--model", str(model_dir), "Cán bộ hướng dẫn tận tình, nộp online nhanh"])
    assert tagged.exit_code == 0 and json.loads(tagged.stdout)["sentiment"] == "positive"
    result = runner.invoke(app, ["evaluate", str(test_path), "--model", str(model_dir), "--compare", str(ROOT / "models" / "default"),
                                 *CLI_COLUMNS, "--json", str(tmp_path / "eval.json"), "--report", str(tmp_path / "eval.md")])
    assert result.exit_code == 0, result.output
    for text in ("micro-F1", "macro-F1", "subset accuracy", "weighted-F1", "confusion", "diff", "verdict:"):
        assert text in result.stdout
    saved = json.loads((tmp_path / "eval.json").read_text(encoding="utf-8"))
    assert set(saved["models"]) == {str(model_dir), str(ROOT / "models" / "default")}
    assert saved["comparison"]["verdict"] in ("better", "worse", "same")
    assert "## Comparison" in (tmp_path / "eval.md").read_text(encoding="utf-8")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=60))
def test_fast_macro_f1_equals_sklearn(pairs):
    true, pred = (np.array(column) for column in zip(*pairs))
    expected = f1_score(true, pred, labels=[0, 1, 2, 3], average="macro", zero_division=0)
    assert macro_f1_codes(true, pred, 4) == pytest.approx(expected)


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 12), st.integers(2, 5), st.integers(40, 600), st.integers(1, 4), st.integers(0, 10_000))
def test_cross_validation_folds_equal_scikit_learns(n_classes, n_splits, n_rows, group_size, seed):
    """The trainer's fast folds are StratifiedGroupKFold's, row for row (>= 8 classes included,
    where numpy sums pairwise)."""
    from sklearn.model_selection import StratifiedGroupKFold

    rng = np.random.default_rng(seed)
    y = np.array([f"label{k}" for k in rng.choice(n_classes, size=n_rows, p=rng.dirichlet(np.ones(n_classes)) * 0.5 + 0.5 / n_classes)])
    groups = rng.integers(0, max(n_splits, n_rows // group_size), size=n_rows)
    if len(set(groups)) < n_splits:
        return
    expected = list(StratifiedGroupKFold(n_splits, shuffle=True, random_state=seed).split(np.zeros(n_rows), y, groups))
    folds = stratified_group_folds(y, groups, n_splits, seed)
    assert len(folds) == n_splits
    for (train_rows, held_rows), (want_train, want_held) in zip(folds, expected):
        assert np.array_equal(held_rows, want_held) and np.array_equal(train_rows, want_train)


def test_sentiment_offsets_rescue_a_class_the_scores_underrate():
    rng = np.random.default_rng(0)
    truth = np.array(["negative"] * 60 + ["neutral"] * 20 + ["positive"] * 60)
    labels = ["negative", "neutral", "positive"]
    scores = np.log(np.full((len(truth), 3), 0.2))
    for i, label in enumerate(truth):
        scores[i, labels.index(label)] = np.log(0.5)
    scores[truth == "neutral", 1] = np.log(0.15)  # neutral is right but never on top
    scores += rng.normal(0, 0.01, scores.shape)
    bias, best = tune_sentiment_bias(scores, list(truth), labels)
    assert best == 1.0 and bias[1] > bias[0] and bias[1] > bias[2]


def test_coordinate_search_scores_every_setting_then_tunes_only_the_chosen_one(tmp_path):
    grid = {"features": [{"word_ngram_range": (1, 1), "char_ngram_range": (3, 3), "char_max_features": 0},
                         {"word_ngram_range": (1, 2), "char_ngram_range": (3, 5)}],
            "C": [1.0, 3.0, 10.0], "class_weight": ["balanced", None]}
    path = tmp_path / "office.csv"
    user_frame(300).to_csv(path, index=False)
    messages = []
    data = load_labelled([path], columns=COLUMNS)
    _, report = train_model(data, seed=3, grid=grid, n_jobs=2, progress=messages.append)
    tried = report.tried
    chosen = {k: report.params[k] for k in ("word_ngram_range", "char_ngram_range")}
    on_chosen = [e for e in tried if all(e[k] == v for k, v in chosen.items())]
    others = [e for e in tried if e not in on_chosen]
    # the other setting is probed at C=3 and C=10 with the first class weight only
    assert sorted((e["theme_C"], e["class_weight"]) for e in others) == [(3.0, "balanced"), (10.0, "balanced")]
    # the chosen one gets the whole C x class-weight grid, each point scored once
    assert sorted((e["theme_C"], str(e["class_weight"])) for e in on_chosen) == sorted(
        (c, str(w)) for c in grid["C"] for w in grid["class_weight"])
    assert all("theme_macro_f1" in e and "sentiment_macro_f1" in e for e in tried)
    assert any(m.startswith("tuning regularisation") for m in messages)


def test_settings_that_differ_only_by_the_syllable_block_are_tuned_apart(tmp_path, monkeypatch):
    """A setting that adds syllable n-grams to another is its own grid point, chosen or not."""
    import feedback_nlp.training as training

    monkeypatch.setattr(training, "TOLERANCE", 1.0)  # the first setting listed is the one chosen
    plain = {"word_ngram_range": (1, 2), "char_ngram_range": (3, 5)}
    grid = {"features": [plain, {**plain, "syllable_ngram_range": (1, 2)}], "C": [1.0, 3.0, 10.0], "class_weight": ["balanced", None]}
    path = tmp_path / "office.csv"
    user_frame(300).to_csv(path, index=False)
    data = load_labelled([path], columns=COLUMNS)
    for order in (grid["features"], grid["features"][::-1]):
        _, report = train_model(data, seed=3, grid={**grid, "features": order}, n_jobs=2)
        chosen = report.params.get("syllable_ngram_range")
        assert chosen == order[0].get("syllable_ngram_range")
        on_chosen = [e for e in report.tried if e.get("syllable_ngram_range") == chosen]
        others = [e for e in report.tried if e.get("syllable_ngram_range") != chosen]
        assert len(on_chosen) == 6 and len(others) == 2
        assert sorted((e["theme_C"], str(e["class_weight"])) for e in on_chosen) == sorted(
            (c, str(w)) for c in grid["C"] for w in grid["class_weight"])


def test_grid_with_syllables_adds_two_settings_and_leaves_the_default_alone():
    from feedback_nlp.training import DEFAULT_GRID, grid_with_syllables

    before = [dict(f) for f in DEFAULT_GRID["features"]]
    grid = grid_with_syllables((1, 2))
    assert grid["features"][:len(before)] == before and DEFAULT_GRID["features"] == before
    assert [f.get("syllable_ngram_range") for f in grid["features"][len(before):]] == [(1, 2), (1, 2)]
    assert not any("syllable_ngram_range" in f for f in before)


def test_the_search_shares_feature_blocks_between_settings_and_gets_the_featurisers_own_matrices(small_records):
    from feedback_nlp.model import FeedbackModel
    from feedback_nlp.training import DEFAULT_GRID, _GridSearch, prepare_texts

    docs = prepare_texts([r["text"] for r in small_records])
    train_docs, dev_docs = docs[:300], docs[300:]
    search = _GridSearch(DEFAULT_GRID, {}, None, train_docs, None, dev_docs, 1, lambda _m: None)
    settings = DEFAULT_GRID["features"] + DEFAULT_GRID["features"][:1]
    for number, setting in enumerate(settings):
        featuriser, train_x, dev_x = search.featurised(setting)
        own = FeedbackModel(**setting).fit_featuriser(train_docs)
        for got, want in ((train_x, own.transform(train_docs)), (dev_x, own.transform(dev_docs)),
                          (featuriser.transform(dev_docs), own.transform(dev_docs))):
            assert got.format == "csr" and got.dtype == want.dtype and got.shape == want.shape
            assert np.array_equal(got.indptr, want.indptr) and np.array_equal(got.indices, want.indices)
            assert np.array_equal(got.data, want.data)
    assert len(search._blocks) == 4  # words 1-2 and 1-3, chars 3-5 and 2-5
    search.keep_blocks_of(settings[0])
    assert len(search._blocks) == 2


def test_training_segments_each_text_once_with_the_cache(tmp_path, monkeypatch):
    """The held-out evaluation after training reads the segmentations made for training."""
    import feedback_nlp.training as training

    monkeypatch.setenv("FEEDBACK_NLP_CACHE", str(tmp_path / "cache"))
    segmented: list[str] = []
    real = training.segment_words
    monkeypatch.setattr(training, "segment_words", lambda text: segmented.append(text) or real(text))
    path = tmp_path / "office.csv"
    user_frame(200).to_csv(path, index=False)
    train_from_files([path], tmp_path / "model", base="none", columns=COLUMNS, grid=SMALL_GRID, n_jobs=1, use_cache=True)
    assert segmented and len(segmented) == len(set(segmented))


@pytest.mark.filterwarnings("ignore:.*[Ll]ine [Ss]earch")  # the 1e-10 reference fit reaches rounding noise
def test_the_logistic_regression_member_is_close_to_its_optimum():
    """lbfgs at scikit-learn's default tolerance stopped far from the optimum on this project's
    TF-IDF features (held-out probabilities off by 0.11 here); the member uses newton-cg."""
    from sklearn.linear_model import LogisticRegression

    from feedback_nlp.ensemble import candidate_members
    from feedback_nlp.model import FeedbackModel
    from feedback_nlp.training import prepare_texts

    train, dev = read_jsonl(CORPUS / "train.jsonl"), read_jsonl(CORPUS / "dev.jsonl")
    docs = prepare_texts([r["text"] for r in train])
    y = np.array([r["sentiment"] for r in train])
    featuriser = FeedbackModel().fit_featuriser(docs)
    x, dev_x = featuriser.transform(docs), featuriser.transform(prepare_texts([r["text"] for r in dev]))
    member = candidate_members(10.0, "balanced", 0)["lr"].fit(x, y)
    optimum = LogisticRegression(C=10.0, class_weight="balanced", solver="newton-cg", tol=1e-10, max_iter=3000).fit(x, y)
    assert np.abs(member.predict_proba(dev_x) - optimum.predict_proba(dev_x)).max() < 0.02


class _Future:
    def __init__(self, done: bool = False) -> None:
        self.finished = done

    def done(self) -> bool:
        return self.finished


def test_the_linear_search_leaves_the_networks_their_cores():
    from feedback_nlp.training import FitRunner, _NeuralJob

    tuned, refitted = _Future(), _Future()
    both, tuned_only = _NeuralJob(None, tuned, refitted), _NeuralJob(None, _Future(), None)
    assert (both.running, tuned_only.running) == (2, 1)
    assert FitRunner(4).free_cores() == 4
    assert FitRunner(4, both).free_cores() == 2 and FitRunner(4, tuned_only).free_cores() == 3
    assert FitRunner(2, both).free_cores() == 1 and FitRunner(1, tuned_only).free_cores() == 1
    tuned.finished = True
    assert FitRunner(4, both).free_cores() == 3
    refitted.finished = True
    assert FitRunner(2, both).free_cores() == 2


@pytest.mark.skipif(not hasattr(os, "nice"), reason="no os.nice on this system")
def test_the_networks_train_at_lower_priority_than_the_linear_search(monkeypatch):
    """The trainer's network processes are niced, so they take the cores the linear search leaves."""
    import feedback_nlp.neural as neural
    import feedback_nlp.training as training

    monkeypatch.setattr(neural, "require_torch", lambda: None)
    # Runs in each network process (pickled by value) and reports that process's niceness.
    monkeypatch.setattr(neural, "fit_network", lambda *args, **kwargs: os.nice(0))
    data = LabelledData(texts=["a", "b"], themes=None, sentiment=["negative", "positive"])
    job = training._start_neural_member(data, ["a", "b"], data, ["a", "b"], 0, True, lambda _m: None)
    try:
        assert job.tuned.result(timeout=60) == job.refitted.result(timeout=60) == os.nice(0) + training.NETWORK_NICENESS
    finally:
        job.cancel()


def test_fits_beside_the_networks_take_a_core_as_soon_as_a_network_frees_it():
    """On 2 cores one fit runs at a time while the networks train; once they finish, two."""
    import threading
    import time

    from feedback_nlp.training import FitRunner, _NeuralJob

    tuned, refitted = _Future(), _Future()
    runner = FitRunner(2, _NeuralJob(None, tuned, refitted))
    lock, running, most = threading.Lock(), [0], []

    def fit(number: int) -> int:
        with lock:
            running[0] += 1
            most.append(running[0])
        time.sleep(0.05)
        if number == 3:  # the networks finish while the fourth fit runs
            tuned.finished = refitted.finished = True
        with lock:
            running[0] -= 1
        return number * number

    assert runner.map(fit, [(n,) for n in range(10)]) == [n * n for n in range(10)]
    assert max(most[:4]) == 1 and max(most) == 2


def test_a_failed_fit_beside_the_networks_fails_the_search():
    from feedback_nlp.training import FitRunner, _NeuralJob

    def fit(number: int) -> int:
        if number == 2:
            raise ValueError("fit 2 failed")
        return number

    with pytest.raises(ValueError, match="fit 2 failed"):
        FitRunner(2, _NeuralJob(None, _Future(True), None)).map(fit, [(n,) for n in range(5)])