export * from "./render";
export * from "./templates";
export * from "./daemon";
