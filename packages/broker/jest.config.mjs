// Native ESM jest: openid-client, oauth4webapi, jose and oidc-provider are ESM-only, so nothing in
// node_modules is transformed; ts-jest only transpiles our own TypeScript (type checks run in `tsc`).
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.test.json' }]
  },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  globalSetup: '<rootDir>/test/globalSetup.mjs',
  setupFiles: ['<rootDir>/test/setup.ts'],
  testTimeout: 20000,
  maxWorkers: 2
};
