// A practice makes its key pair in the browser (practice_key.jinja): the private half is saved
// to this computer as practice.key (the format `phm practice keygen` writes, so the command line
// reads it too) and never sent; the public half is put in the form that registers it.
import { newKeyPair, ready } from "/static/tokens.mjs";

document.getElementById("make-key").addEventListener("click", async () => {
  await ready();
  const pair = newKeyPair();
  const blob = new Blob([pair.privateKey], { type: "application/octet-stream" });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = "practice.key";
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  document.getElementById("public_key").value = pair.publicKey.trim();
  document.getElementById("made-key").textContent =
    `Made a key pair with fingerprint ${pair.fingerprint}. The private key was saved to this ` +
    "computer as practice.key (see your downloads): keep it safe at the practice. Now register " +
    "the public key below.";
});
