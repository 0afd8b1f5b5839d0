/**
 * Reads one key of a live Kubernetes Secret, for Materials' read-back on a Kubernetes target
 * (Tower's SECRET_KEY: with no state, a new one would replace the live one and every credential
 * Tower encrypted in its database would become unreadable). The Kubernetes API's `GET
 * /api/v1/namespaces/NS/secrets/NAME` (https://kubernetes.io/docs/reference/kubernetes-api/config-and-storage-resources/secret-v1/#get-read-the-specified-secret)
 * with the kubeconfig's cluster and user, as kubectl would: server CA (data or file) or
 * insecure-skip-tls-verify, a bearer token (inline, file, or an exec credential plugin's
 * ExecCredential `status.token`), a client certificate and key (data or files), basic auth.
 *
 * Which kubeconfig: the stack's `haforge:kubeconfig` (a path, `~` expanded here in the provider
 * process, or the file's content) and `haforge:kubeContext`, as the Kubernetes provider gets them
 * (components/kubernetes-target.ts); else `$KUBECONFIG` (its first file) or `~/.kube/config` of
 * whoever runs Pulumi, with its current context. Auth providers (`auth-provider:`, removed from
 * kubectl in 1.26) are not supported: the read fails and Materials says so.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as https from "node:https";
import * as http from "node:http";
import { homedir } from "node:os";
import { isAbsolute, resolve } from "node:path";
import { load } from "js-yaml";

/** Where a material lives in a Kubernetes Secret. */
export interface KubernetesSecretRef {
  readonly namespace: string;
  /** The Secret's name. */
  readonly name: string;
  /** The key in its `data`. */
  readonly key: string;
  /** A kubeconfig path (`~/...`, relative to the project) or content; absent: the ambient one. */
  readonly kubeconfig?: string;
  readonly context?: string;
}

/**
 * The Secret's value; absent: the Secret or its key does not exist, or (`noKubeconfig`) there is
 * no kubeconfig to ask with (none configured and no ambient one: the Kubernetes provider then
 * cannot reach a cluster through one either). Throws when a cluster is named but cannot be asked.
 */
export type SecretRead = { readonly found: true; readonly value: string } | { readonly found: false; readonly noKubeconfig?: string };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

const expand = (p: string, cwd: string): string =>
  p === "~" ? homedir() : p.startsWith("~/") ? homedir() + p.slice(1) : isAbsolute(p) ? p : resolve(cwd, p);

/** The kubeconfig text: content as given, or the file it names, or the ambient one (undefined: no ambient file). */
export function kubeconfigText(
  given: string | undefined,
  cwd = process.cwd(),
  env = process.env,
): { text: string; from: string } | undefined {
  if (given !== undefined && /\n|^\s*(apiVersion|clusters|kind)\s*:/.test(given)) return { text: given, from: "haforge:kubeconfig" };
  const path = given !== undefined ? expand(given, cwd) : (env["KUBECONFIG"]?.split(":").find((p) => p) ?? `${homedir()}/.kube/config`);
  if (given === undefined && !fs.existsSync(path)) return undefined;
  return { text: fs.readFileSync(path, "utf8"), from: path };
}

const named = (list: unknown, name: string, field: string): Obj | undefined => {
  const entry: unknown = Array.isArray(list) ? (list as unknown[]).find((e) => isObj(e) && e["name"] === name) : undefined;
  return isObj(entry) && isObj(entry[field]) ? entry[field] : undefined;
};

/** An exec credential plugin's token or client certificate (client.authentication.k8s.io ExecCredential). */
async function execCredential(exec: Obj, timeoutMs: number): Promise<Obj> {
  const command = str(exec["command"]);
  if (!command) throw new Error("the user's exec plugin has no command");
  const args = Array.isArray(exec["args"]) ? exec["args"].map(String) : [];
  const env = { ...process.env };
  if (Array.isArray(exec["env"]))
    for (const e of exec["env"]) if (isObj(e) && str(e["name"])) env[e["name"] as string] = str(e["value"]) ?? "";
  env["KUBERNETES_EXEC_INFO"] = JSON.stringify({ apiVersion: exec["apiVersion"], kind: "ExecCredential", spec: { interactive: false } });
  const out = await new Promise<string>((ok, fail) =>
    execFile(command, args, { env, timeout: timeoutMs, maxBuffer: 1 << 20 }, (e: Error | null, stdout: string) =>
      e ? fail(e) : ok(stdout),
    ),
  );
  const status = (JSON.parse(out) as Obj)["status"];
  if (!isObj(status)) throw new Error(`the exec plugin ${command} printed no ExecCredential status`);
  return status;
}

