/**
 * Every program haforge's rendered commands run on a host comes with that host's declared
 * packages (src/plan/packages.ts), their dependencies, or the minimal base every Debian host has
 * (Priority: required, plus openssh-server, which haforge connects through). A health gate that
 * calls a tool nobody installed fails forever on a minimal host (a roll that never passes its
 * first gate), so "the service declares the packages it needs" includes the tools of its gates,
 * restarts, validations and actions, not only its daemon.
 *
 * The verdict is this Debian machine's own: each command word is found with a real shell parser
 * (mvdan/sh: calls only, not here-documents, strings or comments), resolved on PATH and asked to
 * dpkg (`dpkg -S`); the allowed set is the declared packages' Depends closure as dpkg records it
 * here. A program that is not installed here (an operator's own software, haforge's own scripts
 * the render writes) is listed, not checked.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { analyzeInventoryFile } from "../../src/pipeline/analyze";
import { planCluster } from "../../src/pipeline/plan";
import { renderDesiredState } from "../../src/pipeline/render";
import { Inventory } from "../../src/inventory/schema";
import { hostPackageNeeds } from "../../src/plan/packages";
import { exampleInventories, fakeSecrets, goldenMaterials, hasGoldenMaterials, inventoryPath } from "../golden/examples";

const sh = require("mvdan-sh") as { syntax: ShSyntax };
interface ShWord {
  Parts: unknown[];
}
interface ShSyntax {
  NewParser(): { Parse(src: string, name: string): unknown };
  Walk(node: unknown, f: (n: unknown) => boolean): void;
  NodeType(n: unknown): string;
}
const syntax = sh.syntax;

/** Commands that run the next argument as the program (their own options and numbers skipped). */
const WRAPPERS = new Set(["timeout", "nohup", "setsid", "env", "nice", "ionice", "stdbuf", "exec", "command"]);
/** Shells whose `-c STRING` is parsed as a script itself. */
const SHELLS = new Set(["sh", "bash", "/bin/sh", "/bin/bash", "/usr/bin/sh", "/usr/bin/bash"]);
const BUILTINS = new Set([
  ...". : [ alias bg break cd continue echo eval exit export false fg getopts hash jobs kill local printf pwd read readonly return set shift test times trap true type ulimit umask unalias unset wait".split(
    " ",
  ),
]);

/** A word's value when it is literal (plain, single- or double-quoted text without expansions). */
function wordValue(w: ShWord): string | undefined {
  let out = "";
  for (const part of w.Parts) {
    const t = syntax.NodeType(part);
    if (t === "Lit") out += (part as { Value: string }).Value;
    else if (t === "SglQuoted") out += (part as { Value: string }).Value;
    else if (t === "DblQuoted") {
      for (const q of (part as { Parts: unknown[] }).Parts) {
        if (syntax.NodeType(q) !== "Lit") return undefined;
        out += (q as { Value: string }).Value;
      }
    } else return undefined;
  }
  return out;
}

const parsed = new Map<string, { programs: Set<string>; parseError?: string }>();
/** The programs a shell script calls: each call's first literal word, through wrappers and `sh -c`. */
export function calledPrograms(script: string): { programs: Set<string>; parseError?: string } {
  let r = parsed.get(script);
  if (!r) parsed.set(script, (r = parseCalls(script)));
  return r;
}

