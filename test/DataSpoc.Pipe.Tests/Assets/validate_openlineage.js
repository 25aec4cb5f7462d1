// Validates OpenLineage events (one JSON object per line of argv[3]) against the spec's JSON schemas in argv[2]:
// the run event against OpenLineage.json, and every facet against the facet schema that defines its key.
// Prints one line per problem and exits 1 when there is any. ajv comes from NODE_PATH (.ci/.tools/node_modules).
"use strict";
const fs = require("fs");
const path = require("path");
const Ajv2020 = require("ajv/dist/2020");
const addFormats = require("ajv-formats");

const [schemaDir, eventsFile] = process.argv.slice(2);
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
const core = JSON.parse(fs.readFileSync(path.join(schemaDir, "OpenLineage.json"), "utf8"));
ajv.addSchema(core);
const facetSchemas = new Map();
for (const file of fs.readdirSync(path.join(schemaDir, "facets")).filter(f => f.endsWith(".json"))) {
  const schema = JSON.parse(fs.readFileSync(path.join(schemaDir, "facets", file), "utf8"));
  ajv.addSchema(schema);
  for (const key of Object.keys(schema.properties || {})) facetSchemas.set(key, schema.$id);
}
const validateEvent = ajv.getSchema(core.$id);
const problems = [];
const events = fs.readFileSync(eventsFile, "utf8").split("\n").filter(l => l.trim().length > 0).map(l => JSON.parse(l));
const checkFacets = (where, facets) => {
  for (const [key, facet] of Object.entries(facets || {})) {
    const id = facetSchemas.get(key);
    if (!id) { problems.push(`${where}.${key}: no facet schema defines this facet`); continue; }
    const validate = ajv.getSchema(id);
    if (!validate({ [key]: facet })) problems.push(`${where}.${key}: ${ajv.errorsText(validate.errors)}`);
    if (!String(facet._schemaURL || "").startsWith(id)) problems.push(`${where}.${key}: _schemaURL ${facet._schemaURL} is not ${id}`);
  }
};
events.forEach((event, i) => {
  const where = `event ${i} (${event.eventType})`;
  if (!validateEvent(event)) problems.push(`${where}: ${ajv.errorsText(validateEvent.errors)}`);
  checkFacets(`${where} run.facets`, event.run && event.run.facets);
  checkFacets(`${where} job.facets`, event.job && event.job.facets);
  for (const [kind, list] of [["inputs", event.inputs], ["outputs", event.outputs]])
    (list || []).forEach((d, j) => {
      checkFacets(`${where} ${kind}[${j}].facets`, d.facets);
      checkFacets(`${where} ${kind}[${j}].inputFacets`, d.inputFacets);
      checkFacets(`${where} ${kind}[${j}].outputFacets`, d.outputFacets);
    });
});
for (const p of problems) console.log(p);
console.log(`${events.length} event(s), ${problems.length} problem(s)`);
process.exit(problems.length === 0 && events.length > 0 ? 0 : 1);
