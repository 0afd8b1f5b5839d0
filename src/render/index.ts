export * from "./templates";
export * from "./daemon";
