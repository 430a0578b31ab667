// `npm run scenario`: runs scenario files against a fresh gateway each, prints a report per scenario, exits non-zero when any fails.
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { ScenarioError, loadScenarioFile } from './parse.js';
import { formatReport, formatSummary } from './report.js';
import { runScenario, type ScenarioReport } from './runner.js';
import type { Scenario } from './schema.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));

const HELP = `Usage: npm run scenario -- [scenario.yaml ...] [options]

Runs each scenario against its own gateway: \`npm start\` as a child process with a temporary DATA_DIR
and a copy of the scenario's registry (escalation timings and patches applied), an in-process SMS
simulator whose phones answer as the scenario says, and the scenario's devices connected over MQTT.
The timed steps run, the expectations are checked (SMS through the simulator, state through the API
with API_TOKEN), and a report is printed. Exit code: 0 all passed, 1 any failed, 2 a scenario is invalid.

  scenario.yaml            files to run (default: every simulators/scenarios/*.yaml)
  --parallel N             run up to N scenarios at once (default 1; each has its own ports)
  --keep                   keep each run's temporary DATA_DIR and registry, and print where
  --quiet                  only the reports, no progress lines
  --check                  only parse the files (and report problems); run nothing
  -h, --help               this text

Scenario files are described in simulators/README.md.`;

function builtInScenarios(): string[] {
  return readdirSync(HERE)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => relative(process.cwd(), join(HERE, f)));
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      parallel: { type: 'string' },
      keep: { type: 'boolean' },
      quiet: { type: 'boolean' },
      check: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const parallel = Number(values.parallel ?? '1');
  if (!Number.isInteger(parallel) || parallel < 1)
    throw new Error(`--parallel: expected a positive whole number, got "${values.parallel}"`);
  const files = positionals.length > 0 ? positionals : builtInScenarios();

  // Every file is parsed before anything runs: a typo in the last one should not cost the time of the others.
  const scenarios: Scenario[] = [];
  const invalid: string[] = [];
  for (const file of files) {
    try {
      scenarios.push(await loadScenarioFile(file));
    } catch (err) {
      invalid.push(err instanceof Error ? err.message : String(err));
    }
  }
  if (invalid.length > 0) {
    process.stderr.write(`${invalid.join('\n')}\n`);
    return 2;
  }
  if (values.check) {
    process.stdout.write(`${scenarios.length} scenario file(s) are valid\n`);
    return 0;
  }

  // Ctrl-C ends the running scenarios cleanly (their gateways run in process groups of their own and would
  // not see the signal); a second Ctrl-C leaves at once.
  const interrupt = new AbortController();
  process.on('SIGINT', () => {
    if (interrupt.signal.aborted) process.exit(130);
    process.stderr.write('\ninterrupted: stopping the running scenarios (Ctrl-C again to leave at once)\n');
    interrupt.abort();
  });

  const reports: ScenarioReport[] = [];
  let broken = false;
  const queue = scenarios[Symbol.iterator]();
  const lane = async (): Promise<void> => {
    for (let next = queue.next(); !next.done && !interrupt.signal.aborted; next = queue.next()) {
      const scenario = next.value;
      const prefix = parallel > 1 ? `[${scenario.name}] ` : '  ';
      if (!values.quiet) process.stdout.write(`${parallel > 1 ? prefix : ''}running ${scenario.name} (${scenario.source})\n`);
      try {
        const report = await runScenario(scenario, {
          keepData: values.keep === true,
          signal: interrupt.signal,
          ...(values.quiet ? {} : { log: (line: string) => process.stdout.write(`${prefix}${line}\n`) }),
        });
        reports.push(report);
        process.stdout.write(`${formatReport(report)}\n\n`);
      } catch (err) {
        if (!(err instanceof ScenarioError)) throw err;
        broken = true;
        process.stderr.write(`${err.message}\n\n`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, scenarios.length) }, lane));
  process.stdout.write(`${formatSummary(reports)}\n`);
  if (interrupt.signal.aborted) return 130;
  if (broken) return 2;
  return reports.every((r) => r.passed) ? 0 : 1;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`scenario: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 2;
}
