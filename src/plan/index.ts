export * from "./types";
export * from "./hosts";
export * from "./summary";
