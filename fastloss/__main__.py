"""Command line: `python -m fastloss bench [options]` (or `fastloss-bench`)."""

import sys


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "bench":
        argv = argv[1:]
    elif argv and argv[0] in ("-h", "--help"):
        print("usage: python -m fastloss bench [--help]\n\n"
              "Commands:\n  bench   time every loss against its NumPy reference")
        return 0
    elif argv and not argv[0].startswith("-"):
        print(f"unknown command {argv[0]!r}; try: python -m fastloss bench", file=sys.stderr)
        return 2
    from fastloss._bench import main as bench_main

    return bench_main(argv)


if __name__ == "__main__":
    sys.exit(main())
