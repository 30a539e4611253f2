"""Ownership: every stored voice belongs to an API key.

Voices cloned before the API recorded owners (``voice.json`` without ``owner``) are usable by
admin keys only; no client key sees them. Read through the API with the admin key
(``GET /voices`` lists every voice with its ``owner`` to an admin key).
"""

from __future__ import annotations

from audiovoice_ops.core.doctor.report import PASS, SKIPPED, WARN, Check
from audiovoice_ops.core.doctor.sources import Sources, api_reason

SHOWN = 10  # ids named in the reason; the rest are counted


def check_unowned_voices(src: Sources) -> Check:
    title = "every voice belongs to an API key"

    def result(status: str, reason: str, fix: str | None = None) -> Check:
        return Check("voices.owner", "security", title, status, reason, fix)

    if not src.api_expected or src.voices is None:
        return result(SKIPPED, api_reason(src))
    if src.vram is None or src.vram.status != 200:  # /admin/vram answers admin keys only
        return result(
            SKIPPED,
            "needs the admin key (AVOPS_API_KEY, or ADMIN_API_KEYS in .env): "
            "a client key sees only its own voices",
        )
    voices = (src.voices.data or {}).get("voices") if src.voices.ok else None
    if not isinstance(voices, list):
        return result(
            WARN,
            src.voices.error or f"{src.voices.url}: answer has no `voices` list",
            f"check the API service (avops logs {src.api_or()}) and AVOPS_API_URL",
        )
    if any("owner" not in v for v in voices):
        return result(
            WARN,
            "the API does not report voice owners",
            f"update the API service (avops rebuild --service {src.api_or()})",
        )
    unowned = [v for v in voices if not v["owner"]]
    if not unowned:
        return result(PASS, f"{len(voices)} voice(s), each owned by a key")
    named = ", ".join(f"{v['voice_id']} ({v.get('name')})" for v in unowned[:SHOWN])
    more = f" and {len(unowned) - SHOWN} more" if len(unowned) > SHOWN else ""
    return result(
        WARN,
        f"{len(unowned)} voice(s) without an owner, usable by admin keys only: {named}{more}",
        'give each to its key: set "owner" in <DATA_DIR>/voices/<voice_id>/voice.json '
        "to the key's id (the first 16 hex digits of the key's SHA-256), or remove it: "
        "DELETE /voices/<voice_id> with an admin key",
    )
