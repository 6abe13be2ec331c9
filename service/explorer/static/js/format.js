// Display forms of normalized attribute values (the API already turned DA into YYYY-MM-DD,
// TM into HH:MM:SS, PN into its DICOM string form).

export function personName(value) {
  if (!value) return "";
  const alphabetic = String(value).split("=")[0];
  const [family = "", given = "", middle = "", prefix = "", suffix = ""] = alphabetic.split("^");
  return [prefix, given, middle, family, suffix].filter(Boolean).join(" ") || alphabetic;
}

export function list(value) {
  if (value === null || value === undefined) return "";
  return Array.isArray(value) ? value.join(", ") : String(value);
}

export function time(value) {
  return value ? String(value).split(".")[0] : "";
}

export function millimetres(value, digits = 2) {
  return typeof value === "number" && Number.isFinite(value) ? `${value.toFixed(digits)} mm` : "";
}

export function vector(values, digits = 2) {
  return Array.isArray(values) ? values.map((v) => Number(v).toFixed(digits)).join(", ") : "";
}

// "(0010,0010)" from "00100010".
export function tagLabel(key) {
  return `(${key.slice(0, 4)},${key.slice(4)})`.toUpperCase();
}
