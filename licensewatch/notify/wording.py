"""Words and numbers as a focal point reads them, in English or French."""

from __future__ import annotations

from typing import Final

from licensewatch import model

REASON_TEXT: Final[dict[str, dict[model.Reason, str]]] = {
    "en": dict(model.REASON_TEXT),
    "fr": {
        model.Reason.SEPARATED: "le titulaire a quitté l'organisation",
        model.Reason.INACTIVE: "aucune connexion depuis plus longtemps que la limite d'inactivité",
        model.Reason.NEVER_SIGNED_IN: "jamais connecté",
        model.Reason.DISABLED_LICENSED: "compte désactivé mais toujours sous licence",
        model.Reason.PHONE_UNREGISTERED: (
            "téléphone non enregistré depuis plus longtemps que la limite"
        ),
        model.Reason.PHONE_OWNER_DORMANT: "le compte du titulaire du téléphone est inactif",
        model.Reason.PHONE_NO_OWNER: "téléphone sans titulaire",
    },
}


def usd(cents: int, language: str = "en") -> str:
    """Cents as dollars: 411520 → "4,115.20" (en) or "4 115,20" (fr, narrow no-break space)."""
    whole, frac = model.money(cents).split(".")
    grouped = f"{int(whole):,}"
    if language == "fr":
        return grouped.replace(",", "\u202f") + "," + frac
    return f"{grouped}.{frac}"


def reason_words(codes: object, language: str = "en") -> str:
    """``"SEPARATED;INACTIVE"`` in plain words; an unknown code is shown as it is."""
    if not isinstance(codes, str):
        return ""
    table = REASON_TEXT.get(language, REASON_TEXT["en"])
    words = []
    for code in filter(None, codes.split(";")):
        try:
            words.append(table[model.Reason(code)])
        except ValueError:
            words.append(code)
    return "; ".join(words)
