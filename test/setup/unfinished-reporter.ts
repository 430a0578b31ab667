// Names, at the very end of the run's output, every test file that did not finish and the test each was running: when a
// worker process dies (a native crash, a signal), vitest only says "Worker exited unexpectedly", without the file.
import type { Reporter, TestCase, TestModule } from 'vitest/node';

export default class UnfinishedReporter implements Reporter {
  /** Test files started and not yet ended, with the test each started last. */
  private readonly running = new Map<string, string | null>();

  onTestModuleStart(testModule: TestModule): void {
    this.running.set(testModule.moduleId, null);
  }

  onTestCaseReady(testCase: TestCase): void {
    this.running.set(testCase.module.moduleId, testCase.fullName);
  }

  onTestModuleEnd(testModule: TestModule): void {
    this.running.delete(testModule.moduleId);
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const lines = [...this.running].map(([file, test]) => `  ${file}${test ? `, last test started: ${test}` : ''}`);
    for (const m of testModules) {
      const state = m.state();
      if (!this.running.has(m.moduleId) && state !== 'passed' && state !== 'skipped' && state !== 'failed')
        lines.push(`  ${m.moduleId} (${state})`);
    }
    if (lines.length > 0) process.stderr.write(`\nTest files that did not finish (their worker may have died):\n${lines.join('\n')}\n`);
  }
}
