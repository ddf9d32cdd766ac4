// Re-identification tokens opened in the practice's browser, on the practice's own machine: the
// same format and the same refusals as openphm.practice.tokens (its docstring defines the
// format), with libsodium's JavaScript build served by this site (static/sodium, from npm).
// Nothing here sends anything anywhere: every function works on what it is given.
import sodium from "/static/sodium/libsodium-wrappers.mjs";

export const TOKEN_VERSION = 3; // a padded crypto_box from one ephemeral key per run
export const BOX_VERSION = 2; // the same box, unpadded
export const SEALED_BOX_VERSION = 1; // a libsodium sealed box
const PAD_TO = 64;
const PAD_MARK = 0x80;
const KEY_ID_BYTES = 8;
const HEADER_BYTES = 1 + KEY_ID_BYTES;
const EPHEMERAL_KEY_BYTES = 32;
const NONCE_BYTES = 24;
const AUTHENTICATOR_BYTES = 16;
const OVERHEAD = {
  [SEALED_BOX_VERSION]: EPHEMERAL_KEY_BYTES + AUTHENTICATOR_BYTES,
  [BOX_VERSION]: EPHEMERAL_KEY_BYTES + NONCE_BYTES + AUTHENTICATOR_BYTES,
  [TOKEN_VERSION]: EPHEMERAL_KEY_BYTES + NONCE_BYTES + AUTHENTICATOR_BYTES,
};
// 2^255 - 19, little-endian: every public key X25519 writes is below it.
const FIELD_PRIME = new Uint8Array(32).fill(0xff);
FIELD_PRIME[0] = 0xed;
FIELD_PRIME[31] = 0x7f;
// The kinds a failure is counted under: the words `phm practice reidentify` uses.
export const MALFORMED = "malformed";
export const ANOTHER_PRACTICE = "for another practice";
export const TAMPERED = "failed authentication";

export class TokenError extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind;
  }
}

export class KeyFileError extends Error {}

export async function ready() {
  await sodium.ready;
  return sodium;
}

/** The practice's key from the text of its practice.key (base64 of 32 bytes and a line break,
 * as `phm practice keygen` writes it): the private and public halves and the key id. */
export function readPrivateKey(text) {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(trimmed) || trimmed.length % 4 !== 0) {
    throw new KeyFileError("the key file is not a practice private key (not base64)");
  }
  const raw = sodium.from_base64(trimmed, sodium.base64_variants.ORIGINAL);
  if (raw.length !== 32) {
    throw new KeyFileError("the key file is not a practice private key (wrong length)");
  }
  const publicKey = sodium.crypto_scalarmult_base(raw);
  return { privateKey: raw, publicKey, keyId: keyId(publicKey), shared: new Map() };
}

/** BLAKE2b-64 of a public key: the key id in every token's header. */
export function keyId(publicKey) {
  return sodium.crypto_generichash(KEY_ID_BYTES, publicKey, null);
}

/** A new key pair, as `phm practice keygen` makes one: the file texts of practice.key and
 * practice.pub, and the public key's fingerprint (hex, as the programme shows it). */
export function newKeyPair() {
  const pair = sodium.crypto_box_keypair();
  const b64 = (bytes) => sodium.to_base64(bytes, sodium.base64_variants.ORIGINAL);
  const files = {
    privateKey: `${b64(pair.privateKey)}\n`,
    publicKey: `${b64(pair.publicKey)}\n`,
    fingerprint: sodium.to_hex(keyId(pair.publicKey)),
  };
  sodium.memzero(pair.privateKey);
  return files;
}

function decode(token) {
  const text = token.trim();
  if (!/^[A-Za-z0-9_-]+$/.test(text)) {
    throw new TokenError(MALFORMED, "token is not base64url text");
  }
  let raw;
  try {
    raw = sodium.from_base64(text, sodium.base64_variants.URLSAFE_NO_PADDING);
  } catch {
    throw new TokenError(MALFORMED, "token is not base64url text");
  }
  // One written form only: spare low bits set in the last character make another string.
  if (sodium.to_base64(raw, sodium.base64_variants.URLSAFE_NO_PADDING) !== text) {
    throw new TokenError(MALFORMED, "token is not in the form it was written in");
  }
  if (raw.length <= HEADER_BYTES) {
    throw new TokenError(MALFORMED, "token is too short to hold a sealed patient reference");
  }
  return raw;
}

