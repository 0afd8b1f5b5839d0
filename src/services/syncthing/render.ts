/**
 * syncthing renderer. Every host gets an identity generated once (material
 * `syncthing/cert/<host>`, a self-signed ECDSA P-384 certificate like `syncthing generate` makes);
 * its device ID is computed here from that certificate (src/core/syncthing-id.ts), so each host's
 * config.xml names its peers before any syncthing has run — no "accept device" clicks, no
 * discovery. Everything that would reach the internet (global discovery, relays, NAT-PMP/UPnP,
 * STUN, usage and crash reporting, upgrades) is switched off: peers are dialled directly at
 * `tcp://<internal address>:<listenPort>` (https://docs.syncthing.net/users/config.html).
 */
import { shellQuote } from "../../core/escape";
import type { ClusterAction, FileSpec, ServiceSpec } from "../../core/desired-state";
import type { MaterialSpec } from "../../core/materials";
import { parseSyncthingCert } from "../../core/materials";
import { deviceIdFromPem } from "../../core/syncthing-id";
import type { ClusterPlan, PlannedHost, SyncthingPlan } from "../../plan/types";
import { daemon } from "../../render/daemon";
import type { RenderContext, RenderResult, ServiceModule } from "../types";
import { bracketIPv6 } from "../../plan/network";

/** syncthing's home (`--home`): config.xml, cert.pem, key.pem and its index database. */
export const SYNCTHING_HOME = "/var/lib/syncthing";
/**
 * config.xml schema version of syncthing 1.19 (lib/config CurrentVersion). Writing the current
 * version means syncthing does not migrate — and therefore does not rewrite — the file on start,
 * so the file on disk stays the one we rendered (no false "changed out of band").
 */
export const SYNCTHING_CONFIG_VERSION = 36;
/** API keys: syncthing generates 32 characters of [A-Za-z0-9]; we do the same. */
const API_KEY_LENGTH = 32;
/** Bound of the post-apply in-sync wait: attempts × 2 s. */
const IN_SYNC_ATTEMPTS = 90;

export const certMaterialKey = (host: string): string => `syncthing/cert/${host}`;
export const apiKeyMaterialKey = (host: string): string => `syncthing/apikey/${host}`;

function missingMaterial(key: string): string {
  return `__HAFORGE_MISSING_MATERIAL_${key.replace(/[^A-Za-z0-9]/g, "_")}__`;
}

/**
 * Device ID of `host`, from its certificate material. A missing or malformed material yields a
 * deterministic marker instead of throwing (render never throws for data; the CLI/Pulumi layer
 * generates materials before rendering, and syncthing rejects the marker loudly if it slips by).
 */
export function deviceIdOf(host: string, materials: Readonly<Record<string, string>>): string {
  const key = certMaterialKey(host);
  const raw = materials[key];
  const parsed = raw === undefined ? null : parseSyncthingCert(raw);
  if (!parsed) return missingMaterial(key);
  try {
    return deviceIdFromPem(parsed.cert);
  } catch {
    return missingMaterial(key);
  }
}

/** Hosts that run syncthing: the plan's list, plus any host named by a folder (stable order). */
function syncthingHosts(st: SyncthingPlan): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const h of [...st.hosts, ...st.folders.flatMap((f) => f.hosts)]) {
    if (!seen.has(h)) {
      seen.add(h);
      out.push(h);
    }
  }
  return out;
}

function materials(plan: ClusterPlan): MaterialSpec[] {
  const st = plan.syncthing;
  if (!st) return [];
  return syncthingHosts(st).flatMap((host): MaterialSpec[] => [
    {
      key: certMaterialKey(host),
      // CN "syncthing" like syncthing's own certificates: peers identify each other by the
      // certificate hash (device ID), never by name.
      kind: { type: "syncthing-cert", commonName: "syncthing" },
      description: `syncthing device certificate of ${host} (its device ID is the SHA-256 of it)`,
      // With no state, the pair the host runs with is adopted: its device ID stays what every
      // peer's config.xml lists.
      readBack: [{ host, path: `${SYNCTHING_HOME}/cert.pem`, keyPath: `${SYNCTHING_HOME}/key.pem`, base64: false }],
    },
    {
      key: apiKeyMaterialKey(host),
      kind: { type: "token", length: API_KEY_LENGTH },
      description: `syncthing REST/GUI API key of ${host}`,
      readBack: [{ host, path: `${SYNCTHING_HOME}/config.xml`, between: ["<apikey>", "</apikey>"], base64: false }],
    },
  ]);
}

