// The web chat's pages (citizen and staff): sends what people type or click, and shows
// the bot's messages by long-polling. Text is always set with textContent, never as HTML.
"use strict";

const api = document.body.dataset.api;
const staff = document.body.dataset.mode === "staff";
let texts = JSON.parse(document.body.dataset.texts);  // the page's words, in its language
// the words in every language (the citizen's page): they follow the conversation's
const languages = JSON.parse(document.body.dataset.languages || "{}");
const log = document.getElementById("log");  // it scrolls; the lines are its list
const lines = log.querySelector("ol");
const form = document.getElementById("composer");
const input = document.getElementById("message");
const statusLine = document.getElementById("status");
let last = 0;
let epoch = null;  // the server's; another one means it restarted
// What the person said, kept in this tab (gone with it, and with "I'm done") so that a
// reload shows both halves of the conversation: each line with the last bot message
// number it followed, and the server's epoch (after a restart the numbers start anew).
const SAID = "civicbot-said";
let said = staff ? null : JSON.parse(sessionStorage.getItem(SAID) || '{"lines": []}');

function newId() {
  return crypto.randomUUID ? crypto.randomUUID()
    : Array.from(crypto.getRandomValues(new Uint8Array(16)), b => b.toString(16).padStart(2, "0")).join("");
}

function paragraphs(item, text) {
  for (const line of text.split("\n")) {
    const p = document.createElement("p");
    p.textContent = line;
    item.appendChild(p);
  }
}

function addLine(who, text) {
  const item = document.createElement("li");
  item.className = who;
  const sender = document.createElement("span");
  sender.className = "sender";
  sender.textContent = who === "bot" ? texts.bot : texts.you;
  item.appendChild(sender);
  item.dir = "auto";  // right-to-left text reads right to left
  paragraphs(item, text);
  lines.appendChild(item);
  showLatest();
  return item;
}

function showLatest() {
  // The log scrolls, not the page: its end (the current question and its buttons) in view.
  log.scrollTop = log.scrollHeight;
}

function disableOldChoices() {
  for (const control of log.querySelectorAll(".choices button, .choices input")) {
    control.disabled = true;
  }
}

function singleChoices(item, message) {
  const group = document.createElement("div");
  group.className = "choices";
  group.setAttribute("role", "group");
  group.setAttribute("aria-label", texts.choices);
  message.choices.forEach((choice, index) => {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = message.numbered ? `${index + 1}. ${choice.label}` : choice.label;
    button.addEventListener("click", () => send(choice.label, choice.value));
    group.appendChild(button);
  });
  item.appendChild(group);
}

function multipleChoices(item, message) {
  const group = document.createElement("fieldset");
  group.className = "choices";
  const legend = document.createElement("legend");
  legend.textContent = message.text.split("\n")[0];  // the question
  group.appendChild(legend);
  message.choices.forEach((choice, index) => {
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.value = choice.value;
    box.dataset.label = choice.label;
    label.appendChild(box);
    label.appendChild(document.createTextNode(`${index + 1}. ${choice.label}`));
    group.appendChild(label);
  });
  const submit = document.createElement("button");
  submit.type = "button";
  submit.className = "send-choices";
  submit.textContent = message.send_label || "✓";
  submit.addEventListener("click", () => {
    const picked = Array.from(group.querySelectorAll("input:checked"));
    if (picked.length === 0) {
      statusLine.textContent = texts.choose_first;
      return;
    }
    const values = picked.map(box => box.value);
    send(picked.map(box => box.dataset.label).join(", "), null, { question: message.question, values });
  });
  group.appendChild(submit);
  item.appendChild(group);
}

// A listing with a table (a run's findings): the text's first line is its caption, and
// the table says what the text's other lines say.
function tableLine(message) {
  const item = addLine("bot", "");
  const table = document.createElement("table");
  const caption = document.createElement("caption");
  caption.textContent = message.text.split("\n")[0];
  table.appendChild(caption);
  const [header, ...rows] = message.table;
  const head = table.createTHead().insertRow();
  for (const name of header) {
    const cell = document.createElement("th");
    cell.scope = "col";
    cell.textContent = name;
    head.appendChild(cell);
  }
  const body = table.createTBody();
  for (const row of rows) {
    const line = body.insertRow();
    row.forEach(value => { line.insertCell().textContent = value; });
  }
  const scroller = document.createElement("div");  // a wide table scrolls on a phone
  scroller.className = "table";
  scroller.appendChild(table);
  item.appendChild(scroller);
  return item;
}

