"""The digest's own words in the staff's language (en, fi, sv); survey texts come from
the survey file. Any other language reads English."""

from __future__ import annotations

from datetime import datetime, tzinfo

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Digest: {title} (run {run}), {period}",
        "since": "{since} to {until}",
        "up_to": "up to {until}",
        "totals": "Responses: {responses} ({new} new), completed {completed} ({rate}%)",
        "partial": "{n} unfinished are not in the figures.",
        "assisted": "{n} answered with an intermediary's help.",
        "assisted_by_mode": "{n} answered with an intermediary's help ({modes}).",
        "reached_phone": "{n} by phone",
        "reached_in_person": "{n} in person",
        "reached_home_visit": "{n} on a home visit",
        "changes": "Since the last digest: {changes}.",
        "findings": "Findings:",
        "no_findings": "No findings yet: too few answers to show.",
        "chose": "{count} of {answered} ({percent}%) chose “{label}”: {question}",
        "rated": "{mean} on average on a scale of {low}–{high} ({answered} answered): {question}",
        "theme": "{n} answers mention “{theme}”, e.g. “{quote}”",
        "theme_plain": "{n} answers mention “{theme}”",
        "flagged": "Flagged:",
        "held": "{n} answers held for review (threats or slurs): `survey review {run}`",
        "low": "{n} gave a lowest score and said why",
        "heard_less": "Heard less than expected: {group}, {expected}% of those the survey is "
        "for, {heard} of the answers.",
        "percent_of": "{heard}%",
        "unheard": "Nobody has completed it in {languages} yet.",
        "details": "Full figures of run {run}",
        "answered": "{question} ({answered} answered, {skipped} skipped)",
        "mean": "mean {mean}, median {median}",
        "no_answers": "no answers yet",
        "hidden_until": "figures hidden until {k} have answered",
        "nobody": "chosen by nobody: {options}",
        "themes": "themes: {themes}",
        "fewer_than": "fewer than {k}",
        "earliest": "earliest",
        "latest": "latest",
        "nothing_new": "Digest: {title} (run {run}): no new responses since {since}.",
        "and": "and",
        "about": "about {n}",
        "noted": "noted",
        "planned": "planned",
        "done": "done",
        "declined": "declined",
    },
    "fi": {
        "title": "Kooste: {title} (kierros {run}), {period}",
        "since": "{since}–{until}",
        "up_to": "{until} asti",
        "totals": "Vastauksia: {responses} ({new} uutta), valmiina {completed} ({rate} %)",
        "partial": "{n} keskeneräistä ei ole luvuissa.",
        "assisted": "{n} vastasi avustajan avulla.",
        "assisted_by_mode": "{n} vastasi avustajan avulla ({modes}).",
        "reached_phone": "{n} puhelimitse",
        "reached_in_person": "{n} kasvokkain",
        "reached_home_visit": "{n} kotikäynnillä",
        "changes": "Edellisestä koosteesta: {changes}.",
        "findings": "Havainnot:",
        "no_findings": "Ei vielä havaintoja: liian vähän vastauksia näytettäväksi.",
        "chose": "{count}/{answered} ({percent} %) valitsi ”{label}”: {question}",
        "rated": "keskimäärin {mean} asteikolla {low}–{high} ({answered} vastasi): {question}",
        "theme": "{n} vastauksessa mainitaan ”{theme}”, esim. ”{quote}”",
        "theme_plain": "{n} vastauksessa mainitaan ”{theme}”",
        "flagged": "Nostot:",
        "held": "{n} vastausta odottaa tarkistusta (uhkauksia tai herjoja): `survey review {run}`",
        "low": "{n} antoi alimman arvion ja kertoi miksi",
        "heard_less": "Kuultu odotettua vähemmän: {group}, {expected} % kohderyhmästä, "
        "{heard} vastauksista.",
        "percent_of": "{heard} %",
        "unheard": "Kukaan ei ole vielä vastannut kielellä {languages}.",
        "details": "Kierroksen {run} kaikki luvut",
        "answered": "{question} ({answered} vastasi, {skipped} ohitti)",
        "mean": "keskiarvo {mean}, mediaani {median}",
        "no_answers": "ei vielä vastauksia",
        "hidden_until": "luvut piilossa, kunnes {k} on vastannut",
        "nobody": "kukaan ei valinnut: {options}",
        "themes": "teemat: {themes}",
        "fewer_than": "alle {k}",
        "earliest": "aikaisin",
        "latest": "viimeisin",
        "nothing_new": "Kooste: {title} (kierros {run}): ei uusia vastauksia {since} jälkeen.",
        "and": "ja",
        "about": "noin {n}",
        "noted": "kirjattu",
        "planned": "suunnitteilla",
        "done": "tehty",
        "declined": "hylätty",
    },
    "sv": {
        "title": "Sammandrag: {title} (omgång {run}), {period}",
        "since": "{since}–{until}",
        "up_to": "till {until}",
        "totals": "Svar: {responses} ({new} nya), slutförda {completed} ({rate} %)",
        "partial": "{n} ofärdiga ingår inte i siffrorna.",
        "assisted": "{n} svarade med hjälp av en mellanhand.",
        "assisted_by_mode": "{n} svarade med hjälp av en mellanhand ({modes}).",
        "reached_phone": "{n} per telefon",
        "reached_in_person": "{n} personligen",
        "reached_home_visit": "{n} vid hembesök",
        "changes": "Sedan förra sammandraget: {changes}.",
        "findings": "Iakttagelser:",
        "no_findings": "Inga iakttagelser ännu: för få svar att visa.",
        "chose": "{count} av {answered} ({percent} %) valde ”{label}”: {question}",
        "rated": "i snitt {mean} på skalan {low}–{high} ({answered} svarade): {question}",
        "theme": "{n} svar nämner ”{theme}”, t.ex. ”{quote}”",
        "theme_plain": "{n} svar nämner ”{theme}”",
        "flagged": "Flaggat:",
        "held": "{n} svar väntar på granskning (hot eller okvädingsord): `survey review {run}`",
        "low": "{n} gav lägsta betyg och berättade varför",
        "heard_less": "Hörda mindre än väntat: {group}, {expected} % av målgruppen, "
        "{heard} av svaren.",
        "percent_of": "{heard} %",
        "unheard": "Ingen har svarat på {languages} ännu.",
        "details": "Alla siffror för omgång {run}",
        "answered": "{question} ({answered} svarade, {skipped} hoppade över)",
        "mean": "medel {mean}, median {median}",
        "no_answers": "inga svar ännu",
        "hidden_until": "siffrorna visas när {k} har svarat",
        "nobody": "ingen valde: {options}",
        "themes": "teman: {themes}",
        "fewer_than": "färre än {k}",
        "earliest": "tidigast",
        "latest": "senast",
        "nothing_new": "Sammandrag: {title} (omgång {run}): inga nya svar sedan {since}.",
        "and": "och",
        "about": "cirka {n}",
        "noted": "noterat",
        "planned": "planerat",
        "done": "gjort",
        "declined": "avböjt",
    },
}

