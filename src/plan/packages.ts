/**
 * Software on the hosts, the plan side (pure): which distribution packages each service needs on
 * a host, in Debian and RHEL names, with the inventory's pinned versions, and the findings about
 * it (an unsupported OS family, a pin no host needs, names and versions that are not package
 * names and versions). The host side (query, what is missing, install) is src/core/packages.ts.
 *
 * One table per service role. A role with no entry is not packaged by the distributions (Tower /
 * AWX, dr-provision, stolon's own binaries): its software is the operator's. Isolated Tower hosts
 * get the distribution packages jobs need there (not Tower).
 */
import { error, warning, type Finding } from "../core/findings";
import { osFamily, OS_FAMILIES, type OsFamily, type PackageNeed } from "../core/packages";
import type { ClusterPlan } from "./types";
import { inventoryHost, plannedHost } from "./lookup";

type Names = Readonly<Record<OsFamily, readonly string[]>>;
const same = (...names: string[]): Names => ({ debian: names, rhel: names });

/**
 * The tools haforge's own commands run for a role, beside its daemon: health gates, validations
 * and actions (`tests/unit/host-commands.test.ts` asks dpkg which package owns every program a
 * rendered command calls). A gate whose tool is missing fails forever on a minimal host.
 */
const CURL = same("curl");
const PING: Names = { debian: ["iputils-ping"], rhel: ["iputils"] };
const IPROUTE: Names = { debian: ["iproute2"], rhel: ["iproute"] };

/**
 * The packages of the daemons Pacemaker runs, by systemd unit (PacemakerClusterPlan.units). A
 * unit not listed (a `systemd:` primitive of the operator's own software, cinder-volume) is the
 * operator's to install. Galera nodes also run haforge's clustercheck: socat answers on 9200 and
 * its health gate asks it with curl.
 */
const PACEMAKER_UNIT_PACKAGES: Readonly<Record<string, Names>> = {
  "rabbitmq-server": same("rabbitmq-server"),
  mariadb: { debian: ["curl", "galera-4", "mariadb-server", "socat"], rhel: ["curl", "mariadb-server-galera", "socat"] },
  "redis-server": { debian: ["redis-server"], rhel: ["redis"] },
  haproxy: same("haproxy"),
};

const merge = (...all: (Names | undefined)[]): Names => ({
  debian: all.flatMap((n) => n?.debian ?? []),
  rhel: all.flatMap((n) => n?.rhel ?? []),
});

/** Packages per role (the part of a host role before `:`), as each distribution names them. */
export function rolePackages(role: string, plan: ClusterPlan): Names | undefined {
  const pg = plan.postgres;
  switch (role.split(":")[0]) {
    case "rabbitmq":
      return same("rabbitmq-server");
    case "etcd":
      return { debian: ["etcd-server", "etcd-client"], rhel: ["etcd"] };
    case "consul":
      return same("consul");
    case "pacemaker": {
      // cibadmin/crm_mon (pacemaker-cli-utils on Debian), ocf:heartbeat agents (resource-agents),
      // and the daemons the cluster's resources run (role `pacemaker:<cluster>`)
      const cluster = plan.pacemakerClusters.find((c) => c.name === role.slice("pacemaker:".length));
      return merge(
        {
          debian: ["corosync", "pacemaker", "pacemaker-cli-utils", "resource-agents"],
          rhel: ["corosync", "pacemaker", "resource-agents"],
        },
        ...(cluster?.units ?? []).map((u) => PACEMAKER_UNIT_PACKAGES[u]),
      );
    }
    case "keepalived":
      // its roll gate asks for every VIP: `ip` (held here; the neighbour entry), then `ping`
      return merge(same("keepalived"), PING, IPROUTE);
    case "haproxy":
      return same("haproxy");
    case "syncthing":
      // its health gate and in-sync action ask its REST API
      return merge(same("syncthing"), CURL);
    case "stolon-sentinel":
      // stolon is not packaged by the distributions; its health gate asks the sentinel over HTTP
      return CURL;
    case "tower":
      // Tower is the operator's (its installer); haforge's health gate asks its API ping
      return CURL;
    case "active-passive":
      // the gate checks where the VIP is with `ip`
      return IPROUTE;
    case "isolated":
      // What Tower jobs need on an isolated host (src/services/tower/isolated.ts): ansible-runner
      // (Debian ships /usr/bin/ansible-runner in python3-ansible-runner), ansible-playbook, rsync,
      // bwrap and psutil. Tower itself and the awx account are the operator's (Tower's installer).
      return {
        debian: ["ansible", "bubblewrap", "python3-ansible-runner", "python3-psutil", "rsync"],
        rhel: ["ansible", "ansible-runner", "bubblewrap", "python3-psutil", "rsync"],
      };
    case "postgres":
      if (!pg) return undefined;
      if (pg.engine === "patroni") {
        const dcs =
          pg.store.backend === "etcd"
            ? { debian: ["python3-etcd"], rhel: ["patroni-etcd"] }
            : pg.store.backend === "consul"
              ? { debian: ["python3-consul"], rhel: ["patroni-consul"] }
              : { debian: [], rhel: [] };
        return {
          debian: ["patroni", `postgresql-${pg.version}`, ...dcs.debian],
          rhel: ["patroni", `postgresql${pg.version}-server`, ...dcs.rhel],
        };
      }
      return { debian: [`postgresql-${pg.version}`], rhel: [`postgresql${pg.version}-server`] };
    default:
      return undefined;
  }
}

