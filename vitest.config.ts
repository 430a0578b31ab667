// Test runner configuration: real servers are started per test file; the global setup checks the Debian tools first.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/ensure-tools.ts', 'test/setup/build-dashboard.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
    // The last two name, at the end of the output, files whose worker died and tests that passed only on a retry.
    reporters: ['default', './test/setup/unfinished-reporter.ts', './test/setup/flaky-reporter.ts'],
    // In CI a test that fails is run once more before the run fails. The two restart races that made this necessary
    // are found and fixed (a call placed before the HTTP server could take its status callback; the mosquitto test
    // server's save() comparing the kernel's coarse file time with Date.now()); the retry stays as a guard until clean
    // CI runs on a loaded host show no other. A test that fails twice still fails CI; one that passes only on its retry is named at the end of the output.
    retry: process.env.CI ? 1 : 0,
  },
});
