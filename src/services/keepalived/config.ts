/**
 * keepalived.conf as data: what one host's file says, computed from the plan. The template
 * (templates/keepalived/keepalived.conf.hbs) only prints this model; every quoting and safety
 * decision lives here so it can be unit-tested.
 *
 * Reference: keepalived.conf(5) — https://keepalived.readthedocs.io/en/latest/configuration_synopsis.html
 */
import { warning, type Finding } from "../../core/findings";
import { resolveSecret, secretKey, type SecretValues } from "../../core/secrets";
import type { SecretRef } from "../../inventory/schema";
import type { ClusterPlan, KeepalivedInstancePlan } from "../../plan/types";

export const KEEPALIVED_CONF = "/etc/keepalived/keepalived.conf";

/**
 * VRRPv2 simple-password authentication carries 8 octets (RFC 2338 §5.3.6.1). keepalived 2.2.7
 * truncates a longer auth_pass AND reports it as a config error (`keepalived -t` exits 5 with
 * "Truncating auth_pass to 8 characters"), so we render what keepalived would use.
 */
export const AUTH_PASS_MAX = 8;

export interface KeepalivedScriptModel {
  /** vrrp_script name: `<instance>_<track>` (unique per file even when two instances reuse a track name). */
  readonly name: string;
  /** The `script` argument, already quoted for keepalived's parser. */
  readonly command: string;
  /** The user's script when `command` had to encode it (shown as a comment). */
  readonly original?: string;
  readonly interval: number;
  readonly weight: number;
  readonly fall: number;
  readonly rise: number;
}

export interface KeepalivedInstanceModel {
  readonly name: string;
  readonly state: "MASTER" | "BACKUP";
  /** True when the plan said MASTER but nopreempt forced BACKUP. */
  readonly stateForcedByNopreempt: boolean;
  readonly interface: string;
  readonly virtualRouterId: number;
  readonly priority: number;
  readonly advertInt: number;
  readonly nopreempt: boolean;
  /** auth_pass argument, quoted; absent = no authentication block. */
  readonly authPass?: string;
  readonly authTruncated: boolean;
  readonly unicast?: { readonly src: string; readonly peers: readonly string[] };
  /** `ADDRESS/PREFIX dev IFACE` entries. */
  readonly vips: readonly string[];
  readonly trackScripts: readonly string[];
}

export interface KeepalivedConfModel {
  readonly host: string;
  readonly routerId: string;
  /** `vrrp_startup_delay` (seconds), when the inventory sets one. */
  readonly startupDelay?: number;
  readonly scripts: readonly KeepalivedScriptModel[];
  readonly instances: readonly KeepalivedInstanceModel[];
  /** True when the file carries an auth_pass (mode 0600, masked in output). */
  readonly secret: boolean;
}

