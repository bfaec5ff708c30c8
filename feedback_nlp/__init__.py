"""feedback-nlp: tag Vietnamese civic feedback by theme and sentiment.

>>> from feedback_nlp import load_model
>>> model = load_model()
>>> model.tag("Cán bộ phường hướng dẫn rất tận tình").themes
['courtesy']
"""

from .errors import (
    DataError,
    FeedbackNLPError,
    IncompatibleModelError,
    InvalidTextError,
    ModelIntegrityError,
    ModelLoadError,
    TrainingError,
    UntrustedModelError,
)
from .batch import tag_file, tag_frame
from .labels import DEFAULT_THEMES, SENTIMENTS, LabelSet
from .model import FeedbackModel, TagResult
from .normalise import normalise_text
from .persistence import load_model, save_model
from .segment import segment_words

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_THEMES", "SENTIMENTS", "DataError", "FeedbackModel", "FeedbackNLPError", "IncompatibleModelError",
    "InvalidTextError", "LabelSet", "ModelIntegrityError", "ModelLoadError", "TagResult", "TrainingError",
    "UntrustedModelError", "load_model", "normalise_text", "tag_file", "tag_frame", "save_model", "segment_words", "__version__",
]
