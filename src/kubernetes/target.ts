/**
 * The Kubernetes target's settings, defaults applied once: the inventory's `kubernetes` section
 * (namespace, storage class, replicas, entry point, images) and the instance name every object
 * name starts with. On this target there are no SSH hosts: member counts come from
 * `kubernetes.replicas`, not from host lists.
 */
import type { z } from "zod";
import { Kubernetes } from "../inventory/schema";
import type { ClusterPlan } from "../plan/types";
import { dnsLabel } from "./naming";

/**
 * Default images. Pin your own with `kubernetes.images` (a digest, or your registry's copy).
 * - rabbitmq: the 3.10 series, the version whose config schema the tests check rabbitmq.conf
 *   against (Debian's rabbitmq-server 3.10 on the build machine);
 * - stolon: the upstream image line for the planned PostgreSQL major version (it carries psql,
 *   used by the Tower database job);
 * - web/task: AWX 2.1 (Tower 3.3's upstream), the images that read /etc/tower/settings.py;
 * - memcached: Tower's cache, a sidecar in every Tower pod (settings point at localhost).
 */
export function defaultImages(pgVersion: number): Readonly<Record<ImageKey, string>> {
  return {
    rabbitmq: "rabbitmq:3.10",
    stolon: `sorintlab/stolon:master-pg${pgVersion}`,
    web: "ansible/awx_web:2.1.2",
    task: "ansible/awx_task:2.1.2",
    memcached: "memcached:1.6-alpine",
  };
}
export type ImageKey = "rabbitmq" | "stolon" | "web" | "task" | "memcached";

export interface KubernetesTarget {
  readonly namespace: string;
  /** First part of every object name, and the `app.kubernetes.io/instance` label. */
  readonly instance: string;
  readonly storageClass?: string;
  readonly replicas: KubernetesSection["replicas"];
  readonly ingress?: { readonly host: string; readonly className?: string };
  readonly loadBalancer: boolean;
  readonly images: Readonly<Record<ImageKey, string>>;
}

export type KubernetesSection = z.infer<typeof Kubernetes>;

export function kubernetesTarget(plan: ClusterPlan): KubernetesTarget {
  const k = plan.inventory.kubernetes ?? Kubernetes.parse({});
  const defaults = defaultImages(plan.postgres?.version ?? 15);
  const images = { ...defaults } as Record<ImageKey, string>;
  for (const key of Object.keys(defaults) as ImageKey[]) {
    const own = k.images[key];
    if (own) images[key] = own;
  }
  return {
    namespace: k.namespace,
    instance: dnsLabel(plan.name, 24),
    ...(k.storageClass ? { storageClass: k.storageClass } : {}),
    replicas: k.replicas,
    ...(k.ingress ? { ingress: { host: k.ingress.host, ...(k.ingress.className ? { className: k.ingress.className } : {}) } } : {}),
    loadBalancer: k.loadBalancer,
    images,
  };
}
