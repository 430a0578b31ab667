// The direction of dependencies, enforced: core <- access <- features <- storage/{sqlite,postgres}, features <- http <- app.
// Type-only imports count (tsPreCompilationDeps), because a type-only cycle or upward import never fails a build on its own.

/** The composition root and the other entry points: only they may wire storage engines and the HTTP layer together. */
const ROOT = '^gateway/(app|main|fatal)\\.ts$|^gateway/wiring/|^gateway/backup/';
const CORE = '^gateway/core/';
const ACCESS = '^gateway/access/';
const ENGINE = '^gateway/storage/(sqlite|postgres)/';
const HTTP = '^gateway/http/';
/** Everything else under gateway/ is a feature (broker, ingest, rules, incidents, paging, notifiers, storage/ports.ts, …). */
const FEATURE = '^gateway/(?!core/|access/|http/|storage/(sqlite|postgres)/|wiring/|backup/|(app|main|fatal)\\.ts$)';

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'No import cycles anywhere, type imports included: a cycle means two modules cannot be understood or tested apart.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'core-imports-nothing-above',
      severity: 'error',
      comment: 'core holds the shared types, clock, errors, time and health: it imports nothing else of the gateway.',
      from: { path: CORE },
      to: { path: '^gateway/', pathNot: CORE },
    },
    {
      name: 'access-imports-only-core',
      severity: 'error',
      comment: 'access (roles, caller, scopes) sits just above core: features and http import it, never the reverse.',
      from: { path: ACCESS },
      to: { path: '^gateway/', pathNot: `${CORE}|${ACCESS}` },
    },
    {
      name: 'feature-not-to-http-or-root',
      severity: 'error',
      comment:
        'A feature never imports the HTTP layer or the composition root, not even for a type: a shared type lives in the lower layer.',
      from: { path: FEATURE },
      to: { path: `${HTTP}|${ROOT}` },
    },
    {
      name: 'feature-not-to-storage-engine',
      severity: 'error',
      comment: 'A feature imports the port types of gateway/storage/ports.ts (or its own repo interface), never a storage engine.',
      from: { path: FEATURE },
      to: { path: ENGINE },
    },
    {
      name: 'storage-engine-not-to-http-or-root',
      severity: 'error',
      comment: "A storage engine implements the features' ports; it knows nothing of HTTP or of the wiring.",
      from: { path: ENGINE },
      to: { path: `${HTTP}|${ROOT}` },
    },
    {
      name: 'storage-engines-apart',
      severity: 'error',
      comment: 'The SQLite and PostgreSQL stores are two implementations of the same ports: neither borrows from the other.',
      from: { path: '^gateway/storage/(sqlite|postgres)/' },
      to: { path: '^gateway/storage/(sqlite|postgres)/', pathNot: '^gateway/storage/$1/' },
    },
    {
      name: 'storage-rows-only-for-engines',
      severity: 'error',
      comment:
        'gateway/storage/rows holds the row shapes and mappers both engines share: a table layout, so only the engines (and the rows themselves) use it.',
      from: { pathNot: '^gateway/storage/(sqlite|postgres|rows)/' },
      to: { path: '^gateway/storage/rows/' },
    },
    {
      name: 'http-not-to-storage-engine-or-root',
      severity: 'error',
      comment: 'Routes call features through the interfaces in http/deps.ts; only the composition root hands them a store.',
      from: { path: HTTP },
      to: { path: `${ENGINE}|${ROOT}` },
    },
    {
      name: 'gateway-not-to-tools',
      severity: 'error',
      comment: 'The gateway never imports tests, benchmarks, simulators or the browser dashboard.',
      from: { path: '^gateway/' },
      to: { path: '^(test|bench|simulators|dashboard)/' },
    },
    {
      name: 'dashboard-imports-gateway-types-only',
      severity: 'error',
      comment: "The browser dashboard shares the API's types with the gateway but must never bundle server code.",
      from: { path: '^dashboard/src/' },
      to: { path: '^gateway/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that does not resolve is a typo or a missing dependency.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist|data|coverage)/|^dashboard/dist/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.mts', '.js', '.mjs', '.cjs', '.d.ts', '.d.mts', '.json'],
    },
    reporterOptions: {
      dot: {
        collapsePattern: '^(node_modules/[^/]+|gateway/[^/]+|dashboard/src|test|bench|simulators)',
      },
    },
  },
};
