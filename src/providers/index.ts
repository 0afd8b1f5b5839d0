export * from "./remote-file";
export * from "./materials";
export * from "./membership-guard";
export * from "./host-packages";
export * from "./gate";