function speak(language) {
  // The conversation changed language: so do the page's own words and its lang.
  if (!languages[language] || language === document.documentElement.lang) return;
  texts = languages[language];
  document.documentElement.lang = language;
  for (const element of document.querySelectorAll("[data-text]")) {
    if (element.dataset.text) element.textContent = texts[element.dataset.text];
  }
  for (const element of document.querySelectorAll("[data-label]")) {
    element.setAttribute("aria-label", texts[element.dataset.label]);
  }
  if (document.querySelector('[data-text="title"]')) document.title = texts.title;
}

const shown = new Set();  // outbox ids: a reply resent after a crash is shown once

function showBotMessage(message) {
  if (message.id !== null) {
    if (shown.has(message.id)) return;
    shown.add(message.id);
  }
  disableOldChoices();
  if (message.language && !staff) speak(message.language);
  if (simpler && typeof message.accessible === "boolean") simpler.checked = message.accessible;
  const item = message.table.length ? tableLine(message) : addLine("bot", message.text);
  if (message.details) {  // a digest's full figures: below a fold, its first line the label
    const fold = document.createElement("details");
    const label = document.createElement("summary");
    const [first, ...rest] = message.details.split("\n");
    label.textContent = first;
    fold.appendChild(label);
    paragraphs(fold, rest.join("\n").trim());
    item.appendChild(fold);
  }
  if (message.choices.length) {
    (message.multiple ? multipleChoices : singleChoices)(item, message);
    // after an answer by click, the new question's first control has the focus; someone
    // typing keeps it in the answer box
    if (document.activeElement !== input) {
      item.querySelector(".choices button, .choices input").focus({ preventScroll: true });
    }
  }
  if (message.file) {
    if (message.file.type.startsWith("image/")) {
      const image = document.createElement("img");
      image.src = message.file.url;
      image.alt = message.file.description;
      image.addEventListener("load", showLatest);  // its height is known only now
      item.appendChild(image);
    }
    const link = document.createElement("a");
    link.href = message.file.url;
    link.textContent = `${texts.download} ${message.file.name}`;
    item.appendChild(link);
  }
  showLatest();  // again, now that its buttons and files are in it
}

function pause(milliseconds) {
  return new Promise(resolve => setTimeout(resolve, milliseconds));
}

async function patiently(url, options) {
  // A 429 (this session, or everyone on this network, sent too much) or a 503 (the
  // message could not be saved, so nothing was kept): say why, wait as long as the
  // server asks, and try again with the same request (the same id: stored once).
  for (;;) {
    const response = await fetch(url, options);
    if (response.status !== 429 && response.status !== 503) return response;
    const problem = await response.json().catch(() => ({}));
    statusLine.textContent = problem.error || texts.reconnecting;
    const seconds = Number(response.headers.get("Retry-After")) || 2;
    await pause(seconds * 1000);
    statusLine.textContent = "";
  }
}

let delivered = Promise.resolve();  // the last message's delivery, retries included

function remember(text) {
  if (!said) return;
  said.lines.push({ after: last, text });
  said.lines = said.lines.slice(-100);
  sessionStorage.setItem(SAID, JSON.stringify(said));
}

function restoreSaid(upTo) {
  // the person's lines that came before the bot message numbered `upTo`
  while (said && said.restoring && said.lines[said.shown] && said.lines[said.shown].after < upTo) {
    addLine("me", said.lines[said.shown].text);
    said.shown += 1;
  }
}

function send(text, action, picked) {
  const line = addLine("me", text);
  remember(text);
  statusLine.textContent = "";
  const body = { text, action: action || null, id: newId() };
  if (picked) body.picked = picked;  // multiple choice: the question and the ticked values
  // One at a time: a message that waits (429) or is retried never overtakes the next.
  delivered = delivered.then(() => deliver(body, line));
}

async function deliver(body, line) {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const response = await patiently(api, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      if (response.ok) return;
      const problem = await response.json().catch(() => ({}));
      statusLine.textContent = problem.error || texts.not_sent;
      notSent(body, line);
      return;
    } catch (error) {
      // the same id again: the bot recognises a repeat and stores it once
      statusLine.textContent = texts.reconnecting;
      await pause(1000 * (attempt + 1));
    }
  }
  statusLine.textContent = texts.offline;
  notSent(body, line);
}

