"""The registry: canonical names, aliases, one entry per loss.

Entries are defined in the family modules (fastloss/families/*.py) with
`register`; tests and benchmarks iterate over `LOSSES`, so a registered loss
is tested and benchmarked without further edits.
"""

LOSSES = {}
_ALIASES = {}


def register(loss):
    """Add a Loss object under its canonical name and aliases."""
    for key in (loss.name,) + loss.aliases:
        if key in LOSSES or key in _ALIASES:
            raise ValueError(f"loss name {key!r} is registered twice")
    LOSSES[loss.name] = loss
    for alias in loss.aliases:
        _ALIASES[alias] = loss.name
    return loss


def get(name):
    """The loss object for a canonical name or alias (case-insensitive).

    >>> import fastloss as fl
    >>> fl.get("mse") is fl.mean_squared_error
    True
    """
    if not isinstance(name, str):
        raise TypeError(f"loss name must be a string; got {name!r}")
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    try:
        return LOSSES[key]
    except KeyError:
        raise ValueError(
            f"unknown loss {name!r}; fastloss.available() lists the canonical names"
        ) from None


def available():
    """Sorted list of the canonical loss names."""
    return sorted(LOSSES)


def aliases():
    """Mapping alias -> canonical name."""
    return dict(_ALIASES)
