"""Hyperparameter tuning: a search over the options' search space, one trained model per trial."""
