/**
 * The injection fuzzer's real-daemon half (issue 13; the in-process half is
 * tests/unit/escape-fuzz.test.ts, the parts tests/helpers/fuzz.ts). Every example inventory is
 * fuzzed at the sites that accept text (free text, literal secrets, paths of the operator's
 * machine, INI variable values: found by a probe payload), with a seeded selection of the payloads
 * per site. Every render a payload got through is judged by the daemons that read what it changed,
 * against the un-fuzzed render's file on the same host:
 *
 * - haproxy.cfg: `haproxy -c`; keepalived.conf: `keepalived -t`; cib.xml: `crm_verify --xml-file`;
 *   rabbitmq.conf: RabbitMQ's Cuttlefish (with its definitions file); Tower's Python settings:
 *   Python's parser (the statement structure, constants ignored); systemd units and drop-ins under
 *   /etc/systemd/system: `systemd-analyze verify` over the packaged unit (or a stand-in) — no
 *   complaint; the un-fuzzed file of each is checked too (the control of the comparison);
 * - corosync.conf: `corosync -t -c` in a fresh network namespace per verdict whose veth holds the
 *   node's own ring addresses (corosync looks itself up in the nodelist), lo up, the keyfile
 *   pointed at a scratch authkey;
 * - the verdict must be the un-fuzzed file's (accepted) and the parsed structure the same
 *   (tests/helpers/fuzz.ts fileSkeleton; Python's AST).
 *
 * Negative controls: the same daemons accept raw injections (a rogue `server`, a rogue
 * `vrrp_script`, a rogue corosync node with 5 votes, an `ExecStartPre=` in a drop-in): the
 * structure comparison is what catches them, and is shown to. Counts are printed. Needs the daemons' packages (.ci/run). Run:
 * node --import tsx --test --test-concurrency=1 tests/system/escape-fuzz.test.ts
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { DesiredState, FileSpec } from "../../src/core/desired-state";
import { RABBITMQ_CONF_VALIDATE } from "../../src/services/rabbitmq/conf-check";
import { exampleInventories } from "../golden/examples";
import {
  Sandbox,
  carelessVariants,
  fileSkeleton,
  loadExample,
  payloads,
  renderDoc,
  renderVariant,
  siteName,
  type Example,
  type Payload,
} from "../helpers/fuzz";

const WORK = mkdtempSync(join(tmpdir(), "haforge-fuzz-sys-"));
after(() => rmSync(WORK, { recursive: true, force: true }));
const sb = new Sandbox(join(WORK, "sandbox"));
const PAYLOADS = payloads(sb.mark);
/** Payloads tried per accepting site (a seeded rotation through the list). */
const PER_SITE = Number(process.env["HAFORGE_FUZZ_PER_SITE"] ?? 4);
/** Distinct contents of one file of one example judged by its daemon. */
const PER_FILE = Number(process.env["HAFORGE_FUZZ_PER_FILE"] ?? 4);

/** Careless-value variants per example (every list variant, then a stride through the others). */
const CARELESS_MAX = Number(process.env["HAFORGE_FUZZ_CARELESS"] ?? 60);
/** Changed contents of one file of one host judged per example. */
const CARELESS_PER_FILE = Number(process.env["HAFORGE_FUZZ_CARELESS_PER_FILE"] ?? 3);
const careless = { renders: 0, accepted: 0, refused: 0, judged: 0 };

interface Verdict {
  readonly ok: boolean;
  readonly structure: string;
  readonly out: string;
}

let seq = 0;
const scratch = (name: string, content: string): string => {
  const dir = join(WORK, `f${seq++}`);
  mkdirSync(dir, { recursive: true });
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
};
const run = (cmd: string, timeout = 60_000) => {
  const r = spawnSync("/bin/sh", ["-c", cmd], { encoding: "utf8", timeout });
  return { rc: r.status, out: `${r.stdout ?? ""}${r.stderr ?? ""}` };
};
const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

const PY_STRUCTURE = `import ast,sys
t=ast.parse(open(sys.argv[1]).read(), sys.argv[1])
for n in ast.walk(t):
    if isinstance(n, ast.Constant): n.value = type(n.value).__name__
print(ast.dump(t))`;

