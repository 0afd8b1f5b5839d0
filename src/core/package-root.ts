/**
 * haforge's package directory: the nearest directory above this module that holds a
 * `package.json`. The same directory whether haforge runs from its sources (`src/core/`), from
 * the compiled program (`dist/program/src/core/`, scripts/build.js) or from the CLI bundle
 * (`dist/cli/`), so files shipped beside the code (templates/) are found from here rather than
 * from a path relative to one module's `__dirname`, which differs between those layouts.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";

export function packageRootOf(dir: string): string {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, "package.json"))) return d;
    if (dirname(d) === d) throw new Error(`haforge: no package.json above ${dir}`);
  }
}

export const PACKAGE_ROOT: string = packageRootOf(__dirname);
