"""What the bot itself says, in every language it speaks, and the words it understands.

Command words work in every language at every question, whichever language the
conversation is in: someone who types `lopeta` in an English survey has stopped.
"""

from __future__ import annotations

from conversations.text import fold

LANGUAGE_NAMES = {"en": "English", "fi": "suomi", "sv": "svenska"}
FALLBACK_LANGUAGE = "en"

# command -> the words for it, in every language (matched after folding)
_COMMAND_WORDS = {
    "help": ["help", "apua", "ohje", "hjälp"],
    "back": ["back", "takaisin", "edellinen", "tillbaka"],
    "skip": ["skip", "ohita", "hoppa över", "hoppa"],
    "stop": ["stop", "lopeta", "sluta", "avbryt"],
    "continue": ["continue", "resume", "jatka", "fortsätt"],
    "language": ["language", "kieli", "språk"],
    "my_data": ["my data", "minun tietoni", "omat tietoni", "mina uppgifter"],
    "forget_me": ["forget me", "unohda minut", "glöm mig"],
    "unsubscribe": ["unsubscribe", "opt out", "peru tilaus", "avregistrera"],
    "no_replies": ["no replies", "ei vastauksia", "inga svar"],
    "repeat": ["repeat", "toista", "upprepa"],
    # the accessible profile: `simple`, `simple off`
    "accessible": ["accessible", "simple", "saavutettava", "selko", "tillgänglig", "enkel"],
}
# What follows a command word as its argument: `language fi`, `simple off`.
_TAKES_ARGUMENT = ("language", "accessible")
OFF_WORDS = frozenset(fold(w) for w in ["off", "pois", "av", "no", "ei", "nej"])
COMMANDS = {fold(word): command for command, words in _COMMAND_WORDS.items() for word in words}

YES_WORDS = frozenset(fold(w) for w in ["yes", "y", "ok", "kyllä", "k", "joo", "ja", "jo"])
NO_WORDS = frozenset(fold(w) for w in ["no", "n", "ei", "nej"])
# days relative to today, for date questions, in every language (matched after folding)
DAY_WORDS = {
    fold(word): offset
    for offset, words in (
        (0, ["today", "tänään", "idag", "i dag"]),
        (-1, ["yesterday", "eilen", "igår", "i går"]),
        (1, ["tomorrow", "huomenna", "imorgon", "i morgon"]),
    )
    for word in words
}

