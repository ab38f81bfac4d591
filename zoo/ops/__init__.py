"""Kernels and the ops the models need without torchvision."""
