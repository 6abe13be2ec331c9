// A series: its attributes and its instances, each opening the attribute table.

import { getAll, getJSON, paths } from "./api.js";
import { definitions, errorBox, h, loading } from "./dom.js";
import { list, time, vector } from "./format.js";
import { links } from "./router.js";
import { NON_IMAGE_MODALITIES } from "./study.js";

function instanceTable(studyUid, seriesUid, instances) {
  const rows = instances.map((item) => h("tr", {},
    h("td", { class: "number" }, item.InstanceNumber ?? ""),
    h("td", {}, h("a", { href: links.instance(studyUid, seriesUid, item.SOPInstanceUID),
                         class: "uid" }, item.SOPInstanceUID)),
    h("td", {}, list(item.ImageType)),
    h("td", {}, vector(item.ImagePositionPatient)),
    h("td", {}, item.Rows && item.Columns ? `${item.Columns} × ${item.Rows}` : "")));
  return h("table", { class: "results", id: "instance-table" },
    h("thead", {}, h("tr", {}, ["#", "SOP Instance UID", "Image type", "Position (mm)",
      "Size"].map((name) => h("th", { scope: "col" }, name)))),
    h("tbody", {}, rows));
}

export async function renderSeries(view, { path, signal }) {
  const [, studyUid, , seriesUid] = path;
  document.title = "Series — dicom-resolver";
  view.append(h("nav", { class: "crumbs", "aria-label": "Breadcrumb" },
                h("a", { href: links.search() }, "Studies"), " › ",
                h("a", { href: links.study(studyUid) }, "Study"), " › Series"),
              loading());
  try {
    const [series, instances] = await Promise.all([
      getJSON(paths.oneSeries(studyUid, seriesUid), {}, { signal }),
      getAll(paths.instances(studyUid, seriesUid), { signal }),
    ]);
    view.lastChild.remove();
    const imaging = !NON_IMAGE_MODALITIES.has(series.Modality);
    view.append(
      h("h1", { tabindex: "-1" }, series.SeriesDescription || "Series"),
      imaging ? h("p", {}, h("a", { href: links.viewer(studyUid, seriesUid), class: "button primary" },
                             "View images")) : null,
      definitions([
        ["Modality", series.Modality],
        ["Series number", series.SeriesNumber],
        ["Date", [series.SeriesDate, time(series.SeriesTime)].filter(Boolean).join(" ")],
        ["Body part", series.BodyPartExamined],
        ["Protocol", series.ProtocolName],
        ["Manufacturer", [series.Manufacturer, series.ManufacturerModelName]
          .filter(Boolean).join(" ")],
        ["Institution", series.InstitutionName],
        ["Instances", series.NumberOfSeriesRelatedInstances],
        ["Series UID", series.SeriesInstanceUID],
      ]),
      h("h2", {}, "Instances"),
      instanceTable(studyUid, seriesUid, instances));
  } catch (error) {
    if (error.name !== "AbortError") view.lastChild.replaceWith(errorBox(error));
  }
}
