// Runs bluegreen/router/router.js outside nginx: a fake `fs` over an in-memory tree and
// fake requests. Reads {"files": {...}, "requests": [{"fn", "variables"}]} on stdin,
// prints the return value of each call (or the status body) as JSON.
"use strict";
const path = require("path");
const source = require("fs").readFileSync(path.join(__dirname, "..", "..", "..", "bluegreen", "router", "router.js"), "utf8");
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const reads = {};
const fakeFs = {
  readFileSync(name) {
    const short = name.split("/").slice(-2).join("/");
    reads[short] = (reads[short] || 0) + 1;
    if (!(name in input.files)) {
      throw new Error("ENOENT " + name);
    }
    return input.files[name];
  },
};
const module_ = { exports: {} };
// njs modules end in `export default {...}`; as CommonJS that is module.exports.
new Function("require", "module", source.replace("export default", "module.exports ="))(
  (name) => (name === "fs" ? fakeFs : require(name)),
  module_,
);
const router = module_.exports;
const out = input.requests.map((req) => {
  const r = { variables: req.variables || {}, headersIn: req.headers || {}, headersOut: {}, status: null, body: null };
  r.return = (status, body) => {
    r.status = status;
    r.body = body;
  };
  const value = router[req.fn](r);
  if (req.fn === "status") {
    return JSON.parse(r.body);
  }
  if (req.withVariables) {
    return { value, variables: r.variables };
  }
  return req.fn === "unavailable" ? { status: r.status, headers: r.headersOut, body: r.body } : value;
});
process.stdout.write(JSON.stringify(out));
process.stderr.write(JSON.stringify({ reads }));