function parseCalls(script: string): { programs: Set<string>; parseError?: string } {
  const programs = new Set<string>();
  const visit = (src: string): string | undefined => {
    let file: unknown;
    try {
      file = syntax.NewParser().Parse(src, "cmd");
    } catch (e) {
      return String((e as { message?: string }).message ?? e);
    }
    const functions = new Set<string>();
    syntax.Walk(file, (n) => {
      if (syntax.NodeType(n) === "FuncDecl") functions.add((n as { Name: { Value: string } }).Name.Value);
      return true;
    });
    let error: string | undefined;
    syntax.Walk(file, (n) => {
      if (syntax.NodeType(n) !== "CallExpr") return true;
      const args = (n as { Args: ShWord[] }).Args.map(wordValue);
      let i = 0;
      while (i < args.length && args[i] !== undefined && WRAPPERS.has(args[i]!)) {
        i++;
        while (i < args.length && /^(-.*|[0-9.]+[smhd]?|[A-Za-z_][A-Za-z0-9_]*=.*)$/.test(args[i] ?? "")) i++;
      }
      const prog = args[i];
      if (!prog) return true; // a dynamic word ($x, "$(...)"): nothing to check statically
      if (SHELLS.has(prog)) {
        const c = args.indexOf("-c", i + 1);
        const inner = c > 0 ? args[c + 1] : undefined;
        if (inner !== undefined) error ??= visit(inner);
      }
      if (!BUILTINS.has(prog) && !functions.has(prog)) programs.add(prog);
      return true;
    });
    return error;
  };
  const parseError = visit(script);
  return parseError ? { programs, parseError } : { programs };
}

const PATH_DIRS = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

function resolveProgram(prog: string): string | undefined {
  if (prog.startsWith("/")) return existsSync(prog) ? prog : undefined;
  for (const d of PATH_DIRS) if (existsSync(join(d, prog))) return join(d, prog);
  return undefined;
}

/**
 * dpkg's own record of which package owns which path (/var/lib/dpkg/info/<package>.list), read
 * once: the same answer as `dpkg -S`, without a process per path. Paths are indexed with and
 * without the /usr prefix (Debian 12 is usr-merged: /bin is /usr/bin).
 */
const ownerIndex = (() => {
  const dir = "/var/lib/dpkg/info";
  const index = new Map<string, string>();
  for (const f of readdirSync(dir).filter((x) => x.endsWith(".list"))) {
    const pkg = f.slice(0, -".list".length).split(":")[0]!;
    for (const line of readFileSync(join(dir, f), "utf8").split("\n")) {
      if (!line) continue;
      if (!index.has(line)) index.set(line, pkg);
      const other = line.startsWith("/usr/") ? line.slice(4) : `/usr${line}`;
      if (!index.has(other)) index.set(other, pkg);
    }
  }
  return index;
})();

/** The Debian package that owns a path on this machine, or undefined. */
function ownerOf(path: string): string | undefined {
  return ownerIndex.get(path) ?? ownerIndex.get(realpathSync(path));
}