function equal(a, b) {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

function reduced(key) {
  for (let i = 31; i >= 0; i -= 1) {
    if (key[i] !== FIELD_PRIME[i]) return key[i] < FIELD_PRIME[i];
  }
  return false; // equal to the prime: not reduced
}

function unpadded(plaintext) {
  let end = plaintext.length;
  while (end > 0 && plaintext[end - 1] === 0) end -= 1;
  if (
    plaintext.length % PAD_TO !== 0 ||
    end === 0 ||
    plaintext[end - 1] !== PAD_MARK ||
    plaintext.length - end >= PAD_TO
  ) {
    throw new TokenError(MALFORMED, "token opened but its padding is not the form it is sealed in");
  }
  return plaintext.subarray(0, end - 1);
}

const ascii = new TextDecoder("ascii");
const utf8 = new TextDecoder("utf-8", { fatal: true });

function parseBody(body) {
  const odsLength = body.length ? body[0] : 0;
  if (odsLength === 0 || body.length <= 1 + odsLength) {
    throw new TokenError(MALFORMED, "token opened but does not hold an ODS code and reference");
  }
  const ods = body.subarray(1, 1 + odsLength);
  if (ods.some((byte) => byte > 0x7f)) {
    throw new TokenError(MALFORMED, "token opened but does not hold an ODS code");
  }
  try {
    return { odsCode: ascii.decode(ods), patientRef: utf8.decode(body.subarray(1 + odsLength)) };
  } catch {
    throw new TokenError(MALFORMED, "token opened but does not hold a patient reference");
  }
}

/** The patient a token stands for ({odsCode, patientRef}) if it was sealed to `key` (and, with
 * `odsCode`, names that practice); a TokenError naming its kind otherwise. */
export function openToken(token, key, odsCode = null) {
  const raw = decode(token);
  const header = raw.subarray(0, HEADER_BYTES);
  const body = raw.subarray(HEADER_BYTES);
  const version = header[0];
  if (!(version in OVERHEAD)) {
    throw new TokenError(MALFORMED, `token version ${version} is not one this software reads`);
  }
  if (body.length <= OVERHEAD[version]) {
    throw new TokenError(MALFORMED, "token is too short to hold a sealed patient reference");
  }
  if (!equal(header.subarray(1), key.keyId)) {
    throw new TokenError(ANOTHER_PRACTICE, "token was sealed for another practice's key");
  }
  let plaintext;
  if (version === SEALED_BOX_VERSION) {
    try {
      plaintext = sodium.crypto_box_seal_open(body, key.publicKey, key.privateKey);
    } catch {
      throw new TokenError(TAMPERED, "token failed authentication: altered or damaged");
    }
  } else {
    const ephemeral = body.subarray(0, EPHEMERAL_KEY_BYTES);
    if (!reduced(ephemeral)) {
      throw new TokenError(MALFORMED, "token's key is not in the form X25519 writes it");
    }
    const nonce = body.subarray(EPHEMERAL_KEY_BYTES, EPHEMERAL_KEY_BYTES + NONCE_BYTES);
    const box = body.subarray(EPHEMERAL_KEY_BYTES + NONCE_BYTES);
    // One ephemeral key serves a whole run's tokens: agree on the shared key once per key.
    const id = sodium.to_hex(ephemeral);
    try {
      if (!key.shared.has(id)) {
        key.shared.set(id, sodium.crypto_box_beforenm(ephemeral, key.privateKey));
      }
      plaintext = sodium.crypto_box_open_easy_afternm(box, nonce, key.shared.get(id));
    } catch {
      throw new TokenError(TAMPERED, "token failed authentication: altered or damaged");
    }
  }
  if (!equal(plaintext.subarray(0, HEADER_BYTES), header)) {
    throw new TokenError(TAMPERED, "token header was altered after sealing");
  }
  if (version === TOKEN_VERSION) plaintext = unpadded(plaintext);
  const patient = parseBody(plaintext.subarray(HEADER_BYTES));
  if (odsCode !== null && patient.odsCode !== odsCode) {
    throw new TokenError(ANOTHER_PRACTICE, `token names another practice, not ${odsCode}`);
  }
  return patient;
}

/** Rows of a CSV text (RFC 4180: quoted cells may hold commas, quotes and line breaks). */
export function parseCsv(text) {
  const rows = [];
  let row = [];
  let cell = "";
  let quoted = false;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0; // a byte-order mark from a spreadsheet
  for (; i < text.length; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i += 1;
      } else if (c === '"') {
        quoted = false;
      } else {
        cell += c;
      }
    } else if (c === '"') {
      quoted = true;
    } else if (c === ",") {
      row.push(cell);
      cell = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i += 1;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
    } else {
      cell += c;
    }
  }
  if (cell !== "" || row.length) {
    row.push(cell);
    rows.push(row);
  }
  return rows.filter((r) => !(r.length === 1 && r[0] === ""));
}

