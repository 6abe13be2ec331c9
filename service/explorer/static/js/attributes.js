// DICOM JSON (PS3.18 F.2) of one instance → flat rows for the attribute table: tag, keyword,
// name, VR, value, with sequence items as child rows and private tags with their creator.

import { tagLabel } from "./format.js";

let dictionaryPromise = null;

// The public data dictionary served beside the page: {"GGGGEEEE": [keyword, name, vr, vm, retired]}.
export function loadDictionary() {
  if (!dictionaryPromise) {
    dictionaryPromise = fetch("/explorer/dictionary.json").then((response) => {
      if (!response.ok) throw new Error(`dictionary: HTTP ${response.status}`);
      return response.json();
    }).catch((error) => {
      dictionaryPromise = null;
      throw error;
    });
  }
  return dictionaryPromise;
}

export const GROUP_FILTERS = {
  all: { label: "All", test: () => true },
  patient: { label: "Patient (0010)", test: (row) => row.group === 0x0010 },
  study: { label: "Study/series (0008, 0020)",
           test: (row) => row.group === 0x0008 || row.group === 0x0020 },
  image: { label: "Image (0028)", test: (row) => row.group === 0x0028 },
  private: { label: "Vendor private", test: (row) => row.private },
};

function lookup(dictionary, key) {
  return dictionary[key] || dictionary[`${key.slice(0, 2)}XX${key.slice(4)}`]
    || dictionary[`${key.slice(0, 2)}xx${key.slice(4)}`] || null;
}

function isPrivateGroup(group) {
  return (group & 1) === 1;
}

function isCreatorElement(group, element) {
  return isPrivateGroup(group) && element >= 0x10 && element <= 0xff;
}

// Private creators of one dataset: creator element key "GGGG00BB" → its LO value.
function privateCreators(dataset) {
  const creators = {};
  for (const [key, attribute] of Object.entries(dataset)) {
    const group = parseInt(key.slice(0, 4), 16);
    const element = parseInt(key.slice(4), 16);
    if (isCreatorElement(group, element) && attribute.Value) {
      creators[key] = String(attribute.Value[0]).trim();
    }
  }
  return creators;
}

function personNameText(value) {
  if (!value || typeof value !== "object") return String(value ?? "");
  return ["Alphabetic", "Ideographic", "Phonetic"].filter((k) => value[k])
    .map((k) => value[k]).join("=");
}

export function displayValue(attribute) {
  if (attribute.BulkDataURI) {
    // The tail names the element; the full URI (long, Google's) stays searchable in the row.
    const tail = attribute.BulkDataURI.split("/").slice(-2).join("/");
    return `BulkDataURI …/${tail}`;
  }
  if (attribute.InlineBinary !== undefined) {
    const bytes = Math.floor((attribute.InlineBinary.replace(/=+$/, "").length * 3) / 4);
    return `(inline binary, ${bytes} bytes)`;
  }
  const values = attribute.Value;
  if (!values || !values.length) return "";
  if (attribute.vr === "SQ") return values.length === 1 ? "1 item" : `${values.length} items`;
  if (attribute.vr === "PN") return values.map(personNameText).join("\\");
  if (attribute.vr === "AT") return values.map((v) => tagLabel(String(v))).join("\\");
  return values.map((v) => (v === null ? "" : String(v))).join("\\");
}

// Names of private tags from the normalized view: its `private` list of {tag, creator, name}.
function privateNames(normalized) {
  const names = {};
  for (const entry of (normalized && normalized.private) || []) names[entry.tag] = entry;
  return names;
}

/**
 * Flatten a dataset into rows, depth-first. Each row: id, parent (row id or null), top
 * (id of its top-level attribute), depth, key, tag, keyword, name, vr, value, group,
 * private, creator, items (number of sequence items) and itemIndex for item header rows.
 * `normalized` is the same dataset in the normalized view, the source of private names.
 */
export function attributeRows(dataset, normalized, dictionary) {
  const rows = [];
  const walk = (data, norm, depth, parent, top) => {
    const creators = privateCreators(data);
    const named = privateNames(norm);
    for (const key of Object.keys(data).sort()) {
      const attribute = data[key];
      const group = parseInt(key.slice(0, 4), 16);
      const element = parseInt(key.slice(4), 16);
      const isPrivate = isPrivateGroup(group);
      const entry = isPrivate ? null : lookup(dictionary, key);
      const known = named[key];
      let name = entry ? entry[1] : "";
      let creator = "";
      if (isPrivate && isCreatorElement(group, element)) name = "Private Creator";
      else if (isPrivate) {
        const block = `${key.slice(0, 4)}00${key.slice(4, 6)}`;
        creator = creators[block] || (known && known.creator) || "";
        name = (known && known.name) || "";
      }
      const row = {
        id: rows.length, parent, top: top ?? rows.length, depth, key, tag: tagLabel(key),
        keyword: entry ? entry[0] : "", name, vr: attribute.vr || (entry ? entry[2] : ""),
        value: displayValue(attribute), group, private: isPrivate, creator, items: 0,
      };
      rows.push(row);
      if (attribute.vr === "SQ" && Array.isArray(attribute.Value)) {
        row.items = attribute.Value.length;
        const normItems = isPrivate ? known && known.value : norm && norm[row.keyword];
        attribute.Value.forEach((item, index) => {
          const header = { ...row, id: rows.length, parent: row.id, depth: depth + 1,
                           itemIndex: index + 1, keyword: "", name: `Item ${index + 1}`, vr: "",
                           value: "", items: 0, tag: "" };
          rows.push(header);
          const normItem = Array.isArray(normItems) ? normItems[index] : null;
          walk(item || {}, normItem, depth + 2, header.id, row.top);
        });
      }
    }
  };
  walk(dataset, normalized, 0, null, null);
  return rows;
}

export function rowText(row) {
  return [row.tag, row.key, row.keyword, row.name, row.vr, row.value, row.creator]
    .join(" ").toLowerCase();
}
