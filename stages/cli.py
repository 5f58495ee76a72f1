"""The `recsys` console script: every DVC stage as a subcommand."""

from __future__ import annotations

import typer

from stages import evaluate, fetch_model, finetune, materialize, prepare, pretrain, report

app = typer.Typer(
    help="LLaRA-style recommendation pipeline. Each subcommand is one DVC stage (see dvc.yaml).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _group() -> None:
    """LLaRA-style recommendation pipeline. Each subcommand is one DVC stage (see dvc.yaml)."""


app.command("prepare", help=prepare.HELP)(prepare.command)
app.command("pretrain", help=pretrain.HELP)(pretrain.command)
app.command("fetch-model", help=fetch_model.HELP)(fetch_model.command)
app.command("materialize", help=materialize.HELP)(materialize.command)
app.command("finetune", help=finetune.HELP)(finetune.command)
app.command("evaluate", help=evaluate.HELP)(evaluate.command)
app.command("report")(report.report_command)
app.command("recommend")(report.recommend_command)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
