"""Save and load model directories safely: skops files with an allow-list, SHA-256 checked.

A model directory holds ``model.skops`` (the fitted scikit-learn parts) and ``meta.json``
(labels, thresholds, parameters, versions, hashes, metrics). Loading never unpickles: skops
refuses any type outside :data:`TRUSTED_TYPES` and scikit-learn's own safe set.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import json
import os
import platform
import shutil
import sys
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import sklearn

from .errors import IncompatibleModelError, ModelIntegrityError, ModelLoadError, UntrustedModelError
from .model import FeedbackModel
from .normalise import NORMALISER_VERSION

MODEL_FILE = "model.skops"
META_FILE = "meta.json"
FORMAT = "feedback-nlp-model"
FORMAT_VERSION = 1
# Project functions referenced by fitted estimators; everything else must be skops-trusted.
TRUSTED_TYPES = frozenset({
    "feedback_nlp.features.SyllableCharVectorizer", "feedback_nlp.features.WordNgramVectorizer",
    "feedback_nlp.features.SyllableNgramVectorizer",
    "feedback_nlp.ensemble.SentimentEnsemble", "feedback_nlp.ensemble.SoftmaxLinearSVC",
    "feedback_nlp.ensemble.NBLogisticRegression", "feedback_nlp.neural.WordBiLSTM",
})
DEFAULT_MODEL_ENV = "FEEDBACK_NLP_MODEL"


def default_model_dir() -> Path:
    """The shipped model (``models/default`` beside the package) unless $FEEDBACK_NLP_MODEL is set."""
    override = os.environ.get(DEFAULT_MODEL_ENV)
    if override:
        return Path(override)
    return Path(__file__).resolve().parent.parent / "models" / "default"


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in ("feedback-nlp", "scikit-learn", "underthesea", "underthesea_core", "skops", "numpy", "scipy"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _minor(version: str) -> tuple[str, ...]:
    return tuple(version.split(".")[:2])


def save_model(model: FeedbackModel, directory: str | os.PathLike[str], meta: dict[str, Any] | None = None) -> Path:
    """Write ``model`` to ``directory`` atomically (a temp dir renamed into place).

    An existing directory is replaced only after the new one is complete.
    """
    target = Path(directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        # mkdtemp makes the directory private (0700); give it the permissions of a directory
        # made with mkdir, so a service running as another user can still read the model.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)
        _dump_parts(model, tmp / MODEL_FILE)
        full_meta: dict[str, Any] = dict(meta or {})
        full_meta.update(
            {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "labels": model.labels.to_dict(),
                "thresholds": {k: float(v) for k, v in model.thresholds_.items()},
                "sentiment_bias": {s: float(b) for s, b in zip(model.sentiment_labels_, model.sentiment_bias_)},
                "neural_weight": float(getattr(model, "neural_weight_", 0.0)),
                "params": _jsonable(model.get_params()),
                "normaliser_version": NORMALISER_VERSION,
                "libraries": library_versions(),
                "files": {MODEL_FILE: sha256_file(tmp / MODEL_FILE)},
            }
        )
        extra_files = full_meta.pop("_extra_files", {})
        for name, text in extra_files.items():
            (tmp / name).write_text(text, encoding="utf-8")
        (tmp / META_FILE).write_text(json.dumps(full_meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        backup = None
        if target.exists():
            backup = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, backup)
        os.replace(tmp, target)
        if backup is not None:
            shutil.rmtree(backup, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


class _RefuseTorch(importlib.abc.MetaPathFinder):
    """Makes ``import torch`` fail while it is on ``sys.meta_path``."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name.partition(".")[0] == "torch":
            raise ImportError("feedback-nlp does not need PyTorch to save or load a model")
        return None


def _import_skops() -> ModuleType:
    """Import skops.io (only saving and loading need it) without importing PyTorch.

    On import, skops lists scikit-learn's estimators by importing every scikit-learn module, and
    one of them is an array-API shim that imports torch when it is installed: 2.2 s instead of
    0.6 s here, for every model saved or loaded. The shim is skipped when torch cannot be imported.
    """
    if "skops.io" in sys.modules or "torch" in sys.modules:
        import skops.io

        return skops.io
    refuse = _RefuseTorch()
    sys.meta_path.insert(0, refuse)
    try:
        import skops.io
    finally:
        sys.meta_path.remove(refuse)
    return skops.io


