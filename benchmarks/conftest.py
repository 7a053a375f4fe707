"""With benchmarking disabled (the tests' default options), the suite is a
smoke test: it runs each case once at its small size and deselects the large
ones, whose numbers mean something only when timed (the large shapes
themselves are covered by tests/, e.g. the thread and SIMD shapes)."""


def pytest_collection_modifyitems(config, items):
    if not config.getoption("benchmark_disable", False) or config.getoption(
            "benchmark_enable", False):
        return
    keep, drop = [], []
    for item in items:
        spec = getattr(item, "callspec", None)
        size = spec.params.get("size") if spec is not None else None
        (drop if size not in (None, "small") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
