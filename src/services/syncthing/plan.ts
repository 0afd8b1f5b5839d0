/**
 * syncthing plan step: shared folders between hosts (Cloudify's manager cluster keeps its file
 * system in sync this way, port 22000). A folder needs two devices to mean anything, an absolute
 * path (a relative one resolves against syncthing's home, not where the operator expects), and a
 * unique id (the id is how devices match folders: https://docs.syncthing.net/users/config.html#folder-element).
 */
import { posix } from "node:path";
import { checkHostList, hostEntries } from "../../core/host-list";
import { error, warning, type Finding } from "../../core/findings";
import type { RollingGroup, SyncthingFolderPlan, SyncthingPlan } from "../../plan/types";
import type { PlanContext, PlanStep } from "../types";

type Folder = NonNullable<PlanContext["inventory"]["syncthing"]>["folders"][number];
/** host → folders (path, id, index) for the overlap rule. */
type PathsOn = Map<string, { path: string; id: string; index: number }[]>;

export function plan(ctx: PlanContext): PlanStep {
  const section = ctx.inventory.syncthing;
  if (!section) return { findings: [], patch: {} };
  const findings: Finding[] = [];
  const folders: SyncthingFolderPlan[] = [];
  const ids = new Map<string, number>();
  const pathsOn: PathsOn = new Map();

  if (section.folders.length === 0)
    findings.push(
      warning(
        "syncthing.no-folders",
        "syncthing.folders",
        "`syncthing` is configured with no `folders`",
        "Add a folder shared by 2 or more hosts, or remove the section.",
      ),
    );

  section.folders.forEach((f, i) => {
    const base = `syncthing.folders[${i}]`;
    if (ids.has(f.id))
      findings.push(
        error(
          "syncthing.duplicate-folder",
          `${base}.id`,
          `folder id '${f.id}' is already used by syncthing.folders[${ids.get(f.id)}]`,
          "Devices match folders by id: give every folder its own.",
        ),
      );
    else ids.set(f.id, i);
    const absolute = f.path.startsWith("/");
    if (!absolute)
      findings.push(
        error(
          "syncthing.relative-path",
          `${base}.path`,
          `\`path\` '${f.path}' of folder '${f.id}' is not absolute`,
          "Use an absolute path, e.g. /opt/manager/resources.",
        ),
      );
    const hosts = folderHosts(ctx, findings, f, base);
    if (absolute) checkOverlaps(findings, pathsOn, f, i, hosts, base);
    folders.push({ id: f.id, path: f.path, hosts, rescanIntervalS: f.rescanIntervalS, fsWatcherDelayS: f.fsWatcherDelayS });
  });

  if (section.guiPort === section.listenPort)
    findings.push(
      error(
        "syncthing.port-collision",
        "syncthing.guiPort",
        `\`guiPort\` and \`listenPort\` are both ${section.guiPort}`,
        "Use two different ports (defaults 8384 and 22000).",
      ),
    );

  // Every host that shares any folder, in inventory order.
  const all = new Set(folders.flatMap((f) => f.hosts));
  const hosts = [...all].sort((a, b) => (ctx.hosts.get(a)?.order ?? 0) - (ctx.hosts.get(b)?.order ?? 0));
  const plan: SyncthingPlan = { hosts, folders, guiPort: section.guiPort, listenPort: section.listenPort };
  const roles: Record<string, string[]> = {};
  for (const h of hosts) roles[h] = ["syncthing"];
  // Syncthing has no quorum: any host may restart while one peer keeps the data.
  const rolling: RollingGroup[] =
    hosts.length > 0 ? [{ id: "syncthing", service: "syncthing", hosts, maxUnavailable: Math.max(1, hosts.length - 1) }] : [];
  return { findings, patch: { syncthing: plan, rollingGroups: rolling }, roles };
}

/** The folder's inventory hosts, each once (unknown and repeated ones are findings); at least two. */
function folderHosts(ctx: PlanContext, findings: Finding[], f: Folder, base: string): string[] {
  const hosts = checkHostList(
    hostEntries(f.hosts, (j) => `${base}.hosts[${j}]`),
    {
      known: (h) => ctx.hosts.has(h),
      unknown: (h, path) =>
        error(
          "syncthing.unknown-host",
          path,
          `host '${h}' of folder '${f.id}' is not an inventory host`,
          "Add it under `hosts` or fix the name.",
        ),
      duplicate: (h, path) =>
        error("syncthing.duplicate-host", path, `host '${h}' is listed twice in folder '${f.id}'`, "List each host once."),
    },
    findings,
  ).map((e) => e.host);
  if (new Set(f.hosts).size < 2)
    findings.push(
      error(
        "syncthing.too-few-hosts",
        `${base}.hosts`,
        `folder '${f.id}' is shared by ${new Set(f.hosts).size} distinct host(s)`,
        "Share a folder between 2 or more hosts.",
      ),
    );
  return hosts;
}

/** Folders on one host are neither the same nor nested; the folder's path is recorded on its hosts. */
function checkOverlaps(findings: Finding[], pathsOn: PathsOn, f: Folder, i: number, hosts: readonly string[], base: string): void {
  const norm = posix.normalize(f.path).replace(/\/+$/, "") || "/";
  for (const h of hosts) {
    const list = pathsOn.get(h) ?? [];
    for (const other of list) {
      const nested =
        norm === other.path || norm.startsWith(`${other.path}/`) || other.path.startsWith(`${norm}/`) || other.path === "/" || norm === "/";
      if (nested)
        findings.push(
          error(
            "syncthing.path-overlap",
            `${base}.path`,
            `folder '${f.id}' ('${f.path}') overlaps folder '${other.id}' ('${other.path}') on host '${h}'`,
            "Folders on one host must not be the same or nested: each would sync the other's files.",
          ),
        );
    }
    list.push({ path: norm, id: f.id, index: i });
    pathsOn.set(h, list);
  }
}
