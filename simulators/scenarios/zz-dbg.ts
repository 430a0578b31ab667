import { loadScenarioFile } from '/work/main/simulators/scenarios/parse.js';
import { runScenario } from '/work/main/simulators/scenarios/runner.js';
const s = await loadScenarioFile('/work/main/simulators/scenarios/building-power-cut.yaml');
const t = Date.now();
const r = await runScenario(s, { log: (l) => console.log(l) });
console.log('done', Date.now() - t, r.passed, JSON.stringify(r.results, null, 1), r.stepErrors, r.setupError);
const h = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
console.log(h.map((x) => (x as object).constructor.name));
setInterval(() => console.log((process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().map((x) => (x as object).constructor.name)), 1000).unref();
