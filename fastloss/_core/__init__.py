"""The layers every loss goes through: the Loss class and its loop shapes,
the registry, validation, thread and kernel-dispatch control, and samplers
of valid inputs (for the tests and benchmarks)."""
