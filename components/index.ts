export * from "./ha-cluster";
export * from "./service-components";
export * from "./cluster-context";
export * from "./connections";
export * from "./service-resources";
export * from "./stack-config";
export * from "./kubernetes-target";
