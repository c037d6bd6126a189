"""BigQuery ML's ML.* table functions, one module per family, and the rewrite that runs them."""
