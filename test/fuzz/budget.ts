// How many cases each fuzz property runs: a few hundred, bounded in time, in `npm test`; FUZZ_RUNS (10,000 in `npm run fuzz`) for the long run, which prints each property's count.
import fc from 'fast-check';

/** Set by `npm run fuzz`; absent in `npm test`. */
const RUNS_FROM_ENV = Number(process.env.FUZZ_RUNS ?? '');
export const FUZZ_LONG_RUN = Number.isInteger(RUNS_FROM_ENV) && RUNS_FROM_ENV > 0;

export interface FuzzBudget {
  /** Cases asked for. */
  runs: number;
  /** fast-check stops generating new cases after this long (a failure found before is still reported). */
  timeLimitMs: number;
  /** The vitest timeout of a test that runs one such property, with room for its set-up and shrinking. */
  testTimeoutMs: number;
}

/**
 * `npm test` runs `quick` cases (cut short after `quickMs`, so a busy machine does not fail the suite on time);
 * the long run asks for FUZZ_RUNS and allows FUZZ_TIME_MS (10 minutes) for each property.
 */
export function fuzzBudget(quick: number, quickMs = 8000): FuzzBudget {
  if (!FUZZ_LONG_RUN) return { runs: quick, timeLimitMs: quickMs, testTimeoutMs: quickMs + 60_000 };
  const timeLimitMs = Number(process.env.FUZZ_TIME_MS ?? 600_000);
  return { runs: RUNS_FROM_ENV, timeLimitMs, testTimeoutMs: timeLimitMs + 120_000 };
}

/**
 * Runs one property and throws fast-check's report (seed, path, counterexample) when a case fails. In the long
 * run it also prints the number of cases and failures, and fails if the time limit left it short of FUZZ_RUNS.
 */
export async function checkProperty<Ts extends [unknown, ...unknown[]]>(
  name: string,
  property: fc.IAsyncPropertyWithHooks<Ts> | fc.IPropertyWithHooks<Ts>,
  budget: FuzzBudget,
): Promise<void> {
  const details = await fc.check(property, {
    numRuns: budget.runs,
    interruptAfterTimeLimit: budget.timeLimitMs,
    markInterruptAsFailure: false,
  });
  if (FUZZ_LONG_RUN) {
    process.stdout.write(
      `fuzz: ${name}: ${details.numRuns} cases, ${details.failed ? 1 : 0} failures${details.interrupted ? ' (stopped by the time limit)' : ''}\n`,
    );
  }
  if (details.failed)
    throw new Error(`${name}\n${fc.defaultReportMessage(details) ?? 'property failed'}\n${String(details.errorInstance)}`);
  if (FUZZ_LONG_RUN && details.numRuns < budget.runs) {
    throw new Error(`${name}: only ${details.numRuns} of ${budget.runs} cases within ${budget.timeLimitMs} ms (raise FUZZ_TIME_MS)`);
  }
}