function notSent(body, line) {
  // Never shown as sent when it was not: marked, with a way to send it again (same id).
  line.classList.add("unsent");
  const note = document.createElement("p");
  note.className = "unsent-note";
  note.textContent = `${texts.unsent} `;
  const retry = document.createElement("button");
  retry.type = "button";
  retry.textContent = texts.retry;
  retry.addEventListener("click", () => {
    note.remove();
    line.classList.remove("unsent");
    statusLine.textContent = "";
    delivered = delivered.then(() => deliver(body, line));
  });
  note.appendChild(retry);
  line.appendChild(note);
  retry.focus();
}

async function poll() {
  for (;;) {
    try {
      const known = epoch === null ? "" : `&epoch=${epoch}`;
      const response = await patiently(`${api}?after=${last}${known}`);
      if (response.status === 401) {
        statusLine.textContent = texts.expired;
        return;
      }
      const data = await response.json();
      if (said && said.epoch !== data.epoch) said = { epoch: data.epoch, lines: [] };
      epoch = data.epoch;  // after a restart, the new transcript comes whole
      for (const message of data.messages) showBotMessage(message);
      last = data.last;
      if (statusLine.textContent === texts.reconnecting) statusLine.textContent = "";
    } catch (error) {
      statusLine.textContent = texts.reconnecting;
      await pause(2000);
    }
  }
}

form.addEventListener("submit", event => {
  event.preventDefault();
  const text = input.value.trim();
  if (!text) {
    statusLine.textContent = texts.type_first;
    return;
  }
  input.value = "";
  send(text);
});

input.addEventListener("keydown", event => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    form.requestSubmit();
  }
});

// The accessible profile's switch; typing simple (or simple off) moves it too, as the
// bot's answer to either says which way the profile went.
const simpler = document.getElementById("simpler");
if (simpler) {
  simpler.addEventListener("change", () => {
    if (simpler.checked) send(texts.simpler_on, "cmd:simple");
    else send(texts.simpler_off, "cmd:simple off");
  });
}

const done = document.getElementById("done");
if (done) {
  done.addEventListener("click", async () => {
    // On a shared computer: the server forgets this session and its cookie, and the page
    // starts again with a new one, so the next person sees nothing of this conversation.
    await fetch("api/done", { method: "POST" });
    sessionStorage.setItem("civicbot-done", "1");
    sessionStorage.removeItem(SAID);
    location.reload();
  });
}

const invite = document.getElementById("invite");
if (invite) {
  // The staff page: a file of phone numbers, sent as the invitation command it stands for.
  invite.addEventListener("submit", async event => {
    event.preventDefault();
    const form = new FormData(invite);
    const file = form.get("numbers");
    const query = new URLSearchParams({ survey: form.get("survey"), id: newId() });
    if (form.get("dry_run")) query.set("dry_run", "1");
    addLine("me", `${form.get("survey")}: ${file.name}`);
    const response = await fetch(`api/staff/numbers?${query}`, {
      method: "POST",
      headers: { "Content-Type": "text/csv" },
      body: file,
    });
    if (!response.ok) {
      const problem = await response.json().catch(() => ({}));
      statusLine.textContent = problem.error || texts.not_sent;
    }
  });
}

async function begin() {
  if (sessionStorage.getItem("civicbot-done")) {
    sessionStorage.removeItem("civicbot-done");
    statusLine.textContent = texts.finished;
  }
  const response = await patiently(`${api}?after=0&wait=0`);
  const data = response.ok ? await response.json() : { messages: [] };
  if (said) {
    if (said.epoch !== data.epoch) said = { epoch: data.epoch, lines: [] };  // a new transcript
    said.restoring = true;
    said.shown = 0;
    for (const message of data.messages) {
      restoreSaid(message.seq);
      showBotMessage(message);
    }
    restoreSaid(Infinity);
    said.restoring = false;
    sessionStorage.setItem(SAID, JSON.stringify({ epoch: said.epoch, lines: said.lines }));
    last = data.last;
    epoch = data.epoch;
  }
  if (data.messages.length === 0 && !staff) {
    // A first visit, or the server restarted: ask the bot where we are.
    await patiently(api, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ text: "", action: "cmd:continue", id: newId() }),
    });
  }
  poll();
}

begin();
input.focus();
