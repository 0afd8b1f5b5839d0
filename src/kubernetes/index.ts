export * from "./labels";
export * from "./naming";
export * from "./objects";
export * from "./target";
