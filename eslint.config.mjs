// Type-aware linting (typescript-eslint, https://typescript-eslint.io/getting-started/typed-linting).
// `npm run lint`; part of `npm test` and CI.
import eslint from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "tests/golden/*/tree/", "bench/results/", "lab/.state/", "coverage/"] },
  eslint.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // node:test's describe/it/test return promises the runner itself awaits.
      "@typescript-eslint/no-floating-promises": [
        "error",
        {
          allowForKnownSafeCalls: [
            {
              from: "package",
              package: "node:test",
              name: ["describe", "it", "test", "suite", "before", "after", "beforeEach", "afterEach"],
            },
          ],
        },
      ],
      // require() at call time is deliberate: lazily loaded CLI commands and renderers (cold
      // start), and dynamic providers, which must load their modules inside their methods.
      "@typescript-eslint/no-require-imports": "off",
      // Async functions that implement a promise-returning interface (dynamic providers, mocks)
      // without awaiting anything are fine.
      "@typescript-eslint/require-await": "off",
      // The escaping helpers (src/core/escape.ts) and their tests match control characters on purpose.
      "no-control-regex": "off",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
    },
  },
  {
    // Tests and the lab read JSON and YAML (child process output, rendered files, mock records) as untyped data and
    // assert on it; typing every such read would add casts, not safety.
    files: ["tests/**/*.ts", "lab/**/*.ts"],
    rules: {
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      // Mocks of the Pulumi SDK's untyped hooks (setMocks, gRPC messages).
      "@typescript-eslint/no-explicit-any": "off",
    },
  },
  {
    // Plain CommonJS scripts (the bin and npm lifecycle helpers) are not type-checked.
    files: ["**/*.js", "**/*.mjs", "**/*.cjs"],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: {
      globals: {
        require: "readonly",
        module: "writable",
        process: "readonly",
        console: "readonly",
        __dirname: "readonly",
        URL: "readonly",
      },
    },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
);
