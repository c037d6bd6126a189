"""The DuckDB warehouse: connections, functions registered on them, atomic materialization, state tables."""
