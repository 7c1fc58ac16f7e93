// Renders /v1/openapi.json as a reference: one section per tag, each
// operation with its parameters, body schema and answers. No network
// beyond payforms itself.
"use strict";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
  for (const child of children) node.append(child);
  return node;
}

function resolve(doc, schema) {
  let depth = 0;
  while (schema && schema.$ref && depth < 20) {
    const name = schema.$ref.split("/").pop();
    schema = (doc.components && doc.components.schemas || {})[name];
    depth += 1;
  }
  return schema || {};
}

function typeOf(doc, schema, depth) {
  schema = resolve(doc, schema);
  if (depth > 4) return "…";
  if (schema.oneOf) return schema.oneOf.map((s) => typeOf(doc, s, depth + 1)).join(" | ");
  if (schema.enum) return schema.enum.join(" | ");
  const type = Array.isArray(schema.type) ? schema.type.join(" | ") : schema.type || "object";
  if (type.includes("array") && schema.items) return "array of " + typeOf(doc, schema.items, depth + 1);
  return type;
}

function schemaTable(doc, schema) {
  schema = resolve(doc, schema);
  const props = schema.properties || {};
  const required = new Set(schema.required || []);
  const table = el("table", {}, el("tr", {}, el("th", {}, "field"), el("th", {}, "type"), el("th", {}, "description")));
  for (const [name, prop] of Object.entries(props)) {
    const resolved = resolve(doc, prop);
    table.append(el("tr", {},
      el("td", {}, el("code", {}, name + (required.has(name) ? "" : "?"))),
      el("td", {}, typeOf(doc, prop, 0)),
      el("td", {}, resolved.description || prop.description || "")));
  }
  return table;
}

function operation(doc, path, method, op) {
  const id = method + "-" + path.replace(/[^a-z0-9]+/gi, "-");
  const section = el("section", { class: "op", id });
  section.append(el("h3", {}, el("span", { class: "method " + method }, method), " ", el("code", {}, path)));
  if (op.description || op.summary) section.append(el("p", {}, op.summary || op.description));
  const params = op.parameters || [];
  if (params.length) {
    const table = el("table", {}, el("tr", {}, el("th", {}, "parameter"), el("th", {}, "in"), el("th", {}, "description")));
    for (const p of params) {
      table.append(el("tr", {}, el("td", {}, el("code", {}, p.name)), el("td", {}, p.in), el("td", {}, p.description || "")));
    }
    section.append(el("h4", {}, "Parameters"), table);
  }
  const body = op.requestBody && op.requestBody.content && op.requestBody.content["application/json"];
  if (body) section.append(el("h4", {}, "Body"), schemaTable(doc, body.schema));
  const answers = el("ul");
  for (const [status, response] of Object.entries(op.responses || {})) {
    answers.append(el("li", {}, el("code", {}, status), " ", response.description || ""));
  }
  section.append(el("h4", {}, "Answers"), answers);
  return section;
}

async function render() {
  const main = document.getElementById("reference");
  const toc = document.getElementById("toc");
  let doc;
  try {
    doc = await (await fetch("/v1/openapi.json")).json();
  } catch (error) {
    main.textContent = "The document could not be loaded: " + error;
    return;
  }
  main.textContent = "";
  const list = el("ul");
  const tags = (doc.tags || []).map((t) => t.name);
  for (const tag of tags) {
    const described = (doc.tags || []).find((t) => t.name === tag);
    main.append(el("h2", { id: "tag-" + tag }, tag), el("p", {}, described.description || ""));
    for (const [path, item] of Object.entries(doc.paths || {})) {
      for (const [method, op] of Object.entries(item)) {
        if (!(op.tags || []).includes(tag)) continue;
        const section = operation(doc, path, method, op);
        main.append(section);
        list.append(el("li", {}, el("a", { href: "#" + section.id }, method.toUpperCase() + " " + path)));
      }
    }
  }
  toc.append(list);
}

render();
