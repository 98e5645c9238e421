/**
 * The architecture check (`npm run check:architecture`, part of `npm test`): no import cycles, and
 * imports only in the dependency direction of ARCHITECTURE.md:
 *
 *   apps -> agent -> (llm, memory -> tools) -> (redis, telemetry) -> (contracts, config)
 *
 * Each package may import the packages listed for it below and nothing else of ours; `testing` is for
 * test files only; packages never import apps; apps do not import each other except that the CLI
 * starts the worker and the API.
 */
const allowed = {
  contracts: [],
  config: ['contracts'],
  redis: ['contracts', 'config'],
  telemetry: ['contracts', 'config', 'redis'],
  llm: ['contracts', 'config', 'redis', 'telemetry'],
  tools: ['contracts', 'config', 'telemetry'],
  memory: ['contracts', 'config', 'redis', 'telemetry', 'tools'],
  agent: ['contracts', 'config', 'redis', 'telemetry', 'llm', 'tools', 'memory'],
  testing: ['contracts', 'config', 'redis'],
  webhooks: ['contracts', 'config', 'redis', 'telemetry'],
  client: ['contracts'],
};
/** What a package's tests may import beyond its own layer (real adapters for an end-to-end check). */
const allowedInTests = { memory: ['llm'] };
const packages = Object.keys(allowed);

const packageRules = Object.entries(allowed).flatMap(([name, dependencies]) => {
  const testOnly = allowedInTests[name] ?? [];
  const forbidden = packages.filter(
    (other) =>
      other !== name && !dependencies.includes(other) && !testOnly.includes(other) && other !== 'testing',
  );
  const rules = [
    {
      name: `layer-${name}`,
      comment: `packages/${name} may import only: ${dependencies.join(', ') || 'no other package'} (and zod or its own libraries)`,
      severity: 'error',
      from: { path: `^packages/${name}/` },
      to: { path: forbidden.length ? `^packages/(${forbidden.join('|')})/` : '^$' },
    },
  ];
  if (testOnly.length > 0) {
    rules.push({
      name: `layer-${name}-tests-only`,
      comment: `packages/${name} may import ${testOnly.join(', ')} in its tests only`,
      severity: 'error',
      from: { path: `^packages/${name}/`, pathNot: '\\.test\\.ts$' },
      to: { path: `^packages/(${testOnly.join('|')})/` },
    });
  }
  return rules;
});

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Import cycles make the layers meaningless and the start-up order fragile.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    ...packageRules,
    {
      name: 'contracts-zod-only',
      comment: 'contracts holds schemas and types: zod is its only dependency.',
      severity: 'error',
      from: { path: '^packages/contracts/', pathNot: '\\.test\\.ts$' },
      to: {
        dependencyTypes: ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-no-pkg', 'npm-unknown'],
        pathNot: 'node_modules/zod/',
      },
    },
    {
      name: 'packages-never-import-apps',
      severity: 'error',
      from: { path: '^(packages|examples)/' },
      to: { path: '^apps/' },
    },
    {
      name: 'apps-do-not-import-each-other',
      comment: 'Only the CLI, which starts every process, imports the worker and the API.',
      severity: 'error',
      from: { path: '^apps/(worker|api)/' },
      to: { path: '^apps/', pathNot: '^apps/$1/' },
    },
    {
      name: 'testing-only-in-tests',
      comment:
        'packages/testing is a dev dependency: only tests, the conformance suites they run, and the test setup may import it.',
      severity: 'error',
      from: {
        path: '^(apps|packages|examples)/',
        pathNot: [
          '\\.test\\.ts$',
          '/src/conformance/',
          '/src/test-fixtures/',
          '^packages/testing/',
          '^vitest\\.shared\\.ts$',
        ],
      },
      to: { path: '^packages/testing/' },
    },
    {
      name: 'no-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(dist|coverage|\\.turbo)/' },
    tsPreCompilationDeps: true,
    combinedDependencies: true,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.json'],
    },
  },
};