interface DeviceData {
  readonly id: string;
  readonly name: string;
  readonly address: string;
}

/**
 * Shell snippet setting $key to the API key in config.xml. Health and in-sync checks read it on
 * the host so no command line (Pulumi state, logs) carries it. The health check is
 * `/rest/system/ping` with the key: syncthing 1.19.2 (Debian) has no `/rest/noauth/health` (404
 * with a key, 403 "CSRF Error" without one — both seen against the real daemon).
 */
const apiKeyFromConfig = `key=$(sed -n 's:.*<apikey>\\(.*\\)</apikey>.*:\\1:p' ${SYNCTHING_HOME}/config.xml)`;

const shQuote = shellQuote;

function render(ctx: RenderContext): RenderResult {
  const st = ctx.plan.syncthing;
  if (!st) return { files: [], services: [], actions: [] };
  const hostsByName = new Map<string, PlannedHost>(ctx.plan.hosts.map((h) => [h.name, h]));
  const addressOf = (h: string): string => hostsByName.get(h)?.internalAddress ?? h;
  const deviceUrl = (h: string): string => `tcp://${bracketIPv6(addressOf(h))}:${st.listenPort}`;
  const files: FileSpec[] = [];
  const services: ServiceSpec[] = [];
  const actions: ClusterAction[] = [];
  const guiAddress = `127.0.0.1:${st.guiPort}`;

  for (const host of syncthingHosts(st)) {
    const myFolders = st.folders.filter((f) => f.hosts.includes(host));
    files.push(...hostFiles(ctx, st, host, myFolders, deviceUrl, guiAddress));

    // Runs as root: render manages no system users, and syncthing must own the synced trees.
    // `serve` forks a monitor process; the supervisor template's stopasgroup/killasgroup stop both.
    const d = daemon({
      host,
      init: hostsByName.get(host)?.init ?? "systemd",
      name: "syncthing",
      description: "syncthing file synchronisation (haforge)",
      command: `/usr/bin/syncthing serve --home=${SYNCTHING_HOME} --no-browser --no-restart --no-upgrade`,
      environment: { HOME: SYNCTHING_HOME, STNODEFAULTFOLDER: "1" },
      health: `${apiKeyFromConfig} && curl -fsS --max-time 5 -H "X-API-Key: $key" http://${guiAddress}/rest/system/ping`,
      rollGroup: "syncthing",
      startsecs: 5,
    });
    files.push(d.file);
    services.push(d.service);

    if (myFolders.length > 0) {
      actions.push({
        id: `syncthing-in-sync-${host}`,
        host,
        phase: "post-start",
        description: `wait until every peer of ${host} is connected and 100% complete on ${myFolders.map((f) => f.id).join(", ")}`,
        create: inSyncCommand(
          guiAddress,
          myFolders.map((f) => ({ id: f.id, peers: f.hosts.filter((h) => h !== host).map((h) => deviceIdOf(h, ctx.materials)) })),
        ),
        dependsOn: [],
        triggers: [`${SYNCTHING_HOME}/config.xml`],
        // The API key is read from config.xml on the host, so the command line carries no secret.
        secret: false,
      });
    }
  }
  return { files, services, actions };
}

