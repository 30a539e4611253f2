"""Boolean flags such as LOW_VRAM: the one spelling rule the worker and the host CLI share.

The worker (``engines.settings``) and avops (``audiovoice_ops.core.envfile``) both read LOW_VRAM
from the same ``.env``; if they parsed it differently, ``avops doctor`` would call a value valid
that the worker refuses (or the reverse). Standard library only: avops imports this without the
ML stack or pydantic-settings.
"""

from __future__ import annotations

TRUE_WORDS = ("true", "1", "yes", "on")
FALSE_WORDS = ("false", "0", "no", "off")
ACCEPTED_BOOLS = "/".join(TRUE_WORDS + FALSE_WORDS)


def parse_bool(value: object) -> bool:
    """Strict bool, case- and space-insensitive; a real ``bool`` (from JSON) passes through.

    Raises ``ValueError`` naming the accepted spellings: pydantic alone would also take 't', 'y'...
    """
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"invalid value {value!r}; accepted (case-insensitive): {ACCEPTED_BOOLS}")
