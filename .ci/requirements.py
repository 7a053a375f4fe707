"""Print what a from-source build and the test suite need, read from
pyproject.toml (one source of truth), one requirement per line.

    python .ci/requirements.py build test     # build-system.requires + the test extra

Groups: "build" (build-system.requires), "runtime" (project.dependencies) and
any optional-dependency extra by name.
"""

import sys
import tomllib
from pathlib import Path

meta = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())
groups = {"build": meta["build-system"]["requires"],
          "runtime": meta["project"]["dependencies"],
          **meta["project"]["optional-dependencies"]}
for name in sys.argv[1:]:
    if name not in groups:
        sys.exit(f"requirements.py: unknown group {name!r}; choose from {', '.join(groups)}")
    for req in groups[name]:
        print(req)
