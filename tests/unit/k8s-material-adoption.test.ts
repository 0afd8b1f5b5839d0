/**
 * Tower's SECRET_KEY on a Kubernetes target with an empty state (issue 9: a second operator's own
 * backend, a lost state): the Materials resource reads the live Secret through the Kubernetes
 * API, as kubectl would with the stack's kubeconfig, and adopts its value instead of generating a
 * new one (which would replace the live Secret and make every credential Tower encrypted with it
 * unreadable). A local API server stands in for the cluster (HTTPS with its own CA, a bearer
 * token; plain HTTP with an exec credential plugin). Before, the key was always generated.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import yaml from "js-yaml";
import { checkMaterials, materialsFor, type MaterialsInputs } from "../../src/providers/materials";
import { readKubernetesSecret } from "../../src/providers/kubernetes-secret";
import { K8S_SECRET_KEY_MATERIAL } from "../../src/services/tower/k8s-topology";
import { requiredMaterials } from "../../src/pipeline/render";
import { stderrOf } from "../stderr-of";
import { fakeSecrets, planOf, renderObjects, towerK8sInput } from "./k8s-helpers";

const LIVE = "a".repeat(30) + "LiveSecretKeyOfTheRunningTower" + "z".repeat(4);
const TOKEN = "t0ken-of-the-operator";
const tmp = fs.mkdtempSync(join(tmpdir(), "haforge-k8s-adopt-"));
const requests: { url: string; auth: string }[] = [];
let secrets: Record<string, Record<string, string>> = {};

function handler(req: http.IncomingMessage, res: http.ServerResponse) {
  requests.push({ url: req.url ?? "", auth: req.headers.authorization ?? "" });
  const m = /^\/api\/v1\/namespaces\/([^/]+)\/secrets\/([^/]+)$/.exec(req.url ?? "");
  if (req.headers.authorization !== `Bearer ${TOKEN}`) return void res.writeHead(401).end("{}");
  const data = m ? secrets[`${m[1]}/${m[2]}`] : undefined;
  if (!data) return void res.writeHead(404, { "content-type": "application/json" }).end('{"kind":"Status","code":404}');
  const b64 = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString("base64")]));
  res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ kind: "Secret", data: b64 }));
}

let tlsServer: https.Server;
let plainServer: http.Server;
let ca = "";
const port = (s: http.Server | https.Server) => (s.address() as AddressInfo).port;

const kubeconfig = (server: string, user: Record<string, unknown>, cluster: Record<string, unknown> = {}) =>
  yaml.dump({
    apiVersion: "v1",
    kind: "Config",
    "current-context": "ops",
    contexts: [{ name: "ops", context: { cluster: "c", user: "u" } }],
    clusters: [{ name: "c", cluster: { server, ...cluster } }],
    users: [{ name: "u", user }],
  });

before(async () => {
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"].concat([
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-keyout",
      join(tmp, "key.pem"),
      "-out",
      join(tmp, "cert.pem"),
    ]),
    { stdio: "ignore" },
  );
  ca = fs.readFileSync(join(tmp, "cert.pem"), "utf8");
  tlsServer = https.createServer({ cert: ca, key: fs.readFileSync(join(tmp, "key.pem")) }, handler);
  plainServer = http.createServer(handler);
  await Promise.all([tlsServer, plainServer].map((s) => new Promise<void>((ok) => s.listen(0, "127.0.0.1", ok))));
});

after(async () => {
  await Promise.all([tlsServer, plainServer].map((s) => new Promise((ok) => s.close(ok))));
  fs.rmSync(tmp, { recursive: true, force: true });
});

const spec = { key: K8S_SECRET_KEY_MATERIAL, kind: { type: "token", length: 64 } } as const;
const tlsConfig = () =>
  kubeconfig(
    `https://127.0.0.1:${port(tlsServer)}`,
    { token: TOKEN },
    { "certificate-authority-data": Buffer.from(ca).toString("base64") },
  );
const inputs = (config: string, ref = { namespace: "awx", name: "awx-tower", key: "SECRET_KEY" }): MaterialsInputs => ({
  specs: [spec],
  adoptKubernetes: { [spec.key]: { ...ref, kubeconfig: config } },
});

describe("Tower's SECRET_KEY on Kubernetes: an empty state adopts the live Secret's value", () => {
  it("the Tower k8s material names the Secret and key the render writes it to", () => {
    const input = towerK8sInput();
    const plan = planOf({ ...input, tower: { ...input.tower!, secretKey: undefined } });
    const m = requiredMaterials(plan).find((s) => s.key === K8S_SECRET_KEY_MATERIAL);
    assert.ok(m?.readBackKubernetes, "the material declares where it lives on the target");
    const ref = m.readBackKubernetes;
    const secret = renderObjects(plan).objects.find((o) => o.kind === "Secret" && o.metadata.name === ref.name);
    assert.ok(secret, "a rendered Secret of that name");
    assert.equal(secret.metadata.namespace, ref.namespace);
    assert.equal(secret["stringData"][ref.key], fakeSecrets(plan).materials[K8S_SECRET_KEY_MATERIAL]);
  });

  it("create with no state: the live value is adopted over TLS (the kubeconfig's CA, a bearer token), and the preview says so", async () => {
    secrets = { "awx/awx-tower": { SECRET_KEY: LIVE, DATABASE_PASSWORD: "x" } };
    const r = await stderrOf(() => materialsFor(inputs(tlsConfig()), {}));
    assert.equal(r.result.values[spec.key], LIVE);
    assert.match(r.stderr, /tower\/k8s\/secret-key: adopted the value of the live Secret awx\/awx-tower \(key SECRET_KEY\)/);
    assert.doesNotMatch(r.stderr, new RegExp(LIVE));
    const p = await stderrOf(() => checkMaterials({}, inputs(tlsConfig())));
    assert.match(p.stderr, /the state has none: up adopts the value of the live Secret awx\/awx-tower/);
  });

  it("a value in the state is kept: the cluster is not asked", async () => {
    const before = requests.length;
    const r = await materialsFor(inputs(tlsConfig()), { [spec.key]: "kept" });
    assert.equal(r.values[spec.key], "kept");
    assert.equal(requests.length, before);
  });

  it("no such Secret (a first install): a new 64-character key is generated", async () => {
    secrets = {};
    const r = await materialsFor(inputs(tlsConfig()), {});
    assert.match(r.values[spec.key] ?? "", /^[A-Za-z0-9]{64}$/);
  });

  it("a cluster that cannot be asked: up refuses to generate, the preview warns", async () => {
    const refused = kubeconfig("https://127.0.0.1:1", { token: TOKEN });
    await assert.rejects(materialsFor(inputs(refused), {}), /could not be read .*refusing to generate a new value that would replace it/);
    const p = await stderrOf(() => checkMaterials({}, inputs(refused)));
    assert.match(p.stderr, /warning: haforge: tower\/k8s\/secret-key: .*could not be read.*up refuses to generate one/);
    // a server whose certificate the kubeconfig's CA did not sign
    const untrusted = kubeconfig(`https://127.0.0.1:${port(tlsServer)}`, { token: TOKEN });
    await assert.rejects(materialsFor(inputs(untrusted), {}), /could not be read/);
  });

  it("no kubeconfig at all (none configured, no ambient file): generated, with a warning that says how to keep a live one", async () => {
    const env = { HOME: process.env["HOME"], KUBECONFIG: process.env["KUBECONFIG"] };
    process.env["HOME"] = join(tmp, "empty-home");
    process.env["KUBECONFIG"] = join(tmp, "no-such-kubeconfig");
    try {
      const before = requests.length;
      const r = await stderrOf(() =>
        materialsFor({ specs: [spec], adoptKubernetes: { [spec.key]: { namespace: "awx", name: "awx-tower", key: "SECRET_KEY" } } }, {}),
      );
      assert.match(r.result.values[spec.key] ?? "", /^[A-Za-z0-9]{64}$/);
      assert.match(
        r.stderr,
        /warning: haforge: tower\/k8s\/secret-key: .*no kubeconfig .*generated a new one; if Tower already runs there, set tower.secretKey/,
      );
      assert.equal(requests.length, before);
      // a kubeconfig the stack names but that is missing is an error: up refuses
      await assert.rejects(materialsFor(inputs(join(tmp, "named-but-missing")), {}), /could not be read/);
    } finally {
      for (const [k, v] of Object.entries(env))
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    }
  });

  it("an exec credential plugin's token, a kubeconfig file named with ~ and a chosen context", async () => {
    secrets = { "ns2/other": { SECRET_KEY: LIVE } };
    const plugin = join(tmp, "plugin.sh");
    fs.writeFileSync(
      plugin,
      `#!/bin/sh\necho '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"'"$TOKEN_FROM_ENV"'"}}'\n`,
      { mode: 0o755 },
    );
    const text = kubeconfig(`http://127.0.0.1:${port(plainServer)}`, {
      exec: { apiVersion: "client.authentication.k8s.io/v1", command: plugin, env: [{ name: "TOKEN_FROM_ENV", value: TOKEN }] },
    }).replace("current-context: ops", "current-context: nowhere");
    fs.mkdirSync(join(tmp, "home", ".kube"), { recursive: true });
    fs.writeFileSync(join(tmp, "home", ".kube", "ops"), text);
    const home = process.env["HOME"];
    process.env["HOME"] = join(tmp, "home");
    try {
      const r = await readKubernetesSecret({
        namespace: "ns2",
        name: "other",
        key: "SECRET_KEY",
        kubeconfig: "~/.kube/ops",
        context: "ops",
      });
      assert.deepEqual(r, { found: true, value: LIVE });
      assert.deepEqual(
        await readKubernetesSecret({ namespace: "ns2", name: "other", key: "NOPE", kubeconfig: "~/.kube/ops", context: "ops" }),
        {
          found: false,
        },
      );
    } finally {
      process.env["HOME"] = home;
    }
  });
});
