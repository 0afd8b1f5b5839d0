export * from "./remote-file";
export * from "./materials";
