// Start the NHS.UK frontend's components (header menu, error summary, …) from the local copy.
import { initAll } from "/assets/nhsuk-frontend.min.js";

initAll();