/** The family a host's `os` names, when it is set and supported. */
function declaredFamily(plan: ClusterPlan, host: string): OsFamily | undefined {
  const os = inventoryHost(plan, host)?.os;
  return os === undefined ? undefined : osFamily(os);
}

/** Packages of one host in one family, sorted, with the inventory's pins. Empty when packages are not managed. */
export function hostPackageNeeds(plan: ClusterPlan, host: string, family: OsFamily): PackageNeed[] {
  if (!plan.inventory.packages.manage || plan.target !== "ssh") return [];
  const h = plannedHost(plan, host);
  if (!h) return [];
  const names = new Set<string>();
  for (const role of h.roles) rolePackages(role, plan)?.[family].forEach((n) => names.add(n));
  if (names.size > 0 && h.init === "supervisor") names.add("supervisor");
  const pins = plan.inventory.packages.versions;
  return [...names].sort().map((name) => (pins[name] !== undefined ? { name, version: pins[name] } : { name }));
}

/** Both families' needs of every host that needs anything (the Pulumi layer picks per host). */
export function packagePlan(plan: ClusterPlan): { host: string; os?: OsFamily; needs: Record<OsFamily, PackageNeed[]> }[] {
  return plan.hosts
    .map((h) => {
      const os = declaredFamily(plan, h.name);
      return {
        host: h.name,
        ...(os ? { os } : {}),
        needs: { debian: hostPackageNeeds(plan, h.name, "debian"), rhel: hostPackageNeeds(plan, h.name, "rhel") },
      };
    })
    .filter((p) => p.needs.debian.length > 0 || p.needs.rhel.length > 0);
}

const PACKAGE_NAME = /^[a-z0-9][a-z0-9+._-]*$/;
const PACKAGE_VERSION = /^[A-Za-z0-9.+~:_-]+$/;

export function packageFindings(plan: ClusterPlan): Finding[] {
  const findings: Finding[] = [];
  plan.inventory.hosts.forEach((h, i) => {
    if (h.os !== undefined && osFamily(h.os) === undefined)
      findings.push(
        error(
          "packages.unsupported-os",
          `hosts[${i}].os`,
          `host ${JSON.stringify(h.name)}: OS ${JSON.stringify(h.os)} is not a supported family (${OS_FAMILIES.join(", ")})`,
          "Use debian, ubuntu, rhel, rocky, almalinux, centos or fedora, or set packages.manage: false and install the software yourself.",
        ),
      );
  });
  if (!plan.inventory.packages.manage || plan.target !== "ssh") return findings;
  const needed = new Set(
    plan.hosts.flatMap((h) => [...hostPackageNeeds(plan, h.name, "debian"), ...hostPackageNeeds(plan, h.name, "rhel")].map((n) => n.name)),
  );
  for (const [name, version] of Object.entries(plan.inventory.packages.versions)) {
    const path = `packages.versions.${name}`;
    if (!PACKAGE_NAME.test(name))
      findings.push(
        error(
          "packages.invalid-name",
          path,
          `${JSON.stringify(name)} is not a package name`,
          "Package names are lower case letters, digits and + . _ -.",
        ),
      );
    else if (!needed.has(name))
      findings.push(
        warning(
          "packages.unused-pin",
          path,
          `no host needs package ${JSON.stringify(name)}: the pin has no effect`,
          "Remove it, or check the distribution's name of the package.",
        ),
      );
    if (!PACKAGE_VERSION.test(version))
      findings.push(
        error(
          "packages.invalid-version",
          path,
          `${JSON.stringify(version)} is not a package version`,
          "Write the version as `apt-cache policy` or `rpm -q` prints it.",
        ),
      );
  }
  return findings;
}
