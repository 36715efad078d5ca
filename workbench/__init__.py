"""LR Workbench."""
