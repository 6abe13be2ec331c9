// An SR report (GET /v1/studies/{study}/reports item) as readable sections and sentences.

import { h } from "./dom.js";
import { personName } from "./format.js";

function meaning(node) {
  return node.concept && node.concept.code_meaning ? node.concept.code_meaning : "";
}

function valueText(node) {
  const value = node.value;
  if (value === null || value === undefined) return "";
  if (typeof value === "string" || typeof value === "number") {
    return node.value_type === "PNAME" ? personName(value) : String(value);
  }
  if (value.code_meaning) return value.code_meaning;
  if ("value" in value && "unit" in value) {
    const unit = value.unit ? value.unit.code_value || value.unit.code_meaning || "" : "";
    return `${value.value ?? ""} ${unit}`.trim();
  }
  if (value.ReferencedSOPInstanceUID) return `→ ${value.ReferencedSOPInstanceUID}`;
  return JSON.stringify(value);
}

function contentNode(node, depth) {
  if (node.value_type === "CONTAINER") {
    const heading = h(`h${Math.min(6, 4 + depth)}`, {}, meaning(node));
    return h("section", { class: "report-section" }, meaning(node) ? heading : null,
             node.children.map((child) => contentNode(child, depth + 1)));
  }
  const label = meaning(node);
  const text = valueText(node);
  if (node.value_type === "TEXT") {
    return h("div", { class: "report-item" }, label ? h("h5", {}, label) : null,
             h("p", { class: "report-text" }, text),
             node.children.map((child) => contentNode(child, depth + 1)));
  }
  return h("div", { class: "report-item" },
    h("p", {}, label ? h("strong", {}, `${label}: `) : null, text),
    node.children.map((child) => contentNode(child, depth + 1)));
}

export function renderReport(report) {
  const verifying = (report.observer && report.observer.verifying) || [];
  const meta = [
    report.CompletionFlag && `Completion: ${report.CompletionFlag}`,
    report.VerificationFlag && `Verification: ${report.VerificationFlag}`,
    report.ContentDate && `Content date: ${report.ContentDate}`,
    ...verifying.map((observer) => `Verified by ${personName(observer.name)}`
      + (observer.organization ? ` (${observer.organization})` : "")),
  ].filter(Boolean);
  const body = report.content
    ? h("div", { class: "report-body" }, report.content.children.map((c) => contentNode(c, 0)))
    : h("pre", { class: "report-text" }, report.text || "");
  const problems = (report.problems || []).map((problem) =>
    h("li", {}, `${problem.path}: ${problem.detail}`));
  return h("article", { class: "report", dataset: { sop: report.SOPInstanceUID || "" } },
    h("h3", {}, report.title || "Report"),
    h("p", { class: "report-meta" }, meta.join(" · ")),
    body,
    problems.length ? h("ul", { class: "report-problems" }, problems) : null);
}
