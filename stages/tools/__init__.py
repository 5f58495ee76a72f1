"""Commands that read what the stages wrote (report, recommend): on the `recsys` console script, not in dvc.yaml."""
