"""Saving and loading model directories: round trip, integrity and safety checks."""

import json
import shutil

import pytest
import skops.io as sio

from feedback_nlp import (
    IncompatibleModelError, ModelIntegrityError, ModelLoadError, UntrustedModelError, load_model, save_model,
)
from feedback_nlp.persistence import MODEL_FILE, sha256_file

PROBES = ["Cán bộ hướng dẫn tận tình", "nop ho so online bi loi hoai", "đòi tiền trà nước mới làm", "đường lầy lội quá", ""]


@pytest.fixture()
def saved(tmp_path, small_model):
    return save_model(small_model, tmp_path / "m", {"name": "test", "version": "t1"})


def test_round_trip_gives_identical_predictions(saved, small_model):
    loaded = load_model(saved)
    assert [r.to_dict() for r in loaded.tag_many(PROBES)] == [r.to_dict() for r in small_model.tag_many(PROBES)]
    assert loaded.meta_["name"] == "test"
    assert loaded.get_params() == small_model.get_params()


def test_save_replaces_atomically_and_leaves_no_temp(saved, small_model):
    save_model(small_model, saved, {"name": "again"})
    assert sorted(p.name for p in saved.parent.iterdir()) == ["m"]
    assert json.loads((saved / "meta.json").read_text())["name"] == "again"


def test_hash_mismatch_is_refused(saved):
    with open(saved / MODEL_FILE, "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ModelIntegrityError, match="SHA-256"):
        load_model(saved)


def _rewrite_meta(directory, **changes):
    meta = json.loads((directory / "meta.json").read_text())
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(meta.get(key), dict):
            meta[key].update(value)
        else:
            meta[key] = value
    (directory / "meta.json").write_text(json.dumps(meta))


def test_other_scikit_learn_version_is_refused(saved):
    _rewrite_meta(saved, libraries={"scikit-learn": "0.24.2"})
    with pytest.raises(IncompatibleModelError, match="scikit-learn 0.24.2"):
        load_model(saved)


def test_labels_that_disagree_with_the_estimators_are_refused(saved):
    _rewrite_meta(saved, labels={"themes": ["land", "environment"], "sentiments": ["negative", "neutral", "positive"]})
    with pytest.raises(IncompatibleModelError, match="theme classifiers"):
        load_model(saved)
    with pytest.raises(IncompatibleModelError):
        load_model(saved, expected_themes=["harassment"])


def test_expected_themes_checked(saved):
    with pytest.raises(IncompatibleModelError, match="expected"):
        load_model(saved, expected_themes=["land"])


class Sneaky:
    """A type no model may contain: loading it could run code."""


def test_unknown_types_are_refused(saved):
    sio.dump({"featuriser": Sneaky()}, saved / MODEL_FILE)
    _rewrite_meta(saved, files={MODEL_FILE: sha256_file(saved / MODEL_FILE)})
    with pytest.raises(UntrustedModelError, match="Sneaky"):
        load_model(saved)


@pytest.mark.parametrize("damage", ["no_dir", "no_meta", "bad_json", "no_model", "garbage_model"])
def test_missing_or_corrupt_files_give_clear_errors(saved, damage):
    if damage == "no_dir":
        shutil.rmtree(saved)
    elif damage == "no_meta":
        (saved / "meta.json").unlink()
    elif damage == "bad_json":
        (saved / "meta.json").write_text("{not json")
    elif damage == "no_model":
        (saved / MODEL_FILE).unlink()
    else:
        (saved / MODEL_FILE).write_bytes(b"not a zip file")
        _rewrite_meta(saved, files={MODEL_FILE: sha256_file(saved / MODEL_FILE)})
    with pytest.raises(ModelLoadError) as info:
        load_model(saved)
    message = str(info.value)
    assert str(saved) in message and "\n" not in message


def test_model_with_a_syllable_block_round_trips_and_explains(tmp_path, small_records):
    from feedback_nlp import FeedbackModel
    from feedback_nlp.explain import explain_text, feature_names

    texts = [r["text"] for r in small_records[:300]]
    model = FeedbackModel(char_max_features=20_000, syllable_ngram_range=(1, 2)).fit(texts, small_records[:300])
    assert [name for name, _ in model.featuriser_.transformer_list] == ["words", "syllables", "chars"]
    loaded = load_model(save_model(model, tmp_path / "syl", {"name": "syllables"}))
    assert loaded.syllable_ngram_range == (1, 2)
    assert [r.to_dict() for r in loaded.tag_many(PROBES)] == [r.to_dict() for r in model.tag_many(PROBES)]
    names = feature_names(loaded)
    assert any(n.startswith('syllables:"') for n in names) and any(n.startswith('chars:"') for n in names)
    assert len(names) == loaded.featuriser_.transform(["x"]).shape[1]
    explanation = explain_text(loaded, "Cán bộ hướng dẫn tận tình")
    assert explanation.sentiment is not None


def test_loading_a_model_does_not_import_pytorch(saved):
    """skops lists scikit-learn's estimators on import, which imports torch when it is
    installed (seconds per load); loading must skip it and leave torch importable afterwards."""
    import subprocess
    import sys

    script = ("import sys; from feedback_nlp import load_model; load_model(sys.argv[1]); "
              "print('torch' in sys.modules); import importlib.util\n"
              "if importlib.util.find_spec('torch'):\n    import torch; print(float(torch.ones(2).sum()))\n")
    done = subprocess.run([sys.executable, "-c", script, str(saved)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.split()
    assert lines[0] == "False"
    assert lines[1:] in ([], ["2.0"])


def test_a_saved_model_directory_gets_the_usual_permissions(tmp_path, small_model):
    """Not the private 0700 of a temp dir: other accounts (a service user) must be able to read it."""
    import os
    import stat

    previous = os.umask(0o022)
    try:
        saved = save_model(small_model, tmp_path / "shared_model", {"name": "test", "version": "t1"})
    finally:
        os.umask(previous)
    assert stat.S_IMODE(saved.stat().st_mode) == 0o755
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o644 for f in saved.iterdir())
