"""Command line: `python -m fastloss bench [options]` (or `fastloss-bench`) and
`python -m fastloss plot [NAME ...] [options]`."""

import sys

USAGE = """usage: python -m fastloss {bench,plot} [--help]

Commands:
  bench   time every loss against its NumPy reference
  plot    draw every loss and its gradient against its residual, margin, ... (matplotlib)"""


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "plot":
        from fastloss.plot import main as plot_main

        return plot_main(argv[1:])
    if argv and argv[0] == "bench":
        argv = argv[1:]
    elif argv and argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    elif argv and not argv[0].startswith("-"):
        print(f"unknown command {argv[0]!r}; try: python -m fastloss bench, or "
              "python -m fastloss plot", file=sys.stderr)
        return 2
    from fastloss._bench import main as bench_main

    return bench_main(argv)


if __name__ == "__main__":
    sys.exit(main())