/** Installed packages on this machine: priority and Depends/Pre-Depends (names only). */
const installed = (() => {
  const r = spawnSync("dpkg-query", ["-W", "-f", "${Package}\t${Priority}\t${Depends}, ${Pre-Depends}\t${Provides}\n"], {
    encoding: "utf8",
  });
  const pkgs = new Map<string, { priority: string; depends: string[][] }>();
  const providers = new Map<string, string[]>();
  for (const line of r.stdout.split("\n").filter(Boolean)) {
    const [name, priority, deps, provides] = line.split("\t") as [string, string, string, string];
    const pkg = name.split(":")[0]!;
    const alternatives = deps
      .split(",")
      .map((d) => d.trim())
      .filter(Boolean)
      .map((d) => d.split("|").map((a) => a.trim().split(/[\s:(]/)[0]!));
    pkgs.set(pkg, { priority, depends: alternatives });
    for (const p of provides.split(",").map((x) => x.trim().split(/[\s(]/)[0]!))
      if (p) providers.set(p, [...(providers.get(p) ?? []), pkg]);
  }
  return { pkgs, providers };
})();

/** The packages apt would have installed with `names` (Depends + Pre-Depends, the installed alternative). */
function dependsClosure(names: Iterable<string>): Set<string> {
  const out = new Set<string>();
  const todo = [...names];
  while (todo.length) {
    const n = todo.pop()!;
    const real = installed.pkgs.has(n) ? [n] : (installed.providers.get(n) ?? []);
    for (const p of real) {
      if (out.has(p)) continue;
      out.add(p);
      for (const alt of installed.pkgs.get(p)!.depends) {
        const chosen = alt.find((a) => installed.pkgs.has(a) || installed.providers.has(a));
        if (chosen) todo.push(chosen);
      }
    }
  }
  return out;
}

const BASE = dependsClosure([...[...installed.pkgs].filter(([, v]) => v.priority === "required").map(([k]) => k), "openssh-server"]);

/** Every shell text that runs on `host`: restarts, reloads, health gates, validations, actions, and the rendered scripts. */
function hostScripts(state: ReturnType<typeof renderDesiredState>, host: string): { what: string; text: string }[] {
  const out: { what: string; text: string }[] = [];
  const h = state.hosts.find((x) => x.host === host);
  for (const s of h?.services ?? []) {
    out.push({ what: `${s.name} restart`, text: s.restart });
    if (s.reload) out.push({ what: `${s.name} reload`, text: s.reload });
    if (s.health) out.push({ what: `${s.name} health`, text: s.health });
  }
  for (const f of h?.files ?? []) {
    if (f.validate) out.push({ what: `validate ${f.path}`, text: f.validate.split("{file}").join("/tmp/candidate") });
    if (f.encoding !== "base64" && /^#!\s*\/(usr\/)?bin\/(env )?(ba)?sh\b/.test(f.content))
      out.push({ what: `script ${f.path}`, text: f.content });
  }
  for (const a of state.actions.filter((x) => x.host === host)) {
    out.push({ what: `action ${a.id}`, text: a.create });
    if (a.delete) out.push({ what: `action ${a.id} delete`, text: a.delete });
  }
  return out;
}

describe("every program a rendered command runs comes with the host's declared packages", () => {
  for (const name of exampleInventories()) {
    const a = analyzeInventoryFile(inventoryPath(name));
    if (!a.plan || a.plan.target !== "ssh") continue;
    it(name, () => {
      const inv = structuredClone(a.plan!.inventory) as Record<string, unknown>;
      inv["packages"] = { ...(inv["packages"] as object), manage: true };
      const planned = planCluster(Inventory.parse(inv));
      assert.ok(planned.plan, `${name}: plans with packages.manage`);
      const plan = planned.plan;
      const materials = hasGoldenMaterials(name) ? (JSON.parse(readFileSync(goldenMaterials(name), "utf8")) as Record<string, string>) : {};
      const state = renderDesiredState(plan, fakeSecrets(name).values, materials);
      const problems: string[] = [];
      const unchecked = new Set<string>();
      const renderedPaths = new Set(state.hosts.flatMap((h) => h.files.map((f) => f.path)));
      for (const host of plan.hosts.map((h) => h.name)) {
        const declared = hostPackageNeeds(plan, host, "debian").map((n) => n.name);
        // A host whose init is systemd has systemd (systemctl, journalctl); a supervisor host declares supervisor.
        const init = plan.hosts.find((h) => h.name === host)?.init === "systemd" ? ["systemd"] : [];
        const allowed = new Set([...BASE, ...dependsClosure([...declared, ...init])]);
        for (const { what, text } of hostScripts(state, host)) {
          const { programs, parseError } = calledPrograms(text);
          if (parseError) problems.push(`${host}: ${what} is not valid shell: ${parseError}`);
          for (const prog of programs) {
            if (renderedPaths.has(prog)) continue; // a script the render writes
            const path = resolveProgram(prog);
            if (!path) {
              unchecked.add(prog);
              continue;
            }
            const owner = ownerOf(path);
            if (!owner) {
              unchecked.add(prog);
              continue;
            }
            if (!allowed.has(owner)) problems.push(`${what} runs ${prog} (Debian package ${owner}), not declared (${host})`);
          }
        }
      }
      console.log(`${name}: not installed here, not checked: ${[...unchecked].sort().join(" ") || "none"}`);
      assert.deepEqual([...new Set(problems)].slice(0, 400), []);
    });
  }
});
