"""How the command line shows things: consoles sized by their stream, query results in DuckDB's box or as text,
tables that fit the width without cutting names, and the progress and summary of a run."""
