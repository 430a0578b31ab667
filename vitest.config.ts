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
    reporters: ['default'],
    // In CI a test that fails is run once more before the run fails. A restart test (a voice call left queued by a
    // stop) has failed once under a fully loaded 2-core host and passes alone on Node 20 and 22: a known race, tracked
    // until it is found. (The ChirpStack restart test's likely cause, mosquitto save() comparing the kernel's coarse
    // file time with Date.now(), is fixed.) A test that fails twice still fails CI.
    retry: process.env.CI ? 1 : 0,
  },
});
