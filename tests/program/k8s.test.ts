/**
 * The Kubernetes target under the SDK mocks: every `target: kubernetes` stack (stacks/Pulumi.*.yaml)
 * runs index.ts in its own process (run-stack.ts) and the objects are asserted as the SDK really
 * registered them (inputs with secrets still wrapped):
 * - one typed @pulumi/kubernetes resource per rendered object, under the KubernetesTarget
 *   component, in the configured namespace, through the provider from stack config;
 * - labels match selectors, Services select the right pods, anti-affinity spreads each instance
 *   group's pods per host, PDBs keep a majority (RabbitMQ, stolon keepers and sentinels);
 * - every Secret's data/stringData is a Pulumi secret and no secret value travels in plaintext;
 * - the apply order: RBAC and config before the init Job, the data tier before the database Job,
 *   both before the app tier;
 * - the stack outputs for the SSH target's names, the broker URL a secret output.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import yaml from "js-yaml";
import { analyzeInventoryFile } from "../../src/pipeline/analyze";
import { kubernetesTarget } from "../../src/kubernetes";
import { renderByService } from "../../src/pipeline/render";
import { stolonOnKubernetes } from "../../src/services/postgres/k8s-topology";
import { rabbitmqOnKubernetes } from "../../src/services/rabbitmq/k8s-topology";
import { towerOnKubernetes } from "../../src/services/tower/k8s-topology";
import { parseRun } from "./mock-engine";
import type { RecordedResource } from "./run-stack";

const ROOT = join(__dirname, "..", "..");
const SECRET_KEY = "4dabf18193072939515e22adb298388d";

interface Run {
  resources: RecordedResource[];
  outputs: Record<string, { value: unknown; secret: boolean }>;
  secretValues: string[];
}

const inventoryOf = (stack: string): string => {
  const cfg = yaml.load(readFileSync(join(ROOT, "stacks", `Pulumi.${stack}.yaml`), "utf8")) as { config?: Record<string, string> };
  return join(ROOT, cfg.config?.["haforge:inventory"] ?? "");
};
const k8sStacks = readdirSync(join(ROOT, "stacks"))
  .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
  .filter((s): s is string => !!s && analyzeInventoryFile(inventoryOf(s)).inventory?.target === "kubernetes");

function runStack(stack: string, extraConfig?: Record<string, string>): Run {
  const r = spawnSync(
    process.execPath,
    ["--import", "tsx", join(__dirname, "run-stack.ts"), stack, ...(extraConfig ? [JSON.stringify(extraConfig)] : [])],
    {
      cwd: ROOT,
      encoding: "utf8",
      maxBuffer: 256 * 1024 * 1024,
      timeout: 120_000,
    },
  );
  assert.equal(r.status, 0, r.stderr.slice(-3000));
  return parseRun<Run>(r.stdout);
}

const isSecret = (v: unknown): v is { value: unknown } =>
  !!v && typeof v === "object" && (v as Record<string, unknown>)[SECRET_KEY] !== undefined;
const unwrap = (v: unknown): any => (isSecret(v) ? unwrap(v.value) : v);
function plainStrings(v: unknown, path = ""): [string, string][] {
  if (isSecret(v)) return [];
  if (typeof v === "string") return [[path, v]];
  if (Array.isArray(v)) return v.flatMap((x, i) => plainStrings(x, `${path}[${i}]`));
  if (v && typeof v === "object") return Object.entries(v).flatMap(([k, x]) => plainStrings(x, `${path}.${k}`));
  return [];
}
const selects = (sel: Record<string, string>, labels: Record<string, string> | undefined) =>
  Object.keys(sel).length > 0 && Object.entries(sel).every(([k, v]) => labels?.[k] === v);

describe("kubernetes stacks exist", () => {
  it("stacks/Pulumi.k8s.yaml targets Kubernetes", () => assert.ok(k8sStacks.includes("k8s"), `k8s stacks: ${k8sStacks.join(", ")}`));
});

for (const stack of k8sStacks) {
  describe(`kubernetes stack ${stack} under the SDK mocks`, () => {
    const plan = analyzeInventoryFile(inventoryOf(stack)).plan!;
    const target = kubernetesTarget(plan);
    let run: Run;
    before(() => {
      run = runStack(stack);
    });
    const objects = () => run.resources.filter((r) => r.type.startsWith("kubernetes:"));
    const input = (r: RecordedResource) => unwrap(r.raw) as Record<string, any>;
    const named = (kind: string, name: string) => {
      const r = objects().find((o) => o.type.endsWith(`:${kind}`) && unwrap(input(o).metadata).name === name);
      assert.ok(r, `${kind} ${name} registered`);
      return r;
    };
    const podLabels = (r: RecordedResource) => unwrap(unwrap(unwrap(input(r).spec).template).metadata).labels as Record<string, string>;
    const spec = (r: RecordedResource) => unwrap(input(r).spec) as Record<string, any>;
    const workloads = () => objects().filter((o) => /:(StatefulSet|Deployment)$/.test(o.type));

    it("registers one typed resource per rendered object, under the KubernetesTarget component, in the namespace", () => {
      const structure = renderByService(plan, {}, {}).flatMap((p) => p.manifests) as {
        apiVersion: string;
        kind: string;
        metadata: { name: string };
      }[];
      const expected = structure
        .map((m) => `kubernetes:${m.apiVersion.includes("/") ? m.apiVersion : `core/${m.apiVersion}`}:${m.kind} ${m.metadata.name}`)
        .sort();
      const actual = objects()
        .map((o) => `${o.type} ${unwrap(input(o).metadata).name}`)
        .sort();
      assert.deepEqual(actual, expected);
      const component = run.resources.find((r) => r.type === "haforge:kubernetes:KubernetesTarget");
      assert.ok(component, "a KubernetesTarget component");
      for (const o of objects()) {
        assert.equal(o.parent, component.urn, `${o.name} is a child of the KubernetesTarget`);
        assert.equal(unwrap(input(o).metadata).namespace, target.namespace, `${o.name} in namespace ${target.namespace}`);
      }
      // No SSH resource at all on this target.
      assert.equal(
        run.resources.filter(
          (r) =>
            r.type === "pulumi-nodejs:dynamic:HostAction" ||
            (r.type === "pulumi-nodejs:dynamic:Resource" && unwrap(unwrap(r.raw).spec)?.path !== undefined),
        ).length,
        0,
      );
    });

    it("uses the provider configured by haforge:kubeContext / haforge:kubeconfig", () => {
      const cfg = yaml.load(readFileSync(join(ROOT, "stacks", `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, string> };
      const provider = run.resources.find((r) => r.type === "pulumi:providers:kubernetes");
      if (cfg.config["haforge:kubeContext"] === undefined && cfg.config["haforge:kubeconfig"] === undefined)
        return assert.equal(provider, undefined);
      assert.ok(provider, "a kubernetes provider");
      assert.equal(unwrap(provider.raw).context, cfg.config["haforge:kubeContext"]);
    });

    it("workload selectors match their pod labels; Services select the right pods", () => {
      for (const w of workloads())
        assert.ok(selects(unwrap(spec(w).selector).matchLabels, podLabels(w)), `${w.name}: selector vs pod labels`);
      const selected = (svcName: string) =>
        workloads()
          .filter((w) => selects(unwrap(spec(named("Service", svcName)).selector), podLabels(w)))
          .map((w) => unwrap(input(w).metadata).name as string)
          .sort();
      const r = rabbitmqOnKubernetes(plan);
      if (r) {
        assert.deepEqual(selected(r.names.service), [r.names.statefulSet]);
        assert.deepEqual(selected(r.names.headless), [r.names.statefulSet]);
      }
      const s = stolonOnKubernetes(plan);
      if (s) {
        assert.deepEqual(selected(s.names.proxyService), [s.names.proxies], "clients reach the proxies, never a keeper directly");
        assert.deepEqual(selected(s.names.keeperService), [s.names.keepers]);
      }
      const t = towerOnKubernetes(plan);
      if (t) {
        for (const g of t.groups)
          assert.deepEqual(selected(g.web.service), [g.web.name], `group ${g.name}'s Service selects its own web pods`);
        assert.deepEqual(selected(t.names.entry), t.groups.map((g) => g.web.name).sort(), "the entry point reaches every group's web pods");
      }
    });

    it("spreads instance-group pods over hosts (anti-affinity on the group's own labels)", () => {
      const t = towerOnKubernetes(plan);
      assert.ok(t && t.groups.length > 1, "a multi-group example");
      for (const g of t.groups) {
        for (const name of [g.web.name, g.task.name]) {
          const d = named("Deployment", name);
          const term = unwrap(spec(d).template).spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0]
            .podAffinityTerm;
          assert.equal(term.topologyKey, "kubernetes.io/hostname");
          assert.equal(term.labelSelector.matchLabels["haforge.io/instance-group"], g.name);
          assert.ok(selects(term.labelSelector.matchLabels, podLabels(d)), `${name}'s anti-affinity matches its own pods`);
        }
      }
    });

    it("PDBs keep quorum: RabbitMQ and stolon keepers/sentinels floor(n/2)+1", () => {
      const minAvailable = (name: string) => spec(named("PodDisruptionBudget", name)).minAvailable;
      const replicas = (kind: string, name: string) => spec(named(kind, name)).replicas as number;
      const r = rabbitmqOnKubernetes(plan);
      if (r) assert.equal(minAvailable(r.names.pdb), Math.floor(replicas("StatefulSet", r.names.statefulSet) / 2) + 1);
      const s = stolonOnKubernetes(plan);
      if (s) {
        assert.equal(minAvailable(s.names.keepers), Math.floor(replicas("StatefulSet", s.names.keepers) / 2) + 1);
        assert.equal(minAvailable(s.names.sentinels), Math.floor(replicas("Deployment", s.names.sentinels) / 2) + 1);
      }
    });

    it("every Secret's data is a Pulumi secret; no secret value travels in plaintext", () => {
      const secrets = objects().filter((o) => o.type === "kubernetes:core/v1:Secret");
      assert.ok(secrets.length >= 2);
      for (const s of secrets) {
        const raw = s.raw as Record<string, unknown>;
        assert.ok(raw["stringData"] !== undefined || raw["data"] !== undefined, `${s.name} has values`);
        for (const f of ["stringData", "data"]) if (raw[f] !== undefined) assert.ok(isSecret(raw[f]), `${s.name}.${f} is a Pulumi secret`);
      }
      assert.ok(run.secretValues.length > 0);
      for (const r of run.resources)
        for (const [path, v] of plainStrings(r.raw)) {
          for (const secret of run.secretValues) assert.ok(!v.includes(secret), `${r.name}${path} carries a secret in plaintext`);
          assert.doesNotMatch(v, /material-tower/, `${r.name}${path} carries generated key material in plaintext`);
        }
    });

    it("applies in waves: RBAC/config → stolon init → data tier → database Job → app tier", () => {
      const urn = (kind: string, name: string) => named(kind, name).urn;
      const after = (kind: string, name: string, ...deps: [string, string][]) => {
        const me = named(kind, name);
        for (const [k, n] of deps) assert.ok(me.dependencies.includes(urn(k, n)), `${kind} ${name} waits for ${k} ${n}`);
      };
      const r = rabbitmqOnKubernetes(plan)!;
      const s = stolonOnKubernetes(plan);
      const t = towerOnKubernetes(plan)!;
      after(
        "StatefulSet",
        r.names.statefulSet,
        ["RoleBinding", r.names.role],
        ["Secret", r.names.secret],
        ["ConfigMap", r.names.configMap],
      );
      if (s) {
        after("Job", s.names.initJob, ["RoleBinding", s.names.role], ["ConfigMap", s.names.specConfigMap]);
        after("StatefulSet", s.names.keepers, ["Job", s.names.initJob], ["Secret", s.names.secret]);
        after("Job", t.names.dbJob, ["Deployment", s.names.proxies], ["StatefulSet", s.names.keepers]);
      }
      for (const g of t.groups) {
        after(
          "Deployment",
          g.task.name,
          ["StatefulSet", r.names.statefulSet],
          ...(s ? ([["Job", t.names.dbJob]] as [string, string][]) : []),
        );
        // A Service waits for its endpoints: it must not wait for... its own pods' creation.
        assert.ok(
          !named("Service", g.web.service).dependencies.includes(urn("Deployment", g.web.name)),
          "a Service is applied alongside its pods",
        );
      }
    });

    it("exports the SSH target's outputs, filled for Kubernetes; the broker URL only as a secret", () => {
      for (const k of ["hosts", "vips", "endpoints", "instanceGroups", "isolatedGroups", "rabbitmqNodes", "pacemakerClusters"]) {
        assert.ok(k in run.outputs, `output ${k}`);
        assert.equal(run.outputs[k]!.secret, false);
        for (const s of run.secretValues) assert.ok(!JSON.stringify(run.outputs[k]!.value).includes(s), `${k} leaks a secret`);
      }
      const r = rabbitmqOnKubernetes(plan)!;
      const endpoints = run.outputs["endpoints"]!.value as { amqp: string[]; postgres?: string };
      assert.deepEqual(endpoints.amqp, [
        `amqp://${r.rabbitmq.username}@${r.host}:${r.rabbitmq.port}/${encodeURIComponent(r.rabbitmq.vhost)}`,
      ]);
      const s = stolonOnKubernetes(plan);
      if (s) assert.equal(endpoints.postgres, `${s.host}:${s.port}`);
      assert.deepEqual(
        run.outputs["rabbitmqNodes"]!.value,
        r.rabbitmq.nodes.map((n) => n.nodeName),
      );
      assert.deepEqual(
        (run.outputs["instanceGroups"]!.value as { name: string }[]).map((g) => g.name),
        plan.instanceGroups.map((g) => g.name),
      );
      assert.equal(run.outputs["brokerUrl"]!.secret, true);
      assert.match(
        String(run.outputs["brokerUrl"]!.value),
        new RegExp(`^amqp://${r.rabbitmq.username}:.+@${r.host.replace(/\./g, "\\.")}:`),
      );
    });
  });
}

describe("kubernetes stack with a kubeconfig from stack config", () => {
  it("hands the kubeconfig to the provider as a secret", () => {
    const stack = k8sStacks[0]!;
    const run = runStack(stack, { "haforge:kubeconfig": "/etc/haforge/kubeconfig-for-test" });
    const provider = run.resources.find((r) => r.type === "pulumi:providers:kubernetes");
    assert.ok(provider);
    const kc = (provider.raw as Record<string, unknown>)["kubeconfig"];
    assert.ok(isSecret(kc), "kubeconfig is a secret input");
    assert.equal(unwrap(kc), "/etc/haforge/kubeconfig-for-test");
  });
});

describe("kubernetes stack without tower.secretKey (a generated SECRET_KEY)", () => {
  it("Materials is told where the live SECRET_KEY is (namespace, Secret, key) and with which kubeconfig (a secret input)", () => {
    const stack = k8sStacks[0]!;
    const dir = mkdtempSync(join(tmpdir(), "haforge-k8s-nokey-"));
    try {
      const file = join(dir, "inventory.yaml");
      const text = readFileSync(inventoryOf(stack), "utf8");
      writeFileSync(file, text.replace(/^\s*secretKey: \{ secret: towerSecretKey \}\n/m, ""));
      const run = runStack(stack, { "haforge:inventory": file, "haforge:kubeconfig": "~/.kube/ops" });
      const materials = run.resources.find((r) => r.type === "pulumi-nodejs:dynamic:Resource" && unwrap(r.raw).specs !== undefined);
      assert.ok(materials, "a Materials resource");
      const refs = (materials.raw as Record<string, unknown>)["adoptKubernetes"];
      assert.ok(isSecret(refs), "adoptKubernetes is a secret input (it carries the kubeconfig)");
      const t = towerOnKubernetes(analyzeInventoryFile(file).plan!)!;
      assert.deepEqual(unwrap(refs), {
        "tower/k8s/secret-key": {
          namespace: t.target.namespace,
          name: t.names.secret,
          key: "SECRET_KEY",
          kubeconfig: "~/.kube/ops",
          context: "kind-haforge",
        },
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
