export * from "./host-keys";
export * from "./limit";
export * from "./pool";
export * from "./host-connection";
export * from "./remote-files";
export * from "./fact-cache";
