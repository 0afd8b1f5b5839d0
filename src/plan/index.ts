export * from "./types";
export * from "./plan";
export * from "./hosts";
export * from "./summary";
