"""The model store in the warehouse's `_toolkit` schema."""
