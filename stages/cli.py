"""The `recsys` console script: every DVC stage as a subcommand, and the tools that read their outputs.

The stage modules import torch, transformers, pyarrow and DuckDB inside their command functions, so that
`--help` and a mistyped option answer at once instead of after seconds of imports.
"""

from __future__ import annotations

import warnings

import typer

from stages import evaluate, fetch_model, finetune, inputs, materialize, prepare, pretrain
from stages.tools import recommend, report

# peft 0.21.2's PeftModel.__init__ still reads transformers' deprecated `is_gradient_checkpointing`
warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning,
                        module=r"transformers\.modeling_utils")

app = typer.Typer(
    help="LLaRA-style recommendation pipeline. Each subcommand is one DVC stage (see dvc.yaml), but report and "
         "recommend, which read what the stages wrote.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _group() -> None:
    """LLaRA-style recommendation pipeline. Each subcommand is one DVC stage (see dvc.yaml), but report and
    recommend, which read what the stages wrote."""


app.command("inputs", help=inputs.HELP)(inputs.command)
app.command("prepare", help=prepare.HELP)(prepare.command)
app.command("pretrain", help=pretrain.HELP)(pretrain.command)
app.command("fetch-model", help=fetch_model.HELP)(fetch_model.command)
app.command("materialize", help=materialize.HELP)(materialize.command)
app.command("finetune", help=finetune.HELP)(finetune.command)
app.command("evaluate", help=evaluate.HELP)(evaluate.command)
app.command("report")(report.command)
app.command("recommend")(recommend.command)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
