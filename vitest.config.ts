import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', '.omnistitch/**'],
    // One real Kafka broker for the whole run (test/global-setup.ts); each test makes its own topics and groups.
    globalSetup: ['test/global-setup.ts'],
    // chDB binds one data directory per process: every test file runs in its own process with its own directory.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 180_000,
    teardownTimeout: 60_000,
  },
})
