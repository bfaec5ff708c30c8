"""``python -m feedback_nlp`` runs the command line."""

from .cli import main

main()
