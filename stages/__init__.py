"""One Typer command per DVC stage; each reads its params section and calls the recsys library."""
