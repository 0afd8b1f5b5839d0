// Preloaded with `node --require` (plain JS: it runs before tsx is registered). Records every
// file the process reads through fs or loads as a module, and writes the list to
// $HAFORGE_READS_OUT at exit. Used by workflow-paths.test.ts.
const fs = require("node:fs");
const path = require("node:path");
const seen = new Set();
const note = (p) => {
  if (typeof p === "string") seen.add(path.resolve(p));
  else if (p instanceof URL) seen.add(p.pathname);
};
for (const name of ["readFileSync", "openSync", "readFile", "open", "existsSync", "statSync", "readdirSync"]) {
  const orig = fs[name];
  fs[name] = function (p, ...rest) {
    note(p);
    return orig.call(this, p, ...rest);
  };
}
const origPromisesReadFile = fs.promises.readFile;
fs.promises.readFile = function (p, ...rest) {
  note(p);
  return origPromisesReadFile.call(this, p, ...rest);
};
process.on("exit", () => {
  for (const k of Object.keys(require.cache)) seen.add(k);
  if (process.env.HAFORGE_READS_OUT) fs.writeFileSync(process.env.HAFORGE_READS_OUT, JSON.stringify([...seen].sort()));
});
