"""A model's life after training: evaluation, operators' corrections, the model registry."""
