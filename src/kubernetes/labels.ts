/**
 * The labels haforge puts on objects and pods. Selectors use only the identity labels below, never
 * a version or a config hash: a Deployment's or StatefulSet's selector is immutable, so anything
 * that can change must stay out of it. https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/
 */
import { labelValue } from "./naming";

export const LABEL = {
  name: "app.kubernetes.io/name",
  instance: "app.kubernetes.io/instance",
  component: "app.kubernetes.io/component",
  partOf: "app.kubernetes.io/part-of",
  /** The Tower instance group a pod belongs to. */
  instanceGroup: "haforge.io/instance-group",
} as const;

/** Annotations haforge writes. */
export const ANNOTATION = {
  /**
   * Apply order: an object is created after every object of a lower wave (the Pulumi target turns
   * it into dependsOn; `kubectl apply` users apply the files in their numbered order).
   */
  wave: "haforge.io/wave",
  /** sha256 of the configuration a pod template reads: a config change rolls the pods. */
  configHash: "haforge.io/config-sha256",
} as const;

export type Labels = Readonly<Record<string, string>>;

/** Identity labels of one set of pods: the selector of its workload, Services and PDB. */
export function selectorLabels(instance: string, app: string, component: string, extra: Labels = {}): Labels {
  const out: Record<string, string> = {
    [LABEL.name]: labelValue(app),
    [LABEL.instance]: labelValue(instance),
    [LABEL.component]: labelValue(component),
  };
  for (const [k, v] of Object.entries(extra)) out[k] = labelValue(v);
  return out;
}

/** Labels for objects and pod templates: the identity labels plus `part-of`. */
export function objectLabels(selector: Labels, extra: Labels = {}): Labels {
  return { ...selector, [LABEL.partOf]: "haforge", ...extra };
}