/** A host's config.xml (its folders and the devices it shares them with), cert.pem and key.pem. */
function hostFiles(
  ctx: RenderContext,
  st: SyncthingPlan,
  host: string,
  myFolders: SyncthingPlan["folders"],
  deviceUrl: (h: string) => string,
  guiAddress: string,
): FileSpec[] {
  // Devices: this host first, then every peer that shares at least one folder with it, in
  // plan host order, so the output is stable.
  const peers = syncthingHosts(st).filter((h) => h !== host && myFolders.some((f) => f.hosts.includes(h)));
  const devices: DeviceData[] = [host, ...peers].map((h) => ({
    id: deviceIdOf(h, ctx.materials),
    name: h,
    // Our own entry too: syncthing ignores its own address, and "dynamic" would re-enable lookups.
    address: deviceUrl(h),
  }));
  const folders = myFolders.map((f) => ({
    id: f.id,
    path: f.path,
    rescanIntervalS: f.rescanIntervalS,
    fsWatcherDelayS: f.fsWatcherDelayS,
    devices: f.hosts.map((h) => deviceIdOf(h, ctx.materials)),
  }));
  const apiKey = ctx.materials[apiKeyMaterialKey(host)] ?? missingMaterial(apiKeyMaterialKey(host));
  const cert = parseSyncthingCert(ctx.materials[certMaterialKey(host)] ?? "");
  return [
    {
      host,
      path: `${SYNCTHING_HOME}/config.xml`,
      content: ctx.template("syncthing", "config.xml.hbs", {
        hostName: host,
        configVersion: SYNCTHING_CONFIG_VERSION,
        folders,
        devices,
        // The GUI/REST API only on loopback: health checks and the in-sync check run on the host.
        guiAddress,
        apiKey,
        listenAddress: deviceUrl(host),
      }),
      // The API key is a credential for the REST API (it can change the config).
      mode: "0600",
      owner: "root",
      group: "root",
      secret: true,
      notify: ["syncthing"],
    },
    {
      host,
      path: `${SYNCTHING_HOME}/cert.pem`,
      content: cert?.cert ?? missingMaterial(certMaterialKey(host)),
      mode: "0644",
      owner: "root",
      group: "root",
      secret: false,
      notify: ["syncthing"],
    },
    {
      host,
      path: `${SYNCTHING_HOME}/key.pem`,
      content: cert?.key ?? missingMaterial(certMaterialKey(host)),
      mode: "0600",
      owner: "root",
      group: "root",
      secret: true,
      notify: ["syncthing"],
    },
  ];
}

/**
 * A bounded wait: every peer of every folder is connected (`/rest/system/connections`) and its
 * completion of the folder is 100 (`/rest/db/completion?folder=F&device=D`,
 * https://docs.syncthing.net/rest/db-completion-get.html). JSON is matched with grep after
 * stripping whitespace: no jq/python on a syncthing host. The API key comes from config.xml.
 */
export function inSyncCommand(guiAddress: string, folders: readonly { id: string; peers: readonly string[] }[]): string {
  const base = `http://${guiAddress}`;
  const checks: string[] = [];
  const peers = [...new Set(folders.flatMap((f) => f.peers))];
  for (const p of peers) {
    checks.push(`st_get /rest/system/connections | grep -q ${shQuote(`"${p}":{[^}]*"connected":true`)}`);
  }
  for (const f of folders) {
    for (const p of f.peers) {
      checks.push(
        `st_get ${shQuote(`/rest/db/completion?folder=${encodeURIComponent(f.id)}&device=${p}`)} | grep -q '"completion":100[,}]'`,
      );
    }
  }
  return [
    apiKeyFromConfig,
    `st_get() { curl -fsS --max-time 5 -H "X-API-Key: $key" ${shQuote(base)}"$1" | tr -d ' \\n\\t'; }`,
    `i=0`,
    `while [ $i -lt ${IN_SYNC_ATTEMPTS} ]; do`,
    `  if ${checks.length ? checks.join(" && ") : "true"}; then echo "syncthing: in sync"; exit 0; fi`,
    `  i=$((i+1)); sleep 2`,
    `done`,
    `echo "syncthing: not in sync after ${IN_SYNC_ATTEMPTS * 2}s" >&2`,
    `exit 1`,
  ].join("\n");
}

export const renderPart: Pick<ServiceModule, "render" | "materials"> = { render, materials };
