"""Compiled kernels, one package per instruction-set level (see fastloss._core.dispatch)."""
