"""Classifier members: the character n-gram linear member and the ONNX encoder member."""
