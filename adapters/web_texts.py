"""The web chat page's own words (not the bot's), in the languages the bot speaks.

The page is served in the browser's first language that is here (Accept-Language),
else in English; the bot's messages follow the same header.
"""

from __future__ import annotations

PAGE_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Feedback chat",
        "note": "Your answers go only to the service that asked. You can type help, back, "
        "skip or stop at any time.",
        "log": "Conversation",
        "label": "Your answer",
        "send": "Send",
        "hint": "Press Enter to send, Shift+Enter for a new line.",
        "noscript": "This chat needs JavaScript.",
        "choose_first": "Choose at least one option first.",
        "type_first": "Type an answer first.",
        "reconnecting": "Connection lost; trying again…",
        "not_sent": "Your message could not be sent. Please try again.",
        "offline": "Your message could not be sent. Please check your connection.",
        "expired": "Your session has expired. Please reload the page.",
        "download": "Download",
    },
    "fi": {
        "title": "Palautekeskustelu",
        "note": "Vastauksesi menevät vain palvelulle, joka kysyi. Voit kirjoittaa milloin "
        "tahansa apua, takaisin, ohita tai lopeta.",
        "log": "Keskustelu",
        "label": "Vastauksesi",
        "send": "Lähetä",
        "hint": "Enter lähettää, Vaihto+Enter aloittaa uuden rivin.",
        "noscript": "Tämä keskustelu tarvitsee JavaScriptin.",
        "choose_first": "Valitse ensin vähintään yksi vaihtoehto.",
        "type_first": "Kirjoita ensin vastaus.",
        "reconnecting": "Yhteys katkesi; yritetään uudelleen…",
        "not_sent": "Viestiäsi ei voitu lähettää. Yritä uudelleen.",
        "offline": "Viestiäsi ei voitu lähettää. Tarkista verkkoyhteytesi.",
        "expired": "Istuntosi on vanhentunut. Lataa sivu uudelleen.",
        "download": "Lataa",
    },
    "sv": {
        "title": "Responschatt",
        "note": "Dina svar går bara till den tjänst som frågade. Du kan när som helst skriva "
        "hjälp, tillbaka, hoppa över eller sluta.",
        "log": "Samtal",
        "label": "Ditt svar",
        "send": "Skicka",
        "hint": "Enter skickar, Skift+Enter ger en ny rad.",
        "noscript": "Den här chatten behöver JavaScript.",
        "choose_first": "Välj först minst ett alternativ.",
        "type_first": "Skriv ett svar först.",
        "reconnecting": "Anslutningen bröts; försöker igen…",
        "not_sent": "Ditt meddelande kunde inte skickas. Försök igen.",
        "offline": "Ditt meddelande kunde inte skickas. Kontrollera din anslutning.",
        "expired": "Din session har gått ut. Ladda om sidan.",
        "download": "Ladda ner",
    },
}


def preferred_language(accept_language: str) -> str | None:
    """The first language of an Accept-Language header that civicbot speaks, if any."""
    for part in accept_language.split(","):
        code = part.split(";", 1)[0].strip().lower().split("-", 1)[0]
        if code in PAGE_TEXTS:
            return code
    return None


def page_language(accept_language: str) -> str:
    return preferred_language(accept_language) or "en"
