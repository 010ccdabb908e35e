"""Offline training tools: encoder preparation, fine-tuning, distillation, ONNX export.

Everything here may import torch and transformers (the ``[train]`` extra); nothing under
``dispatch_nlp/`` imports this package, so the inference path stays torch-free.
"""
