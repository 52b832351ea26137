// The incidents pages use the UI's one translation module.
export { fmtDuration, fmtTime, lang, loadStrings, t, ZONE } from "./i18n.js";
