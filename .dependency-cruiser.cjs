/**
 * The gateway's layering (ARCHITECTURE.md §3), enforced: each folder of service/src lists the folders it
 * may import; anything else, and any import cycle, fails `npm run lint`.
 */
const LEAVES = ['errors', 'integrity', 'crypto', 'parse', 'metrics'];
const MAY_IMPORT = {
  errors: [],
  parse: [],
  metrics: [],
  crypto: [],
  integrity: ['errors'],
  http: [...LEAVES],
  db: [...LEAVES],
  auth: [...LEAVES],
  blobs: [...LEAVES],
  audit: [...LEAVES, 'db'],
  events: [...LEAVES, 'db'],
  store: [...LEAVES, 'db', 'blobs', 'audit', 'events'],
  authz: [...LEAVES, 'store'],
  s3: [...LEAVES, 'http', 'db', 'auth', 'store', 'authz', 'audit', 'events'],
  management: [...LEAVES, 'db', 'auth', 'blobs', 'store', 'authz', 'audit', 'events'],
  report: [...LEAVES, 'db', 'audit'],
  transfer: [...LEAVES],
};

const layerRules = Object.entries(MAY_IMPORT).map(([folder, allowed]) => ({
  name: `layer-${folder}`,
  comment: `service/src/${folder} may import only ${allowed.length ? allowed.join(', ') : 'nothing else in the gateway'} (and log.ts)`,
  severity: 'error',
  from: { path: `^service/src/${folder}/` },
  to: {
    path: '^service/src/',
    pathNot: [`^service/src/(${[folder, ...allowed].join('|')})/`, '^service/src/log\\.ts$'],
  },
}));

// eslint-disable-next-line no-undef -- dependency-cruiser reads CommonJS configuration
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'An import cycle means two modules are one module, or a lower one reaches up.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-composition-root',
      comment: 'app.ts, config.ts and main.ts wire the gateway together; nothing inside it imports them.',
      severity: 'error',
      from: { path: '^service/src/[^/]+/' },
      to: { path: '^service/src/(app|config|main)\\.ts$' },
    },
    {
      name: 'tools-use-pure-helpers',
      comment: 'Scripts, stacks and policies import only dependency-free helpers from the gateway.',
      severity: 'error',
      from: { path: '^(scripts|stacks|policies)/' },
      to: {
        path: '^service/src/',
        pathNot: [
          '^service/src/(crypto|parse|transfer)/',
          '^service/src/auth/credentials\\.ts$',
          '^service/src/management/password\\.ts$',
          '^service/src/(app|cluster|config|heap-tuning)\\.ts$',
        ],
      },
    },
    ...layerRules,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // service/test/fixtures: programs type-checked against generated code by the tests that hold them.
    exclude: { path: '(^|/)(node_modules|dist)/|^service/test/fixtures/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
