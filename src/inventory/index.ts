export * from "./schema";
export * from "./json-schema";
export * from "./load";
export * from "./tower-ini";
export * from "./yaml";