const fileOrData = (o: Obj, field: string, cwd: string): Buffer | undefined => {
  const data = str(o[`${field}-data`]);
  if (data) return Buffer.from(data, "base64");
  const file = str(o[field]);
  return file ? fs.readFileSync(expand(file, cwd)) : undefined;
};

/** Reads `ref` from the cluster its kubeconfig names. */
export async function readKubernetesSecret(ref: KubernetesSecretRef, opts: { cwd?: string; timeoutMs?: number } = {}): Promise<SecretRead> {
  const cwd = opts.cwd ?? process.cwd();
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const found = kubeconfigText(ref.kubeconfig, cwd);
  if (!found) return { found: false, noKubeconfig: process.env["KUBECONFIG"] || "~/.kube/config" };
  const { text, from } = found;
  const config = load(text);
  if (!isObj(config)) throw new Error(`${from}: not a kubeconfig`);
  const contextName = ref.context ?? str(config["current-context"]);
  if (!contextName) throw new Error(`${from}: no context (set haforge:kubeContext or a current-context)`);
  const context = named(config["contexts"], contextName, "context");
  if (!context) throw new Error(`${from}: no context ${JSON.stringify(contextName)}`);
  const cluster = named(config["clusters"], String(context["cluster"]), "cluster");
  const server = cluster && str(cluster["server"]);
  if (!cluster || !server) throw new Error(`${from}: context ${contextName}: no cluster server`);
  const user = named(config["users"], String(context["user"]), "user") ?? {};
  if (isObj(user["auth-provider"])) throw new Error(`${from}: user auth-provider is not supported (use an exec plugin)`);
  const issued = isObj(user["exec"]) ? await execCredential(user["exec"], timeoutMs) : {};
  const token =
    str(issued["token"]) ??
    str(user["token"]) ??
    (str(user["tokenFile"]) ? fs.readFileSync(expand(user["tokenFile"] as string, cwd), "utf8").trim() : undefined);
  const cert = str(issued["clientCertificateData"])
    ? Buffer.from(issued["clientCertificateData"] as string)
    : fileOrData(user, "client-certificate", cwd);
  const key = str(issued["clientKeyData"]) ? Buffer.from(issued["clientKeyData"] as string) : fileOrData(user, "client-key", cwd);
  const ca = fileOrData(cluster, "certificate-authority", cwd);
  const basic = str(user["username"]) ? `${user["username"] as string}:${str(user["password"]) ?? ""}` : undefined;
  const url = new URL(
    `${server.replace(/\/+$/, "")}/api/v1/namespaces/${encodeURIComponent(ref.namespace)}/secrets/${encodeURIComponent(ref.name)}`,
  );
  const headers: Record<string, string> = { Accept: "application/json" };
  if (token) headers["Authorization"] = `Bearer ${token}`;
  else if (basic) headers["Authorization"] = `Basic ${Buffer.from(basic).toString("base64")}`;
  const tls = {
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    ...(str(cluster["tls-server-name"]) ? { servername: cluster["tls-server-name"] as string } : {}),
    rejectUnauthorized: cluster["insecure-skip-tls-verify"] !== true,
  };
  const { status, body } = await new Promise<{ status: number; body: string }>((ok, fail) => {
    const req = (url.protocol === "https:" ? https : http).request(url, { method: "GET", headers, timeout: timeoutMs, ...tls }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body.length < 1 << 20 ? (body += c) : undefined));
      res.on("end", () => ok({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error(`no answer from ${url.origin} in ${timeoutMs} ms`)));
    req.on("error", fail);
    req.end();
  });
  if (status === 404) return { found: false };
  if (status !== 200) throw new Error(`${url.origin}: GET secret ${ref.namespace}/${ref.name}: HTTP ${status}`);
  const data = (JSON.parse(body) as Obj)["data"];
  const value = isObj(data) ? str(data[ref.key]) : undefined;
  return value === undefined ? { found: false } : { found: true, value: Buffer.from(value, "base64").toString("utf8") };
}