interface Check {
  readonly kind: string;
  readonly match: (f: FileSpec) => boolean;
  readonly verdict: (f: FileSpec, host: string, state: DesiredState) => Verdict;
}

const CHECKS: readonly Check[] = [
  {
    kind: "haproxy -c",
    match: (f) => f.validate?.includes("haproxy -c") === true,
    verdict: (f) => {
      const r = run(`haproxy -c -f ${q(scratch("haproxy.cfg", f.content))}`);
      return { ok: r.rc === 0, structure: fileSkeleton(f), out: r.out };
    },
  },
  {
    kind: "keepalived -t",
    match: (f) => f.validate?.includes("keepalived -t") === true,
    verdict: (f) => {
      const p = scratch("keepalived.conf", f.content);
      const r = run(`test -s ${q(p)} && keepalived -t -f ${q(p)}`);
      return { ok: r.rc === 0, structure: fileSkeleton(f), out: r.out };
    },
  },
  {
    kind: "corosync -t",
    match: (f) => f.validate?.includes("corosync -t") === true,
    verdict: (f, host) => {
      // corosync -t needs the node's own ring addresses on an interface (it looks itself up in the
      // nodelist) and, with crypto on, a readable authkey: a fresh network namespace per verdict,
      // holding this host's ringN_addr on a veth, lo up; the keyfile pointed at a scratch key.
      const key = scratch("authkey", "");
      writeFileSync(key, randomBytes(256));
      const conf = scratch("corosync.conf", f.content.replace(/^(\s*keyfile:).*$/m, `$1 ${key}`));
      const ns = `hf-fz-${process.pid}-${seq++}`;
      const addrs = ringAddrs(f.content, host);
      const setup = [
        `ip netns add ${ns}`,
        `ip -n ${ns} link add hf0 type veth peer name hf1`,
        ...addrs.map((a) => `ip -n ${ns} addr add ${q(a.includes(":") ? `${a}/64` : `${a}/24`)}${a.includes(":") ? " nodad" : ""} dev hf0`),
        `ip -n ${ns} link set hf0 up`,
        `ip -n ${ns} link set lo up`,
      ].join(" && ");
      try {
        const up = run(setup);
        assert.equal(up.rc, 0, `netns for corosync -t: ${up.out}`);
        const r = run(`ip netns exec ${ns} corosync -t -c ${q(conf)}`);
        return { ok: r.rc === 0, structure: fileSkeleton(f), out: `${host} ring addresses ${addrs.join(", ")}\n${r.out}` };
      } finally {
        run(`ip netns del ${ns}`);
      }
    },
  },
  {
    kind: "crm_verify",
    match: (f) => f.validate?.includes("crm_verify") === true,
    verdict: (f) => {
      const r = run(`crm_verify --xml-file ${q(scratch("cib.xml", f.content))}`);
      return { ok: r.rc === 0, structure: fileSkeleton(f), out: r.out };
    },
  },
  {
    kind: "rabbitmq cuttlefish",
    match: (f) => f.validate === RABBITMQ_CONF_VALIDATE,
    verdict: (f, host, state) => {
      const defs = state.hosts.find((h) => h.host === host)?.files.find((x) => x.path === "/etc/rabbitmq/definitions.json");
      const p = scratch("rabbitmq.conf", "");
      const dp = join(p, "..", "definitions.json");
      writeFileSync(dp, defs?.content ?? "{}");
      writeFileSync(p, f.content.replaceAll("/etc/rabbitmq/definitions.json", dp));
      const r = run(RABBITMQ_CONF_VALIDATE.replaceAll("{file}", q(p)), 120_000);
      return { ok: r.rc === 0, structure: fileSkeleton(f), out: r.out };
    },
  },
  {
    kind: "python ast",
    match: (f) => f.validate?.includes("ast.parse") === true,
    verdict: (f) => {
      const r = run(`python3 -c ${q(PY_STRUCTURE)} ${q(scratch("settings.py", f.content))}`);
      return { ok: r.rc === 0, structure: r.rc === 0 ? r.out : "", out: r.out };
    },
  },
  {
    kind: "systemd-analyze verify",
    match: (f) => /^\/etc\/systemd\/system\/[^/]+\.service(\.d\/[^/]+\.conf)?$/.test(f.path),
    verdict: (f) => {
      const unit = f.path.split("/")[4]!.replace(/\.d$/, "");
      const dir = join(WORK, `u${seq++}`);
      mkdirSync(dir, { recursive: true });
      const packaged = [`/lib/systemd/system/${unit}`, `/usr/lib/systemd/system/${unit}`].find((x) => existsSync(x));
      if (f.path.endsWith(".conf")) {
        if (packaged) copyFileSync(packaged, join(dir, unit));
        else writeFileSync(join(dir, unit), "[Service]\nExecStart=/bin/true\n");
        mkdirSync(join(dir, `${unit}.d`));
        writeFileSync(join(dir, `${unit}.d`, f.path.split("/").pop()!), f.content);
      } else writeFileSync(join(dir, unit), f.content);
      const r = run(`cd ${q(dir)} && systemd-analyze verify --man=no ${q(join(dir, unit))}`);
      // Any complaint but a binary this machine lacks (stolon, consul, dr-provision: not in Debian).
      const complaints = r.out.split("\n").filter((l) => l.trim() && !/Command \S+ is not executable: No such file or directory/.test(l));
      return { ok: complaints.length === 0, structure: fileSkeleton(f), out: r.out };
    },
  },
];

