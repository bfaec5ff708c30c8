"""The ``feedback-nlp`` command line: a thin layer over the Python API, one module per command."""

from __future__ import annotations

import typer

from . import evaluate, explain, info, report, serve, tag, tag_file, train, validate

app = typer.Typer(
    name="feedback-nlp",
    help="Tag Vietnamese civic feedback by theme (harassment, delays, courtesy, digitalisation) and sentiment.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("tag")(tag.tag_command)
app.command("tag-file")(tag_file.tag_file_command)
app.command("explain")(explain.explain_command)
app.command("info")(info.info_command)
app.command("validate")(validate.validate_command)
app.command("train")(train.train_command)
app.command("evaluate")(evaluate.evaluate_command)
app.command("serve")(serve.serve_command)
app.command("report")(report.report_command)


def main() -> None:
    app()