_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "language_offer": "For English, type: language en",
        "yes": "Yes",
        "no": "No",
        "consent_hint": "Reply yes or no.",
        "consent_declined": "No problem. Nothing has been saved. Thank you for your time.",
        "hint_single": "Reply with a number or the words of your choice.",
        "hint_multiple": "Choose one or more: reply with the numbers, for example 1, 3.",
        "send_choices": "Send my choices",
        "hint_multiple_limits": "Choose {low} to {high}: reply with the numbers, for example 1, 3.",
        "hint_scale": "Reply with a number from {low} to {high}.",
        "hint_scale_labels": "({low} = {low_label}, {high} = {high_label})",
        "hint_text": "Type your answer (up to {limit} characters).",
        "hint_number": "Reply with a number.",
        "hint_number_range": "Reply with a number from {low} to {high}.",
        "hint_optional": "You can type skip to leave this out.",
        "invalid_choice": "That is not one of the options.",
        "ambiguous_choice": "That could mean {options}. Please reply with the number.",
        "choice_part_unclear": "I did not understand “{part}”. Please reply with the numbers"
        " of your choices, for example 1, 3.",
        "invalid_choice_count": "Please choose from {low} to {high} options.",
        "invalid_scale": "Please reply with a whole number from {low} to {high}.",
        "invalid_number": "Please reply with a number, for example 12.",
        "invalid_whole_number": "Please reply with a whole number.",
        "hint_date": "Reply with a date, for example 3 December 2026, 2026-12-03, today or yesterday.",
        "date_bounds": "The date must be from {earliest} to {latest}.",
        "date_from": "The date must be {earliest} or later.",
        "date_until": "The date must be {latest} or earlier.",
        "invalid_date": "I could not read that as a date. Please write it for example as 3 December 2026 or 2026-12-03.",
        "no_such_date": "There is no such day in the calendar. Please check the date.",
        "today": "today",
        "number_out_of_range": "Please reply with a number from {low} to {high}.",
        "number_too_low": "Please reply with a number of at least {low}.",
        "number_too_high": "Please reply with a number of at most {high}.",
        "text_too_long": "Your answer is {length} characters long; the limit is {limit}. Please shorten it.",
        "empty": "I did not get any text. Please type an answer.",
        "message_too_long": "That message is too long for me ({length} characters). Please keep it under {limit}.",
        "stuck": "Having trouble? Type help for an explanation, or stop to finish for now.",
        "stuck_optional": "Having trouble? Type help for an explanation, skip to leave this question out, or stop to finish for now.",
        "help": "I am asking you a few short questions. Answer in your own words or with the numbers shown. Words that always work: help, back (previous question), skip (optional questions), stop (finish for now), language, repeat (the question again), simple (a simpler chat).",
        "cannot_skip": "This question needs an answer. Type stop if you want to finish for now.",
        "first_question": "This is the first question; there is nothing to go back to.",
        "stopped": "You have stopped for now. Your answers so far are kept. Type continue whenever you want to pick up where you left off.",
        "still_stopped": "You stopped this survey earlier. Type continue to pick up where you left off.",
        "already_finished": "You have already completed this survey. Thank you!",
        "thanks": "Thank you! Your answers have been saved.",
        "language_switched": "Language: English.",
        "language_choose": "This survey is available in: {languages}. Type language and a code, for example language {example}.",
        "stale_button": "That button belongs to an earlier question. Here is the current one.",
        "no_survey": "There is no survey for you right now.",
        "open_surveys": "These surveys are open to you. Choose one, or type its word: {keywords}",
        "help_label": "Help",
        "skip_label": "Skip",
        "reminder": "A reminder about “{title}”: you have not finished it yet. Type continue to pick up where you left off.",
        "my_data": "This is what we have stored from you:",
        "my_data_none": "We have no answers stored from you.",
        "my_data_footer": "Type forget me to erase all of it. Answers to anonymous surveys are not linked to you, so they are not shown here.",
        "skipped": "(skipped)",
        "forgotten": "Everything you told us has been erased, and so has how to reach you. Answers to anonymous surveys were never linked to you and stay as they are.",
        "unsubscribed": "You will get no more invitations or reminders. Your answers so far are kept. Write to me any time to take part again.",
        "may_reply": "One more thing: may the service reply to you here about your answers? Staff will not see who you are. You can type no replies at any time to take it back.",
        "may_reply_hint": "Reply yes or no. No is fine too.",
        "may_reply_yes": "Thank you. If staff reply about your answers, you will find it here.",
        "may_reply_no": "That is fine: nobody will reply to you about your answers.",
        "no_replies": "Nobody will reply to you about your answers any more.",
        "reply_from": "A reply from {service} to what you wrote (“{wrote}”):",
        "my_data_may_reply": "May the service reply to you about these answers: {answer}",
        "answer_back": "Thank you. Your message was passed on to {service}.",
        "you_said": "You took part in “{title}”. You said, and we did:",
        "planned": "planned",
        "done": "done",
        "answer_back_enough": "Thank you. {service} has your messages and will answer when it can.",
        "already_answered": "You have already answered “{title}”. Thank you!",
        "moved_on": "The survey you started, “{title}”, has moved on, so your message was not kept as an answer.",
        "unreadable": "I could not open your last message: it was encrypted with a key I did not receive. Please send it again.",
        "assist_reached": "You are answering for someone in: {title}. How did you reach them?",
        "assist_phone": "By phone",
        "assist_in_person": "In person",
        "assist_home_visit": "On a home visit",
        "assist_agreed": "Has the person agreed to take part, and to you typing their answers for them? Reply yes or no.",
        "assist_not_agreed": "Nothing was stored for them. The session is closed.",
        "assist_begins": "Type the person's answers as they give them; they are stored as given with your help. Type done when you have finished.",
        "assist_closed": "The session is closed, and what the person answered is stored. For the next person, type survey assist {survey} again.",
        "assist_busy": "You are answering for someone in {title} already. Type done to close that session first.",
        "assist_own_data": "In an assisted session, my data and forget me are the person's own to use on their own channel. Type done to close the session first.",
        "media_only": "I can only read words and numbers, not pictures or recordings. Please write your answer.",
        "texting_stopped": "You will get no more text messages from us. Your answers so far are kept. Text START to get messages again.",
        "texting_started": "You can get text messages from us again.",
        "texting_help": "This number collects feedback by text message. Text a survey's word to take part, STOP to get no more messages, START to get them again.",
        "edit_kept": "I kept your first answer. To change it, type back.",
        "accessible_on": "The simpler chat is on. I ask one thing at a time, write out every choice, and read your answer back before I keep it. Type repeat to see a question again, or simple off to go back to the usual chat.",
        "accessible_off": "The simpler chat is off. Type simple to turn it on again.",
        "read_back": "Your answer: {answer}. Is that right?",
        "read_back_choice": "You chose {answer}. Is that right?",
        "read_back_text": "You wrote: “{answer}”. Is that right?",
        "confirm_hint": "Reply yes to keep it, or no to answer again.",
        "answer_again": "Then please answer again.",
        "my_data_accessible": "The simpler chat is on for you. Type simple off to turn it off.",
    },
    "fi": {
        "language_offer": "Suomeksi: kirjoita kieli fi",
        "yes": "Kyllä",
        "no": "Ei",
        "consent_hint": "Vastaa kyllä tai ei.",
        "consent_declined": "Selvä. Mitään ei tallennettu. Kiitos ajastasi.",
        "hint_single": "Vastaa numerolla tai vaihtoehdon sanoilla.",
        "hint_multiple": "Valitse yksi tai useampi: vastaa numeroilla, esimerkiksi 1, 3.",
        "send_choices": "Lähetä valintani",
        "hint_multiple_limits": "Valitse {low}–{high}: vastaa numeroilla, esimerkiksi 1, 3.",
        "hint_scale": "Vastaa numerolla {low}–{high}.",
        "hint_scale_labels": "({low} = {low_label}, {high} = {high_label})",
        "hint_text": "Kirjoita vastauksesi (enintään {limit} merkkiä).",
        "hint_number": "Vastaa numerolla.",
        "hint_number_range": "Vastaa numerolla {low}–{high}.",
        "hint_optional": "Voit ohittaa kysymyksen kirjoittamalla ohita.",
        "invalid_choice": "Tuo ei ole mikään vaihtoehdoista.",
        "ambiguous_choice": "Tarkoitatko {options}? Vastaa numerolla.",
        "choice_part_unclear": "En ymmärtänyt kohtaa ”{part}”. Vastaa valintojesi numeroilla,"
        " esimerkiksi 1, 3.",
        "invalid_choice_count": "Valitse {low}–{high} vaihtoehtoa.",
        "invalid_scale": "Vastaa kokonaisluvulla {low}–{high}.",
        "invalid_number": "Vastaa numerolla, esimerkiksi 12.",
        "invalid_whole_number": "Vastaa kokonaisluvulla.",
        "hint_date": "Vastaa päivämäärällä, esimerkiksi 3.12.2026, 3. joulukuuta 2026, tänään tai eilen.",
        "date_bounds": "Päivämäärän pitää olla {earliest}–{latest}.",
        "date_from": "Päivämäärän pitää olla {earliest} tai myöhemmin.",
        "date_until": "Päivämäärän pitää olla {latest} tai aiemmin.",
        "invalid_date": "En tunnistanut päivämäärää. Kirjoita se esimerkiksi 3.12.2026.",
        "no_such_date": "Sellaista päivää ei ole kalenterissa. Tarkista päivämäärä.",
        "today": "tänään",
        "number_out_of_range": "Vastaa numerolla {low}–{high}.",
        "number_too_low": "Vastaa numerolla, joka on vähintään {low}.",
        "number_too_high": "Vastaa numerolla, joka on enintään {high}.",
        "text_too_long": "Vastauksesi on {length} merkkiä pitkä; enimmäispituus on {limit}. Lyhennä sitä, kiitos.",
        "empty": "En saanut tekstiä. Kirjoita vastaus.",
        "message_too_long": "Viesti on minulle liian pitkä ({length} merkkiä). Pidä se alle {limit} merkissä.",
        "stuck": "Onko vaikeaa? Kirjoita apua saadaksesi ohjeen, tai lopeta jatkaaksesi myöhemmin.",
        "stuck_optional": "Onko vaikeaa? Kirjoita apua saadaksesi ohjeen, ohita jättääksesi kysymyksen väliin, tai lopeta jatkaaksesi myöhemmin.",
        "help": "Kysyn muutaman lyhyen kysymyksen. Vastaa omin sanoin tai näytetyillä numeroilla. Nämä sanat toimivat aina: apua, takaisin (edellinen kysymys), ohita (vapaaehtoiset kysymykset), lopeta (lopeta toistaiseksi), kieli, toista (kysymys uudelleen), selko (selkeämpi keskustelu).",
        "cannot_skip": "Tähän kysymykseen tarvitaan vastaus. Kirjoita lopeta, jos haluat lopettaa toistaiseksi.",
        "first_question": "Tämä on ensimmäinen kysymys; takaisin ei voi mennä.",
        "stopped": "Lopetit toistaiseksi. Tähänastiset vastauksesi on tallennettu. Kirjoita jatka, kun haluat jatkaa siitä mihin jäit.",
        "still_stopped": "Keskeytit tämän kyselyn. Kirjoita jatka jatkaaksesi siitä mihin jäit.",
        "already_finished": "Olet jo vastannut tähän kyselyyn. Kiitos!",
        "thanks": "Kiitos! Vastauksesi on tallennettu.",
        "language_switched": "Kieli: suomi.",
        "language_choose": "Tämä kysely on saatavilla kielillä: {languages}. Kirjoita kieli ja koodi, esimerkiksi kieli {example}.",
        "stale_button": "Tuo painike kuuluu aiempaan kysymykseen. Tässä nykyinen kysymys.",
        "no_survey": "Sinulle ei ole nyt kyselyä.",
        "open_surveys": "Nämä kyselyt ovat avoinna sinulle. Valitse yksi tai kirjoita sen sana: {keywords}",
        "help_label": "Apua",
        "skip_label": "Ohita",
        "reminder": "Muistutus kyselystä ”{title}”: se on vielä kesken. Kirjoita jatka jatkaaksesi siitä mihin jäit.",
        "my_data": "Tämä on tallentamamme tieto sinulta:",
        "my_data_none": "Meillä ei ole sinulta tallennettuja vastauksia.",
        "my_data_footer": "Kirjoita unohda minut, niin poistamme kaiken. Nimettömien kyselyjen vastauksia ei ole liitetty sinuun, joten ne eivät näy tässä.",
        "skipped": "(ohitettu)",
        "forgotten": "Kaikki kertomasi on poistettu, samoin yhteystietosi. Nimettömien kyselyjen vastauksia ei koskaan liitetty sinuun, ja ne säilyvät.",
        "unsubscribed": "Et saa enää kutsuja etkä muistutuksia. Tähänastiset vastauksesi säilyvät. Kirjoita milloin tahansa, niin voit taas osallistua.",
        "may_reply": "Vielä yksi asia: saako palvelu vastata sinulle täällä vastauksistasi? Henkilökunta ei näe, kuka olet. Voit milloin tahansa kirjoittaa ei vastauksia, niin peruutat luvan.",
        "may_reply_hint": "Vastaa kyllä tai ei. Ei käy hyvin.",
        "may_reply_yes": "Kiitos. Jos henkilökunta vastaa vastauksiisi, löydät sen täältä.",
        "may_reply_no": "Selvä: kukaan ei vastaa sinulle vastauksistasi.",
        "no_replies": "Kukaan ei enää vastaa sinulle vastauksistasi.",
        "reply_from": "Vastaus palvelulta {service} siihen, mitä kirjoitit (”{wrote}”):",
        "my_data_may_reply": "Saako palvelu vastata sinulle näistä vastauksista: {answer}",
        "answer_back": "Kiitos. Viestisi välitettiin palvelulle {service}.",
        "you_said": "Osallistuit kyselyyn ”{title}”. Te sanoitte, me teimme:",
        "planned": "suunnitteilla",
        "done": "tehty",
        "answer_back_enough": "Kiitos. Palvelu {service} on saanut viestisi ja vastaa, kun ehtii.",
        "already_answered": "Olet jo vastannut kyselyyn ”{title}”. Kiitos!",
        "moved_on": "Aloittamasi kysely ”{title}” on jo päättynyt sinun osaltasi, joten viestiäsi ei tallennettu vastaukseksi.",
        "unreadable": "En saanut viimeistä viestiäsi auki: se oli salattu avaimella, jota en saanut. Lähetä se uudelleen.",
        "assist_reached": "Vastaat toisen puolesta kyselyyn: {title}. Miten tavoitit hänet?",
        "assist_phone": "Puhelimitse",
        "assist_in_person": "Kasvokkain",
        "assist_home_visit": "Kotikäynnillä",
        "assist_agreed": "Onko henkilö suostunut vastaamaan ja siihen, että kirjoitat hänen vastauksensa? Vastaa kyllä tai ei.",
        "assist_not_agreed": "Hänestä ei tallennettu mitään. Istunto on suljettu.",
        "assist_begins": "Kirjoita henkilön vastaukset niin kuin hän ne antaa; ne tallennetaan avustettuina. Kirjoita done, kun olet valmis.",
        "assist_closed": "Istunto on suljettu, ja henkilön vastaukset on tallennettu. Seuraavaa henkilöä varten kirjoita uudelleen survey assist {survey}.",
        "assist_busy": "Vastaat jo jonkun puolesta kyselyyn {title}. Kirjoita done sulkeaksesi sen istunnon ensin.",
        "assist_own_data": "Avustetussa istunnossa minun tietoni ja unohda minut ovat henkilön itsensä käytettävissä omassa kanavassaan. Kirjoita done sulkeaksesi istunnon ensin.",
        "media_only": "Osaan lukea vain sanoja ja numeroita, en kuvia enkä äänitteitä. Kirjoita vastauksesi.",
        "texting_stopped": "Et saa meiltä enää tekstiviestejä. Tähänastiset vastauksesi säilyvät. Lähetä START, niin saat viestejä taas.",
        "texting_started": "Saat meiltä taas tekstiviestejä.",
        "texting_help": "Tähän numeroon voi antaa palautetta tekstiviestillä. Lähetä kyselyn sana osallistuaksesi, LOPETA lopettaaksesi viestit ja START saadaksesi ne taas.",
        "edit_kept": "Pidin ensimmäisen vastauksesi. Jos haluat muuttaa sitä, kirjoita takaisin.",
        "accessible_on": "Selkeämpi keskustelu on päällä. Kysyn yhden asian kerrallaan, kirjoitan kaikki vaihtoehdot näkyviin ja luen vastauksesi ennen kuin tallennan sen. Kirjoita toista, niin näet kysymyksen uudelleen, tai selko pois, niin palaat tavalliseen keskusteluun.",
        "accessible_off": "Selkeämpi keskustelu ei ole enää päällä. Kirjoita selko, niin saat sen takaisin.",
        "read_back": "Vastauksesi: {answer}. Onko se oikein?",
        "read_back_choice": "Valitsit {answer}. Onko se oikein?",
        "read_back_text": "Kirjoitit: ”{answer}”. Onko se oikein?",
        "confirm_hint": "Vastaa kyllä, niin tallennan sen, tai ei, niin voit vastata uudelleen.",
        "answer_again": "Vastaa sitten uudelleen.",
        "my_data_accessible": "Selkeämpi keskustelu on sinulla päällä. Kirjoita selko pois, niin se loppuu.",
    },
    "sv": {
        "language_offer": "På svenska: skriv språk sv",
        "yes": "Ja",
        "no": "Nej",
        "consent_hint": "Svara ja eller nej.",
        "consent_declined": "Inga problem. Ingenting har sparats. Tack för din tid.",
        "hint_single": "Svara med en siffra eller med orden för ditt val.",
        "hint_multiple": "Välj ett eller flera: svara med siffrorna, till exempel 1, 3.",
        "send_choices": "Skicka mina val",
        "hint_multiple_limits": "Välj {low} till {high}: svara med siffrorna, till exempel 1, 3.",
        "hint_scale": "Svara med en siffra från {low} till {high}.",
        "hint_scale_labels": "({low} = {low_label}, {high} = {high_label})",
        "hint_text": "Skriv ditt svar (högst {limit} tecken).",
        "hint_number": "Svara med ett tal.",
        "hint_number_range": "Svara med ett tal från {low} till {high}.",
        "hint_optional": "Du kan skriva hoppa över för att hoppa över frågan.",
        "invalid_choice": "Det är inte ett av alternativen.",
        "ambiguous_choice": "Menar du {options}? Svara med siffran.",
        "choice_part_unclear": "Jag förstod inte ”{part}”. Svara med numren på dina val,"
        " till exempel 1, 3.",
        "invalid_choice_count": "Välj {low} till {high} alternativ.",
        "invalid_scale": "Svara med ett heltal från {low} till {high}.",
        "invalid_number": "Svara med ett tal, till exempel 12.",
        "invalid_whole_number": "Svara med ett heltal.",
        "hint_date": "Svara med ett datum, till exempel 3.12.2026, 3 december 2026, i dag eller i går.",
        "date_bounds": "Datumet ska vara mellan {earliest} och {latest}.",
        "date_from": "Datumet ska vara {earliest} eller senare.",
        "date_until": "Datumet ska vara {latest} eller tidigare.",
        "invalid_date": "Jag kunde inte läsa det som ett datum. Skriv det till exempel som 3.12.2026 eller 3 december 2026.",
        "no_such_date": "Den dagen finns inte i kalendern. Kontrollera datumet.",
        "today": "i dag",
        "number_out_of_range": "Svara med ett tal från {low} till {high}.",
        "number_too_low": "Svara med ett tal som är minst {low}.",
        "number_too_high": "Svara med ett tal som är högst {high}.",
        "text_too_long": "Ditt svar är {length} tecken långt; gränsen är {limit}. Korta gärna ner det.",
        "empty": "Jag fick ingen text. Skriv ett svar.",
        "message_too_long": "Meddelandet är för långt för mig ({length} tecken). Håll det under {limit}.",
        "stuck": "Går det trögt? Skriv hjälp för en förklaring, eller sluta för att avbryta tills vidare.",
        "stuck_optional": "Går det trögt? Skriv hjälp för en förklaring, hoppa över för att hoppa över frågan, eller sluta för att avbryta tills vidare.",
        "help": "Jag ställer några korta frågor. Svara med egna ord eller med siffrorna som visas. Ord som alltid fungerar: hjälp, tillbaka (föregående fråga), hoppa över (frivilliga frågor), sluta (avbryt tills vidare), språk, upprepa (frågan igen), enkel (en enklare chatt).",
        "cannot_skip": "Den här frågan behöver ett svar. Skriv sluta om du vill avbryta tills vidare.",
        "first_question": "Det här är den första frågan; det finns inget att gå tillbaka till.",
        "stopped": "Du har avbrutit tills vidare. Dina svar hittills är sparade. Skriv fortsätt när du vill fortsätta där du slutade.",
        "still_stopped": "Du avbröt den här enkäten tidigare. Skriv fortsätt för att fortsätta där du slutade.",
        "already_finished": "Du har redan svarat på den här enkäten. Tack!",
        "thanks": "Tack! Dina svar har sparats.",
        "language_switched": "Språk: svenska.",
        "language_choose": "Den här enkäten finns på: {languages}. Skriv språk och en kod, till exempel språk {example}.",
        "stale_button": "Den knappen hör till en tidigare fråga. Här är den aktuella.",
        "no_survey": "Det finns ingen enkät för dig just nu.",
        "open_surveys": "De här enkäterna är öppna för dig. Välj en eller skriv dess ord: {keywords}",
        "help_label": "Hjälp",
        "skip_label": "Hoppa över",
        "reminder": "En påminnelse om ”{title}”: du har inte svarat klart än. Skriv fortsätt för att fortsätta där du slutade.",
        "my_data": "Det här har vi sparat från dig:",
        "my_data_none": "Vi har inga svar sparade från dig.",
        "my_data_footer": "Skriv glöm mig så raderar vi allt. Svar på anonyma enkäter är inte kopplade till dig och visas inte här.",
        "skipped": "(hoppades över)",
        "forgotten": "Allt du berättat har raderats, liksom hur vi når dig. Svar på anonyma enkäter kopplades aldrig till dig och finns kvar.",
        "unsubscribed": "Du får inga fler inbjudningar eller påminnelser. Dina svar hittills finns kvar. Skriv till mig när som helst för att delta igen.",
        "may_reply": "En sak till: får tjänsten svara dig här om dina svar? Personalen ser inte vem du är. Du kan när som helst skriva inga svar för att ta tillbaka det.",
        "may_reply_hint": "Svara ja eller nej. Nej går också bra.",
        "may_reply_yes": "Tack. Om personalen svarar på dina svar hittar du det här.",
        "may_reply_no": "Det går bra: ingen kommer att svara dig om dina svar.",
        "no_replies": "Ingen kommer att svara dig om dina svar längre.",
        "reply_from": "Ett svar från {service} på det du skrev (”{wrote}”):",
        "my_data_may_reply": "Får tjänsten svara dig om de här svaren: {answer}",
        "answer_back": "Tack. Ditt meddelande har skickats vidare till {service}.",
        "you_said": "Du deltog i ”{title}”. Ni sa, vi gjorde:",
        "planned": "planerat",
        "done": "gjort",
        "answer_back_enough": "Tack. {service} har fått dina meddelanden och svarar när det går.",
        "already_answered": "Du har redan svarat på ”{title}”. Tack!",
        "moved_on": "Enkäten du började på, ”{title}”, har gått vidare, så ditt meddelande sparades inte som ett svar.",
        "unreadable": "Jag kunde inte öppna ditt senaste meddelande: det var krypterat med en nyckel som jag inte fick. Skicka det igen.",
        "assist_reached": "Du svarar för någon i: {title}. Hur nådde du personen?",
        "assist_phone": "Per telefon",
        "assist_in_person": "Personligen",
        "assist_home_visit": "Vid ett hembesök",
        "assist_agreed": "Har personen gått med på att delta, och på att du skriver in svaren åt hen? Svara ja eller nej.",
        "assist_not_agreed": "Inget sparades om personen. Sessionen är stängd.",
        "assist_begins": "Skriv in personens svar som hen ger dem; de sparas som givna med din hjälp. Skriv done när du är klar.",
        "assist_closed": "Sessionen är stängd och personens svar är sparade. För nästa person, skriv survey assist {survey} igen.",
        "assist_busy": "Du svarar redan för någon i {title}. Skriv done för att stänga den sessionen först.",
        "assist_own_data": "I en assisterad session är mina uppgifter och glöm mig personens egna att använda i sin egen kanal. Skriv done för att stänga sessionen först.",
        "media_only": "Jag kan bara läsa ord och siffror, inte bilder eller inspelningar. Skriv ditt svar.",
        "texting_stopped": "Du får inga fler sms från oss. Dina svar hittills sparas. Skicka START för att få meddelanden igen.",
        "texting_started": "Du kan få sms från oss igen.",
        "texting_help": "Till det här numret kan du ge respons per sms. Skicka en enkäts ord för att delta, STOPP för att inte få fler meddelanden och START för att få dem igen.",
        "edit_kept": "Jag behöll ditt första svar. Skriv tillbaka om du vill ändra det.",
        "accessible_on": "Den enklare chatten är på. Jag frågar en sak i taget, skriver ut alla val och läser upp ditt svar innan jag sparar det. Skriv upprepa för att se en fråga igen, eller enkel av för att gå tillbaka till den vanliga chatten.",
        "accessible_off": "Den enklare chatten är av. Skriv enkel för att slå på den igen.",
        "read_back": "Ditt svar: {answer}. Stämmer det?",
        "read_back_choice": "Du valde {answer}. Stämmer det?",
        "read_back_text": "Du skrev: ”{answer}”. Stämmer det?",
        "confirm_hint": "Svara ja för att spara det, eller nej för att svara igen.",
        "answer_again": "Svara då igen.",
        "my_data_accessible": "Den enklare chatten är på för dig. Skriv enkel av för att stänga av den.",
    },
}


