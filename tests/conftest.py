"""Shared fixtures: the shipped model, a small model trained in-process, paths."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpora" / "civic_feedback"
SHARED = ROOT.parent / "shared"

# Keep worker pools small and deterministic on CI's two cores.
os.environ.setdefault("PYTHONHASHSEED", "0")


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="session")
def default_model():
    from feedback_nlp import load_model

    return load_model()


@pytest.fixture(scope="session")
def small_records() -> list[dict]:
    """A fixed slice of the corpus's train split: enough to learn every label quickly."""
    return read_jsonl(CORPUS / "train.jsonl")[:600]


@pytest.fixture(scope="session")
def small_model(small_records):
    from feedback_nlp import FeedbackModel

    texts = [r["text"] for r in small_records]
    return FeedbackModel(char_max_features=50_000).fit(texts, small_records)


@pytest.fixture()
def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONIOENCODING"] = "utf-8"
    env.pop("FEEDBACK_NLP_MODEL", None)
    return env


PYTHON = sys.executable
