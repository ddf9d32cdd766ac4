// A practice opens one of its cohort lists on its own machine (practice_list.jinja): the list's
// tokens (fetched from this site, as the download link does) are opened here with the practice's
// private key and joined to the practice's patient list, both read from files the user picks.
// Neither file, nor any name, NHS number or date of birth, is sent anywhere: the only request
// this page makes besides the list itself is POST /api/outcomes, with tokens and outcomes only.
import {
  ANOTHER_PRACTICE,
  KeyFileError,
  MALFORMED,
  PATIENT_COLUMNS,
  TAMPERED,
  makeWorklist,
  readPrivateKey,
  readTable,
  ready,
  worklistCsv,
} from "/static/tokens.mjs";

const root = document.getElementById("reidentify");
const form = document.getElementById("open-form");
const problem = document.getElementById("problem");
const section = document.getElementById("worklist");
let opened = null; // {worklist, about}

// Column headings in words; a column not named here is shown by its name.
const HEADINGS = {
  risk_score: "Risk score",
  risk_percentile: "Risk percentile",
  segment: "Segment",
  main_drivers: "Main risk factors",
  reasons: "Why on the list",
};
const MESSAGES = {
  [ANOTHER_PRACTICE]:
    "were sealed for another practice's key: not opened. This list may have been sent to the " +
    "wrong practice, or sealed to your practice's earlier key if it was replaced since (open it " +
    "with the earlier key, or wait for the list sealed to your new key); tell the programme",
  [TAMPERED]: "failed authentication (altered or damaged): not opened. Ask for a fresh copy",
  [MALFORMED]: "are not tokens this software reads: not opened",
};
const MONTHS = [
  "January", "February", "March", "April", "May", "June",
  "July", "August", "September", "October", "November", "December",
];

function showProblem(text) {
  document.getElementById("problem-text").textContent = text;
  problem.hidden = false;
  problem.focus();
}

function dateWords(iso) {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso || "");
  if (!match || Number(match[2]) < 1 || Number(match[2]) > 12) return iso;
  return `${Number(match[3])} ${MONTHS[Number(match[2]) - 1]} ${match[1]}`;
}

function nhsNumber(text) {
  return /^\d{10}$/.test(text) ? `${text.slice(0, 3)} ${text.slice(3, 6)} ${text.slice(6)}` : text;
}

function plural(n, one, many) {
  return `${n.toLocaleString("en-GB")} ${n === 1 ? one : many}`;
}

function cell(row, text, numeric = false) {
  const td = document.createElement("td");
  td.className = `nhsuk-table__cell${numeric ? " nhsuk-table__cell--numeric" : ""}`;
  td.textContent = text ?? "";
  row.append(td);
  return td;
}

function heading(row, text) {
  const th = document.createElement("th");
  th.className = "nhsuk-table__header";
  th.scope = "col";
  th.textContent = text;
  row.append(th);
}

function outcomeChoice(person, i) {
  const select = document.getElementById("outcome-choices").cloneNode(true);
  select.hidden = false;
  select.id = `outcome-${i}`;
  select.dataset.row = String(i);
  select.classList.add("phm-outcome");
  const label = document.createElement("label");
  label.className = "nhsuk-u-visually-hidden";
  label.htmlFor = select.id;
  label.textContent = `Outcome for ${person.given_name} ${person.family_name}`;
  return [label, select];
}