def _vectorisers(featuriser: Any) -> list[Any]:
    return [step for _, step in featuriser.transformer_list]


def _dump_parts(model: FeedbackModel, path: Path) -> None:
    """Write the fitted parts with skops. Vocabularies go as one newline-joined string each:
    skops stores a dict entry by entry, which made loading a 100k-term vocabulary take seconds."""
    sio = _import_skops()

    vectorisers = _vectorisers(model.featuriser_)
    vocabularies = [step.__dict__.pop("vocabulary_") for step in vectorisers]
    neural = getattr(model, "sentiment_neural_", None)
    neural_vocabulary = neural.__dict__.pop("vocabulary_") if neural is not None else None
    try:
        parts = {
            "featuriser": model.featuriser_,
            "vocabularies": ["\n".join(sorted(v, key=v.__getitem__)) for v in vocabularies],
            "theme_estimators": list(model.theme_estimators_),
            "sentiment_estimator": model.sentiment_estimator_,
        }
        if neural is not None:
            parts["sentiment_neural"] = neural
            parts["neural_vocabulary"] = "\n".join(neural_vocabulary)
        # zlib's default level 6: level 9 took 4x as long for files 0.7% smaller.
        sio.dump(parts, path, compression=zipfile.ZIP_DEFLATED, compresslevel=6)
    finally:
        for step, vocabulary in zip(vectorisers, vocabularies):
            step.vocabulary_ = vocabulary
        if neural is not None:
            neural.vocabulary_ = neural_vocabulary


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def read_meta(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and sanity-check ``meta.json`` of a model directory."""
    directory = Path(directory)
    meta_path = directory / META_FILE
    if not directory.is_dir():
        raise ModelLoadError(f"Model directory {directory} does not exist. Pass the directory that holds {META_FILE} and {MODEL_FILE}.")
    if not meta_path.is_file():
        raise ModelLoadError(f"{meta_path} is missing: this is not a feedback-nlp model directory (retrain or re-copy it).")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"{meta_path} is not valid JSON ({exc}); re-copy the model directory.") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise IncompatibleModelError(f"{meta_path} does not describe a {FORMAT} model.")
    if meta.get("format_version") != FORMAT_VERSION:
        raise IncompatibleModelError(
            f"{meta_path} has model format {meta.get('format_version')}, this feedback-nlp reads {FORMAT_VERSION}; retrain the model."
        )
    return meta


def load_model(
    directory: str | os.PathLike[str] | None = None, *, expected_themes: list[str] | None = None
) -> FeedbackModel:
    """Load a model directory (the shipped default when ``directory`` is None), refusing anything unsafe.

    Refuses, with :class:`ModelLoadError` subclasses: a missing or corrupt file, a SHA-256
    mismatch, types outside the allow-list, another scikit-learn minor version, another
    normaliser, labels that disagree with the estimators or with ``expected_themes``.
    """
    directory = Path(directory) if directory is not None else default_model_dir()
    meta = read_meta(directory)
    model_path = directory / MODEL_FILE
    if not model_path.is_file():
        raise ModelLoadError(f"{model_path} is missing; re-copy the whole model directory.")
    recorded = meta.get("files", {}).get(MODEL_FILE)
    actual = sha256_file(model_path)
    if recorded != actual:
        raise ModelIntegrityError(
            f"{model_path} has SHA-256 {actual}, but {directory / META_FILE} records {recorded}: "
            "the file was changed or damaged. Re-copy the model directory from its source."
        )
    trained_with = meta.get("libraries", {}).get("scikit-learn", "unknown")
    if _minor(trained_with) != _minor(sklearn.__version__):
        raise IncompatibleModelError(
            f"{directory} was built with scikit-learn {trained_with}; this environment has {sklearn.__version__}. "
            f"Install scikit-learn=={trained_with} or retrain the model with `feedback-nlp train`."
        )
    if meta.get("normaliser_version") != NORMALISER_VERSION:
        raise IncompatibleModelError(
            f"{directory} was built with normaliser version {meta.get('normaliser_version')}, "
            f"this feedback-nlp uses {NORMALISER_VERSION}; retrain the model."
        )
    sio = _import_skops()

    try:
        untrusted = set(sio.get_untrusted_types(file=model_path))
    except Exception as exc:  # skops raises many types for damaged files
        raise ModelLoadError(f"{model_path} cannot be read as a skops file ({exc}); re-copy the model directory.") from exc
    refused = sorted(untrusted - TRUSTED_TYPES)
    if refused:
        raise UntrustedModelError(
            f"{model_path} contains types that are not on feedback-nlp's allow-list: {', '.join(refused)}. "
            "It was not loaded, because loading unknown types could run code. Use a model trained by feedback-nlp."
        )
    try:
        parts = sio.load(model_path, trusted=sorted(untrusted))
    except Exception as exc:
        raise ModelLoadError(f"{model_path} could not be loaded ({exc}); re-copy the model directory.") from exc
    return _assemble(parts, meta, directory, expected_themes)


def _assemble(parts: Any, meta: dict[str, Any], directory: Path, expected_themes: list[str] | None) -> FeedbackModel:
    labels = meta.get("labels", {})
    themes, sentiments = list(labels.get("themes", [])), list(labels.get("sentiments", []))
    if not isinstance(parts, dict) or "featuriser" not in parts:
        raise IncompatibleModelError(f"{directory / MODEL_FILE} does not hold feedback-nlp model parts.")
    params = dict(meta.get("params", {}))
    for key in ("word_ngram_range", "char_ngram_range", "syllable_ngram_range", "sentiment_members"):
        if key in params and isinstance(params[key], list):
            params[key] = tuple(params[key])
    valid = FeedbackModel().get_params()
    model = FeedbackModel(**{k: v for k, v in params.items() if k in valid})
    model.featuriser_ = parts["featuriser"]
    vocabularies = parts.get("vocabularies") or []
    vectorisers = _vectorisers(model.featuriser_)
    if len(vocabularies) != len(vectorisers):
        raise IncompatibleModelError(f"{directory / MODEL_FILE} holds {len(vocabularies)} vocabularies for {len(vectorisers)} feature blocks.")
    for step, joined in zip(vectorisers, vocabularies):
        step.vocabulary_ = {term: i for i, term in enumerate(joined.split("\n"))} if joined else {}
    model.theme_estimators_ = list(parts.get("theme_estimators") or [])
    model.sentiment_estimator_ = parts.get("sentiment_estimator")
    model.theme_labels_, model.sentiment_labels_ = themes, sentiments
    model.thresholds_ = {t: float(meta.get("thresholds", {}).get(t, 0.5)) for t in themes}
    model.sentiment_bias_ = np.array([float(meta.get("sentiment_bias", {}).get(s, 0.0)) for s in sentiments])
    model.sentiment_neural_ = parts.get("sentiment_neural")
    model.neural_weight_ = float(meta.get("neural_weight", 0.0)) if model.sentiment_neural_ is not None else 0.0
    if model.sentiment_neural_ is not None:
        joined = parts.get("neural_vocabulary") or ""
        model.sentiment_neural_.vocabulary_ = joined.split("\n") if joined else []
    classes = [] if model.sentiment_estimator_ is None else [str(c) for c in model.sentiment_estimator_.classes_]
    if len(model.theme_estimators_) != len(themes) or not set(classes) <= set(sentiments):
        raise IncompatibleModelError(
            f"{directory}: meta.json lists themes {themes} and sentiments {sentiments}, but the model file holds "
            f"{len(model.theme_estimators_)} theme classifiers and sentiment classes {classes}. Retrain the model."
        )
    if expected_themes is not None and list(expected_themes) != themes:
        raise IncompatibleModelError(f"{directory} predicts themes {themes}, not the expected {list(expected_themes)}.")
    model.meta_ = meta
    model.model_dir_ = str(directory)
    return model