/** A CSV's "# ..." lines at its head (what a cohort list is), and its table below them as
 * {columns, rows: [{column: value}]}; `required` columns missing are named in the error. */
export function readTable(text, required, what) {
  const all = parseCsv(text);
  let start = 0;
  while (start < all.length && all[start].length === 1 && all[start][0].startsWith("#")) {
    start += 1;
  }
  const about = all.slice(0, start).map((r) => r[0]);
  if (start >= all.length) throw new KeyFileError(`the ${what} has no table in it`);
  const header = all[start].map((c) => c.trim());
  // A hospital provider's patient list names its reference local_patient_id (the column
  // `phm provider reidentify` reads): the same join as a practice's patient_ref.
  const columns = header.includes("patient_ref")
    ? header
    : header.map((c) => (c === "local_patient_id" ? "patient_ref" : c));
  const missing = required.filter((c) => !columns.includes(c));
  if (missing.length) {
    throw new KeyFileError(`the ${what} has no column(s) ${missing.join(", ")}`);
  }
  const rows = all.slice(start + 1).map((cells) => {
    const row = {};
    columns.forEach((c, j) => {
      row[c] = cells[j] ?? "";
    });
    return row;
  });
  // What the file calls its reference: the worklist saved gives it back under that name.
  const reference = header.includes("patient_ref") ? "patient_ref" : "local_patient_id";
  return { about, columns, rows, reference };
}

// The practice's own patient list: the columns `phm practice reidentify` reads.
export const PATIENT_COLUMNS = [
  "patient_ref",
  "nhs_number",
  "given_name",
  "family_name",
  "date_of_birth",
];
export const IDENTITY_COLUMNS = [
  "nhs_number",
  "given_name",
  "family_name",
  "date_of_birth",
  "patient_ref",
];

/** The worklist, as openphm.practice.worklist makes it: the list's rows whose tokens this key
 * opens, joined to the patient list by the practice's patient reference; tokens that do not
 * open counted by kind, and people not on the patient list counted, never guessed. */
export function makeWorklist(list, key, patients, odsCode = null) {
  const byRef = new Map(patients.rows.map((p) => [p.patient_ref, p]));
  const failures = {};
  let notOnPatientList = 0;
  const rows = [];
  for (const row of list.rows) {
    let patient;
    try {
      patient = openToken(row.token, key, odsCode);
    } catch (failure) {
      if (!(failure instanceof TokenError)) throw failure;
      failures[failure.kind] = (failures[failure.kind] || 0) + 1;
      continue;
    }
    const person = byRef.get(patient.patientRef);
    if (person === undefined) {
      notOnPatientList += 1;
      continue;
    }
    const identity = Object.fromEntries(PATIENT_COLUMNS.map((c) => [c, person[c]]));
    rows.push({ ...identity, ...row, patient_ref: patient.patientRef });
  }
  const others = list.columns.filter((c) => c !== "token" && !IDENTITY_COLUMNS.includes(c));
  const reference = patients.reference || "patient_ref";
  return { columns: [...IDENTITY_COLUMNS, ...others], rows, failures, notOnPatientList, reference };
}

// A text cell a spreadsheet would run as a formula is prefixed with a quote (openphm.csvsafe);
// a number stays a number.
const FORMULA_LEADS = ["=", "+", "-", "@", "\t", "\r"];
const NUMBER = /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/;

export function neutralise(value) {
  const text = value == null ? "" : String(value);
  if (NUMBER.test(text)) return text;
  return FORMULA_LEADS.some((lead) => text.startsWith(lead)) ? `'${text}` : text;
}

function csvCell(value) {
  const text = neutralise(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The worklist as the CSV `phm practice reidentify` writes: the list's "# ..." lines, then
 * the table, every cell safe to open in a spreadsheet. */
export function worklistCsv(worklist, about = []) {
  const lines = about.map((line) => csvCell(line));
  // A provider's worklist names its reference local_patient_id, as `phm provider reidentify`.
  const named = (c) => (c === "patient_ref" && worklist.reference ? worklist.reference : c);
  lines.push(worklist.columns.map((c) => csvCell(named(c))).join(","));
  for (const row of worklist.rows) {
    lines.push(worklist.columns.map((c) => csvCell(row[c])).join(","));
  }
  return `${lines.join("\n")}\n`;
}