function show(worklist, total) {
  // Who, why and what was done first; then the rest of the list's columns, the reference last.
  const identity = ["given_name", "family_name", "nhs_number", "date_of_birth", "patient_ref"];
  const rest = worklist.columns.filter((c) => !identity.includes(c) && c !== "reasons");
  const reasons = worklist.columns.includes("reasons");
  const head = document.getElementById("worklist-head");
  const body = document.getElementById("worklist-body");
  head.replaceChildren();
  body.replaceChildren();
  for (const text of ["Name", "NHS number", "Date of birth"]) heading(head, text);
  if (reasons) heading(head, HEADINGS.reasons);
  heading(head, "Outcome");
  rest.forEach((c) => heading(head, HEADINGS[c] || c.replace(/_/g, " ")));
  heading(head, "Your reference");
  worklist.rows.forEach((person, i) => {
    const tr = document.createElement("tr");
    tr.className = "nhsuk-table__row";
    cell(tr, `${person.given_name} ${person.family_name}`.trim());
    cell(tr, nhsNumber(person.nhs_number));
    cell(tr, dateWords(person.date_of_birth));
    if (reasons) cell(tr, person.reasons);
    cell(tr, "").append(...outcomeChoice(person, i));
    rest.forEach((c) => cell(tr, person[c], c === "risk_score" || c === "risk_percentile"));
    cell(tr, person.patient_ref);
    body.append(tr);
  });
  document.getElementById("worklist-summary").textContent =
    `${worklist.rows.length.toLocaleString("en-GB")} of ${plural(total, "person", "people")} ` +
    "on this list opened and found on your patient list.";
  const warnings = document.getElementById("worklist-warnings");
  warnings.replaceChildren();
  const notes = [];
  if (worklist.notOnPatientList) {
    notes.push(
      `${plural(worklist.notOnPatientList, "token", "tokens")} opened but ` +
        `${worklist.notOnPatientList === 1 ? "is" : "are"} not on the patient list you chose ` +
        (root.dataset.organisation === "provider"
          ? "(not on your patient administration system's export?): not on the worklist."
          : "(left the practice since?): not on the worklist."),
    );
  }
  for (const [kind, count] of Object.entries(worklist.failures).sort()) {
    notes.push(`${plural(count, "token", "tokens")} ${MESSAGES[kind] || kind}.`);
  }
  for (const note of notes) {
    const li = document.createElement("li");
    li.textContent = note;
    warnings.append(li);
  }
  section.hidden = false;
}

async function text(input, what) {
  const file = input.files && input.files[0];
  if (!file) throw new KeyFileError(`choose ${what}`);
  return file.text();
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  problem.hidden = true;
  try {
    await ready();
    const key = readPrivateKey(await text(document.getElementById("key-file"), "your key file"));
    const patients = readTable(
      await text(document.getElementById("patients-file"), "your patient list"),
      PATIENT_COLUMNS,
      "patient list",
    );
    const answer = await fetch(root.dataset.list, { credentials: "same-origin" });
    if (!answer.ok) throw new KeyFileError(`the list could not be fetched (${answer.status})`);
    const list = readTable(await answer.text(), ["token"], "cohort list");
    const worklist = makeWorklist(list, key, patients, root.dataset.ods);
    key.privateKey.fill(0);
    key.shared.forEach((shared) => shared.fill(0));
    opened = { worklist, about: list.about };
    show(worklist, list.rows.length);
  } catch (failure) {
    if (!(failure instanceof KeyFileError)) console.error(failure);
    const words = failure.message.charAt(0).toUpperCase() + failure.message.slice(1);
    showProblem(
      failure instanceof KeyFileError
        ? `${words}.`
        : "Something went wrong opening the list in this browser.",
    );
  }
});

document.getElementById("save-csv").addEventListener("click", () => {
  const blob = new Blob([worklistCsv(opened.worklist, opened.about)], { type: "text/csv" });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = root.dataset.worklist;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
});

document.getElementById("print").addEventListener("click", () => window.print());

document.getElementById("send-outcomes").addEventListener("click", async () => {
  const status = document.getElementById("outcomes-sent");
  const outcomes = [...document.querySelectorAll("select.phm-outcome")]
    .filter((select) => select.value)
    .map((select) => ({
      token: opened.worklist.rows[Number(select.dataset.row)].token,
      outcome: select.value,
    }));
  if (!outcomes.length) {
    status.textContent = "Choose an outcome for at least one person first.";
    return;
  }
  const answer = await fetch("/api/outcomes", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": root.dataset.csrf },
    body: JSON.stringify({ cohort: root.dataset.cohort, outcomes }),
  });
  const reply = await answer.json().catch(() => ({}));
  if (!answer.ok) {
    status.textContent = `Not recorded: ${reply.detail || answer.status}.`;
    return;
  }
  const kept = Object.values(reply.recorded).reduce((a, b) => a + b, 0);
  status.textContent =
    `${plural(kept, "outcome", "outcomes")} recorded.` +
    (reply.not_on_list
      ? ` ${plural(reply.not_on_list, "token was", "tokens were")} not on this list: not kept.`
      : "");
});