/**
 * The ring addresses of `host`'s node block in a corosync.conf (a simple reader of the nodelist:
 * `node { ... name: HOST ... }`), so its namespace can own them as the node does.
 */
function ringAddrs(conf: string, host: string): string[] {
  for (const block of conf.split(/^\s*node\s*\{/m).slice(1)) {
    const body = block.slice(0, block.indexOf("}"));
    if (new RegExp(`^\\s*name:\\s*${host.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\s*$`, "m").test(body))
      return [...body.matchAll(/^\s*ring\d+_addr:\s*(\S+)\s*$/gm)].map((m) => m[1]!);
  }
  return [];
}

const verdicts = new Map<string, Verdict>();
/** A check's verdict, once per file path and content. */
function judge(check: Check, f: FileSpec, host: string, state: DesiredState): Verdict {
  const key = `${check.kind}\u0000${f.path}\u0000${hash(f.content)}`;
  let v = verdicts.get(key);
  if (!v) {
    v = check.verdict(f, host, state);
    verdicts.set(key, v);
    counts.judged.set(check.kind, (counts.judged.get(check.kind) ?? 0) + 1);
  }
  return v;
}

const counts = { renders: 0, refused: 0, accepted: 0, judged: new Map<string, number>(), distinctFiles: 0 };
const hash = (s: string) => createHash("sha256").update(s).digest("hex");

describe("the real daemons judge what fuzzed payloads reached", () => {
  const missing = ["haproxy", "keepalived", "crm_verify", "corosync", "ip", "erl", "python3", "systemd-analyze"].filter(
    (t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0,
  );
  it("the daemons' tools are installed (.ci/run installs them)", () => assert.deepEqual(missing, []));

  for (const [n, name] of exampleInventories().entries()) {
    it(`${name}: every accepted payload leaves each daemon's verdict and parsed structure as without it`, () => {
      const ex: Example = loadExample(name);
      const base = renderVariant(ex, undefined, undefined).state;
      assert.ok(base, `${name} renders`);
      // The un-fuzzed files: each daemon accepts them here (the control of the comparison).
      const baseVerdicts = new Map<string, Verdict>();
      const baseFile = new Map<string, FileSpec>();
      base.hosts.forEach((h, i) =>
        h.files.forEach((f) => {
          baseFile.set(`${i}\u0000${f.path}`, f);
          const check = CHECKS.find((c) => c.match(f));
          if (!check || f.encoding === "base64") return;
          const v = judge(check, f, h.host, base);
          baseVerdicts.set(`${i}\u0000${f.path}`, v);
          assert.ok(v.ok, `${name}: ${h.host}:${f.path}: ${check.kind} refuses the un-fuzzed file\n${v.out}`);
        }),
      );
      const probe: Payload = { text: `a' "b;c`, ini: true };
      const perFile = new Map<string, number>();
      const seen = new Set<string>();
      ex.sites.forEach((site, si) => {
        counts.renders++;
        if (!renderVariant(ex, site, probe).state) return; // a strict kind: the unit fuzzer covers it
        const list = PAYLOADS.filter((p) => site.kind === "doc" || (p.ini && !(p.replace && site.what.startsWith("group"))));
        for (let k = 0; k < Math.min(PER_SITE, list.length); k++) {
          const payload = list[(si * 5 + n * 3 + k * 7) % list.length]!;
          const ctx = `${name}: ${siteName(site)} ${payload.replace ? "=" : "+"} ${JSON.stringify(payload.text.slice(0, 60))}`;
          counts.renders++;
          const state = renderVariant(ex, site, payload).state;
          if (!state) {
            counts.refused++;
            continue;
          }
          counts.accepted++;
          state.hosts.forEach((h, i) =>
            h.files.forEach((f) => {
              const key = `${i}\u0000${f.path}`;
              const was = baseFile.get(key);
              const bv = baseVerdicts.get(key);
              if (!bv || !was || was.content === f.content || seen.has(hash(key + f.content))) return;
              seen.add(hash(key + f.content));
              const budget = `${f.path}`;
              if ((perFile.get(budget) ?? 0) >= PER_FILE) return;
              perFile.set(budget, (perFile.get(budget) ?? 0) + 1);
              const check = CHECKS.find((c) => c.match(f))!;
              const v = judge(check, f, h.host, state);
              counts.distinctFiles++;
              assert.ok(v.ok, `${ctx}: ${h.host}:${f.path}: ${check.kind} refuses it\n${v.out}`);
              assert.equal(v.structure, bv.structure, `${ctx}: ${h.host}:${f.path}: the parsed structure changed`);
            }),
          );
        }
      });
    });
  }

  // Careless values of the right type (issue 13, "careless input"): whatever passes validate
  // must render configs its daemons accept. The structure may change (one member less is fewer
  // lines); the verdict may not.
  for (const name of exampleInventories()) {
    it(`${name}: careless values (lists of one, flipped flags, numbers at 0/1/-1/large) that pass validate render configs the daemons accept`, () => {
      const ex: Example = loadExample(name);
      const base = renderVariant(ex, undefined, undefined).state;
      assert.ok(base, `${name} renders`);
      const baseContent = new Map<string, string>();
      for (const h of base.hosts) for (const f of h.files) baseContent.set(`${h.host}\u0000${f.path}`, f.content);
      const all = carelessVariants(ex.doc);
      const lists = all.filter((v) => / cut to | = \[\]$/.test(v.what));
      const rest = all.filter((v) => !lists.includes(v));
      const stride = Math.max(1, Math.ceil(rest.length / Math.max(1, CARELESS_MAX - lists.length)));
      const chosen = [...lists, ...rest.filter((_, i) => i % stride === 0)];
      const perFile = new Map<string, number>();
      const failures: string[] = [];
      for (const v of chosen) {
        careless.renders++;
        const state = renderDoc(ex, v.doc).state;
        if (!state) {
          careless.refused++;
          continue;
        }
        careless.accepted++;
        for (const h of state.hosts)
          for (const f of h.files) {
            const check = CHECKS.find((c) => c.match(f));
            if (!check || f.encoding === "base64" || baseContent.get(`${h.host}\u0000${f.path}`) === f.content) continue;
            const budget = `${h.host}\u0000${f.path}`;
            if ((perFile.get(budget) ?? 0) >= CARELESS_PER_FILE) continue;
            perFile.set(budget, (perFile.get(budget) ?? 0) + 1);
            careless.judged++;
            const verdict = judge(check, f, h.host, state);
            if (!verdict.ok)
              failures.push(`${name}: ${v.what}: ${h.host}:${f.path}: ${check.kind} refuses it\n${verdict.out.trim().slice(0, 600)}`);
          }
      }
      assert.deepEqual(failures, [], failures.join("\n\n"));
    });
  }

  it("negative controls: the daemons accept raw injections, the structure comparison catches them", () => {
    const lab = renderVariant(loadExample("lab.yaml"), undefined, undefined).state!;
    const find = (path: string) => {
      for (const h of lab.hosts) for (const f of h.files) if (f.path.endsWith(path)) return { f, host: h.host };
      assert.fail(`lab.yaml renders no ${path}`);
    };
    const controls: [string, string, (c: string) => string][] = [
      ["/haproxy.cfg", "haproxy -c", (c) => c.replace(/^(\s*server .*)$/m, "$1\n    server rogue 10.66.66.66:80 check")],
      ["/keepalived.conf", "keepalived -t", (c) => `${c}\nvrrp_script rogue {\n  script "/usr/bin/touch ${sb.mark}"\n}\n`],
    ];
    for (const [path, kind, inject] of controls) {
      const { f, host } = find(path);
      const check = CHECKS.find((c) => c.kind === kind)!;
      const good = check.verdict(f, host, lab);
      const bad = check.verdict({ ...f, content: inject(f.content) }, host, lab);
      assert.ok(good.ok, `${kind}: ${good.out}`);
      assert.ok(bad.ok, `${kind} accepts the raw injection (the daemon alone would not catch it): ${bad.out}`);
      assert.notEqual(bad.structure, good.structure, `${kind}: the structure comparison sees the injection`);
    }
    // The careless-values judge sees what a careless render did: keepalived -t refuses a
    // unicast_src_ip without its unicast_peer block (a one-host instance rendered before the fix).
    {
      const { f, host } = find("/keepalived.conf");
      const check = CHECKS.find((c) => c.kind === "keepalived -t")!;
      const noPeers = f.content.replace(/\n\s*unicast_peer \{[^}]*\}/g, "");
      assert.ok(noPeers !== f.content && /unicast_src_ip/.test(noPeers), "lab.yaml's keepalived.conf has unicast peers");
      const v = check.verdict({ ...f, content: noPeers }, host, lab);
      assert.equal(v.ok, false, `keepalived -t refuses unicast_src_ip without a peer: ${v.out}`);
    }
    // corosync -t accepts a rogue node with 5 votes (the issue's injection): the structure comparison sees it.
    {
      const { f, host } = find("/corosync.conf");
      const check = CHECKS.find((c) => c.kind === "corosync -t")!;
      const good = check.verdict(f, host, lab);
      const bad = check.verdict(
        {
          ...f,
          content: f.content.replace(
            /^nodelist \{$/m,
            "nodelist {\n    node {\n        ring0_addr: 10.66.66.66\n        nodeid: 66\n        quorum_votes: 5\n    }",
          ),
        },
        host,
        lab,
      );
      assert.ok(good.ok, `corosync -t: ${good.out}`);
      assert.ok(bad.ok, `corosync -t accepts the rogue node (the daemon alone would not catch it): ${bad.out}`);
      assert.notEqual(bad.structure, good.structure, "corosync -t: the structure comparison sees the rogue node");
      // And it is a real judge: the same file refused when the namespace lacks the node's address.
      const other = check.verdict(f, "no-such-host", lab);
      assert.equal(other.ok, false, `corosync -t refuses a file whose node is not local: ${other.out}`);
    }
    const dr = renderVariant(loadExample("dr-provision.yaml"), undefined, undefined).state!;
    const dropIn = dr.hosts.flatMap((h) => h.files).find((f) => /^\/etc\/systemd\/system\/[^/]+\.service\.d\/[^/]+\.conf$/.test(f.path));
    assert.ok(dropIn, "dr-provision.yaml renders a drop-in");
    const sd = CHECKS.find((c) => c.kind === "systemd-analyze verify")!;
    const good = sd.verdict(dropIn, "", lab);
    const bad = sd.verdict({ ...dropIn, content: `${dropIn.content}\n[Service]\nExecStartPre=/usr/bin/touch ${sb.mark}\n` }, "", lab);
    assert.ok(good.ok, good.out);
    assert.notEqual(bad.structure, good.structure);
    const crm = CHECKS.find((c) => c.kind === "crm_verify")!;
    const cib = find("/cib.xml");
    assert.equal(
      crm.verdict({ ...cib.f, content: cib.f.content.replace("<resources>", "<resources><primitive/>") }, cib.host, lab).ok,
      false,
    );
  });

  after(() => {
    console.log(
      `careless values (daemons): ${careless.renders} renders (${careless.accepted} passed validate, ${careless.refused} refused), ${careless.judged} changed files judged`,
    );
    console.log(
      `escape fuzzer (daemons): ${counts.renders} renders (${counts.accepted} accepted, ${counts.refused} refused), ${counts.distinctFiles} changed files judged; daemon runs: ${[...counts.judged].map(([k, v]) => `${k} ${v}`).join(", ")}`,
    );
  });
});