LANGUAGE_NAMES = {
    "en": {"en": "English", "fi": "Finnish", "sv": "Swedish"},
    "fi": {"en": "englanniksi", "fi": "suomeksi", "sv": "ruotsiksi"},
    "sv": {"en": "engelska", "fi": "finska", "sv": "svenska"},
}
_MONTHS = {
    "en": ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
    "sv": ["jan", "feb", "mar", "apr", "maj", "jun", "jul", "aug", "sep", "okt", "nov", "dec"],
}


def word(lang: str, key: str, **values: object) -> str:
    return WORDS.get(lang, WORDS["en"])[key].format(**values)


def moment(at: float, zone: tzinfo, lang: str) -> str:
    """A time (seconds since the epoch) as staff in that language write it in `zone`:
    1 Dec 16:00, 1.12. klo 16.00."""
    when = datetime.fromtimestamp(at, zone)
    if lang == "fi":
        return f"{when.day}.{when.month}. klo {when:%H.%M}"
    months = _MONTHS.get(lang, _MONTHS["en"])
    return f"{when.day} {months[when.month - 1]} {when:%H:%M}"


def decimal(value: float, lang: str) -> str:
    """One decimal, with the comma Finnish and Swedish write."""
    text = f"{value:.1f}"
    return text.replace(".", ",") if lang in ("fi", "sv") else text


def languages(codes: tuple[str, ...], lang: str) -> str:
    names = [LANGUAGE_NAMES.get(lang, LANGUAGE_NAMES["en"]).get(code, code) for code in codes]
    if len(names) == 1:
        return names[0]
    return f"{', '.join(names[:-1])} {word(lang, 'and')} {names[-1]}"
