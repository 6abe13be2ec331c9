// A study: patient and study attributes, its series, and its SR reports as text.

import { getJSON, getAll, paths } from "./api.js";
import { definitions, errorBox, h, loading } from "./dom.js";
import { list, personName, time } from "./format.js";
import { renderReport } from "./report.js";
import { links } from "./router.js";

// Modalities whose series hold no image to show in the viewer.
export const NON_IMAGE_MODALITIES = new Set(["SR", "KO", "PR", "DOC", "RWV", "REG", "SEG"]);

function patientFacts(study) {
  return definitions([
    ["Name", personName(study.PatientName)],
    ["Patient ID", study.PatientID],
    ["Issuer of ID", study.IssuerOfPatientID],
    ["Birth date", study.PatientBirthDate],
    ["Sex", study.PatientSex],
    ["Age", study.PatientAge],
    ["Size", study.PatientSize && `${study.PatientSize} m`],
    ["Weight", study.PatientWeight && `${study.PatientWeight} kg`],
  ]);
}

function studyFacts(study) {
  return definitions([
    ["Description", study.StudyDescription],
    ["Date", [study.StudyDate, time(study.StudyTime)].filter(Boolean).join(" ")],
    ["Accession", study.AccessionNumber],
    ["Study ID", study.StudyID],
    ["Referring physician", personName(study.ReferringPhysicianName)],
    ["Modalities", list(study.ModalitiesInStudy)],
    ["Series / instances",
     `${study.NumberOfStudyRelatedSeries} / ${study.NumberOfStudyRelatedInstances}`],
    ["Study UID", study.StudyInstanceUID],
  ]);
}

function seriesTable(studyUid, series) {
  const rows = series.map((item) => {
    const imaging = !NON_IMAGE_MODALITIES.has(item.Modality);
    return h("tr", { dataset: { series: item.SeriesInstanceUID } },
      h("td", { class: "number" }, item.SeriesNumber ?? ""),
      h("td", {}, item.Modality || ""),
      h("td", {}, h("a", { href: links.series(studyUid, item.SeriesInstanceUID) },
                    item.SeriesDescription || "(no description)")),
      h("td", {}, item.BodyPartExamined || ""),
      h("td", {}, [item.SeriesDate, time(item.SeriesTime)].filter(Boolean).join(" ")),
      h("td", { class: "number" }, item.NumberOfSeriesRelatedInstances ?? ""),
      h("td", {}, imaging
        ? h("a", { href: links.viewer(studyUid, item.SeriesInstanceUID), class: "button" },
            "View images")
        : ""));
  });
  return h("table", { class: "results", id: "series-table" },
    h("thead", {}, h("tr", {}, ["#", "Modality", "Description", "Body part", "Date",
      "Instances", ""].map((name) => h("th", { scope: "col" }, name)))),
    h("tbody", {}, rows));
}

export async function renderStudy(view, { path, signal }) {
  const studyUid = path[1];
  document.title = "Study — dicom-resolver";
  view.append(h("nav", { class: "crumbs", "aria-label": "Breadcrumb" },
                h("a", { href: links.search() }, "Studies"), " › Study"),
              loading());
  try {
    const [study, series, reports] = await Promise.all([
      getJSON(paths.study(studyUid), {}, { signal }),
      getAll(paths.series(studyUid), { signal }),
      getJSON(paths.reports(studyUid), {}, { signal }),
    ]);
    view.lastChild.remove();
    view.append(
      h("h1", { tabindex: "-1" }, study.StudyDescription || "Study"),
      h("div", { class: "columns" },
        h("section", { "aria-labelledby": "patient-heading" },
          h("h2", { id: "patient-heading" }, "Patient"), patientFacts(study)),
        h("section", { "aria-labelledby": "study-heading" },
          h("h2", { id: "study-heading" }, "Study"), studyFacts(study))),
      h("section", { "aria-labelledby": "series-heading" },
        h("h2", { id: "series-heading" }, "Series"), seriesTable(studyUid, series)),
      h("section", { "aria-labelledby": "reports-heading", id: "reports" },
        h("h2", { id: "reports-heading" }, "Reports"),
        reports.items.length ? reports.items.map(renderReport)
                             : h("p", { class: "empty" }, "No structured report in this study.")));
  } catch (error) {
    if (error.name !== "AbortError") view.lastChild.replaceWith(errorBox(error));
  }
}
