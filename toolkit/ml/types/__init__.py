"""The model-type registry: options, estimator factories, tasks and capabilities."""
