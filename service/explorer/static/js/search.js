// Search studies: patient ID, name with wildcards, date range, modality, accession; paging.
// The criteria live in the URL so a search can be bookmarked and the Back button works.

import { getJSON, paths } from "./api.js";
import { h, errorBox, loading } from "./dom.js";
import { list, personName } from "./format.js";
import { links } from "./router.js";

const PAGE_SIZE = 25;
const FIELDS = ["PatientID", "PatientName", "from", "to", "Modality", "AccessionNumber"];

function field(label, name, value, attributes = {}) {
  return h("label", { class: "field" }, h("span", {}, label),
           h("input", { name, id: `search-${name}`, value: value || "", ...attributes }));
}

function criteriaForm(query, navigate) {
  const form = h("form", { class: "search-form", role: "search", "aria-label": "Study search" },
    field("Patient ID", "PatientID", query.get("PatientID"), { autocomplete: "off" }),
    field("Patient name", "PatientName", query.get("PatientName"),
          { placeholder: "DOE* or ?OE^J*", autocomplete: "off",
            title: "* matches any run of characters, ? one character; case-insensitive" }),
    field("Study date from", "from", query.get("from"), { type: "date" }),
    field("to", "to", query.get("to"), { type: "date" }),
    field("Modality", "Modality", query.get("Modality"), { placeholder: "CT, MR", size: 8 }),
    field("Accession", "AccessionNumber", query.get("AccessionNumber"), { autocomplete: "off" }),
    h("div", { class: "actions" },
      h("button", { type: "submit", class: "primary" }, "Search"),
      h("button", { type: "reset" }, "Clear")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const criteria = {};
    for (const name of FIELDS) criteria[name] = String(data.get(name) || "").trim();
    navigate(links.search(criteria));
  });
  form.addEventListener("reset", (event) => {
    event.preventDefault();
    navigate(links.search());
  });
  return form;
}

// The API's StudyDate range: "YYYYMMDD-YYYYMMDD", "YYYYMMDD-" or "-YYYYMMDD".
function dateRange(from, to) {
  const compact = (value) => (value || "").replaceAll("-", "");
  if (!from && !to) return "";
  return `${compact(from)}-${compact(to)}`;
}

function apiQuery(query, offset) {
  return {
    PatientID: query.get("PatientID"),
    PatientName: query.get("PatientName"),
    StudyDate: dateRange(query.get("from"), query.get("to")),
    ModalitiesInStudy: query.get("Modality"),
    AccessionNumber: query.get("AccessionNumber"),
    limit: PAGE_SIZE,
    offset,
  };
}

function resultsTable(page) {
  const rows = page.items.map((study) => h("tr", {},
    h("td", {}, h("a", { href: links.study(study.StudyInstanceUID), class: "study-link" },
                  personName(study.PatientName) || "(no name)")),
    h("td", {}, study.PatientID || ""),
    h("td", {}, study.PatientBirthDate || ""),
    h("td", {}, study.PatientSex || ""),
    h("td", {}, study.StudyDate || ""),
    h("td", {}, study.StudyDescription || ""),
    h("td", {}, study.AccessionNumber || ""),
    h("td", {}, list(study.ModalitiesInStudy)),
    h("td", { class: "number" }, study.NumberOfStudyRelatedSeries ?? ""),
    h("td", { class: "number" }, study.NumberOfStudyRelatedInstances ?? "")));
  return h("table", { class: "results", id: "study-results" },
    h("caption", { class: "visually-hidden" }, "Studies"),
    h("thead", {}, h("tr", {}, ["Patient", "Patient ID", "Birth date", "Sex", "Study date",
      "Description", "Accession", "Modalities", "Series", "Instances"].map(
      (name) => h("th", { scope: "col" }, name)))),
    h("tbody", {}, rows));
}

function pager(page, query, navigate) {
  const first = page.total ? page.offset + 1 : 0;
  const last = page.offset + page.items.length;
  const go = (offset) => () => {
    const criteria = Object.fromEntries(query.entries());
    criteria.offset = offset || "";
    navigate(links.search(criteria));
  };
  return h("nav", { class: "pager", "aria-label": "Result pages" },
    h("button", { type: "button", disabled: page.offset === 0,
                  onclick: go(Math.max(0, page.offset - PAGE_SIZE)) }, "← Previous"),
    h("span", { id: "result-count", role: "status" }, `${first}–${last} of ${page.total}`),
    h("button", { type: "button", disabled: last >= page.total,
                  onclick: go(page.offset + PAGE_SIZE) }, "Next →"));
}

export async function renderSearch(view, { query, navigate, signal }) {
  document.title = "Studies — dicom-resolver";
  const results = h("div", { class: "results-area", "aria-live": "polite" }, loading("Searching…"));
  view.append(h("h1", { tabindex: "-1" }, "Studies"), criteriaForm(query, navigate), results);
  const offset = Math.max(0, Number.parseInt(query.get("offset") || "0", 10) || 0);
  try {
    const page = await getJSON(paths.studies(), apiQuery(query, offset), { signal });
    results.replaceChildren(
      page.items.length ? resultsTable(page)
                        : h("p", { class: "empty" }, "No study matches these criteria."),
      pager(page, query, navigate));
  } catch (error) {
    if (error.name !== "AbortError") results.replaceChildren(errorBox(error));
  }
}
