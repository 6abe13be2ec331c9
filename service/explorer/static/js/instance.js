// An instance: every attribute as a table, sequences expandable, private tags with their
// creator and known name, quick filters by group and a text filter (kept in the URL).

import { getJSON, paths } from "./api.js";
import { GROUP_FILTERS, attributeRows, loadDictionary, rowText } from "./attributes.js";
import { errorBox, h, loading } from "./dom.js";
import { links, replaceQuery } from "./router.js";

function sequenceAncestors(rows) {
  for (const row of rows) {
    const chain = [];
    for (let up = row.parent; up !== null; up = rows[up].parent) {
      if (rows[up].items > 0) chain.push(up);
    }
    row.sequences = chain;
    row.text = rowText(row);
  }
}

function rowElement(row, onToggle) {
  const tagCell = h("td", { class: "tag" });
  tagCell.style.setProperty("--depth", String(row.depth));
  if (row.items > 0) {
    tagCell.append(h("button", { type: "button", class: "toggle", "aria-expanded": "false",
                                 "aria-label": `Expand ${row.keyword || row.tag}`,
                                 onclick: () => onToggle(row) }, "▸"));
  }
  tagCell.append(row.tag);
  const element = h("tr", {
    class: [row.private ? "private" : "", row.itemIndex ? "item" : "",
             row.items > 0 ? "sequence" : ""].filter(Boolean).join(" ") || null,
    dataset: { key: row.key, depth: String(row.depth), group: row.key.slice(0, 4) },
  },
  tagCell,
  h("td", { class: "keyword" }, row.private && row.creator ? h("span", { class: "creator" },
    row.creator) : row.keyword),
  h("td", { class: "name" }, row.name || (row.private ? "(unknown private)" : "")),
  h("td", { class: "vr" }, row.vr),
  h("td", { class: "value" }, row.value));
  return element;
}

function filterBar(state, apply) {
  const buttons = Object.entries(GROUP_FILTERS).map(([name, filter]) => h("button", {
    type: "button", class: "chip", "aria-pressed": String(state.group === name),
    dataset: { group: name },
    onclick: (event) => {
      state.group = name;
      for (const other of event.target.parentElement.children) {
        other.setAttribute("aria-pressed", String(other === event.target));
      }
      apply();
    },
  }, filter.label));
  const text = h("input", { type: "search", id: "attribute-filter", value: state.text,
                            placeholder: "Filter: tag, keyword, name or value",
                            "aria-label": "Filter attributes", autocomplete: "off" });
  text.addEventListener("input", () => {
    state.text = text.value;
    apply();
  });
  return h("div", { class: "filters" },
    h("div", { class: "chips", role: "group", "aria-label": "Attribute groups" }, buttons), text);
}

function attributeTable(rows, query) {
  const state = { group: GROUP_FILTERS[query.get("group")] ? query.get("group") : "all",
                  text: query.get("filter") || "", open: new Set() };
  const status = h("p", { id: "attribute-count", role: "status" });
  let apply = () => {};
  const toggle = (row) => {
    if (state.open.has(row.id)) state.open.delete(row.id);
    else state.open.add(row.id);
    apply();
  };
  const elements = rows.map((row) => rowElement(row, toggle));
  apply = () => {
    const needle = state.text.trim().toLowerCase();
    const test = GROUP_FILTERS[state.group].test;
    const matchedTops = new Set();
    const forced = new Set();
    for (const row of rows) {
      if (needle && row.text.includes(needle)) {
        matchedTops.add(row.top);
        for (const up of row.sequences) forced.add(up);
      }
    }
    let shown = 0;
    rows.forEach((row, index) => {
      const visible = test(rows[row.top]) && (!needle || matchedTops.has(row.top))
        && row.sequences.every((up) => state.open.has(up) || forced.has(up));
      elements[index].hidden = !visible;
      if (row.items > 0) {
        elements[index].querySelector(".toggle").setAttribute(
          "aria-expanded", String(state.open.has(row.id) || forced.has(row.id)));
      }
      if (visible && row.depth === 0) shown += 1;
    });
    const total = rows.filter((row) => row.depth === 0).length;
    status.textContent = `${shown} of ${total} attributes`;
    replaceQuery({ group: state.group === "all" ? "" : state.group, filter: state.text });
  };
  const table = h("table", { class: "attributes", id: "attribute-table" },
    h("thead", {}, h("tr", {}, ["Tag", "Keyword / creator", "Name", "VR", "Value"].map(
      (name) => h("th", { scope: "col" }, name)))),
    h("tbody", {}, elements));
  const container = h("div", {}, filterBar(state, () => apply()), status, table);
  apply();
  return container;
}

export async function renderInstance(view, { path, query, signal }) {
  const [, studyUid, , seriesUid, , sopUid] = path;
  document.title = "Instance — dicom-resolver";
  view.append(h("nav", { class: "crumbs", "aria-label": "Breadcrumb" },
                h("a", { href: links.search() }, "Studies"), " › ",
                h("a", { href: links.study(studyUid) }, "Study"), " › ",
                h("a", { href: links.series(studyUid, seriesUid) }, "Series"), " › Instance"),
              loading());
  try {
    const url = paths.instance(studyUid, seriesUid, sopUid);
    const [dicom, normalized, dictionary] = await Promise.all([
      getJSON(url, { view: "dicom" }, { signal }),
      getJSON(url, {}, { signal }),
      loadDictionary(),
    ]);
    const rows = attributeRows(dicom, normalized, dictionary);
    sequenceAncestors(rows);
    view.lastChild.remove();
    view.append(
      h("h1", { tabindex: "-1" }, `Instance ${normalized.InstanceNumber ?? ""}`.trim()),
      h("p", {}, h("span", { class: "uid" }, sopUid), " ",
        normalized.PixelData ? h("a", { href: links.viewer(studyUid, seriesUid, { sop: sopUid }),
                                        class: "button" }, "View image") : null),
      attributeTable(rows, query));
  } catch (error) {
    if (error.name !== "AbortError") view.lastChild.replaceWith(errorBox(error));
  }
}
