"""Raw sources -> validated Parquet splits with fixed candidates (the prepare stage's library)."""
