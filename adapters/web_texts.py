"""The web chat page's own words (not the bot's), in the languages the bot speaks.

The page is served in the browser's first language that is here (Accept-Language),
else in English; the bot's messages follow the same header. When the conversation
turns to another language (`language fi`), the page's words follow it.
"""

from __future__ import annotations

PAGE_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Feedback chat",
        "you": "You: ",
        "bot": "civicbot: ",
        "choices": "Choices",
        "privacy": "Privacy notice",
        "accessibility": "Accessibility statement",
        "note": "Your answers go only to the service that asked. You can type help, back, "
        "skip or stop at any time.",
        "log": "Conversation",
        "label": "Your answer",
        "send": "Send",
        "hint": "Press Enter to send, Shift+Enter for a new line.",
        "noscript": "This chat needs JavaScript. Turn it on in your browser's settings, or"
        " ask the service for another way to answer, such as by phone or text message.",
        "choose_first": "Choose at least one option first.",
        "type_first": "Type an answer first.",
        "reconnecting": "Connection lost; trying again…",
        "not_sent": "Your message could not be sent. Please try again.",
        "offline": "Your message could not be sent. Please check your connection.",
        "expired": "Your session has expired. Please reload the page.",
        "download": "Download",
        "done": "I'm done",
        # the setting that switches the accessible profile, and what the log says it did
        "simpler": "Simpler chat",
        "simpler_on": "Simpler chat on",
        "simpler_off": "Simpler chat off",
        "finished": "Thank you. This chat is cleared: whoever uses this computer next starts"
        " afresh.",
        "unsent": "Not sent.",
        "retry": "Retry",
        # the server's refusals, shown in the status line
        "bad_after": "'after' must be a whole number.",
        "other_site": "This page cannot be used from another site.",
        "too_large": "That message is too large; the limit is {limit} bytes.",
        "unreadable": "The message could not be read. Please try again.",
        "no_id": "The message has no valid id. Please reload the page.",
        "too_fast": "You are sending messages very fast. Please wait a moment.",
        "not_stored": "Your message could not be saved just now. It is sent again in a moment.",
        "network_busy": "Too many messages are coming from your network just now. "
        "Please wait a moment and try again.",
    },
    "fi": {
        "title": "Palautekeskustelu",
        "you": "Sinä: ",
        "bot": "civicbot: ",
        "choices": "Vaihtoehdot",
        "privacy": "Tietosuojaseloste",
        "accessibility": "Saavutettavuusseloste",
        "note": "Vastauksesi menevät vain palvelulle, joka kysyi. Voit kirjoittaa milloin "
        "tahansa apua, takaisin, ohita tai lopeta.",
        "log": "Keskustelu",
        "label": "Vastauksesi",
        "send": "Lähetä",
        "hint": "Enter lähettää, Vaihto+Enter aloittaa uuden rivin.",
        "noscript": "Tämä keskustelu tarvitsee JavaScriptin. Ota se käyttöön selaimen"
        " asetuksista tai kysy palvelulta muuta tapaa vastata, esimerkiksi puhelimitse tai"
        " tekstiviestillä.",
        "choose_first": "Valitse ensin vähintään yksi vaihtoehto.",
        "type_first": "Kirjoita ensin vastaus.",
        "reconnecting": "Yhteys katkesi; yritetään uudelleen…",
        "not_sent": "Viestiäsi ei voitu lähettää. Yritä uudelleen.",
        "offline": "Viestiäsi ei voitu lähettää. Tarkista verkkoyhteytesi.",
        "expired": "Istuntosi on vanhentunut. Lataa sivu uudelleen.",
        "download": "Lataa",
        "done": "Olen valmis",
        # the setting that switches the accessible profile, and what the log says it did
        "simpler": "Selkeämpi keskustelu",
        "simpler_on": "Selkeämpi keskustelu päälle",
        "simpler_off": "Selkeämpi keskustelu pois",
        "finished": "Kiitos. Keskustelu on tyhjennetty: seuraava tämän tietokoneen käyttäjä"
        " aloittaa alusta.",
        "unsent": "Ei lähetetty.",
        "retry": "Yritä uudelleen",
        "bad_after": "'after' on oltava kokonaisluku.",
        "other_site": "Tätä sivua ei voi käyttää toiselta sivustolta.",
        "too_large": "Viesti on liian suuri; enimmäiskoko on {limit} tavua.",
        "unreadable": "Viestiä ei voitu lukea. Yritä uudelleen.",
        "no_id": "Viestillä ei ole kelvollista tunnistetta. Lataa sivu uudelleen.",
        "too_fast": "Lähetät viestejä hyvin nopeasti. Odota hetki.",
        "not_stored": "Viestiäsi ei juuri nyt saatu tallennettua. "
        "Se lähetetään hetken päästä uudelleen.",
        "network_busy": "Verkostasi tulee juuri nyt liikaa viestejä. "
        "Odota hetki ja yritä uudelleen.",
    },
    "sv": {
        "title": "Responschatt",
        "you": "Du: ",
        "bot": "civicbot: ",
        "choices": "Alternativ",
        "privacy": "Dataskyddsbeskrivning",
        "accessibility": "Tillgänglighetsutlåtande",
        "note": "Dina svar går bara till den tjänst som frågade. Du kan när som helst skriva "
        "hjälp, tillbaka, hoppa över eller sluta.",
        "log": "Samtal",
        "label": "Ditt svar",
        "send": "Skicka",
        "hint": "Enter skickar, Skift+Enter ger en ny rad.",
        "noscript": "Den här chatten behöver JavaScript. Slå på det i webbläsarens"
        " inställningar, eller be tjänsten om ett annat sätt att svara, till exempel per"
        " telefon eller sms.",
        "choose_first": "Välj först minst ett alternativ.",
        "type_first": "Skriv ett svar först.",
        "reconnecting": "Anslutningen bröts; försöker igen…",
        "not_sent": "Ditt meddelande kunde inte skickas. Försök igen.",
        "offline": "Ditt meddelande kunde inte skickas. Kontrollera din anslutning.",
        "expired": "Din session har gått ut. Ladda om sidan.",
        "download": "Ladda ner",
        "done": "Jag är klar",
        # the setting that switches the accessible profile, and what the log says it did
        "simpler": "Enklare chatt",
        "simpler_on": "Enklare chatt på",
        "simpler_off": "Enklare chatt av",
        "finished": "Tack. Chatten är tömd: nästa person vid den här datorn börjar från början.",
        "unsent": "Inte skickat.",
        "retry": "Försök igen",
        "bad_after": "'after' måste vara ett heltal.",
        "other_site": "Den här sidan kan inte användas från en annan webbplats.",
        "too_large": "Meddelandet är för stort; gränsen är {limit} byte.",
        "unreadable": "Meddelandet kunde inte läsas. Försök igen.",
        "no_id": "Meddelandet saknar giltigt id. Ladda om sidan.",
        "too_fast": "Du skickar meddelanden mycket snabbt. Vänta en stund.",
        "not_stored": "Ditt meddelande kunde inte sparas just nu. Det skickas igen om en stund.",
        "network_busy": "Det kommer för många meddelanden från ditt nätverk just nu. "
        "Vänta en stund och försök igen.",
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


def refusal(accept_language: str, key: str, **numbers: int) -> str:
    """One of the server's refusals, in the page's language, its numbers written as
    that language groups digits (65,536; 65 536)."""
    language = page_language(accept_language)
    separator = "," if language == "en" else "\u00a0"
    grouped = {name: f"{number:,}".replace(",", separator) for name, number in numbers.items()}
    return PAGE_TEXTS[language][key].format(**grouped)
