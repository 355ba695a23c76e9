// t/export/k8s/validate.js FILE... - validates each Kubernetes object
// (one JSON document per file) with kubernetes-models' own schemas:
// prints "ok FILE" or "invalid FILE: why" per file; exits 1 if any is
// invalid.  Run from a directory where `npm ci` installed package.json.
"use strict";
const fs = require("fs");
// the packages npm ci installed in the current directory
const req = (m) => require(require.resolve(m, { paths: [process.cwd()] }));
const kinds = {
  "apps/v1": { Deployment: () => req("kubernetes-models/apps/v1").Deployment },
  "batch/v1": { Job: () => req("kubernetes-models/batch/v1").Job },
  v1: {
    Service: () => req("kubernetes-models/v1").Service,
    ConfigMap: () => req("kubernetes-models/v1").ConfigMap,
  },
};
let bad = 0;
for (const file of process.argv.slice(2)) {
  try {
    const doc = JSON.parse(fs.readFileSync(file, "utf8"));
    const make = (kinds[doc.apiVersion] || {})[doc.kind];
    if (!make) throw new Error(`unknown kind ${doc.apiVersion} ${doc.kind}`);
    const Kind = make();
    new Kind(doc).validate();
    console.log(`ok ${file}`);
  } catch (e) {
    bad = 1;
    console.log(`invalid ${file}: ${String(e.message).split("\n")[0]}`);
  }
}
process.exit(bad);
