"""Exceptions raised by feedback-nlp. Every message says what went wrong and what to do."""

from __future__ import annotations


class FeedbackNLPError(Exception):
    """Base class of every error feedback-nlp raises on purpose."""


class InvalidTextError(FeedbackNLPError, TypeError):
    """A value given to the strict API is not a text that can be tagged."""


class ModelLoadError(FeedbackNLPError):
    """A model directory is missing, incomplete or unreadable."""


class ModelIntegrityError(ModelLoadError):
    """A model file does not match the SHA-256 recorded in its meta.json."""


class UntrustedModelError(ModelLoadError):
    """A model file contains object types outside the allow-list; it is not loaded."""


class IncompatibleModelError(ModelLoadError):
    """A model was built for other labels, another format or another scikit-learn version."""


class DataError(FeedbackNLPError):
    """A data file cannot be read or does not follow the label standard."""


class TrainingError(FeedbackNLPError):
    """Training cannot proceed with the data and settings given."""