def say(language: str, key: str, **values: object) -> str:
    """The bot's own sentence `key` in `language`, or in English if it has no such language."""
    texts = _TEXTS.get(language, _TEXTS[FALLBACK_LANGUAGE])
    return texts[key].format(**values)


def command_in(text: str, action: str | None) -> tuple[str, str] | None:
    """The command a message gives: a `cmd:` button's, or its typed words' when no button
    was pressed (a button that answers is never a command)."""
    if action is None:
        return command_of(text)
    return command_of(action.removeprefix("cmd:")) if action.startswith("cmd:") else None


def command_of(text: str) -> tuple[str, str] | None:
    """(command, argument) if the message is a command word, e.g. 'Kieli sv', 'simple off',
    or '?' for help."""
    if text.strip() == "?":
        return "help", ""
    folded = fold(text)
    if folded in COMMANDS:
        return COMMANDS[folded], ""
    head, _, rest = folded.partition(" ")
    if (command := COMMANDS.get(head)) in _TAKES_ARGUMENT:
        return command, rest.strip()
    return None


def language_named(folded: str) -> str | None:
    """A language code from a code or a native name: 'fi', 'suomi', 'Svenska'."""
    for code, name in LANGUAGE_NAMES.items():
        if folded in (code, fold(name)):
            return code
    return folded if len(folded) in (2, 3) and folded.isalpha() else None


def speaks(language: str) -> bool:
    return language in _TEXTS