/** Shell syntax that survives inside `'...'` within keepalived's `"..."` (no quotes, escapes, `$`). */
const SINGLE_QUOTABLE = /^[^'"\\$`\r\n]*$/;

/**
 * keepalived does not hand `script` to a shell. It splits the string into words itself (so
 * `pidof haproxy || exit 1` would pass `||` to pidof), and it runs realpath() on the program for
 * its script-security check and then executes the RESOLVED path: on Debian `pidof` is a symlink
 * to killall5, so `script "pidof haproxy"` runs `killall5 haproxy` and always fails
 * (https://github.com/acassen/keepalived/issues/650; seen here with keepalived 2.2.7 `-d`).
 * Multi-call binaries behind symlinks are common, so every script runs under `/bin/sh -c`, which
 * looks the command up itself and keeps argv[0]. Scripts with quotes, backslashes or `$` (which
 * is keepalived's own config-parameter syntax, and whose nested quoting keepalived does not split
 * like a shell) are base64-encoded and piped into /bin/sh: no quoting is left to get wrong, and
 * the exit status is the script's (the last command of the pipeline). Verified against
 * keepalived 2.2.7's own parse (`keepalived -d` prints the argv it will run).
 */
export function scriptCommand(script: string): { command: string; encoded: boolean } {
  const s = script.trim();
  if (SINGLE_QUOTABLE.test(s)) return { command: `"/bin/sh -c '${s}'"`, encoded: false };
  const b64 = Buffer.from(s, "utf8").toString("base64");
  return { command: `"/bin/sh -c 'echo ${b64} | base64 -d | /bin/sh'"`, encoded: true };
}

/** Secret value as keepalived will use it, and whether it was cut. Unresolved markers stay whole. */
export function authPassValue(ref: SecretRef, secrets: SecretValues): { value: string; truncated: boolean; resolved: boolean } {
  const resolved = "value" in ref || secrets[secretKey(ref)] !== undefined;
  const raw = resolveSecret(ref, secrets);
  // An unresolved reference renders as a marker that callers look for (missingSecrets) before
  // applying; cutting it to 8 characters would hide it.
  if (!resolved || [...raw].length <= AUTH_PASS_MAX) return { value: raw, truncated: false, resolved };
  return { value: [...raw].slice(0, AUTH_PASS_MAX).join(""), truncated: true, resolved };
}

/** keepalived strips one pair of double quotes; a quoted token may hold spaces, `#` and `!`. */
const quoteToken = (v: string): string => `"${v}"`;

function instanceModel(inst: KeepalivedInstancePlan, host: string, secrets: SecretValues): KeepalivedInstanceModel {
  const me = inst.members.find((m) => m.host === host);
  // "nopreempt ... the initial state of this entry must be BACKUP" (keepalived.conf(5)):
  // otherwise the MASTER-configured node grabs the VIP back on restart.
  const planned = me?.state ?? "BACKUP";
  const state = inst.nopreempt ? "BACKUP" : planned;
  const auth = inst.authPass ? authPassValue(inst.authPass, secrets) : undefined;
  const peers = inst.members.filter((m) => m.host !== host).map((m) => m.address);
  return {
    name: inst.name,
    state,
    stateForcedByNopreempt: inst.nopreempt && planned === "MASTER",
    interface: inst.interface,
    virtualRouterId: inst.routerId,
    priority: me?.priority ?? 100,
    advertInt: inst.advertInt,
    nopreempt: inst.nopreempt,
    ...(auth ? { authPass: quoteToken(auth.value) } : {}),
    authTruncated: auth?.truncated ?? false,
    // No peer (a one-host instance): no unicast keyword at all. keepalived 2.2 refuses
    // `unicast_src_ip` without a `unicast_peer` ("A unicast keyword has been specified without any
    // unicast peers. Defaulting to multicast", keepalived -t rc 5) and falls back to multicast.
    ...(inst.unicast && me && peers.length > 0 ? { unicast: { src: me.address, peers } } : {}),
    vips: [`${inst.vip}/${inst.prefix} dev ${inst.interface}`],
    trackScripts: inst.track.map((t) => `${inst.name}_${t.name}`),
  };
}

const byHost = new WeakMap<ClusterPlan["keepalived"], ReadonlyMap<string, readonly KeepalivedInstancePlan[]>>();

/** The instances `host` is a member of, in plan order (indexed once per plan, not scanned per host). */
export function instancesOf(plan: ClusterPlan, host: string): readonly KeepalivedInstancePlan[] {
  let m = byHost.get(plan.keepalived);
  if (!m) {
    const built = new Map<string, KeepalivedInstancePlan[]>();
    for (const inst of plan.keepalived)
      for (const h of new Set(inst.members.map((x) => x.host))) {
        const list = built.get(h);
        if (list) list.push(inst);
        else built.set(h, [inst]);
      }
    byHost.set(plan.keepalived, (m = built));
  }
  return m.get(host) ?? [];
}

/** The model of `host`'s keepalived.conf: every instance the host is a member of, in plan order. */
export function keepalivedConfModel(plan: ClusterPlan, host: string, secrets: SecretValues): KeepalivedConfModel {
  const mine = instancesOf(plan, host);
  const scripts: KeepalivedScriptModel[] = mine.flatMap((inst) =>
    inst.track.map((t) => {
      const { command, encoded } = scriptCommand(t.script);
      return {
        name: `${inst.name}_${t.name}`,
        command,
        ...(encoded ? { original: t.script.replace(/[\r\n]+/g, " ") } : {}),
        interval: t.interval,
        weight: t.weight,
        fall: t.fall,
        rise: t.rise,
      };
    }),
  );
  const instances = mine.map((i) => instanceModel(i, host, secrets));
  const startupDelay = plan.inventory.keepalived?.startupDelayS;
  return {
    host,
    routerId: host,
    ...(startupDelay !== undefined ? { startupDelay } : {}),
    scripts,
    instances,
    secret: instances.some((i) => i.authPass !== undefined),
  };
}

/** Hosts that run keepalived, in plan host order (then name, for hosts missing from plan.hosts). */
export function keepalivedHosts(plan: ClusterPlan): string[] {
  const names = new Set(plan.keepalived.flatMap((i) => i.members.map((m) => m.host)));
  const order = new Map(plan.hosts.map((h) => [h.name, h.order]));
  return [...names].sort((a, b) => (order.get(a) ?? 1e9) - (order.get(b) ?? 1e9) || a.localeCompare(b));
}

function instancePath(plan: ClusterPlan, name: string, fallback: number): string {
  const idx = plan.inventory.keepalived?.instances.findIndex((i) => i.name === name) ?? -1;
  return `keepalived.instances[${idx >= 0 ? idx : fallback}]`;
}

/**
 * Findings only visible once secrets are resolved (the plan step sees SecretRefs only). The CLI
 * and the Pulumi layer can add them to the plan's findings; render itself never fails on them.
 */
export function keepalivedSecretFindings(plan: ClusterPlan, secrets: SecretValues): Finding[] {
  const out: Finding[] = [];
  plan.keepalived.forEach((inst, i) => {
    if (!inst.authPass) return;
    const path = `${instancePath(plan, inst.name, i)}.authPass`;
    const a = authPassValue(inst.authPass, secrets);
    if (a.truncated)
      out.push(
        warning(
          "keepalived.auth-pass-truncated",
          path,
          `"authPass" of instance "${inst.name}" is ${[...resolveSecret(inst.authPass, secrets)].length} ` +
            `characters; VRRP PASS authentication uses only the first ${AUTH_PASS_MAX}, so haforge renders those`,
          `use a secret of at most ${AUTH_PASS_MAX} characters so the configured and effective values match`,
        ),
      );
    if (a.resolved && /["\r\n]/.test(a.value))
      out.push(
        warning(
          "keepalived.auth-pass-unquotable",
          path,
          `"authPass" of instance "${inst.name}" contains a double quote or newline, which keepalived's config parser cannot quote`,
          "use letters, digits and punctuation other than '\"'",
        ),
      );
  });
  return out;
}
